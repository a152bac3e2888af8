package router

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testclient"
	"github.com/ferryd/ferry/go-client/internal/testimages"

	"github.com/ferryd/ferry/go-client/internal/testdaemon"
)

// The Router against the real ferryd, with faults injected by signals: SIGKILL in the middle of
// a concurrent load, SIGSTOP (a daemon that accepts but never answers), then recovery.

// faultLoad is the shape of the concurrent load.
const (
	faultWorkers  = 32
	faultRequests = 400
)

// routedJob is one request of the load and how to check its answer.
type routedJob struct {
	resize   *ferry.ResizeRequest
	checksum *ferry.ChecksumRequest
	// wantDigest is the SHA-256 the checksum must return; wantW x wantH the resize's size.
	wantDigest   []byte
	wantW, wantH int
}

// faultJobs builds n requests, half resizes and half checksums, each distinct (so a result
// delivered to the wrong caller would show), with the expected answers from the Go path (which
// TestDifferential* holds equal to the daemon's).
func faultJobs(t *testing.T, n int) []routedJob {
	t.Helper()
	img := testimages.EncodePNG(t, testimages.Painted(96, 64))
	ref := goproc.New()
	jobs := make([]routedJob, n)
	for i := range jobs {
		if i%2 == 0 {
			w := 16 + i%40 // distinct box widths: fit 96x64 into w x w
			jobs[i] = routedJob{resize: &ferry.ResizeRequest{Image: img, Width: w, Height: w, Format: ferry.FormatPNG, Key: fmt.Sprint(i)},
				wantW: w, wantH: int(roundRatio(64*int64(w), 96))}
			continue
		}
		data := append(testimages.PaintedBytes(4096), []byte(fmt.Sprintf("request %d", i))...)
		req := ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{ferry.SHA256, ferry.XXH3_64}, Key: fmt.Sprint(i)}
		want, err := ref.Checksum(bg(t), req)
		if err != nil {
			t.Fatal(err)
		}
		jobs[i] = routedJob{checksum: &req, wantDigest: want.Digests[ferry.SHA256]}
	}
	return jobs
}

// run sends the job through p and checks the answer; it returns what served it.
func (j *routedJob) run(ctx context.Context, p ferry.Processor) (ferry.Served, error) {
	if j.resize != nil {
		res, err := p.Resize(ctx, *j.resize)
		if err != nil {
			return ferry.Served{}, err
		}
		if res.Width != j.wantW || res.Height != j.wantH {
			return res.Served, fmt.Errorf("resize to %dx%d, want %dx%d", res.Width, res.Height, j.wantW, j.wantH)
		}
		img, err := decodeImage(res.Image)
		if err != nil || img.Bounds().Dx() != j.wantW {
			return res.Served, fmt.Errorf("resize output does not decode to %d wide: %v", j.wantW, err)
		}
		return res.Served, nil
	}
	res, err := p.Checksum(ctx, *j.checksum)
	if err != nil {
		return ferry.Served{}, err
	}
	if !bytes.Equal(res.Digests[ferry.SHA256], j.wantDigest) {
		return res.Served, fmt.Errorf("wrong digest %x", res.Digests[ferry.SHA256])
	}
	return res.Served, nil
}

// loadTally counts a load's answers.
type loadTally struct {
	mu        sync.Mutex
	answers   []int // per request: how many answers it got
	served    map[ferry.Served]int
	failures  []string
	maxWait   time.Duration
	completed atomic.Int64
}

func newTally(n int) *loadTally {
	return &loadTally{answers: make([]int, n), served: map[ferry.Served]int{}}
}

func (l *loadTally) record(i int, s ferry.Served, err error, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers[i]++
	if err != nil {
		l.failures = append(l.failures, fmt.Sprintf("request %d: %v", i, err))
	} else {
		l.served[s]++
	}
	l.maxWait = max(l.maxWait, wait)
	l.completed.Add(1)
}

// check fails the test unless every request got exactly one correct answer, and logs the
// figures.
func (l *loadTally) check(t *testing.T, what string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	lost, duplicated := 0, 0
	for _, n := range l.answers {
		switch {
		case n == 0:
			lost++
		case n > 1:
			duplicated++
		}
	}
	byPath := map[ferry.Path]int{}
	var lines []string
	for s, n := range l.served {
		byPath[s.Path] += n
		lines = append(lines, fmt.Sprintf("%s/%s=%d", s.Path, s.Reason, n))
	}
	sort.Strings(lines)
	t.Logf("%s: sent %d, answered correctly %d (rust %d, go %d; %v), failed %d, lost %d, duplicated %d, slowest %v",
		what, len(l.answers), byPath[ferry.PathRust]+byPath[ferry.PathGo], byPath[ferry.PathRust], byPath[ferry.PathGo], lines,
		len(l.failures), lost, duplicated, l.maxWait.Round(time.Millisecond))
	if lost != 0 || duplicated != 0 || len(l.failures) != 0 {
		for _, f := range l.failures[:min(len(l.failures), 10)] {
			t.Error(f)
		}
		t.Fatalf("%s: %d lost, %d duplicated, %d failed", what, lost, duplicated, len(l.failures))
	}
}

