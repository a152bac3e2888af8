package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// round is what one pass of the repeated sections measured. The bar judges every round on its
// own figures and then takes each line's median over the rounds, with its spread, so that one
// lucky or unlucky pass on a noisy machine cannot decide a line.
type round struct {
	Ping      pingResults     `json:"ping"`
	Thumbs    thumbsSerial    `json:"thumbs"`
	Several   severalResults  `json:"several"` // three sizes from one decode vs the largest alone
	Vips      *vipsResults    `json:"vips,omitempty"`
	Govips    *vipsResults    `json:"govips,omitempty"`
	Sweep     sweep           `json:"sweep"`
	Checksums checksumResults `json:"checksums"`
	// FileChecksum is BLAKE3 of a 64 MiB file by descriptor, and in process in Go.
	FileChecksum *fileChecksum `json:"file_checksum,omitempty"`
	// Auto is the router in RouteAuto, routing by a table of this round's own figures.
	Auto autoResults `json:"auto"`
	// Pool is the bare kernels on a 2-thread rayon pool, measured in this round right before
	// the sweep, so the throughput line compares two figures taken side by side.
	Pool *kernelResults `json:"bare_pool,omitempty"`
}

// apply makes r the figures the report's tables show (the last round's).
func (rd round) apply(r *results) {
	r.Ping, r.Thumbs, r.Vips, r.Govips, r.Sweep, r.Checksums, r.Auto = rd.Ping, rd.Thumbs, rd.Vips, rd.Govips, rd.Sweep, rd.Checksums, rd.Auto
	r.Several = rd.Several
	r.FileChecksum = rd.FileChecksum
	if rd.Pool != nil {
		pool := *rd.Pool
		pool.SameRound = true
		if r.Kernels != nil {
			pool.SingleThreadSumMS = r.Kernels.SingleThreadSumMS
		}
		r.Kernels = &pool
	}
}

// runBarePool runs the corpus bench's pool phase alone (FERRY_CORPUS_POOL_ONLY) in the
// repository at repo; nil, nil when repo is empty.
func runBarePool(ctx context.Context, repo, corpus string) (*kernelResults, error) {
	if repo == "" {
		return nil, nil
	}
	tmp, err := os.MkdirTemp("", "fk")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "pool.json")
	cmd := exec.CommandContext(ctx, "cargo", "bench", "--locked", "--bench", "corpus")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "FERRY_CORPUS="+corpus, "FERRY_CORPUS_POOL_ONLY=1", "FERRY_BENCH_JSON="+out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bare pool (cargo bench --bench corpus): %v: %s", err, firstLines(string(msg), 3))
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var k kernelResults
	return &k, json.Unmarshal(raw, &k)
}

// combineBars is the bar over all rounds: per line, the median of the rounds' values, judged
// against the line's threshold, with the spread printed beside it. Lines measured once (memory)
// have one value and say so.
func combineBars(rounds [][]barLine) []barLine {
	if len(rounds) == 0 {
		return nil
	}
	var out []barLine
	for i, first := range rounds[len(rounds)-1] {
		if first.Verdict == "not measured" {
			out = append(out, first)
			continue
		}
		var values []float64
		for _, bar := range rounds {
			if i < len(bar) && bar[i].Line == first.Line && bar[i].Verdict != "not measured" {
				values = append(values, bar[i].Value)
			}
		}
		slices.Sort(values)
		med := values[len(values)/2]
		if len(values)%2 == 0 {
			med = (values[len(values)/2-1] + values[len(values)/2]) / 2
		}
		line := first
		line.Value = med
		line.Verdict = first.judged(med)
		if len(values) > 1 {
			line.Measured = fmt.Sprintf("**%s** median of %d rounds (spread %s to %s); last round: %s",
				first.format(med), len(values), first.format(values[0]), first.format(values[len(values)-1]), first.Measured)
		} else {
			line.Measured = fmt.Sprintf("**%s** (one measurement): %s", first.format(med), first.Measured)
		}
		out = append(out, line)
	}
	return out
}

// publicCorpus is how the report names the corpus: its directory's name, no machine path.
func publicCorpus(dir string) string {
	return strings.TrimSpace(filepath.Base(filepath.Clean(dir)))
}
