package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

var algorithms = []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3}

// checksumCell is one algorithm at one size on both paths, alternated call by call.
type checksumCell struct {
	Algorithm ferry.Algorithm `json:"algorithm"`
	Size      int             `json:"size"`
	Rust      dist            `json:"rust"`
	Go        dist            `json:"go"`
	RustGBps  float64         `json:"rust_gb_per_s"` // size / median
	GoGBps    float64         `json:"go_gb_per_s"`
}

// checksumResults hold every cell and, per algorithm, the smallest size from which the socket
// path is faster at every larger size measured (0: it never is).
type checksumResults struct {
	Cells     []checksumCell          `json:"cells"`
	Crossover map[ferry.Algorithm]int `json:"crossover"`
	// FileCells are the same algorithms and sizes with the bytes in a file (in the page cache):
	// by descriptor through the socket (checksum_file) against the Go path reading the file.
	// The router's cost table routes files by them.
	FileCells []checksumCell `json:"file_cells"`
}

// paint fills n bytes with i % 251: data that no compressor or cache trick favours, and the same
// on every run.
func paint(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func benchChecksums(ctx context.Context, d *daemon, p plan) (checksumResults, error) {
	out := checksumResults{Crossover: map[ferry.Algorithm]int{}}
	for _, size := range p.checksumSizes {
		data := paint(size)
		for _, alg := range algorithms {
			req := ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{alg}}
			c, err := checksumCellOf(ctx, d, req, size, p.checksumBudget)
			if err != nil {
				return out, err
			}
			out.Cells = append(out.Cells, c)
		}
		cells, err := fileChecksumCells(ctx, d, p, data)
		if err != nil {
			return out, err
		}
		out.FileCells = append(out.FileCells, cells...)
	}
	for _, alg := range algorithms {
		cross := 0
		for _, c := range out.Cells {
			if c.Algorithm != alg {
				continue
			}
			switch {
			case c.Rust.P50 < c.Go.P50 && cross == 0:
				cross = c.Size
			case c.Rust.P50 >= c.Go.P50:
				cross = 0
			}
		}
		out.Crossover[alg] = cross
	}
	return out, nil
}

// fileChecksumCells times every algorithm over data written to a file: by descriptor through the
// socket against the Go path reading the same file, half a byte cell's time budget each.
func fileChecksumCells(ctx context.Context, d *daemon, p plan, data []byte) ([]checksumCell, error) {
	path, cleanup, err := tempFileOf(data)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cells []checksumCell
	for _, alg := range algorithms {
		req := ferry.ChecksumRequest{File: f, Algorithms: []ferry.Algorithm{alg}}
		c, err := checksumCellOf(ctx, d, req, len(data), p.checksumBudget/2)
		if err != nil {
			return nil, err
		}
		cells = append(cells, c)
	}
	return cells, nil
}

// checksumCellOf times one checksum request of size bytes (in memory or in a file) on both paths,
// alternated call by call for budget (at least 3 calls each), after one warm-up each whose
// digests must agree.
func checksumCellOf(ctx context.Context, d *daemon, req ferry.ChecksumRequest, size int, budget time.Duration) (checksumCell, error) {
	alg := req.Algorithms[0]
	what := fmt.Sprintf("%s of %d bytes", alg, size)
	if req.File != nil {
		what = fmt.Sprintf("%s of a %d-byte file", alg, size)
	}
	r, err := d.client.Checksum(ctx, req)
	if err != nil {
		return checksumCell{}, fmt.Errorf("%s on ferryd: %w", what, err)
	}
	g, err := goPath.Checksum(ctx, req)
	if err != nil {
		return checksumCell{}, fmt.Errorf("%s on Go: %w", what, err)
	}
	if !bytes.Equal(r.Digests[alg], g.Digests[alg]) {
		return checksumCell{}, fmt.Errorf("%s: ferryd %x, Go %x", what, r.Digests[alg], g.Digests[alg])
	}
	var rt, gt []time.Duration
	for start := time.Now(); len(rt) < 3 || time.Since(start) < budget; {
		t := time.Now()
		if _, err := d.client.Checksum(ctx, req); err != nil {
			return checksumCell{}, err
		}
		rt = append(rt, time.Since(t))
		t = time.Now()
		if _, err := goPath.Checksum(ctx, req); err != nil {
			return checksumCell{}, err
		}
		gt = append(gt, time.Since(t))
	}
	c := checksumCell{Algorithm: alg, Size: size, Rust: summarise(rt), Go: summarise(gt)}
	c.RustGBps = float64(size) / (c.Rust.P50 * 1e6)
	c.GoGBps = float64(size) / (c.Go.P50 * 1e6)
	return c, nil
}
