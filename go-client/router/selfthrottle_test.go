package router

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// selfThrottledRust is a daemon side that throttles itself, as a *ferry.Client does: it has a
// Throttle, and refuses locally with an error matching ferry.ErrThrottled and ferry.ErrBusy
// that carries a retry hint.
type selfThrottledRust struct {
	*fakeRust
	th      *ferry.Throttle
	entries atomic.Int64 // calls from the router, refused or not
}

type localRefusal struct{}

func (localRefusal) Error() string                     { return "test: throttled locally" }
func (localRefusal) Unwrap() []error                   { return []error{ferry.ErrThrottled, ferry.ErrBusy} }
func (localRefusal) RetryAfter() time.Duration         { return 42 * time.Millisecond }
func (s *selfThrottledRust) Throttle() *ferry.Throttle { return s.th }

func (s *selfThrottledRust) Checksum(ctx context.Context, req ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	s.entries.Add(1)
	if ok, _ := s.th.Admit(); !ok {
		return nil, localRefusal{}
	}
	res, err := s.fakeRust.Checksum(ctx, req)
	s.th.Done(!errors.Is(err, ferry.ErrBusy))
	return res, err
}

// In front of a client that throttles itself, the Router's own throttle stays off (every
// request reaches the client: nothing is throttled twice), and the client's local refusals are
// the Router's throttle refusals: {rust, throttled}, ErrOverloaded, ErrThrottled, ferry.ErrBusy,
// with the client's hint; with WithBusyFallback they go to Go.
func TestSelfThrottledClientIsNotThrottledTwice(t *testing.T) {
	for _, busyFallback := range []bool{false, true} {
		rust := &selfThrottledRust{fakeRust: newFakeRust(), th: ferry.NewThrottle(ThrottleConfig{}, nil, nil)}
		rust.setFail(busyDaemon)
		opts := []Option{}
		if busyFallback {
			opts = append(opts, WithBusyFallback())
		}
		r, g := newTestRouter(t, rust, opts...)
		const n = 400
		local := 0
		for range n {
			_, err := r.Checksum(bg(t), sumReq)
			if busyFallback {
				if err != nil {
					t.Fatalf("busy fallback: %v", err)
				}
				continue
			}
			if !errors.Is(err, ferry.ErrBusy) || !errors.Is(err, ErrOverloaded) {
				t.Fatalf("busy daemon: %v", err)
			}
			var re *Error
			if errors.Is(err, ferry.ErrThrottled) {
				local++
				if !errors.Is(err, ErrThrottled) || !errors.As(err, &re) ||
					re.Served != (ferry.Served{Path: ferry.PathRust, Reason: ReasonThrottled}) || RetryAfter(err) != 42*time.Millisecond {
					t.Fatalf("client refusal through the router: %v (%+v, hint %v)", err, re, RetryAfter(err))
				}
			}
		}
		m := r.cfg.observer.(*counts)
		t.Logf("busy fallback %v: %d local refusals, %d reached the daemon, %d on Go, p %.2f, %v throttled",
			busyFallback, local, rust.calls.Load(), g.calls.Load(), r.ThrottleProbability(), m.throttled("checksum"))
		if p := r.ThrottleProbability(); p != rust.th.Probability() || p == 0 {
			t.Errorf("router's probability %v, the client's %v", p, rust.th.Probability())
		}
		if r.BreakerState() != BreakerClosed {
			t.Errorf("breaker %v", r.BreakerState())
		}
		if rust.entries.Load() != n {
			t.Errorf("%d of %d requests reached the client: the router throttled too", rust.entries.Load(), n)
		}
		throttled := int64(m.throttled("checksum"))
		if throttled == 0 || throttled+rust.calls.Load() != n {
			t.Errorf("%d throttled + %d reached the daemon != %d: the router throttled too", throttled, rust.calls.Load(), n)
		}
		if busyFallback && g.calls.Load() != n {
			t.Errorf("%d of %d served on Go", g.calls.Load(), n)
		}
		if !busyFallback && int64(local) != throttled {
			t.Errorf("%d local refusals returned, %d observed", local, throttled)
		}
	}
}
