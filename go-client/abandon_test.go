package ferry

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// One caller's deadline never breaks another's request (issue 21): many callers share the
// Client's connections, writing large payloads, while a quarter of them give up after a
// fraction of a millisecond, often in the middle of their own frame, and CPU-burning
// goroutines slow the writer down. Against the real daemon: no call ever fails with
// ErrConnectionLost, the patient callers all succeed (or hear busy, which is backpressure), and
// the impatient ones get their own deadline.
func TestAbandonedWritesKeepTheConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a few seconds under CPU burners")
	}
	_, c := startClient(t)
	stopBurn := burnCPU(runtime.GOMAXPROCS(0))
	defer stopBurn()

	const callers = 64
	// Both sizes are written from the caller's slice, one step at a time; the impatient
	// callers' frames take long enough to write that their deadlines often end in the middle.
	big, small := make([]byte, 24<<20), make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i % 251)
	}
	copy(small, big)
	var ok, busy, ownDeadline, lost, other atomic.Int64
	var firstOther, firstLost atomic.Value
	// At least 3 s, and until enough calls were abandoned mid-frame to have tested that (10 s at most).
	start := time.Now()
	running := func() bool {
		took := time.Since(start)
		return took < 3*time.Second || (took < 10*time.Second && c.detached.Load() < 5)
	}
	var wg sync.WaitGroup
	for i := range callers {
		impatient := i%4 == 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			for running() {
				budget, data := 10*time.Second, small
				if impatient {
					data = big
					budget = time.Duration(200+rand.IntN(20000)) * time.Microsecond
				}
				ctx, cancel := context.WithTimeout(context.Background(), budget)
				_, err := c.Checksum(ctx, ChecksumRequest{Data: data, Algorithms: []Algorithm{CRC32C}})
				cancel()
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrConnectionLost):
					lost.Add(1)
					firstLost.CompareAndSwap(nil, err)
				case errors.Is(err, ErrBusy):
					busy.Add(1)
				case impatient && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDeadlineExceeded)):
					ownDeadline.Add(1)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d callers (%d impatient), %.1f s: %d ok, %d busy, %d own deadline, %d abandoned mid-write, %d ErrConnectionLost, %d other",
		callers, callers/4, time.Since(start).Seconds(), ok.Load(), busy.Load(), ownDeadline.Load(), c.detached.Load(), lost.Load(), other.Load())
	if lost.Load() != 0 {
		t.Errorf("%d calls failed with ErrConnectionLost, first: %v", lost.Load(), firstLost.Load())
	}
	if other.Load() != 0 {
		t.Errorf("%d calls failed otherwise, first: %v", other.Load(), firstOther.Load())
	}
	if ok.Load() == 0 || ownDeadline.Load() == 0 {
		t.Errorf("the mix did not happen: %d ok, %d own deadline", ok.Load(), ownDeadline.Load())
	}
	if c.detached.Load() == 0 {
		t.Errorf("no call was abandoned in the middle of its frame: the test did not test that")
	}
}

// burnCPU starts n goroutines that spin until the returned function is called.
func burnCPU(n int) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(1)
			for !done.Load() {
				for range 1000 {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
			_ = x
		}()
	}
	return func() { done.Store(true); wg.Wait() }
}
