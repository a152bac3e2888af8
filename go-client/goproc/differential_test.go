package goproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/imgdiff"
	"github.com/ferryd/ferry/go-client/internal/testclient"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// Differential tests: every sample photo and every generated fixture through the in-process Go
// path and through the real daemon. The paths must agree exactly on checksums, output and
// source dimensions, formats and refusal codes, and look alike: after decoding both outputs (and
// compositing any alpha over white), their PSNR must be at least the threshold of the filter.
//
// The thresholds are set below what was measured (see the t.Logf lines) with a margin for
// encoder differences: libjpeg-turbo vs image/jpeg, and the half-pixel rounding of fill crops. Nearest-neighbour picks can land one source pixel apart
// where the two implementations round a sample position differently, hence its lower bar.
var minPSNR = map[ferry.Filter]float64{
	ferry.FilterLanczos3:   30,
	ferry.FilterCatmullRom: 30,
	ferry.FilterBilinear:   30,
	ferry.FilterNearest:    22,
}

// minWebPPSNR caps the bar for WebP (and AVIF) output: both paths write lossy WebP with libwebp
// at the same quality (38.2 dB apart at the lowest, decoded as libwebp decodes them; 26 to 33 dB
// when the Go path wrote lossless WebP), while the same request as PNG agrees at 44 dB and up.
const minWebPPSNR = 34

// carriesICC reports whether an input embeds an ICC profile. The daemon converts such pixels to
// sRGB with Little CMS and the Go path does not (see the package documentation), so the differential runs them
// with KeepICC on both paths: it compares the resize, not the colour management.
func carriesICC(data []byte) bool {
	return bytes.Contains(data, []byte("ICC_PROFILE\x00")) || bytes.Contains(data, []byte("iCCP"))
}

// psnrBar is the PSNR a request's two outputs must reach.
func psnrBar(f ferry.Filter, format ferry.Format) float64 {
	if format == ferry.FormatWebP || format == ferry.FormatAVIF {
		return min(minPSNR[f], minWebPPSNR)
	}
	return minPSNR[f]
}

// diffCases are the requests each input goes through on both paths.
var diffCases = []ferry.ResizeRequest{
	{Width: 200, Height: 200}, // the defaults: fit, lanczos3, jpeg 80
	{Width: 120, Height: 120, Mode: ferry.ModeFill, Anchor: ferry.AnchorTopLeft, Filter: ferry.FilterCatmullRom, Format: ferry.FormatPNG},
	{Width: 90, Height: 60, Mode: ferry.ModeFill, Anchor: ferry.AnchorBottomRight, Filter: ferry.FilterLanczos3, Format: ferry.FormatPNG},
	{Width: 100, Height: 50, Mode: ferry.ModeExact, Filter: ferry.FilterBilinear, Format: ferry.FormatPNG},
	{Width: 100, Height: 50, Mode: ferry.ModeExact, Filter: ferry.FilterBilinear, Format: ferry.FormatWebP, Quality: 90},
	{Height: 64, Filter: ferry.FilterNearest, Format: ferry.FormatPNG},
	{Width: 300, Height: 300, Filter: ferry.FilterLanczos3, Format: ferry.FormatJPEG, Quality: 95}, // enlarges the fixtures
}

