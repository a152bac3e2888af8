package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// pingResults compare the Client's round trip with the floor a bare Unix socket sets.
type pingResults struct {
	// RawFloor: a ping frame to a trivial echo server in another process (this binary, re-run),
	// no client machinery at all. RawFerryd: the same frame written to ferryd on a plain
	// connection. Client: Client.Ping. The three alternate, so they share machine conditions.
	RawFloor  dist `json:"raw_floor"`
	RawFerryd dist `json:"raw_ferryd"`
	Client    dist `json:"client"`
	// Pipelined is Client.Ping from many goroutines at once over the Client's pool.
	Pipelined struct {
		Goroutines int     `json:"goroutines"`
		Requests   int64   `json:"requests"`
		PerSecond  float64 `json:"per_second"`
	} `json:"pipelined"`
}

// echoEnv, when set to a socket path, turns this binary into the echo server of the floor.
const echoEnv = "FERRY_BENCH_ECHO_SOCKET"

var (
	pingFrame = wire.AppendSimple(nil, wire.Header{ID: 7, Op: wire.OpPing}).Buf
	pingReply = wire.AppendReply(nil, wire.OpPing, &wire.Reply{ID: 7, OK: true})
)

// serveEchoIfAsked serves the echo floor and exits, when this process is the echo child.
func serveEchoIfAsked() {
	path := os.Getenv(echoEnv)
	if path == "" {
		return
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.Exit(2)
	}
	nc, err := ln.Accept()
	if err != nil {
		os.Exit(2)
	}
	br := bufio.NewReader(nc)
	for {
		if _, err := wire.ReadFrame(br, 1<<20); err != nil {
			os.Exit(0)
		}
		if _, err := nc.Write(pingReply); err != nil {
			os.Exit(0)
		}
	}
}

// startEcho runs the echo child and returns a connection to it and a function that stops it.
func startEcho() (net.Conn, func(), error) {
	dir, err := os.MkdirTemp("", "fe")
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "e.sock")
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), echoEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		conn, err := net.Dial("unix", path)
		if err == nil {
			return conn, func() { conn.Close(); stop() }, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("echo server did not listen: %w", err)
		}
	}
}

func roundTrip(conn net.Conn, reply []byte) error {
	if _, err := conn.Write(pingFrame); err != nil {
		return err
	}
	_, err := io.ReadFull(conn, reply)
	return err
}

func benchPing(ctx context.Context, d *daemon, p plan) (pingResults, error) {
	var res pingResults
	echo, stop, err := startEcho()
	if err != nil {
		return res, err
	}
	defer stop()
	direct, err := net.Dial("unix", d.socket)
	if err != nil {
		return res, err
	}
	defer direct.Close()
	reply := make([]byte, len(pingReply))
	var floor, raw, client []time.Duration
	for i := 0; i < p.pings; i++ {
		t0 := time.Now()
		if err := roundTrip(echo, reply); err != nil {
			return res, err
		}
		t1 := time.Now()
		if err := roundTrip(direct, reply); err != nil {
			return res, err
		}
		t2 := time.Now()
		if err := d.client.Ping(ctx); err != nil {
			return res, err
		}
		t3 := time.Now()
		floor, raw, client = append(floor, t1.Sub(t0)), append(raw, t2.Sub(t1)), append(client, t3.Sub(t2))
	}
	res.RawFloor, res.RawFerryd, res.Client = summarise(floor), summarise(raw), summarise(client)

	var n atomic.Int64
	var firstErr error
	var once sync.Once
	pctx, cancel := context.WithTimeout(ctx, p.pipelineFor)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range p.pipeliners {
		wg.Go(func() {
			for pctx.Err() == nil {
				if err := d.client.Ping(ctx); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	res.Pipelined.Goroutines, res.Pipelined.Requests = p.pipeliners, n.Load()
	res.Pipelined.PerSecond = float64(n.Load()) / time.Since(start).Seconds()
	return res, firstErr
}
