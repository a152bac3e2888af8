package routerprom

import "github.com/prometheus/client_golang/prometheus"

// Accessors to single series, for the tests.

func (m *Metrics) RequestsForTest(op, path, reason, outcome string) prometheus.Counter {
	return m.requests.WithLabelValues(op, path, reason, outcome)
}

func (m *Metrics) BreakerStateForTest() prometheus.Gauge { return m.breakerState }
