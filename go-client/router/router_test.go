package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// Router tests with a fake daemon side: a ferry.Processor whose answers the test scripts. The same
// router against the real daemon is in the fault tests.

// fakeRust serves requests with the Go path's correct answers unless told to fail or lie.
type fakeRust struct {
	real  *goproc.Processor
	calls atomic.Int64
	mu    sync.Mutex
	// fail, when set, decides each call's error (nil: answer correctly).
	fail func(ctx context.Context) error
	// wrongDigest plants a wrong SHA-256 in every checksum answer.
	wrongDigest bool
	// wrongSize makes every resize answer one pixel too wide.
	wrongSize bool
}

func newFakeRust() *fakeRust { return &fakeRust{real: goproc.New()} }

func (f *fakeRust) setFail(fn func(ctx context.Context) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *fakeRust) check(ctx context.Context) error {
	f.calls.Add(1)
	f.mu.Lock()
	fn := f.fail
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx)
	}
	return nil
}

func (f *fakeRust) Resize(ctx context.Context, req ferry.ResizeRequest) (*ferry.ResizeResult, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	res, err := f.real.Resize(ctx, req)
	if err == nil {
		res.Served = ferry.Served{Path: ferry.PathRust, Reason: ferry.ReasonDirect}
		if f.wrongSize {
			res.Width++
		}
	}
	return res, err
}

func (f *fakeRust) Checksum(ctx context.Context, req ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	res, err := f.real.Checksum(ctx, req)
	if err == nil {
		res.Served = ferry.Served{Path: ferry.PathRust, Reason: ferry.ReasonDirect}
		if d, ok := res.Digests[ferry.SHA256]; ok && f.wrongDigest {
			d[0] ^= 0xFF
		}
	}
	return res, err
}

// countingGo counts the Go path's calls.
type countingGo struct {
	*goproc.Processor
	calls atomic.Int64
}

func (c *countingGo) Resize(ctx context.Context, req ferry.ResizeRequest) (*ferry.ResizeResult, error) {
	c.calls.Add(1)
	return c.Processor.Resize(ctx, req)
}

func (c *countingGo) Checksum(ctx context.Context, req ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	c.calls.Add(1)
	return c.Processor.Checksum(ctx, req)
}

