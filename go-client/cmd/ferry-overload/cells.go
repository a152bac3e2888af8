package main

import (
	"fmt"
	"time"
)

// cellSpec is one load level of the grid: callers x deadline x CPU burners beside them.
type cellSpec struct {
	Callers  int
	Deadline time.Duration
	Burn     bool
}

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
}

// ratio is the router's goodput as a share of the plain client's (0 when the client served none).
func (r *cellResult) ratio() float64 {
	if r.Plain.goodput() == 0 {
		return 0
	}
	return r.Router.goodput() / r.Plain.goodput()
}

// runCell runs the plain client and the router against d for dur each, alternating in halves
// (client, router, router, client, or the reverse when flip is set), so drift in the machine's
// load falls on both alike. Each subject keeps its Client (and the router its breaker) across its
// two halves; the daemon is let drain between halves.
func runCell(d *daemon, spec cellSpec, photos []photo, dur time.Duration, flip bool) (*cellResult, error) {
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
	order := []*subject{plain, rt, rt, plain}
	if flip {
		order = []*subject{rt, plain, plain, rt}
	}
	res := &cellResult{Spec: spec, Plain: newTally(), Router: newTally()}
	l := load{callers: spec.Callers, deadline: spec.Deadline, photos: photos}
	for _, s := range order {
		t := runSegment(s, l, dur/2)
		if s == plain {
			res.Plain.add(t)
		} else {
			res.Router.add(t)
		}
		settle(d.socket, 3*time.Second)
	}
	res.Router.BreakerOpens = rt.breakerOpens()
	return res, nil
}
