package router

import (
	"context"
	"errors"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// Observer is told what the Router does, for metrics or traces: every request and attempt,
// every fallback, breaker transition, probe, policy change, throttle refusal and shadow
// comparison. The Router calls it from the request's goroutine (shadow and probe events from
// their own), so its methods must be safe for concurrent use and quick: do not block in them.
//
// The Router observes nothing by default. routerprom.Metrics is an Observer that counts into
// Prometheus metrics; embed NopObserver in an Observer of your own to implement only the methods
// you need (and to keep compiling when methods are added).
type Observer interface {
	// Request: one call to Resize or Checksum answered, by the path that served (or refused) it
	// and why; err is nil on success (Outcome(err) names it for a label).
	Request(op string, served ferry.Served, err error, elapsed time.Duration)
	// Attempt: one attempt on one path, successful or not (shadow calls included).
	Attempt(op string, path ferry.Path, err error, elapsed time.Duration)
	// Fallback: a request meant for the daemon that it did not serve (reason: breaker_open,
	// throttled, or the daemon's outcome word), or a request sent to Go by policy whose output
	// format was converted (reason: the policy's reason word); action is "go", "converted" or
	// "refused".
	Fallback(op, reason, action string)
	// BreakerChanged: the circuit breaker moved from one state to another.
	BreakerChanged(from, to BreakerState)
	// Probe: the breaker pinged the daemon to see whether it is back (err nil: it answered).
	Probe(err error, elapsed time.Duration)
	// PolicyChanged: a policy was applied, from source "option", "env", "file" or "api".
	PolicyChanged(p Policy, source string)
	// Throttled: the client-side throttle refused a request without calling the daemon;
	// rejectProbability is the throttle's refusal probability at that moment.
	Throttled(op string, rejectProbability float64)
	// Shadow: one shadow comparison's result: match, mismatch, error or skipped.
	Shadow(op, result string)
}

// NopObserver observes nothing. Embed it in an Observer that implements only some methods.
type NopObserver struct{}

func (NopObserver) Request(string, ferry.Served, error, time.Duration) {}
func (NopObserver) Attempt(string, ferry.Path, error, time.Duration)   {}
func (NopObserver) Fallback(string, string, string)                    {}
func (NopObserver) BreakerChanged(BreakerState, BreakerState)          {}
func (NopObserver) Probe(error, time.Duration)                         {}
func (NopObserver) PolicyChanged(Policy, string)                       {}
func (NopObserver) Throttled(string, float64)                          {}
func (NopObserver) Shadow(string, string)                              {}

var _ Observer = NopObserver{}

// Outcome names a result for a metric label: "ok", the daemon's code word for a
// *ferry.ServerError (busy, bad_image, ...), or the failure: throttled (refused by the
// client-side throttle), overloaded (the Go path was full), not_responding, unavailable,
// connection_lost, closed, request_too_large, protocol_error, deadline_exceeded, cancelled,
// error.
func Outcome(err error) string {
	if err == nil {
		return "ok" // before se, which escapes to the heap: a success allocates nothing here
	}
	var se *ferry.ServerError
	switch {
	case errors.Is(err, ErrThrottled):
		return "throttled"
	case errors.Is(err, goproc.ErrSaturated):
		return "overloaded"
	case errors.Is(err, ferry.ErrNotResponding):
		return "not_responding"
	case errors.As(err, &se):
		return se.Code.String()
	case errors.Is(err, ErrOverloaded):
		return "overloaded"
	case errors.Is(err, ferry.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ferry.ErrConnectionLost):
		return "connection_lost"
	case errors.Is(err, ferry.ErrClosed):
		return "closed"
	case errors.Is(err, ferry.ErrRequestTooLarge):
		return "request_too_large"
	case errors.Is(err, ferry.ErrProtocol):
		return "protocol_error"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "error"
}
