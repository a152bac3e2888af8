//go:build linux

package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/router"
	"github.com/ferryd/ferry/go-client/router/routerprom"
	"github.com/prometheus/client_golang/prometheus"
)

// The two ways a Go service calls ferry, compared side by side.
const (
	plainName  = "client"
	routerName = "router"
)

// subject is one Processor under load, built as a new user builds it: ferry.Dial with default
// options, and for the router router.New(client, nil) with default options.
type subject struct {
	name string
	proc ferry.Processor
	// breakerOpens counts the breaker entering open so far (nil for the plain client).
	breakerOpens func() int
	close        func()
}

func dialPlain(socket string, opts ...ferry.Option) (*subject, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ferry.Dial(ctx, socket, opts...)
	if err != nil {
		return nil, err
	}
	return &subject{name: plainName, proc: c, close: func() { c.Close() }}, nil
}

// dialRouter builds the router on a default Client. goPath nil is the router's own default Go
// path; the kill cell passes goproc.New() (the same default) to watch how many Go jobs run.
func dialRouter(socket string, goPath *goproc.Processor) (*subject, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ferry.Dial(ctx, socket)
	if err != nil {
		return nil, err
	}
	var g ferry.Processor
	if goPath != nil {
		g = goPath
	}
	// The observers only count; the Router's behaviour is its defaults'. openings counts every
	// move into open as it happens, with no goroutine of the harness's own beside the router's
	// callers (an earlier version polled BreakerState every millisecond: a goroutine waking
	// 1000 times a second on the router's side only, which cost it CPU the plain client did not
	// pay in the cells with burners).
	metrics := routerprom.NewMetrics()
	opened := &openings{Observer: metrics}
	r, err := router.New(c, g, router.WithObserver(opened))
	if err != nil {
		c.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	metricsOK := reg.Register(metrics) == nil
	opens := func() int {
		n := int(opened.n.Load())
		if metricsOK {
			n = max(n, counted(reg, "ferry_router_breaker_transitions_total", "state", "open"))
		}
		return n
	}
	var once sync.Once
	return &subject{name: routerName, proc: r, breakerOpens: opens, close: func() {
		once.Do(func() { r.Close(); c.Close() })
	}}, nil
}

// openings passes every event to the metrics and counts the breaker's moves into open.
type openings struct {
	router.Observer
	n atomic.Int64
}

func (o *openings) BreakerChanged(from, to router.BreakerState) {
	if to == router.BreakerOpen {
		o.n.Add(1)
	}
	o.Observer.BreakerChanged(from, to)
}

// counted reads one counter of a registry by name and label, 0 when absent.
func counted(reg *prometheus.Registry, name, label, value string) int {
	families, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return 0
}
