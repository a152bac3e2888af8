// Package router puts ferryd and the in-process Go path (package goproc) behind one
// ferry.Processor: a Router sends each request to the daemon or to Go by Policy, falls back to Go
// when the daemon cannot serve it, stops calling a failing daemon for a while (a circuit
// breaker), holds back requests a busy daemon would refuse (a client-side throttle), can run both
// paths and compare them (shadow mode), and reports everything to an Observer (Prometheus
// metrics: package routerprom). Every result says which path served it and why (ferry.Served,
// e.g. "rust/policy", "go/fallback", "go/breaker_open"), and so does every error (*Error).
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
//		// busy: shed the request (HTTP 503, Retry-After: router.RetryAfter(err))
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
// Probe (ferry.Prober) routes like a cheap op: RouteAuto answers it on the Go path, which reads
// the header in process in microseconds where the daemon would first need the image copied
// through its socket; the other policies treat it as a resize. Both paths read headers by the
// same rules; ProbeInfo.Memory is the serving path's own estimate.
//
// # Fallback
//
// A request meant for the daemon is served by Go instead (ReasonFallback) when the daemon shows
// signs of being broken (unavailable, connection lost, not responding, shutting down, internal
// errors) or can never fit the job (too_large_for_budget), and at once (ReasonBreakerOpen) while
// the breaker is open. Requests the daemon refuses as invalid (ferry.IsInvalidInput: bad image,
// over the limits, bad arguments) are not retried: Go would refuse them the same way. A caller
// whose own context ended gets its error; there is no time left for Go.
//
// A daemon that is busy is not broken: see Overload. Its busy answers, and a deadline_exceeded
// while the caller still has time, are the caller's answer, unless WithBusyFallback sends them to
// Go (for a host with cores the daemon does not use; the Go path costs about 18 times the CPU per
// thumbnail).
//
// The daemon attempt gets the caller's whole deadline: nothing is kept back for a fallback, which
// an overloaded host could not run in time anyway, and the daemon, which learns the deadline as
// the request's timeout_ms, answers busy at once when its queue cannot meet it. A caller without
// a deadline has its daemon attempt capped at DefaultRustTimeout (WithRustTimeout).
//
// The Go path's output is not the daemon's byte for byte. What a fallback changes:
//   - WebP and AVIF: the same libraries (libwebp; libavif with libaom) at the same Quality, run
//     as WebAssembly: on the sample photos Go's WebP is 0.88x to 1.00x the daemon's size, 38.8
//     to 44.1 dB from it (its lossless WebP used to be 7.3x to 13.5x). No metadata in Go's WebP
//     and AVIF output. The first WebP or AVIF job of a process compiles the codec (0.8 to 2.3 s
//     on a loaded 2-core machine): call goproc.Warm at start-up so no fallback pays it.
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
// Inputs the Go path does not read (HEIC; AVIF cropped by a clean aperture) are
// never sent to it while the daemon can take them: goproc.Processor.Serves tells them from their
// header (any Go Processor with a Serves method can), and the Router treats them as
// WithoutFallback treats a format: the daemon's answer or error is the caller's, wrapped in
// ErrFallbackRefused and matching goproc.ErrNotOnGoPath; with the breaker open the refusal is
// held for its retry hint; the Go share of percentage and auto routing sends them to the daemon.
// Only the kill switch sends them to Go, which answers goproc.ErrNotOnGoPath.
//
// When that matters, WithoutFallback(format) refuses the fallback for resizes to format (the
// caller gets the daemon's error, wrapped in ErrFallbackRefused), and WithFallbackFormat(from, to)
// has Go write another format instead (WebP to JPEG keeps the file small). WithFallbackFormat
// applies wherever Go serves a request in place of the daemon: fallbacks, the kill switch, the Go
// share of percentage and auto mode (not shadow mode, which compares like with like).
// WithoutFallback applies to fallbacks only: a policy that sends requests to Go is the
// operator's choice, and a kill switch that turned requests into errors would be an outage
// switch. Observer.Fallback (ferry_router_fallbacks_total) counts fallbacks by operation, reason
// and action (go, converted, refused).
//
// # A daemon that hangs
//
// A stopped or wedged daemon keeps its socket open and answers nothing. The Client notices on
// its own: a connection with requests pending that receives nothing, not even the answer to a
// ping, for its hang timeout (ferry.WithHangTimeout) fails its calls with ferry.ErrNotResponding,
// and a new connection's hello is bounded by ferry.DefaultDialTimeout (1 s). The breaker counts
// these failures, and the Go path serves the calls with the time they have left. When the
// breaker opens, the daemon attempts still waiting (on a dial to the stopped daemon, say) go to
// Go at once, and from then on calls go to Go without trying the daemon: the probe that tests it
// is a ping in the background, which no caller waits for. The fault test measures this against the real daemon
// (TestRouterFaultSIGSTOPCostsLittleOnceTheBreakerOpens): the breaker opened about 310 ms after
// the stop, and after that no call was sent to the stopped daemon.
//
// # Circuit breaker
//
// After BreakerConfig.ConsecutiveFailures daemon failures in a row, or a failure rate over a
// sliding window, the breaker opens for BreakerConfig.OpenFor (500 ms). Then, when the daemon
// Processor can be pinged (a *ferry.Client can), a ping in the background tests it, bounded by
// the Client's own hang timeout (its HangTimeout method, when it has one; at least
// MinBreakerProbeTimeout) or BreakerConfig.ProbeTimeout: an answer lets a few probe requests
// through (half-open), which close the breaker when they succeed; silence starts another
// cool-down. A restarted daemon is used again within about OpenFor plus the Client's redial
// backoff (TestRouterUsesARestartedDaemonWithinASecond: 6 to 504 ms after it answered its first
// ping). Only signs that the daemon is broken count as failures: never busy,
// too_large_for_budget, a deadline (the queue explains it; a daemon that stops answering is
// caught by the hang timeout) or a caller that gave up. A connection that breaks fails every
// call on it at once; that counts as one failure, not as many failures in a row.
//
// # Overload
//
// A busy daemon is healthy and full: its answer is backpressure. By default it is the caller's
// answer: ErrOverloaded wrapping the daemon's busy (so errors.Is(err, ferry.ErrBusy) and
// ferry.SafeToRetry hold), with a retry hint (RetryAfter). The Go path is not tried, since on the
// same cores it would take the CPU of about 18 daemon thumbnails for each one it makes;
// WithBusyFallback opts in for hosts with CPU to spare.
//
// The Router also throttles on the client side, as Google's SRE book describes ("Handling
// Overload"): over a sliding window (DefaultThrottleWindow, 10 s) it counts the requests meant
// for the daemon and the daemon's accepts (every answer but busy), and refuses a request locally
// with probability max(0, (requests - K*accepts) / (requests + 1)), K = 2, at most 95%. A daemon
// that answers busy to most requests is then sent about twice what it accepts, keeping its queue
// full, instead of whole images it would refuse after reading them. A local refusal is
// ErrOverloaded wrapping ErrThrottled and ferry.ErrBusy, recorded as {rust, throttled}. When the
// daemon accepts again the probability falls back to 0 within about two windows. WithThrottle
// tunes it (K < 0 turns it off); Observer.Throttled and Router.ThrottleProbability show it.
// A *ferry.Client throttles itself the same way by default (ferry.Throttle): in front of one the
// Router's own throttle stays off (WithThrottle then does nothing; tune the Client's with
// ferry.WithThrottle), so nothing is throttled twice, and the Client's local refusals
// (ferry.ErrThrottled, already held by the Client) are handled as the Router's own: {rust,
// throttled}, ErrOverloaded wrapping ErrThrottled, or Go with WithBusyFallback.
//
// The Go path has its own concurrency limit (goproc.WithConcurrency, GOMAXPROCS jobs by default)
// and a bounded wait for a free slot (goproc.WithQueueWait, one second by default, and the
// caller's context); a request it cannot take then fails with ErrOverloaded wrapping
// goproc.ErrSaturated. Work is never queued without bound: at most Concurrency Go jobs run at
// once, abandoned ones (whose caller's context ended) included until they stop at their next
// stage, and the daemon's own admission control bounds the rest.
//
// # Retrying
//
// Refusals the Router makes without calling either path (a throttle refusal; a fallback refused
// by WithoutFallback while the breaker is open) cost it nothing, so it holds each one for its
// retry hint (DefaultRetryAfter, jittered; for the breaker, until its next probe), at most until
// the caller's deadline, before returning it: a caller that retries at once is refused at most
// about twenty times a second, never millions of times (the issue measured 6.49 million "fallback
// refused" errors in 20 s from spinning callers). A service should still retry only what is safe
// to retry, after the hint, within its own deadline, or shed the request upstream:
//
//	for {
//		res, err := r.Resize(ctx, req)
//		if err == nil || !ferry.SafeToRetry(err) {
//			return res, err
//		}
//		select {
//		case <-ctx.Done():
//			return nil, err
//		case <-time.After(router.RetryAfter(err)):
//		}
//	}
//
// An HTTP service usually does better to answer 503 with Retry-After (router.RetryAfter(err),
// rounded up to whole seconds) and let its clients' backoff spread the retries.
//
// # Errors
//
// Every error from Resize and Checksum is a *Error: Served says which path produced it and why
// (after a fallback, {go, fallback} with the Go path's error; a request refused without a call,
// {rust, throttled} or {rust, breaker_open}), Err is the failure, and errors.Is and errors.As
// see through it (ferry.ErrBadImage, ferry.ErrBusy, ErrOverloaded, goproc.ErrSaturated, ...).
//
// # Metrics
//
// The Router reports what it does to an Observer (WithObserver): requests, attempts, fallbacks,
// breaker transitions, probes, policy changes, throttle refusals and shadow comparisons. By
// default it observes nothing. Package routerprom holds the Prometheus collector (the metrics
// ferry_router_*), in a package of its own so that importing router costs what routing needs:
// `go list -deps ./router` counts 198 packages (317 with Prometheus inside), of which 197 are
// the Go path's (package goproc) alone, 49 of those its WebAssembly codecs' (the wazero runtime,
// purego, the codec packages: the price of a fallback whose WebP and AVIF match the daemon's;
// 149 before them). For the same reason Logger is an interface (a
// *slog.Logger is one), the default cost table is a string constant rather than go:embed, and
// the shadow comparison decodes with the image packages the Go path already builds.
package router
