package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/router"
)

// autoCell is one algorithm at one size through the router in RouteAuto, against both paths
// called directly and through a router pinned to each (RouteRust, RouteGo), the five alternated
// call by call.
type autoCell struct {
	Algorithm ferry.Algorithm `json:"algorithm"`
	Size      int             `json:"size"`
	// Path is where the router sent it (every call of a cell takes the same path).
	Path ferry.Path `json:"path"`
	Auto dist       `json:"auto"`
	Rust dist       `json:"rust"`
	Go   dist       `json:"go"`
	// RouterRust, RouterGo: the same request through a Router whose policy is rust or go.
	RouterRust dist `json:"router_rust"`
	RouterGo   dist `json:"router_go"`
	// Ratio is the auto p50 over the faster path's p50 (paths called directly): 1 is perfect
	// routing at no cost. The Router's own fixed cost (about a microsecond) is in it.
	Ratio float64 `json:"ratio"`
	// PolicyRatio is auto's time over the time of the pinned router that is faster by p50: the
	// cost of auto's choice alone, the router's fixed cost being on both sides. It is the bar's
	// figure. Against the Router pinned to auto's own path it is the median over pairs of
	// passes of the geometric mean of the pair's two ratios (the two ran back to back, in
	// opposite orders in the two passes); against the other, the median of per-pass ratios.
	PolicyRatio float64 `json:"policy_ratio"`
}

// autoResults are the auto section of one round.
type autoResults struct {
	// Table is what the router routed by: made from this round's checksum cells and thumbnail
	// rows, as `make bench` makes crossover.json.
	Table *router.CostTable `json:"table"`
	Cells []autoCell        `json:"cells"`
}

// worst is the cell with the highest ratio by (nil when none was measured).
func (a autoResults) worst(by func(autoCell) float64) *autoCell {
	if len(a.Cells) == 0 {
		return nil
	}
	w := slices.MaxFunc(a.Cells, func(x, y autoCell) int { return cmp.Compare(by(x), by(y)) })
	return &w
}

func directRatio(c autoCell) float64 { return c.Ratio }
func policyRatio(c autoCell) float64 { return c.PolicyRatio }

