// Package router puts ferryd and the in-process Go path (package goproc) behind one
// ferry.Processor: a Router sends each request to the daemon or to Go by Policy, falls back to Go
// when the daemon fails for a reason of its own, stops calling a failing daemon for a while (a
// circuit breaker), can run both paths and compare them (shadow mode), and counts everything in
// Prometheus metrics. Every result says which path served it and why (ferry.Served).
//
//	c, err := ferry.Dial(ctx, "/run/ferry/ferryd.sock", ferry.WithLazyConnect())
//	if err != nil {
//		return err
//	}
//	r, err := router.New(c, nil) // nil: goproc.New()
//	if err != nil {
//		return err // FERRY_ROUTE or the policy file holds an invalid policy
//	}
//	defer r.Close()
//	res, err := r.Resize(ctx, ferry.ResizeRequest{Image: photo, Width: 400})
//
// # Policies and the kill switch
//
// RouteRust (the default) sends every request to the daemon; RouteGo sends every request to Go
// (the kill switch: the daemon is not called); RoutePercentage splits by a percentage, keyed by
// ferry.ResizeRequest.Key so that one key always takes one path; RouteShadow runs both and returns
// the primary's result. The policy can change at run time: SetPolicy, the FERRY_ROUTE environment
// variable (read by New) and a policy file (WithPolicyFile or FERRY_ROUTE_FILE, polled about once
// a second). See ParsePolicy for the syntax.
//
// # Fallback
//
// A daemon attempt that fails because the daemon is unavailable, busy, timing out, shutting down
// or failing internally is retried on Go (ReasonFallback). Requests the daemon refuses as invalid
// (ferry.IsInvalidInput: bad image, over the limits, bad arguments) are not retried: Go would
// refuse them the same way. A caller whose own context ended gets its error; there is no time
// left for Go.
//
// # Circuit breaker
//
// After BreakerConfig.ConsecutiveFailures daemon failures in a row, or a failure rate over a
// sliding window, the breaker opens: requests routed to the daemon go to Go at once
// (ReasonBreakerOpen) for BreakerConfig.OpenFor, after which a few probe requests test the daemon.
// Timeouts count as failures.
package router
