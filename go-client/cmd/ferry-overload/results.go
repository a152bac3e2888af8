//go:build linux

package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// results is one run of the harness.
type results struct {
	Opts        options
	Machine     machine
	DaemonFlags []string
	Started     time.Time
	Took        time.Duration
	// OthersCPU is the share of the CPUs other processes used during the run (noise).
	OthersCPU float64
	Unloaded  *unloaded
	Cells     []*cellResult
	// Quota: the cells with the daemon under half a core; QuotaNote says how, or why not.
	Quota          []*cellResult
	QuotaNote      string
	QuotaThrottled int
	Kill           []*killResult
	KillNote       string
	// Storm: the retry storm from a Client with its throttle off; StormNote says why not.
	Storm     *stormResult
	StormNote string
	Bars      []bar
	// LateNote says which cells outside the kill cell had calls returning late or lost.
	LateNote string
	// Before is the earlier run given with -before, nil without.
	Before *summary
	// Accounting is the harness's own check of its counts (nil: they add up).
	Accounting error
}

func (u *unloaded) String() string {
	var parts []string
	for name, d := range u.PerPhoto {
		parts = append(parts, fmt.Sprintf("%s %s", name, ms(d)))
	}
	return strings.Join(sortedStrings(parts), ", ")
}

// checkAll runs every tally's accounting check.
func (r *results) checkAll() error {
	var errs []error
	check := func(where string, t *tally) {
		if err := t.check(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
	}
	for _, c := range append(append([]*cellResult(nil), r.Cells...), r.Quota...) {
		check(c.Spec.String()+", "+plainName, c.Plain)
		check(c.Spec.String()+", "+routerName, c.Router)
	}
	for _, k := range r.Kill {
		check("kill cell, "+k.Subject, k.T)
	}
	if r.Storm != nil {
		check(r.Storm.Spec.String()+", "+stormName, r.Storm.T)
	}
	return errors.Join(errs...)
}

// bar is one of issue 21's "Done when" figures.
type bar struct {
	Name, Target, Measured string
	Pass                   bool
	// Skipped: the run did not measure it (a cell left out); neither PASS nor MISS.
	Skipped bool
}

func (b bar) verdict() string {
	switch {
	case b.Skipped:
		return "not measured"
	case b.Pass:
		return "PASS"
	}
	return "MISS"
}

func (r *results) missed() int {
	n := 0
	for _, b := range r.Bars {
		if !b.Skipped && !b.Pass {
			n++
		}
	}
	return n
}

// Targets of the bars.
const (
	routerShare   = 0.95
	retryShare    = 0.90
	busyP99Limit  = 50 * time.Millisecond
	goStartLimit  = 300 * time.Millisecond
	restartLimit  = time.Second
	minBusyForP99 = 1
)

// acceptedLimit: --max-queue-wait plus twice the slowest photo's unloaded time.
func (r *results) acceptedLimit() time.Duration {
	return r.Opts.maxQueueWait + 2*r.Unloaded.Slowest
}

// judge computes every bar from the tallies.
func (r *results) judge() {
	var bars []bar
	add := func(b bar) { bars = append(bars, b) }

	// Router goodput against the plain client's, every grid cell.
	{
		b := bar{Name: "router goodput vs the plain client's, every cell", Target: fmt.Sprintf(">= %.0f%%", routerShare*100)}
		worst, below := -1.0, 0
		var where string
		for _, c := range r.Cells {
			if c.ratio() < routerShare {
				below++
			}
			if worst < 0 || c.ratio() < worst {
				worst, where = c.ratio(), c.Spec.String()
			}
		}
		b.Pass = below == 0 && len(r.Cells) > 0
		b.Skipped = len(r.Cells) == 0
		b.Measured = fmt.Sprintf("worst %.1f%% (%s); %d of %d cells below", worst*100, where, below, len(r.Cells))
		add(b)
	}
	// The plain client at 320 callers retrying at once, against itself at 8.
	{
		b := bar{Name: "plain client at 320 callers (retry at once) vs itself at 8", Target: fmt.Sprintf(">= %.0f%%", retryShare*100), Skipped: true, Pass: true}
		var parts []string
		for _, c := range r.Cells {
			if c.Spec.Callers != 320 {
				continue
			}
			for _, e := range r.Cells {
				if e.Spec.Callers == 8 && e.Spec.Deadline == c.Spec.Deadline && e.Spec.Burn == c.Spec.Burn && e.Plain.goodput() > 0 {
					share := c.Plain.goodput() / e.Plain.goodput()
					b.Skipped = false
					b.Pass = b.Pass && share >= retryShare
					parts = append(parts, fmt.Sprintf("%.0f%% (%v, %s)", share*100, c.Spec.Deadline, burnWord(c.Spec.Burn)))
				}
			}
		}
		b.Measured = strings.Join(parts, "; ")
		if b.Skipped {
			b.Measured = "needs cells of 8 and of 320 callers"
		}
		add(b)
	}
	// Healthy daemon: no breaker opening, no not-responding.
	healthy := func(cells []*cellResult, what string, skippedWhy string) {
		opens, notResp := 0, 0
		for _, c := range cells {
			opens += c.Router.BreakerOpens
			notResp += c.Plain.ByClass[classNotResponding] + c.Router.ByClass[classNotResponding]
		}
		skip := len(cells) == 0
		m1, m2 := fmt.Sprintf("%d in %d cells", opens, len(cells)), fmt.Sprintf("%d (client and router, %d cells)", notResp, len(cells))
		if skip {
			m1, m2 = skippedWhy, skippedWhy
		}
		add(bar{Name: "breaker opens, " + what, Target: "0", Measured: m1, Pass: opens == 0, Skipped: skip})
		add(bar{Name: "not-responding errors, " + what, Target: "0", Measured: m2, Pass: notResp == 0, Skipped: skip})
	}
	healthy(r.Cells, "healthy daemon", "no cell")
	healthy(r.Quota, "daemon under half a core", r.QuotaNote)

	// Latency of the daemon's answers: busy, and accepted (a thumbnail the daemon made).
	{
		worstBusy, worstAcc := time.Duration(0), time.Duration(0)
		busyWhere, accWhere := "no busy answer", "no thumbnail"
		busyN, localN := 0, 0
		var localHeld []time.Duration
		for _, c := range r.Cells {
			// The plain client's busy answers are the daemon's own (its throttle's local
			// refusals are counted apart, in Throttled); the router's may include its local
			// refusals, which say nothing about the daemon.
			busy := c.Plain.BusyLatency
			busyN += len(busy)
			localN += c.Plain.Throttled
			localHeld = append(localHeld, c.Plain.ThrottledLatency...)
			if p := percentile(busy, 99); len(busy) >= minBusyForP99 && p > worstBusy {
				worstBusy, busyWhere = p, fmt.Sprintf("%s, of %d", c.Spec, len(busy))
			}
			acc := append(append([]time.Duration(nil), c.Plain.Accepted...), c.Router.Accepted...)
			if p := percentile(acc, 99); p > worstAcc {
				worstAcc, accWhere = p, c.Spec.String()
			}
		}
		busyBar := bar{Name: "busy answered by the daemon, p99, from the call's start (plain client, worst cell)", Target: "<= " + ms(busyP99Limit),
			Measured: fmt.Sprintf("%s (%s); %d busy answers in all, %d more refused by the client without sending (held by design, p99 %s)", ms(worstBusy), busyWhere, busyN, localN, ms(percentile(localHeld, 99))),
			Pass:     worstBusy <= busyP99Limit}
		if busyN == 0 {
			// Nothing to judge: no busy answer of the daemon reached a caller of the grid.
			busyBar.Skipped = true
			busyBar.Measured = fmt.Sprintf("no busy answer from the daemon reached a caller: the Client refused %d requests locally first (held by design, p99 %s)", localN, ms(percentile(localHeld, 99)))
		}
		add(busyBar)
		add(r.daemonBusyBar())
		add(bar{Name: "accepted requests, p99 (worst cell)", Target: fmt.Sprintf("<= %s (--max-queue-wait %v + 2 x %s unloaded)", ms(r.acceptedLimit()), r.Opts.maxQueueWait, ms(r.Unloaded.Slowest)),
			Measured: fmt.Sprintf("%s (%s)", ms(worstAcc), accWhere), Pass: worstAcc <= r.acceptedLimit(), Skipped: len(r.Cells) == 0})
	}
	// The daemon killed and restarted: the worst of the router's runs.
	{
		goName, peakName := "Go path serving after the kill (first Go job running)", "Go jobs at once after the kill"
		restartName, lostName := "daemon used again after its restart (from its first answered ping)", "requests lost across the kill (hung past deadline or untyped)"
		var runs []*killResult
		lost, lostParts := 0, []string{}
		for _, k := range r.Kill {
			if k.Subject == routerName {
				runs = append(runs, k)
			}
			lost += k.T.lost()
			lostParts = append(lostParts, fmt.Sprintf("%s after %v down: %d", k.Subject, k.Down, k.T.lost()))
		}
		if len(runs) == 0 {
			for _, b := range []bar{{Name: goName, Target: "<= " + ms(goStartLimit)}, {Name: peakName, Target: "<= goproc's limit"},
				{Name: restartName, Target: "<= " + ms(restartLimit)}, {Name: lostName, Target: "0"}} {
				b.Skipped, b.Measured = true, r.KillNote
				add(b)
			}
		} else {
			goStart, goServed, restart, peak, limit := time.Duration(0), time.Duration(0), time.Duration(0), 0, runs[0].GoLimit
			var restartParts []string
			for _, k := range runs {
				goStart, goServed, restart = worse(goStart, k.KillToGoStart), worse(goServed, k.KillToGoServed), worse(restart, k.readyToDaemon())
				peak = max(peak, k.GoPeak)
				if k.readyToDaemon() == never {
					restartParts = append(restartParts, fmt.Sprintf("not within the %v after %v down", afterRestart, k.Down))
				} else {
					restartParts = append(restartParts, fmt.Sprintf("%s after %v down (%s from exec)", ms(k.readyToDaemon()), k.Down, ms(k.ExecToDaemon)))
				}
			}
			add(bar{Name: goName, Target: "<= " + ms(goStartLimit), Measured: fmt.Sprintf("worst %s (first Go thumbnail: worst %s)", dur(goStart), dur(goServed)),
				Pass: goStart != never && goStart <= goStartLimit})
			add(bar{Name: peakName, Target: fmt.Sprintf("<= %d (goproc's limit)", limit), Measured: fmt.Sprint(peak), Pass: peak <= limit})
			add(bar{Name: restartName, Target: "<= " + ms(restartLimit), Measured: strings.Join(restartParts, "; "),
				Pass: restart != never && restart <= restartLimit})
			add(bar{Name: lostName, Target: "0", Measured: strings.Join(lostParts, ", "), Pass: lost == 0})
		}
	}
	r.Bars = bars
	r.LateNote = r.lateNote()
}

// daemonBusyBar judges the daemon's own busy answer time (its histogram, frame read whole to
// busy reply written) in the worst of the grid's cells and the storm.
func (r *results) daemonBusyBar() bar {
	b := bar{Name: "busy answered by the daemon, p99, the daemon's own time (frame read -> reply written, worst cell)", Target: "<= " + ms(busyP99Limit)}
	worst, where, total := time.Duration(-1), "", 0
	consider := func(h busyHist, name, note string) {
		if note != "" {
			b.Measured = note
			return
		}
		total += h.total()
		if p := h.quantile(0.99); h.total() > 0 && p > worst {
			worst, where = p, fmt.Sprintf("%s, of %d", name, h.total())
		}
	}
	for _, c := range r.Cells {
		consider(c.DaemonBusy, c.Spec.String(), c.BusyNote)
	}
	if r.Storm != nil {
		consider(r.Storm.DaemonBusy, r.Storm.Spec.String()+", "+stormName, r.Storm.BusyNote)
	}
	if b.Measured != "" || total == 0 {
		b.Skipped = true
		if b.Measured == "" {
			b.Measured = "no busy answer in any cell"
		}
		return b
	}
	b.Pass = worst <= busyP99Limit
	b.Measured = fmt.Sprintf("<= %s (%s; the upper bound of its histogram bucket); %d busy answers in all", ms(worst), where, total)
	return b
}

// lateNote: calls lost outside the kill cell are not one of the bars (the grid's burners
// delay the harness's own goroutines too), but a reader should see them.
func (r *results) lateNote() string {
	var parts []string
	total := 0
	for _, group := range []struct {
		cells []*cellResult
		where string
	}{{r.Cells, ""}, {r.Quota, ", half a core"}} {
		for _, c := range group.cells {
			if n := c.Plain.lost() + c.Router.lost(); n > 0 {
				total += n
				parts = append(parts, fmt.Sprintf("%s%s: client %d, router %d", c.Spec, group.where, c.Plain.lost(), c.Router.lost()))
			}
		}
	}
	if total == 0 {
		return "No call outside the kill cell returned more than " + lateSlack.String() + " after its deadline, hung, or failed untyped."
	}
	return fmt.Sprintf("Calls outside the kill cell that returned more than %v after their deadline, hung or failed untyped: %d (%s). Not one of the issue's bars: in cells with burners the harness's own goroutines wait for a core too.", lateSlack, total, strings.Join(parts, "; "))
}

func burnWord(b bool) string {
	if b {
		return "burn"
	}
	return "idle"
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// worse is the longer of two times, never being the longest.
func worse(a, b time.Duration) time.Duration {
	if a == never || b == never {
		return never
	}
	return max(a, b)
}

// dur is ms, or "never" for a moment that did not come.
func dur(d time.Duration) string {
	if d == never {
		return "never"
	}
	return ms(d)
}

// served is "rust 310 / go 12".
func servedWord(t *tally) string {
	return fmt.Sprintf("%d / %d", t.Served[ferry.PathRust], t.Served[ferry.PathGo])
}
