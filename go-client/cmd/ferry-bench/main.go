// Command ferry-bench runs ferry's workload matrix through the socket path (ferryd, through the Go
// Client) and the in-process Go path in the same run, on the same machine, and writes a report:
// report.md (tables, the performance bar), thumbs.svg and checksums.svg (plots), results.json and
// crossover.json (the router's cost table for this machine: install it with FERRY_COST_TABLE).
//
//	ferry-bench -ferryd target/release/ferryd -corpus ../shared/corpus -out out/bench
//	ferry-bench -short -corpus tests/data/photos ...   a quick pass: the test suite runs it
//
// Sections: ping (against the raw Unix-socket floor, measured by this harness), thumbnails (fit
// 400x400, JPEG q80, Lanczos3: one at a time, then at concurrency 1, 2, 8, 64), checksums (4 KiB
// to 64 MiB, each algorithm, both paths), CPU per job in both processes, daemon memory under a
// 64-request burst of the corpus's largest photo, the router in policy auto against the faster
// path at every checksum cell (routing by a table of the same round's figures), and libvips (pyvips) on the same photos when
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
	"slices"
	"sync"
	"time"

	"github.com/ferryd/ferry/go-client/internal/echofloor"
)

// options are the command line.
type options struct {
	ferryd string // binary to start; empty with -socket means attach to a running daemon
	socket string // attach: a running daemon's socket (its pid from -pid)
	pid    int
	corpus string
	// detail: a second directory of pictures (the painted detail corpus) for the one-at-a-time
	// section only; reference: the full-decode references of both (quality_reference).
	detail, reference string
	out               string
	kernels           string // JSON from `cargo bench --bench corpus` with FERRY_BENCH_JSON
	short             bool
	noVips            bool
	rounds            int    // passes of the repeated sections; the bar takes each line's median
	repo              string // repository root, for the bare pool (cargo bench --bench corpus) in each round
	govips            string // benches/govips: libvips through cgo, in a Go process; "" skips it
	// tableFrom, tableOut: write the router's cost table of an earlier run's results.json to
	// tableOut and measure nothing (go generate in package router).
	tableFrom, tableOut string
	// autoOnly: measure the auto section alone, routing by costTable (empty: the router's default).
	autoOnly  bool
	costTable string
	// formatsOnly: measure the HEIC and AVIF section alone, into formats.md and formats.json.
	formatsOnly bool
	// thumbsOnly: measure the one-at-a-time thumbnails alone and print their section.
	thumbsOnly bool
	// fdFile is the 64 MiB file BLAKE3 by descriptor reads, written once per run.
	fdFile string
	log    func(format string, args ...any)
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.ferryd, "ferryd", "target/release/ferryd", "ferryd binary to start on a temporary socket")
	flag.StringVar(&o.socket, "socket", "", "use the ferryd already listening here instead of starting one (needs -pid)")
	flag.IntVar(&o.pid, "pid", 0, "process id of the ferryd given by -socket, for its CPU and memory figures")
	flag.StringVar(&o.corpus, "corpus", "", "directory of photos (*.jpg, *.jpeg, *.png); see benches/README.md to fetch them")
	flag.StringVar(&o.detail, "detail", "", "directory of the painted detail corpus (cargo bench --bench quality_reference writes it): timed and measured one at a time beside the photos")
	flag.StringVar(&o.reference, "reference", "", "directory of full-decode reference thumbnails, <photo>.png (cargo bench --bench quality_reference): every path's PSNR against them")
	flag.StringVar(&o.out, "out", "out/bench", "directory for report.md, the SVG plots and results.json")
	flag.StringVar(&o.kernels, "kernels", "", "JSON written by `FERRY_BENCH_JSON=... cargo bench --bench corpus` (the bare-pool ceiling)")
	flag.IntVar(&o.rounds, "rounds", 3, "passes of ping, thumbnails, three sizes from one decode, bare pool, sweep and checksums; the bar is each line's median (-short: 1)")
	flag.StringVar(&o.repo, "repo", "", "repository root: run the bare 2-thread pool (cargo bench --bench corpus) in each round, beside the sweep")
	flag.BoolVar(&o.short, "short", false, "a quick pass with few runs and small sizes (what the test suite runs)")
	flag.BoolVar(&o.noVips, "no-vips", false, "skip libvips even when pyvips is importable")
	flag.StringVar(&o.govips, "govips", "../benches/govips", "source of the govips path (needs cgo and libvips-dev); empty skips it; -short skips it")
	flag.StringVar(&o.tableFrom, "table-from", "", "measure nothing: write the router's cost table of this results.json to -table-out")
	flag.StringVar(&o.tableOut, "table-out", "crossover.json", "where -table-from writes the cost table")
	flag.BoolVar(&o.thumbsOnly, "thumbs-only", false, "measure only the one-at-a-time thumbnails (ferryd default and fast, libvips, govips, PSNR against -reference) for -rounds rounds; prints the speed-and-quality section and its bar lines")
	flag.BoolVar(&o.autoOnly, "auto-only", false, "measure only the router's auto policy against both paths (full sizes unless -short), routing by -cost-table; prints the section")
	flag.StringVar(&o.costTable, "cost-table", "", "with -auto-only: the cost table file to route by, or \"default\" for the router's embedded one; empty: measure the checksum cells first and route by their table, as a round does")
	flag.BoolVar(&o.formatsOnly, "formats-only", false, "measure only the HEIC and AVIF section (a few minutes; -short: seconds) and write formats.md and formats.json to -out")
	flag.Parse()
	return o
}

