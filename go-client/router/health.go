package router

import (
	"context"
	"fmt"

	ferry "github.com/ferryd/ferry/go-client"
)

// The Router serves the whole ferry.Service, like a *ferry.Client.
var _ ferry.Service = (*Router)(nil)

// The daemon's health methods, which a Router's rust ferry.Processor has when it is a *ferry.Client.
type (
	pinger interface {
		Ping(ctx context.Context) error
	}
	statser interface {
		Stats(ctx context.Context) (*ferry.Stats, error)
	}
)

// Ping checks the daemon behind the Router and returns its answer: nil when it is up. Jobs may
// still succeed while Ping fails (the Go path serves them), so Ping is the daemon's health, for
// readiness checks and dashboards, not the Router's ability to serve. Ping reaches the daemon
// whatever the policy, kill switch included: ops need to see the daemon before switching back.
// When the rust ferry.Processor cannot be pinged (it is not a *ferry.Client), Ping returns nil.
func (r *Router) Ping(ctx context.Context) error {
	if p, ok := r.rust.(pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Stats returns the daemon's counters (see ferry.Client.Stats). Which path served each request is in
// the Router's own Metrics, not here. It fails when the rust ferry.Processor has no counters.
func (r *Router) Stats(ctx context.Context) (*ferry.Stats, error) {
	if s, ok := r.rust.(statser); ok {
		return s.Stats(ctx)
	}
	return nil, fmt.Errorf("ferry: Router.Stats: the rust ferry.Processor (%T) has no daemon counters", r.rust)
}
