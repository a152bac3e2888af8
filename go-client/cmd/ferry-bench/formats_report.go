package main

import (
	"fmt"

	ferry "github.com/ferryd/ferry/go-client"
)

// formatRatio is the section's summary for one format and direction: each path's summed p50
// time and summed output bytes over ferryd's, over the rows both measured (0 where the path has
// none), and the report's line. No pass or fail: issue 22 names no bar.
type formatRatio struct {
	What        string  `json:"what"` // "HEIC in", "AVIF in", "AVIF out", "WebP out"
	GovipsTime  float64 `json:"govips_time_over_ferryd"`
	PyvipsTime  float64 `json:"pyvips_time_over_ferryd"`
	GoTime      float64 `json:"go_time_over_ferryd"`
	GovipsBytes float64 `json:"govips_bytes_over_ferryd"`
	PyvipsBytes float64 `json:"pyvips_bytes_over_ferryd"`
	GoBytes     float64 `json:"go_bytes_over_ferryd"`
	// AVIF out: the AVIF thumbnails' summed p50 less the same JPEG q80 thumbnails', on ferryd and
	// on govips: what the AV1 encode itself costs each, decode and resize taken out.
	FerrydEncodeMS float64 `json:"ferryd_avif_less_jpeg_ms,omitempty"`
	GovipsEncodeMS float64 `json:"govips_avif_less_jpeg_ms,omitempty"`
	Line           string  `json:"line"`
}

// versus sums, over the row pairs (ferryd, other) where both were measured, the p50 times and
// the bytes, and keeps the range of ferryd's PSNR less the other's.
type versus struct {
	n                   int
	ferrydMS, otherMS   float64
	ferrydBytes, otherB int
	dbLow, dbHigh       float64
	missing             string // the other path's reason when no row has it
}

func (v *versus) add(ferryd, other pathFigures) {
	if !other.measured() {
		if v.missing == "" {
			v.missing = other.Missing
		}
		return
	}
	d := ferryd.PSNR - other.PSNR
	if v.n == 0 || d < v.dbLow {
		v.dbLow = d
	}
	if v.n == 0 || d > v.dbHigh {
		v.dbHigh = d
	}
	v.n++
	v.ferrydMS += ferryd.Time.P50
	v.otherMS += other.Time.P50
	v.ferrydBytes += ferryd.Bytes
	v.otherB += other.Bytes
}

func (v versus) time() float64 {
	if v.n == 0 || v.ferrydMS == 0 {
		return 0
	}
	return v.otherMS / v.ferrydMS
}

func (v versus) bytes() float64 {
	if v.n == 0 || v.ferrydBytes == 0 {
		return 0
	}
	return float64(v.otherB) / float64(v.ferrydBytes)
}

// phrase is one path's part of a ratio line.
func (v versus) phrase(name string, withBytes bool) string {
	if v.n == 0 {
		m := v.missing
		if m == "" {
			m = "not measured"
		}
		return fmt.Sprintf("%s: %s", name, m)
	}
	s := fmt.Sprintf("%s %.2fx ferryd's time", name, v.time())
	if withBytes {
		s += fmt.Sprintf(", %.2fx its bytes", v.bytes())
	}
	return s + fmt.Sprintf(", ferryd's PSNR %s", dbRange(v.dbLow, v.dbHigh))
}

func dbRange(lo, hi float64) string {
	if fmt.Sprintf("%+.2f", lo) == fmt.Sprintf("%+.2f", hi) {
		return fmt.Sprintf("%+.2f dB", lo)
	}
	return fmt.Sprintf("%+.2f to %+.2f dB", lo, hi)
}

// formatName is how the report spells the formats.
var formatName = map[ferry.Format]string{ferry.FormatHEIC: "HEIC", ferry.FormatAVIF: "AVIF", ferry.FormatWebP: "WebP"}

