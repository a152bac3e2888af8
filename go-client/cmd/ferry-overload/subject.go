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

func dialPlain(socket string) (*subject, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ferry.Dial(ctx, socket)
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
	// The Prometheus observer only counts; the Router's behaviour is its defaults'.
	metrics := routerprom.NewMetrics()
	r, err := router.New(c, g, router.WithObserver(metrics))
	if err != nil {
		c.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	metricsOK := reg.Register(metrics) == nil
	// The breaker's transitions counter sees every opening; polling BreakerState too covers a
	// router whose metrics are renamed (it can miss an opening shorter than a millisecond).
	var polled atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		last := r.BreakerState()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if s := r.BreakerState(); s != last {
				if s == router.BreakerOpen {
					polled.Add(1)
				}
				last = s
			}
		}
	}()
	opens := func() int {
		n := int(polled.Load())
		if metricsOK {
			n = max(n, counted(reg, "ferry_router_breaker_transitions_total", "state", "open"))
		}
		return n
	}
	var once sync.Once
	return &subject{name: routerName, proc: r, breakerOpens: opens, close: func() {
		once.Do(func() { close(stop); <-done; r.Close(); c.Close() })
	}}, nil
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
