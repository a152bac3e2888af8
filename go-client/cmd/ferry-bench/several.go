package main

import (
	"context"
	"fmt"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// Three sizes from one decode: per photo, one request asking for 1600, 800 and 200 px (fit,
// JPEG q80, Lanczos3) with ResizeRequest.Outputs, against the 1600 px request alone. The bar line
// is the ratio of the sums of per-photo socket p50s; the Go path's figures for the same requests
// are reported beside it.

// severalSides are the boxes of the several-outputs request, largest first; the largest alone is
// the baseline.
var severalSides = []int{1600, 800, 200}

// severalRequest asks for every side of severalSides from one decode of p.
func severalRequest(p photo) ferry.ResizeRequest {
	outs := make([]ferry.OutputSpec, len(severalSides))
	for i, side := range severalSides {
		outs[i] = ferry.OutputSpec{Width: side, Height: side, Mode: ferry.ModeFit, Filter: ferry.FilterLanczos3,
			Format: ferry.FormatJPEG, Quality: 80}
	}
	return ferry.ResizeRequest{Image: p.data, Outputs: outs}
}

// largestAlone is the largest of severalRequest's outputs as a request of its own.
func largestAlone(p photo) ferry.ResizeRequest {
	side := severalSides[0]
	return ferry.ResizeRequest{Image: p.data, Width: side, Height: side, Mode: ferry.ModeFit,
		Filter: ferry.FilterLanczos3, Format: ferry.FormatJPEG, Quality: 80}
}

// severalRow is one photo's figures, milliseconds.
type severalRow struct {
	Photo     photo `json:"photo"`
	Several   dist  `json:"socket_several"`
	Alone     dist  `json:"socket_largest_alone"`
	GoSeveral dist  `json:"go_several"`
	GoAlone   dist  `json:"go_largest_alone"`
	// Ratio is Several.P50 / Alone.P50.
	Ratio float64 `json:"ratio"`
}

// severalResults are the section's figures: per photo, and the sums of the per-photo p50s.
type severalResults struct {
	Rows                         []severalRow `json:"rows"`
	SeveralSumMS, AloneSumMS     float64
	GoSeveralSumMS, GoAloneSumMS float64
}

// benchSeveral times, per photo, the several-outputs request and the largest alone on the socket
// path (p.rustRuns each) and on the Go path (p.goRuns each), all four alternated call by call so
// they see the same machine, after one checked warm-up of each.
func benchSeveral(ctx context.Context, d *daemon, photos []photo, p plan) (severalResults, error) {
	var out severalResults
	for _, ph := range photos {
		several, alone := severalRequest(ph), largestAlone(ph)
		calls := []struct {
			name string
			proc processor
			req  ferry.ResizeRequest
			runs int
			took []time.Duration
		}{
			{"several on ferryd", d.client, several, p.rustRuns, nil},
			{"largest alone on ferryd", d.client, alone, p.rustRuns, nil},
			{"several on Go", goPath, several, p.goRuns, nil},
			{"largest alone on Go", goPath, alone, p.goRuns, nil},
		}
		for _, c := range calls {
			res, err := c.proc.Resize(ctx, c.req)
			if err != nil {
				return out, fmt.Errorf("%s, %s: %w", ph.Name, c.name, err)
			}
			if want := len(c.req.Outputs); want > 0 && len(res.Outputs) != want {
				return out, fmt.Errorf("%s, %s: %d outputs, want %d", ph.Name, c.name, len(res.Outputs), want)
			}
		}
		for i := 0; i < max(p.rustRuns, p.goRuns); i++ {
			for j := range calls {
				c := &calls[j]
				if i >= c.runs {
					continue
				}
				t := time.Now()
				if _, err := c.proc.Resize(ctx, c.req); err != nil {
					return out, fmt.Errorf("%s, %s: %w", ph.Name, c.name, err)
				}
				c.took = append(c.took, time.Since(t))
			}
		}
		row := severalRow{Photo: ph, Several: summarise(calls[0].took), Alone: summarise(calls[1].took),
			GoSeveral: summarise(calls[2].took), GoAlone: summarise(calls[3].took)}
		row.Ratio = row.Several.P50 / row.Alone.P50
		out.SeveralSumMS += row.Several.P50
		out.AloneSumMS += row.Alone.P50
		out.GoSeveralSumMS += row.GoSeveral.P50
		out.GoAloneSumMS += row.GoAlone.P50
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// writeSeveral renders the section's table (the last round's figures).
func writeSeveral(w func(string, ...any), r *results) {
	s := r.Several
	if len(s.Rows) == 0 {
		return
	}
	w("\n## Three sizes from one decode\n\nOne request with outputs fit %v (JPEG q80, Lanczos3) against the %d px request alone, milliseconds; the four calls alternate per photo. The daemon decodes once, at the scale the largest output needs, and makes 800 px from the 1600 px output and 200 px from the 800 px one; the Go path decodes once at full size and resizes each output from it.\n\n", severalSides, severalSides[0])
	w("| photo | MP | socket several p50 | socket %d alone p50 | socket ratio | Go several p50 | Go %d alone p50 | Go ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n", severalSides[0], severalSides[0])
	for _, row := range s.Rows {
		w("| %s | %.1f | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n", row.Photo.Name, row.Photo.megapixels(),
			row.Several.P50, row.Alone.P50, row.Ratio, row.GoSeveral.P50, row.GoAlone.P50, row.GoSeveral.P50/row.GoAlone.P50)
	}
	w("| **sum of p50** | | **%.0f** | **%.0f** | **%.2fx** | **%.0f** | **%.0f** | **%.2fx** |\n", s.SeveralSumMS, s.AloneSumMS,
		s.SeveralSumMS/s.AloneSumMS, s.GoSeveralSumMS, s.GoAloneSumMS, s.GoSeveralSumMS/s.GoAloneSumMS)
}
