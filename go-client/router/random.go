package router

import (
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// randFloat returns a uniform float64 in [0, 1), from package ferry's lock-free generator (for
// unkeyed percentage routing and the throttle; math/rand would do, but this keeps its package
// out of a service's build: the dependency count of package router is watched).
func randFloat() float64 { return ferry.RandFloat() }

// jitter returns d scaled by a random factor in [0.5, 1.5), so callers told to retry after d
// do not all come back at once.
func jitter(d time.Duration) time.Duration { return ferry.Jitter(d) }
