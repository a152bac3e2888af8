package main

import (
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/ferryd/ferry/go-client/router"
)

// results is everything one run measured; results.json is this, verbatim.
type results struct {
	Started   time.Time       `json:"started"`
	Elapsed   string          `json:"elapsed"`
	Short     bool            `json:"short"`
	Corpus    string          `json:"corpus"`
	Host      host            `json:"host"`
	Ping      pingResults     `json:"ping"`
	Thumbs    thumbsSerial    `json:"thumbs"`
	Several   severalResults  `json:"several"`
	Sweep     sweep           `json:"sweep"`
	Checksums checksumResults `json:"checksums"`
	// FileChecksum is BLAKE3 of 64 MiB by file descriptor (the last round's runs).
	FileChecksum *fileChecksum `json:"file_checksum,omitempty"`
	Auto         autoResults   `json:"auto"`
	// CostTable is this run's crossover table (crossover.json): the rounds' median figures.
	CostTable *router.CostTable `json:"cost_table,omitempty"`
	Memory    memoryResults     `json:"memory"`
	Vips      *vipsResults      `json:"vips,omitempty"`
	// libvips through cgo in a Go process (govips): one at a time, and its own concurrency sweep.
	Govips        *vipsResults   `json:"govips,omitempty"`
	GovipsSweep   *govipsSweep   `json:"govips_sweep,omitempty"`
	GovipsMissing string         `json:"govips_missing,omitempty"` // why there are no govips figures
	Kernels       *kernelResults `json:"kernels,omitempty"`
	// Formats is the HEIC and AVIF section (issue 22).
	Formats   *formatsResults `json:"formats,omitempty"`
	GoPeakRSS int64           `json:"go_peak_rss_kib"`
	Bar       []barLine       `json:"bar"`
	// Rounds are every pass's figures; the tables show the last, the bar the medians.
	Rounds []round `json:"rounds"`
}

// host is the machine the figures belong to.
type host struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	Go    string `json:"go"`
}

func hostFacts() host {
	h := host{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				h.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	return h
}
