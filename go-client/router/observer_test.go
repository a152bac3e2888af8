package router

import (
	"fmt"
	"sync"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// counts is an Observer that counts every event by its labels, as routerprom does, for the
// tests to read.
type counts struct {
	mu     sync.Mutex
	events map[string]float64
	state  BreakerState
	mode   RouteMode
}

func newCounts() *counts { return &counts{events: map[string]float64{}} }

func (c *counts) add(key string) {
	c.mu.Lock()
	c.events[key]++
	c.mu.Unlock()
}

func (c *counts) get(key string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events[key]
}

func (c *counts) Request(op string, s ferry.Served, err error, _ time.Duration) {
	c.add(fmt.Sprint("request ", op, s.Path, s.Reason, Outcome(err)))
}
func (c *counts) Attempt(op string, p ferry.Path, _ error, _ time.Duration) {
	c.add(fmt.Sprint("attempt ", op, p))
}
func (c *counts) Fallback(op, reason, action string) {
	c.add(fmt.Sprint("fallback ", op, reason, action))
}
func (c *counts) BreakerChanged(_, to BreakerState) {
	c.mu.Lock()
	c.state = to
	c.mu.Unlock()
	c.add("breaker " + to.String())
}
func (c *counts) Probe(err error, _ time.Duration) { c.add(fmt.Sprint("probe ", err == nil)) }
func (c *counts) PolicyChanged(p Policy, source string) {
	c.mu.Lock()
	c.mode = p.Mode
	c.mu.Unlock()
	c.add("policy " + source)
}
func (c *counts) Throttled(op string, _ float64) { c.add("throttled " + op) }
func (c *counts) Shadow(op, result string)       { c.add(fmt.Sprint("shadow ", op, result)) }

// The readers, named after the Prometheus metrics that count the same events.
func (c *counts) requests(op, path, reason, outcome string) float64 {
	return c.get(fmt.Sprint("request ", op, path, reason, outcome))
}
func (c *counts) fallbacks(op, reason, action string) float64 {
	return c.get(fmt.Sprint("fallback ", op, reason, action))
}
func (c *counts) breakerChanges(to string) float64 { return c.get("breaker " + to) }
func (c *counts) breakerState() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return float64(c.state)
}
func (c *counts) policyMode(mode string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if string(c.mode) == mode {
		return 1
	}
	return 0
}
func (c *counts) policyChanges(source string) float64 { return c.get("policy " + source) }
func (c *counts) shadowCompared(op, result string) float64 {
	return c.get(fmt.Sprint("shadow ", op, result))
}
func (c *counts) shadowMismatches(op string) float64 { return c.shadowCompared(op, "mismatch") }
func (c *counts) throttled(op string) float64        { return c.get("throttled " + op) }
func (c *counts) probes(ok bool) float64             { return c.get(fmt.Sprint("probe ", ok)) }

// countsOf is the counts a test Router observes into (newTestRouter and faultRouter install one).
func countsOf(t testing.TB, r *Router) *counts {
	t.Helper()
	c, ok := r.obs.(*counts)
	if !ok {
		t.Fatalf("the router observes into %T, not a test's counts", r.obs)
	}
	return c
}
