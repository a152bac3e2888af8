package ferry

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// The adaptive hang timeout (rttEstimator): the floor while pings are fast, a rise with slow or
// varying ones, the ceiling at most, and back to the floor once the load is gone.
func TestHangTimeoutAdaptsToPingRoundTrips(t *testing.T) {
	e := newRTTEstimator(DefaultHangTimeout)
	if got := e.timeout(); got != DefaultHangTimeout {
		t.Fatalf("before any sample: %v, want the floor %v", got, DefaultHangTimeout)
	}
	for range 50 {
		e.sample(100 * time.Microsecond)
	}
	if got := e.timeout(); got != DefaultHangTimeout {
		t.Errorf("fast pings: %v, want the floor %v", got, DefaultHangTimeout)
	}
	for i := range 50 {
		e.sample(time.Duration(20+280*(i%2)) * time.Millisecond) // 20 ms, 300 ms, ...
	}
	loaded := e.timeout()
	if loaded <= 600*time.Millisecond || loaded >= DefaultMaxHangTimeout {
		t.Errorf("pings of 20 and 300 ms: %v, want over twice the slow ping and under the ceiling", loaded)
	}
	for range 50 {
		e.sample(20 * time.Second)
	}
	if got := e.timeout(); got != DefaultMaxHangTimeout {
		t.Errorf("pings of 20 s: %v, want the ceiling %v", got, DefaultMaxHangTimeout)
	}
	for range 100 {
		e.sample(100 * time.Microsecond)
	}
	if got := e.timeout(); got != DefaultHangTimeout {
		t.Errorf("fast pings again: %v, want the floor %v", got, DefaultHangTimeout)
	}
	if got := e.failAfter(); got != 2*DefaultHangTimeout {
		t.Errorf("fails after %v of silence, want twice the timeout", got)
	}
	for range 50 {
		e.sample(20 * time.Second)
	}
	if got := e.failAfter(); got != DefaultMaxHangTimeout {
		t.Errorf("slow pings: fails after %v of silence, want the ceiling %v", got, DefaultMaxHangTimeout)
	}
	if big := newRTTEstimator(10 * time.Second); big.ceiling != 20*time.Second || big.failAfter() != 20*time.Second {
		t.Errorf("a floor over half DefaultMaxHangTimeout: ceiling %v, fails after %v; want twice the floor", big.ceiling, big.failAfter())
	}
}

// A failure detector that does not cry wolf (issue 21): a healthy daemon on a loaded host, with
// CPU-burning goroutines beside the callers and, where a cgroup cpu controller is writable, the
// daemon under a CPU quota of half a core, never yields ErrNotResponding; a stopped daemon is
// still detected, within the adaptive timeout.
func TestNoFalseHangUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for several seconds under CPU burners")
	}
	for _, quota := range []bool{false, true} {
		name := "busy loops"
		if quota {
			name = "busy loops and half a core"
		}
		t.Run(name, func(t *testing.T) {
			d, c := startClient(t)
			if quota {
				what, err := d.LimitCPU(0.5)
				if err != nil {
					t.Skipf("SKIPPING the CPU quota case: %v (run as root on a host with a cgroup cpu controller)", err)
				}
				t.Log(what)
			}
			photos := testimages.Photos(t)
			stopBurn := burnCPU(runtime.GOMAXPROCS(0) * 2)
			defer stopBurn()

			var ok, busy, deadline, notResponding, other atomic.Int64
			var firstBad atomic.Value
			end := time.Now().Add(4 * time.Second)
			var wg sync.WaitGroup
			for i := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := i; time.Now().Before(end); n++ {
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						_, err := c.Resize(ctx, ResizeRequest{Image: photos[n%len(photos)].Data,
							Outputs: []OutputSpec{{Width: 300}, {Width: 150}, {Width: 64, Format: FormatWebP}}})
						cancel()
						switch {
						case err == nil:
							ok.Add(1)
						case errors.Is(err, ErrNotResponding):
							notResponding.Add(1)
							firstBad.CompareAndSwap(nil, err)
						case errors.Is(err, ErrBusy):
							busy.Add(1)
						case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrDeadlineExceeded):
							deadline.Add(1)
						default:
							other.Add(1)
							firstBad.CompareAndSwap(nil, err)
						}
					}
				}()
			}
			wg.Wait()
			t.Logf("32 callers, 3 outputs each, 4 s: %d ok, %d busy, %d deadline, %d ErrNotResponding, %d other; hang timeout now %v",
				ok.Load(), busy.Load(), deadline.Load(), notResponding.Load(), other.Load(), c.HangTimeout())
			if notResponding.Load() != 0 || other.Load() != 0 {
				t.Errorf("%d ErrNotResponding and %d other failures from a healthy daemon, first: %v",
					notResponding.Load(), other.Load(), firstBad.Load())
			}
			if ok.Load() == 0 {
				t.Errorf("nothing was served")
			}

			// Still under load, a stopped daemon is detected within the timeout in force.
			limit := c.HangTimeout()
			d.Stop()
			defer d.Cont()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.Resize(ctx, ResizeRequest{Image: photos[0].Data, Width: 64})
			took := time.Since(start)
			t.Logf("stopped daemon: %v after %v (hang timeout when stopped %v)", err, took.Round(time.Millisecond), limit)
			if !errors.Is(err, ErrNotResponding) {
				t.Fatalf("stopped daemon: %v, want ErrNotResponding", err)
			}
			// The silence that fails a connection, plus one watch tick, plus scheduling.
			hangAfter := max(limit, c.HangTimeout())
			if bound := min(2*hangAfter, DefaultMaxHangTimeout) + hangAfter/watchTicks + time.Second; took > bound {
				t.Errorf("stopped daemon detected after %v, over %v", took, bound)
			}
		})
	}
}