// quietLog discards router logs in tests (they would flood -v output).
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTestRouter(t *testing.T, rust ferry.Processor, opts ...Option) (*Router, *countingGo) {
	t.Helper()
	g := &countingGo{Processor: goproc.New()}
	r, err := New(rust, g, append([]Option{WithLogger(quietLog), WithObserver(newCounts())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, g
}

var sumReq = ferry.ChecksumRequest{Data: []byte("ferry"), Algorithms: []ferry.Algorithm{ferry.SHA256, ferry.CRC32C}}

func mustChecksum(t *testing.T, r *Router, req ferry.ChecksumRequest) *ferry.ChecksumResult {
	t.Helper()
	res, err := r.Checksum(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRouterModes(t *testing.T) {
	rust := newFakeRust()
	r, g := newTestRouter(t, rust)
	if got := mustChecksum(t, r, sumReq).Served; got != (ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}) {
		t.Errorf("default policy served %+v", got)
	}
	if err := r.SetPolicy(Policy{Mode: RouteGo}); err != nil {
		t.Fatal(err)
	}
	before := rust.calls.Load()
	if got := mustChecksum(t, r, sumReq).Served; got != (ferry.Served{Path: ferry.PathGo, Reason: ReasonKillSwitch}) {
		t.Errorf("kill switch served %+v", got)
	}
	if rust.calls.Load() != before {
		t.Error("kill switch still called the daemon")
	}
	if err := r.SetPolicy(Policy{Mode: RoutePercentage, RustPercent: 0}); err != nil {
		t.Fatal(err)
	}
	if got := mustChecksum(t, r, sumReq).Served; got != (ferry.Served{Path: ferry.PathGo, Reason: ReasonPercentage}) {
		t.Errorf("0%% served %+v", got)
	}
	if err := r.SetPolicy(Policy{Mode: RoutePercentage, RustPercent: 100}); err != nil {
		t.Fatal(err)
	}
	if got := mustChecksum(t, r, sumReq).Served; got != (ferry.Served{Path: ferry.PathRust, Reason: ReasonPercentage}) {
		t.Errorf("100%% served %+v", got)
	}
	if err := r.SetPolicy(Policy{Mode: RoutePercentage, RustPercent: 101}); err == nil {
		t.Error("101% accepted")
	}
	if g.calls.Load() != 2 {
		t.Errorf("go path called %d times, want 2", g.calls.Load())
	}
	// every request is counted once, by path and reason
	m := countsOf(t, r)
	for _, c := range []struct {
		path   ferry.Path
		reason ferry.Reason
		want   float64
	}{{ferry.PathRust, ReasonPolicy, 1}, {ferry.PathGo, ReasonKillSwitch, 1}, {ferry.PathGo, ReasonPercentage, 1}, {ferry.PathRust, ReasonPercentage, 1}} {
		if got := m.requests("checksum", string(c.path), string(c.reason), "ok"); got != c.want {
			t.Errorf("requests{%s,%s} = %v, want %v", c.path, c.reason, got, c.want)
		}
	}
}

// Signs that the daemon is broken, and a job it can never fit, send the request to Go. (Busy
// does not, by default: TestBusyIsTheCallersAnswer.)
func TestRouterFallsBackWhenTheDaemonFails(t *testing.T) {
	failures := map[string]error{
		"unavailable":          fmt.Errorf("%w: dial: connection refused", ferry.ErrUnavailable),
		"connection lost":      fmt.Errorf("%w: EOF", ferry.ErrConnectionLost),
		"shutting down":        &ferry.ServerError{Code: ferry.CodeShuttingDown},
		"internal":             &ferry.ServerError{Code: ferry.CodeInternal, Message: "panic"},
		"unknown code":         &ferry.ServerError{Code: 99},
		"closed client":        ferry.ErrClosed,
		"not responding":       fmt.Errorf("%w: %w: silent", ferry.ErrConnectionLost, ferry.ErrNotResponding),
		"too large for budget": &ferry.ServerError{Code: ferry.CodeTooLargeForBudget, Message: "needs 3 GiB"},
	}
	for name, failure := range failures {
		t.Run(name, func(t *testing.T) {
			rust := newFakeRust()
			rust.setFail(func(context.Context) error { return failure })
			r, g := newTestRouter(t, rust)
			res := mustChecksum(t, r, sumReq)
			if res.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}) {
				t.Errorf("served %+v", res.Served)
			}
			want, _ := goproc.New().Checksum(bg(t), sumReq)
			if string(res.Digests[ferry.SHA256]) != string(want.Digests[ferry.SHA256]) {
				t.Error("fallback answer is wrong")
			}
			if g.calls.Load() != 1 || rust.calls.Load() != 1 {
				t.Errorf("calls: rust %d, go %d; want one each", rust.calls.Load(), g.calls.Load())
			}
			if got := countsOf(t, r).fallbacks("checksum", Outcome(failure), "go"); got != 1 {
				t.Errorf("fallbacks{%s} = %v", Outcome(failure), got)
			}
		})
	}
}

func TestRouterDoesNotRetryInvalidInputOnGo(t *testing.T) {
	for _, code := range []ferry.Code{ferry.CodeBadImage, ferry.CodeImageTooLarge, ferry.CodeInvalidArgument} {
		rust := newFakeRust()
		rust.setFail(func(context.Context) error { return &ferry.ServerError{Code: code} })
		r, g := newTestRouter(t, rust)
		_, err := r.Resize(bg(t), ferry.ResizeRequest{Image: []byte("x"), Width: 10})
		var se *ferry.ServerError
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("%s: got %v", code, err)
		}
		if g.calls.Load() != 0 {
			t.Errorf("%s: retried on Go", code)
		}
		if r.BreakerState() != BreakerClosed {
			t.Errorf("%s: an invalid input counted against the daemon", code)
		}
		if got := countsOf(t, r).requests("resize", "rust", "policy", code.String()); got != 1 {
			t.Errorf("%s: counted %v", code, got)
		}
	}
	// ferry.ErrRequestTooLarge (refused locally by the client) is invalid input too.
	rust := newFakeRust()
	rust.setFail(func(context.Context) error { return fmt.Errorf("%w: 200 MB", ferry.ErrRequestTooLarge) })
	r, g := newTestRouter(t, rust)
	if _, err := r.Checksum(bg(t), sumReq); !errors.Is(err, ferry.ErrRequestTooLarge) || g.calls.Load() != 0 {
		t.Errorf("request too large: %v, go calls %d", err, g.calls.Load())
	}
}

// hang blocks like a stopped daemon: until the call's context ends.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return fmt.Errorf("ferry: checksum: %w", ctx.Err())
}

