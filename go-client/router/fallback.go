package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// ErrOverloaded: both paths are saturated. The daemon could not take the request (busy, breaker
// open, failing, or not called by policy) and every Go job slot stayed taken for the Go path's
// queue wait or until the caller's context ended. Nothing ran. It wraps ferry.ErrBusy, so
// ferry.SafeToRetry holds: retry later, with backoff.
var ErrOverloaded = errors.New("ferry router: overloaded: the daemon and the Go path are both saturated")

// ErrFallbackRefused: the daemon failed a resize whose output format the Router may not serve
// on Go (WithoutFallback). It wraps the daemon's own error (or, when the breaker kept the daemon
// from being called, ferry.ErrUnavailable), so errors.Is and ferry.SafeToRetry see that error.
var ErrFallbackRefused = errors.New("ferry router: fallback to the Go path refused for this output format")

// fallbackRule is what a fallback does with a resize asked in one output format.
type fallbackRule struct {
	refuse bool
	// instead, when set, is the format the Go path writes in place of the requested one.
	instead ferry.Format
}

// WithoutFallback keeps resizes asked in any of formats off the Go path when the daemon cannot
// serve them: the caller gets the daemon's error, wrapped in ErrFallbackRefused, instead of the Go
// path's different output (for WebP: lossless and several times larger). It applies to
// fallbacks only; a policy that routes to Go (RouteGo, RoutePercentage) is the operator's choice
// and is followed. A request with several outputs (ferry.ResizeRequest.Outputs) stays off the Go
// path when any of its outputs is in one of formats.
func WithoutFallback(formats ...ferry.Format) Option {
	return func(c *config) {
		for _, f := range formats {
			c.fallbackRules()[normalFormat(f)] = fallbackRule{refuse: true}
		}
	}
}

// WithFallbackFormat makes the Go path write format instead when it serves, as a fallback, a
// resize asked in format requested: for example WithFallbackFormat(ferry.FormatWebP,
// ferry.FormatJPEG) trades the Go path's lossless WebP for a JPEG of similar size to the daemon's
// lossy WebP. The result's Format says what was written. Like WithoutFallback it applies to
// fallbacks only. With several outputs, each output asked in requested is written in instead
// (its Output.Format says so); the others are left as asked.
func WithFallbackFormat(requested, instead ferry.Format) Option {
	return func(c *config) {
		c.fallbackRules()[normalFormat(requested)] = fallbackRule{instead: normalFormat(instead)}
	}
}

func (c *config) fallbackRules() map[ferry.Format]fallbackRule {
	if c.fallback == nil {
		c.fallback = map[ferry.Format]fallbackRule{}
	}
	return c.fallback
}

// resizeFormats are a resize's output formats, defaults applied: one per output, or the
// request's own when it has no Outputs.
func resizeFormats(req *ferry.ResizeRequest) []ferry.Format {
	if len(req.Outputs) == 0 {
		return []ferry.Format{normalFormat(req.Format)}
	}
	out := make([]ferry.Format, len(req.Outputs))
	for i, o := range req.Outputs {
		out[i] = normalFormat(o.Format)
	}
	return out
}

// withFormats returns req with each output format found in instead replaced (the Outputs slice
// copied, never the caller's changed).
func withFormats(req ferry.ResizeRequest, instead map[ferry.Format]ferry.Format) ferry.ResizeRequest {
	if len(req.Outputs) == 0 {
		if f, ok := instead[normalFormat(req.Format)]; ok {
			req.Format = f
		}
		return req
	}
	outs := append([]ferry.OutputSpec(nil), req.Outputs...)
	for i := range outs {
		if f, ok := instead[normalFormat(outs[i].Format)]; ok {
			outs[i].Format = f
		}
	}
	req.Outputs = outs
	return req
}

// normalFormat applies the protocol default: no format means JPEG.
func normalFormat(f ferry.Format) ferry.Format {
	if f == "" {
		return ferry.FormatJPEG
	}
	return f
}

// The action label of ferry_router_fallbacks_total.
const (
	actionGo        = "go"        // served on Go as asked
	actionConverted = "converted" // served on Go in the fallback format
	actionRefused   = "refused"   // not served: the daemon's error returned
)

