package ferry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// fakeClock is a settable time source for the throttle's window.
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
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withThrottleClock sets the Client throttle's clock.
func withThrottleClock(now func() time.Time) Option {
	return func(c *config) { c.throttleNow = now }
}

// The throttle, by its formula: refusal probability max(0, (requests - K*accepts) / (requests+1))
// over the window, released as accepts come back and as old counts leave the window.
func TestThrottleFormula(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	th := NewThrottle(ThrottleConfig{Window: 12 * time.Second}, clock.now, nil)
	for range 10 {
		th.Done(true)
	}
	for range 10 {
		th.Done(false)
	}
	// 20 requests, 10 accepts: 20 - 2*10 = 0
	if p := th.Probability(); p != 0 {
		t.Errorf("20 requests, 10 accepts: p = %v, want 0", p)
	}
	for range 20 {
		th.Done(false)
	}
	// 40 requests, 10 accepts: (40-20)/41
	if p, want := th.Probability(), 20.0/41; p != want {
		t.Errorf("40 requests, 10 accepts: p = %v, want %v", p, want)
	}
	for range 1000 {
		th.Done(false)
	}
	if p := th.Probability(); p != DefaultThrottleMaxReject {
		t.Errorf("1040 requests, 10 accepts: p = %v, want the cap %v", p, DefaultThrottleMaxReject)
	}
	clock.advance(13 * time.Second)
	if p := th.Probability(); p != 0 {
		t.Errorf("after the window: p = %v", p)
	}
	off := NewThrottle(ThrottleConfig{K: -1}, clock.now, nil)
	for range 100 {
		off.Done(false)
	}
	if ok, _ := off.Admit(); !ok {
		t.Error("a throttle with K < 0 refused")
	}
}

// busyFake is a fake daemon that answers checksum busy while busy is set, and counts the
// checksum requests that reached it.
func busyFake(t *testing.T) (s *fakeServer, busy *atomic.Bool, jobs *atomic.Int64) {
	busy, jobs = new(atomic.Bool), new(atomic.Int64)
	s = newFakeServer(t, func(fc *fakeConn, req wire.Request) {
		if req.Op != wire.OpChecksum {
			defaultHandle(fc, req)
			return
		}
		jobs.Add(1)
		if busy.Load() {
			fc.reply(req.Op, &wire.Reply{ID: req.ID, Code: uint64(CodeBusy), Message: "queue full"})
			return
		}
		fc.reply(req.Op, checksumReply(req))
	})
	return s, busy, jobs
}

var throttleSum = ChecksumRequest{Data: make([]byte, 100<<10), Algorithms: []Algorithm{CRC32C}}