// The daemon attempt gets the caller's whole deadline: no share is kept back for a fallback.
func TestRouterGivesTheDaemonTheCallersWholeDeadline(t *testing.T) {
	rust := newFakeRust()
	var seen time.Time
	var hadDeadline bool
	rust.setFail(func(ctx context.Context) error {
		seen, hadDeadline = ctx.Deadline()
		return nil
	})
	r, _ := newTestRouter(t, rust)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	want, _ := ctx.Deadline()
	if res, err := r.Checksum(ctx, sumReq); err != nil || res.Served.Path != ferry.PathRust {
		t.Fatalf("%v %+v", err, res)
	}
	if !hadDeadline || !seen.Equal(want) {
		t.Errorf("the daemon attempt's deadline was %v (set: %v), want the caller's %v", seen, hadDeadline, want)
	}
	// A long deadline is not capped by the rust timeout either.
	long, cancelLong := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLong()
	want, _ = long.Deadline()
	mustChecksumCtx(t, r, long)
	if !seen.Equal(want) {
		t.Errorf("an hour's deadline reached the daemon as %v", time.Until(seen).Round(time.Second))
	}
	// Without a caller deadline the attempt is capped by the router's rust timeout.
	r2, _ := newTestRouter(t, rust, WithRustTimeout(50*time.Millisecond))
	start := time.Now()
	mustChecksumCtx(t, r2, context.Background())
	if !hadDeadline || seen.Sub(start) < 40*time.Millisecond || seen.Sub(start) > time.Second {
		t.Errorf("no caller deadline: the daemon attempt got %v (set: %v), want the 50ms cap", seen.Sub(start), hadDeadline)
	}
}

func mustChecksumCtx(t *testing.T, r *Router, ctx context.Context) {
	t.Helper()
	if _, err := r.Checksum(ctx, sumReq); err != nil {
		t.Fatal(err)
	}
}

// A deadline that runs out at the daemon is the caller's: it says nothing about the daemon's
// health (the queue explains it; a daemon that stops answering is the Client's hang timeout's
// to catch), and there is no time left for Go.
func TestRouterDeadlinesAtTheDaemonAreNotFailures(t *testing.T) {
	rust := newFakeRust()
	rust.setFail(hang)
	r, g := newTestRouter(t, rust)
	for range DefaultBreakerConsecutiveFailures + 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := r.Checksum(ctx, sumReq)
		cancel()
		var re *Error
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &re) || re.Served != (ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}) {
			t.Fatalf("caller deadline: %v", err)
		}
	}
	// The router's own cap, for a caller without a deadline, is no failure either.
	r2, g2 := newTestRouter(t, rust, WithRustTimeout(10*time.Millisecond))
	for range DefaultBreakerConsecutiveFailures + 1 {
		if _, err := r2.Checksum(context.Background(), sumReq); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("rust timeout: %v", err)
		}
	}
	// Nor the daemon's own deadline_exceeded.
	rust3 := newFakeRust()
	rust3.setFail(func(context.Context) error { return &ferry.ServerError{Code: ferry.CodeDeadlineExceeded} })
	r3, g3 := newTestRouter(t, rust3)
	for range DefaultBreakerConsecutiveFailures + 1 {
		if _, err := r3.Checksum(bg(t), sumReq); !errors.Is(err, ferry.ErrDeadlineExceeded) {
			t.Fatalf("daemon deadline: %v", err)
		}
	}
	for i, rr := range []*Router{r, r2, r3} {
		if rr.BreakerState() != BreakerClosed {
			t.Errorf("router %d: breaker %v after deadlines", i, rr.BreakerState())
		}
	}
	if n := g.calls.Load() + g2.calls.Load() + g3.calls.Load(); n != 0 {
		t.Errorf("%d deadlines went to Go", n)
	}
	// With WithBusyFallback, the Go path serves a caller that still has time.
	r4, g4 := newTestRouter(t, rust3, WithBusyFallback())
	if res := mustChecksum(t, r4, sumReq); res.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}) || g4.calls.Load() != 1 {
		t.Errorf("busy fallback of a daemon deadline: %+v", res.Served)
	}
}

