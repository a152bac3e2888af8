package goproc

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// More callers than job slots: never more jobs run than slots, a caller that finds them all
// taken for the queue wait gets ErrSaturated (busy, safe to retry), and the others are served.
func TestGoConcurrencyIsBounded(t *testing.T) {
	p := New(WithConcurrency(2), WithQueueWait(30*time.Millisecond))
	img := testimages.EncodePNG(t, testimages.Painted(1200, 800))
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(p.Running()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	var served, saturated, other atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 300})
			switch {
			case err == nil:
				served.Add(1)
			case errors.Is(err, ErrSaturated) && errors.Is(err, ferry.ErrBusy) && ferry.SafeToRetry(err):
				saturated.Add(1)
			default:
				other.Add(1)
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	t.Logf("16 callers, 2 slots, 30ms queue wait: %d served, %d saturated, peak running %d",
		served.Load(), saturated.Load(), peak.Load())
	if peak.Load() > 2 {
		t.Errorf("%d jobs ran at once with 2 slots", peak.Load())
	}
	if served.Load() < 2 || saturated.Load() == 0 {
		t.Errorf("want some served and some saturated, got %d and %d", served.Load(), saturated.Load())
	}
	if p.Running() != 0 {
		t.Errorf("%d slots still taken after every call returned", p.Running())
	}
}

// A caller whose context ends returns at once; its job keeps its slot until it stops at the
// next stage check, so abandoned work still counts against the limit, and then frees it.
func TestGoAbandonedJobHoldsItsSlotUntilItStops(t *testing.T) {
	p := New(WithConcurrency(1), WithQueueWait(-1))
	img := testimages.EncodePNG(t, testimages.Painted(3000, 2000))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Resize(ctx, ferry.ResizeRequest{Image: img, Width: 100})
	returned := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if returned > 100*time.Millisecond {
		t.Errorf("returned after %v with a 5ms deadline", returned)
	}
	// The abandoned decode still holds the only slot: a second call is refused without waiting.
	if _, err := p.Checksum(bg(t), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: []ferry.Algorithm{ferry.CRC32C}}); p.Running() == 1 && !errors.Is(err, ErrSaturated) {
		t.Errorf("with the slot held: %v, want ErrSaturated", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Running() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned job never gave its slot back")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("caller returned after %v; the abandoned job freed its slot after %v", returned, time.Since(start))
	if _, err := p.Checksum(bg(t), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: []ferry.Algorithm{ferry.CRC32C}}); err != nil {
		t.Fatalf("after the slot was freed: %v", err)
	}
}

// The WebAssembly codecs run one module instance per call: calls in parallel give the same bytes
// as one call alone, and never more run than the job slots.
func TestGoWASMCodecsInParallelWithinTheSlots(t *testing.T) {
	p := New(WithConcurrency(3), WithQueueWait(time.Minute))
	img := testimages.EncodePNG(t, testimages.Painted(600, 400))
	want := map[ferry.Format][]byte{}
	for _, f := range []ferry.Format{ferry.FormatWebP, ferry.FormatAVIF} {
		res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 200, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		want[f] = res.Image
	}
	var peak atomic.Int64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(p.Running()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range 12 {
		f := []ferry.Format{ferry.FormatWebP, ferry.FormatAVIF}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 200, Format: f})
			if err != nil {
				t.Errorf("%s: %v", f, err)
				return
			}
			if !bytes.Equal(res.Image, want[f]) {
				t.Errorf("%s: %d bytes in parallel, %d alone: not the same output", f, len(res.Image), len(want[f]))
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	if peak.Load() > 3 {
		t.Errorf("%d jobs ran at once with 3 slots", peak.Load())
	}
	t.Logf("12 WebP and AVIF encodes, 3 slots: peak running %d, outputs identical to one call alone", peak.Load())
}
