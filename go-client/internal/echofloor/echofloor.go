// Package echofloor is the floor under every ferry round trip: a server that answers each frame
// with a fixed ping reply and does nothing else. Benchmarks time the Client against it, in another
// process as ferryd is, to show what the client and daemon add to bare Unix-socket IPC.
package echofloor

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ferryd/ferry/go-client/internal/childproc"
	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Env, when set to a socket path, turns a binary that calls ServeIfAsked into the echo server.
const Env = "FERRY_BENCH_ECHO_SOCKET"

var (
	// PingFrame is a ping request, id 7, as a client writes it.
	PingFrame = wire.AppendSimple(nil, wire.Header{ID: 7, Op: wire.OpPing}).Buf
	// PingReply is ferryd's reply to PingFrame, {"id":7,"ok":true}; the echo server sends it.
	PingReply = wire.AppendReply(nil, wire.OpPing, &wire.Reply{ID: 7, OK: true})
)

// Serve answers every frame of the first connection to ln with PingReply, until it closes.
func Serve(ln net.Listener) {
	nc, err := ln.Accept()
	if err != nil {
		return
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	for {
		if _, err := wire.ReadFrame(br, 1<<20); err != nil {
			return
		}
		if _, err := nc.Write(PingReply); err != nil {
			return
		}
	}
}

// ServeIfAsked serves the echo and exits when Env is set (this process is StartProcess's child);
// otherwise it returns at once. Call it first in main or TestMain.
func ServeIfAsked() {
	path := os.Getenv(Env)
	if path == "" {
		return
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.Exit(2)
	}
	Serve(ln)
	os.Exit(0)
}

// Process is the echo server running in a child process, and a connection to it.
type Process struct {
	Conn net.Conn
	// PID is the child's process id (benchmarks pin its threads to a CPU).
	PID  int
	stop func()
}

// Stop closes the connection and stops the child.
func (p *Process) Stop() { p.stop() }

// StartProcess runs the echo server in a child process (this binary again, which must call
// ServeIfAsked) and connects to it.
func StartProcess() (*Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fe")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "e.sock")
	cmd := exec.Command(self, "-test.run=^$") // the flag keeps a test binary from running tests
	cmd.Env = append(os.Environ(), Env+"="+path)
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		conn, err := net.Dial("unix", path)
		if err == nil {
			return &Process{Conn: conn, PID: cmd.Process.Pid, stop: func() { conn.Close(); stop() }}, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("echo process did not listen: %w", err)
		}
	}
}

// RoundTrip writes PingFrame and reads one reply of len(reply) bytes into reply.
func RoundTrip(conn net.Conn, reply []byte) error {
	if _, err := conn.Write(PingFrame); err != nil {
		return err
	}
	_, err := io.ReadFull(conn, reply)
	return err
}