// formatRatios sums the section's rows per format and direction.
func formatRatios(fr *formatsResults) []formatRatio {
	var out []formatRatio
	for _, f := range []ferry.Format{ferry.FormatHEIC, ferry.FormatAVIF} {
		var gv, pv, g versus
		for _, r := range fr.Decode {
			if r.Input.Format == f {
				gv.add(r.Ferryd, r.Govips)
				pv.add(r.Ferryd, r.Pyvips)
				g.add(r.Ferryd, r.Go)
			}
		}
		what := formatName[f] + " in"
		out = append(out, formatRatio{What: what, GovipsTime: gv.time(), PyvipsTime: pv.time(), GoTime: g.time(),
			GovipsBytes: gv.bytes(), PyvipsBytes: pv.bytes(), GoBytes: g.bytes(),
			Line: fmt.Sprintf("**%s** (to a JPEG q80 thumbnail; PSNR of lossless thumbnails, ferryd's less the other's): %s; %s; %s.", what,
				gv.phrase("libvips (govips)", false), pv.phrase("libvips (pyvips)", false), g.phrase("Go path", true))})
	}
	for _, f := range []ferry.Format{ferry.FormatAVIF, ferry.FormatWebP} {
		var gv, pv, g versus
		q := 0
		var encodeMS [2]float64 // ferryd, govips: AVIF less JPEG, over the photos govips measured
		for _, r := range fr.Encode {
			if r.Format == f {
				q = r.Quality
				gv.add(r.Ferryd, r.Govips)
				pv.add(r.Ferryd, r.Pyvips)
				g.add(r.Ferryd, r.Go)
				if r.Govips.measured() && r.GovipsJPEG.measured() && r.FerrydJPEG.measured() {
					encodeMS[0] += r.Ferryd.Time.P50 - r.FerrydJPEG.Time.P50
					encodeMS[1] += r.Govips.Time.P50 - r.GovipsJPEG.Time.P50
				}
			}
		}
		what := formatName[f] + " out"
		line := fmt.Sprintf("**%s** (q%d, from the photos): ", what, q)
		if f == ferry.FormatAVIF {
			line += gv.phrase("libvips (govips)", true)
			if encodeMS[0] > 0 {
				line += fmt.Sprintf(" (the AV1 encode alone, AVIF less JPEG q80 time summed: ferryd %.0f ms, govips %.0f ms)", encodeMS[0], encodeMS[1])
			}
			line += "; " + pv.phrase("libvips (pyvips)", true) + "; "
		}
		line += g.phrase("Go path", true) + "."
		out = append(out, formatRatio{What: what, GovipsTime: gv.time(), PyvipsTime: pv.time(), GoTime: g.time(),
			GovipsBytes: gv.bytes(), PyvipsBytes: pv.bytes(), GoBytes: g.bytes(), FerrydEncodeMS: encodeMS[0], GovipsEncodeMS: encodeMS[1], Line: line})
	}
	return out
}

