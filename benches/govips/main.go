// Command ferry-govips is the bench harness's libvips-in-process path: what a Go team gets by
// calling libvips through cgo (github.com/davidbyttow/govips) instead of running ferryd beside
// the service. It is its own module so that neither cgo nor libvips reaches the client's module.
//
// Two modes, both driven by go-client/cmd/ferry-bench:
//
//	ferry-govips -serve
//	    reads "PHOTO [KEEP]" lines on stdin and answers each with the milliseconds of one
//	    thumbnail (fit 400x400, shrink-on-load, JPEG q80), writing it to KEEP when given; the
//	    first line printed is libvips' version. One libvips thread, one call at a time, so its
//	    calls interleave with the other paths' call by call.
//	ferry-govips -sweep 1,2,8 -for 5s PHOTO...
//	    for each concurrency, that many goroutines make thumbnails of the photos round-robin for
//	    the given time; prints one JSON object: per concurrency the images per second and latency
//	    percentiles, and the process's peak RSS (VmHWM) over the whole sweep.
//
// It needs cgo and Debian's libvips-dev (pkg-config vips); ferry-bench reports why the line is
// missing when the build fails.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
)

const box = 400

func main() {
	serve := flag.Bool("serve", false, "answer timing requests on stdin, one photo per line")
	sweep := flag.String("sweep", "", "comma-separated concurrencies to sweep over the photos given as arguments")
	dur := flag.Duration("for", 5*time.Second, "time spent at each concurrency of -sweep")
	flag.Parse()

	vips.LoggingSettings(nil, vips.LogLevelError)
	// One libvips worker thread per operation: concurrency comes from goroutines, as in a Go
	// service, and the one-at-a-time figures are single-threaded like the other paths.
	vips.Startup(&vips.Config{ConcurrencyLevel: 1})
	defer vips.Shutdown()

	var err error
	switch {
	case *serve:
		err = serveTimings()
	case *sweep != "":
		err = runSweep(*sweep, *dur, flag.Args())
	default:
		err = fmt.Errorf("one of -serve or -sweep is required")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry-govips:", err)
		os.Exit(1)
	}
}

// thumbnail is the unit of work of both modes: bytes in memory to JPEG bytes in memory.
func thumbnail(data []byte) ([]byte, error) {
	return thumbnailAs(data, false)
}

// thumbnailAs is thumbnail, or with lossless the same pixels as PNG (the harness's quality
// check against the full decode: no encoder in the figure).
func thumbnailAs(data []byte, lossless bool) ([]byte, error) {
	img, err := vips.NewThumbnailFromBuffer(data, box, box, vips.InterestingNone)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	if lossless {
		out, _, err := img.ExportPng(vips.NewPngExportParams())
		return out, err
	}
	params := vips.NewJpegExportParams()
	params.Quality = 80
	params.StripMetadata = true
	out, _, err := img.ExportJpeg(params)
	return out, err
}

func serveTimings() error {
	fmt.Println(vips.Version)
	cache := map[string][]byte{}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		path, keep, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
		data, ok := cache[path]
		if !ok {
			var err error
			if data, err = os.ReadFile(path); err != nil {
				return err
			}
			cache[path] = data
		}
		start := time.Now()
		// A second word names a file to keep the output in; one ending in .png gets PNG.
		out, err := thumbnailAs(data, strings.HasSuffix(keep, ".png"))
		took := time.Since(start)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if keep != "" {
			if err := os.WriteFile(keep, out, 0o644); err != nil {
				return err
			}
		}
		fmt.Println(strconv.FormatFloat(float64(took.Nanoseconds())/1e6, 'f', 3, 64))
	}
	return in.Err()
}

// level is one concurrency's figures.
type level struct {
	Concurrency  int     `json:"concurrency"`
	Images       int     `json:"images"`
	ImagesPerSec float64 `json:"images_per_sec"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
}

type sweepResult struct {
	Version   string  `json:"version"`
	Levels    []level `json:"levels"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

func runSweep(list string, dur time.Duration, paths []string) error {
	if len(paths) == 0 {
		return fmt.Errorf("-sweep needs photos as arguments")
	}
	photos := make([][]byte, len(paths))
	for i, p := range paths {
		var err error
		if photos[i], err = os.ReadFile(p); err != nil {
			return err
		}
	}
	res := sweepResult{Version: vips.Version}
	for _, word := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(word))
		if err != nil || n < 1 {
			return fmt.Errorf("bad concurrency %q", word)
		}
		l, err := runLevel(n, dur, photos)
		if err != nil {
			return err
		}
		res.Levels = append(res.Levels, l)
	}
	res.PeakRSSMB = peakRSSMB()
	return json.NewEncoder(os.Stdout).Encode(res)
}

func runLevel(n int, dur time.Duration, photos [][]byte) (level, error) {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(dur)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				i := next.Add(1) - 1
				t := time.Now()
				if _, err := thumbnail(photos[int(i)%len(photos)]); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return level{}, firstErr
	}
	elapsed := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e6
	}
	return level{
		Concurrency:  n,
		Images:       len(lat),
		ImagesPerSec: float64(len(lat)) / elapsed.Seconds(),
		P50MS:        pct(0.50),
		P99MS:        pct(0.99),
	}, nil
}

// peakRSSMB is this process's VmHWM: libvips' buffers are C allocations the Go runtime's own
// statistics never see.
func peakRSSMB() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