// fakeClock is a settable time source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestBreakerOpensOnConsecutiveFailuresAndClosesAfterProbes(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	rust := newFakeRust()
	down := func(context.Context) error { return ferry.ErrUnavailable }
	rust.setFail(down)
	r, _ := newTestRouter(t, rust, withClock(clock.now),
		WithBreaker(BreakerConfig{ConsecutiveFailures: 3, OpenFor: 5 * time.Second, Probes: 2}))
	for i := 0; i < 3; i++ {
		if s := mustChecksum(t, r, sumReq).Served; s != (ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}) {
			t.Fatalf("failure %d served %+v", i, s)
		}
	}
	if r.BreakerState() != BreakerOpen {
		t.Fatalf("after 3 failures: %v", r.BreakerState())
	}
	calls := rust.calls.Load()
	for i := 0; i < 10; i++ {
		if s := mustChecksum(t, r, sumReq).Served; s != (ferry.Served{Path: ferry.PathGo, Reason: ReasonBreakerOpen}) {
			t.Fatalf("open breaker served %+v", s)
		}
	}
	if rust.calls.Load() != calls {
		t.Fatal("open breaker still called the daemon")
	}
	// cool-down over, daemon still down: the probe fails and the breaker reopens
	clock.advance(5 * time.Second)
	if r.BreakerState() != BreakerHalfOpen {
		t.Fatalf("after cool-down: %v", r.BreakerState())
	}
	if s := mustChecksum(t, r, sumReq).Served; s != (ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}) {
		t.Fatalf("failed probe served %+v", s)
	}
	if r.BreakerState() != BreakerOpen {
		t.Fatalf("after a failed probe: %v", r.BreakerState())
	}
	// daemon back: two good probes close it
	rust.setFail(nil)
	clock.advance(5 * time.Second)
	for i := 0; i < 2; i++ {
		if s := mustChecksum(t, r, sumReq).Served; s != (ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}) {
			t.Fatalf("probe %d served %+v", i, s)
		}
	}
	if r.BreakerState() != BreakerClosed {
		t.Fatalf("after good probes: %v", r.BreakerState())
	}
	m := countsOf(t, r)
	if m.breakerChanges("open") != 2 ||
		m.breakerChanges("half_open") != 2 ||
		m.breakerChanges("closed") != 1 ||
		m.breakerState() != 0 {
		t.Error("breaker transitions not counted as expected")
	}
}

func TestBreakerHalfOpenBoundsProbes(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	b := newBreaker(BreakerConfig{ConsecutiveFailures: 1, Probes: 2, OpenFor: time.Second}, clock.now, nil, false)
	p, _ := b.allow()
	b.record(p, true)
	clock.advance(time.Second)
	p1, ok1 := b.allow()
	p2, ok2 := b.allow()
	_, ok3 := b.allow()
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("half-open admitted %v %v %v, want two probes", ok1, ok2, ok3)
	}
	b.release(p1) // a probe that says nothing frees its slot
	p3, ok := b.allow()
	if !ok {
		t.Fatal("released slot not reusable")
	}
	b.record(p2, false)
	b.record(p3, false)
	if b.State() != BreakerClosed {
		t.Fatalf("state %v", b.State())
	}
	// a stale permit from before the transition counts for nothing
	b.record(p1, true)
	if b.State() != BreakerClosed {
		t.Fatal("stale failure reopened the breaker")
	}
}

func TestBreakerOpensOnFailureRate(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	b := newBreaker(BreakerConfig{ConsecutiveFailures: 100, MinRequests: 20, FailureRate: 0.5, Window: 10 * time.Second}, clock.now, nil, false)
	// alternate success and failure: never 2 in a row, but half of all calls fail
	for i := 0; i < 19; i++ {
		p, ok := b.allow()
		if !ok {
			t.Fatalf("call %d refused", i)
		}
		b.record(p, i%2 == 1)
		clock.advance(100 * time.Millisecond)
	}
	if b.State() != BreakerClosed {
		t.Fatal("opened before MinRequests")
	}
	p, _ := b.allow()
	b.record(p, true) // 20 calls, 10 failures
	if b.State() != BreakerOpen {
		t.Fatalf("50%% failures over 20 calls: %v", b.State())
	}
	// old failures leave the window
	b2 := newBreaker(BreakerConfig{ConsecutiveFailures: 100, MinRequests: 4, FailureRate: 0.5, Window: time.Second}, clock.now, nil, false)
	for i := 0; i < 3; i++ {
		p, _ := b2.allow()
		b2.record(p, true)
		p, _ = b2.allow()
		b2.record(p, false)
	}
	if b2.State() != BreakerOpen {
		t.Fatal("3 of 6 failures in the window should open")
	}
	b3 := newBreaker(BreakerConfig{ConsecutiveFailures: 100, MinRequests: 4, FailureRate: 0.5, Window: time.Second}, clock.now, nil, false)
	for i := 0; i < 3; i++ {
		p, _ := b3.allow()
		b3.record(p, true)
		p, _ = b3.allow()
		b3.record(p, false)
		clock.advance(2 * time.Second) // each pair alone in its window
	}
	if b3.State() != BreakerClosed {
		t.Fatal("failures outside the window opened the breaker")
	}
}