func main() {
	echofloor.ServeIfAsked()
	o := parseFlags()
	if o.tableFrom != "" {
		if err := tableFromReport(o.tableFrom, o.tableOut); err != nil {
			fmt.Fprintln(os.Stderr, "ferry-bench:", err)
			os.Exit(1)
		}
		return
	}
	if o.autoOnly {
		o.log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
		if err := runAutoOnly(context.Background(), o); err != nil {
			fmt.Fprintln(os.Stderr, "ferry-bench:", err)
			os.Exit(1)
		}
		return
	}
	if o.corpus == "" {
		fmt.Fprintln(os.Stderr, "ferry-bench: -corpus is required")
		flag.Usage()
		os.Exit(2)
	}
	o.log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	measure := run
	switch {
	case o.formatsOnly:
		measure = runFormatsOnly
	case o.thumbsOnly:
		measure = runThumbsOnly
	}
	if err := measure(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-bench:", err)
		os.Exit(1)
	}
}

// loadInputs reads the corpus photos, and serial, the one-at-a-time section's inputs: the
// photos, then the detail corpus when o.detail names one.
func loadInputs(o options) (photos, serial []photo, err error) {
	if photos, err = loadPhotos(o.corpus); err != nil {
		return nil, nil, err
	}
	if o.detail == "" {
		return photos, photos, nil
	}
	detail, err := loadPhotos(o.detail)
	if err != nil {
		return nil, nil, fmt.Errorf("detail corpus: %w", err)
	}
	for i := range detail {
		detail[i].Detail = true
	}
	return photos, append(slices.Clone(photos), detail...), nil
}

