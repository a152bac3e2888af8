// Package router puts ferryd and the in-process Go path (package goproc) behind one
// ferry.Processor: a Router sends each request to the daemon or to Go by Policy, falls back to Go
// when the daemon cannot serve it, stops calling a failing daemon for a while (a circuit
// breaker), can run both paths and compare them (shadow mode), and counts everything in
// Prometheus metrics. Every result says which path served it and why (ferry.Served, e.g.
// "rust/policy", "go/fallback", "go/breaker_open").
//
//	c, err := ferry.Dial(ctx, "/run/ferry/ferryd.sock", ferry.WithLazyConnect())
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	r, err := router.New(c, nil, // nil: goproc.New()
//		router.WithFallbackFormat(ferry.FormatWebP, ferry.FormatJPEG))
//	if err != nil {
//		return err // FERRY_ROUTE or the policy file holds an invalid policy
//	}
//	defer r.Close()
//	res, err := r.Resize(ctx, ferry.ResizeRequest{Image: photo, Width: 400})
//	switch {
//	case errors.Is(err, router.ErrOverloaded):
//		// both paths full: shed the request (HTTP 503), retry later
//	case ferry.IsInvalidInput(err):
//		// the input is refused (bad image, over the limits): HTTP 4xx
//	case err != nil:
//		return err
//	}
//
// The Router logs nothing unless given a logger (WithLogger).
//
// # Policies and the kill switch
//
// RouteRust (the default) sends every request to the daemon; RouteGo sends every request to Go
// (the kill switch: the daemon is not called); RoutePercentage splits by a percentage, keyed by
// ferry.ResizeRequest.Key so that one key always takes one path; RouteShadow runs both and returns
// the primary's result, comparing the other's in the background; RouteAuto sends each request
// to the path a bench measured faster for its operation, algorithms or input format, and size
// (ReasonCost), by a CostTable: DefaultCostTable, made from the last full bench report, or the
// machine's own table that `make bench` writes (WithCostTableFile or FERRY_COST_TABLE). Fallback
// and the breaker work the same whichever policy sent a request to the daemon. The policy can
// change at run time: SetPolicy, the FERRY_ROUTE environment variable (read by New) and a policy file
// (WithPolicyFile or FERRY_ROUTE_FILE, polled about once a second). See ParsePolicy for the
// syntax.
//
// # Fallback
//
// A request meant for the daemon is served by Go instead (ReasonFallback) when the daemon is
// unavailable, not responding, busy, too small for the job (too_large_for_budget), past the
// router's budget for it, shutting down or failing internally, and at once (ReasonBreakerOpen)
// while the breaker is open. Requests the daemon refuses as invalid (ferry.IsInvalidInput: bad
// image, over the limits, bad arguments) are not retried: Go would refuse them the same way. A
// caller whose own context ended gets its error; there is no time left for Go. Each daemon
// attempt gets at most DefaultRustTimeout and half of the caller's remaining time
// (WithRustBudget), so a slow daemon leaves the Go path the rest.
//
// The Go path's output is not the daemon's byte for byte. What a fallback changes:
//   - WebP: lossless in Go (VP8L) against lossy VP8 in the daemon; Quality is ignored and the
//     file is several times larger (about 11x on photos). No metadata in Go's WebP output.
//   - Colour: Go does not apply embedded ICC profiles (pixels are taken as sRGB; the daemon
//     converts to sRGB with Little CMS), so wide-gamut photos come out duller; CMYK JPEGs use a
//     naive conversion.
//   - JPEG: image/jpeg subsamples chroma 4:2:0 at every quality; the daemon's libjpeg-turbo keeps
//     full chroma from quality 90. Sizes and artefacts differ at the same Quality.
//   - Resampling: the same filters, different implementations; fill crops are rounded to whole
//     source pixels in Go (at most half a pixel of shift). The shadow tests measure the paths at
//     26 to 55 dB PSNR apart on the sample photos.
//   - PNG of a grayscale input with transparency: RGBA in Go, gray+alpha in the daemon.
//
// When that matters, WithoutFallback(format) refuses the fallback for resizes to format (the
// caller gets the daemon's error, wrapped in ErrFallbackRefused), and WithFallbackFormat(from, to)
// has Go write another format instead (WebP to JPEG keeps the file small). The metric
// ferry_router_fallbacks_total counts fallbacks by operation, reason and action (go, converted,
// refused).
//
// # A daemon that hangs
//
// A stopped or wedged daemon keeps its socket open and answers nothing. The Client notices on
// its own: a connection with requests pending that receives nothing, not even the answer to a
// ping, for ferry.DefaultHangTimeout (250 ms) fails its calls with ferry.ErrNotResponding, and a
// new connection's hello is bounded by ferry.DefaultDialTimeout (1 s). The breaker counts these
// failures and timeouts like any other. So with the defaults a SIGSTOPped daemon costs the calls
// in flight at most about 250 ms (a call that has to dial a new connection before the breaker
// opens: up to 1 s) before the Go path starts on them; once the breaker is open, calls go to Go
// at once, and each half-open probe first pings the daemon within
// BreakerConfig.ProbeTimeout (25 ms), so no call pays much more than that. The fault test
// measures this against the real daemon (TestRouterFaultSIGSTOPCostsLittleOnceTheBreakerOpens
// asserts at most 100 ms for 95% of the calls after the opening and 250 ms for the slowest, which
// can lose a scheduling slice on a loaded machine): the breaker
// opened about 300 ms after the stop, and the slowest call after that waited 33 to 63 ms (four
// runs on a shared 2-core machine) for the Go path to start on it.
//
// # Circuit breaker
//
// After BreakerConfig.ConsecutiveFailures daemon failures in a row, or a failure rate over a
// sliding window, the breaker opens for BreakerConfig.OpenFor; then a few probes test the daemon
// and close it again. A busy or too_large_for_budget answer is not a failure: the daemon is
// healthy and answered at once (the request still goes to Go).
//
// # Overload
//
// The Go path has its own concurrency limit (goproc.WithConcurrency, GOMAXPROCS jobs by default)
// and a bounded wait for a free slot (goproc.WithQueueWait, one second by default, and the
// caller's context). When the daemon cannot take a request (busy, breaker open, failing, or the
// policy routes it to Go) and no Go slot frees up within that wait, the call fails with
// ErrOverloaded: typed, wrapping ferry.ErrBusy so ferry.SafeToRetry holds, and nothing was run.
// Work is never queued without bound: at most Concurrency Go jobs run at once, abandoned ones
// (whose caller's context ended) included until they stop at their next stage, and the daemon's
// own admission control bounds the rest. Shed ErrOverloaded requests upstream (an HTTP 503 with
// Retry-After) rather than retrying them in a loop.
package router
