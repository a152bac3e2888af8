// Command ferry-thumbs makes a thumbnail of every photo in a directory through a router.Router
// (the ferryd daemon, with the in-process Go path as fallback and kill switch) and prints, per
// photo: input size, output size, milliseconds, output bytes and which path served it and why.
//
//	ferry-thumbs -socket /tmp/ferry.sock -in photos/ -out thumbs/ -width 400 -height 400
//	ferry-thumbs -route go ...            the kill switch: every photo on the Go path
//	FERRY_ROUTE=percentage:50 ferry-thumbs ...   half of the photos (by name) to the daemon
//	ferry-thumbs -sizes 1600,800,200 -by-file ...  three sizes from one request per photo, the
//	                                      photo passed to ferryd by descriptor, not by bytes
//
// The daemon may be down: the Router then serves every photo on Go and says so.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/router"
)

// options are the command line.
type options struct {
	socket        string
	in, out       string
	width, height int
	mode          string
	format        string
	quality       int
	concurrency   int
	timeout       time.Duration
	route         string
	// sizes, when set, asks for one output per box side (fit, the same format) in one request;
	// byFile passes each photo's open file instead of its bytes.
	sizes  []int
	byFile bool
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.socket, "socket", "/run/ferry/ferryd.sock", "ferryd's Unix socket")
	flag.StringVar(&o.in, "in", "", "directory of photos (jpeg, png, webp, gif)")
	flag.StringVar(&o.out, "out", "thumbs", "directory for the thumbnails (created if missing)")
	flag.IntVar(&o.width, "width", 400, "box width in pixels (0: unconstrained, fit only)")
	flag.IntVar(&o.height, "height", 400, "box height in pixels (0: unconstrained, fit only)")
	flag.StringVar(&o.mode, "mode", string(ferry.ModeFit), "fit, fill or exact")
	flag.StringVar(&o.format, "format", string(ferry.FormatJPEG), "output format: jpeg, png or webp")
	flag.IntVar(&o.quality, "quality", ferry.DefaultQuality, "JPEG/WebP quality, 1..100")
	flag.IntVar(&o.concurrency, "concurrency", 4, "photos in flight at once")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "time budget per photo")
	flag.StringVar(&o.route, "route", "", "routing policy: rust, go, percentage:N or shadow (empty: $FERRY_ROUTE, else rust)")
	flag.Func("sizes", "comma-separated box sides: several outputs from one decode per photo (instead of -width/-height)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("%q is not a box side", f)
			}
			o.sizes = append(o.sizes, n)
		}
		return nil
	})
	flag.BoolVar(&o.byFile, "by-file", false, "pass each photo's open file to ferryd (SCM_RIGHTS) instead of its bytes")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: ferry-thumbs -in DIR [-out DIR] [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	if o.in == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-thumbs:", err)
		os.Exit(1)
	}
}

