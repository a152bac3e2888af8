package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/childproc"
)

// daemon is the ferryd under test and a Client to it.
type daemon struct {
	pid    int
	socket string
	client *ferry.Client
	cmd    *exec.Cmd // nil when attached to a daemon someone else started
	dir    string
}

// openDaemon starts o.ferryd on a temporary socket, or attaches to o.socket.
func openDaemon(o options) (*daemon, error) {
	d := &daemon{socket: o.socket, pid: o.pid}
	if d.socket == "" {
		dir, err := os.MkdirTemp("", "fb")
		if err != nil {
			return nil, err
		}
		d.dir, d.socket = dir, filepath.Join(dir, "d.sock")
		d.cmd = exec.Command(o.ferryd, "--socket", d.socket, "--log-level", "warn")
		d.cmd.Stderr = os.Stderr
		childproc.DieWithParent(d.cmd)
		if err := d.cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("starting %s: %w", o.ferryd, err)
		}
		d.pid = d.cmd.Process.Pid
	} else if d.pid == 0 {
		return nil, fmt.Errorf("-socket needs -pid (the daemon's CPU and memory are read from /proc)")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		// A bench on a shared host: a process stalled for half a second by the load of others
		// is not a hung daemon (the default floor, 250 ms, stopped a run at a load of 11 on 2
		// cores), and the figures are about speed, not hang detection.
		c, err := ferry.Dial(ctx, d.socket, ferry.WithHangTimeout(benchHangTimeout))
		if err == nil {
			err = c.Ping(ctx)
		}
		cancel()
		if err == nil {
			d.client = c
			return d, nil
		}
		if c != nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			d.close()
			return nil, fmt.Errorf("ferryd on %s did not answer: %w", d.socket, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// benchHangTimeout is the floor of the harness Client's hang timeout.
const benchHangTimeout = 5 * time.Second

func (d *daemon) close() {
	if d.client != nil {
		d.client.Close()
	}
	if d.cmd != nil {
		_ = d.cmd.Process.Signal(childproc.Terminate)
		_ = d.cmd.Wait()
		os.RemoveAll(d.dir)
	}
}

// cpu is the daemon's user+system CPU time so far.
func (d *daemon) cpu() time.Duration { return procCPU(d.pid) }

// rssKiB reads VmRSS (resident now) or VmHWM (peak since start or the last resetPeak) of the
// daemon, in KiB.
func (d *daemon) rssKiB(field string) int64 { return procStatusKiB(d.pid, field) }

// resetPeak sets the daemon's VmHWM back to its current RSS (Linux clear_refs 5), so a phase's
// peak can be read on its own. It reports whether the kernel allowed it.
func (d *daemon) resetPeak() bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", d.pid), []byte("5"), 0) == nil
}

// procCPU reads utime+stime of a process from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// fields after the parenthesised command name: state is field 3, utime 14, stime 15
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticksPerSecond
}

// procStatusKiB reads one "Name:   123 kB" line of /proc/PID/status.
func procStatusKiB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// selfPeakRSS is this Go process's peak resident memory in KiB.
func selfPeakRSS() int64 { return procStatusKiB(os.Getpid(), "VmHWM") }
