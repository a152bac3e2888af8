package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testclient"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// The overload rules (issue 21) against a fake daemon: busy is the caller's answer and never
// opens the breaker, the throttle engages and releases, local refusals cannot be spun on.

// A daemon that answers busy to everything is healthy: the breaker stays closed, and the caller
// gets ErrOverloaded (busy, safe to retry, with a hint and the path), not Go work on the same
// cores. too_large_for_budget goes to Go, and does not open the breaker either.
func TestBusyIsTheCallersAnswerAndNeverOpensTheBreaker(t *testing.T) {
	rust := newFakeRust()
	rust.setFail(busyDaemon)
	r, g := newTestRouter(t, rust, noThrottle) // every request to the daemon
	for i := range 200 {
		_, err := r.Checksum(bg(t), sumReq)
		if !errors.Is(err, ErrOverloaded) || !errors.Is(err, ferry.ErrBusy) || !ferry.SafeToRetry(err) {
			t.Fatalf("call %d: %v, want ErrOverloaded over busy", i, err)
		}
		var re *Error
		if !errors.As(err, &re) || re.Served.Path != ferry.PathRust || RetryAfter(err) <= 0 {
			t.Fatalf("call %d: %#v: want a *Error on the rust path with a retry hint", i, re)
		}
	}
	if r.BreakerState() != BreakerClosed || countsOf(t, r).breakerChanges("open") != 0 {
		t.Errorf("200 busy answers: breaker %v", r.BreakerState())
	}
	if g.calls.Load() != 0 {
		t.Errorf("busy work ran on Go %d times without WithBusyFallback", g.calls.Load())
	}

	tooLarge := newFakeRust()
	tooLarge.setFail(func(context.Context) error { return &ferry.ServerError{Code: ferry.CodeTooLargeForBudget} })
	r2, g2 := newTestRouter(t, tooLarge)
	for range 2 * DefaultBreakerConsecutiveFailures {
		if res := mustChecksum(t, r2, sumReq); res.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}) {
			t.Fatalf("too_large_for_budget served %v", res.Served)
		}
	}
	if r2.BreakerState() != BreakerClosed || g2.calls.Load() != 2*DefaultBreakerConsecutiveFailures {
		t.Errorf("too_large_for_budget: breaker %v, %d on Go", r2.BreakerState(), g2.calls.Load())
	}

	// WithBusyFallback: Go serves, and the breaker still stays closed.
	r3, g3 := newTestRouter(t, rust, WithBusyFallback())
	for range 50 {
		if res := mustChecksum(t, r3, sumReq); res.Served.Path != ferry.PathGo {
			t.Fatalf("busy fallback served %v", res.Served)
		}
	}
	if r3.BreakerState() != BreakerClosed || g3.calls.Load() != 50 {
		t.Errorf("busy fallback: breaker %v, %d on Go", r3.BreakerState(), g3.calls.Load())
	}
}