// newProcessor is the one place that decides which implementation makes the thumbnails; the rest
// of the command sees only ferry.Processor. The client dials lazily so that a daemon that is down
// means Go fallback, not a worker that refuses to start.
func newProcessor(o options) (ferry.Processor, func() error, error) {
	c, err := ferry.Dial(context.Background(), o.socket, ferry.WithLazyConnect())
	if err != nil {
		return nil, nil, err
	}
	r, err := router.New(c, nil, router.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err == nil && o.route != "" {
		// the flag wins over FERRY_ROUTE, which router.New reads
		var p router.Policy
		if p, err = router.ParsePolicy(o.route); err == nil {
			err = r.SetPolicy(p)
		}
		if err != nil {
			r.Close()
			err = fmt.Errorf("-route: %w", err)
		}
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	fmt.Printf("routing policy: %s\n", r.Policy())
	return r, func() error { r.Close(); return c.Close() }, nil
}

// outcome is what happened to one photo.
type outcome struct {
	name    string
	res     *ferry.ResizeResult
	elapsed time.Duration
	err     error
}

func run(ctx context.Context, o options) error {
	names, err := photos(o.in)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no photos in %s", o.in)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	proc, closeProc, err := newProcessor(o)
	if err != nil {
		return err
	}
	defer closeProc()

	start := time.Now()
	outcomes := make([]outcome, len(names))
	sem := make(chan struct{}, max(1, o.concurrency))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outcomes[i] = thumbnail(ctx, proc, o, name)
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	return report(os.Stdout, outcomes, wall)
}

// thumbnail reads one photo (or opens it, with -by-file), resizes it and writes the result.
func thumbnail(ctx context.Context, proc ferry.Processor, o options, name string) outcome {
	req := ferry.ResizeRequest{Width: o.width, Height: o.height, Mode: ferry.Mode(o.mode),
		Format: ferry.Format(o.format), Quality: o.quality, Key: name}
	path := filepath.Join(o.in, name)
	if o.byFile {
		f, err := os.Open(path)
		if err != nil {
			return outcome{name: name, err: err}
		}
		defer f.Close()
		req.File = f
	} else {
		data, err := os.ReadFile(path)
		if err != nil {
			return outcome{name: name, err: err}
		}
		req.Image = data
	}
	if len(o.sizes) > 0 {
		req.Width, req.Height, req.Mode, req.Format, req.Quality = 0, 0, "", "", 0
		for _, side := range o.sizes {
			req.Outputs = append(req.Outputs, ferry.OutputSpec{Width: side, Height: side,
				Mode: ferry.Mode(o.mode), Format: ferry.Format(o.format), Quality: o.quality})
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := time.Now()
	res, err := proc.Resize(ctx, req)
	elapsed := time.Since(start)
	if err != nil {
		return outcome{name: name, elapsed: elapsed, err: err}
	}
	base := strings.TrimSuffix(name, filepath.Ext(name))
	outs := res.Outputs
	if len(outs) == 0 {
		outs = []ferry.Output{{Image: res.Image, Width: res.Width, Height: res.Height, Format: res.Format}}
	}
	for i, out := range outs {
		file := base + extension(out.Format)
		if len(res.Outputs) > 0 {
			file = fmt.Sprintf("%s-%d%s", base, o.sizes[i], extension(out.Format))
		}
		if err := os.WriteFile(filepath.Join(o.out, file), out.Image, 0o644); err != nil {
			return outcome{name: name, elapsed: elapsed, err: err}
		}
	}
	return outcome{name: name, res: res, elapsed: elapsed}
}

// report prints one line per photo in directory order, then a summary. It returns an error when
// any photo failed.
func report(w *os.File, outcomes []outcome, wall time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "photo\tinput\toutput\tms\tbytes\tserved\t")
	failed := 0
	var sum time.Duration
	for _, r := range outcomes {
		ms := float64(r.elapsed.Microseconds()) / 1000
		sum += r.elapsed
		if r.err != nil {
			failed++
			fmt.Fprintf(tw, "%s\t-\t-\t%.1f\t-\terror: %v\t\n", r.name, ms, r.err)
			continue
		}
		size, n := fmt.Sprintf("%dx%d", r.res.Width, r.res.Height), len(r.res.Image)
		if len(r.res.Outputs) > 0 {
			sizes := make([]string, len(r.res.Outputs))
			n = 0
			for i, out := range r.res.Outputs {
				sizes[i], n = fmt.Sprintf("%dx%d", out.Width, out.Height), n+len(out.Image)
			}
			size = strings.Join(sizes, ",")
		}
		fmt.Fprintf(tw, "%s\t%dx%d\t%s\t%.1f\t%d\t%s/%s\t\n", r.name, r.res.SourceWidth, r.res.SourceHeight,
			size, ms, n, r.res.Served.Path, r.res.Served.Reason)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d photos, %d failed; %.1f ms summed per photo, %.1f ms wall\n",
		len(outcomes), failed, float64(sum.Microseconds())/1000, float64(wall.Microseconds())/1000)
	if failed > 0 {
		return errors.New("some photos failed")
	}
	return nil
}

// photos lists the image files of dir by extension, sorted.
func photos(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".webp", ".gif":
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func extension(f ferry.Format) string {
	if f == ferry.FormatJPEG {
		return ".jpg"
	}
	return "." + string(f)
}
