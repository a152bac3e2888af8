//go:build linux

package main

import (
	"fmt"
	"io"
)

// The stdout table, one line per subject per cell as the run goes.

const rowFormat = "%-26s %-6s %7s %8s %6s %6s %6s %5s %5s %5s %5s %6s %8s %8s %11s %5s %4s\n"

func printHeader(w io.Writer) {
	fmt.Fprintf(w, "\n"+rowFormat, "cell", "who", "ok/s", "attempts", "busy", "overl", "deadl", "nresp", "clost", "unav", "other", "failed", "p50", "p99", "rust / go", "opens", "late")
}

func printCell(w io.Writer, c *cellResult) {
	for _, s := range []struct {
		name string
		t    *tally
	}{{plainName, c.Plain}, {routerName, c.Router}} {
		t := s.t
		fmt.Fprintf(w, rowFormat, c.Spec, s.name, fmt.Sprintf("%.1f", t.goodput()), fmt.Sprint(t.Attempts),
			fmt.Sprint(t.ByClass[classBusy]), fmt.Sprint(t.ByClass[classOverloaded]), fmt.Sprint(t.ByClass[classDeadline]),
			fmt.Sprint(t.ByClass[classNotResponding]), fmt.Sprint(t.ByClass[classConnLost]), fmt.Sprint(t.ByClass[classUnavailable]),
			fmt.Sprint(t.ByClass[classOther]), fmt.Sprint(t.JobsFailed), ms(percentile(t.JobLatency, 50)), ms(percentile(t.JobLatency, 99)),
			servedWord(t), fmt.Sprint(t.BreakerOpens), fmt.Sprint(t.Late))
	}
	verdict := "MISS"
	if c.ratio() >= routerShare {
		verdict = "PASS"
	}
	fmt.Fprintf(w, "%-26s router/client %.1f%% %s; %s\n", "", c.ratio()*100, verdict, daemonBusyWord(c.DaemonBusy, c.BusyNote))
}

// printStorm prints the storm cell's one subject and the daemon's busy answer time.
func printStorm(w io.Writer, s *stormResult) {
	t := s.T
	fmt.Fprintf(w, rowFormat, s.Spec, "no thrtl", fmt.Sprintf("%.1f", t.goodput()), fmt.Sprint(t.Attempts),
		fmt.Sprint(t.ByClass[classBusy]), fmt.Sprint(t.ByClass[classOverloaded]), fmt.Sprint(t.ByClass[classDeadline]),
		fmt.Sprint(t.ByClass[classNotResponding]), fmt.Sprint(t.ByClass[classConnLost]), fmt.Sprint(t.ByClass[classUnavailable]),
		fmt.Sprint(t.ByClass[classOther]), fmt.Sprint(t.JobsFailed), ms(percentile(t.JobLatency, 50)), ms(percentile(t.JobLatency, 99)),
		servedWord(t), "-", fmt.Sprint(t.Late))
	fmt.Fprintf(w, "%-26s busy p99 from the call's start %s; %s\n", "", ms(percentile(t.BusyLatency, 99)), daemonBusyWord(s.DaemonBusy, s.BusyNote))
}

// daemonBusyWord is the daemon's own busy answer time, e.g. "daemon: 1208 busy, p99 <= 0.8 ms".
func daemonBusyWord(h busyHist, note string) string {
	switch {
	case note != "":
		return "daemon: " + note
	case h.total() == 0:
		return "daemon: no busy answer"
	}
	return fmt.Sprintf("daemon: %d busy, p50 <= %s, p99 <= %s (frame read -> reply written)", h.total(), ms(h.quantile(0.5)), ms(h.quantile(0.99)))
}

func printKill(w io.Writer, k *killResult) {
	fmt.Fprintf(w, "%-6s down %v: ok/s %.1f, %d attempts, failed %d (%s); kill->first failure %s, kill->Go job %s, kill->Go thumbnail %s, Go peak %d/%d; exec->ready %s, ready->daemon thumbnail %s; lost %d, breaker opens %d\n",
		k.Subject, k.Down, k.T.goodput(), k.T.Attempts, k.T.failedAttempts(), classesWord(k.T), dur(k.KillToFailure), dur(k.KillToGoStart), dur(k.KillToGoServed),
		k.GoPeak, k.GoLimit, dur(k.ExecToReady), dur(k.readyToDaemon()), k.T.lost(), k.T.BreakerOpens)
}

// classesWord lists the failure classes seen, e.g. "busy 3, connection lost 2".
func classesWord(t *tally) string {
	s := ""
	for c := classBusy; c < nClasses; c++ {
		if n := t.ByClass[c]; n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s %d", c, n)
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

func printBars(w io.Writer, r *results) {
	fmt.Fprintln(w, "\nbars (issue 21):")
	for _, b := range r.Bars {
		fmt.Fprintf(w, "  %-12s %s: %s (target %s)\n", b.verdict(), b.Name, b.Measured, b.Target)
	}
	fmt.Fprintln(w, r.LateNote)
	if r.Accounting != nil {
		fmt.Fprintf(w, "ACCOUNTING FAILED: %v\n", r.Accounting)
	}
}
