package main

import (
	"runtime"
	"runtime/metrics"
)

// gcEvery is how much the auto cells may allocate between two collections (the heap then
// stays under a few hundred MiB while the collector is held off).
const gcEvery = 128 << 20

// passCollector starts a garbage collection between two passes of a cell once the process has
// allocated gcEvery bytes since the last one, so that with the collector otherwise held off no
// collection runs inside a timed call and none is forced on passes that allocate little.
type passCollector struct {
	every  uint64
	last   uint64
	sample []metrics.Sample
}

func newPassCollector(every uint64) *passCollector {
	c := &passCollector{every: every, sample: []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}}
	c.last = c.allocated()
	return c
}

// allocated is the bytes allocated on the heap since the process started.
func (c *passCollector) allocated() uint64 {
	metrics.Read(c.sample)
	return c.sample[0].Value.Uint64()
}

// between is called between passes, outside any timed call.
func (c *passCollector) between() {
	if now := c.allocated(); now-c.last >= c.every {
		runtime.GC()
		c.last = c.allocated()
	}
}
