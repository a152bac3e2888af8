package main

import (
	"fmt"
	"strings"
)

// markdown renders the report: the bar first (what a reader wants to know), then each section.
func markdown(r *results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# ferry bench report\n\n")
	if r.Short {
		w("**Short run** (the test suite's pass): too few runs for the numbers to mean much.\n\n")
	}
	w("%s, %d cores, %s; corpus `%s`; started %s, took %s. Socket path = the Go Client to ferryd; Go path = the in-process pure-Go implementation; both in this one run, alternated call by call where the section says so.\n\n",
		r.Host.CPU, r.Host.Cores, r.Host.Go, r.Corpus, r.Started.Format("2006-01-02 15:04 MST"), r.Elapsed)

	w("## The bar\n\n| line | target | measured | verdict |\n|---|---|---|---|\n")
	for _, l := range r.Bar {
		w("| %s | %s | %s | %s |\n", l.Line, l.Target, l.Measured, l.Verdict)
	}

	w("\n## Ping\n\nSerial round trips, alternating the three kinds (%d each), in microseconds.", r.Ping.Client.N)
	if r.Ping.Pinned {
		w(" All three processes (this one, the echo server, ferryd) run on one CPU during the first table, the bar's: on this VM a round trip whose wake-up lands on the other, idle vCPU pays the hypervisor's wake of a halted CPU, tens of microseconds that have nothing to do with the software, and unpinned each process settles for a whole round in one mode or the other by where its threads happen to run (the ratio swung from 0.88x to 1.78x between rounds). The second table is the same round trips unpinned, right after. The pipelined phase and the rest of the run use every CPU.")
	}
	w("\n\n")
	writeRoundTrips(w, r.Ping.serialRoundTrips)
	if u := r.Ping.Unpinned; u != nil {
		w("\nUnpinned (p50 ratio Client.Ping / floor %.2fx):\n\n", u.Client.P50/u.RawFloor.P50)
		writeRoundTrips(w, *u)
	}
	w("\nPipelined: %d goroutines sharing one Client: %.0f pings/s.\n", r.Ping.Pipelined.Goroutines, r.Ping.Pipelined.PerSecond)

	w("\n## Thumbnails, one at a time\n\nFit 400x400, JPEG q80, Lanczos3, bytes in memory to bytes in memory, milliseconds; the two paths alternate per call. ![thumbnails](thumbs.svg)\n\n")
	w("| photo | input | MP | socket p50 | p95 | p99 | Go p50 | p95 | p99 | Go/socket |")
	if r.Vips != nil {
		w(" libvips p50 | libvips/socket | PSNR socket vs libvips (JPEG, PNG) | PSNR Go vs libvips (JPEG, PNG) |")
	}
	w("\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	if r.Vips != nil {
		w("---:|---:|---:|---:|")
	}
	w("\n")
	for _, row := range r.Thumbs.Rows {
		w("| %s | %dx%d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1fx |", row.Photo.Name, row.Photo.Width, row.Photo.Height,
			row.Photo.megapixels(), row.Rust.P50, row.Rust.P95, row.Rust.P99, row.Go.P50, row.Go.P95, row.Go.P99, row.Speedup)
		if r.Vips != nil {
			v := r.Vips.Rows[row.Photo.Name]
			w(" %.1f | %.2fx | %.1f, %.1f dB | %.1f, %.1f dB |", v.P50, v.P50/row.Rust.P50, row.PSNRSocketVips, row.PSNRSocketVipsLossless, row.PSNRGoVips, row.PSNRGoVipsLossless)
		}
		w("\n")
	}
	w("| **sum of p50** | | | **%.0f** | | | **%.0f** | | | **%.1fx** |", r.Thumbs.RustSumMS, r.Thumbs.GoSumMS, r.Thumbs.GoSumMS/r.Thumbs.RustSumMS)
	if r.Vips != nil {
		w(" **%.0f** | **%.2fx** |", r.Vips.SumMS, r.Vips.SumMS/r.Thumbs.RustSumMS)
	}
	w("\n")
	if r.Vips != nil {
		w("\nlibvips %s through pyvips, in its own long-lived process, `VIPS_CONCURRENCY=1`, `thumbnail_buffer` (shrink-on-load) then `.jpg[Q=80]`, timed inside that process (no IPC counted for it), alternating call by call with the other two paths. PSNR compares each path's thumbnail with libvips' of the same photo, decoded, over RGB: the quality check. Two figures: the thumbnails as timed (JPEG q80, so the difference between libjpeg-turbo's encoder and the one in libvips' build is in it: two good encodes of one image at q80 differ by 37-46 dB), and the same thumbnails written as lossless PNG by all three, which compares the pixels alone and is the bar's figure (a broken resize scores far lower in both). A photo with an embedded ICC profile (rocket.jpg: Adobe RGB) scores lower for the socket path by design: ferryd converts it to sRGB, while libvips' thumbnail and the Go path pass the pixels through unconverted.\n", r.Vips.Version)
	}

	writeQuality(w, r)
	writeGovips(w, r)
	writeSeveral(w, r)
	writeFormats(w, r.Formats)

	w("\n## Thumbnails at concurrency\n\nThe same request over the corpus, from N goroutines; busy answers are retried after 2 ms and counted. CPU is per job, in milliseconds, of each process.\n\n")
	w("| path | concurrency | jobs | images/s | p50 ms | p99 ms | busy | ferryd CPU/job | Go process CPU/job |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i := range r.Sweep.Rust {
		for _, c := range []struct {
			path string
			cell sweepCell
		}{{"socket", r.Sweep.Rust[i]}, {"Go", r.Sweep.Go[i]}} {
			w("| %s | %d | %d | %.2f | %.1f | %.1f | %d | %.1f | %.1f |\n", c.path, c.cell.Concurrency, c.cell.Jobs, c.cell.PerSecond,
				c.cell.Latency.P50, c.cell.Latency.P99, c.cell.Busy, c.cell.DaemonCPUJob, c.cell.ClientCPUJob)
		}
	}
	if k := r.Kernels; k != nil {
		where := "from the `cargo bench --bench corpus` run before this harness"
		if k.SameRound {
			where = "measured in this round right before the sweep above"
		}
		w("\nBare kernels (`cargo bench --bench corpus`, no socket): %.0f ms sum of single-thread medians (the photos, and the detail corpus when `make bench` passes it); %.2f images/s on a 2-thread rayon pool, %s.\n",
			k.SingleThreadSumMS, k.PoolImagesPerSecond, where)
	}

	w("\n## Checksums\n\nMedian (p99) milliseconds per call and GB/s from the median; the paths alternate per call. ![checksums](checksums.svg)\n\n")
	writeChecksumCells(w, r.Checksums.Cells)
	w("\nWhere the socket path starts to win (and keeps winning at every larger size measured):\n\n")
	for _, alg := range algorithms {
		if s := r.Checksums.Crossover[alg]; s > 0 {
			w("- %s: from %s\n", alg, sizeWord(s))
		} else {
			w("- %s: never, up to %s\n", alg, sizeWord(r.Checksums.Cells[len(r.Checksums.Cells)-1].Size))
		}
	}
	if len(r.Checksums.FileCells) > 0 {
		w("\nThe same with the bytes in a file (in the page cache): the socket path passes the descriptor (checksum_file, the daemon preads), the Go path reads the file with ReadAt. The router's cost table routes files by these (`checksum_file_rust_from_bytes`).\n\n")
		writeChecksumCells(w, r.Checksums.FileCells)
	}
	if fc := r.FileChecksum; fc != nil && len(fc.RustGBps) > 0 {
		med, lo, hi := spreadOf(fc.RustGBps)
		gmed, glo, ghi := spreadOf(fc.GoGBps)
		w("\nBLAKE3 of a %s file in the page cache, %d runs per path, alternated: by file descriptor through the socket (the daemon preads it) **%.2f GB/s** median (%.2f to %.2f); the Go path reading the same file in process %.2f GB/s (%.2f to %.2f).\n",
			sizeWord(fc.Size), len(fc.RustGBps), med, lo, hi, gmed, glo, ghi)
	}

	writeAuto(w, r)

	m := r.Memory
	w("\n## Memory\n\nferryd resident memory around %d concurrent thumbnails of %s (%.1f MP), busy answers not retried: idle %.0f MiB, peak %.0f MiB (%s), %.0f MiB 3 s later; %d answered, %d busy, in %.2f s. Peak RSS of this Go process over the whole run (Go path included): %.0f MiB.\n",
		m.Burst, m.Photo, m.MP, kib(m.IdleKiB), kib(m.PeakKiB), map[bool]string{true: "VmHWM", false: "highest VmRSS sampled every 5 ms"}[m.PeakExact],
		kib(m.AfterKiB), m.OK, m.Busy, m.Seconds, kib(r.GoPeakRSS))
	w("\nWhy the Go process's peak is so high: its figure covers the Go path's concurrency sweep, where up to %d goroutines each decode a whole photo at full size (the Go path has no DCT scaling: a 15 MP JPEG is 60 MB of RGBA before the resize, plus its YCbCr planes and the resampler's intermediate) at the same time, and the garbage collector lets the heap grow to twice the live set between cycles (GOGC=100). The in-process path's concurrency limit bounds the live set by the number of jobs it lets run at once; the socket path keeps those buffers in ferryd, under its memory budget, and the Go process only holds the encoded bytes.\n",
		maxLevel(r.Sweep.Go))
	return b.String()
}

