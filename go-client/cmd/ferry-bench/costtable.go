package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/router"
)

// point is one size measured on both paths: p50 milliseconds of each.
type point struct {
	size       float64
	rust, goMS float64
}

// crossover is the size from which the socket path is faster, from points measured on both
// paths: 0 when it wins at every size measured, router.Never when it loses at the largest, and
// otherwise the size between the last size it loses at and the next where the straight line
// through the two differences (socket minus Go) crosses zero. Both paths' costs are close to a
// fixed cost plus a cost per byte or pixel, so the line is a fair guess between two sizes where
// a step at the larger one would send the whole gap to the slower path.
func crossover(points []point) router.Threshold {
	slices.SortFunc(points, func(a, b point) int { return cmp.Compare(a.size, b.size) })
	last := -1 // the last size where Go is at least as fast
	for i, p := range points {
		if p.rust >= p.goMS {
			last = i
		}
	}
	switch {
	case len(points) == 0 || last == len(points)-1:
		return router.Never
	case last < 0:
		return 0
	}
	a, b := points[last], points[last+1]
	da, db := a.rust-a.goMS, b.rust-b.goMS // da >= 0 > db
	return router.Threshold(math.Ceil(a.size + (b.size-a.size)*da/(da-db)))
}

// costTable is the router's cost table from one run's checksum cells (bytes, and files when the
// run measured them) and thumbnail rows.
func costTable(cells, fileCells []checksumCell, rows []thumbRow, source string) *router.CostTable {
	t := &router.CostTable{Version: 1, Source: source,
		ChecksumBytes: checksumThresholds(cells), ResizePixels: map[ferry.Format]router.Threshold{}}
	if len(fileCells) > 0 {
		t.ChecksumFileBytes = checksumThresholds(fileCells)
	}
	byFormat := map[ferry.Format][]point{}
	for _, r := range rows {
		f := photoFormat(r.Photo.Name)
		byFormat[f] = append(byFormat[f], point{float64(r.Photo.Width) * float64(r.Photo.Height), r.Rust.P50, r.Go.P50})
	}
	for f, pts := range byFormat {
		if f != "" {
			t.ResizePixels[f] = crossover(pts)
		}
	}
	return t
}

// checksumThresholds is each algorithm's crossover over its cells.
func checksumThresholds(cells []checksumCell) map[ferry.Algorithm]router.Threshold {
	byAlg := map[ferry.Algorithm][]point{}
	for _, c := range cells {
		byAlg[c.Algorithm] = append(byAlg[c.Algorithm], point{float64(c.Size), c.Rust.P50, c.Go.P50})
	}
	out := map[ferry.Algorithm]router.Threshold{}
	for alg, pts := range byAlg {
		out[alg] = crossover(pts)
	}
	return out
}

// photoFormat is a corpus file's format, from its name (the corpus holds *.jpg, *.jpeg, *.png).
func photoFormat(name string) ferry.Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg":
		return ferry.FormatJPEG
	case ".png":
		return ferry.FormatPNG
	}
	return ""
}

// runSource describes a run for a cost table's Source.
func runSource(r *results) string {
	return fmt.Sprintf("ferry-bench run started %s (%s, rounds: %d), %s, %d cores, %s, corpus %q",
		r.Started.UTC().Format("2006-01-02 15:04 MST"), map[bool]string{true: "short: figures not meaningful", false: "full"}[r.Short],
		max(len(r.Rounds), 1), r.Host.CPU, r.Host.Cores, r.Host.Go, publicCorpus(r.Corpus))
}

// writeCostTable writes t as indented JSON.
func writeCostTable(path string, t *router.CostTable) error {
	raw, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// tableFromReport makes the cost table of an earlier run's results.json, without measuring
// anything (go generate in package router uses it for the default table). A short run's
// figures are refused: they are too few to route by.
func tableFromReport(resultsPath, out string) error {
	raw, err := os.ReadFile(resultsPath)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%s: %w", resultsPath, err)
	}
	if r.Short {
		return fmt.Errorf("%s is a short run's: its figures are too few to route by", resultsPath)
	}
	if len(r.Checksums.Cells) == 0 || len(r.Thumbs.Rows) == 0 {
		return fmt.Errorf("%s holds no checksum cells or thumbnail rows", resultsPath)
	}
	from := filepath.Base(resultsPath)
	if i := strings.Index(resultsPath, "benches/"); i >= 0 {
		from = resultsPath[i:] // the repository's path, not this machine's
	}
	return writeCostTable(out, costTable(r.Checksums.Cells, r.Checksums.FileCells, r.Thumbs.Rows, from+": "+runSource(&r)))
}

// medianCostTable is the run's table: each checksum cell's and thumbnail row's p50s are their
// medians over the rounds, so one noisy round cannot move a crossover alone.
func medianCostTable(rounds []round, r *results) *router.CostTable {
	if len(rounds) == 0 {
		return nil
	}
	last := rounds[len(rounds)-1]
	cells := slices.Clone(last.Checksums.Cells)
	for i := range cells {
		cells[i].Rust.P50 = medianOf(rounds, func(rd round) float64 { return rd.Checksums.Cells[i].Rust.P50 })
		cells[i].Go.P50 = medianOf(rounds, func(rd round) float64 { return rd.Checksums.Cells[i].Go.P50 })
	}
	fileCells := slices.Clone(last.Checksums.FileCells)
	for i := range fileCells {
		fileCells[i].Rust.P50 = medianOf(rounds, func(rd round) float64 { return rd.Checksums.FileCells[i].Rust.P50 })
		fileCells[i].Go.P50 = medianOf(rounds, func(rd round) float64 { return rd.Checksums.FileCells[i].Go.P50 })
	}
	rows := slices.Clone(last.Thumbs.Rows)
	for i := range rows {
		rows[i].Rust.P50 = medianOf(rounds, func(rd round) float64 { return rd.Thumbs.Rows[i].Rust.P50 })
		rows[i].Go.P50 = medianOf(rounds, func(rd round) float64 { return rd.Thumbs.Rows[i].Go.P50 })
	}
	return costTable(cells, fileCells, rows, runSource(r))
}

// medianOf is the median of f over the rounds (every round measures the same cells and rows).
func medianOf(rounds []round, f func(round) float64) float64 {
	v := make([]float64, len(rounds))
	for i, rd := range rounds {
		v[i] = f(rd)
	}
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}
