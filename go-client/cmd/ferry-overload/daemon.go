//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// daemon is one ferryd the harness owns: its socket in a short temporary directory (Unix socket
// paths must stay under 108 bytes), its log beside it, and its successive runs after kill.
type daemon struct {
	bin, dir, socket, logPath string
	flags                     []string
	// metricsSocket is the current run's --metrics-listen socket (a new name each run, so a
	// restart never meets the file of the run before).
	metricsSocket string
	runs          int

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// readyTimeout bounds how long a start waits for the first answered ping.
const readyTimeout = 15 * time.Second

// startDaemon runs bin with --socket and flags and waits until it answers a ping.
func startDaemon(bin string, flags []string) (*daemon, error) {
	dir, err := os.MkdirTemp("", "fo")
	if err != nil {
		return nil, err
	}
	d := &daemon{bin: bin, dir: dir, socket: filepath.Join(dir, "d.sock"), logPath: filepath.Join(dir, "ferryd.log"), flags: flags}
	if err := d.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if _, err := d.waitReady(readyTimeout); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// start execs one run of the daemon (on the same socket path as the runs before it) and returns
// at once; waitReady says when it serves.
func (d *daemon) start() error {
	log, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own descriptor
	d.runs++
	d.metricsSocket = filepath.Join(d.dir, fmt.Sprintf("m%d.sock", d.runs))
	args := append([]string{"--socket", d.socket, "--metrics-listen", "unix:" + d.metricsSocket}, d.flags...)
	cmd := exec.Command(d.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// If the harness dies, its daemon goes with it instead of lingering.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", d.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	d.cmd, d.exited = cmd, exited
	forget := onInterrupt(func() { _ = cmd.Process.Signal(syscall.SIGKILL); <-exited })
	go func() { <-exited; forget() }()
	return nil
}

// waitReady pings until the daemon answers and returns when it first did.
func (d *daemon) waitReady(limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return time.Time{}, fmt.Errorf("ferryd exited before it answered a ping; log:\n%s", d.logTail(30))
		default:
		}
		if last = pingOnce(d.socket); last == nil {
			return time.Now(), nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Time{}, fmt.Errorf("ferryd did not answer a ping within %v (last: %v); log:\n%s", limit, last, d.logTail(30))
}

// pingOnce dials a fresh Client (connect and hello) and pings once.
func pingOnce(socket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := ferry.Dial(ctx, socket, ferry.WithPoolSize(1))
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Ping(ctx)
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// kill sends SIGKILL and waits for the process to be gone; the socket file stays, as after a
// crash.
func (d *daemon) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// close stops the daemon (SIGTERM, then SIGKILL after 10 s) and removes its directory.
func (d *daemon) close() {
	select {
	case <-d.exited:
	default:
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			d.kill()
		}
	}
	os.RemoveAll(d.dir)
}

func (d *daemon) logTail(lines int) string {
	b, _ := os.ReadFile(d.logPath)
	parts := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(parts[max(0, len(parts)-lines):], "\n")
}

// settle waits (at most limit) until the daemon has no job running or queued, so one segment's
// leftovers do not load the next.
func settle(socket string, limit time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c, err := ferry.Dial(ctx, socket, ferry.WithPoolSize(1))
	if err != nil {
		return
	}
	defer c.Close()
	for ctx.Err() == nil {
		if s, err := c.Stats(ctx); err == nil && s.JobsRunning == 0 && s.JobsQueued == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
}
