package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// thumbRequest is the workload of issue 4: fit into 400x400, JPEG quality 80, Lanczos3 (the
// Go path implements Lanczos3 as an x/image/draw kernel, so both paths run the same filter).
func thumbRequest(p photo) ferry.ResizeRequest {
	return ferry.ResizeRequest{Image: p.data, Width: 400, Height: 400, Mode: ferry.ModeFit,
		Filter: ferry.FilterLanczos3, Format: ferry.FormatJPEG, Quality: 80}
}

// thumbRow is one photo done one at a time on both paths.
type thumbRow struct {
	Photo photo `json:"photo"`
	Rust  dist  `json:"rust"`
	// Fast is the socket path in fast mode (SPEC.md 5.3, "fast"), timed beside the default.
	Fast      dist    `json:"rust_fast"`
	Go        dist    `json:"go"`
	OutBytes  [2]int  `json:"out_bytes"` // rust, go
	OutWidth  int     `json:"out_width"`
	OutHeight int     `json:"out_height"`
	Speedup   float64 `json:"speedup"` // go p50 / rust p50
	// PSNR in dB of the socket path's and the Go path's thumbnails against libvips' of the same
	// photo (0 when libvips is absent or made a different size): as timed (JPEG q80, so each
	// side's encoder is in the figure), and written as lossless PNG by all three (the pixels
	// alone: the bar's figure).
	PSNRSocketVips         float64 `json:"psnr_socket_vs_vips_db"`
	PSNRGoVips             float64 `json:"psnr_go_vs_vips_db"`
	PSNRSocketVipsLossless float64 `json:"psnr_socket_vs_vips_lossless_db"`
	PSNRGoVipsLossless     float64 `json:"psnr_go_vs_vips_lossless_db"`
	// VsFullDecode: every path's pixels against the full decode resized with Lanczos3 (the
	// quality contract's yardstick); zero without -reference.
	VsFullDecode vsFullDecode `json:"psnr_vs_full_decode"`
}

// thumbsSerial are the one-at-a-time figures.
type thumbsSerial struct {
	Rows []thumbRow `json:"rows"`
	// sums of the per-photo medians, the corpus figure of the bar
	RustSumMS, GoSumMS float64
	FastSumMS          float64 // the socket path in fast mode
}

// processor is what a bench runs a job on: the Client or the in-process Go path.
type processor interface {
	Resize(context.Context, ferry.ResizeRequest) (*ferry.ResizeResult, error)
	Checksum(context.Context, ferry.ChecksumRequest) (*ferry.ChecksumResult, error)
}

var goPath processor = goproc.New()