// Against a daemon that answers busy, the Client's throttle engages: the daemon is sent a
// small share of the requests, the rest refused locally (ErrThrottled, matching ErrBusy, safe to
// retry, with a hint); once the daemon accepts again the throttle releases.
func TestClientThrottleEngagesAndReleases(t *testing.T) {
	s, busy, jobs := busyFake(t)
	busy.Store(true)
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	c := dialFake(t, s, withThrottleClock(clock.now), WithThrottleHold(time.Millisecond))
	const n = 400
	throttled := 0
	for range n {
		_, err := c.Checksum(testCtx(t), throttleSum)
		if !errors.Is(err, ErrBusy) || !SafeToRetry(err) {
			t.Fatalf("busy daemon: %v (busy %v, safe to retry %v)", err, errors.Is(err, ErrBusy), SafeToRetry(err))
		}
		if errors.Is(err, ErrThrottled) {
			throttled++
			var se *ServerError
			if RetryAfter(err) <= 0 || !errors.As(err, &se) || se.Code != CodeBusy {
				t.Fatalf("throttle refusal without a hint or a busy code: %v", err)
			}
		}
	}
	sent := jobs.Load()
	t.Logf("busy daemon: %d of %d requests sent, %d throttled, p = %.2f", sent, n, throttled, c.Throttle().Probability())
	if throttled == 0 || sent > n/4 || c.Throttle().Probability() != DefaultThrottleMaxReject {
		t.Errorf("the throttle did not engage: %d of %d sent, p %.2f", sent, n, c.Throttle().Probability())
	}
	if int64(throttled)+sent != n {
		t.Errorf("%d throttled + %d sent != %d", throttled, sent, n)
	}
	// Ping and stats are never held back.
	if err := c.Ping(testCtx(t)); err != nil {
		t.Errorf("ping while throttled: %v", err)
	}
	busy.Store(false)
	released := false
	for range 60 {
		clock.advance(time.Second)
		for range 20 {
			_, _ = c.Checksum(testCtx(t), throttleSum)
		}
		if c.Throttle().Probability() == 0 {
			released = true
			break
		}
	}
	if !released {
		t.Fatalf("the throttle did not release within 60 s of accepts: p %.2f", c.Throttle().Probability())
	}
	before := jobs.Load()
	for range 100 {
		if _, err := c.Checksum(testCtx(t), throttleSum); err != nil {
			t.Fatalf("after the release: %v", err)
		}
	}
	if jobs.Load()-before != 100 {
		t.Error("requests still held back after the release")
	}
}

// WithThrottle(-1) turns the throttle off: every request reaches the daemon.
func TestClientThrottleOff(t *testing.T) {
	s, busy, jobs := busyFake(t)
	busy.Store(true)
	c := dialFake(t, s, WithThrottle(-1))
	if c.Throttle() != nil {
		t.Fatal("Throttle() not nil with the throttle off")
	}
	for range 100 {
		if _, err := c.Checksum(testCtx(t), throttleSum); errors.Is(err, ErrThrottled) || !errors.Is(err, ErrBusy) {
			t.Fatalf("throttle off: %v", err)
		}
	}
	if jobs.Load() != 100 {
		t.Errorf("%d of 100 requests sent with the throttle off", jobs.Load())
	}
}

// A caller that retries at once cannot spin on local refusals: each is held about
// DefaultThrottleHold, so 8 spinning callers get some tens of errors a second each, not
// millions; and the hold never outlasts the caller's context.
func TestClientThrottleNoSpin(t *testing.T) {
	s, busy, jobs := busyFake(t)
	busy.Store(true)
	c := dialFake(t, s)
	const callers, span = 8, time.Second
	var errs, local atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < span {
				_, err := c.Checksum(context.Background(), throttleSum)
				if !errors.Is(err, ErrBusy) {
					t.Errorf("busy daemon: %v", err)
					return
				}
				errs.Add(1)
				if errors.Is(err, ErrThrottled) {
					local.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// A refusal is held at least DefaultThrottleHold/2; each busy answer costs a round trip.
	bound := int64(callers) * (int64(2*span/DefaultThrottleHold) + int64(jobs.Load()/callers) + 10)
	t.Logf("%d callers spinning for %v: %d errors, %d refused locally, %d reached the daemon (bound %d)",
		callers, span, errs.Load(), local.Load(), jobs.Load(), bound)
	if local.Load() == 0 {
		t.Error("the throttle never refused")
	}
	if local.Load() > int64(callers)*(int64(2*span/DefaultThrottleHold)+10) {
		t.Errorf("%d local refusals in %v from %d callers: they spin", local.Load(), span, callers)
	}

	// The hold ends with the caller's context.
	held := dialFake(t, s, WithThrottleHold(time.Hour))
	for range 1000 {
		held.Throttle().Done(false)
	}
	for range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		t0 := time.Now()
		_, err := held.Checksum(ctx, throttleSum)
		cancel()
		if took := time.Since(t0); took > 5*time.Second {
			t.Fatalf("a refusal held %v past a 20 ms context", took)
		}
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("held refusal: %v", err)
		}
	}
}
