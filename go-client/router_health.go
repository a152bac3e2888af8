package ferry

import (
	"context"
	"fmt"
)

// Service is the whole method set a Go worker uses: the jobs plus health and counters. *Client
// and *Router both implement it, so a worker written against Service takes either, and moving a
// service onto the Router is a one-line change where it is built.
type Service interface {
	Processor
	Ping(ctx context.Context) error
	Stats(ctx context.Context) (*Stats, error)
	Close() error
}

var (
	_ Service = (*Client)(nil)
	_ Service = (*Router)(nil)
)

// The daemon's health methods, which a Router's rust Processor has when it is a *Client.
type (
	pinger interface {
		Ping(ctx context.Context) error
	}
	statser interface {
		Stats(ctx context.Context) (*Stats, error)
	}
)

// Ping checks the daemon behind the Router and returns its answer: nil when it is up. Jobs may
// still succeed while Ping fails (the Go path serves them), so Ping is the daemon's health, for
// readiness checks and dashboards, not the Router's ability to serve. Ping reaches the daemon
// whatever the policy, kill switch included: ops need to see the daemon before switching back.
// When the rust Processor cannot be pinged (it is not a *Client), Ping returns nil.
func (r *Router) Ping(ctx context.Context) error {
	if p, ok := r.rust.(pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Stats returns the daemon's counters (see Client.Stats). Which path served each request is in
// the Router's own Metrics, not here. It fails when the rust Processor has no counters.
func (r *Router) Stats(ctx context.Context) (*Stats, error) {
	if s, ok := r.rust.(statser); ok {
		return s.Stats(ctx)
	}
	return nil, fmt.Errorf("ferry: Router.Stats: the rust Processor (%T) has no daemon counters", r.rust)
}
