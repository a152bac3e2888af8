package router

import (
	"context"
	"errors"
	"sync"
	"time"

	ferry "github.com/ferryd/ferry/go-client"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Router's Prometheus metrics. A Router always counts (it makes its own Metrics
// unless WithMetrics gives one); register them on your registry to export them:
//
//	m := router.NewMetrics()
//	prometheus.MustRegister(m)
//	r, err := router.New(client, goproc.New(), router.WithMetrics(m))
//
// Every name starts with ferry_router_. Label values are bounded: op is resize or checksum, path
// rust or go, reason one of the ferry.Reason words, outcome "ok" or an error code word.
type Metrics struct {
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	attemptDuration  *prometheus.HistogramVec
	fallbacks        *prometheus.CounterVec
	breakerState     prometheus.Gauge
	breakerChanges   *prometheus.CounterVec
	shadowCompared   *prometheus.CounterVec
	shadowMismatches *prometheus.CounterVec
	policyMode       *prometheus.GaugeVec
	rustPercent      prometheus.Gauge
	policyChanges    *prometheus.CounterVec

	// requestChildren and attemptChildren cache the per-label children of the per-request
	// metrics (requestKey to *requestChildren, attemptKey to prometheus.Observer): looking a
	// child up by its label values hashes and validates them, which costs a small in-process
	// checksum a good share of its time. The label values are bounded, so the caches are too.
	requestChildren sync.Map
	attemptChildren sync.Map
}

type requestKey struct {
	op      string
	served  ferry.Served
	outcome string
}

type requestMetrics struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

type attemptKey struct {
	op   string
	path ferry.Path
}

// latencyBuckets span a cheap checksum (tens of microseconds) to a large photo (seconds).
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2.5, 14)

// NewMetrics creates the Router metrics, unregistered.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_requests_total",
			Help: "Requests answered by the router, by operation, the path that served (or refused) them, why that path, and outcome.",
		}, []string{"op", "path", "reason", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_router_request_duration_seconds",
			Help:    "Time from the router's call to its answer, by operation and the path that served it (a fallback includes the failed daemon attempt).",
			Buckets: latencyBuckets,
		}, []string{"op", "path"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_router_attempt_duration_seconds",
			Help:    "Time of each attempt on one path, successful or not, by operation and path (shadow calls included).",
			Buckets: latencyBuckets,
		}, []string{"op", "path"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_fallbacks_total",
			Help: "Requests meant for the daemon that it did not serve, by operation, reason (breaker_open, probe_failed, or the daemon's outcome: busy, unavailable, connection_lost, deadline_exceeded, too_large_for_budget, ...) and action: go (served on Go), converted (served on Go in the fallback format), refused (the daemon's error returned: WithoutFallback).",
		}, []string{"op", "reason", "action"}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_router_breaker_state",
			Help: "Circuit breaker in front of the daemon: 0 closed, 1 half-open, 2 open.",
		}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_breaker_transitions_total",
			Help: "Circuit breaker state changes, by the state entered.",
		}, []string{"to"}),
		shadowCompared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_shadow_comparisons_total",
			Help: "Shadow-mode comparisons, by operation and result: match, mismatch, error (the shadow call failed for a reason of its own), skipped (no capacity, or the breaker was open).",
		}, []string{"op", "result"}),
		shadowMismatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_shadow_mismatches_total",
			Help: "Shadow-mode results that differed from the primary's, by operation.",
		}, []string{"op"}),
		policyMode: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_router_policy_mode",
			Help: "1 for the routing mode in force (rust, go, percentage, shadow, auto), 0 for the others.",
		}, []string{"mode"}),
		rustPercent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_router_rust_percent",
			Help: "Share of requests routed to the daemon in percentage mode (100 for rust and shadow with Rust primary, 0 for go, -1 for auto, which decides per request).",
		}),
		policyChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_policy_changes_total",
			Help: "Policy changes applied, by source: option, env, file, api.",
		}, []string{"source"}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.duration, m.attemptDuration, m.fallbacks, m.breakerState,
		m.breakerChanges, m.shadowCompared, m.shadowMismatches, m.policyMode, m.rustPercent, m.policyChanges}
}

func (m *Metrics) request(op string, s ferry.Served, err error, elapsed time.Duration) {
	k := requestKey{op, s, outcomeOf(err)}
	c, ok := m.requestChildren.Load(k)
	if !ok {
		c, _ = m.requestChildren.LoadOrStore(k, &requestMetrics{
			count:    m.requests.WithLabelValues(op, string(s.Path), string(s.Reason), k.outcome),
			duration: m.duration.WithLabelValues(op, string(s.Path)),
		})
	}
	rm := c.(*requestMetrics)
	rm.count.Inc()
	rm.duration.Observe(elapsed.Seconds())
}

func (m *Metrics) fallback(op, reason, action string) {
	m.fallbacks.WithLabelValues(op, reason, action).Inc()
}

func (m *Metrics) attempt(op string, p ferry.Path, elapsed time.Duration) {
	k := attemptKey{op, p}
	o, ok := m.attemptChildren.Load(k)
	if !ok {
		o, _ = m.attemptChildren.LoadOrStore(k, m.attemptDuration.WithLabelValues(op, string(p)))
	}
	o.(prometheus.Observer).Observe(elapsed.Seconds())
}

func (m *Metrics) breaker(to BreakerState) {
	m.breakerState.Set(float64(to))
	m.breakerChanges.WithLabelValues(to.String()).Inc()
}

func (m *Metrics) policy(p Policy, source string) {
	for _, mode := range []RouteMode{RouteRust, RouteGo, RoutePercentage, RouteShadow, RouteAuto} {
		v := 0.0
		if mode == p.Mode {
			v = 1
		}
		m.policyMode.WithLabelValues(string(mode)).Set(v)
	}
	m.rustPercent.Set(p.rustShare())
	m.policyChanges.WithLabelValues(source).Inc()
}

// outcomeOf names a result for the outcome label: "ok", the daemon's code word for a
// *ferry.ServerError, or the client-side failure.
func outcomeOf(err error) string {
	if err == nil {
		return "ok" // before se, which escapes to the heap: a success allocates nothing here
	}
	var se *ferry.ServerError
	switch {
	case errors.Is(err, ErrOverloaded):
		return "overloaded"
	case errors.Is(err, ferry.ErrNotResponding):
		return "not_responding"
	case errors.As(err, &se):
		return se.Code.String()
	case errors.Is(err, ferry.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ferry.ErrConnectionLost):
		return "connection_lost"
	case errors.Is(err, ferry.ErrClosed):
		return "closed"
	case errors.Is(err, ferry.ErrRequestTooLarge):
		return "request_too_large"
	case errors.Is(err, ferry.ErrProtocol):
		return "protocol_error"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "error"
}