func TestPercentageSplitAndStickyKeys(t *testing.T) {
	rust := newFakeRust()
	r, _ := newTestRouter(t, rust, WithPolicy(Policy{Mode: RoutePercentage, RustPercent: 30}))
	const n = 4000
	// Tolerance: keyed routing is a fixed function of the keys (30.4% of these keys); the
	// bound of 2.5 points is about 3.5 standard deviations of a fair 4000-draw sample.
	const tolerance = 2.5
	keyed := 0
	first := map[string]ferry.Path{}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("photo-%d.jpg", i)
		res := mustChecksum(t, r, ferry.ChecksumRequest{Data: []byte{1}, Algorithms: []ferry.Algorithm{ferry.CRC32C}, Key: key})
		if res.Served.Reason != ReasonPercentage {
			t.Fatalf("reason %s", res.Served.Reason)
		}
		if res.Served.Path == ferry.PathRust {
			keyed++
		}
		first[key] = res.Served.Path
	}
	share := 100 * float64(keyed) / n
	t.Logf("keyed: %d of %d requests to rust (%.1f%%, target 30%% +- %.1f)", keyed, n, share, tolerance)
	if share < 30-tolerance || share > 30+tolerance {
		t.Errorf("keyed share %.1f%% outside 30 +- %.1f", share, tolerance)
	}
	// the same key always lands on the same path
	for i := 0; i < 200; i++ {
		key := fmt.Sprintf("photo-%d.jpg", i)
		if p := mustChecksum(t, r, ferry.ChecksumRequest{Data: []byte{1}, Algorithms: []ferry.Algorithm{ferry.CRC32C}, Key: key}).Served.Path; p != first[key] {
			t.Fatalf("key %s moved from %s to %s", key, first[key], p)
		}
	}
	// raising the percentage only moves keys to rust
	if err := r.SetPolicy(Policy{Mode: RoutePercentage, RustPercent: 60}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		key := fmt.Sprintf("photo-%d.jpg", i)
		p := mustChecksum(t, r, ferry.ChecksumRequest{Data: []byte{1}, Algorithms: []ferry.Algorithm{ferry.CRC32C}, Key: key}).Served.Path
		if first[key] == ferry.PathRust && p != ferry.PathRust {
			t.Fatalf("key %s left rust when the share went up", key)
		}
	}
	// without keys: random draws, same tolerance
	if err := r.SetPolicy(Policy{Mode: RoutePercentage, RustPercent: 30}); err != nil {
		t.Fatal(err)
	}
	random := 0
	for i := 0; i < n; i++ {
		if mustChecksum(t, r, ferry.ChecksumRequest{Data: []byte{1}, Algorithms: []ferry.Algorithm{ferry.CRC32C}}).Served.Path == ferry.PathRust {
			random++
		}
	}
	share = 100 * float64(random) / n
	t.Logf("unkeyed: %d of %d requests to rust (%.1f%%)", random, n, share)
	if share < 30-tolerance || share > 30+tolerance {
		t.Errorf("unkeyed share %.1f%% outside 30 +- %.1f", share, tolerance)
	}
}

// collectReports gathers shadow reports.
type collectReports struct {
	mu   sync.Mutex
	list []ShadowReport
}

func (c *collectReports) add(r ShadowReport) {
	c.mu.Lock()
	c.list = append(c.list, r)
	c.mu.Unlock()
}

// wait returns once n reports have arrived.
func (c *collectReports) wait(t *testing.T, n int) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
		if len(c.all()) >= n {
			return
		}
	}
	t.Fatalf("%d shadow reports after 5s, want %d", len(c.all()), n)
}

