//go:build linux

package main

import (
	"fmt"
	"strings"
)

// formerNames maps a bar's name to the name an earlier harness gave it, so a run is set beside
// a report written before the renaming.
var formerNames = map[string]string{
	"busy answered by the daemon, p99, from the call's start (plain client, worst cell)": "busy answered by the daemon, p99 (plain client, worst cell)",
}

// compareMarkdown sets this run's figures beside an earlier run's (-before NAME.json): the bars,
// then per cell the goodput, the router's share, breaker openings and not-responding errors.
func compareMarkdown(beforePath string, before *summary, now summary) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("\n## Against %s\n\n", beforePath)
	p("The earlier run: %s UTC, git %s, other processes using %.0f%% of the CPUs (this run: %.0f%%); `%s`.\n\n",
		before.Started.Format("2006-01-02 15:04"), before.GitRev, before.OthersCPU*100, now.OthersCPU*100, before.Command)
	p("| bar | before | now |\n|---|---|---|\n")
	old := map[string]barSummary{}
	for _, bar := range before.Bars {
		old[bar.Name] = bar
	}
	for _, bar := range now.Bars {
		was, ok := old[bar.Name]
		if !ok {
			was, ok = old[formerNames[bar.Name]]
		}
		wasText := "not in that run"
		if ok {
			wasText = fmt.Sprintf("%s: %s", was.Verdict, was.Measured)
		}
		p("| %s | %s | **%s**: %s |\n", bar.Name, wasText, bar.Verdict, bar.Measured)
	}

	p("\n| cell | client ok/s | router ok/s | router %% | router breaker opens | not responding (client + router) |\n|---|---|---|---|---|---|\n")
	oldCells := map[string]cellSummary{}
	key := func(c cellSummary) string { return fmt.Sprintf("%s/%v", c.Cell, c.Quota) }
	for _, c := range before.Cells {
		oldCells[key(c)] = c
	}
	for _, c := range now.Cells {
		name := c.Cell
		if c.Quota {
			name += ", half a core"
		}
		was, ok := oldCells[key(c)]
		if !ok {
			p("| %s | %.1f | %.1f | %.1f%% | %d | %d |\n", name, c.Client.OKPerSec, c.Router.OKPerSec, c.RouterShare*100, c.Router.BreakerOpens, notResponding(c))
			continue
		}
		p("| %s | %.1f -> %.1f | %.1f -> %.1f | %.1f%% -> %.1f%% | %d -> %d | %d -> %d |\n", name,
			was.Client.OKPerSec, c.Client.OKPerSec, was.Router.OKPerSec, c.Router.OKPerSec, was.RouterShare*100, c.RouterShare*100,
			was.Router.BreakerOpens, c.Router.BreakerOpens, notResponding(was), notResponding(c))
	}

	if len(now.Kill) > 0 {
		p("\n| kill cell, down | ok/s | kill -> Go job, ms | ping -> daemon thumbnail, ms | breaker opens | lost |\n|---|---|---|---|---|---|\n")
		oldKill := map[string]killSummary{}
		killKey := func(k killSummary) string { return fmt.Sprintf("%s/%.0f", k.Subject, k.DownMs) }
		for _, k := range before.Kill {
			oldKill[killKey(k)] = k
		}
		for _, k := range now.Kill {
			was, ok := oldKill[killKey(k)]
			if !ok {
				continue
			}
			p("| %s, %.1f s | %.1f -> %.1f | %s -> %s | %s -> %s | %d -> %d | %d -> %d |\n", k.Subject, k.DownMs/1000, was.OKPerSec, k.OKPerSec,
				msOrNever(was.KillToGoStartMs), msOrNever(k.KillToGoStartMs), msOrNever(was.ReadyToDaemonMs), msOrNever(k.ReadyToDaemonMs),
				was.BreakerOpens, k.BreakerOpens, was.Lost, k.Lost)
		}
	}
	return b.String()
}

func notResponding(c cellSummary) int {
	return c.Client.Failures[classNotResponding.String()] + c.Router.Failures[classNotResponding.String()]
}

func msOrNever(v float64) string {
	if v < 0 {
		return "never"
	}
	return fmt.Sprintf("%.0f", v)
}