// Under sustained busy answers the throttle engages: the daemon is sent a fraction of the
// requests, the rest refused locally (ErrThrottled, matching ferry.ErrBusy); when the daemon
// accepts again it releases, and every request reaches the daemon again.
func TestThrottleEngagesAndReleases(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	rust := newFakeRust()
	rust.setFail(busyDaemon)
	// WithBusyFallback, so refusals go to Go at once instead of being held: the test counts.
	r, _ := newTestRouter(t, rust, withClock(clock.now), WithBusyFallback(), WithThrottle(ThrottleConfig{Window: 12 * time.Second}))
	const n = 400
	for range n {
		mustChecksum(t, r, sumReq)
		clock.advance(10 * time.Millisecond)
	}
	m := countsOf(t, r)
	sent, throttled := rust.calls.Load(), m.throttled("checksum")
	t.Logf("busy daemon: %d of %d requests sent, %v throttled, p = %.2f", sent, n, throttled, r.ThrottleProbability())
	if throttled == 0 || sent > n/4 || r.ThrottleProbability() != DefaultThrottleMaxReject {
		t.Errorf("the throttle did not engage: %d of %d sent, p %.2f", sent, n, r.ThrottleProbability())
	}
	if int64(throttled)+sent != n {
		t.Errorf("%v throttled + %d sent != %d", throttled, sent, n)
	}
	if m.fallbacks("checksum", "throttled", "go") != throttled {
		t.Errorf("throttled fallbacks %v, want %v", m.fallbacks("checksum", "throttled", "go"), throttled)
	}
	// Without busy fallback a throttle refusal is the caller's, typed.
	r2, _ := newTestRouter(t, rust, withClock(clock.now), WithThrottle(ThrottleConfig{Window: 12 * time.Second}))
	var refusal error
	for range 100 {
		if _, err := r2.Checksum(bg(t), sumReq); errors.Is(err, ErrThrottled) {
			refusal = err
			break
		}
	}
	var re *Error
	if !errors.Is(refusal, ErrOverloaded) || !errors.Is(refusal, ferry.ErrBusy) || !ferry.SafeToRetry(refusal) ||
		!errors.As(refusal, &re) || re.Served != (ferry.Served{Path: ferry.PathRust, Reason: ReasonThrottled}) {
		t.Errorf("throttle refusal: %v", refusal)
	}

	// The daemon accepts again: the probability falls as accepts come in, to 0 in about two
	// windows (a model of this very loop: 20-30 s for a 12 s window, 3% of random draws later,
	// none past 40 s); the bound is five windows so that the draw never decides the test.
	rust.setFail(nil)
	released := time.Duration(-1)
	for i := range 6000 {
		mustChecksum(t, r, sumReq)
		clock.advance(10 * time.Millisecond)
		if r.ThrottleProbability() == 0 {
			released = time.Duration(i+1) * 10 * time.Millisecond
			break
		}
	}
	if released < 0 {
		t.Fatalf("the throttle did not release within 60 s of accepts (window 12 s): p %.2f", r.ThrottleProbability())
	}
	t.Logf("released after %v of the daemon accepting (window 12 s)", released)
	before := rust.calls.Load()
	for range 100 {
		if res := mustChecksum(t, r, sumReq); res.Served.Path != ferry.PathRust {
			t.Fatalf("after release served %v", res.Served)
		}
	}
	if rust.calls.Load()-before != 100 {
		t.Error("requests still held back after the release")
	}
}

// A caller that retries at once cannot spin on refusals that cost the Router nothing: an open
// breaker with the fallback refused, or the throttle. Each is held about DefaultRetryAfter (or
// until the breaker next probes), so a spinning caller gets at most some tens of errors a
// second, not millions.
func TestNoHotLoopOnLocalRefusals(t *testing.T) {
	const span = time.Second
	spin := func(t *testing.T, r *Router, req ferry.ResizeRequest, callers int) (int64, map[string]int) {
		var errs atomic.Int64
		var mu sync.Mutex
		kinds := map[string]int{}
		var wg sync.WaitGroup
		start := time.Now()
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(start) < span {
					_, err := r.Resize(context.Background(), req)
					if err == nil {
						continue
					}
					if !ferry.SafeToRetry(err) {
						t.Errorf("refusal not safe to retry: %v", err)
						return
					}
					errs.Add(1)
					mu.Lock()
					kinds[Outcome(err)]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return errs.Load(), kinds
	}
	img := testimages.EncodePNG(t, testimages.Painted(64, 48))
	webp := ferry.ResizeRequest{Image: img, Width: 32, Format: ferry.FormatWebP}
	// at most 1/(DefaultRetryAfter/2) a second per caller, plus the probes' answers
	const perCallerPerSecond = int64(2*time.Second/DefaultRetryAfter) + 10

	t.Run("breaker open, fallback refused", func(t *testing.T) {
		rust := newFakeRust()
		rust.setFail(func(context.Context) error { return ferry.ErrUnavailable })
		r, g := newTestRouter(t, rust, WithoutFallback(ferry.FormatWebP))
		const callers = 8
		n, kinds := spin(t, r, webp, callers)
		t.Logf("%d callers spinning for %v: %d errors %v (bound %d)", callers, span, n, kinds, callers*perCallerPerSecond)
		if n > callers*perCallerPerSecond {
			t.Errorf("%d errors in %v from %d callers", n, span, callers)
		}
		if g.calls.Load() != 0 {
			t.Error("a refused format ran on Go")
		}
	})
	t.Run("throttled", func(t *testing.T) {
		rust := newFakeRust()
		rust.setFail(busyDaemon)
		r, _ := newTestRouter(t, rust)
		const callers = 8
		n, kinds := spin(t, r, webp, callers)
		t.Logf("%d callers spinning for %v on a busy daemon: %d errors %v, %d reached the daemon (bound %d)",
			callers, span, n, kinds, rust.calls.Load(), callers*perCallerPerSecond)
		if n > callers*perCallerPerSecond {
			t.Errorf("%d errors in %v from %d callers", n, span, callers)
		}
	})
}

// Every failure says which path produced it and why, also after a fallback.
func TestErrorsCarryTheirPath(t *testing.T) {
	rust := newFakeRust()
	rust.setFail(func(context.Context) error { return fmt.Errorf("%w: EOF", ferry.ErrConnectionLost) })
	r, _ := newTestRouter(t, rust)
	// The daemon's connection breaks, and Go refuses the junk: the error is Go's, after a fallback.
	_, err := r.Resize(bg(t), ferry.ResizeRequest{Image: []byte("junk"), Width: 10})
	var re *Error
	if !errors.As(err, &re) || re.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}) || !errors.Is(err, ferry.ErrBadImage) {
		t.Errorf("after a fallback: %v (%#v)", err, re)
	}
	// A refusal by the daemon itself.
	rust.setFail(func(context.Context) error { return &ferry.ServerError{Code: ferry.CodeBadImage} })
	_, err = r.Resize(bg(t), ferry.ResizeRequest{Image: []byte("junk"), Width: 10})
	if !errors.As(err, &re) || re.Served != (ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}) || !ferry.IsInvalidInput(err) {
		t.Errorf("daemon refusal: %v", err)
	}
	// The kill switch.
	if err := r.SetPolicy(Policy{Mode: RouteGo}); err != nil {
		t.Fatal(err)
	}
	_, err = r.Resize(bg(t), ferry.ResizeRequest{Image: []byte("junk"), Width: 10})
	if !errors.As(err, &re) || re.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonKillSwitch}) || RetryAfter(err) != 0 {
		t.Errorf("kill switch: %v", err)
	}
}

