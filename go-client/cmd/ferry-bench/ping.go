package main

import (
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferryd/ferry/go-client/internal/echofloor"
)

// serialRoundTrips are three kinds of serial round trip. RawFloor: a ping frame to a trivial
// echo server in another process (this binary, re-run), no client machinery at all. RawFerryd:
// the same frame written to ferryd on a plain connection. Client: Client.Ping. The three
// alternate, so they share machine conditions.
type serialRoundTrips struct {
	RawFloor  dist `json:"raw_floor"`
	RawFerryd dist `json:"raw_ferryd"`
	Client    dist `json:"client"`
}

// pingResults compare the Client's round trip with the floor a bare Unix socket sets.
type pingResults struct {
	serialRoundTrips
	// Pinned says whether the three above ran with all three processes on one CPU (see
	// pinForPing); Unpinned, then, the same round trips free to run anywhere.
	Pinned   bool              `json:"pinned"`
	Unpinned *serialRoundTrips `json:"unpinned,omitempty"`
	// Pipelined is Client.Ping from many goroutines at once over the Client's pool.
	Pipelined struct {
		Goroutines int     `json:"goroutines"`
		Requests   int64   `json:"requests"`
		PerSecond  float64 `json:"per_second"`
	} `json:"pipelined"`
}

func benchPing(ctx context.Context, d *daemon, p plan) (pingResults, error) {
	var res pingResults
	echoProcess, err := echofloor.StartProcess()
	if err != nil {
		return res, err
	}
	defer echoProcess.Stop()
	echo := echoProcess.Conn
	direct, err := net.Dial("unix", d.socket)
	if err != nil {
		return res, err
	}
	defer direct.Close()
	// First with all three processes on one CPU, then free. On this 2-vCPU VM a round trip
	// whose wake-up lands on the other, idle vCPU pays the hypervisor's wake of a halted CPU:
	// 70-95 us where the same trip on one CPU takes 11-13 us. Unpinned, each process settles
	// for a whole round in one mode or the other by where its threads happen to run, and the
	// ratio of the servers swung from 0.88x to 1.78x between rounds; on one CPU the figures
	// are what the software costs, and the bar's.
	unpin, pinned := pinForPing(os.Getpid(), d.pid, echoProcess.PID)
	res.Pinned = pinned
	res.serialRoundTrips, err = serialPings(ctx, d, echo, direct, p.pings)
	unpin()
	if err != nil {
		return res, err
	}
	if pinned {
		u, err := serialPings(ctx, d, echo, direct, p.pings)
		if err != nil {
			return res, err
		}
		res.Unpinned = &u
	}

	var n atomic.Int64
	var firstErr error
	var once sync.Once
	pctx, cancel := context.WithTimeout(ctx, p.pipelineFor)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range p.pipeliners {
		spawn(&wg, func() {
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

// serialPings times n round trips of each kind, alternated.
func serialPings(ctx context.Context, d *daemon, echo, direct net.Conn, n int) (serialRoundTrips, error) {
	reply := make([]byte, len(echofloor.PingReply))
	var f, r, c []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := echofloor.RoundTrip(echo, reply); err != nil {
			return serialRoundTrips{}, err
		}
		t1 := time.Now()
		if err := echofloor.RoundTrip(direct, reply); err != nil {
			return serialRoundTrips{}, err
		}
		t2 := time.Now()
		if err := d.client.Ping(ctx); err != nil {
			return serialRoundTrips{}, err
		}
		t3 := time.Now()
		f, r, c = append(f, t1.Sub(t0)), append(r, t2.Sub(t1)), append(c, t3.Sub(t2))
	}
	return serialRoundTrips{summarise(f), summarise(r), summarise(c)}, nil
}
