//go:build linux

package main

import (
	"strings"
	"sync"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// The kill cell's shape: load for killAfter, the daemon SIGKILLed, restarted after one of
// downTimes, and load for afterRestart more; once per down time and subject.
const (
	killCallers  = 8
	killDeadline = 5 * time.Second
	killAfter    = 2 * time.Second
	afterRestart = 3 * time.Second
)

// downTimes: two, so that a restart that happens to fall just before a breaker's probe (a
// matter of phase) does not decide the bar alone; the bars take the worst.
var downTimes = []time.Duration{2 * time.Second, 2500 * time.Millisecond}

// downWord is "2s or 2.5s".
func downWord() string {
	var parts []string
	for _, d := range downTimes {
		parts = append(parts, d.String())
	}
	return strings.Join(parts, " or ")
}

// never marks a moment that did not come.
const never = time.Duration(-1)

// killResult is one subject's run through a crash and restart of the daemon.
type killResult struct {
	Subject string
	Down    time.Duration
	T       *tally
	// KillToFailure: from SIGKILL to the first failed call; KillToGoStart: to the first Go job
	// running (the router); KillToGoServed: to the first thumbnail made by Go.
	KillToFailure, KillToGoStart, KillToGoServed time.Duration
	// GoPeak is the most Go jobs seen running at once, GoLimit the Go path's own limit.
	GoPeak, GoLimit int
	// ExecToReady: from the restart's exec to the daemon's first answered ping; ExecToDaemon: to
	// the first thumbnail the daemon made for this subject after the restart.
	ExecToReady, ExecToDaemon time.Duration
}

// readyToDaemon is the time from the restarted daemon's first answered ping (the harness's own
// probe) to the subject's first thumbnail made by it: what the client or router adds to the
// daemon's start-up.
func (k *killResult) readyToDaemon() time.Duration {
	if k.ExecToDaemon == never || k.ExecToReady == never {
		return never
	}
	return max(0, k.ExecToDaemon-k.ExecToReady)
}

// runKill crashes and restarts d under the plain client and then under the router.
func runKill(d *daemon, photos []photo) ([]*killResult, error) {
	var out []*killResult
	for _, down := range downTimes {
		for _, name := range []string{plainName, routerName} {
			r, err := killOnce(d, photos, name, down)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
			settle(d.socket, 3*time.Second)
		}
	}
	return out, nil
}

func killOnce(d *daemon, photos []photo, name string, downFor time.Duration) (*killResult, error) {
	var g *goproc.Processor
	var s *subject
	var err error
	if name == routerName {
		// goproc.New() is what router.New(client, nil) builds; made here to watch Running.
		g = goproc.New()
		s, err = dialRouter(d.socket, g)
	} else {
		s, err = dialPlain(d.socket)
	}
	if err != nil {
		return nil, err
	}
	defer s.close()

	var mu sync.Mutex
	var events []attempt
	l := load{callers: killCallers, deadline: killDeadline, photos: photos, onAttempt: func(a attempt) {
		mu.Lock()
		events = append(events, a)
		mu.Unlock()
	}}
	res := &killResult{Subject: name, Down: downFor, KillToFailure: never, KillToGoStart: never, KillToGoServed: never, ExecToReady: never, ExecToDaemon: never}

	// The Go path's job count, sampled every half millisecond.
	var goStart time.Time
	var killedAt time.Time
	stopWatch, watched := make(chan struct{}), make(chan struct{})
	if g != nil {
		res.GoLimit = goproc.DefaultConcurrency()
		go func() {
			defer close(watched)
			for {
				select {
				case <-stopWatch:
					return
				case <-time.After(500 * time.Microsecond):
				}
				n := g.Running()
				mu.Lock()
				res.GoPeak = max(res.GoPeak, n)
				if n > 0 && !killedAt.IsZero() && goStart.IsZero() {
					goStart = time.Now()
				}
				mu.Unlock()
			}
		}()
	} else {
		close(watched)
	}

	segment := make(chan *tally)
	go func() { segment <- runSegment(s, l, killAfter+downFor+afterRestart) }()
	time.Sleep(killAfter)
	mu.Lock()
	killedAt = time.Now() // just before the signal: the times below include its delivery
	mu.Unlock()
	d.kill()
	time.Sleep(downFor)
	execAt := time.Now()
	if err := d.start(); err != nil {
		<-segment
		return nil, err
	}
	readyAt, err := d.waitReady(readyTimeout)
	if err != nil {
		<-segment
		return nil, err
	}
	res.T = <-segment
	close(stopWatch)
	<-watched
	if g != nil {
		res.T.BreakerOpens = s.breakerOpens()
	}

	res.ExecToReady = readyAt.Sub(execAt)
	if !goStart.IsZero() {
		res.KillToGoStart = goStart.Sub(killedAt)
	}
	// Callers append in the order their calls return, which is nearly but not strictly time
	// order: take the earliest of each kind.
	earliest := func(since time.Time, keep func(attempt) bool) time.Duration {
		d := never
		for _, a := range events {
			if a.end.After(since) && keep(a) && (d == never || a.end.Sub(since) < d) {
				d = a.end.Sub(since)
			}
		}
		return d
	}
	res.KillToFailure = earliest(killedAt, func(a attempt) bool { return a.class != classOK })
	res.KillToGoServed = earliest(killedAt, func(a attempt) bool { return a.class == classOK && a.path == ferry.PathGo })
	res.ExecToDaemon = earliest(execAt, func(a attempt) bool { return a.class == classOK && a.path == ferry.PathRust })
	return res, nil
}