// The kill switch and percentage mode's Go share honour WithFallbackFormat (a WebP asked for
// comes back as a JPEG, not as the Go path's lossless WebP); WithoutFallback does not refuse
// them (the operator chose Go); shadow mode compares like with like and converts nothing.
func TestPolicyToGoHonoursWithFallbackFormat(t *testing.T) {
	img := testimages.EncodePNG(t, testimages.Painted(64, 48))
	webp := ferry.ResizeRequest{Image: img, Width: 32, Format: ferry.FormatWebP}
	isJPEG := func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8}) }
	isWebP := func(b []byte) bool { return len(b) > 12 && string(b[8:12]) == "WEBP" }

	rust := newFakeRust()
	r, _ := newTestRouter(t, rust, WithPolicy(Policy{Mode: RouteGo}), WithFallbackFormat(ferry.FormatWebP, ferry.FormatJPEG))
	res, err := r.Resize(bg(t), webp)
	if err != nil || res.Format != ferry.FormatJPEG || !isJPEG(res.Image) || res.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonKillSwitch}) {
		t.Fatalf("kill switch: %v, %s %s", err, res.Format, res.Served)
	}
	if got := countsOf(t, r).fallbacks("resize", "kill_switch", actionConverted); got != 1 {
		t.Errorf("conversions under the kill switch counted %v", got)
	}
	if err := r.SetPolicy(Policy{Mode: RoutePercentage, RustPercent: 0}); err != nil {
		t.Fatal(err)
	}
	if res, err = r.Resize(bg(t), webp); err != nil || res.Format != ferry.FormatJPEG || res.Served.Reason != ReasonPercentage {
		t.Fatalf("percentage Go share: %v, %s %s", err, res.Format, res.Served)
	}
	if err := r.SetPolicy(Policy{Mode: RouteShadow, ShadowPrimary: ferry.PathGo}); err != nil {
		t.Fatal(err)
	}
	if res, err = r.Resize(bg(t), webp); err != nil || res.Format != ferry.FormatWebP || !isWebP(res.Image) {
		t.Fatalf("shadow with a Go primary converted: %v, %s", err, res.Format)
	}

	r2, g2 := newTestRouter(t, newFakeRust(), WithPolicy(Policy{Mode: RouteGo}), WithoutFallback(ferry.FormatWebP))
	if res, err = r2.Resize(bg(t), webp); err != nil || res.Format != ferry.FormatWebP || g2.calls.Load() != 1 {
		t.Fatalf("kill switch with WithoutFallback(webp): %v, want the Go path's WebP", err)
	}
}

