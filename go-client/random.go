package ferry

import (
	"sync/atomic"
	"time"
)

// randState is a SplitMix64 generator's state, advanced atomically, for the throttle's
// refusals and their jittered hold; math/rand would do, but this keeps its package out of a
// service's build (the dependency count of package router is watched).
var randState atomic.Uint64

func init() { randState.Store(uint64(time.Now().UnixNano())) }

// randFloat returns a uniform float64 in [0, 1).
func randFloat() float64 {
	z := randState.Add(0x9E3779B97F4A7C15)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// Jitter returns d scaled by a random factor in [0.5, 1.5), so callers told to retry after d
// do not all come back at once.
func Jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.5 + randFloat()))
}

// RandFloat returns a uniform float64 in [0, 1) from the package's lock-free generator (for
// package router's percentage routing, without math/rand in a service's build).
func RandFloat() float64 { return randFloat() }