// benchThumbsSerial times every photo on each path, one call at a time, alternating the paths
// call by call (libvips through pyvips and through govips too, when not nil) so that all of them
// see the same machine.
// reference is the directory of full-decode references (-reference), "" for none.
func benchThumbsSerial(ctx context.Context, d *daemon, photos []photo, p plan, vips, govips *vipsWorker, reference string) (out thumbsSerial, vr, gr *vipsResults, err error) {
	if vips != nil {
		vr = &vipsResults{Version: vips.version, Rows: map[string]dist{}}
	}
	if govips != nil {
		gr = &vipsResults{Version: govips.version, Rows: map[string]dist{}}
	}
	for _, ph := range photos {
		req := thumbRequest(ph)
		fastReq := req
		fastReq.Fast = true
		row := thumbRow{Photo: ph}
		var rt, ft, gt, vt, gvt []time.Duration
		// one warm-up each, then alternate the paths so both see the same machine
		r, err := d.client.Resize(ctx, req)
		if err != nil {
			return out, nil, nil, fmt.Errorf("%s on ferryd: %w", ph.Name, err)
		}
		g, err := goPath.Resize(ctx, req)
		if err != nil {
			return out, nil, nil, fmt.Errorf("%s on Go: %w", ph.Name, err)
		}
		if r.Width != g.Width || r.Height != g.Height {
			return out, nil, nil, fmt.Errorf("%s: ferryd made %dx%d, Go %dx%d", ph.Name, r.Width, r.Height, g.Width, g.Height)
		}
		if vips != nil {
			ref, err := vips.output(ph.Name) // also its warm-up
			if err != nil {
				return out, nil, nil, fmt.Errorf("%s on libvips: %w", ph.Name, err)
			}
			row.PSNRSocketVips, row.PSNRGoVips = psnr(r.Image, ref), psnr(g.Image, ref)
			if row.PSNRSocketVipsLossless, row.PSNRGoVipsLossless, err = losslessPSNR(ctx, d, vips, ph); err != nil {
				return out, nil, nil, err
			}
		}
		if govips != nil {
			if _, err := govips.output(ph.Name); err != nil { // its warm-up
				return out, nil, nil, fmt.Errorf("%s on govips: %w", ph.Name, err)
			}
		}
		if _, err := d.client.Resize(ctx, fastReq); err != nil { // fast mode's warm-up
			return out, nil, nil, fmt.Errorf("%s in fast mode on ferryd: %w", ph.Name, err)
		}
		if ref := referenceOf(reference, ph.Name); ref != nil {
			if row.VsFullDecode, err = againstFullDecode(ctx, d, vips, govips, ph, ref); err != nil {
				return out, nil, nil, err
			}
		}
		row.OutBytes, row.OutWidth, row.OutHeight = [2]int{len(r.Image), len(g.Image)}, r.Width, r.Height
		for i := 0; i < max(p.rustRuns, p.goRuns); i++ {
			if i < p.rustRuns {
				t := time.Now()
				if _, err := d.client.Resize(ctx, req); err != nil {
					return out, nil, nil, err
				}
				rt = append(rt, time.Since(t))
				t = time.Now()
				if _, err := d.client.Resize(ctx, fastReq); err != nil {
					return out, nil, nil, err
				}
				ft = append(ft, time.Since(t))
				if vips != nil {
					v, err := vips.thumb(ph.Name)
					if err != nil {
						return out, nil, nil, err
					}
					vt = append(vt, v)
				}
				if govips != nil {
					v, err := govips.thumb(ph.Name)
					if err != nil {
						return out, nil, nil, err
					}
					gvt = append(gvt, v)
				}
			}
			if i < p.goRuns {
				t := time.Now()
				if _, err := goPath.Resize(ctx, req); err != nil {
					return out, nil, nil, err
				}
				gt = append(gt, time.Since(t))
			}
		}
		row.Rust, row.Fast, row.Go = summarise(rt), summarise(ft), summarise(gt)
		row.Speedup = row.Go.P50 / row.Rust.P50
		out.RustSumMS += row.Rust.P50
		out.FastSumMS += row.Fast.P50
		out.GoSumMS += row.Go.P50
		out.Rows = append(out.Rows, row)
		if vr != nil {
			v := summarise(vt)
			vr.Rows[ph.Name] = v
			vr.SumMS += v.P50
		}
		if gr != nil {
			v := summarise(gvt)
			gr.Rows[ph.Name] = v
			gr.SumMS += v.P50
		}
	}
	return out, vr, gr, nil
}

// sweepCell is one path at one concurrency.
type sweepCell struct {
	Concurrency  int     `json:"concurrency"`
	Jobs         int     `json:"jobs"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"images_per_second"`
	Latency      dist    `json:"latency"`
	Busy         int64   `json:"busy_retries"` // busy answers, each retried after a short pause
	DaemonCPUJob float64 `json:"daemon_cpu_ms_per_job"`
	ClientCPUJob float64 `json:"client_cpu_ms_per_job"` // this Go process
}

// sweep is the concurrency sweep on both paths.
type sweep struct {
	Rust []sweepCell `json:"rust"`
	Go   []sweepCell `json:"go"`
}

func benchThumbsSweep(ctx context.Context, d *daemon, photos []photo, p plan) (sweep, error) {
	var out sweep
	for _, c := range p.concurrency {
		n := max(p.sweepMinJobs, 2*c, len(photos))
		n = (n + len(photos) - 1) / len(photos) * len(photos) // every photo equally often
		jobs := make([]ferry.ResizeRequest, n)
		for i := range jobs {
			jobs[i] = thumbRequest(photos[i%len(photos)])
		}
		cell, err := runSweep(ctx, d, d.client, jobs, c)
		if err != nil {
			return out, fmt.Errorf("ferryd at concurrency %d: %w", c, err)
		}
		out.Rust = append(out.Rust, cell)
		cell, err = runSweep(ctx, d, goPath, jobs, c)
		if err != nil {
			return out, fmt.Errorf("Go at concurrency %d: %w", c, err)
		}
		out.Go = append(out.Go, cell)
	}
	return out, nil
}

