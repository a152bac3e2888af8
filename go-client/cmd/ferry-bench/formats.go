package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"strings"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// The HEIC and AVIF section (issue 22): HEIC and AVIF files made at bench time from corpus
// photos, thumbnailed by ferryd, by libvips (govips in a Go process, pyvips) and by the Go path;
// then AVIF (and lossy WebP) written from the photos themselves by the same paths. Time, output
// bytes and PSNR against the full decode resized with Lanczos3, per input.

const (
	// formatsAVIFQuality is the quality of the AVIF outputs: ferryd's and the Go path's
	// `quality`, libvips heifsave's Q (the same libheif/libavif 0..100 scale).
	formatsAVIFQuality = 60
	// formatsAVIFEffort is libvips heifsave's effort; libvips gives libaom speed 9 - effort, so
	// 1 is speed 8, what ferryd (src/jobs/resize/encode/avif.rs) and the Go path use.
	formatsAVIFEffort = 1
	// formatsWebPQuality is the lossy WebP rows' quality, the harness's JPEG quality.
	formatsWebPQuality = 80
)

// formatsResults is the section's figures; results.json holds it as "formats", and
// -formats-only writes it alone to formats.json.
type formatsResults struct {
	// Missing says why the section was not measured; nothing else is set then.
	Missing     string `json:"missing,omitempty"`
	Encoders    string `json:"encoders"`
	Runs        int    `json:"runs"`    // timed calls per input on ferryd and libvips
	GoRuns      int    `json:"go_runs"` // timed calls per input on the Go path
	AVIFQuality int    `json:"avif_quality"`
	AVIFEffort  int    `json:"avif_effort_libvips"`
	WebPQuality int    `json:"webp_quality"`
	// libvips' versions, or why a libvips path is absent.
	Govips        string `json:"govips_version,omitempty"`
	GovipsMissing string `json:"govips_missing,omitempty"`
	Pyvips        string `json:"pyvips_version,omitempty"`
	// LoadBefore and LoadAfter are /proc/loadavg around the section: other processes' load.
	LoadBefore string        `json:"load_before"`
	LoadAfter  string        `json:"load_after"`
	Elapsed    string        `json:"elapsed"`
	Inputs     []formatInput `json:"inputs"`
	Decode     []decodeRow   `json:"decode"`
	Encode     []encodeRow   `json:"encode"`
	Ratios     []formatRatio `json:"ratios"`
}