func (c *collectReports) all() []ShadowReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ShadowReport(nil), c.list...)
}

func TestShadowReportsAPlantedMismatch(t *testing.T) {
	rust := newFakeRust()
	rust.wrongDigest = true
	reports := &collectReports{}
	r, g := newTestRouter(t, rust, WithPolicy(Policy{Mode: RouteShadow}), WithShadow(ShadowConfig{OnReport: reports.add}))
	res := mustChecksum(t, r, sumReq)
	if res.Served != (ferry.Served{Path: ferry.PathRust, Reason: ReasonShadow}) {
		t.Errorf("served %+v", res.Served)
	}
	// a request without SHA-256 agrees
	mustChecksum(t, r, ferry.ChecksumRequest{Data: []byte("ferry"), Algorithms: []ferry.Algorithm{ferry.BLAKE3}})
	r.Close() // waits for the shadow calls
	got := reports.all()
	if len(got) != 2 || g.calls.Load() != 2 {
		t.Fatalf("%d reports, %d go calls: %+v", len(got), g.calls.Load(), got)
	}
	var mismatch, match int
	for _, rep := range got {
		switch rep.Result {
		case "mismatch":
			mismatch++
			if !strings.Contains(rep.Detail, "sha256") || rep.Primary != ferry.PathRust || rep.Shadow != ferry.PathGo {
				t.Errorf("mismatch report %+v", rep)
			}
		case "match":
			match++
		}
	}
	if mismatch != 1 || match != 1 {
		t.Errorf("reports %+v", got)
	}
	m := countsOf(t, r)
	if m.shadowMismatches("checksum") != 1 ||
		m.shadowCompared("checksum", "match") != 1 {
		t.Error("shadow metrics not counted")
	}
}

func TestShadowComparesResizesAndRefusals(t *testing.T) {
	rust := newFakeRust()
	reports := &collectReports{}
	r, _ := newTestRouter(t, rust, WithPolicy(Policy{Mode: RouteShadow, ShadowPrimary: ferry.PathGo}),
		WithShadow(ShadowConfig{OnReport: reports.add}))
	img := testimages.EncodePNG(t, testimages.Painted(80, 60))
	res, err := r.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 40})
	if err != nil || res.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonShadow}) {
		t.Fatalf("%v %+v", err, res)
	}
	res.Image[len(res.Image)/2] ^= 0xFF // the caller owns its result; the comparison has its own copy
	_, err = r.Resize(bg(t), ferry.ResizeRequest{Image: []byte("junk"), Width: 40})
	if !errors.Is(err, ferry.ErrBadImage) {
		t.Fatal(err)
	}
	reports.wait(t, 2) // before the fake starts lying
	rust.mu.Lock()
	rust.wrongSize = true
	rust.mu.Unlock()
	if _, err := r.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 40}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	got := reports.all()
	if len(got) != 3 {
		t.Fatalf("reports %+v", got)
	}
	results := map[string]int{}
	for _, rep := range got {
		results[rep.Result]++
		if rep.Result == "mismatch" && !strings.Contains(rep.Detail, "41x30") {
			t.Errorf("mismatch detail %q", rep.Detail)
		}
	}
	if results["match"] != 2 || results["mismatch"] != 1 {
		t.Errorf("results %v: %+v", results, got)
	}
}

func TestShadowIsBoundedAndSkipsAnOpenBreaker(t *testing.T) {
	rust := newFakeRust()
	block := make(chan struct{})
	rust.setFail(func(ctx context.Context) error { <-block; return nil })
	r, _ := newTestRouter(t, rust, WithPolicy(Policy{Mode: RouteShadow, ShadowPrimary: ferry.PathGo}),
		WithShadow(ShadowConfig{MaxInFlight: 2}))
	for range 5 {
		mustChecksum(t, r, sumReq) // the Go primary answers; two shadows block, three are skipped
	}
	close(block)
	r.Close()
	if got := countsOf(t, r).shadowCompared("checksum", "skipped"); got != 3 {
		t.Errorf("skipped %v, want 3", got)
	}
}

