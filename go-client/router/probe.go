package router

import (
	"context"
	"time"
)

// hangTimeouter is a daemon Processor that reports its current hang timeout: a *ferry.Client
// adapts it to the measured round trips, and a probe's ping is given as long.
type hangTimeouter interface {
	HangTimeout() time.Duration
}

// probeTimeout bounds the ping that tests an open breaker's daemon: BreakerConfig.ProbeTimeout
// when set, else the daemon Processor's own hang timeout (at least MinBreakerProbeTimeout), else
// DefaultBreakerProbeTimeout.
func (r *Router) probeTimeout() time.Duration {
	if d := r.breaker.cfg.ProbeTimeout; d > 0 {
		return d
	}
	if h, ok := r.rust.(hangTimeouter); ok {
		if d := h.HangTimeout(); d > 0 {
			return max(d, MinBreakerProbeTimeout)
		}
	}
	return DefaultBreakerProbeTimeout
}

// maybeProbe starts the ping that tests an open breaker's daemon, when its cool-down is over
// and no ping is in flight. It runs in the background: the caller that found the breaker open
// goes on to the Go path at once, and the daemon gets requests again only once it has answered.
func (r *Router) maybeProbe() {
	if r.pinger == nil || !r.breaker.claimPing() {
		return
	}
	timeout := r.probeTimeout()
	if !r.goBackground(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		start := r.cfg.now()
		err := r.pinger.Ping(ctx)
		cancel()
		r.obs.Probe(err, r.cfg.now().Sub(start))
		r.breaker.pingDone(err == nil)
	}) {
		r.breaker.pingDone(false)
	}
}