// pathFigures is one path's figures on one row.
type pathFigures struct {
	Time dist `json:"time"`
	// CPUMS is the CPU milliseconds per call of the process that did the work (ferryd's from
	// /proc in 10 ms ticks, averaged over the runs; libvips' and the Go path's from getrusage),
	// which shows whether a library ran threads of its own.
	CPUMS  float64 `json:"cpu_ms_per_call"`
	Bytes  int     `json:"bytes"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	// PSNR in dB against the full decode resized with Lanczos3 to this output's size.
	PSNR float64 `json:"psnr_db"`
	// Missing says why this path has no figures on this row (it cannot read the input, it is
	// not built, or the input is not on the Go path).
	Missing string `json:"missing,omitempty"`
}

func (f pathFigures) measured() bool { return f.Missing == "" && f.Time.N > 0 }

// decodeRow is one HEIC or AVIF input made into a 400x400 JPEG q80 thumbnail.
type decodeRow struct {
	Input  formatInput `json:"input"`
	Ferryd pathFigures `json:"ferryd"`
	Govips pathFigures `json:"govips"`
	Pyvips pathFigures `json:"pyvips"`
	Go     pathFigures `json:"go"`
}

// encodeRow is one corpus photo made into a 400x400 thumbnail of Format (AVIF or lossy WebP).
type encodeRow struct {
	Photo   string       `json:"photo"`
	Width   int          `json:"width"`
	Height  int          `json:"height"`
	Format  ferry.Format `json:"format"`
	Quality int          `json:"quality"`
	Ferryd  pathFigures  `json:"ferryd"`
	Govips  pathFigures  `json:"govips"`
	Pyvips  pathFigures  `json:"pyvips"`
	Go      pathFigures  `json:"go"`
	// The same thumbnail as JPEG q80 on ferryd and govips, timed in the same loop (AVIF rows):
	// the AVIF time less this one is what the encoder costs beyond decode and resize.
	FerrydJPEG pathFigures `json:"ferryd_jpeg,omitempty"`
	GovipsJPEG pathFigures `json:"govips_jpeg,omitempty"`
}

// formatsPlan is how many timed calls each path makes per row.
func formatsPlan(short bool) (runs, goRuns int) {
	if short {
		return 1, 1
	}
	return 7, 3
}

// benchFormats measures the section over photos (pickFormatPhotos chooses them). govipsBin is
// the built benches/govips program, "" for none (govipsMissing says why); pyvips is tried unless
// noVips.
func benchFormats(ctx context.Context, d *daemon, photos []photo, short, noVips bool, govipsBin, govipsMissing string, log func(string, ...any)) (*formatsResults, error) {
	start := time.Now()
	fr := &formatsResults{Encoders: encoderSettings(), AVIFQuality: formatsAVIFQuality, AVIFEffort: formatsAVIFEffort,
		WebPQuality: formatsWebPQuality, LoadBefore: loadAverage(), GovipsMissing: govipsMissing}
	fr.Runs, fr.GoRuns = formatsPlan(short)
	if fr.Missing = formatToolsMissing(); fr.Missing != "" {
		return fr, nil
	}
	sources := pickFormatPhotos(photos, short)
	if len(sources) == 0 {
		fr.Missing = "no photo without an ICC profile in the corpus"
		return fr, nil
	}
	dir, err := os.MkdirTemp("", "ff")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	log("HEIC and AVIF: encoding %d photos with heif-enc and avifenc ...", len(sources))
	if fr.Inputs, err = makeFormatInputs(dir, sources); err != nil {
		return nil, err
	}
	// The libvips workers read the photos and the made files by name.
	files := append([]photo(nil), sources...)
	for _, in := range fr.Inputs {
		files = append(files, photo{Name: in.Name, data: in.data})
	}
	quality := []string{fmt.Sprint(formatsAVIFQuality), fmt.Sprint(formatsAVIFEffort)}
	var govips, pyvips *vipsWorker
	if govipsBin != "" {
		if govips = startWorker(newGovipsServe(govipsBin, quality), files); govips == nil {
			fr.GovipsMissing = "the govips process did not start"
		} else {
			defer govips.close()
			fr.Govips = govips.version
		}
	}
	if !noVips {
		if pyvips = startVips(files, quality...); pyvips != nil {
			defer pyvips.close()
			fr.Pyvips = pyvips.version
		}
	}
	m := formatMeasurer{ctx: ctx, d: d, dir: dir, refs: references{}, govips: govips, pyvips: pyvips, runs: fr.Runs, goRuns: fr.GoRuns,
		govipsMissing: fr.GovipsMissing}
	for _, in := range fr.Inputs {
		log("HEIC and AVIF: thumbnails of %s ...", in.Name)
		row, err := m.decode(in)
		if err != nil {
			return nil, err
		}
		fr.Decode = append(fr.Decode, row)
	}
	for _, p := range sources {
		for _, f := range []ferry.Format{ferry.FormatAVIF, ferry.FormatWebP} {
			log("HEIC and AVIF: %s thumbnails of %s ...", f, p.Name)
			row, err := m.encode(p, f)
			if err != nil {
				return nil, err
			}
			fr.Encode = append(fr.Encode, row)
		}
	}
	fr.Ratios = formatRatios(fr)
	fr.LoadAfter = loadAverage()
	fr.Elapsed = time.Since(start).Round(time.Second).String()
	return fr, nil
}

// formatMeasurer holds what every row of the section uses.
type formatMeasurer struct {
	ctx            context.Context
	d              *daemon
	dir            string
	refs           references
	govips, pyvips *vipsWorker
	govipsMissing  string
	runs, goRuns   int
}

// call is one timed call of a path: its wall time, the CPU time of the process that did the
// work, and the output.
type call func() (wall, cpu time.Duration, out []byte, err error)

// contender is a path on a row: how to call it, how many timed calls, where its figures go.
type contender struct {
	fig  *pathFigures
	call call
	runs int
	// judge checks the warm-up's output and returns its size and PSNR (nil: bytes only).
	judge func(out []byte) (w, h int, db float64, err error)
}

// race warms each contender up once (its output is the one judged), then alternates their
// timed calls call by call, so that all of them see the same machine.
func race(cs []contender) error {
	for _, c := range cs {
		_, _, out, err := c.call()
		if err != nil {
			return err
		}
		c.fig.Bytes = len(out)
		if c.judge != nil {
			if c.fig.Width, c.fig.Height, c.fig.PSNR, err = c.judge(out); err != nil {
				return err
			}
		}
	}
	times := make([][]time.Duration, len(cs))
	cpus := make([]time.Duration, len(cs))
	most := 0
	for _, c := range cs {
		most = max(most, c.runs)
	}
	for i := range most {
		for k, c := range cs {
			if i >= c.runs {
				continue
			}
			wall, cpu, _, err := c.call()
			if err != nil {
				return err
			}
			times[k] = append(times[k], wall)
			cpus[k] += cpu
		}
	}
	for k, c := range cs {
		c.fig.Time = summarise(times[k])
		if n := len(times[k]); n > 0 {
			c.fig.CPUMS = ms(cpus[k]) / float64(n)
		}
	}
	return nil
}

// ferrydCall is req on the daemon, its CPU read from /proc around the call.
func (m *formatMeasurer) ferrydCall(req ferry.ResizeRequest) call {
	return func() (time.Duration, time.Duration, []byte, error) {
		c := m.d.cpu()
		t := time.Now()
		r, err := m.d.client.Resize(m.ctx, req)
		wall := time.Since(t)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("ferryd: %w", err)
		}
		return wall, m.d.cpu() - c, r.Image, nil
	}
}

// goCall is req on the in-process Go path.
func (m *formatMeasurer) goCall(req ferry.ResizeRequest) call {
	return func() (time.Duration, time.Duration, []byte, error) {
		c := selfCPU()
		t := time.Now()
		r, err := goPath.Resize(m.ctx, req)
		wall := time.Since(t)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("Go path: %w", err)
		}
		return wall, selfCPU() - c, r.Image, nil
	}
}

// vipsCall is a thumbnail of the named file by a libvips worker, written as ext.
func vipsCall(w *vipsWorker, name, ext string) call {
	return func() (time.Duration, time.Duration, []byte, error) {
		out, wall, cpu, err := w.encode(name, ext)
		return wall, cpu, out, err
	}
}

// judgePNG compares a lossless thumbnail with the reference of full at its size.
func (m *formatMeasurer) judgePNG(name string, full image.Image) func([]byte) (int, int, float64, error) {
	return func(out []byte) (int, int, float64, error) {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(out))
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: a lossless thumbnail that does not decode: %w", name, err)
		}
		return cfg.Width, cfg.Height, psnr(out, m.refs.of(name, full, cfg.Width, cfg.Height)), nil
	}
}

// judgeEncoded reads an AVIF (with avifdec) or WebP (vp8RGB) output back and compares it with
// the reference of full at its size.
func (m *formatMeasurer) judgeEncoded(name string, full image.Image, f ferry.Format) func([]byte) (int, int, float64, error) {
	return func(out []byte) (int, int, float64, error) {
		var pixels []byte
		var err error
		if f == ferry.FormatAVIF {
			pixels, err = decodeAVIF(m.dir, out)
		} else {
			pixels, err = decodeWebP(out)
		}
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		return m.judgePNG(name, full)(pixels)
	}
}

// decode is one HEIC or AVIF input's row: JPEG q80 thumbnails timed, and every path's lossless
// thumbnail (made once, beforehand) judged against the full decode.
func (m *formatMeasurer) decode(in formatInput) (decodeRow, error) {
	row := decodeRow{Input: in}
	req := ferry.ResizeRequest{Image: in.data, Width: 400, Height: 400, Mode: ferry.ModeFit,
		Filter: ferry.FilterLanczos3, Format: ferry.FormatJPEG, Quality: 80}
	lossless := req
	lossless.Format, lossless.KeepICC = ferry.FormatPNG, true

	// The quality check, on lossless outputs, so that no JPEG encoder is in the figure.
	judged := []judgedPath{
		{&row.Ferryd, m.ferrydCall(lossless), m.ferrydCall(req), m.runs, false},
		{&row.Go, m.goCall(lossless), m.goCall(req), m.goRuns, true},
	}
	for _, w := range []struct {
		worker *vipsWorker
		fig    *pathFigures
		why    string
	}{{m.govips, &row.Govips, m.govipsMissing}, {m.pyvips, &row.Pyvips, "pyvips not importable"}} {
		if w.worker == nil {
			w.fig.Missing = w.why
			continue
		}
		judged = append(judged, judgedPath{w.fig, vipsCall(w.worker, in.Name, ".png"), vipsCall(w.worker, in.Name, ".jpg"), m.runs, true})
	}
	var timed []contender
	for _, j := range judged {
		_, _, png, err := j.png()
		if err != nil {
			if !j.optional {
				return row, fmt.Errorf("%s: %w", in.Name, err)
			}
			if j.fig == &row.Go && !errors.Is(err, goproc.ErrNotOnGoPath) {
				return row, fmt.Errorf("%s: %w", in.Name, err)
			}
			j.fig.Missing = whyNot(err)
			continue
		}
		if j.fig.Width, j.fig.Height, j.fig.PSNR, err = m.judgePNG(in.Name, in.full)(png); err != nil {
			return row, err
		}
		timed = append(timed, contender{fig: j.fig, call: j.jpeg, runs: j.runs})
	}
	// race judges nothing here (the PSNR above is the lossless one), and keeps the JPEG's bytes.
	if err := race(timed); err != nil {
		return row, fmt.Errorf("%s: %w", in.Name, err)
	}
	return row, nil
}

// judgedPath is a path on a decode row: its lossless call (judged once), its timed JPEG call.
type judgedPath struct {
	fig       *pathFigures
	png, jpeg call
	runs      int
	optional  bool // a path that may not read this input: its error becomes Missing
}

// whyNot is a path's refusal of an input in a few words.
func whyNot(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	switch {
	case errors.Is(err, goproc.ErrNotOnGoPath):
		// the refusal's last clause says why: "... heic input: no HEVC decoder on the Go path"
		return "not on the Go path: " + msg[strings.LastIndex(msg, ": ")+2:]
	case strings.Contains(msg, "HEVC"):
		return "cannot read HEIC: its libheif has no HEVC decoder"
	}
	return msg
}

// encode is one photo written as a 400x400 thumbnail of format f (AVIF: ferryd, libvips both
// ways, the Go path, and JPEG q80 on ferryd and govips beside them; WebP: ferryd and the Go path).
func (m *formatMeasurer) encode(p photo, f ferry.Format) (encodeRow, error) {
	q := formatsAVIFQuality
	if f == ferry.FormatWebP {
		q = formatsWebPQuality
	}
	row := encodeRow{Photo: p.Name, Width: p.Width, Height: p.Height, Format: f, Quality: q}
	full, _, err := image.Decode(bytes.NewReader(p.data))
	if err != nil {
		return row, fmt.Errorf("%s: %w", p.Name, err)
	}
	req := ferry.ResizeRequest{Image: p.data, Width: 400, Height: 400, Mode: ferry.ModeFit,
		Filter: ferry.FilterLanczos3, Format: f, Quality: q}
	judge := m.judgeEncoded(p.Name, full, f)
	cs := []contender{
		{fig: &row.Ferryd, call: m.ferrydCall(req), runs: m.runs, judge: judge},
		{fig: &row.Go, call: m.goCall(req), runs: m.goRuns, judge: judge},
	}
	if f == ferry.FormatAVIF {
		jpeg := req
		jpeg.Format, jpeg.Quality = ferry.FormatJPEG, 80
		cs = append(cs, contender{fig: &row.FerrydJPEG, call: m.ferrydCall(jpeg), runs: m.runs})
		for _, w := range []struct {
			worker      *vipsWorker
			fig, jpeg   *pathFigures
			why         string
			compareJPEG bool
		}{{m.govips, &row.Govips, &row.GovipsJPEG, m.govipsMissing, true}, {m.pyvips, &row.Pyvips, nil, "pyvips not importable", false}} {
			if w.worker == nil {
				w.fig.Missing = w.why
				if w.jpeg != nil {
					w.jpeg.Missing = w.why
				}
				continue
			}
			cs = append(cs, contender{fig: w.fig, call: vipsCall(w.worker, p.Name, ".avif"), runs: m.runs, judge: judge})
			if w.compareJPEG {
				cs = append(cs, contender{fig: w.jpeg, call: vipsCall(w.worker, p.Name, ".jpg"), runs: m.runs})
			}
		}
	} else {
		row.Govips.Missing, row.Pyvips.Missing = "not measured (WebP is not this section's format)", "not measured (WebP is not this section's format)"
	}
	if err := race(cs); err != nil {
		return row, fmt.Errorf("%s as %s: %w", p.Name, f, err)
	}
	return row, nil
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(raw))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