// pingingRust is a fake daemon with Ping and, when hang is set, HangTimeout, as a
// *ferry.Client has: it records the deadline each ping got.
type pingingRust struct {
	*fakeRust
	hang     time.Duration
	mu       sync.Mutex
	pingDL   []time.Duration
	pingFail atomic.Bool
}

func (p *pingingRust) Ping(ctx context.Context) error {
	dl, _ := ctx.Deadline()
	p.mu.Lock()
	p.pingDL = append(p.pingDL, time.Until(dl))
	p.mu.Unlock()
	if p.pingFail.Load() {
		return ferry.ErrUnavailable
	}
	return nil
}

type hangReporting struct{ *pingingRust }

func (h hangReporting) HangTimeout() time.Duration { return h.hang }

// The probe that tests an open breaker's daemon is a ping in the background, bounded by the
// daemon Processor's own (adaptive) hang timeout when it reports one, by
// DefaultBreakerProbeTimeout when it does not, by BreakerConfig.ProbeTimeout when set; and no
// caller waits for it.
func TestProbeTimeoutAdapts(t *testing.T) {
	for _, c := range []struct {
		name     string
		hang     time.Duration // 0: no HangTimeout method
		probe    time.Duration // BreakerConfig.ProbeTimeout
		want     time.Duration
		pingFail bool
	}{
		{"hang timeout reported", 700 * time.Millisecond, 0, 700 * time.Millisecond, false},
		{"hang timeout below the floor", 20 * time.Millisecond, 0, MinBreakerProbeTimeout, false},
		{"no hang timeout", 0, 0, DefaultBreakerProbeTimeout, false},
		{"configured", 700 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr := &pingingRust{fakeRust: newFakeRust(), hang: c.hang}
			var rust ferry.Processor = pr
			if c.hang > 0 {
				rust = hangReporting{pr}
			}
			pr.setFail(func(context.Context) error { return ferry.ErrUnavailable })
			pr.pingFail.Store(c.pingFail)
			r, _ := newTestRouter(t, rust, WithBreaker(BreakerConfig{ConsecutiveFailures: 1, OpenFor: 20 * time.Millisecond, ProbeTimeout: c.probe}))
			mustChecksum(t, r, sumReq) // opens
			if r.BreakerState() != BreakerOpen {
				t.Fatalf("breaker %v", r.BreakerState())
			}
			time.Sleep(30 * time.Millisecond)
			start := time.Now()
			if s := mustChecksum(t, r, sumReq).Served; s.Reason != ReasonBreakerOpen {
				t.Fatalf("the call that starts the probe served %v", s)
			}
			if took := time.Since(start); took > 100*time.Millisecond {
				t.Errorf("the caller waited %v for the probe", took)
			}
			r.Close() // waits for the probe
			pr.mu.Lock()
			defer pr.mu.Unlock()
			if len(pr.pingDL) != 1 {
				t.Fatalf("%d pings", len(pr.pingDL))
			}
			if got := pr.pingDL[0]; got > c.want || got < c.want-50*time.Millisecond {
				t.Errorf("the probe's ping got %v, want %v", got, c.want)
			}
			want := BreakerHalfOpen
			if c.pingFail {
				want = BreakerOpen
			}
			if r.BreakerState() != want {
				t.Errorf("after the ping: breaker %v, want %v", r.BreakerState(), want)
			}
		})
	}
}

