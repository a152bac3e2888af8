//go:build linux

package main

import (
	"errors"
	"fmt"
	"time"
)

// cellSpec is one load level of the grid: callers x deadline x CPU burners beside them.
type cellSpec struct {
	Callers  int
	Deadline time.Duration
	Burn     bool
}

// latencyBoundFactor multiplies the time and the slices of the latency-bound cells.
const latencyBoundFactor = 4

// latencyBound reports whether the cell's goodput is set by each call's latency rather than by
// the daemon's throughput: a few callers beside CPU burners, where every hand-off between
// goroutines waits for a burner's time slice (10 ms) to end. Those cells' slices vary most from
// one to the next, so they run latencyBoundFactor times longer, in as many times more slices.
func (s cellSpec) latencyBound() bool { return s.Burn && s.Callers <= 8 }

func (s cellSpec) String() string {
	b := "idle"
	if s.Burn {
		b = "burn"
	}
	return fmt.Sprintf("%d callers, %v, %s", s.Callers, s.Deadline, b)
}

// cellResult is both subjects' tallies for one cell.
type cellResult struct {
	Spec          cellSpec
	Plain, Router *tally
	// PlainSlices and RouterSlices are each slice's ok/s, in the order they ran: their spread
	// shows how much the machine's other load moved the figures.
	PlainSlices, RouterSlices []float64
	// DaemonBusy is the daemon's own time for its busy answers in this cell, both subjects'
	// (its ferryd_busy_answer_seconds); BusyNote says why not when the scrape failed.
	DaemonBusy busyHist
	BusyNote   string
}

// ratio is the router's goodput as a share of the plain client's (0 when the client served none).
func (r *cellResult) ratio() float64 {
	if r.Plain.goodput() == 0 {
		return 0
	}
	return r.Router.goodput() / r.Plain.goodput()
}

// runCell runs the plain client and the router against d for dur each, alternating in rounds
// of two slices of dur/rounds (client then router, then router then client, and so on; the
// other way round when flip is set), so drift in the machine's load falls on both alike. Each
// subject keeps its Client (and the router its breaker) across its slices; the daemon is let
// drain between slices.
func runCell(d *daemon, spec cellSpec, photos []photo, dur time.Duration, rounds int, flip bool) (*cellResult, error) {
	plain, err := dialPlain(d.socket)
	if err != nil {
		return nil, fmt.Errorf("dial for the plain client: %w", err)
	}
	defer plain.close()
	rt, err := dialRouter(d.socket, nil)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	defer rt.close()
	if spec.Burn {
		defer burnCPU()()
	}
	res := &cellResult{Spec: spec, Plain: newTally(), Router: newTally()}
	before, busyErr := scrapeBusy(d.metricsSocket)
	defer func() {
		after, err := scrapeBusy(d.metricsSocket)
		if err = errors.Join(busyErr, err); err != nil {
			res.BusyNote = "the daemon's busy-answer histogram could not be read: " + err.Error()
			return
		}
		res.DaemonBusy = after.since(before)
	}()
	l := load{callers: spec.Callers, deadline: spec.Deadline, photos: photos}
	for k := range rounds {
		order := []*subject{plain, rt}
		if (k%2 == 1) != flip {
			order = []*subject{rt, plain}
		}
		for _, s := range order {
			t := runSegment(s, l, dur/time.Duration(rounds))
			if s == plain {
				res.Plain.add(t)
				res.PlainSlices = append(res.PlainSlices, t.goodput())
			} else {
				res.Router.add(t)
				res.RouterSlices = append(res.RouterSlices, t.goodput())
			}
			settle(d.socket, 3*time.Second)
		}
	}
	res.Router.BreakerOpens = rt.breakerOpens()
	return res, nil
}
