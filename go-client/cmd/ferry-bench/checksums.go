package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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
			var rt, gt []time.Duration
			// one warm-up each, checked against each other
			r, err := d.client.Checksum(ctx, req)
			if err != nil {
				return out, fmt.Errorf("%s %d on ferryd: %w", alg, size, err)
			}
			g, err := goPath.Checksum(ctx, req)
			if err != nil {
				return out, err
			}
			if !bytes.Equal(r.Digests[alg], g.Digests[alg]) {
				return out, fmt.Errorf("%s of %d bytes: ferryd %x, Go %x", alg, size, r.Digests[alg], g.Digests[alg])
			}
			for start := time.Now(); len(rt) < 3 || time.Since(start) < p.checksumBudget; {
				t := time.Now()
				if _, err := d.client.Checksum(ctx, req); err != nil {
					return out, err
				}
				rt = append(rt, time.Since(t))
				t = time.Now()
				if _, err := goPath.Checksum(ctx, req); err != nil {
					return out, err
				}
				gt = append(gt, time.Since(t))
			}
			c := checksumCell{Algorithm: alg, Size: size, Rust: summarise(rt), Go: summarise(gt)}
			c.RustGBps = float64(size) / (c.Rust.P50 * 1e6)
			c.GoGBps = float64(size) / (c.Go.P50 * 1e6)
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
// socket against the Go path reading the same file, alternated call by call, half a byte
// cell's time budget each.
func fileChecksumCells(ctx context.Context, d *daemon, p plan, data []byte) ([]checksumCell, error) {
	dir, err := os.MkdirTemp("", "ferry-sum")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "painted")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cells []checksumCell
	for _, alg := range algorithms {
		req := ferry.ChecksumRequest{File: f, Algorithms: []ferry.Algorithm{alg}}
		r, err := d.client.Checksum(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("%s of a %d-byte file on ferryd: %w", alg, len(data), err)
		}
		g, err := goPath.Checksum(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("%s of a %d-byte file on Go: %w", alg, len(data), err)
		}
		if !bytes.Equal(r.Digests[alg], g.Digests[alg]) {
			return nil, fmt.Errorf("%s of a %d-byte file: ferryd %x, Go %x", alg, len(data), r.Digests[alg], g.Digests[alg])
		}
		var rt, gt []time.Duration
		for start := time.Now(); len(rt) < 3 || time.Since(start) < p.checksumBudget/2; {
			t := time.Now()
			if _, err := d.client.Checksum(ctx, req); err != nil {
				return nil, err
			}
			rt = append(rt, time.Since(t))
			t = time.Now()
			if _, err := goPath.Checksum(ctx, req); err != nil {
				return nil, err
			}
			gt = append(gt, time.Since(t))
		}
		c := checksumCell{Algorithm: alg, Size: len(data), Rust: summarise(rt), Go: summarise(gt)}
		c.RustGBps = float64(len(data)) / (c.Rust.P50 * 1e6)
		c.GoGBps = float64(len(data)) / (c.Go.P50 * 1e6)
		cells = append(cells, c)
	}
	return cells, nil
}
