package router

import (
	"errors"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// DefaultRetryAfter is the retry hint (Error.RetryAfter, jittered by half either way) of a busy
// answer, a throttle refusal and an overloaded Go path, and how long the Router holds a call it
// refuses without calling either path (a throttle refusal) before returning it, at most until
// the caller's deadline: a caller that retries at once cannot spin.
const DefaultRetryAfter = 50 * time.Millisecond

// ErrOverloaded: no path could take the request now, and nothing ran. It wraps its cause: the
// daemon's busy answer (a *ferry.ServerError with ferry.CodeBusy), ErrThrottled (the
// client-side throttle refused it without calling the daemon), or goproc.ErrSaturated (the Go
// path, serving as a fallback or by policy, kept every job slot taken for its queue wait). Every
// cause matches ferry.ErrBusy, so ferry.SafeToRetry holds: shed the request (an HTTP 503 with
// Retry-After: RetryAfter(err)) or retry after RetryAfter(err), never at once in a loop.
var ErrOverloaded = errors.New("ferry router: overloaded")

// ErrThrottled: the Router's client-side throttle refused the request without calling the
// daemon, which has been answering busy to a large share of recent requests (see the package
// documentation, "Overload"). It comes wrapped in ErrOverloaded, together with ferry.ErrBusy.
var ErrThrottled = errors.New("ferry router: throttled: the daemon refused most recent requests as busy")

// ErrFallbackRefused: the daemon could not serve a resize whose output format the Router may not
// serve on Go (WithoutFallback). It wraps the daemon's own error (or, when the breaker kept the
// daemon from being called, ferry.ErrUnavailable), so errors.Is and ferry.SafeToRetry see that
// error.
var ErrFallbackRefused = errors.New("ferry router: fallback to the Go path refused for this output format")

// Error is every error a Router's Resize and Checksum return: the failure, and the path that
// produced it and why (as ferry.Served records it on success). After a fallback, Served is
// {go, fallback} and Err the Go path's error; a request the daemon refused is {rust, policy}
// (or the policy's reason); a request refused without calling either path says which path it
// was meant for and why not: {rust, throttled}, {rust, breaker_open}. errors.Is and errors.As
// see through it to Err:
//
//	var re *router.Error
//	if errors.As(err, &re) {
//		log.Printf("%s failed: %v", re.Served, re.Err)
//	}
type Error struct {
	// Served is the path whose failure this is, and why the request took it.
	Served ferry.Served
	// Err is the failure itself.
	Err error
	// retryAfter is the hint RetryAfter returns.
	retryAfter time.Duration
}

func (e *Error) Error() string { return "ferry router: " + e.Served.String() + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// RetryAfter is how long the caller should wait before sending the request again, when the
// failure is one a later retry may cure (busy, throttled, overloaded, breaker open); 0 when the
// Router has no hint. It is jittered, so callers refused together do not come back together.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// RetryAfter returns the retry hint of an error from a Router (see Error.RetryAfter), or of a
// plain Client's throttle refusal (ferry.RetryAfter); 0 when err carries none.
func RetryAfter(err error) time.Duration {
	var re *Error
	if errors.As(err, &re) {
		return re.retryAfter
	}
	return ferry.RetryAfter(err) // a plain Client's throttle refusal
}

// routeError wraps err (when it is not already a *Error) with the path that produced it.
func routeError(err error, s ferry.Served, retryAfter time.Duration) error {
	if err == nil {
		return nil
	}
	var re *Error
	if errors.As(err, &re) {
		return err
	}
	return &Error{Served: s, Err: err, retryAfter: retryAfter}
}

// overloaded is ErrOverloaded over its cause, which matches ferry.ErrBusy.
func overloaded(cause error) error {
	return &wrap2{ErrOverloaded, cause}
}

// throttled is the cause of a throttle refusal: ErrThrottled and ferry.ErrBusy.
var throttled error = &wrap2{ErrThrottled, ferry.ErrBusy}

// wrap2 is "outer: inner", matching both (fmt.Errorf("%w: %w") without the fmt package's
// formatting on every refusal).
type wrap2 struct{ outer, inner error }

func (w *wrap2) Error() string   { return w.outer.Error() + ": " + w.inner.Error() }
func (w *wrap2) Unwrap() []error { return []error{w.outer, w.inner} }
