//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// photo is one sample photo, read into memory once.
type photo struct {
	name string
	data []byte
}

// loadPhotos reads every *.jpg, *.jpeg and *.png of dir, sorted by name.
func loadPhotos(dir string) ([]photo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var photos []photo
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png":
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			photos = append(photos, photo{name: e.Name(), data: data})
		}
	}
	if len(photos) == 0 {
		return nil, fmt.Errorf("no *.jpg or *.png photos in %s", dir)
	}
	slices.SortFunc(photos, func(a, b photo) int { return strings.Compare(a.name, b.name) })
	return photos, nil
}

// thumbnail is the one job of every cell: a 400x400 JPEG (fit, the protocol defaults otherwise).
func thumbnail(p photo) ferry.ResizeRequest {
	return ferry.ResizeRequest{Image: p.data, Width: 400, Height: 400, Format: ferry.FormatJPEG}
}

// load is one load level: callers, each doing one job after another, each job under its own
// context deadline.
type load struct {
	callers  int
	deadline time.Duration
	photos   []photo
	// onAttempt, if set, sees every attempt counted in the window (the kill cell's timeline).
	onAttempt func(attempt)
}

// attempt is one call's outcome, for timelines.
type attempt struct {
	start, end time.Time
	class      class
	path       ferry.Path
}

// failPause is how long a caller waits after a job failed for a reason other than busy before
// its next job: a service does not spin on a daemon that is down. Busy and overloaded are
// retried at once, with no pause, inside the job's deadline: the retry storm under test.
const failPause = 10 * time.Millisecond

// stuckGrace is how long after the window and the longest deadline the harness waits for calls
// to return before it counts them as hung and moves on.
const stuckGrace = 5 * time.Second

// runSegment puts s under l for dur and returns what returned inside the window. At the end of
// the window every job's context is cancelled; calls that return later are counted as
// discarded, not as failures.
func runSegment(s *subject, l load, dur time.Duration) *tally {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	t1 := t0.Add(dur)
	stopTimer := time.AfterFunc(dur, cancel)
	defer stopTimer.Stop()

	callers := make([]*caller, l.callers)
	var wg sync.WaitGroup
	for i := range callers {
		callers[i] = &caller{t: newTally(), next: i}
		wg.Add(1)
		go func(c *caller) {
			defer wg.Done()
			c.run(ctx, s.proc, l, t1)
		}(callers[i])
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	hungOut := false
	select {
	case <-done:
	case <-time.After(dur + l.deadline + lateSlack + stuckGrace):
		hungOut = true
	}
	total := newTally()
	for _, c := range callers {
		c.mu.Lock()
		u := *c.t
		if hungOut {
			u.Hung = u.Started - u.Returned
		}
		c.mu.Unlock()
		u.Window = 0
		total.add(&u)
	}
	total.Window = dur
	return total
}

// caller is one goroutine of a segment; mu guards t, which the harness reads if the caller hangs.
type caller struct {
	mu   sync.Mutex
	t    *tally
	next int // index of its next photo
}

func (c *caller) run(ctx context.Context, proc ferry.Processor, l load, t1 time.Time) {
	for ctx.Err() == nil {
		p := l.photos[c.next%len(l.photos)]
		c.next++
		last := c.job(ctx, proc, l, t1, thumbnail(p))
		if last != classOK && !last.retried() {
			select {
			case <-ctx.Done():
			case <-time.After(failPause):
			}
		}
	}
}

// job sends req until it gets a thumbnail, an answer other than busy or overloaded, or its
// deadline, and returns its last attempt's class.
func (c *caller) job(ctx context.Context, proc ferry.Processor, l load, t1 time.Time, req ferry.ResizeRequest) class {
	start := time.Now()
	jobCtx, cancel := context.WithDeadline(ctx, start.Add(l.deadline))
	defer cancel()
	for {
		c.mu.Lock()
		c.t.Started++
		c.mu.Unlock()
		aStart := time.Now()
		res, err := proc.Resize(jobCtx, req)
		end := time.Now()
		cl := classify(err)
		var path ferry.Path
		if err == nil {
			path = res.Served.Path
		}
		retry := c.record(l, start, aStart, end, t1, cl, err, path, jobCtx.Err() == nil)
		if l.onAttempt != nil && !end.After(t1) {
			l.onAttempt(attempt{start: aStart, end: end, class: cl, path: path})
		}
		if !retry {
			return cl
		}
	}
}

// record counts one attempt and reports whether the job goes on (a retry at once).
func (c *caller) record(l load, jobStart, aStart, end, t1 time.Time, cl class, err error, path ferry.Path, jobLive bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	t.Returned++
	if end.Sub(jobStart) > l.deadline+lateSlack {
		t.Late++
	}
	if end.After(t1) {
		t.Discarded++
		return false
	}
	t.Attempts++
	t.ByClass[cl]++
	switch {
	case cl == classOK:
		t.Jobs++
		t.JobsOK++
		t.Served[path]++
		t.JobLatency = append(t.JobLatency, end.Sub(jobStart))
		if path == ferry.PathRust {
			t.Accepted = append(t.Accepted, end.Sub(aStart))
		}
		return false
	case cl == classBusy && errors.Is(err, ferry.ErrThrottled):
		t.Throttled++
		t.ThrottledLatency = append(t.ThrottledLatency, end.Sub(aStart))
	case cl == classBusy:
		t.BusyLatency = append(t.BusyLatency, end.Sub(aStart))
	case cl == classOther:
		if !typed(err) {
			t.Untyped++
		}
		t.noteOther(err.Error())
	}
	if cl.retried() && jobLive {
		return true
	}
	t.Jobs++
	t.JobsFailed++
	return false
}
