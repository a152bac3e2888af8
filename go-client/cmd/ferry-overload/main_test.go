//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
	"github.com/ferryd/ferry/go-client/router"
)

// One small cell (-quick) against the real daemon: both subjects make thumbnails, the harness's
// accounting holds, and the report is written. No figure is judged: the machine running the
// tests is busy with other packages.
func TestQuickRunAgainstTheDaemon(t *testing.T) {
	bin := testdaemon.Binary(t)
	out := t.TempDir()
	o, err := parseFlags([]string{"-quick", "-ferryd", bin, "-out", out, "-name", "smoke"})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res, err := run(o, &log)
	t.Logf("harness output:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Accounting != nil {
		t.Fatalf("the counts do not add up: %v", res.Accounting)
	}
	if len(res.Cells) != 1 {
		t.Fatalf("%d cells, want 1", len(res.Cells))
	}
	c := res.Cells[0]
	for name, tl := range map[string]*tally{plainName: c.Plain, routerName: c.Router} {
		if tl.JobsOK == 0 || tl.Served[ferry.PathRust]+tl.Served[ferry.PathGo] != tl.JobsOK {
			t.Errorf("%s: %d thumbnails, by path %v", name, tl.JobsOK, tl.Served)
		}
		// Late calls are a matter of timing on a busy test machine: logged, not judged.
		if tl.Untyped+tl.Hung != 0 {
			t.Errorf("%s: %d untyped errors, %d calls hung: %v", name, tl.Untyped, tl.Hung, tl.OtherErrors)
		}
		if tl.Late != 0 {
			t.Logf("%s: %d calls returned more than %v after their deadline", name, tl.Late, lateSlack)
		}
	}
	report, err := os.ReadFile(filepath.Join(out, "smoke.md"))
	if err != nil {
		t.Fatal(err)
	}
	if c.BusyNote != "" {
		t.Errorf("the daemon's busy-answer histogram: %s", c.BusyNote)
	}
	for _, want := range []string{"## Bars", "| 8 callers, 1s, idle | client |", "| 8 callers, 1s, idle | router |", "smoke.svg", "## Busy answers", "the daemon's own time"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if svg, err := os.ReadFile(filepath.Join(out, "smoke.svg")); err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Errorf("plot: %v, %.40q", err, svg)
	}

	// The same tallies, each made inconsistent in one way: the check must refuse every one.
	tampers := map[string]func(*tally){
		"an attempt of no class":       func(t *tally) { t.Attempts++ },
		"a thumbnail of no job":        func(t *tally) { t.ByClass[classOK]++; t.Attempts++ },
		"a job neither ok nor failed":  func(t *tally) { t.Jobs++ },
		"a thumbnail of no path":       func(t *tally) { t.Served[ferry.PathRust]-- },
		"a lost busy latency":          func(t *tally) { t.ByClass[classBusy]++; t.Attempts++; t.JobsFailed++; t.Jobs++ },
		"a call that never returned":   func(t *tally) { t.Started++ },
		"a call returned but not seen": func(t *tally) { t.Returned++; t.Started++ },
	}
	for name, tamper := range tampers {
		u := newTally()
		u.add(c.Plain)
		tamper(u)
		if err := u.check(); err == nil {
			t.Errorf("%s: the check passed", name)
		}
	}
}

