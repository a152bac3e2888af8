package main

import "fmt"

// barLine is one line of the performance bar (issue 10's, which raised issue 4's), judged on this run's figures.
type barLine struct {
	Line     string `json:"line"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	// Verdict: "pass", "miss", or "not measured" (with the reason in Measured).
	Verdict string `json:"verdict"`
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "miss"
}

// judge holds the run against the bar. Every line is a ratio of figures taken in this run.
func judge(r *results) []barLine {
	var bar []barLine
	add := func(line, target, measured string, ok bool) {
		bar = append(bar, barLine{line, target, measured, verdict(ok)})
	}
	skip := func(line, target, why string) { bar = append(bar, barLine{line, target, why, "not measured"}) }

	if r.Thumbs.RustSumMS > 0 {
		x := r.Thumbs.GoSumMS / r.Thumbs.RustSumMS
		add("thumbnails, socket vs in-process Go (sum of per-photo p50)", ">= 15x",
			fmt.Sprintf("%.2fx (%.0f ms vs %.0f ms)", x, r.Thumbs.RustSumMS, r.Thumbs.GoSumMS), x >= 15)
	}
	if r.Vips != nil && r.Thumbs.RustSumMS > 0 {
		x := r.Vips.SumMS / r.Thumbs.RustSumMS
		add("thumbnails, socket vs libvips in process (pyvips, 1 thread)", ">= 2x",
			fmt.Sprintf("%.2fx (%.0f ms vs %.0f ms)", x, r.Thumbs.RustSumMS, r.Vips.SumMS), x >= 2)
		worst, name := 1000.0, ""
		for _, row := range r.Thumbs.Rows {
			if row.PSNRSocketVips > 0 && row.PSNRSocketVips < worst && !row.Photo.ICC {
				worst, name = row.PSNRSocketVips, row.Photo.Name
			}
		}
		add("thumbnail PSNR socket vs libvips, every photo without an ICC profile", ">= 38 dB",
			fmt.Sprintf("lowest %.1f dB (%s)", worst, name), worst >= 38)
	} else {
		skip("thumbnails, socket vs libvips in process (pyvips, 1 thread)", ">= 2x", "pyvips not importable")
	}
	if r.Govips != nil && r.Thumbs.RustSumMS > 0 {
		x := r.Govips.SumMS / r.Thumbs.RustSumMS
		add("thumbnails, socket vs govips (libvips through cgo, 1 thread)", ">= 2x",
			fmt.Sprintf("%.2fx (%.0f ms vs %.0f ms)", x, r.Thumbs.RustSumMS, r.Govips.SumMS), x >= 2)
	} else {
		skip("thumbnails, socket vs govips (libvips through cgo, 1 thread)", ">= 2x", r.GovipsMissing)
	}
	if c8 := cellAt(r.Sweep.Rust, 8); r.Kernels != nil && c8 != nil {
		x := c8.PerSecond / r.Kernels.PoolImagesPerSecond
		add("throughput at concurrency 8 vs bare 2-thread rayon pool", ">= 90%",
			fmt.Sprintf("%.0f%% (%.2f vs %.2f images/s)", 100*x, c8.PerSecond, r.Kernels.PoolImagesPerSecond), x >= 0.9)
	} else {
		skip("throughput at concurrency 8 vs bare 2-thread rayon pool", ">= 90%", "no -kernels figures")
	}
	if f := r.Ping.RawFloor.P50; f > 0 {
		x := r.Ping.Client.P50 / f
		add("ping p50 vs raw Unix-socket floor", "<= 1.5x",
			fmt.Sprintf("%.2fx (%.1f us vs %.1f us)", x, 1000*r.Ping.Client.P50, 1000*f), x <= 1.5)
	}
	add("pipelined pings from many goroutines", ">= 150,000/s",
		fmt.Sprintf("%.0f/s (%d goroutines)", r.Ping.Pipelined.PerSecond, r.Ping.Pipelined.Goroutines),
		r.Ping.Pipelined.PerSecond >= 150_000)
	m := r.Memory
	peakLine := fmt.Sprintf("daemon peak RSS, %d concurrent thumbnails of %s (%.1f MP), queue bound 64", m.Burst, m.Photo, m.MP)
	if m.Burst >= 64 {
		add(peakLine, "< 300 MiB; beyond the bound busy", fmt.Sprintf("%.0f MiB (%d ok, %d busy)", kib(m.PeakKiB), m.OK, m.Busy),
			kib(m.PeakKiB) < 300 && m.OK+m.Busy == int64(m.Burst) && (m.Burst <= 64 || m.Busy > 0))
	} else {
		skip(peakLine, "< 300 MiB with 64", fmt.Sprintf("short run: %.0f MiB with %d", kib(m.PeakKiB), m.Burst))
	}
	add("daemon RSS 3 s after the burst vs idle", "<= idle + 50 MiB",
		fmt.Sprintf("%.0f MiB after, %.0f MiB idle", kib(m.AfterKiB), kib(m.IdleKiB)), m.AfterKiB-m.IdleKiB <= 50<<10)
	if c := cellFor(r.Checksums.Cells, "blake3", 64<<20); c != nil {
		add("BLAKE3 of 64 MiB through the socket, end to end", ">= 2.5 GB/s",
			fmt.Sprintf("%.2f GB/s (Go in process: %.2f GB/s)", c.RustGBps, c.GoGBps), c.RustGBps >= 2.5)
	} else {
		skip("BLAKE3 of 64 MiB through the socket, end to end", ">= 2.5 GB/s", "64 MiB not in this run's sizes")
	}
	return bar
}

func kib(k int64) float64 { return float64(k) / 1024 }

func cellAt(cells []sweepCell, c int) *sweepCell {
	for i := range cells {
		if cells[i].Concurrency == c {
			return &cells[i]
		}
	}
	return nil
}

func cellFor(cells []checksumCell, alg string, size int) *checksumCell {
	for i := range cells {
		if string(cells[i].Algorithm) == alg && cells[i].Size == size {
			return &cells[i]
		}
	}
	return nil
}