// run measures every section and writes the report files into o.out.
func run(ctx context.Context, o options) error {
	if o.short || o.rounds < 1 {
		o.rounds = 1
	}
	photos, serial, err := loadInputs(o)
	if err != nil {
		return err
	}
	d, err := openDaemon(o)
	if err != nil {
		return err
	}
	defer d.close()
	p := planFor(o.short)
	fdFile, removeFdFile, err := benchFileFile()
	if err != nil {
		return fmt.Errorf("the 64 MiB file for BLAKE3 by descriptor: %w", err)
	}
	defer removeFdFile()
	o.fdFile = fdFile
	res := &results{Started: time.Now(), Short: o.short, Corpus: publicCorpus(o.corpus), Host: hostFacts()}

	var vips, govips *vipsWorker
	if !o.noVips {
		if vips = startVips(serial); vips == nil {
			o.log("pyvips not importable: no libvips figures")
		}
	}
	govipsBin, missing, removeGovips := govipsFor(o)
	defer removeGovips()
	res.GovipsMissing = missing
	if govipsBin != "" {
		if govips = startGovips(govipsBin, serial); govips == nil {
			res.GovipsMissing = "the govips process did not start"
		}
	}
	var rounds []round
	for i := 0; i < o.rounds; i++ {
		rd, err := measureRound(ctx, o, d, photos, serial, p, vips, govips, i)
		if err != nil {
			return err
		}
		rounds = append(rounds, rd)
	}
	for _, w := range []*vipsWorker{vips, govips} {
		if w != nil {
			w.close()
		}
	}
	if govipsBin != "" && govips != nil {
		o.log("thumbnails, concurrency sweep on govips ...")
		if res.GovipsSweep, err = runGovipsSweep(govipsBin, photos, govipsLevels, 5*time.Second); err != nil {
			res.GovipsMissing = err.Error()
		}
	}
	if res.Formats, err = benchFormats(ctx, d, photos, o.short, o.noVips, govipsBin, res.GovipsMissing, o.log); err != nil {
		return fmt.Errorf("HEIC and AVIF: %w", err)
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
	var bars [][]barLine
	for _, rd := range rounds {
		rd.apply(res)
		bars = append(bars, judge(res))
	}
	res.Rounds = rounds
	res.Bar = combineBars(bars)
	res.CostTable = medianCostTable(rounds, res)
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
	if res.CostTable != nil {
		table, err := json.MarshalIndent(res.CostTable, "", "  ")
		if err != nil {
			return err
		}
		files["crossover.json"] = append(table, '\n')
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("report: %s\n", filepath.Join(dir, "report.md"))
	return nil
}

// measureRound runs the repeated sections once: ping, thumbnails one at a time (with the libvips
// anchors), three sizes from one decode, the bare pool and the sweep side by side, checksums.
// serial is what the one-at-a-time section runs: photos, then the detail corpus if any.
func measureRound(ctx context.Context, o options, d *daemon, photos, serial []photo, p plan, vips, govips *vipsWorker, i int) (round, error) {
	var rd round
	var err error
	o.log("round %d of %d: ping ...", i+1, o.rounds)
	if rd.Ping, err = benchPing(ctx, d, p); err != nil {
		return rd, fmt.Errorf("ping: %w", err)
	}
	o.log("round %d: thumbnails, one at a time ...", i+1)
	if rd.Thumbs, rd.Vips, rd.Govips, err = benchThumbsSerial(ctx, d, serial, p, vips, govips, o.reference); err != nil {
		return rd, fmt.Errorf("thumbnails: %w", err)
	}
	o.log("round %d: three sizes from one decode ...", i+1)
	if rd.Several, err = benchSeveral(ctx, d, photos, p); err != nil {
		return rd, fmt.Errorf("three sizes from one decode: %w", err)
	}
	if o.repo != "" && !o.short {
		o.log("round %d: bare pool ...", i+1)
		if rd.Pool, err = runBarePool(ctx, o.repo, o.corpus); err != nil {
			return rd, err
		}
	}
	o.log("round %d: thumbnails, concurrency sweep ...", i+1)
	if rd.Sweep, err = benchThumbsSweep(ctx, d, photos, p); err != nil {
		return rd, fmt.Errorf("thumbnail sweep: %w", err)
	}
	o.log("round %d: checksums ...", i+1)
	if rd.Checksums, err = benchChecksums(ctx, d, p); err != nil {
		return rd, fmt.Errorf("checksums: %w", err)
	}
	o.log("round %d: BLAKE3 of 64 MiB by file descriptor ...", i+1)
	if rd.FileChecksum, err = benchFileChecksum(ctx, d, o.fdFile); err != nil {
		return rd, fmt.Errorf("checksum by descriptor: %w", err)
	}
	o.log("round %d: router policy auto ...", i+1)
	table := costTable(rd.Checksums.Cells, rd.Checksums.FileCells, rd.Thumbs.Rows, fmt.Sprintf("ferry-bench round %d of the run that measured it", i+1))
	if rd.Auto, err = benchAuto(ctx, d, p, table); err != nil {
		return rd, fmt.Errorf("auto: %w", err)
	}
	return rd, nil
}

// spawn runs f on a goroutine counted by wg (sync.WaitGroup.Go, for the module's older go line).
func spawn(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
}
