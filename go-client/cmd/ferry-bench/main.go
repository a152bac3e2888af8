// Command ferry-bench runs ferry's workload matrix through the socket path (ferryd, through the Go
// Client) and the in-process Go path in the same run, on the same machine, and writes a report:
// report.md (tables, the performance bar), thumbs.svg and checksums.svg (plots) and results.json.
//
//	ferry-bench -ferryd target/release/ferryd -corpus ../shared/corpus -out out/bench
//	ferry-bench -short -corpus tests/data/photos ...   a quick pass: the test suite runs it
//
// Sections: ping (against the raw Unix-socket floor, measured by this harness), thumbnails (fit
// 400x400, JPEG q80, Lanczos3: one at a time, then at concurrency 1, 2, 8, 64), checksums (4 KiB
// to 64 MiB, each algorithm, both paths), CPU per job in both processes, daemon memory under a
// 64-request burst of the corpus's largest photo, and libvips (pyvips) on the same photos when
// python3 can import pyvips. `make bench` runs it all, with the Rust kernel figures of
// `cargo bench --bench corpus` passed in by -kernels.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ferryd/ferry/go-client/internal/echofloor"
)

// options are the command line.
type options struct {
	ferryd  string // binary to start; empty with -socket means attach to a running daemon
	socket  string // attach: a running daemon's socket (its pid from -pid)
	pid     int
	corpus  string
	out     string
	kernels string // JSON from `cargo bench --bench corpus` with FERRY_BENCH_JSON
	short   bool
	noVips  bool
	log     func(format string, args ...any)
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.ferryd, "ferryd", "target/release/ferryd", "ferryd binary to start on a temporary socket")
	flag.StringVar(&o.socket, "socket", "", "use the ferryd already listening here instead of starting one (needs -pid)")
	flag.IntVar(&o.pid, "pid", 0, "process id of the ferryd given by -socket, for its CPU and memory figures")
	flag.StringVar(&o.corpus, "corpus", "", "directory of photos (*.jpg, *.jpeg, *.png); see benches/README.md to fetch them")
	flag.StringVar(&o.out, "out", "out/bench", "directory for report.md, the SVG plots and results.json")
	flag.StringVar(&o.kernels, "kernels", "", "JSON written by `FERRY_BENCH_JSON=... cargo bench --bench corpus` (the bare-pool ceiling)")
	flag.BoolVar(&o.short, "short", false, "a quick pass with few runs and small sizes (what the test suite runs)")
	flag.BoolVar(&o.noVips, "no-vips", false, "skip libvips even when pyvips is importable")
	flag.Parse()
	return o
}

func main() {
	echofloor.ServeIfAsked()
	o := parseFlags()
	if o.corpus == "" {
		fmt.Fprintln(os.Stderr, "ferry-bench: -corpus is required")
		flag.Usage()
		os.Exit(2)
	}
	o.log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-bench:", err)
		os.Exit(1)
	}
}

// run measures every section and writes the report files into o.out.
func run(ctx context.Context, o options) error {
	photos, err := loadPhotos(o.corpus)
	if err != nil {
		return err
	}
	d, err := openDaemon(o)
	if err != nil {
		return err
	}
	defer d.close()
	p := planFor(o.short)
	res := &results{Started: time.Now(), Short: o.short, Corpus: o.corpus, Host: hostFacts()}

	o.log("ping ...")
	if res.Ping, err = benchPing(ctx, d, p); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	var vips *vipsWorker
	if !o.noVips {
		if vips = startVips(photos); vips == nil {
			o.log("pyvips not importable: no libvips figures")
		}
	}
	o.log("thumbnails, one at a time ...")
	res.Thumbs, res.Vips, err = benchThumbsSerial(ctx, d, photos, p, vips)
	if vips != nil {
		vips.close()
	}
	if err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	o.log("thumbnails, concurrency sweep ...")
	if res.Sweep, err = benchThumbsSweep(ctx, d, photos, p); err != nil {
		return fmt.Errorf("thumbnail sweep: %w", err)
	}
	o.log("checksums ...")
	if res.Checksums, err = benchChecksums(ctx, d, p); err != nil {
		return fmt.Errorf("checksums: %w", err)
	}
	o.log("memory burst ...")
	if res.Memory, err = benchMemory(ctx, d, photos, p); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	if o.kernels != "" {
		if res.Kernels, err = readKernels(o.kernels); err != nil {
			return err
		}
	}
	res.GoPeakRSS = selfPeakRSS()
	res.Bar = judge(res)
	res.Elapsed = time.Since(res.Started).Round(time.Millisecond).String()
	return writeReport(o.out, res)
}

// writeReport writes results.json, report.md and the plots.
func writeReport(dir string, res *results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"results.json":  raw,
		"report.md":     []byte(markdown(res)),
		"thumbs.svg":    []byte(thumbsPlot(res)),
		"checksums.svg": []byte(checksumsPlot(res)),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("report: %s\n", filepath.Join(dir, "report.md"))
	return nil
}

// spawn runs f on a goroutine counted by wg (sync.WaitGroup.Go, for the module's older go line).
func spawn(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}
