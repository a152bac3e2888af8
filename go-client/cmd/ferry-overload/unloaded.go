//go:build linux

package main

import (
	"context"
	"fmt"
	"time"
)

// unloadedRuns is how many thumbnails of each photo one caller makes, one at a time, to measure
// the unloaded time (after unloadedWarmup unmeasured ones).
const (
	unloadedRuns   = 15
	unloadedWarmup = 3
)

// unloaded is each photo's p50 thumbnail time through the plain client with nothing else
// running: the base of the accepted-latency bar.
type unloaded struct {
	PerPhoto map[string]time.Duration
	// Slowest is the largest of PerPhoto, the figure the bar uses for every request.
	Slowest time.Duration
}

func measureUnloaded(d *daemon, photos []photo) (*unloaded, error) {
	s, err := dialPlain(d.socket)
	if err != nil {
		return nil, err
	}
	defer s.close()
	u := &unloaded{PerPhoto: map[string]time.Duration{}}
	for _, p := range photos {
		var ds []time.Duration
		for i := range unloadedWarmup + unloadedRuns {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			_, err := s.proc.Resize(ctx, thumbnail(p))
			took := time.Since(start)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("unloaded thumbnail of %s: %w", p.name, err)
			}
			if i >= unloadedWarmup {
				ds = append(ds, took)
			}
		}
		u.PerPhoto[p.name] = percentile(ds, 50)
		u.Slowest = max(u.Slowest, u.PerPhoto[p.name])
	}
	return u, nil
}
