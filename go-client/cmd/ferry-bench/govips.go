package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// govipsSweep is libvips in this kind of process, through cgo (govips), at several concurrencies:
// the alternative a Go team weighs against running ferryd beside the service. Measured by the
// ferry-govips program (benches/govips, its own module) so that its C allocations show in its own
// peak RSS and cgo never enters this module.
type govipsSweep struct {
	Version string `json:"version"`
	Levels  []struct {
		Concurrency  int     `json:"concurrency"`
		Images       int     `json:"images"`
		ImagesPerSec float64 `json:"images_per_sec"`
		P50MS        float64 `json:"p50_ms"`
		P99MS        float64 `json:"p99_ms"`
	} `json:"levels"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// govipsLevels are the concurrencies of the govips sweep: one at a time, one per core, and the
// socket path's contended level.
var govipsLevels = []int{1, 2, 8}

// buildGovips compiles benches/govips into dir; the error says why the govips lines are missing
// (no cgo compiler, no libvips-dev: `apt-get install libvips-dev`).
func buildGovips(src, dir string) (string, error) {
	bin := filepath.Join(dir, "ferry-govips")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s: %v: %s", src, err, firstLines(stderr.String(), 3))
	}
	return bin, nil
}

// govipsFor builds the govips path for a run unless -short or an empty -govips leave it out:
// the binary ("" when there is none), why there is none, and the removal of its directory.
func govipsFor(o options) (bin, missing string, remove func()) {
	remove = func() {}
	if o.short || o.govips == "" {
		return "", "not run (-short, or -govips empty)", remove
	}
	o.log("building the govips path ...")
	tmp, err := os.MkdirTemp("", "fgb")
	if err != nil {
		return "", err.Error(), remove
	}
	remove = func() { os.RemoveAll(tmp) }
	if bin, err = buildGovips(o.govips, tmp); err != nil {
		o.log("no govips figures: %v", err)
		return "", err.Error(), remove
	}
	return bin, "", remove
}

// startGovips is the govips timing process for the one-at-a-time table (one libvips thread).
func startGovips(bin string, photos []photo) *vipsWorker {
	return startWorker(exec.Command(bin, "-serve"), photos)
}

// newGovipsServe is the govips timing process of the HEIC and AVIF section: quality holds
// heifsave's Q and effort for AVIF output.
func newGovipsServe(bin string, quality []string) *exec.Cmd {
	return exec.Command(bin, "-serve", "-avif-quality", quality[0], "-avif-effort", quality[1])
}

// runGovipsSweep runs the concurrency sweep in the govips process over the photos.
func runGovipsSweep(bin string, photos []photo, concurrency []int, each time.Duration) (*govipsSweep, error) {
	dir, err := os.MkdirTemp("", "fg")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	levels := make([]string, len(concurrency))
	for i, c := range concurrency {
		levels[i] = strconv.Itoa(c)
	}
	args := []string{"-sweep", strings.Join(levels, ","), "-for", each.String()}
	for _, ph := range photos {
		path := filepath.Join(dir, ph.Name)
		if err := os.WriteFile(path, ph.data, 0o644); err != nil {
			return nil, err
		}
		args = append(args, path)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("govips sweep: %w", err)
	}
	var res govipsSweep
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("govips sweep output: %w", err)
	}
	return &res, nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " / ")
}

// writeGovips is the report's govips section: one at a time against the socket path, and the
// concurrency sweep with the Go process's peak RSS beside the socket path's cells.
func writeGovips(w func(string, ...any), r *results) {
	w("\n## libvips in the Go process (govips, cgo)\n\n")
	if r.Govips == nil {
		w("Not measured: %s.\n", r.GovipsMissing)
		return
	}
	w("libvips %s through github.com/davidbyttow/govips in a separate Go program (benches/govips), `NewThumbnailFromBuffer` (shrink-on-load) to 400x400 then JPEG q80, one libvips thread per call, timed inside that process, alternating call by call with the other paths.\n\n", r.Govips.Version)
	w("| photo | socket p50 | govips p50 | govips/socket |\n|---|---:|---:|---:|\n")
	for _, row := range r.Thumbs.Rows {
		v := r.Govips.Rows[row.Photo.Name]
		w("| %s | %.1f | %.1f | %.2fx |\n", row.Photo.Name, row.Rust.P50, v.P50, v.P50/row.Rust.P50)
	}
	w("| **sum of p50** | **%.0f** | **%.0f** | **%.2fx** |\n", r.Thumbs.RustSumMS, r.Govips.SumMS, r.Govips.SumMS/r.Thumbs.RustSumMS)
	s := r.GovipsSweep
	if s == nil {
		w("\nNo concurrency sweep: %s.\n", r.GovipsMissing)
		return
	}
	w("\nAt concurrency (N goroutines, each one libvips thread, 5 s per level); the socket path's cells at the same level are from the sweep above.\n\n")
	w("| concurrency | govips images/s | p50 ms | p99 ms | socket images/s | socket p50 ms |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range s.Levels {
		sock := cellAt(r.Sweep.Rust, l.Concurrency)
		if sock == nil {
			w("| %d | %.2f | %.1f | %.1f | | |\n", l.Concurrency, l.ImagesPerSec, l.P50MS, l.P99MS)
			continue
		}
		w("| %d | %.2f | %.1f | %.1f | %.2f | %.1f |\n", l.Concurrency, l.ImagesPerSec, l.P50MS, l.P99MS, sock.PerSecond, sock.Latency.P50)
	}
	w("\nPeak RSS of the govips Go process over its sweep: %.0f MiB (libvips' pixel buffers are C memory inside the service's own process; with ferryd they live in the daemon, under its memory budget).\n", s.PeakRSSMB)
}