// The daemon's busy-answer histogram, as scraped: a cell's own answers are the difference of
// two scrapes, and a quantile is the upper bound of the bucket that holds it.
func TestBusyHistQuantiles(t *testing.T) {
	inf := math.Inf(1)
	h := busyHist{Bounds: []float64{0.001, 0.002, 0.004, inf}, Counts: []float64{50, 98, 100, 100}}
	if h.total() != 100 || h.quantile(0.5) != time.Millisecond || h.quantile(0.99) != 4*time.Millisecond {
		t.Errorf("total %d, p50 %v, p99 %v; want 100, 1ms, 4ms", h.total(), h.quantile(0.5), h.quantile(0.99))
	}
	d := h.since(busyHist{Bounds: h.Bounds, Counts: []float64{10, 10, 10, 10}})
	if d.total() != 90 || d.quantile(0.9) != 2*time.Millisecond || d.quantile(0.99) != 4*time.Millisecond {
		t.Errorf("since: total %d, p90 %v, p99 %v; want 90, 2ms, 4ms", d.total(), d.quantile(0.9), d.quantile(0.99))
	}
	past := busyHist{Bounds: h.Bounds, Counts: []float64{0, 0, 0, 5}}
	if past.quantile(0.5) != time.Duration(math.MaxInt64) {
		t.Errorf("answers past the last bound: p50 %v", past.quantile(0.5))
	}
	if (busyHist{}).quantile(0.99) != 0 {
		t.Error("no answer: a quantile other than 0")
	}
}

// The daemon's own busy bar takes the worst cell's p99, the storm's included; with no busy
// answer anywhere it judges nothing, and a cell whose histogram could not be read says so.
func TestDaemonBusyBar(t *testing.T) {
	inf := math.Inf(1)
	bounds := []float64{0.001, 0.064, inf}
	quick := &cellResult{Spec: cellSpec{Callers: 320}, DaemonBusy: busyHist{Bounds: bounds, Counts: []float64{100, 100, 100}}}
	slow := &stormResult{Spec: stormSpec, DaemonBusy: busyHist{Bounds: bounds, Counts: []float64{90, 100, 100}}}
	r := &results{Cells: []*cellResult{quick}}
	if b := r.daemonBusyBar(); !b.Pass || b.Skipped {
		t.Errorf("p99 within 1 ms: %+v", b)
	}
	r.Storm = slow
	if b := r.daemonBusyBar(); b.Pass || b.Skipped || !strings.Contains(b.Measured, stormName) {
		t.Errorf("the storm's p99 within 64 ms, over the bar: %+v", b)
	}
	none := &results{Cells: []*cellResult{{Spec: cellSpec{Callers: 2}}}}
	if b := none.daemonBusyBar(); !b.Skipped {
		t.Errorf("no busy answer: %+v", b)
	}
	unread := &results{Cells: []*cellResult{{Spec: cellSpec{Callers: 2}, BusyNote: "no metrics"}}}
	if b := unread.daemonBusyBar(); !b.Skipped || b.Measured != "no metrics" {
		t.Errorf("histogram unread: %+v", b)
	}
	if !(cellSpec{Callers: 8, Burn: true}).latencyBound() || (cellSpec{Callers: 64, Burn: true}).latencyBound() || (cellSpec{Callers: 2}).latencyBound() {
		t.Error("latency-bound cells: 8 callers or fewer, with burners")
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err   error
		want  class
		typed bool
	}{
		{nil, classOK, true},
		{fmt.Errorf("wrapped: %w", ferry.ErrBusy), classBusy, true},
		{fmt.Errorf("%w: %w", router.ErrOverloaded, ferry.ErrBusy), classOverloaded, true},
		{fmt.Errorf("%w (%w)", ferry.ErrConnectionLost, ferry.ErrNotResponding), classNotResponding, true},
		{fmt.Errorf("x: %w", ferry.ErrConnectionLost), classConnLost, true},
		{context.DeadlineExceeded, classDeadline, true},
		{&ferry.ServerError{Code: ferry.CodeDeadlineExceeded, Message: "queue"}, classDeadline, true},
		{fmt.Errorf("%w: dial", ferry.ErrUnavailable), classUnavailable, true},
		{&ferry.ServerError{Code: ferry.CodeInternal}, classOther, true},
		{errors.New("something else"), classOther, false},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
		if c.err != nil && typed(c.err) != c.typed {
			t.Errorf("typed(%v) = %v, want %v", c.err, !c.typed, c.typed)
		}
	}
}