func TestDifferentialResize(t *testing.T) {
	_, rust := testclient.Start(t)
	goPath := New()
	inputs := append(testimages.Photos(t), testimages.Generated(t)...)
	inputs = append(inputs, lossyWebPInputs(t)...) // limited-range YCbCr, opaque and with alpha
	cases := diffCases
	info := rust.ServerInfo()
	// AVIF where the daemon reads and writes it: an input the Go path's encoder made, and an
	// output in every case's place where WebP stands.
	if slices.Contains(info.InputFormats, ferry.FormatAVIF) {
		var b bytes.Buffer
		if err := encodeAVIF(&b, testimages.Painted(160, 100), 90); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, testimages.Fixture{Name: "painted.avif", Data: b.Bytes()})
	} else {
		t.Logf("the daemon does not read AVIF (input_formats %v): no AVIF input compared", info.InputFormats)
	}
	if slices.Contains(info.OutputFormats, ferry.FormatAVIF) {
		cases = append(slices.Clone(cases), ferry.ResizeRequest{Width: 100, Height: 50, Mode: ferry.ModeExact,
			Filter: ferry.FilterBilinear, Format: ferry.FormatAVIF, Quality: 90})
	} else {
		t.Logf("the daemon does not write AVIF (output_formats %v): no AVIF output compared", info.OutputFormats)
	}
	worst := map[ferry.Filter]float64{}
	worstWebP := math.Inf(1)
	for _, in := range inputs {
		for i, c := range cases {
			c.Image = in.Data
			c.KeepICC = carriesICC(in.Data)
			name := fmt.Sprintf("%s/case%d", in.Name, i)
			r, rerr := rust.Resize(bg(t), c)
			g, gerr := goPath.Resize(bg(t), c)
			if rerr != nil || gerr != nil {
				t.Errorf("%s: rust %v, go %v", name, rerr, gerr)
				continue
			}
			if r.Width != g.Width || r.Height != g.Height || r.Format != g.Format {
				t.Errorf("%s: rust %dx%d %s, go %dx%d %s", name, r.Width, r.Height, r.Format, g.Width, g.Height, g.Format)
				continue
			}
			if r.SourceWidth != g.SourceWidth || r.SourceHeight != g.SourceHeight || r.SourceFormat != g.SourceFormat {
				t.Errorf("%s: source rust %dx%d %s, go %dx%d %s", name, r.SourceWidth, r.SourceHeight, r.SourceFormat,
					g.SourceWidth, g.SourceHeight, g.SourceFormat)
			}
			ri, gi := decodeOutput(t, r.Image), decodeOutput(t, g.Image)
			if ri.Bounds().Size() != image.Pt(r.Width, r.Height) || gi.Bounds().Size() != image.Pt(g.Width, g.Height) {
				t.Errorf("%s: decoded sizes rust %v go %v, reported %dx%d", name, ri.Bounds(), gi.Bounds(), r.Width, r.Height)
				continue
			}
			f := c.Filter
			if f == "" {
				f = ferry.FilterLanczos3
			}
			db := imgdiff.PSNR(ri, gi)
			if testing.Verbose() {
				t.Logf("DBG %s %s %s %.1f", name, f, c.Format, db)
			}
			if c.Format == ferry.FormatWebP || c.Format == ferry.FormatAVIF {
				// judged against its own bar (minWebPPSNR); kept apart so the log shows the filters
				worstWebP = min(worstWebP, db)
			} else if w, ok := worst[f]; !ok || db < w {
				worst[f] = db
			}
			if bar := psnrBar(f, c.Format); db < bar {
				t.Errorf("%s (%s, %s): PSNR %.1f dB, want >= %.0f", name, f, c.Format, db, bar)
			}
		}
	}
	t.Logf("%d inputs x %d requests; lowest PSNR per filter: %v; WebP and AVIF output %.1f dB (min %d)",
		len(inputs), len(cases), fmtPSNR(worst), worstWebP, minWebPPSNR)
}

func fmtPSNR(m map[ferry.Filter]float64) string {
	var b bytes.Buffer
	for _, f := range []ferry.Filter{ferry.FilterLanczos3, ferry.FilterCatmullRom, ferry.FilterBilinear, ferry.FilterNearest} {
		if v, ok := m[f]; ok {
			fmt.Fprintf(&b, "%s %.1f dB (min %.0f)  ", f, v, minPSNR[f])
		}
	}
	return b.String()
}

// refusalCode runs a request and returns the code it was refused with, or a description of
// what happened instead.
func refusalCode(err error) string {
	var se *ferry.ServerError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &se):
		return se.Code.String()
	default:
		return "non-server error: " + err.Error()
	}
}