// benchAuto measures a Router in RouteAuto, routing by table, against the socket path and the
// Go path at every checksum size of the plan, for every algorithm. The router's own cost (the
// decision, the breaker, its metrics) is in its figures, as it would be in a service.
func benchAuto(ctx context.Context, d *daemon, p plan, table *router.CostTable) (autoResults, error) {
	out := autoResults{Table: table}
	var routers [3]*router.Router // auto, pinned to rust, pinned to go
	for i, mode := range []router.RouteMode{router.RouteAuto, router.RouteRust, router.RouteGo} {
		r, err := router.New(d.client, goPath.(ferry.Processor), router.WithCostTable(table))
		if err != nil {
			return out, err
		}
		defer r.Close()
		// FERRY_ROUTE or a policy file in the environment may have set another policy in New.
		if err := r.SetPolicy(router.Policy{Mode: mode}); err != nil {
			return out, err
		}
		routers[i] = r
	}
	r := routers[0]
	// Go's collector runs between passes only, never inside a timed call: a pass at 16 MiB
	// allocates about 32 MiB of frames, so a collection left to its own pacing ran every pass or
	// two, and where its mark phase fell in a pass biased the pair that paid for it (auto and its
	// twin read 1.04-1.08x apart in full runs and 0.98-1.01x alone). It is held off while the
	// cells run and started between passes once enough has been allocated; a collection before
	// every pass cost the 4 KiB cells more than it saved (one round read 1.10x).
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	collector := newPassCollector(gcEvery)
	// timed is f run *reps times in a row, its mean time appended to *into.
	timed := func(into *[]time.Duration, reps *int, f func() error) func() error {
		return func() error {
			t := time.Now()
			for range *reps {
				if err := f(); err != nil {
					return err
				}
			}
			*into = append(*into, time.Since(t)/time.Duration(*reps))
			return nil
		}
	}
	for _, size := range p.checksumSizes {
		data := paint(size)
		for _, alg := range algorithms {
			req := ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{alg}}
			want, err := goPath.Checksum(ctx, req) // also the Go path's warm-up
			if err != nil {
				return out, err
			}
			if _, err := d.client.Checksum(ctx, req); err != nil {
				return out, fmt.Errorf("%s %d on ferryd: %w", alg, size, err)
			}
			first, err := r.Checksum(ctx, req)
			if err != nil {
				return out, fmt.Errorf("%s %d through the router: %w", alg, size, err)
			}
			if first.Served.Reason != router.ReasonCost || !bytes.Equal(first.Digests[alg], want.Digests[alg]) {
				return out, fmt.Errorf("%s of %d bytes through the router: served %v, digest %x, want cost and %x",
					alg, size, first.Served, first.Digests[alg], want.Digests[alg])
			}
			cell := autoCell{Algorithm: alg, Size: size, Path: first.Served.Path}
			// Samples of each call, in pass order: auto, socket, Go, pinned to the socket, to Go.
			var times [5][]time.Duration
			reps := [5]int{1, 1, 1, 1, 1}
			var served ferry.Served
			calls := []func() error{
				timed(&times[0], &reps[0], func() error {
					res, err := r.Checksum(ctx, req)
					if err == nil {
						served = res.Served
					}
					return err
				}),
				timed(&times[1], &reps[1], func() error { _, err := d.client.Checksum(ctx, req); return err }),
				timed(&times[2], &reps[2], func() error { _, err := goPath.Checksum(ctx, req); return err }),
				timed(&times[3], &reps[3], func() error { _, err := routers[1].Checksum(ctx, req); return err }),
				timed(&times[4], &reps[4], func() error { _, err := routers[2].Checksum(ctx, req); return err }),
			}
			// auto's twin is the Router pinned to the path auto takes: the same work plus the
			// same fixed cost, so any difference between them is auto's decision. The other
			// three calls go first in a fresh order every pass (a socket call leaves the caches
			// colder than a Go call does); then auto and its twin back to back, auto first in
			// even passes and second in odd ones, so that each side takes each place equally
			// often and a pair of passes cancels what the place costs (an ABBA design).
			twin, other := 4, 3 // indexes into calls: pinned to Go, pinned to the socket
			if cell.Path == ferry.PathRust {
				twin, other = 3, 4
			}
			// Calls of a few microseconds run in batches (batchOf); auto's batch is its twin's.
			for k, call := range calls {
				best := time.Duration(math.MaxInt64)
				for range 3 {
					if err := call(); err != nil {
						return out, fmt.Errorf("%s of %d bytes: %w", alg, size, err)
					}
					best = min(best, times[k][len(times[k])-1])
				}
				times[k] = times[k][:0]
				reps[k] = batchOf(best)
			}
			reps[0] = reps[twin]
			rest := []int{1, 2, other}
			passes := func() int { return len(times[0]) }
			for start := time.Now(); passes() < p.autoMinCalls || time.Since(start) < p.autoBudget || passes()%2 == 1; {
				order := make([]int, 0, len(calls))
				for _, k := range rand.Perm(len(rest)) {
					order = append(order, rest[k])
				}
				collector.between()
				if passes()%2 == 0 {
					order = append(order, 0, twin)
				} else {
					order = append(order, twin, 0)
				}
				for _, k := range order {
					if err := calls[k](); err != nil {
						return out, fmt.Errorf("%s of %d bytes: %w", alg, size, err)
					}
				}
				if served.Path != cell.Path || served.Reason != router.ReasonCost {
					return out, fmt.Errorf("%s of %d bytes: the router served %v after %s/cost", alg, size, served, cell.Path)
				}
			}
			// Paired before summarise sorts the samples out of pass order.
			overTwin, overOther := abbaRatio(times[0], times[twin]), pairedRatio(times[0], times[other])
			var d [5]dist
			for i := range times {
				d[i] = summarise(times[i])
			}
			cell.Auto, cell.Rust, cell.Go, cell.RouterRust, cell.RouterGo = d[0], d[1], d[2], d[3], d[4]
			cell.Ratio = cell.Auto.P50 / min(cell.Rust.P50, cell.Go.P50)
			// Against the faster pinned Router: the twin unless auto chose the slower path.
			cell.PolicyRatio = overTwin
			if d[other].P50 < d[twin].P50 {
				cell.PolicyRatio = overOther
			}
			out.Cells = append(out.Cells, cell)
		}
	}
	return out, nil
}

