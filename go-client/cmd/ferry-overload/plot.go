//go:build linux

package main

import (
	"fmt"
	"math"
	"strings"
)

// goodputPlot is a grouped bar chart of ok/s per cell, the plain client beside the router, with
// the router's share written above each pair. Hand-written SVG, like ferry-bench's plots: one
// chart does not justify a plotting dependency.
func goodputPlot(cells []*cellResult) string {
	if len(cells) == 0 {
		return `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>` + "\n"
	}
	hi := 0.0
	for _, c := range cells {
		hi = math.Max(hi, math.Max(c.Plain.goodput(), c.Router.goodput()))
	}
	step := niceStep(hi / 5)
	hi = math.Max(step, math.Ceil(hi/step)*step)
	const left, top, plotH, groupW, barW = 55.0, 50.0, 280.0, 62.0, 22.0
	width := left + groupW*float64(len(cells)) + 20
	y := func(v float64) float64 { return top + plotH*(1-v/hi) }
	colours := []string{"#1f77b4", "#ff7f0e"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`, width, top+plotH+90)
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">Goodput, thumbnails/s, per cell (callers, deadline, burners): plain client and router; router share above</text>`, left)
	for v := 0.0; v <= hi*1.0001; v += step {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%g</text>`,
			left, width-20, y(v), y(v), left-5, y(v)+4, v)
	}
	for i, c := range cells {
		x0 := left + groupW*float64(i) + 8
		for j, v := range []float64{c.Plain.goodput(), c.Router.goodput()} {
			name := []string{plainName, routerName}[j]
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.0f" height="%.1f" fill="%s"><title>%s, %s: %.1f/s</title></rect>`,
				x0+barW*float64(j), y(v), barW-2, top+plotH-y(v), colours[j], c.Spec, name, v)
		}
		colour := "#2ca02c"
		if c.ratio() < routerShare {
			colour = "#d62728"
		}
		mid := x0 + barW
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%.0f%%</text>`, mid, top-6, colour, c.ratio()*100)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`, mid, top+plotH+14, c.Spec.Callers)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%v</text>`, mid, top+plotH+27, c.Spec.Deadline)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, mid, top+plotH+40, burnWord(c.Spec.Burn))
	}
	for j, name := range []string{"plain ferry.Client", "router.New(client, nil)"} {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`,
			left+170*float64(j), top+plotH+60, colours[j], left+170*float64(j)+16, top+plotH+70, name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceStep rounds a raw grid step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}