// runLoad sends jobs from faultWorkers goroutines, each call with the given timeout (0: none),
// calling during once when the given number of requests have completed.
func runLoad(t *testing.T, p ferry.Processor, jobs []routedJob, timeout time.Duration, at int64, during func()) *loadTally {
	tally := newTally(len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	for range faultWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if timeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, timeout)
				}
				start := time.Now()
				s, err := jobs[i].run(ctx, p)
				cancel()
				tally.record(i, s, err, time.Since(start))
				if during != nil && tally.completed.Load() >= at {
					once.Do(func() { go during() })
				}
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return tally
}

// faultRouter dials the daemon with a short redial backoff (so recovery is quick to observe)
// and builds a Router with a fast breaker.
func faultRouter(t *testing.T, d *testdaemon.Daemon, breaker BreakerConfig, opts ...Option) (*Router, *ferry.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ferry.Dial(ctx, d.Path(), ferry.WithRedialBackoff(5*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r, err := New(c, goproc.New(), append([]Option{WithLogger(quietLog), WithObserver(newCounts()), WithBreaker(breaker)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, c
}

// waitClosedOnRust sends checksums until the breaker is closed and a request is served by the
// daemon again, and returns how long that took.
func waitClosedOnRust(t *testing.T, r *Router) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 15*time.Second {
		res, err := r.Checksum(bg(t), ferry.ChecksumRequest{Data: []byte("probe"), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
		if err != nil {
			t.Fatalf("probe request failed: %v", err)
		}
		if r.BreakerState() == BreakerClosed && res.Served.Path == ferry.PathRust {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("breaker %v 15s after the daemon came back", r.BreakerState())
	return 0
}

func TestRouterFaultSIGKILLDuringLoad(t *testing.T) {
	d := testdaemon.Start(t)
	r, _ := faultRouter(t, d, BreakerConfig{ConsecutiveFailures: 5, OpenFor: 200 * time.Millisecond})
	jobs := faultJobs(t, faultRequests)
	killed := make(chan struct{})
	tally := runLoad(t, r, jobs, 0, faultRequests/4, func() {
		d.Kill()
		close(killed)
	})
	select {
	case <-killed:
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon was never killed")
	}
	tally.check(t, "SIGKILL after 100 of 400 requests, 32 goroutines")
	m := countsOf(t, r)
	opened := m.breakerChanges("open")
	if opened < 1 {
		t.Fatal("the breaker never opened while the daemon was dead")
	}
	if tally.served[ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}] == 0 {
		t.Error("no request was served by the daemon before the kill")
	}
	if tally.served[ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}]+tally.served[ferry.Served{Path: ferry.PathGo, Reason: ReasonBreakerOpen}] == 0 {
		t.Error("no request fell back to Go")
	}

	d.Restart()
	took := waitClosedOnRust(t, r)
	t.Logf("SIGKILL: breaker opened %v time(s); after restart it closed and the daemon served again within %v",
		opened, took.Round(time.Millisecond))
	// and the daemon serves the whole load again
	after := runLoad(t, r, jobs[:100], 0, 0, nil)
	after.check(t, "after restart")
	if after.served[ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}] != 100 {
		t.Errorf("after restart only %d of 100 served by rust", after.served[ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}])
	}
}

func TestRouterFaultSIGSTOPHoldsDeadlines(t *testing.T) {
	d := testdaemon.Start(t)
	r, _ := faultRouter(t, d, BreakerConfig{ConsecutiveFailures: 5, OpenFor: 300 * time.Millisecond})
	jobs := faultJobs(t, faultRequests)
	// The daemon attempt gets the whole deadline; the Client's hang timeout (250 ms) fails the
	// calls on the frozen daemon's connections, and once the breaker opens, calls still waiting
	// (on a dial to the frozen daemon, which its dial timeout would end only after 1 s) go to Go
	// with the time they have left. 600ms leaves Go time for a tiny job even when 32 fallbacks
	// land on 2 busy cores at once.
	const deadline = 600 * time.Millisecond
	// Scheduling slack past the deadline before a call counts as late.
	const slack = 50 * time.Millisecond

	warm := runLoad(t, r, jobs[:64], deadline, 0, nil)
	warm.check(t, "before SIGSTOP")

	d.Stop()
	stopped := runLoad(t, r, jobs, deadline, 0, nil)
	stopped.check(t, "SIGSTOP, 600ms deadlines, 32 goroutines")
	if stopped.maxWait > deadline+slack {
		t.Errorf("slowest call took %v with a %v deadline", stopped.maxWait, deadline)
	}
	if n := stopped.served[ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}]; n != 0 {
		t.Errorf("%d requests claim the frozen daemon served them", n)
	}
	if countsOf(t, r).breakerChanges("open") < 1 {
		t.Error("the breaker never opened while the daemon was frozen")
	}

	d.Cont()
	took := waitClosedOnRust(t, r)
	t.Logf("SIGCONT: breaker closed and the daemon served again within %v", took.Round(time.Millisecond))
	after := runLoad(t, r, jobs[:100], deadline, 0, nil)
	after.check(t, "after SIGCONT")
	if after.served[ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}] != 100 {
		t.Errorf("after SIGCONT only %d of 100 served by rust", after.served[ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}])
	}
}

func TestRouterPercentageAgainstTheDaemon(t *testing.T) {
	d := testdaemon.Start(t)
	r, _ := faultRouter(t, d, BreakerConfig{})
	if err := r.SetPolicy(Policy{Mode: RoutePercentage, RustPercent: 25}); err != nil {
		t.Fatal(err)
	}
	// A few thousand keyed requests; keyed routing is a fixed function of the keys, so the share
	// is the same on every run. Tolerance: 2.5 points, over 3 standard deviations of a fair
	// 4000-draw sample.
	const n = 4000
	const tolerance = 2.5
	toRust := 0
	for i := 0; i < n; i++ {
		req := ferry.ChecksumRequest{Data: []byte(fmt.Sprint(i)), Algorithms: []ferry.Algorithm{ferry.CRC32C}, Key: fmt.Sprintf("user-%d", i)}
		res, err := r.Checksum(bg(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Served.Reason != ReasonPercentage {
			t.Fatalf("served %+v", res.Served)
		}
		if res.Served.Path == ferry.PathRust {
			toRust++
		}
	}
	share := 100 * float64(toRust) / n
	t.Logf("percentage:25 against ferryd: %d of %d keyed requests served by rust (%.1f%%, tolerance +-%.1f)", toRust, n, share, tolerance)
	if share < 25-tolerance || share > 25+tolerance {
		t.Errorf("share %.1f%% outside 25 +- %.1f", share, tolerance)
	}
}

func TestRouterShadowAgainstTheDaemonFindsNoMismatch(t *testing.T) {
	_, c := testclient.Start(t)
	reports := &collectReports{}
	r, err := New(c, nil, WithLogger(quietLog), WithPolicy(Policy{Mode: RouteShadow}),
		WithShadow(ShadowConfig{MaxInFlight: 64, OnReport: reports.add}))
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	inputs := append(testimages.Photos(t), testimages.Generated(t)...)
	inputs = append(inputs, testimages.Corrupt(t)...)
	inputs = append(inputs, testimages.Bombs()...)
	cases := shadowCases
	if slices.Contains(c.ServerInfo().OutputFormats, ferry.FormatAVIF) {
		cases = append(slices.Clone(cases), ferry.ResizeRequest{Width: 90, Height: 60, Mode: ferry.ModeFill, Format: ferry.FormatAVIF})
	} else {
		t.Logf("the daemon does not write AVIF (output_formats %v): no AVIF shadow comparison", c.ServerInfo().OutputFormats)
	}
	for _, in := range inputs {
		for _, c := range cases {
			c.Image = in.Data
			_, err := r.Resize(bg(t), c)
			if err != nil && !ferry.IsInvalidInput(err) {
				t.Fatalf("%s: %v", in.Name, err)
			}
			sent++
			reports.wait(t, sent) // one at a time, so none is skipped for capacity
		}
		if _, err := r.Checksum(bg(t), ferry.ChecksumRequest{Data: in.Data, Algorithms: []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3}}); err != nil {
			t.Fatal(err)
		}
		sent++
		reports.wait(t, sent)
	}
	r.Close()
	results := map[string]int{}
	for _, rep := range reports.all() {
		results[rep.Result]++
		if rep.Result != "match" {
			t.Errorf("%s %s: %s: %s", rep.Op, rep.Key, rep.Result, rep.Detail)
		}
	}
	t.Logf("shadow rust->go over %d requests (photos, fixtures, corrupt inputs, bombs): %v", sent, results)
	if results["match"] != sent {
		t.Errorf("%d matches of %d", results["match"], sent)
	}
}

// roundRatio is num/den rounded half up, as the daemon rounds a fitted side.
func roundRatio(num, den int64) int64 { return (2*num + den) / (2 * den) }

// shadowCases are the resizes each input goes through in the shadow test: every mode, filter
// and output format once.
var shadowCases = []ferry.ResizeRequest{
	{Width: 200, Height: 200},
	{Width: 120, Height: 120, Mode: ferry.ModeFill, Anchor: ferry.AnchorTopLeft, Filter: ferry.FilterCatmullRom, Format: ferry.FormatPNG},
	{Width: 100, Height: 50, Mode: ferry.ModeExact, Filter: ferry.FilterBilinear, Format: ferry.FormatWebP, Quality: 90},
	{Height: 64, Filter: ferry.FilterNearest, Format: ferry.FormatPNG},
}
