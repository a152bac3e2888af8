package main

import (
	"math"
	"slices"
	"time"
)

// dist summarises a set of latencies in milliseconds.
type dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// summarise sorts d and returns its percentiles (nearest rank).
func summarise(d []time.Duration) dist {
	if len(d) == 0 {
		return dist{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.5) - 1
		i = min(max(i, 0), len(d)-1)
		return ms(d[i])
	}
	return dist{N: len(d), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(d[len(d)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// pairedRatio is the median of a[i]/b[i] over the passes i in which both ran. Calls of one pass
// run back to back, so a noisy machine's drift and the cache state a pass starts from are on
// both sides of each pair; a ratio of two medians has neither advantage, and when the times are
// bimodal (a 1 MiB buffer in or out of L2) it swings by the share of each mode in each sample.
func pairedRatio(a, b []time.Duration) float64 {
	n := min(len(a), len(b))
	if n == 0 {
		return 0
	}
	ratios := make([]float64, n)
	for i := range n {
		ratios[i] = float64(a[i]) / float64(max(b[i], 1))
	}
	return median(ratios)
}

// abbaRatio is the median, over pairs of passes (0 and 1, 2 and 3, ...), of the geometric mean
// of a[i]/b[i] over the pair: a and b ran back to back in opposite orders in the two passes of
// a pair, so the cost of going first or second is on both sides once.
func abbaRatio(a, b []time.Duration) float64 {
	n := min(len(a), len(b)) / 2
	if n == 0 {
		return pairedRatio(a, b)
	}
	ratios := make([]float64, n)
	for k := range n {
		r0 := float64(a[2*k]) / float64(max(b[2*k], 1))
		r1 := float64(a[2*k+1]) / float64(max(b[2*k+1], 1))
		ratios[k] = math.Sqrt(r0 * r1)
	}
	return median(ratios)
}

// median of xs, which it sorts.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
