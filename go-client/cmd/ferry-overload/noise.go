//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMark is the machine's busy CPU time and this process's own (with its waited-for children:
// the daemons), at one moment; two marks say how much CPU other processes took in between, the
// noise every figure of a shared machine carries.
type cpuMark struct {
	at         time.Time
	busy, ours time.Duration
}

func markCPU() cpuMark {
	m := cpuMark{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		var busy int64
		for i, f := range fields[1:] {
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			if i >= 8 { // guest time is already in user
				break
			}
			n, _ := strconv.ParseInt(f, 10, 64)
			busy += n
		}
		const ticksPerSecond = 100 // USER_HZ
		m.busy = time.Duration(busy) * time.Second / ticksPerSecond
	}
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			m.ours += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return m
}

// othersShare is the share of the machine's CPU capacity that other processes used between
// start and end (0 to 1).
func othersShare(start, end cpuMark, cpus int) float64 {
	wall := end.at.Sub(start.at)
	if wall <= 0 || cpus <= 0 {
		return 0
	}
	others := (end.busy - start.busy) - (end.ours - start.ours)
	return max(0, float64(others)/float64(wall*time.Duration(cpus)))
}