// runSweep runs jobs through proc from c goroutines and measures throughput, latency and the CPU
// both processes spent.
func runSweep(ctx context.Context, d *daemon, proc processor, jobs []ferry.ResizeRequest, c int) (sweepCell, error) {
	cell := sweepCell{Concurrency: c, Jobs: len(jobs)}
	lat := make([]time.Duration, len(jobs))
	var next atomic.Int64
	var busy atomic.Int64
	var firstErr error
	var once sync.Once
	dcpu, scpu := d.cpu(), selfCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		spawn(&wg, func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				t := time.Now()
				for {
					_, err := proc.Resize(ctx, jobs[i])
					if errors.Is(err, ferry.ErrBusy) {
						busy.Add(1)
						time.Sleep(2 * time.Millisecond)
						continue
					}
					if err != nil {
						once.Do(func() { firstErr = err })
						return
					}
					break
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cell.Seconds = elapsed.Seconds()
	cell.PerSecond = float64(len(jobs)) / elapsed.Seconds()
	cell.Latency = summarise(lat)
	cell.Busy = busy.Load()
	if proc != goPath {
		cell.DaemonCPUJob = ms(d.cpu()-dcpu) / float64(len(jobs))
	}
	cell.ClientCPUJob = ms(selfCPU()-scpu) / float64(len(jobs))
	return cell, firstErr
}

// losslessPSNR is the quality check without the encoders: the same thumbnail from the socket
// path, the Go path and libvips, each written as PNG, compared with libvips'. A JPEG q80 from
// libjpeg-turbo and one from libvips' own JPEG library differ by a few dB on saturated photos
// (coffee.png: 37 dB as JPEGs, 43 dB as PNGs) though their pixels agree.
func losslessPSNR(ctx context.Context, d *daemon, vips *vipsWorker, ph photo) (socket, goPNG float64, err error) {
	req := thumbRequest(ph)
	req.Format = ferry.FormatPNG
	r, err := d.client.Resize(ctx, req)
	if err != nil {
		return 0, 0, fmt.Errorf("%s as PNG on ferryd: %w", ph.Name, err)
	}
	g, err := goPath.Resize(ctx, req)
	if err != nil {
		return 0, 0, fmt.Errorf("%s as PNG on Go: %w", ph.Name, err)
	}
	ref, err := vips.outputAs(ph.Name, ".png")
	if err != nil {
		return 0, 0, fmt.Errorf("%s as PNG on libvips: %w", ph.Name, err)
	}
	return psnr(r.Image, ref), psnr(g.Image, ref), nil
}

// againstFullDecode writes the photo's thumbnail as lossless PNG on every path (ferryd default
// and fast, libvips and govips when present) and compares each with ref, the full decode
// resized with Lanczos3 to the output size. ferryd keeps the ICC profile rather than applying
// it, as the reference and libvips' thumbnail do, so the figures compare the resize alone.
func againstFullDecode(ctx context.Context, d *daemon, vips, govips *vipsWorker, ph photo, ref []byte) (vsFullDecode, error) {
	var q vsFullDecode
	req := thumbRequest(ph)
	req.Format, req.KeepICC = ferry.FormatPNG, true
	r, err := d.client.Resize(ctx, req)
	if err != nil {
		return q, fmt.Errorf("%s as PNG on ferryd: %w", ph.Name, err)
	}
	q.Default = psnr(r.Image, ref)
	req.Fast = true
	if r, err = d.client.Resize(ctx, req); err != nil {
		return q, fmt.Errorf("%s as PNG in fast mode on ferryd: %w", ph.Name, err)
	}
	q.Fast = psnr(r.Image, ref)
	for _, w := range []struct {
		worker *vipsWorker
		db     *float64
		what   string
	}{{vips, &q.Vips, "libvips"}, {govips, &q.Govips, "govips"}} {
		if w.worker == nil {
			continue
		}
		png, err := w.worker.outputAs(ph.Name, ".png")
		if err != nil {
			return q, fmt.Errorf("%s as PNG on %s: %w", ph.Name, w.what, err)
		}
		*w.db = psnr(png, ref)
	}
	return q, nil
}
