//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/router"
)

// class is what one attempt came back with. A caller retries at once on busy and overloaded;
// every other class ends the job.
type class int

const (
	classOK class = iota
	classBusy
	classOverloaded
	classDeadline
	classNotResponding
	classConnLost
	classUnavailable
	classOther
	nClasses
)

var classNames = [nClasses]string{"ok", "busy", "overloaded", "deadline", "not responding", "connection lost", "unavailable", "other"}

func (c class) String() string { return classNames[c] }

// retried: the caller sends the same job again at once (the retry storm).
func (c class) retried() bool { return c == classBusy || c == classOverloaded }

// classify sorts an error by the public sentinels, most specific first: router.ErrOverloaded
// wraps ferry.ErrBusy, and ferry.ErrNotResponding comes wrapped with ferry.ErrConnectionLost.
func classify(err error) class {
	switch {
	case err == nil:
		return classOK
	case errors.Is(err, router.ErrOverloaded):
		return classOverloaded
	case errors.Is(err, ferry.ErrBusy):
		return classBusy
	case errors.Is(err, ferry.ErrNotResponding):
		return classNotResponding
	case errors.Is(err, ferry.ErrConnectionLost):
		return classConnLost
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ferry.ErrDeadlineExceeded):
		return classDeadline
	case errors.Is(err, ferry.ErrUnavailable):
		return classUnavailable
	}
	return classOther
}

// typed: the caller can branch on the error (a ferry code, a sentinel of either package, or the
// context's own error). An untyped error counts as a lost request.
func typed(err error) bool {
	var se *ferry.ServerError
	return classify(err) != classOther || errors.As(err, &se) || errors.Is(err, context.Canceled) ||
		errors.Is(err, ferry.ErrClosed) || errors.Is(err, ferry.ErrProtocol) || errors.Is(err, router.ErrFallbackRefused)
}

// tally is what one client did over the measured window of a cell (both of its segments).
type tally struct {
	Window time.Duration
	// Attempts counts every call that returned inside the window; ByClass splits them.
	Attempts int
	ByClass  [nClasses]int
	// Jobs counts the jobs that ended inside the window: JobsOK with a thumbnail, JobsFailed
	// without (their last attempt's class is in ByClass like every other attempt's).
	Jobs, JobsOK, JobsFailed int
	// Served counts the thumbnails by the path that made them (res.Served.Path).
	Served map[ferry.Path]int
	// JobLatency: from a job's start (its first attempt) to its thumbnail, retries included.
	JobLatency []time.Duration
	// Accepted: one attempt's latency, for the thumbnails the daemon made.
	Accepted []time.Duration
	// BusyLatency: one attempt's latency, for the busy answers (router.ErrOverloaded excluded:
	// that is the Go path's queue wait, not the daemon's answer).
	BusyLatency []time.Duration
	// Throttled counts the busy attempts the plain client's throttle refused locally
	// (ferry.ErrThrottled): held on purpose (ferry.DefaultThrottleHold), not the daemon's
	// answer, so kept out of BusyLatency.
	Throttled int
	// ThrottledLatency: each local refusal's latency (its hold).
	ThrottledLatency []time.Duration
	// Late counts attempts that returned more than lateSlack after their job's deadline (hung);
	// Untyped the errors a caller could not branch on. Both are lost requests.
	Late, Untyped int
	// Started and Returned count every call, also those outside the window (Discarded: returned
	// after the window closed); Hung the calls that had not returned when the harness gave up.
	Started, Returned, Discarded, Hung int
	// BreakerOpens counts the router's breaker entering open (always 0 for the plain client).
	BreakerOpens int
	// OtherErrors keeps a few distinct messages of class other, for the report.
	OtherErrors []string
}

// lateSlack is how far past its deadline an attempt may return before it counts as hung: a
// loaded 2-core machine delays goroutines by tens of milliseconds.
const lateSlack = 250 * time.Millisecond

