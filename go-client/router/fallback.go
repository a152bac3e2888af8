package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// fallbackRule is what the Go path does with a resize asked in one output format.
type fallbackRule struct {
	refuse bool
	// instead, when set, is the format the Go path writes in place of the requested one.
	instead ferry.Format
}

// WithoutFallback keeps resizes asked in any of formats off the Go path when the daemon cannot
// serve them: the caller gets the daemon's error, wrapped in ErrFallbackRefused, instead of the Go
// path's different output (see the package documentation). It applies to
// fallbacks only: a policy that routes to Go (RouteGo, the Go share of RoutePercentage and
// RouteAuto) is the operator's choice and is followed, since a kill switch that turned requests
// into errors would be an outage switch (give WithFallbackFormat for the format too, to keep
// such outputs small). A request with several outputs (ferry.ResizeRequest.Outputs) stays off
// the Go path when any of its outputs is in one of formats.
func WithoutFallback(formats ...ferry.Format) Option {
	return func(c *config) {
		for _, f := range formats {
			c.fallbackRules()[normalFormat(f)] = fallbackRule{refuse: true}
		}
	}
}

// WithFallbackFormat makes the Go path write format instead when it serves a resize asked in
// format requested: for example WithFallbackFormat(ferry.FormatWebP, ferry.FormatJPEG) trades the
// Go path's WebP (libwebp run as WebAssembly: the daemon's sizes, at several times image/jpeg's
// CPU per thumbnail) for a JPEG. It applies
// whenever the Go path serves a request meant for the daemon or sent to Go by policy: a
// fallback, the kill switch (RouteGo), the Go share of RoutePercentage and RouteAuto; not shadow
// mode, which compares like with like. The result's Format says what was written. With several
// outputs, each output asked in requested is written in instead (its Output.Format says so);
// the others are left as asked. It replaces a WithoutFallback for the same format.
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

// goPlan is how the Go path may serve o under the fallback rules: run (o's own, or with its
// formats converted), whether it converts, and the first output format refused on Go ("" if
// none).
func goPlan[T any](r *Router, o *routedOp[T]) (run func(context.Context, ferry.Processor) (T, error), converted bool, refused ferry.Format) {
	run = o.run
	if o.formats == nil || len(r.cfg.fallback) == 0 {
		return run, false, ""
	}
	var instead map[ferry.Format]ferry.Format
	for _, f := range o.formats() {
		rule := r.cfg.fallback[f]
		switch {
		case rule.refuse:
			if refused == "" {
				refused = f
			}
		case rule.instead != "" && rule.instead != f:
			if instead == nil {
				instead = map[ferry.Format]ferry.Format{}
			}
			instead[f] = rule.instead
		}
	}
	if instead != nil {
		return o.withFormats(instead), true, refused
	}
	return run, false, refused
}

// The action label of a fallback (Observer.Fallback).
const (
	actionGo        = "go"        // served on Go as asked
	actionConverted = "converted" // served on Go in the fallback format
	actionRefused   = "refused"   // not served: the daemon's error returned
)

// verdict is what one daemon answer says, for the breaker, the throttle and the route.
type verdict int

const (
	// answered: served, or the input refused: the daemon did its job.
	answered verdict = iota
	// busy: the daemon's queue or memory budget is full for now. Backpressure, not a fault.
	busy
	// neverFits: too_large_for_budget: this daemon can never run the job; the Go path may.
	neverFits
	// late: the daemon's deadline_exceeded, or the router's cap for a caller without a deadline
	// ran out: the queue explains it (a daemon that stops answering is caught by the Client's
	// hang timeout as not responding, a fault).
	late
	// gaveUp: the caller's context ended. Nothing is known about the daemon.
	gaveUp
	// lost: the connection broke under the call (not a hang): broken, but counted once for all
	// the calls that were on the connection (breaker.recordLost).
	lost
	// broken: unavailable, not responding, shutting down, internal, protocol errors: signs that
	// the daemon is broken, which the breaker counts.
	broken
)

