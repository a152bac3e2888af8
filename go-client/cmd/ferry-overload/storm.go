//go:build linux

package main

import (
	"errors"
	"fmt"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// stormSpec is the retry storm (320 callers retrying busy at once, 5 s deadlines, CPU
// burners) sent by a Client with its throttle off (ferry.WithThrottle(-1)), as a client without
// one would send it: every image reaches the daemon. The throttled subjects of the grid hear
// few busy answers from the daemon (their Client refuses locally first), so this cell is where
// the daemon's own busy answer time is measured under the worst load.
var stormSpec = cellSpec{Callers: 320, Deadline: 5 * time.Second, Burn: true}

// stormName names the storm's subject.
const stormName = "client, throttle off"

// stormResult is the storm cell: one subject, and the daemon's own busy answer times.
type stormResult struct {
	Spec       cellSpec
	T          *tally
	DaemonBusy busyHist
	BusyNote   string
}

// runStorm runs the storm against d for dur.
func runStorm(d *daemon, photos []photo, dur time.Duration) (*stormResult, error) {
	s, err := dialPlain(d.socket, ferry.WithThrottle(-1))
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	defer s.close()
	s.name = stormName
	stop := burnCPU()
	defer stop()
	res := &stormResult{Spec: stormSpec}
	before, err1 := scrapeBusy(d.metricsSocket)
	res.T = runSegment(s, load{callers: stormSpec.Callers, deadline: stormSpec.Deadline, photos: photos}, dur)
	after, err2 := scrapeBusy(d.metricsSocket)
	if err := errors.Join(err1, err2); err != nil {
		res.BusyNote = "the daemon's busy-answer histogram could not be read: " + err.Error()
	} else {
		res.DaemonBusy = after.since(before)
	}
	settle(d.socket, 3*time.Second)
	return res, nil
}
