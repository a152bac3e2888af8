//go:build linux

package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// What an interrupted run must undo: the daemons it started would die with it (Pdeathsig), but a
// cgroup it made would stay behind. Undo functions run last-registered first, like defers.
var undo struct {
	sync.Mutex
	next int
	fns  map[int]func()
}

// onInterrupt registers fn to run if the harness is interrupted; the returned func unregisters it.
func onInterrupt(fn func()) (forget func()) {
	undo.Lock()
	defer undo.Unlock()
	if undo.fns == nil {
		undo.fns = map[int]func(){}
	}
	id := undo.next
	undo.next++
	undo.fns[id] = fn
	return func() {
		undo.Lock()
		delete(undo.fns, id)
		undo.Unlock()
	}
}

// handleInterrupts makes SIGINT and SIGTERM run the registered undo functions, then exit 130.
func handleInterrupts() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-ch
		fmt.Fprintf(os.Stderr, "\nferry-overload: %v: stopping the daemons and removing the cgroup\n", sig)
		undo.Lock()
		for id := undo.next - 1; id >= 0; id-- {
			if fn, ok := undo.fns[id]; ok {
				fn()
			}
		}
		undo.Unlock()
		os.Exit(130)
	}()
}