func judge(ctx context.Context, err error) verdict {
	switch {
	case err == nil, ferry.IsInvalidInput(err):
		return answered
	case ctx.Err() != nil:
		return gaveUp
	case errors.Is(err, ferry.ErrBusy):
		return busy
	case errors.Is(err, ferry.ErrTooLargeForBudget):
		return neverFits
	case errors.Is(err, ferry.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return late
	case errors.Is(err, ferry.ErrConnectionLost) && !errors.Is(err, ferry.ErrNotResponding):
		return lost
	}
	return broken
}

// tell reports a daemon answer's verdict to the breaker (p is its permit).
func (b *breaker) tell(p permit, v verdict) {
	switch v {
	case answered:
		b.record(p, false)
	case broken:
		b.record(p, true)
	case lost:
		b.recordLost(p)
	default:
		b.release(p)
	}
}

// tryRust calls the daemon if the breaker and the throttle allow, and falls back to Go when the
// daemon is broken, cannot ever fit the job, or (WithBusyFallback) cannot take it now.
func tryRust[T any](r *Router, ctx context.Context, o *routedOp[T], reason ferry.Reason) (T, ferry.Served, error) {
	var zero T
	asked := ferry.Served{Path: ferry.PathRust, Reason: reason}
	p, ok := r.breaker.allow()
	if !ok {
		r.maybeProbe()
		return fallback(r, ctx, o, ReasonBreakerOpen, "breaker_open", nil)
	}
	// Half-open probes go through: they are how the breaker learns that the daemon is back.
	throttle := !p.probe && r.ownThrottle
	if throttle {
		if admit, prob := r.throttle.Admit(); !admit {
			r.breaker.release(p)
			r.obs.Throttled(o.op, prob)
			if r.cfg.busyFallback {
				return fallback(r, ctx, o, ReasonFallback, string(ReasonThrottled), overloaded(throttled))
			}
			refused := ferry.Served{Path: ferry.PathRust, Reason: ReasonThrottled}
			return zero, refused, refuse(ctx, refused, overloaded(throttled), jitter(DefaultRetryAfter))
		}
	}
	actx, cancel := r.rustContext(ctx)
	res, err := attempt(r, actx, o, ferry.PathRust, r.rust)
	moved := err != nil && ctx.Err() == nil && context.Cause(actx) == errBreakerOpened
	cancel()
	if moved {
		// The breaker opened while this call waited on the daemon: the daemon is judged broken
		// (this call's wait says nothing more), and the Go path serves with the time left.
		r.breaker.release(p)
		if throttle {
			r.throttle.Done(true)
		}
		return fallback(r, ctx, o, ReasonBreakerOpen, "breaker_open", nil)
	}
	if errors.Is(err, ferry.ErrThrottled) {
		// The daemon client's own throttle refused it, unsent, and held it already: a
		// throttle refusal like the Router's own, with the client's retry hint.
		r.breaker.release(p)
		r.obs.Throttled(o.op, r.throttle.Probability())
		err = overloaded(&wrap2{ErrThrottled, err})
		if r.cfg.busyFallback {
			return fallback(r, ctx, o, ReasonFallback, string(ReasonThrottled), err)
		}
		refused := ferry.Served{Path: ferry.PathRust, Reason: ReasonThrottled}
		return zero, refused, &Error{Served: refused, Err: err, retryAfter: ferry.RetryAfter(err)}
	}
	v := judge(ctx, err)
	r.breaker.tell(p, v)
	if throttle {
		r.throttle.Done(v != busy)
	}
	switch v {
	case answered, gaveUp:
		// The daemon did its job, or the caller gave up and has no time left for Go either.
		return res, asked, err
	case busy:
		if !r.cfg.busyFallback {
			return zero, asked, &Error{Served: asked, Err: overloaded(err), retryAfter: jitter(DefaultRetryAfter)}
		}
	case late:
		if !r.cfg.busyFallback {
			return zero, asked, err
		}
	}
	return fallback(r, ctx, o, ReasonFallback, Outcome(err), err)
}

// fallback serves on Go a request that was meant for the daemon, within the fallback rules of
// its output format. why is the reason label (the daemon's outcome word, breaker_open or
// throttled); rustErr is the daemon's error, nil when the breaker kept it from being called.
func fallback[T any](r *Router, ctx context.Context, o *routedOp[T], reason ferry.Reason, why string, rustErr error) (T, ferry.Served, error) {
	var zero T
	run, converted, refused := goPlan(r, o)
	var refusal error // why the Go path may not serve o, when it may not
	switch {
	case refused != "":
		refusal = fmt.Errorf("%w (%s output)", ErrFallbackRefused, refused)
	case o.notOnGo != nil:
		if err := o.notOnGo(r.goPath); err != nil {
			refusal = fmt.Errorf("%w: %w", ErrFallbackRefused, err)
		}
	}
	if refusal != nil {
		return refuseFallback[T](r, ctx, o, reason, why, refusal, rustErr)
	}
	action := actionGo
	if converted {
		action = actionConverted
	}
	r.obs.Fallback(o.op, why, action)
	served := ferry.Served{Path: ferry.PathGo, Reason: reason}
	res, err := attempt(r, ctx, &routedOp[T]{op: o.op, run: run}, ferry.PathGo, r.goPath)
	switch {
	case errors.Is(err, goproc.ErrSaturated):
		return res, served, &Error{Served: served, Err: overloaded(err), retryAfter: jitter(DefaultRetryAfter)}
	case errors.Is(err, goproc.ErrNotOnGoPath) && rustErr != nil:
		// The input's header was past what notOnGo reads (a file's meta box beyond its first
		// 64 KiB): the Go path found out itself, from the header, and the daemon's error stands.
		return zero, ferry.Served{Path: ferry.PathRust, Reason: reason},
			&Error{Served: ferry.Served{Path: ferry.PathRust, Reason: reason},
				Err: fmt.Errorf("%w: %w: %w", ErrFallbackRefused, err, rustErr), retryAfter: RetryAfter(rustErr)}
	}
	return res, served, err
}

// refuseFallback returns the caller the daemon's error (rustErr) wrapped in refusal, since the
// Go path may not serve o: WithoutFallback for its output format, or goproc.ErrNotOnGoPath for
// its input. With no daemon error (the breaker kept the daemon from being called), the refusal
// is held until the breaker next tests the daemon, so that a caller retrying at once cannot spin.
func refuseFallback[T any](r *Router, ctx context.Context, o *routedOp[T], reason ferry.Reason, why string, refusal, rustErr error) (T, ferry.Served, error) {
	var zero T
	r.obs.Fallback(o.op, why, actionRefused)
	asked := ferry.Served{Path: ferry.PathRust, Reason: reason}
	if rustErr == nil {
		// Nothing was called: hold the refusal until the breaker next tests the daemon (or
		// the caller's deadline), so a caller that retries at once cannot spin.
		hint := jitter(max(r.breaker.retryIn(), DefaultRetryAfter))
		cause := fmt.Errorf("circuit breaker open, daemon not called: %w", ferry.ErrUnavailable)
		return zero, asked, refuse(ctx, asked, fmt.Errorf("%w: %w", refusal, cause), hint)
	}
	err := fmt.Errorf("%w: %w", refusal, rustErr)
	if errors.Is(rustErr, ErrThrottled) && !errors.Is(rustErr, ferry.ErrThrottled) {
		// The Router's own refusal, not yet held (the client holds its own).
		return zero, asked, refuse(ctx, asked, err, jitter(DefaultRetryAfter))
	}
	return zero, asked, &Error{Served: asked, Err: err, retryAfter: RetryAfter(rustErr)}
}

// onGo serves a request that policy sent to Go, with its formats converted by WithFallbackFormat
// when convert is set (everywhere but shadow mode). WithoutFallback does not apply: see there.
func onGo[T any](r *Router, ctx context.Context, o *routedOp[T], reason ferry.Reason, convert bool) (T, error) {
	run := o.run
	if convert {
		var converted bool
		if run, converted, _ = goPlan(r, o); converted {
			r.obs.Fallback(o.op, string(reason), actionConverted)
		}
	}
	res, err := attempt(r, ctx, &routedOp[T]{op: o.op, run: run}, ferry.PathGo, r.goPath)
	if errors.Is(err, goproc.ErrSaturated) {
		served := ferry.Served{Path: ferry.PathGo, Reason: reason}
		return res, &Error{Served: served, Err: overloaded(err), retryAfter: jitter(DefaultRetryAfter)}
	}
	return res, err
}

// refuse returns a refusal made without calling either path, after holding the call for hint
// or until ctx ends, whichever comes first: such refusals cost nothing to make, and a caller
// that retries them at once would otherwise spin (the issue measured 6.49 million in 20 s). A
// caller is thus refused at most about once per hint; the error says when to retry.
func refuse(ctx context.Context, s ferry.Served, err error, hint time.Duration) error {
	if hint > 0 {
		t := time.NewTimer(hint)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return &Error{Served: s, Err: err, retryAfter: hint}
}