// batchTarget is about how long one timed sample of the auto cells lasts at least: a call of a
// few microseconds (a 4 KiB checksum kept in Go takes 1-2) is timed in a batch of calls in a
// row, so that reading the clock and the cold caches a socket call leaves behind are spread over
// the batch instead of weighing on each call. Timed one by one, the 4 KiB cells' ratio moved
// between 1.00x and 1.06x from run to run while every other cell stayed within 0.98-1.04x.
const batchTarget = 20 * time.Microsecond

// batchOf is the batch for a call that took single: enough calls to last batchTarget, 1 to 64.
func batchOf(single time.Duration) int {
	if single <= 0 {
		return 64
	}
	return min(int(batchTarget/single)+1, 64)
}

// writeAuto renders the auto section: the table the router routed by and each cell's ratio.
func writeAuto(w func(string, ...any), r *results) {
	a := r.Auto
	w("\n## Router policy auto\n\nA Router in policy `auto` (package router), routing by a cost table made from this round's checksum cells and thumbnail rows, against the socket path and the Go path called directly and against Routers pinned to each path (policies rust and go); the five alternate call by call. Policy ratio: auto's time over the time of the pinned Router faster by p50, paired call by call (a 1 MiB buffer in or out of L2 makes the times bimodal, and a ratio of two medians swung by 10%%). Go's collector runs between passes only, never inside a timed call; a call of a few microseconds is timed in a batch of calls in a row lasting about 20 us (the same batch for auto and its twin), a sample being the batch's mean. Auto and the Router pinned to its own path run back to back at the end of each pass, after the other three in a fresh order, auto first in even passes and second in odd ones; the figure is the median over pairs of passes of the geometric mean of the pair's two ratios, so that what each place in the pass costs (a call right after a socket call finds the caches colder) cancels out; it is the cost of auto's choice alone, the Router's own fixed cost (its decision, breaker, metrics) being on both sides: the bar's figure, <= 1.05 at every size. Ratio: auto p50 over the faster path called without a Router, which adds that fixed cost; it matters only where a call takes a few microseconds. Microseconds.\n\n")
	if a.Table != nil {
		w("Routed by: ")
		for i, alg := range algorithms {
			if i > 0 {
				w(", ")
			}
			w("%s %s", alg, thresholdWord(a.Table.ChecksumBytes[alg], sizeWordOf))
		}
		for _, f := range []ferry.Format{ferry.FormatJPEG, ferry.FormatPNG} {
			if th, ok := a.Table.ResizePixels[f]; ok {
				w(", %s thumbnails %s", f, thresholdWord(th, func(n int64) string { return fmt.Sprintf("%.1f MP", float64(n)/1e6) }))
			}
		}
		w(".\n\n")
	}
	w("| algorithm | size | auto sent it to | auto p50 | socket p50 | Go p50 | ratio | router:rust p50 | router:go p50 | policy ratio |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range a.Cells {
		w("| %s | %s | %s | %.1f | %.1f | %.1f | %.3f | %.1f | %.1f | %.3f |\n", c.Algorithm, sizeWord(c.Size), c.Path,
			1000*c.Auto.P50, 1000*c.Rust.P50, 1000*c.Go.P50, c.Ratio, 1000*c.RouterRust.P50, 1000*c.RouterGo.P50, c.PolicyRatio)
	}
	if t := r.CostTable; t != nil {
		w("\nThis run's table (crossover.json, the rounds' medians): ")
		for i, alg := range algorithms {
			if i > 0 {
				w(", ")
			}
			w("%s %s", alg, thresholdWord(t.ChecksumBytes[alg], sizeWordOf))
		}
		if len(t.ChecksumFileBytes) > 0 {
			w("; files by descriptor: ")
			for i, alg := range algorithms {
				if i > 0 {
					w(", ")
				}
				w("%s %s", alg, thresholdWord(t.ChecksumFileBytes[alg], sizeWordOf))
			}
		}
		w(". Install it on this machine with `FERRY_COST_TABLE=crossover.json` (or router.WithCostTableFile).\n")
	}
}

// thresholdWord says from which size the socket path serves.
func thresholdWord(th router.Threshold, size func(int64) string) string {
	switch th {
	case router.Never:
		return "never to the socket"
	case 0:
		return "always to the socket"
	}
	return "to the socket from " + size(int64(th))
}

func sizeWordOf(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	}
	return sizeWord(int(n))
}
