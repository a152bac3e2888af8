package main

import (
	"fmt"
	"math"
	"strings"
)

// Hand-written SVG: two small charts do not justify a plotting dependency.

var pathColours = map[string]string{"socket": "#1f77b4", "Go": "#d62728", "libvips": "#2ca02c"}

// thumbsPlot is a grouped bar chart of per-photo p50 milliseconds on a log scale (the Go path is
// an order of magnitude slower; a linear scale would flatten the other bars).
func thumbsPlot(r *results) string {
	rows := r.Thumbs.Rows
	series := []string{"socket", "Go"}
	if r.Vips != nil {
		series = append(series, "libvips")
	}
	value := func(row thumbRow, s string) float64 {
		switch s {
		case "socket":
			return row.Rust.P50
		case "Go":
			return row.Go.P50
		}
		return r.Vips.Rows[row.Photo.Name].P50
	}
	lo, hi := math.Inf(1), 0.0
	for _, row := range rows {
		for _, s := range series {
			v := value(row, s)
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	const left, top, plotH, groupW, barW = 60.0, 40.0, 300.0, 90.0, 22.0
	width := left + groupW*float64(len(rows)) + 20
	y := func(v float64) float64 { return top + plotH*(1-math.Log10(v/lo)/math.Log10(hi/lo)) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`, width, top+plotH+70)
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">Thumbnail p50, ms (log scale): fit 400x400, JPEG q80, one at a time</text>`, left)
	for v := lo; v <= hi*1.0001; v *= 10 {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%g</text>`,
			left, width-20, y(v), y(v), left-5, y(v)+4, v)
	}
	for i, row := range rows {
		x0 := left + groupW*float64(i) + 10
		for j, s := range series {
			v := value(row, s)
			if v <= 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.0f" height="%.1f" fill="%s"><title>%s %s: %.1f ms</title></rect>`,
				x0+barW*float64(j), y(v), barW-2, top+plotH-y(v), pathColours[s], row.Photo.Name, s, v)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x0+barW*float64(len(series))/2, top+plotH+15, row.Photo.Name)
	}
	legend(&b, left, top+plotH+40, series)
	b.WriteString("</svg>\n")
	return b.String()
}

// checksumsPlot draws GB/s against payload size (log-log), one line per algorithm and path:
// solid for the socket path, dashed for Go.
func checksumsPlot(r *results) string {
	cells := r.Checksums.Cells
	if len(cells) == 0 {
		return `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`
	}
	minS, maxS, lo, hi := math.Inf(1), 0.0, math.Inf(1), 0.0
	for _, c := range cells {
		minS, maxS = math.Min(minS, float64(c.Size)), math.Max(maxS, float64(c.Size))
		for _, v := range []float64{c.RustGBps, c.GoGBps} {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	const left, top, plotW, plotH = 60.0, 40.0, 560.0, 300.0
	x := func(s float64) float64 { return left + plotW*math.Log2(s/minS)/math.Max(1, math.Log2(maxS/minS)) }
	y := func(v float64) float64 { return top + plotH*(1-math.Log10(v/lo)/math.Log10(hi/lo)) }
	colours := map[string]string{"crc32c": "#1f77b4", "xxh3_64": "#ff7f0e", "sha256": "#2ca02c", "blake3": "#9467bd"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`, left+plotW+140, top+plotH+50)
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">Checksum throughput, GB/s (log) by payload size: socket solid, Go dashed</text>`, left)
	for v := lo; v <= hi*1.0001; v *= 10 {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%g</text>`,
			left, left+plotW, y(v), y(v), left-5, y(v)+4, v)
	}
	seen := map[int]bool{}
	for _, c := range cells {
		if !seen[c.Size] {
			seen[c.Size] = true
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x(float64(c.Size)), top+plotH+15, sizeWord(c.Size))
		}
	}
	for i, alg := range algorithms {
		for _, path := range []string{"socket", "Go"} {
			var pts []string
			for _, c := range cells {
				if c.Algorithm != alg {
					continue
				}
				v := c.RustGBps
				if path == "Go" {
					v = c.GoGBps
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(c.Size)), y(v)))
			}
			dash := ""
			if path == "Go" {
				dash = ` stroke-dasharray="5,4"`
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, colours[string(alg)], dash, strings.Join(pts, " "))
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`,
			left+plotW+20, top+20*float64(i), colours[string(alg)], left+plotW+36, top+20*float64(i)+10, alg)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func legend(b *strings.Builder, x, y float64, series []string) {
	for i, s := range series {
		fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`,
			x+110*float64(i), y, pathColours[s], x+110*float64(i)+16, y+10, s)
	}
}