// writeFormats is the report's HEIC and AVIF section.
func writeFormats(w func(string, ...any), fr *formatsResults) {
	w("\n## HEIC and AVIF\n\n")
	if fr == nil {
		w("Not measured in this run.\n")
		return
	}
	if fr.Missing != "" {
		w("Not measured: %s.\n", fr.Missing)
		return
	}
	w("Inputs made at bench time from corpus photos without an ICC profile (the one nearest 12 MP, nearest 5 MP, the smallest) by the reference encoders: %s. Load average %s before, %s after; the section took %s.\n\n", fr.Encoders, fr.LoadBefore, fr.LoadAfter, fr.Elapsed)
	for _, r := range fr.Ratios {
		w("- %s\n", r.Line)
	}
	w("\nTimes are milliseconds, p50 and p99 of %d calls (the Go path %d; with so few, p99 is the slowest call) after one warm-up, every path alternated call by call; ferryd through the socket, one call at a time; libvips %s through govips (benches/govips, cgo, one libvips thread: `NewThumbnailFromBuffer`, the thumbnail_buffer equivalent) and libvips %s through pyvips (`thumbnail_buffer`, `VIPS_CONCURRENCY=1`), timed inside their processes; the Go path in this process (goproc, libavif and libwebp as WebAssembly). CPU is the working process's CPU milliseconds per call (ferryd's from /proc in 10 ms ticks, averaged). PSNR (dB, RGB): each path's output against the reference decoder's full decode (heif-convert: libheif with libde265 for HEIC; avifdec: libavif with dav1d for AVIF; Go's image/jpeg and image/png for the photos) resized with Lanczos3 straight to the output's size (x/image/draw's kernel). Read the PSNR with its bias in mind: the yardstick is a straight Lanczos3, which ferryd and the Go path run and libvips' thumbnail does not (it shrinks by a box filter first, then reduces: a few dB lower whatever the format, as on JPEG in the full report's section on quality against the full decode); and for AVIF input the Go path runs the reference's own decoder (libavif) and resize kernel, so its figure there is near identity by construction.\n\n",
		fr.Runs, fr.GoRuns, orNone(fr.Govips), orNone(fr.Pyvips))

	w("### Inputs\n\n| file | from | size | bytes |\n|---|---|---|---:|\n")
	for _, in := range fr.Inputs {
		w("| %s | %s | %dx%d | %d |\n", in.Name, in.Source, in.Width, in.Height, in.Bytes)
	}

	w("\n### Decode: HEIC and AVIF in, 400x400 JPEG q80 out\n\nPSNR is of each path's lossless (PNG) thumbnail; bytes are the JPEG's.\n\n")
	w("| input | path | p50 | p99 | CPU/call | output | bytes | PSNR | time / ferryd |\n|---|---|---:|---:|---:|---|---:|---:|---:|\n")
	for _, r := range fr.Decode {
		for _, p := range []struct {
			name string
			fig  pathFigures
		}{{"ferryd", r.Ferryd}, {"libvips (govips)", r.Govips}, {"libvips (pyvips)", r.Pyvips}, {"Go path", r.Go}} {
			writePathRow(w, r.Input.Name, p.name, p.fig, r.Ferryd)
		}
	}

	w("\n### Encode: AVIF q%d and lossy WebP q%d out, from the photos\n\n", fr.AVIFQuality, fr.WebPQuality)
	w("400x400, Lanczos3. AVIF: ferryd and the Go path write 8-bit 4:2:0 with libaom at speed 8 (ferryd through libheif, one thread; the Go path through libavif as WebAssembly); libvips heifsave with compression av1, Q %d, effort %d (libvips gives libaom speed 9 - effort = 8), 8 bits, its default chroma (4:2:0 below Q 90), metadata stripped. The JPEG q80 rows are the same thumbnail timed in the same loop: the AVIF time less the JPEG time is what the AV1 encode costs. PSNR of AVIF outputs as avifdec reads them back.\n\n", fr.AVIFQuality, fr.AVIFEffort)
	w("| photo | output | path | p50 | p99 | CPU/call | size | bytes | PSNR | time / ferryd |\n|---|---|---|---:|---:|---:|---|---:|---:|---:|\n")
	for _, r := range fr.Encode {
		out := fmt.Sprintf("%s q%d", r.Format, r.Quality)
		rows := []encodeLine{{out, "ferryd", r.Ferryd}, {out, "Go path", r.Go}}
		if r.Format == ferry.FormatAVIF {
			rows = []encodeLine{{out, "ferryd", r.Ferryd}, {out, "libvips (govips)", r.Govips}, {out, "libvips (pyvips)", r.Pyvips}, {out, "Go path", r.Go},
				{"jpeg q80", "ferryd", r.FerrydJPEG}, {"jpeg q80", "libvips (govips)", r.GovipsJPEG}}
		}
		for _, p := range rows {
			writePathRow(w, r.Photo+" | "+p.out, p.path, p.fig, r.Ferryd)
		}
	}
}

// encodeLine is one line of the encode table.
type encodeLine struct {
	out, path string
	fig       pathFigures
}

// writePathRow is one path's row in the section's tables.
func writePathRow(w func(string, ...any), subject, name string, f, ferryd pathFigures) {
	if !f.measured() {
		why := f.Missing
		if why == "" {
			why = "not measured"
		}
		w("| %s | %s | %s | | | | | | |\n", subject, name, why)
		return
	}
	size, psnr := "", "" // a line timed beside the others, not judged
	if f.Width > 0 {
		size, psnr = fmt.Sprintf("%dx%d", f.Width, f.Height), "size differs"
	}
	if f.PSNR > 0 {
		psnr = fmt.Sprintf("%.2f", f.PSNR)
	}
	ratio := ""
	if ferryd.Time.P50 > 0 {
		ratio = fmt.Sprintf("%.2fx", f.Time.P50/ferryd.Time.P50)
	}
	w("| %s | %s | %.1f | %.1f | %.0f | %s | %d | %s | %s |\n", subject, name, f.Time.P50, f.Time.P99, f.CPUMS, size, f.Bytes, psnr, ratio)
}

func orNone(version string) string {
	if version == "" {
		return "(absent)"
	}
	return version
}
