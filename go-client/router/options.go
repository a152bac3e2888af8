package router

import (
	"reflect"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// DefaultRustTimeout caps a daemon attempt whose caller set no deadline. It travels to the daemon
// as the request's timeout_ms, so a daemon that expects to miss it answers busy at once instead
// of queueing the job, and a call without a deadline cannot wait on the daemon without bound.
// A caller's own deadline is never shortened: with one, the daemon gets all of it (a daemon
// that hangs is caught sooner, by the Client's hang timeout, and the Go path serves then).
const DefaultRustTimeout = 2 * time.Second

// Option configures a Router; pass options to New.
type Option func(*config)

type config struct {
	policy       Policy
	policyFile   string
	pollInterval time.Duration
	breaker      BreakerConfig
	throttle     ThrottleConfig
	rustTimeout  time.Duration
	busyFallback bool
	observer     Observer
	log          Logger
	shadow       ShadowConfig
	fallback     map[ferry.Format]fallbackRule
	now          func() time.Time
	// costTable routes RouteAuto; costFile, when set, is loaded by New in its place.
	costTable *CostTable
	costFile  string
	routes    *costRoutes // costTable compiled
}

// WithPolicy sets the policy the Router starts with (default: RouteRust). FERRY_ROUTE and the
// policy file, when present, take precedence, in that order.
func WithPolicy(p Policy) Option { return func(c *config) { c.policy = p } }

// WithPolicyFile names a file holding the policy (ParsePolicy's syntax, first non-comment line),
// read by New and then polled every interval (DefaultPolicyPollInterval when <= 0). A
// valid change takes effect at the next poll; an invalid one is logged and ignored; a missing
// file leaves the policy as it is.
func WithPolicyFile(path string, interval time.Duration) Option {
	return func(c *config) { c.policyFile, c.pollInterval = path, interval }
}

// WithCostTable makes RouteAuto route by t instead of DefaultCostTable (see CostTable). New
// refuses a table that does not validate.
func WithCostTable(t *CostTable) Option { return func(c *config) { c.costTable, c.costFile = t, "" } }

// WithCostTableFile makes RouteAuto route by the cost table in the file at path (the
// crossover.json that `make bench` writes on the machine that serves), read once by New; New
// fails when the file is missing or invalid.
func WithCostTableFile(path string) Option {
	return func(c *config) { c.costTable, c.costFile = nil, path }
}

// WithBreaker tunes the circuit breaker (zero fields take their defaults).
func WithBreaker(cfg BreakerConfig) Option { return func(c *config) { c.breaker = cfg } }

// WithThrottle tunes the client-side throttle (zero fields take their defaults; a negative K
// turns it off).
func WithThrottle(cfg ThrottleConfig) Option { return func(c *config) { c.throttle = cfg } }

// WithRustTimeout caps a daemon attempt whose caller set no deadline (DefaultRustTimeout when
// d <= 0). It never shortens a caller's deadline.
func WithRustTimeout(d time.Duration) Option { return func(c *config) { c.rustTimeout = d } }

// WithBusyFallback sends to the Go path the requests the daemon cannot take for now: a busy
// answer, a throttle refusal, or a daemon deadline_exceeded while the caller still has time.
// Without it those are the caller's answer (ErrOverloaded, with a retry hint).
//
// Only for a host with cores the daemon does not use: the Go path costs about 18 times the CPU
// of the daemon per thumbnail (the bench's figure on the sample photos), so on the daemon's own
// cores every request moved to Go takes the CPU of many the daemon would have served, and the
// overload deepens. The Go path's own limit (goproc.WithConcurrency) still bounds it; a full Go
// path answers ErrOverloaded.
func WithBusyFallback() Option { return func(c *config) { c.busyFallback = true } }

// WithObserver makes the Router report what it does to o (routerprom.Metrics for Prometheus);
// without it the Router observes nothing.
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// WithLogger makes the Router log to l (a *slog.Logger will do); without it the Router logs
// nothing. Breaker transitions, the throttle engaging and releasing, and policy changes are
// logged at Info or Warn, shadow mismatches at Warn.
func WithLogger(l Logger) Option {
	return func(c *config) {
		if v := reflect.ValueOf(l); v.Kind() == reflect.Pointer && v.IsNil() {
			l = nil // a nil *slog.Logger means no logger, as it did when the option took one
		}
		c.log = l
	}
}

// WithShadow tunes shadow mode.
func WithShadow(s ShadowConfig) Option { return func(c *config) { c.shadow = s } }

// withClock replaces time.Now, for tests of the breaker's and the throttle's timing.
func withClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// ShadowConfig tunes shadow mode. Zero fields take their defaults.
type ShadowConfig struct {
	// MaxInFlight bounds the shadow calls running at once (default DefaultShadowMaxInFlight).
	MaxInFlight int
	// Timeout bounds one shadow call; it is independent of the caller's context, which may end as
	// soon as the primary has answered (default DefaultShadowTimeout).
	Timeout time.Duration
	// MinPSNR is the lowest PSNR, in dB, at which two resized images count as the same picture
	// (default DefaultShadowMinPSNR).
	MinPSNR float64
	// OnReport, if set, is called with every comparison, from the shadow call's goroutine.
	OnReport func(ShadowReport)
}

// Defaults of ShadowConfig.
const (
	DefaultShadowMaxInFlight = 4
	DefaultShadowTimeout     = 10 * time.Second
	// DefaultShadowMinPSNR: the two paths' encoders and resamplers differ (libjpeg-turbo and
	// image/jpeg; the same libwebp, but different pixels to encode), so equal pictures measure
	// 29 to 55 dB in the differential tests; a wrong crop, orientation or colour falls far below.
	DefaultShadowMinPSNR = 22.0
)
