//go:build linux

package main

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// burnSink keeps the spinning loops' work observable, so the compiler cannot drop it.
var burnSink atomic.Int64

// burnCPU starts GOMAXPROCS goroutines that spin, the neighbours a busy Go service has in its own
// process: they compete with the callers, the client's goroutines and the Go path for the cores.
// The returned func stops them and waits for them.
func burnCPU() (stop func()) {
	var quit atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for !quit.Load() {
				n++
			}
			burnSink.Add(n)
		}()
	}
	return func() { quit.Store(true); wg.Wait() }
}