// With every default (the Client's included), a daemon restarted after a SIGKILL serves
// requests again within a second.
func TestRouterUsesARestartedDaemonWithinASecond(t *testing.T) {
	d := testdaemon.Start(t)
	c := testclient.Dial(t, d.Path())
	r, err := New(c, goproc.New(), WithLogger(quietLog), WithObserver(newCounts()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	call := func() ferry.Served {
		res, err := r.Checksum(bg(t), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Served
	}
	if s := call(); s.Path != ferry.PathRust {
		t.Fatalf("before the kill: %v", s)
	}
	d.Kill()
	for start := time.Now(); r.BreakerState() == BreakerClosed; time.Sleep(5 * time.Millisecond) {
		call()
		if time.Since(start) > 5*time.Second {
			t.Fatal("the breaker never opened")
		}
	}
	// Keep calling for a few cool-downs with the daemon dead, as a service would.
	for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(10 * time.Millisecond) {
		if s := call(); s.Path != ferry.PathGo {
			t.Fatalf("served %v by a dead daemon", s)
		}
	}
	// A service keeps calling while the daemon restarts.
	var firstRust atomic.Int64 // unix nanoseconds of the first call the daemon served again
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if call().Path == ferry.PathRust {
				firstRust.CompareAndSwap(0, time.Now().UnixNano())
			}
		}
	}()
	d.Restart()
	back := time.Now()
	for firstRust.Load() == 0 && time.Since(back) < 10*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	<-done
	if firstRust.Load() == 0 {
		t.Fatal("the daemon was not used again within 10 s of its restart")
	}
	took := time.Unix(0, firstRust.Load()).Sub(back)
	t.Logf("a restarted daemon served again %v after it answered its first ping (probes: %v failed, %v ok)",
		took.Round(time.Millisecond), countsOf(t, r).probes(false), countsOf(t, r).probes(true))
	// DefaultBreakerOpenFor plus the Client's DefaultMaxRedialBackoff bound it; one second is
	// the goal, and a loaded machine gets a quarter more.
	if took > 1250*time.Millisecond {
		t.Errorf("the restarted daemon was used again only after %v", took)
	}
}

// One broken connection fails every call that was on it at once: that is one failure, not as
// many failures in a row as there were calls. Connections that keep breaking still open the
// breaker.
func TestBreakerCountsABrokenConnectionOnce(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	b := newBreaker(BreakerConfig{ConsecutiveFailures: 3}, clock.now, nil, false)
	var inFlight []permit
	for range 20 {
		p, _ := b.allow()
		inFlight = append(inFlight, p)
	}
	for _, p := range inFlight {
		b.tell(p, judge(context.Background(), fmt.Errorf("%w: EOF", ferry.ErrConnectionLost)))
	}
	if b.State() != BreakerClosed {
		t.Fatal("20 calls of one broken connection opened the breaker")
	}
	for range 2 { // each call admitted after the last failure: three in a row
		p, _ := b.allow()
		b.tell(p, judge(context.Background(), fmt.Errorf("%w: EOF", ferry.ErrConnectionLost)))
	}
	if b.State() != BreakerOpen {
		t.Fatalf("three broken connections in a row: %v", b.State())
	}
	// Hangs count each: the Client declares them per connection, after its hang timeout.
	b2 := newBreaker(BreakerConfig{ConsecutiveFailures: 3}, clock.now, nil, false)
	inFlight = inFlight[:0]
	for range 3 {
		p, _ := b2.allow()
		inFlight = append(inFlight, p)
	}
	for _, p := range inFlight {
		b2.tell(p, judge(context.Background(), fmt.Errorf("%w: %w", ferry.ErrConnectionLost, ferry.ErrNotResponding)))
	}
	if b2.State() != BreakerOpen {
		t.Fatalf("three hung calls: %v", b2.State())
	}
}

// A call still waiting on the daemon when the breaker opens goes to Go at once, with the time
// it has left, instead of waiting out its deadline on a daemon judged broken.
func TestCallsWaitingWhenTheBreakerOpensMoveToGo(t *testing.T) {
	rust := newFakeRust()
	var n atomic.Int64
	waiting := make(chan struct{})
	rust.setFail(func(ctx context.Context) error {
		if n.Add(1) == 1 {
			close(waiting)
			return hang(ctx)
		}
		return ferry.ErrUnavailable
	})
	r, _ := newTestRouter(t, rust)
	type answer struct {
		res *ferry.ChecksumResult
		err error
		at  time.Duration
	}
	got := make(chan answer, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := r.Checksum(ctx, sumReq)
		got <- answer{res, err, time.Since(start)}
	}()
	<-waiting
	for range DefaultBreakerConsecutiveFailures {
		mustChecksum(t, r, sumReq)
	}
	if r.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %v", r.BreakerState())
	}
	a := <-got
	if a.err != nil || a.res.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonBreakerOpen}) || a.at > 5*time.Second {
		t.Fatalf("the waiting call: %v %+v after %v", a.err, a.res, a.at)
	}
}
