package router

import (
	"context"
	"errors"
	"runtime"
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

// The daemon saturated (one worker, a queue of two) under a flood of 48 callers: the daemon
// answers busy, and every call returns, with a thumbnail or with ErrOverloaded, within a bounded
// time; no call hangs. By default the busy answers are the callers' (the Go path never runs and
// the breaker stays closed); with WithBusyFallback the Go path takes some, at most its limit of
// jobs at once, and no Go work piles up.
func TestRouterOverloadAgainstASaturatedDaemon(t *testing.T) {
	d := testdaemon.Start(t, "--workers", "1", "--queue-jobs", "2")
	c := testclient.Dial(t, d.Path())
	t.Run("default", func(t *testing.T) { overloadRun(t, c, false) })
	t.Run("busy fallback", func(t *testing.T) { overloadRun(t, c, true) })
}

func overloadRun(t *testing.T, c *ferry.Client, busyFallback bool) {
	const goSlots = 2
	g := goproc.New(goproc.WithConcurrency(goSlots), goproc.WithQueueWait(20*time.Millisecond))
	opts := []Option{WithLogger(quietLog), WithObserver(newCounts())}
	if busyFallback {
		opts = append(opts, WithBusyFallback())
	}
	r, err := New(c, g, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img := testimages.EncodePNG(t, testimages.Painted(1200, 800))
	req := ferry.ResizeRequest{Image: img, Width: 300, Format: ferry.FormatPNG}
	if _, err := r.Resize(bg(t), req); err != nil {
		t.Fatal(err)
	}

	baseline := runtime.NumGoroutine()
	var peakGo, peakGoroutines atomic.Int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(g.Running()); n > peakGo.Load() {
				peakGo.Store(n)
			}
			if n := int64(runtime.NumGoroutine()); n > peakGoroutines.Load() {
				peakGoroutines.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()

	const callers, perCaller = 48, 6
	const deadline = 5 * time.Second
	var mu sync.Mutex
	served := map[ferry.Served]int{}
	overloaded, slowest := 0, time.Duration(0)
	var failures []error
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perCaller {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				start := time.Now()
				res, err := r.Resize(ctx, req)
				took := time.Since(start)
				cancel()
				mu.Lock()
				slowest = max(slowest, took)
				switch {
				case err == nil && res.Width == 300:
					served[res.Served]++
				case errors.Is(err, ErrOverloaded) && ferry.SafeToRetry(err):
					overloaded++
				default:
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	t.Logf("%d calls: served %v, overloaded %d, slowest %v; Go jobs at once at most %d (limit %d); goroutines %d at rest, at most %d under load",
		callers*perCaller, served, overloaded, slowest.Round(time.Millisecond), peakGo.Load(), goSlots, baseline, peakGoroutines.Load())
	for _, err := range failures[:min(len(failures), 5)] {
		t.Errorf("neither a thumbnail nor ErrOverloaded: %v", err)
	}
	if peakGo.Load() > goSlots {
		t.Errorf("%d Go jobs ran at once, limit %d", peakGo.Load(), goSlots)
	}
	// Each caller's goroutine, at most one job goroutine per Go slot, and the Client's own few.
	if limit := int64(baseline + callers + goSlots + 16); peakGoroutines.Load() > limit {
		t.Errorf("%d goroutines under load, want at most %d", peakGoroutines.Load(), limit)
	}
	if overloaded == 0 {
		t.Error("48 callers against 1 worker and 2 Go slots were never overloaded")
	}
	if r.BreakerState() != BreakerClosed || countsOf(t, r).breakerChanges("open") != 0 {
		t.Errorf("busy answers opened the breaker")
	}
	// No call waits on anything unbounded: the caller's deadline, then at most the Go queue wait
	// and one job.
	if slowest > deadline+time.Second {
		t.Errorf("slowest call took %v", slowest)
	}
	m := countsOf(t, r)
	refused := m.requests("resize", "rust", "policy", "busy") + m.requests("resize", "rust", "throttled", "throttled") +
		m.requests("resize", "go", "fallback", "overloaded")
	if int(refused) != overloaded {
		t.Errorf("busy, throttled and overloaded requests counted %v, want %d", refused, overloaded)
	}
	if !busyFallback {
		if len(served) != 1 || served[ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}] == 0 || peakGo.Load() != 0 {
			t.Errorf("want the daemon alone serving, got %v and %d Go jobs at once", served, peakGo.Load())
		}
		return
	}
	if served[ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}] == 0 || served[ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}] == 0 {
		t.Errorf("want both paths serving, got %v", served)
	}
}
