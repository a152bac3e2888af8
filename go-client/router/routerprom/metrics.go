// Package routerprom counts a router.Router's events into Prometheus metrics: a
// router.Observer that is also a prometheus.Collector. It is a package of its own so that a
// service importing package router builds Prometheus only when it wants it.
//
//	m := routerprom.NewMetrics()
//	prometheus.MustRegister(m)
//	r, err := router.New(client, nil, router.WithObserver(m))
package routerprom

import (
	"sync"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/router"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a Router's Prometheus metrics. Register them on your registry and give them to
// router.New with router.WithObserver; several Routers may share one Metrics.
//
// Every name starts with ferry_router_. Label values are bounded: op is resize or checksum, path
// rust or go, reason one of the ferry.Reason words, outcome "ok" or router.Outcome's word.
type Metrics struct {
	router.NopObserver // methods added to router.Observer later observe nothing here

	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	attemptDuration  *prometheus.HistogramVec
	fallbacks        *prometheus.CounterVec
	breakerState     prometheus.Gauge
	breakerChanges   *prometheus.CounterVec
	probes           *prometheus.CounterVec
	throttled        *prometheus.CounterVec
	throttleP        prometheus.Gauge
	shadowCompared   *prometheus.CounterVec
	shadowMismatches *prometheus.CounterVec
	policyMode       *prometheus.GaugeVec
	rustPercent      prometheus.Gauge
	policyChanges    *prometheus.CounterVec

	// requestChildren and attemptChildren cache the per-label children of the per-request
	// metrics (requestKey to *requestMetrics, attemptKey to prometheus.Observer): looking a
	// child up by its label values hashes and validates them, which costs a small in-process
	// checksum a good share of its time. The label values are bounded, so the caches are too.
	requestChildren sync.Map
	attemptChildren sync.Map
}

// Metrics observe a Router and export what they saw.
var (
	_ router.Observer      = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)

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
			Help: "Requests meant for the daemon that it did not serve, by operation, reason (breaker_open, throttled, or the daemon's outcome: unavailable, connection_lost, not_responding, too_large_for_budget, and with busy fallback busy, deadline_exceeded) and action: go (served on Go), converted (served on Go in the fallback format), refused (the daemon's error returned: WithoutFallback). Requests sent to Go by policy whose format was converted count here too, with the policy's reason (kill_switch, percentage, cost).",
		}, []string{"op", "reason", "action"}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_router_breaker_state",
			Help: "Circuit breaker in front of the daemon: 0 closed, 1 half-open, 2 open.",
		}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_breaker_transitions_total",
			Help: "Circuit breaker state changes, by the state entered.",
		}, []string{"to"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_probes_total",
			Help: "Pings that tested an open breaker's daemon, by outcome (ok, or the failure's word).",
		}, []string{"outcome"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_router_throttled_total",
			Help: "Requests the client-side throttle refused without calling the daemon, by operation.",
		}, []string{"op"}),
		throttleP: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_router_throttle_reject_probability",
			Help: "The client-side throttle's refusal probability at its last refusal (0 until it refuses).",
		}),
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
		m.breakerChanges, m.probes, m.throttled, m.throttleP, m.shadowCompared, m.shadowMismatches,
		m.policyMode, m.rustPercent, m.policyChanges}
}

// Request implements router.Observer.
func (m *Metrics) Request(op string, s ferry.Served, err error, elapsed time.Duration) {
	k := requestKey{op, s, router.Outcome(err)}
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

// Attempt implements router.Observer.
func (m *Metrics) Attempt(op string, p ferry.Path, _ error, elapsed time.Duration) {
	k := attemptKey{op, p}
	o, ok := m.attemptChildren.Load(k)
	if !ok {
		o, _ = m.attemptChildren.LoadOrStore(k, m.attemptDuration.WithLabelValues(op, string(p)))
	}
	o.(prometheus.Observer).Observe(elapsed.Seconds())
}

// Fallback implements router.Observer.
func (m *Metrics) Fallback(op, reason, action string) {
	m.fallbacks.WithLabelValues(op, reason, action).Inc()
}

// BreakerChanged implements router.Observer.
func (m *Metrics) BreakerChanged(_, to router.BreakerState) {
	m.breakerState.Set(float64(to))
	m.breakerChanges.WithLabelValues(to.String()).Inc()
}

// Probe implements router.Observer.
func (m *Metrics) Probe(err error, _ time.Duration) {
	m.probes.WithLabelValues(router.Outcome(err)).Inc()
}

// Throttled implements router.Observer.
func (m *Metrics) Throttled(op string, p float64) {
	m.throttled.WithLabelValues(op).Inc()
	m.throttleP.Set(p)
}

// Shadow implements router.Observer.
func (m *Metrics) Shadow(op, result string) {
	m.shadowCompared.WithLabelValues(op, result).Inc()
	if result == "mismatch" {
		m.shadowMismatches.WithLabelValues(op).Inc()
	}
}

// PolicyChanged implements router.Observer.
func (m *Metrics) PolicyChanged(p router.Policy, source string) {
	for _, mode := range []router.RouteMode{router.RouteRust, router.RouteGo, router.RoutePercentage, router.RouteShadow, router.RouteAuto} {
		v := 0.0
		if mode == p.Mode {
			v = 1
		}
		m.policyMode.WithLabelValues(string(mode)).Set(v)
	}
	m.rustPercent.Set(p.RustShare())
	m.policyChanges.WithLabelValues(source).Inc()
}
