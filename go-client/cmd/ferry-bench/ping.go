package main

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferryd/ferry/go-client/internal/echofloor"
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

func benchPing(ctx context.Context, d *daemon, p plan) (pingResults, error) {
	var res pingResults
	echo, stop, err := echofloor.StartProcess()
	if err != nil {
		return res, err
	}
	defer stop()
	direct, err := net.Dial("unix", d.socket)
	if err != nil {
		return res, err
	}
	defer direct.Close()
	reply := make([]byte, len(echofloor.PingReply))
	var floor, raw, client []time.Duration
	for i := 0; i < p.pings; i++ {
		t0 := time.Now()
		if err := echofloor.RoundTrip(echo, reply); err != nil {
			return res, err
		}
		t1 := time.Now()
		if err := echofloor.RoundTrip(direct, reply); err != nil {
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