func TestDifferentialRefusals(t *testing.T) {
	_, rust := testclient.Start(t)
	goPath := New()
	type refusal struct {
		name string
		req  ferry.ResizeRequest
		want ferry.Code
	}
	var cases []refusal
	for _, b := range testimages.Bombs() {
		cases = append(cases, refusal{"bomb " + b.Name, ferry.ResizeRequest{Image: b.Data, Width: 100}, ferry.CodeImageTooLarge})
	}
	for _, c := range testimages.Corrupt(t) {
		cases = append(cases, refusal{"corrupt " + c.Name, ferry.ResizeRequest{Image: c.Data, Width: 100}, ferry.CodeBadImage})
	}
	photo := testimages.EncodePNG(t, testimages.Painted(64, 48))
	for name, r := range map[string]ferry.ResizeRequest{
		"fit without box": {},
		"fill one side":   {Width: 10, Mode: ferry.ModeFill},
		"quality 101":     {Width: 10, Quality: 101},
		"unknown mode":    {Width: 10, Mode: "stretch"},
		"unknown anchor":  {Width: 10, Height: 10, Mode: ferry.ModeFill, Anchor: "middle"},
		"unknown filter":  {Width: 10, Filter: "lanczos2"},
		"gif output":      {Width: 10, Format: ferry.FormatGIF},
		"box over max":    {Width: ferry.DefaultMaxDimension + 1},
		"exact too big":   {Width: 32768, Height: 32768, Mode: ferry.ModeExact},
		"webp too wide":   {Width: 20000, Height: 20, Mode: ferry.ModeExact, Format: ferry.FormatWebP},
		"fit over pixels": {Width: 32768, Height: 32768},
	} {
		r.Image = photo
		cases = append(cases, refusal{"argument " + name, r, ferry.CodeInvalidArgument})
	}
	if slices.Contains(rust.ServerInfo().OutputFormats, ferry.FormatAVIF) {
		cases = append(cases, refusal{"argument avif too wide",
			ferry.ResizeRequest{Image: photo, Width: 20000, Height: 20, Mode: ferry.ModeExact, Format: ferry.FormatAVIF},
			ferry.CodeInvalidArgument})
	}
	for _, c := range cases {
		_, rerr := rust.Resize(bg(t), c.req)
		_, gerr := goPath.Resize(bg(t), c.req)
		rc, gc := refusalCode(rerr), refusalCode(gerr)
		if rc != c.want.String() || gc != c.want.String() {
			t.Errorf("%s: rust %s (%v), go %s (%v), want %s for both", c.name, rc, rerr, gc, gerr, c.want)
		}
	}
	for name, algs := range map[string][]ferry.Algorithm{"none": nil, "unknown": {"md5"}, "repeated": {ferry.SHA256, ferry.SHA256}} {
		_, rerr := rust.Checksum(bg(t), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: algs})
		_, gerr := goPath.Checksum(bg(t), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: algs})
		if rc, gc := refusalCode(rerr), refusalCode(gerr); rc != "invalid_argument" || gc != rc {
			t.Errorf("checksum %s: rust %s, go %s", name, rc, gc)
		}
	}
	t.Logf("%d resize refusals and 3 checksum refusals: same code on both paths", len(cases))
}

func TestDifferentialChecksums(t *testing.T) {
	_, rust := testclient.Start(t)
	goPath := New()
	all := []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3}
	inputs := []testimages.Fixture{{Name: "empty"}}
	for _, n := range []int{1, 3, 64, 1023, 1024, 1025, 65536, 1 << 20, 3<<20 + 7} {
		inputs = append(inputs, testimages.Fixture{Name: fmt.Sprintf("painted %d", n), Data: testimages.PaintedBytes(n)})
	}
	inputs = append(inputs, testimages.Photos(t)...)
	for _, in := range inputs {
		r, err := rust.Checksum(bg(t), ferry.ChecksumRequest{Data: in.Data, Algorithms: all})
		if err != nil {
			t.Fatalf("%s: rust: %v", in.Name, err)
		}
		g, err := goPath.Checksum(bg(t), ferry.ChecksumRequest{Data: in.Data, Algorithms: all})
		if err != nil {
			t.Fatalf("%s: go: %v", in.Name, err)
		}
		for _, a := range all {
			if len(r.Digests[a]) == 0 || !bytes.Equal(r.Digests[a], g.Digests[a]) {
				t.Errorf("%s %s: rust %x, go %x", in.Name, a, r.Digests[a], g.Digests[a])
			}
		}
	}
	t.Logf("%d inputs x %d algorithms: byte-identical digests", len(inputs), len(all))
}