func newTally() *tally { return &tally{Served: map[ferry.Path]int{}} }

func (t *tally) goodput() float64 {
	if t.Window <= 0 {
		return 0
	}
	return float64(t.JobsOK) / t.Window.Seconds()
}

func (t *tally) failedAttempts() int { return t.Attempts - t.ByClass[classOK] }

// lost: requests that got no typed answer in time.
func (t *tally) lost() int { return t.Late + t.Untyped + t.Hung }

// add merges u into t (callers keep their own tallies and merge once at the end).
func (t *tally) add(u *tally) {
	t.Window += u.Window
	t.Attempts += u.Attempts
	for i := range t.ByClass {
		t.ByClass[i] += u.ByClass[i]
	}
	t.Jobs += u.Jobs
	t.JobsOK += u.JobsOK
	t.JobsFailed += u.JobsFailed
	for p, n := range u.Served {
		t.Served[p] += n
	}
	t.JobLatency = append(t.JobLatency, u.JobLatency...)
	t.Accepted = append(t.Accepted, u.Accepted...)
	t.BusyLatency = append(t.BusyLatency, u.BusyLatency...)
	t.Throttled += u.Throttled
	t.ThrottledLatency = append(t.ThrottledLatency, u.ThrottledLatency...)
	t.Late += u.Late
	t.Untyped += u.Untyped
	t.Started += u.Started
	t.Returned += u.Returned
	t.Discarded += u.Discarded
	t.Hung += u.Hung
	t.BreakerOpens += u.BreakerOpens
	for _, m := range u.OtherErrors {
		t.noteOther(m)
	}
}

func (t *tally) noteOther(msg string) {
	if len(t.OtherErrors) < 3 && !slices.Contains(t.OtherErrors, msg) {
		t.OtherErrors = append(t.OtherErrors, msg)
	}
}

// check is the harness's own accounting: every figure in the report is derived from these
// counts, so a run whose counts do not add up is refused rather than reported.
func (t *tally) check() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	sum := 0
	for _, n := range t.ByClass {
		sum += n
	}
	if sum != t.Attempts {
		fail("attempts %d != sum over classes %d", t.Attempts, sum)
	}
	if t.ByClass[classOK] != t.JobsOK {
		fail("ok attempts %d != jobs with a thumbnail %d", t.ByClass[classOK], t.JobsOK)
	}
	if t.JobsOK+t.JobsFailed != t.Jobs {
		fail("jobs %d != ok %d + failed %d", t.Jobs, t.JobsOK, t.JobsFailed)
	}
	if t.Jobs > t.Attempts {
		fail("%d jobs ended in %d attempts", t.Jobs, t.Attempts)
	}
	served := 0
	for _, n := range t.Served {
		served += n
	}
	if served != t.JobsOK {
		fail("thumbnails by path %d != jobs with a thumbnail %d", served, t.JobsOK)
	}
	if len(t.JobLatency) != t.JobsOK {
		fail("%d job latencies for %d thumbnails", len(t.JobLatency), t.JobsOK)
	}
	if len(t.Accepted) != t.Served[ferry.PathRust] {
		fail("%d accepted latencies for %d daemon thumbnails", len(t.Accepted), t.Served[ferry.PathRust])
	}
	if len(t.BusyLatency)+t.Throttled != t.ByClass[classBusy] {
		fail("%d busy latencies + %d local refusals for %d busy answers", len(t.BusyLatency), t.Throttled, t.ByClass[classBusy])
	}
	if t.Returned+t.Hung != t.Started {
		fail("calls started %d != returned %d + hung %d", t.Started, t.Returned, t.Hung)
	}
	if t.Attempts+t.Discarded != t.Returned {
		fail("calls returned %d != counted %d + after the window %d", t.Returned, t.Attempts, t.Discarded)
	}
	if t.Started == 0 {
		fail("no call was made")
	}
	return errors.Join(errs...)
}

// percentile of ds (nearest rank), 0 when empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
