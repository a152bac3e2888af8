package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// kernelResults are the Rust kernels' own figures on the same corpus, with no socket: written by
// `FERRY_BENCH_JSON=path cargo bench --bench corpus` in the same `make bench` run.
type kernelResults struct {
	Photos              int     `json:"photos"`
	SingleThreadSumMS   float64 `json:"single_thread_sum_of_medians_ms"`
	PoolThreads         int     `json:"pool_threads"`
	PoolImages          int     `json:"pool_images"`
	PoolImagesPerSecond float64 `json:"pool_images_per_second"`
	// SameRound: the pool figure was measured by the harness in the round it is judged with.
	SameRound bool `json:"same_round,omitempty"`
}

func readKernels(path string) (*kernelResults, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-kernels: %w", err)
	}
	var k kernelResults
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("-kernels %s: %w", path, err)
	}
	return &k, nil
}
