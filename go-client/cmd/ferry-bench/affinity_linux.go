package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinForPing puts every thread of the process self and of each server on the first CPU self may
// use, so that no round trip waits for another CPU to wake. It returns a function that gives
// every thread of them its former affinity back (threads started meanwhile inherited the pinned
// one, and get it back too), and whether it pinned: not with fewer than two CPUs (pinning
// would change nothing), or when a process cannot be changed.
func pinForPing(self int, servers ...int) (unpin func(), pinned bool) {
	var was unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		return func() {}, false
	}
	var cpus []int
	for cpu := 0; cpu < 1024 && len(cpus) < 2; cpu++ {
		if was.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	all := append([]int{self}, servers...)
	unpin = func() {
		for _, pid := range all {
			_ = setProcessAffinity(pid, &was)
		}
	}
	if len(cpus) < 2 {
		return func() {}, false
	}
	var one unix.CPUSet
	one.Set(cpus[0])
	var err error
	for _, pid := range all {
		if err == nil {
			err = setProcessAffinity(pid, &one)
		}
	}
	if err != nil {
		unpin()
		return func() {}, false
	}
	return unpin, true
}

// setProcessAffinity sets the affinity of every thread of pid (sched_setaffinity is per thread).
func setProcessAffinity(pid int, set *unix.CPUSet) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH { // ESRCH: thread ended
			return fmt.Errorf("affinity of thread %d of %d: %w", tid, pid, err)
		}
	}
	return nil
}