func sizeWord(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// maxLevel is the highest concurrency of a sweep.
func maxLevel(cells []sweepCell) int {
	top := 0
	for _, c := range cells {
		top = max(top, c.Concurrency)
	}
	return top
}

// writeChecksumCells is the table of checksum cells, one row per algorithm and size.
func writeChecksumCells(w func(string, ...any), cells []checksumCell) {
	w("| algorithm | size | socket p50 | socket p99 | socket GB/s | Go p50 | Go p99 | Go GB/s | faster |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, c := range cells {
		faster := "Go"
		if c.Rust.P50 < c.Go.P50 {
			faster = "socket"
		}
		w("| %s | %s | %.3f | %.3f | %.2f | %.3f | %.3f | %.2f | %s |\n", c.Algorithm, sizeWord(c.Size), c.Rust.P50, c.Rust.P99, c.RustGBps,
			c.Go.P50, c.Go.P99, c.GoGBps, faster)
	}
}

// writeRoundTrips renders the three serial round trips as a table.
func writeRoundTrips(w func(string, ...any), t serialRoundTrips) {
	w("| round trip | p50 | p95 | p99 |\n|---|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		d    dist
	}{{"raw floor: ping frame to an echo process", t.RawFloor}, {"raw ping frame to ferryd", t.RawFerryd}, {"Client.Ping", t.Client}} {
		w("| %s | %.1f | %.1f | %.1f |\n", row.name, 1000*row.d.P50, 1000*row.d.P95, 1000*row.d.P99)
	}
}
