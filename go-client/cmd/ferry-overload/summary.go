//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// summary is NAME.json: the figures of a run in a form a later run reads back (-before) to set
// its own beside them.
type summary struct {
	Started   time.Time     `json:"started"`
	Command   string        `json:"command"`
	GitRev    string        `json:"git_rev"`
	OthersCPU float64       `json:"others_cpu_share"`
	Cells     []cellSummary `json:"cells"`
	Kill      []killSummary `json:"kill"`
	Bars      []barSummary  `json:"bars"`
}

type cellSummary struct {
	Cell        string         `json:"cell"`
	Quota       bool           `json:"quota,omitempty"`
	Client      subjectSummary `json:"client"`
	Router      subjectSummary `json:"router"`
	RouterShare float64        `json:"router_share"`
}

type subjectSummary struct {
	OKPerSec     float64        `json:"ok_per_s"`
	Attempts     int            `json:"attempts"`
	Failures     map[string]int `json:"failures"`
	JobsFailed   int            `json:"jobs_failed"`
	P50Ms        float64        `json:"p50_ms"`
	P99Ms        float64        `json:"p99_ms"`
	Rust         int            `json:"rust"`
	Go           int            `json:"go"`
	BreakerOpens int            `json:"breaker_opens"`
	BusyP99Ms    float64        `json:"busy_p99_ms"`
	AcceptedP99  float64        `json:"accepted_p99_ms"`
	Lost         int            `json:"lost"`
}

type killSummary struct {
	Subject          string  `json:"subject"`
	DownMs           float64 `json:"down_ms"`
	OKPerSec         float64 `json:"ok_per_s"`
	KillToGoStartMs  float64 `json:"kill_to_go_start_ms"`
	ReadyToDaemonMs  float64 `json:"ready_to_daemon_ms"`
	GoPeak           int     `json:"go_peak"`
	Lost             int     `json:"lost"`
	BreakerOpens     int     `json:"breaker_opens"`
	FailedAttempts   int     `json:"failed_attempts"`
	KillToFailureMs  float64 `json:"kill_to_failure_ms"`
	KillToGoServedMs float64 `json:"kill_to_go_served_ms"`
}

type barSummary struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Verdict  string `json:"verdict"`
}

func msf(d time.Duration) float64 {
	if d == never {
		return -1
	}
	return float64(d) / float64(time.Millisecond)
}

func summarizeSubject(t *tally) subjectSummary {
	s := subjectSummary{OKPerSec: t.goodput(), Attempts: t.Attempts, Failures: map[string]int{}, JobsFailed: t.JobsFailed,
		P50Ms: msf(percentile(t.JobLatency, 50)), P99Ms: msf(percentile(t.JobLatency, 99)), Rust: t.Served[ferry.PathRust], Go: t.Served[ferry.PathGo],
		BreakerOpens: t.BreakerOpens, BusyP99Ms: msf(percentile(t.BusyLatency, 99)), AcceptedP99: msf(percentile(t.Accepted, 99)), Lost: t.lost()}
	for c := classBusy; c < nClasses; c++ {
		if t.ByClass[c] > 0 {
			s.Failures[c.String()] = t.ByClass[c]
		}
	}
	return s
}

func (r *results) summary() summary {
	s := summary{Started: r.Started.UTC(), Command: r.command(), GitRev: r.Machine.GitRev, OthersCPU: r.OthersCPU}
	for _, group := range []struct {
		cells []*cellResult
		quota bool
	}{{r.Cells, false}, {r.Quota, true}} {
		for _, c := range group.cells {
			s.Cells = append(s.Cells, cellSummary{Cell: c.Spec.String(), Quota: group.quota, Client: summarizeSubject(c.Plain), Router: summarizeSubject(c.Router), RouterShare: c.ratio()})
		}
	}
	for _, k := range r.Kill {
		s.Kill = append(s.Kill, killSummary{Subject: k.Subject, DownMs: msf(k.Down), OKPerSec: k.T.goodput(), KillToGoStartMs: msf(k.KillToGoStart), ReadyToDaemonMs: msf(k.readyToDaemon()),
			GoPeak: k.GoPeak, Lost: k.T.lost(), BreakerOpens: k.T.BreakerOpens, FailedAttempts: k.T.failedAttempts(),
			KillToFailureMs: msf(k.KillToFailure), KillToGoServedMs: msf(k.KillToGoServed)})
	}
	for _, b := range r.Bars {
		s.Bars = append(s.Bars, barSummary{Name: b.Name, Target: b.Target, Measured: b.Measured, Verdict: b.verdict()})
	}
	return s
}

func (r *results) command() string {
	return "cd go-client && go run ./cmd/ferry-overload " + strings.Join(r.Opts.args, " ")
}

func writeSummary(path string, s summary) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readSummary(path string) (*summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}
