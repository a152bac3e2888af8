package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// memoryResults is the daemon's resident memory around a burst of large thumbnails.
type memoryResults struct {
	Photo     string  `json:"photo"`
	MP        float64 `json:"megapixels"`
	Burst     int     `json:"burst"`
	OK        int64   `json:"ok"`
	Busy      int64   `json:"busy"` // answered busy at once (not retried here)
	IdleKiB   int64   `json:"idle_kib"`
	PeakKiB   int64   `json:"peak_kib"`
	PeakExact bool    `json:"peak_exact"` // VmHWM after clear_refs; else the highest VmRSS sampled
	AfterKiB  int64   `json:"after_kib"`  // resident 3 s after the burst
	Seconds   float64 `json:"seconds"`
}

// benchMemory sends p.burst concurrent thumbnails of the largest photo at once, without retrying
// busy answers: what the queue bound does not admit must be refused, not buffered.
func benchMemory(ctx context.Context, d *daemon, photos []photo, p plan) (memoryResults, error) {
	big := largest(photos)
	res := memoryResults{Photo: big.Name, MP: big.megapixels(), Burst: p.burst}
	time.Sleep(time.Second) // let the daemon's idle trim run after the previous phases
	res.IdleKiB = d.rssKiB("VmRSS")
	res.PeakExact = d.resetPeak()

	var sampled atomic.Int64
	stop := make(chan struct{})
	sampler := sync.WaitGroup{}
	spawn(&sampler, func() {
		for {
			if kib := d.rssKiB("VmRSS"); kib > sampled.Load() {
				sampled.Store(kib)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	req := thumbRequest(big)
	var ok, busy atomic.Int64
	var firstErr error
	var once sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range p.burst {
		spawn(&wg, func() {
			_, err := d.client.Resize(ctx, req)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ferry.ErrBusy):
				busy.Add(1)
			default:
				once.Do(func() { firstErr = err })
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	close(stop)
	sampler.Wait()
	res.OK, res.Busy = ok.Load(), busy.Load()
	if res.PeakExact {
		res.PeakKiB = d.rssKiB("VmHWM")
	} else {
		res.PeakKiB = sampled.Load()
	}
	time.Sleep(3 * time.Second)
	res.AfterKiB = d.rssKiB("VmRSS")
	return res, firstErr
}
