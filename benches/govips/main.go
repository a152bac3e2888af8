// Command ferry-govips is the bench harness's libvips-in-process path: what a Go team gets by
// calling libvips through cgo (github.com/davidbyttow/govips) instead of running ferryd beside
// the service. It is its own module so that neither cgo nor libvips reaches the client's module.
//
// Two modes, both driven by go-client/cmd/ferry-bench:
//
//	ferry-govips -serve [-avif-quality 60 -avif-effort 1]
//	    reads "PHOTO [KEEP]" lines on stdin and answers each with the milliseconds of one
//	    thumbnail (fit 400x400, shrink-on-load, JPEG q80) and the process's CPU milliseconds
//	    over it, writing it to KEEP when given (as lossless PNG when KEEP ends in .png, as AVIF
//	    by heifsave at -avif-quality and -avif-effort when it ends in .avif); a failed call
//	    answers "ERR message". The first line printed is libvips' version. One libvips thread,
//	    one call at a time, so its calls interleave with the other paths' call by call. PHOTO
//	    may be any format libvips reads: HEIC and AVIF through libheif.
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
	"syscall"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
)

const box = 400

func main() {
	serve := flag.Bool("serve", false, "answer timing requests on stdin, one photo per line")
	sweep := flag.String("sweep", "", "comma-separated concurrencies to sweep over the photos given as arguments")
	dur := flag.Duration("for", 5*time.Second, "time spent at each concurrency of -sweep")
	flag.IntVar(&avifQuality, "avif-quality", 60, "-serve: heifsave's Q for AVIF output (KEEP ending in .avif)")
	flag.IntVar(&avifEffort, "avif-effort", 1, "-serve: heifsave's effort for AVIF output, 0..9; libaom's speed is 9 - effort")
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
	return thumbnailAs(data, jpegQ80)
}

// avifQuality and avifEffort are heifsave's settings for AVIF output in -serve.
var avifQuality, avifEffort int

// output is what a -serve request asks the thumbnail to be written as.
type output int

const (
	jpegQ80  output = iota
	lossless        // PNG: the harness's quality check against the full decode, no encoder in the figure
	avifOut         // AVIF (AV1 in HEIF) at avifQuality and avifEffort
)

// outputFor reads the kind of output from the KEEP file's name.
func outputFor(keep string) output {
	switch {
	case strings.HasSuffix(keep, ".png"):
		return lossless
	case strings.HasSuffix(keep, ".avif"):
		return avifOut
	}
	return jpegQ80
}

// thumbnailAs is thumbnail written as kind.
func thumbnailAs(data []byte, kind output) ([]byte, error) {
	img, err := vips.NewThumbnailFromBuffer(data, box, box, vips.InterestingNone)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	switch kind {
	case lossless:
		out, _, err := img.ExportPng(vips.NewPngExportParams())
		return out, err
	case avifOut:
		params := vips.NewAvifExportParams()
		params.Quality, params.Effort, params.Bitdepth, params.StripMetadata = avifQuality, avifEffort, 8, true
		out, _, err := img.ExportAvif(params)
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
		took, cpu, err := serveOne(cache, path, keep)
		if err != nil {
			// One answer per line whatever happens: the harness asks what libvips can read
			// (HEIC needs an HEVC decoder in its libheif) and goes on.
			fmt.Println("ERR", strings.Join(strings.Fields(err.Error()), " "))
			continue
		}
		fmt.Println(strconv.FormatFloat(float64(took.Nanoseconds())/1e6, 'f', 3, 64), strconv.FormatFloat(float64(cpu.Nanoseconds())/1e6, 'f', 3, 64))
	}
	return in.Err()
}

// serveOne makes one thumbnail of the photo at path, written as KEEP's name asks, and returns
// its wall time and this process's CPU time over it (libheif's encoder may run threads of its own).
func serveOne(cache map[string][]byte, path, keep string) (took, cpu time.Duration, err error) {
	data, ok := cache[path]
	if !ok {
		if data, err = os.ReadFile(path); err != nil {
			return 0, 0, err
		}
		cache[path] = data
	}
	c := processCPU()
	start := time.Now()
	out, err := thumbnailAs(data, outputFor(keep))
	took, cpu = time.Since(start), processCPU()-c
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if keep != "" {
		if err := os.WriteFile(keep, out, 0o644); err != nil {
			return 0, 0, err
		}
	}
	return took, cpu, nil
}

// processCPU is this process's user and system time so far, every thread included.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
