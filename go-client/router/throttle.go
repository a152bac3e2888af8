package router

import ferry "github.com/ferryd/ferry/go-client"

// Defaults of ThrottleConfig: the same as the plain Client's (package ferry), whose Throttle
// type the Router runs.
const (
	// DefaultThrottleK: see ferry.DefaultThrottleK.
	DefaultThrottleK = ferry.DefaultThrottleK
	// DefaultThrottleWindow: see ferry.DefaultThrottleWindow.
	DefaultThrottleWindow = ferry.DefaultThrottleWindow
	// DefaultThrottleMaxReject: see ferry.DefaultThrottleMaxReject.
	DefaultThrottleMaxReject = ferry.DefaultThrottleMaxReject
)

// ThrottleConfig tunes the Router's client-side throttle (ferry.ThrottleConfig; zero fields
// take their defaults, a negative K turns it off).
type ThrottleConfig = ferry.ThrottleConfig

// clientThrottle is a daemon Processor that throttles itself: a *ferry.Client, unless it was
// dialed with ferry.WithThrottle(k < 0) (then Throttle returns nil). In front of one, the
// Router keeps its own throttle off, so requests are not throttled twice, and handles the
// client's local refusals (ferry.ErrThrottled, which matches ferry.ErrBusy) as its own.
type clientThrottle interface{ Throttle() *ferry.Throttle }

// selfThrottled returns the throttle of a daemon Processor that throttles itself, else nil.
func selfThrottled(rust ferry.Processor) *ferry.Throttle {
	if ct, ok := rust.(clientThrottle); ok {
		return ct.Throttle()
	}
	return nil
}
