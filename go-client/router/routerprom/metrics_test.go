package routerprom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testimages"
	"github.com/ferryd/ferry/go-client/router"
	"github.com/ferryd/ferry/go-client/router/routerprom"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// downDaemon is a daemon Processor that is never reachable.
type downDaemon struct{}

func (downDaemon) Resize(context.Context, ferry.ResizeRequest) (*ferry.ResizeResult, error) {
	return nil, ferry.ErrUnavailable
}

func (downDaemon) Checksum(context.Context, ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	return nil, ferry.ErrUnavailable
}

// The metrics keep the names they had when they lived in package router, and count what a Router
// does: requests by path, reason and outcome, fallbacks, breaker transitions, policy.
func TestMetricsCountARoutersEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := routerprom.NewMetrics()
	reg.MustRegister(m)
	r, err := router.New(downDaemon{}, goproc.New(), router.WithObserver(m),
		router.WithBreaker(router.BreakerConfig{ConsecutiveFailures: 2, OpenFor: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum := ferry.ChecksumRequest{Data: []byte("ferry"), Algorithms: []ferry.Algorithm{ferry.CRC32C}}
	for range 3 {
		if _, err := r.Checksum(ctx, sum); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Resize(ctx, ferry.ResizeRequest{Image: testimages.EncodePNG(t, testimages.Painted(20, 20)), Width: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resize(ctx, ferry.ResizeRequest{Image: []byte("junk"), Width: 10}); !errors.Is(err, ferry.ErrBadImage) {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{"ferry_router_requests_total", "ferry_router_request_duration_seconds",
		"ferry_router_attempt_duration_seconds", "ferry_router_fallbacks_total", "ferry_router_breaker_state",
		"ferry_router_breaker_transitions_total", "ferry_router_policy_mode", "ferry_router_rust_percent",
		"ferry_router_policy_changes_total"} {
		if !names[want] {
			t.Errorf("%s not exported (have %v)", want, names)
		}
	}
	// breaker_open after two unavailable fallbacks: 2 + 1 checksums, then two resizes
	for _, c := range []struct {
		path, reason, outcome string
		want                  float64
	}{
		{"go", "fallback", "ok", 2},
		{"go", "breaker_open", "ok", 1},
	} {
		if got := testutil.ToFloat64(m.RequestsForTest("checksum", c.path, c.reason, c.outcome)); got != c.want {
			t.Errorf("requests{checksum,%s,%s,%s} = %v, want %v", c.path, c.reason, c.outcome, got, c.want)
		}
	}
	if got := testutil.ToFloat64(m.RequestsForTest("resize", "go", "breaker_open", "bad_image")); got != 1 {
		t.Errorf("requests{resize,go,breaker_open,bad_image} = %v", got)
	}
	if n := testutil.CollectAndCount(m, "ferry_router_requests_total"); n != 4 {
		t.Errorf("requests_total has %d series, want 4", n)
	}
	if n := testutil.CollectAndCount(m, "ferry_router_fallbacks_total"); n != 3 {
		t.Errorf("fallbacks_total has %d series, want 3 (checksum unavailable and breaker_open, resize breaker_open)", n)
	}
	if got := testutil.ToFloat64(m.BreakerStateForTest()); got != float64(router.BreakerOpen) {
		t.Errorf("breaker_state = %v, want open", got)
	}
}
