package ferry

import (
	"context"
	"errors"
	"time"
)

// ErrThrottled: the Client's throttle refused the request without sending it, because the
// daemon has answered busy to a large share of recent requests (see WithThrottle). The error
// also matches ErrBusy, so SafeToRetry holds and code that handles busy handles it too; it
// carries a retry hint (RetryAfter).
var ErrThrottled = errors.New("ferry: throttled: the daemon answered busy to most recent requests; not sent")

// busyLocally is the ServerError a local refusal carries, so errors.Is(err, ErrBusy) and
// errors.As(err, **ServerError) see a busy answer.
var busyLocally = &ServerError{Code: CodeBusy, Message: "refused locally by the client-side throttle"}

// throttledError is a local refusal with its retry hint.
type throttledError struct {
	hint time.Duration
	why  string
}

func (e *throttledError) Error() string {
	msg := ErrThrottled.Error()
	if e.why != "" {
		msg = "ferry: throttled: " + e.why + "; not sent"
	}
	return msg + " (retry after " + e.hint.Round(time.Millisecond).String() + ")"
}
func (e *throttledError) Unwrap() []error           { return []error{ErrThrottled, busyLocally} }
func (e *throttledError) RetryAfter() time.Duration { return e.hint }

// RetryAfter returns the retry hint an error carries (a throttle refusal's, or a router
// error's): how long to wait before sending the request again; 0 when err has none.
func RetryAfter(err error) time.Duration {
	var h interface{ RetryAfter() time.Duration }
	if errors.As(err, &h) {
		return h.RetryAfter()
	}
	return 0
}

// Throttle returns the Client's throttle, nil when it was turned off (WithThrottle with k < 0).
// Its Probability is the share of requests refused locally now. Package router uses it to
// keep its own throttle off in front of a Client that throttles itself.
func (c *Client) Throttle() *Throttle { return c.throttle }

// admit asks the throttle about one job request (see isJob; ping and stats
// are never held back). A refusal is held for a jittered DefaultThrottleHold, or until ctx
// ends, before it is returned: it cost nothing to make, and a caller that retries at once
// would otherwise spin. counted tells the caller to report the answer with Done.
func (c *Client) admit(ctx context.Context) (counted bool, err error) {
	if c.throttle == nil {
		return false, nil
	}
	if ok, _ := c.throttle.Admit(); ok {
		return true, nil
	}
	return false, c.hold(ctx, "")
}

// hold returns a local refusal after a jittered throttle hold, or when ctx ends if sooner;
// why, when not empty, says why it was refused (the throttle's probability otherwise).
func (c *Client) hold(ctx context.Context, why string) error {
	c.holding.Add(1)
	defer c.holding.Add(-1)
	hint := Jitter(c.cfg.throttleHold)
	t := time.NewTimer(hint)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	return &throttledError{hint: hint, why: why}
}
