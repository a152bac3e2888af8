package main

import "fmt"

// barLine is one line of the performance bar (issue 10's, which raised issue 4's), judged on this run's figures.
type barLine struct {
	Line     string `json:"line"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	// Verdict: "pass", "miss", or "not measured" (with the reason in Measured).
	Verdict string `json:"verdict"`
	// Value is the figure judged, in Unit; it passes when it is at least Threshold (AtMost:
	// at most). combineBars takes the median of Value over the rounds.
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	AtMost    bool    `json:"at_most,omitempty"`
	Unit      string  `json:"unit"`
	// Figure: a figure reported beside the bar with no target of its own (fast mode's lines:
	// it trades quality for speed by request, so parity is not its bar).
	Figure bool `json:"figure,omitempty"`
}

// judged is the verdict of value v on this line.
func (l barLine) judged(v float64) string {
	if l.Figure {
		return "figure, no target"
	}
	return verdict(l.passes(v))
}

func (l barLine) passes(v float64) bool {
	if l.AtMost {
		return v <= l.Threshold
	}
	return v >= l.Threshold
}

func (l barLine) format(v float64) string {
	switch l.Unit {
	case "x":
		return fmt.Sprintf("%.2fx", v)
	case "%":
		return fmt.Sprintf("%.0f%%", 100*v)
	default:
		return fmt.Sprintf("%.2f %s", v, l.Unit)
	}
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "miss"
}

// judge holds the run (one round's figures, plus the memory phase) against the bar. Every line
// is a ratio or a rate of figures taken in this run; lines of issue 10 that no code path measures
// yet say so as "not measured".
func judge(r *results) []barLine {
	var bar []barLine
	at := func(line, target, measured string, value, threshold float64, unit string, atMost bool) {
		l := barLine{Line: line, Target: target, Measured: measured, Value: value, Threshold: threshold, Unit: unit, AtMost: atMost}
		l.Verdict = l.judged(value)
		bar = append(bar, l)
	}
	figure := func(line, measured string, value float64, unit string) {
		l := barLine{Line: line, Target: "none (a figure)", Measured: measured, Value: value, Unit: unit, Figure: true}
		l.Verdict = l.judged(value)
		bar = append(bar, l)
	}
	least := func(line, target, measured string, value, threshold float64, unit string) {
		at(line, target, measured, value, threshold, unit, false)
	}
	most := func(line, target, measured string, value, threshold float64, unit string) {
		at(line, target, measured, value, threshold, unit, true)
	}
	skip := func(line, target, why string) {
		bar = append(bar, barLine{Line: line, Target: target, Measured: why, Verdict: "not measured"})
	}

	if r.Thumbs.RustSumMS > 0 {
		x := r.Thumbs.GoSumMS / r.Thumbs.RustSumMS
		least("thumbnails, socket vs in-process Go (sum of per-photo p50)", ">= 15x",
			fmt.Sprintf("%.0f ms vs %.0f ms (%s)", r.Thumbs.RustSumMS, r.Thumbs.GoSumMS, goBySet(r)), x, 15, "x")
	}
	if r.Vips != nil && r.Thumbs.RustSumMS > 0 {
		x := r.Vips.SumMS / r.Thumbs.RustSumMS
		least("thumbnails, default mode vs libvips in process (pyvips, 1 thread), sum of per-photo p50, photos + detail corpus", ">= 2x",
			fmt.Sprintf("%.0f ms vs %.0f ms (%s)", r.Thumbs.RustSumMS, r.Vips.SumMS, bySet(r, r.Vips, func(row thumbRow) float64 { return row.Rust.P50 })), x, 2, "x")
		figure("fast mode: thumbnails vs libvips (pyvips), sum of per-photo p50, photos + detail corpus",
			fmt.Sprintf("%.0f ms vs %.0f ms (%s)", r.Thumbs.FastSumMS, r.Vips.SumMS, bySet(r, r.Vips, func(row thumbRow) float64 { return row.Fast.P50 })), r.Vips.SumMS/r.Thumbs.FastSumMS, "x")
		if worst, ok := worstBelowVips(r.Thumbs.Rows, func(q vsFullDecode) float64 { return q.Default }); ok {
			least("thumbnail quality, default mode: PSNR against the full decode resized with Lanczos3, minus libvips', every photo and detail picture (pixels, written as PNG)", ">= -0.5 dB",
				worst.measured, worst.margin, -0.5, "dB")
		} else {
			skip("thumbnail quality, default mode: PSNR against the full decode, minus libvips'", ">= -0.5 dB", "no -reference directory (cargo bench --bench quality_reference)")
		}
		if worst, ok := worstBelowVips(r.Thumbs.Rows, func(q vsFullDecode) float64 { return q.Fast }); ok {
			figure("fast mode quality: PSNR against the full decode minus libvips', the worst photo or detail picture", worst.measured, worst.margin, "dB")
		}
		worst, name := 1000.0, ""
		for _, row := range r.Thumbs.Rows {
			if row.PSNRSocketVipsLossless > 0 && row.PSNRSocketVipsLossless < worst && !row.Photo.ICC {
				worst, name = row.PSNRSocketVipsLossless, row.Photo.Name
			}
		}
		jpegWorst := 1000.0
		for _, row := range r.Thumbs.Rows {
			if row.PSNRSocketVips > 0 && !row.Photo.ICC {
				jpegWorst = min(jpegWorst, row.PSNRSocketVips)
			}
		}
		least("thumbnail PSNR socket vs libvips, every photo without an ICC profile, pixels (both written as PNG)", ">= 38 dB",
			fmt.Sprintf("lowest: %s; as JPEG q80 from each side's encoder the lowest is %.1f dB", name, jpegWorst), worst, 38, "dB")
	} else {
		skip("thumbnails, socket vs libvips in process (pyvips, 1 thread)", ">= 2x", "pyvips not importable")
	}
	if r.Govips != nil && r.Thumbs.RustSumMS > 0 {
		x := r.Govips.SumMS / r.Thumbs.RustSumMS
		least("thumbnails, default mode vs govips (libvips through cgo, 1 thread), photos + detail corpus", ">= 2x",
			fmt.Sprintf("%.0f ms vs %.0f ms (%s); fast mode %.2fx", r.Thumbs.RustSumMS, r.Govips.SumMS,
				bySet(r, r.Govips, func(row thumbRow) float64 { return row.Rust.P50 }), r.Govips.SumMS/r.Thumbs.FastSumMS), x, 2, "x")
	} else {
		skip("thumbnails, socket vs govips (libvips through cgo, 1 thread)", ">= 2x", r.GovipsMissing)
	}
	if c8 := cellAt(r.Sweep.Rust, 8); r.Kernels != nil && r.Kernels.SameRound && c8 != nil && r.Kernels.PoolImagesPerSecond > 0 {
		x := c8.PerSecond / r.Kernels.PoolImagesPerSecond
		least("throughput at concurrency 8 vs bare 2-thread rayon pool (same round)", ">= 90%",
			fmt.Sprintf("%.2f vs %.2f images/s", c8.PerSecond, r.Kernels.PoolImagesPerSecond), x, 0.9, "%")
	} else {
		skip("throughput at concurrency 8 vs bare 2-thread rayon pool (same round)", ">= 90%", "no bare-pool figures (-repo)")
	}
	if s := r.Several; s.AloneSumMS > 0 {
		most("three sizes from one decode vs the largest alone", "<= 1.4x",
			fmt.Sprintf("socket %.0f ms vs %.0f ms (sum of per-photo p50, outputs %v vs %d alone); Go path %.0f ms vs %.0f ms (%.2fx)",
				s.SeveralSumMS, s.AloneSumMS, severalSides, severalSides[0], s.GoSeveralSumMS, s.GoAloneSumMS, s.GoSeveralSumMS/s.GoAloneSumMS),
			s.SeveralSumMS/s.AloneSumMS, 1.4, "x")
	} else {
		skip("three sizes from one decode vs the largest alone", "<= 1.4x", "no photos in this run")
	}
	if fc := r.FileChecksum; fc != nil && len(fc.RustGBps) > 0 {
		med, lo, hi := spreadOf(fc.RustGBps)
		gmed, glo, ghi := spreadOf(fc.GoGBps)
		least("BLAKE3 of 64 MiB by file descriptor", ">= 4 GB/s",
			fmt.Sprintf("median of %d runs %.2f GB/s (spread %.2f to %.2f); Go in process, same file: %.2f GB/s (%.2f to %.2f)",
				len(fc.RustGBps), med, lo, hi, gmed, glo, ghi), med, 4, "GB/s")
	} else {
		skip("BLAKE3 of 64 MiB by file descriptor", ">= 4 GB/s", "not in this run")
	}
	if w := r.Auto.worst(policyRatio); w != nil {
		d := r.Auto.worst(directRatio)
		most("router policy auto vs the faster path, every size (both through a Router)",
			"within 5%: worst median of auto / faster pinned Router, paired by pass, <= 1.05x",
			fmt.Sprintf("worst: %s %s, auto %.1f us (%s) vs pinned to socket %.1f us, to Go %.1f us; against the paths called without a Router the worst is %.2fx (%s %s: the Router's own cost, about %.1f us, on a %.1f us call)",
				w.Algorithm, sizeWord(w.Size), 1000*w.Auto.P50, w.Path, 1000*w.RouterRust.P50, 1000*w.RouterGo.P50,
				d.Ratio, d.Algorithm, sizeWord(d.Size), 1000*(d.Auto.P50-min(d.Rust.P50, d.Go.P50)), 1000*min(d.Rust.P50, d.Go.P50)),
			w.PolicyRatio, 1.05, "x")
	} else {
		skip("router policy auto vs the faster path, every size (both through a Router)", "within 5%", "no auto cells in this run")
	}
	if f := r.Ping.RawFloor.P50; f > 0 {
		x := r.Ping.Client.P50 / f
		detail := fmt.Sprintf("%.1f us vs %.1f us", 1000*r.Ping.Client.P50, 1000*f)
		if u := r.Ping.Unpinned; r.Ping.Pinned && u != nil && u.RawFloor.P50 > 0 {
			detail += fmt.Sprintf(", all three processes on one CPU; unpinned, %.1f us vs %.1f us (%.2fx), the VM's wake of an idle vCPU in both",
				1000*u.Client.P50, 1000*u.RawFloor.P50, u.Client.P50/u.RawFloor.P50)
		}
		most("ping p50 vs raw Unix-socket floor", "<= 1.5x", detail, x, 1.5, "x")
	}
	least("pipelined pings from many goroutines", ">= 150,000/s",
		fmt.Sprintf("%d goroutines", r.Ping.Pipelined.Goroutines), r.Ping.Pipelined.PerSecond, 150_000, "/s")
	m := r.Memory
	peakLine := fmt.Sprintf("daemon peak RSS, %d concurrent thumbnails of %s (%.1f MP), queue bound 64", m.Burst, m.Photo, m.MP)
	if m.Burst >= 64 {
		peak := kib(m.PeakKiB)
		if m.OK+m.Busy != int64(m.Burst) || (m.Burst > 64 && m.Busy == 0) {
			peak = 1e9 // a lost answer, or no busy beyond the bound, fails the line whatever the peak
		}
		most(peakLine, "< 300 MiB; beyond the bound busy", fmt.Sprintf("%d ok, %d busy", m.OK, m.Busy), peak, 300, "MiB")
	} else {
		skip(peakLine, "< 300 MiB with 64", fmt.Sprintf("short run: %.0f MiB with %d", kib(m.PeakKiB), m.Burst))
	}
	most("daemon RSS 3 s after the burst minus idle", "<= 50 MiB",
		fmt.Sprintf("%.0f MiB after, %.0f MiB idle", kib(m.AfterKiB), kib(m.IdleKiB)), kib(m.AfterKiB-m.IdleKiB), 50, "MiB")
	if c := cellFor(r.Checksums.Cells, "blake3", 64<<20); c != nil {
		least("BLAKE3 of 64 MiB through the socket, bytes in the frame", ">= 2.5 GB/s",
			fmt.Sprintf("Go in process: %.2f GB/s", c.GoGBps), c.RustGBps, 2.5, "GB/s")
	} else {
		skip("BLAKE3 of 64 MiB through the socket, bytes in the frame", ">= 2.5 GB/s", "64 MiB not in this run's sizes")
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

// bySet is a sum line split into the shared photos and the detail corpus: "photos A ms vs B
// ms, detail C ms vs D ms", ours from f, libvips' from v.
func bySet(r *results, v *vipsResults, f func(thumbRow) float64) string {
	ours := sumBySet(r, f)
	theirs := sumBySet(r, func(row thumbRow) float64 { return v.Rows[row.Photo.Name].P50 })
	if ours[1] == 0 {
		return fmt.Sprintf("photos only: %.2fx", theirs[0]/ours[0])
	}
	return fmt.Sprintf("photos %.0f vs %.0f ms, %.2fx; detail corpus %.0f vs %.0f ms, %.2fx",
		ours[0], theirs[0], theirs[0]/ours[0], ours[1], theirs[1], theirs[1]/ours[1])
}

// sumBySet sums f over the one-at-a-time rows: [0] the photos, [1] the detail corpus.
func sumBySet(r *results, f func(thumbRow) float64) (sums [2]float64) {
	for _, row := range r.Thumbs.Rows {
		i := 0
		if row.Photo.Detail {
			i = 1
		}
		sums[i] += f(row)
	}
	return sums
}

// belowVips is the photo where a mode's PSNR against the full decode falls furthest below
// libvips' (margin: ours minus libvips', in dB), with how the bar prints it.
type belowVips struct {
	margin   float64
	measured string
}

// worstBelowVips finds it over the rows measured against a reference; false when none was.
func worstBelowVips(rows []thumbRow, mode func(vsFullDecode) float64) (belowVips, bool) {
	var w belowVips
	found := false
	for _, row := range rows {
		q := row.VsFullDecode
		if q.Vips <= 0 || mode(q) <= 0 {
			continue
		}
		m := mode(q) - q.Vips
		if !found || m < w.margin {
			w = belowVips{m, fmt.Sprintf("worst: %s, %.2f dB against libvips' %.2f dB", row.Photo.Name, mode(q), q.Vips)}
			found = true
		}
	}
	return w, found
}

// goBySet is the socket-vs-Go ratio of the photos alone, and the fast mode's over everything:
// the bar was set (issue 4) on the photos with today's fast mode (SPEC.md 5.3), before the
// default traded speed for libvips' quality (issue 20) and the detail corpus joined the run.
func goBySet(r *results) string {
	rust := sumBySet(r, func(row thumbRow) float64 { return row.Rust.P50 })
	fast := sumBySet(r, func(row thumbRow) float64 { return row.Fast.P50 })
	goPath := sumBySet(r, func(row thumbRow) float64 { return row.Go.P50 })
	if rust[0] == 0 || fast[0]+fast[1] == 0 {
		return "photos only"
	}
	return fmt.Sprintf("photos alone %.2fx; fast mode %.2fx, photos alone %.2fx",
		goPath[0]/rust[0], (goPath[0]+goPath[1])/(fast[0]+fast[1]), goPath[0]/fast[0])
}
