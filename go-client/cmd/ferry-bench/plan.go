package main

import "time"

// plan is how much of each workload a run does: the full matrix, or the short pass that the test
// suite runs to keep the harness working (its numbers are not worth reading).
type plan struct {
	pings          int           // serial round trips per kind
	pipelineFor    time.Duration // pipelined ping phase
	pipeliners     int           // goroutines in the pipelined phase
	rustRuns       int           // one-at-a-time runs per photo, socket path
	goRuns         int           // one-at-a-time runs per photo, Go path (it is ~10x slower)
	concurrency    []int         // sweep levels
	sweepMinJobs   int           // jobs per sweep level: at least this many, and at least 2 x level
	checksumSizes  []int
	checksumBudget time.Duration // time per checksum cell (at least 3 calls)
	autoBudget     time.Duration // time per cell of the auto section
	autoMinCalls   int           // calls per path per auto cell, at least
	burst          int           // concurrent requests of the largest photo in the memory phase
}

func planFor(short bool) plan {
	if short {
		return plan{
			pings: 300, pipelineFor: 200 * time.Millisecond, pipeliners: 64,
			rustRuns: 2, goRuns: 1,
			concurrency: []int{1, 8}, sweepMinJobs: 4,
			checksumSizes:  []int{4 << 10, 64 << 10, 1 << 20},
			checksumBudget: 30 * time.Millisecond,
			autoBudget:     10 * time.Millisecond, autoMinCalls: 3,
			burst: 8,
		}
	}
	return plan{
		pings: 5000, pipelineFor: 3 * time.Second, pipeliners: 256,
		rustRuns: 9, goRuns: 3,
		concurrency: []int{1, 2, 8, 64}, sweepMinJobs: 24,
		checksumSizes:  []int{4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20},
		checksumBudget: 1500 * time.Millisecond,
		// The bar takes the worst of 20 cells, each a median over pairs of passes: at a second a
		// cell, the 16 MiB cells, where auto and its twin make the very same call, read up to
		// 1.06x between runs from noise alone; two seconds double the pairs behind each median.
		autoBudget: 2 * time.Second, autoMinCalls: 15, // 64 MiB cells reach only a few passes in a second
		burst: 80, // the default queue bound (64) admits 64; the other 16 must be busy
	}
}
