package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// fdFileSize is the file the "by file descriptor" bar line digests.
const fdFileSize = 64 << 20

// fdRuns is how many timed runs each path gets per round (after one warm-up each, which also
// brings the file into the page cache): the line is their median, printed with the spread.
const fdRuns = 7

// fileChecksum is BLAKE3 of one 64 MiB file already in the page cache: passed by descriptor
// through the socket (the daemon preads it), and in this process by the Go path reading the same
// file with ReadAt. Runs alternate between the paths. Rates are bytes / wall time of one call.
type fileChecksum struct {
	Size     int       `json:"size"`
	RustGBps []float64 `json:"rust_gb_per_s"` // each run, sorted
	GoGBps   []float64 `json:"go_gb_per_s"`
}

// median, lowest and highest of sorted rates.
func spreadOf(sorted []float64) (med, lo, hi float64) {
	if len(sorted) == 0 {
		return 0, 0, 0
	}
	med = sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	return med, sorted[0], sorted[len(sorted)-1]
}

// benchFileFile writes the painted 64 MiB file once per run of the harness; the caller removes
// it with cleanup.
func benchFileFile() (path string, cleanup func(), err error) {
	return tempFileOf(paint(fdFileSize))
}

// tempFileOf writes data to a file of its own temporary directory, which cleanup removes.
func tempFileOf(data []byte) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "ferry-fd")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "painted")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// benchFileChecksum times BLAKE3 of the file at path on both paths, fdRuns times each.
func benchFileChecksum(ctx context.Context, d *daemon, path string) (*fileChecksum, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	req := ferry.ChecksumRequest{File: f, Algorithms: []ferry.Algorithm{ferry.BLAKE3}}
	// Warm-ups, checked against each other.
	r, err := d.client.ChecksumFile(ctx, f, ferry.BLAKE3)
	if err != nil {
		return nil, fmt.Errorf("BLAKE3 by descriptor on ferryd: %w", err)
	}
	g, err := goPath.Checksum(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("BLAKE3 of the file on the Go path: %w", err)
	}
	if !bytes.Equal(r.Digests[ferry.BLAKE3], g.Digests[ferry.BLAKE3]) {
		return nil, fmt.Errorf("BLAKE3 of the file: ferryd %x, Go %x", r.Digests[ferry.BLAKE3], g.Digests[ferry.BLAKE3])
	}
	out := &fileChecksum{Size: fdFileSize}
	rate := func(took time.Duration) float64 { return float64(fdFileSize) / took.Seconds() / 1e9 }
	for range fdRuns {
		start := time.Now()
		if _, err := d.client.ChecksumFile(ctx, f, ferry.BLAKE3); err != nil {
			return nil, err
		}
		out.RustGBps = append(out.RustGBps, rate(time.Since(start)))
		start = time.Now()
		if _, err := goPath.Checksum(ctx, req); err != nil {
			return nil, err
		}
		out.GoGBps = append(out.GoGBps, rate(time.Since(start)))
	}
	slices.Sort(out.RustGBps)
	slices.Sort(out.GoGBps)
	return out, nil
}
