//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
)

// machine is what the report says about where it ran.
type machine struct {
	CPUs       int
	CPUModel   string
	GoVersion  string
	Kernel     string
	LoadAvg    string // at the start: other work on the machine skews every figure
	GitRev     string // of the repository the daemon was built from
	FerrydVers string
}

func describeMachine(o options) machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	m.GitRev = "unknown"
	if out, err := exec.Command("git", "-C", o.repo, "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		m.GitRev = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", o.repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.GitRev += " (uncommitted changes)"
		}
	}
	if out, err := exec.Command(o.ferryd, "--version").Output(); err == nil {
		m.FerrydVers = strings.TrimSpace(string(out))
	}
	return m
}

func (m machine) summary() string {
	return fmt.Sprintf("%d CPUs (%s), %s, ferryd %s at %s, load %s", m.CPUs, m.CPUModel, m.GoVersion, m.FerrydVers, m.GitRev, m.LoadAvg)
}

func sortedStrings(s []string) []string { slices.Sort(s); return s }
