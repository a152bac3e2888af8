//go:build linux

package main

import (
	"fmt"
	ferry "github.com/ferryd/ferry/go-client"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// write puts NAME.md, NAME.svg and NAME.json in the output directory.
func (r *results) write() error {
	if err := os.MkdirAll(r.Opts.out, 0o755); err != nil {
		return err
	}
	if err := writeSummary(filepath.Join(r.Opts.out, r.Opts.name+".json"), r.summary()); err != nil {
		return err
	}
	svg := r.Opts.name + ".svg"
	if err := os.WriteFile(filepath.Join(r.Opts.out, svg), []byte(goodputPlot(r.Cells)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.Opts.out, r.Opts.name+".md"), []byte(r.markdown(svg)), 0o644)
}

func (r *results) markdown(svg string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	p("# Overload: the plain client and the router side by side\n\n")
	p("Written by `ferry-overload` (issue 21's harness; benches/README.md, \"Overload\") at %s UTC; the run took %v.\n\n",
		r.Started.UTC().Format("2006-01-02 15:04"), r.Took.Round(time.Second))
	p("- Command: `%s` (what `make overload` runs)\n", r.command())
	p("- Machine: %d CPUs, %s; %s; Linux %s; load average at the start %s; **other processes used %.0f%% of the CPUs during the run** (the noise in every figure below)\n", m.CPUs, m.CPUModel, m.GoVersion, m.Kernel, m.LoadAvg, r.OthersCPU*100)
	p("- Daemon: %s (`ferryd --version`) from the repository at git %s (make overload builds it first); started by the harness with `%s` and `--metrics-listen unix:DIR/mN.sock` (its busy-answer histogram)\n", m.FerrydVers, m.GitRev, strings.Join(r.DaemonFlags, " "))
	p("- Unloaded thumbnail p50 (one caller, plain client): %s\n", r.Unloaded)
	p("- Each subject spends %v in each cell, in %d slices alternating with the other's (client, router, router, client, ..., or the reverse), against the same daemon; each slice starts with all callers at once. The latency-bound cells (8 callers or fewer, with burners) get %d times the time in %d times the slices: their slices vary most\n\n", r.Opts.cell, r.Opts.rounds, latencyBoundFactor, latencyBoundFactor)
	if r.Accounting != nil {
		p("**ACCOUNTING FAILED: the counts below do not add up and cannot be trusted:**\n\n```\n%v\n```\n\n", r.Accounting)
	} else {
		p("The harness's own accounting holds for every tally: attempts = the sum over classes, thumbnails = jobs served = thumbnails by path, every call started returned.\n\n")
	}

	p("## Bars (issue 21, \"Done when\")\n\n| bar | target | measured | verdict |\n|---|---|---|---|\n")
	for _, bar := range r.Bars {
		p("| %s | %s | %s | **%s** |\n", bar.Name, bar.Target, bar.Measured, bar.verdict())
	}

	p("\n%s\n", r.LateNote)
	if r.Before != nil {
		p("%s", compareMarkdown(r.Opts.before, r.Before, r.summary()))
	}

	p("\n## Goodput and failures per cell\n\n")
	p("Callers x deadline x CPU burners (`burn`: GOMAXPROCS goroutines spinning in the harness's process). Every caller makes 400x400 JPEG thumbnails of the sample photos in turn, one job after another; each job has its own context deadline, and a busy or overloaded answer is retried at once inside it. Failure columns count attempts; `jobs failed` counts jobs that ended without a thumbnail.\n\n")
	cellTable(&b, r.Cells, true)
	if len(r.Cells) > 0 {
		p("\n![goodput per cell, client and router](%s)\n", svg)
	}

	r.busyMarkdown(&b)

	p("\n## Daemon under a CPU quota of half a core\n\n%s.", r.QuotaNote)
	if len(r.Quota) > 0 {
		p(" The quota held the daemon back in %d periods of %d us.\n\n", r.QuotaThrottled, periodUs)
		cellTable(&b, r.Quota, true)
	} else {
		p("\n")
	}

	p("\n## Daemon SIGKILLed and restarted\n\n")
	if len(r.Kill) == 0 {
		p("%s.\n", r.KillNote)
	} else {
		p("%d callers, %v deadlines, no burners; SIGKILL %v into the run, the daemon started again on the same socket after %s (one run each, the bars take the worst), %v more. Times are from the kill, from the restart's exec, or from the restarted daemon's first answered ping (the harness's own probe, every 2 ms); `Go job` is the first moment the Go path ran a job (sampled every 0.5 ms); never: not within the run (%v after the restart).\n\n",
			killCallers, killDeadline, killAfter, downWord(), afterRestart, afterRestart)
		p("| who | down | ok/s | attempts | failed attempts | kill -> first failure | kill -> Go job | kill -> Go thumbnail | Go jobs at once (limit) | exec -> ping answered | ping -> daemon thumbnail | breaker opens | lost |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, k := range r.Kill {
			limit := "-"
			if k.GoLimit > 0 {
				limit = fmt.Sprintf("%d (%d)", k.GoPeak, k.GoLimit)
			}
			p("| %s | %v | %.1f | %d | %s | %s | %s | %s | %s | %s | %s | %d | %d |\n", k.Subject, k.Down, k.T.goodput(), k.T.Attempts, classesWord(k.T),
				dur(k.KillToFailure), dur(k.KillToGoStart), dur(k.KillToGoServed), limit, dur(k.ExecToReady), dur(k.readyToDaemon()), k.T.BreakerOpens, k.T.lost())
		}
	}

	others := map[string]bool{}
	all := append(append([]*cellResult(nil), r.Cells...), r.Quota...)
	for _, c := range all {
		for _, e := range append(append([]string(nil), c.Plain.OtherErrors...), c.Router.OtherErrors...) {
			others[e] = true
		}
	}
	for _, k := range r.Kill {
		for _, e := range k.T.OtherErrors {
			others[e] = true
		}
	}
	if len(others) > 0 {
		p("\n## Errors of class `other` (a sample)\n\n")
		var list []string
		for e := range others {
			list = append(list, e)
		}
		for _, e := range sortedStrings(list) {
			p("- `%s`\n", e)
		}
	}

	p("\n## How to read this\n\n")
	p("- **ok/s** (goodput): thumbnails per second of the subject's own time in the cell; **router %%** is the router's ok/s over the plain client's in the same cell.\n")
	p("- Attempt classes, by the public sentinels: **busy** `ferry.ErrBusy` (the daemon's answer, or a local refusal that matches it), **overl** `router.ErrOverloaded`, **deadl** the context's deadline or `ferry.ErrDeadlineExceeded`, **nresp** `ferry.ErrNotResponding`, **conn lost** `ferry.ErrConnectionLost`, **unav** `ferry.ErrUnavailable`, **other** anything else.\n")
	p("- **p50 / p99**: a job's time to its thumbnail, retries included. **busy p99**: one busy answer's latency from the call's start: the throttle's admission, the wait behind other callers' frames in the connection's write queue, writing the frame, the daemon reading it and answering, the reply read and the caller woken (local refusals, held on purpose, left out). **acc p99**: one attempt's latency for thumbnails the daemon made (the accepted-latency bar), measured the same way.\n")
	p("- **daemon's own busy time**: the daemon's `ferryd_busy_answer_seconds` histogram (a request's frame read whole to its busy reply written to the socket, flush included), scraped from its metrics socket before and after each cell; a quantile is read as the upper bound of its bucket (steps of x2 from 50 us).\n")
	p("- **rust / go**: thumbnails by `res.Served.Path`. **opens**: the router's breaker entering open (counted by an Observer as it happens, checked against its transitions counter). **late**: calls that returned more than %v after their job's deadline.\n", lateSlack)
	p("- **ok/s by slice**: each slice's goodput in the order it ran; their spread is the noise of the machine's other load, against which the router %% is read.\n")
	p("- **Lost**: a call that hung past its deadline (late), never returned, or failed with an error no sentinel matches.\n")
	p("- A caller whose job failed for another reason than busy or overloaded waits %v before its next job (a service does not spin on a daemon that is down).\n", failPause)
	return b.String()
}

// busyMarkdown is the section on busy answers: the callers' view, the Client's local refusals,
// and the daemon's own time, per cell and in the storm.
func (r *results) busyMarkdown(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("\n## Busy answers: the caller's time and the daemon's own\n\n")
	p("The plain client's busy answers from the daemon, timed from the call's start (see How to read this), beside the daemon's own time for all its busy answers in the cell (both subjects'), and the requests the Client refused locally without sending them (its throttle, the daemon's queue_jobs reached by its own outstanding jobs, or more than %s of frames ahead on every connection while the daemon answers busy), which it holds for a jittered %v on purpose so that a caller retrying at once cannot spin.\n\n", ferry.DefaultThrottleWriteWait, ferry.DefaultThrottleHold)
	p("| cell | busy answers (plain client) | p50 / p99 from the call's start | refused locally | held p99 | daemon's busy answers (both subjects) | daemon's own time p50 / p99 |\n|---|--:|--:|--:|--:|--:|--:|\n")
	row := func(name string, t *tally, h busyHist, note string) {
		call := "-"
		if len(t.BusyLatency) > 0 {
			call = ms(percentile(t.BusyLatency, 50)) + " / " + ms(percentile(t.BusyLatency, 99))
		}
		held := "-"
		if len(t.ThrottledLatency) > 0 {
			held = ms(percentile(t.ThrottledLatency, 99))
		}
		own, n := "-", fmt.Sprint(h.total())
		switch {
		case note != "":
			own, n = note, "-"
		case h.total() > 0:
			own = "<= " + ms(h.quantile(0.5)) + " / <= " + ms(h.quantile(0.99))
		}
		p("| %s | %d | %s | %d | %s | %s | %s |\n", name, len(t.BusyLatency), call, t.Throttled, held, n, own)
	}
	for _, c := range r.Cells {
		row(c.Spec.String(), c.Plain, c.DaemonBusy, c.BusyNote)
	}
	if r.Storm != nil {
		row(r.Storm.Spec.String()+", "+stormName, r.Storm.T, r.Storm.DaemonBusy, r.Storm.BusyNote)
		p("\nThe last row is the retry storm sent by a Client with its throttle off (`ferry.WithThrottle(-1)`, %v): every image reaches the daemon, as from a client without a throttle, and its busy answers' time from the call's start is mostly the wait behind the other callers' images in the Client's two connections.\n", r.Opts.cell)
	} else {
		p("\nRetry storm with the throttle off: %s.\n", r.StormNote)
	}
}

// cellTable writes one row per subject per cell.
func cellTable(b *strings.Builder, cells []*cellResult, withRatio bool) {
	fmt.Fprintf(b, "| cell | who | ok/s | router %% | attempts | busy | overl | deadl | nresp | conn lost | unav | other | jobs failed | p50 | p99 | rust / go | opens | busy p99 | acc p99 | late | ok/s by slice |\n")
	fmt.Fprintf(b, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range cells {
		for _, s := range []struct {
			name   string
			t      *tally
			slices []float64
		}{{plainName, c.Plain, c.PlainSlices}, {routerName, c.Router, c.RouterSlices}} {
			t := s.t
			var slices []string
			for _, v := range s.slices {
				slices = append(slices, fmt.Sprintf("%.0f", v))
			}
			ratio := ""
			if s.name == routerName && withRatio {
				verdict := "MISS"
				if c.ratio() >= routerShare {
					verdict = "PASS"
				}
				ratio = fmt.Sprintf("%.1f%% %s", c.ratio()*100, verdict)
			}
			busyP99, accP99 := "-", "-"
			if len(t.BusyLatency) > 0 {
				busyP99 = ms(percentile(t.BusyLatency, 99))
			}
			if len(t.Accepted) > 0 {
				accP99 = ms(percentile(t.Accepted, 99))
			}
			fmt.Fprintf(b, "| %s | %s | %.1f | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %d | %s | %s | %d | %s |\n",
				c.Spec, s.name, t.goodput(), ratio, t.Attempts, t.ByClass[classBusy], t.ByClass[classOverloaded], t.ByClass[classDeadline],
				t.ByClass[classNotResponding], t.ByClass[classConnLost], t.ByClass[classUnavailable], t.ByClass[classOther], t.JobsFailed,
				ms(percentile(t.JobLatency, 50)), ms(percentile(t.JobLatency, 99)), servedWord(t), t.BreakerOpens, busyP99, accP99, t.Late, strings.Join(slices, ", "))
		}
	}
}