// tryRust calls the daemon if the breaker allows, and falls back to Go when the daemon fails for
// a reason of its own.
func tryRust[T any](r *Router, ctx context.Context, o *routedOp[T], reason ferry.Reason) (T, ferry.Served, error) {
	p, ok := r.breaker.allow()
	if !ok {
		return fallback(r, ctx, o, ReasonBreakerOpen, "breaker_open", nil)
	}
	var zero T
	if p.probe {
		// A half-open breaker tests the daemon with a ping bounded by ProbeTimeout before it
		// trusts it with the request: a daemon that is still stopped costs the caller only that.
		if err := r.probe(ctx); err != nil {
			if ctx.Err() != nil {
				r.breaker.release(p)
				return zero, ferry.Served{Path: ferry.PathRust, Reason: reason}, err
			}
			r.breaker.record(p, true)
			return fallback(r, ctx, o, ReasonFallback, "probe_failed", err)
		}
	}
	actx, cancel := r.rustContext(ctx)
	res, err := attempt(r, actx, o, ferry.PathRust, r.rust)
	cancel()
	switch {
	case err == nil:
		r.breaker.record(p, false)
		return res, ferry.Served{Path: ferry.PathRust, Reason: reason}, nil
	case ferry.IsInvalidInput(err):
		// The daemon did its job: it read the request and refused it. Go would refuse it too.
		r.breaker.record(p, false)
		return res, ferry.Served{Path: ferry.PathRust, Reason: reason}, err
	case ctx.Err() != nil:
		// The caller gave up; that says nothing about the daemon, and there is no time left
		// for Go.
		r.breaker.release(p)
		return res, ferry.Served{Path: ferry.PathRust, Reason: reason}, err
	case errors.Is(err, ferry.ErrBusy), errors.Is(err, ferry.ErrTooLargeForBudget):
		// The daemon is healthy and answered at once: its queue or memory budget is full, or
		// this job could never fit its budget. Not a failure, but Go serves the request.
		r.breaker.release(p)
	default:
		// Unavailable, connection lost or not responding, the daemon's or the router's
		// deadline, shutting down, internal: the daemon's fault.
		r.breaker.record(p, true)
	}
	return fallback(r, ctx, o, ReasonFallback, outcomeOf(err), err)
}

// probe pings the daemon within the breaker's ProbeTimeout. A rust Processor that cannot be
// pinged passes.
func (r *Router) probe(ctx context.Context) error {
	pg, ok := r.rust.(pinger)
	if !ok {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, r.breaker.cfg.ProbeTimeout)
	defer cancel()
	return pg.Ping(pctx)
}

// fallback serves on Go a request that was meant for the daemon, within the fallback rules of
// its output format. why is the reason label (the daemon's outcome word, or breaker_open);
// rustErr is the daemon's error, nil when it was not called.
func fallback[T any](r *Router, ctx context.Context, o *routedOp[T], reason ferry.Reason, why string, rustErr error) (T, ferry.Served, error) {
	var zero T
	run, action := o.run, actionGo
	if o.formats != nil {
		// Every output must be allowed on Go; each one whose format has a replacement gets it.
		var instead map[ferry.Format]ferry.Format
		for _, f := range o.formats() {
			rule := r.cfg.fallback[f]
			switch {
			case rule.refuse:
				r.metrics.fallback(o.op, why, actionRefused)
				r.log.Debug("ferry router: fallback refused for this format", "op", o.op, "format", f, "reason", why)
				cause := rustErr
				if cause == nil {
					cause = fmt.Errorf("circuit breaker open, daemon not called: %w", ferry.ErrUnavailable)
				}
				return zero, ferry.Served{Path: ferry.PathRust, Reason: reason}, fmt.Errorf("%w (%s output): %w", ErrFallbackRefused, f, cause)
			case rule.instead != "" && rule.instead != f:
				if instead == nil {
					instead = map[ferry.Format]ferry.Format{}
				}
				instead[f] = rule.instead
			}
		}
		if instead != nil {
			run, action = o.withFormats(instead), actionConverted
		}
	}
	r.metrics.fallback(o.op, why, action)
	if r.log.Enabled(ctx, slog.LevelDebug) {
		r.log.Debug("ferry router: serving on Go instead of the daemon", "op", o.op, "reason", why, "action", action, "err", rustErr)
	}
	res, err := attempt(r, ctx, &routedOp[T]{op: o.op, run: run}, ferry.PathGo, r.goPath)
	if errors.Is(err, goproc.ErrSaturated) {
		err = overloaded(why, err)
	}
	return res, ferry.Served{Path: ferry.PathGo, Reason: reason}, err
}

// overloaded is the error for a request neither path could take.
func overloaded(daemon string, goErr error) error {
	return fmt.Errorf("%w (daemon: %s; go: %v): %w", ErrOverloaded, daemon, goErr, ferry.ErrBusy)
}

// discardHandler is the Router's logger when the caller gives none: it drops every record
// before any formatting.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (h discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h discardHandler) WithGroup(string) slog.Handler           { return h }