func TestPolicyParsing(t *testing.T) {
	for in, want := range map[string]Policy{
		"rust":           {Mode: RouteRust},
		" ALL-RUST\n":    {Mode: RouteRust},
		"go":             {Mode: RouteGo},
		"off":            {Mode: RouteGo},
		"percentage:25":  {Mode: RoutePercentage, RustPercent: 25},
		"percent: 2.5 %": {Mode: RoutePercentage, RustPercent: 2.5},
		"75%":            {Mode: RoutePercentage, RustPercent: 75},
		"shadow":         {Mode: RouteShadow, ShadowPrimary: ferry.PathRust},
		"shadow:go":      {Mode: RouteShadow, ShadowPrimary: ferry.PathGo},
		" Auto ":         {Mode: RouteAuto},
	} {
		got, err := ParsePolicy(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v", in, got, err)
		}
		if again, err := ParsePolicy(got.String()); err != nil || again != got {
			t.Errorf("%q does not round-trip through %q", in, got.String())
		}
	}
	for _, in := range []string{"", "rusty", "percentage:", "percentage:150", "-5%", "shadow:c++", "NaN%"} {
		if _, err := ParsePolicy(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestKillSwitchFromEnvironmentAndFile(t *testing.T) {
	rust := newFakeRust()
	t.Setenv(EnvRoute, "go")
	r, _ := newTestRouter(t, rust)
	if r.Policy().Mode != RouteGo || mustChecksum(t, r, sumReq).Served.Reason != ReasonKillSwitch {
		t.Fatalf("FERRY_ROUTE=go: policy %v", r.Policy())
	}
	t.Setenv(EnvRoute, "sideways")
	if _, err := New(rust, nil, WithLogger(quietLog)); err == nil {
		t.Fatal("an invalid FERRY_ROUTE was accepted")
	}
	t.Setenv(EnvRoute, "")

	dir := t.TempDir()
	file := filepath.Join(dir, "route")
	write := func(s string) {
		// write-and-rename, as a config management tool would: the watcher never sees half a file
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write("# the kill switch\nrust\n")
	r2, _ := newTestRouter(t, rust, WithPolicyFile(file, 20*time.Millisecond))
	if r2.Policy().Mode != RouteRust {
		t.Fatalf("file policy at start: %v", r2.Policy())
	}
	waitPolicy := func(want RouteMode) time.Duration {
		start := time.Now()
		for time.Since(start) < 2*time.Second {
			if r2.Policy().Mode == want {
				return time.Since(start)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("policy still %v after 2s, want %s", r2.Policy(), want)
		return 0
	}
	write("go\n")
	took := waitPolicy(RouteGo)
	t.Logf("kill switch by file took effect in %v (poll every 20ms)", took)
	if s := mustChecksum(t, r2, sumReq).Served; s != (ferry.Served{Path: ferry.PathGo, Reason: ReasonKillSwitch}) {
		t.Errorf("after the file switched to go: %+v", s)
	}
	write("nonsense\n") // ignored, logged
	time.Sleep(100 * time.Millisecond)
	if r2.Policy().Mode != RouteGo {
		t.Errorf("an invalid file changed the policy to %v", r2.Policy())
	}
	// SetPolicy stands until the file changes again
	if err := r2.SetPolicy(Policy{Mode: RouteShadow}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if r2.Policy().Mode != RouteShadow {
		t.Errorf("the watcher overrode SetPolicy with an unchanged file: %v", r2.Policy())
	}
	write("percentage:10\n")
	waitPolicy(RoutePercentage)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if r2.Policy().Mode != RoutePercentage {
		t.Error("removing the file changed the policy")
	}
	write("rust")
	waitPolicy(RouteRust)
	if got := countsOf(t, r2).policyChanges("file"); got != 4 {
		t.Errorf("file policy changes counted %v, want 4 (start, go, percentage, rust)", got)
	}
	// an invalid file at start is an error
	write("sideways")
	if _, err := New(rust, nil, WithLogger(quietLog), WithPolicyFile(file, 0)); err == nil {
		t.Error("an invalid policy file was accepted at start")
	}
}

// bg is a context for one test call: long enough for any job, ended with the test.
func bg(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A nil *slog.Logger is no logger, not a panic at the first log line.
func TestWithLoggerTakesANilSlogLogger(t *testing.T) {
	var none *slog.Logger
	r, _ := newTestRouter(t, newFakeRust(), WithLogger(none))
	if err := r.SetPolicy(Policy{Mode: RouteGo}); err != nil { // logs a policy change
		t.Fatal(err)
	}
}
