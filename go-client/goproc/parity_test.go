package goproc

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/imgdiff"
	"github.com/ferryd/ferry/go-client/internal/testclient"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// parityBar is how close the Go path's output must be to the daemon's for one output format, on
// the sample photos made into thumbnails: its size within [minRatio, maxRatio] of the daemon's
// (Go bytes / daemon bytes), and the two decoded outputs at least minPSNR apart. Set below
// what was measured (see the t.Logf lines; the CHANGELOG has the figures) with a margin for the
// resamplers' and encoders' differences.
type parityBar struct {
	minRatio, maxRatio float64
	minPSNR            float64
}

var parityBars = map[ferry.Format]parityBar{
	// image/jpeg subsamples chroma at every quality, libjpeg-turbo keeps it from quality 90.
	ferry.FormatJPEG: {0.6, 1.25, 32},
	// Both fast deflate; the filters differ (and the daemon may pick palette or gray).
	ferry.FormatPNG: {0.8, 1.5, 45},
	// The same libwebp, lossy at the same quality and method: before, lossless VP8L, ~11x.
	ferry.FormatWebP: {0.8, 1.25, 35},
	// libaom in both (through libavif here, libheif in the daemon), speed 8, 4:2:0: 0.76x to
	// 1.00x and 40.2 to 44.6 dB against H22's daemon; the 0.76x is rocket.jpg at q90, whose ICC
	// profile the daemon keeps in its AVIF (KeepICC) and the Go path, writing no metadata, not.
	ferry.FormatAVIF: {0.6, 1.25, 35},
}

// parityRequests are the thumbnails each photo is made into, per format: the default quality and
// a high one.
var parityRequests = []ferry.ResizeRequest{
	{Width: 400, Height: 400},
	{Width: 800, Height: 800, Quality: 90},
}

// TestParityWithDaemon: for each output format both paths write, the Go path's thumbnails of the
// sample photos are within parityBars of the daemon's in size and PSNR. Formats the daemon does
// not write (its hello's output_formats) are skipped by name, loudly.
func TestParityWithDaemon(t *testing.T) {
	_, rust := testclient.Start(t)
	goPath := New()
	served := rust.ServerInfo().OutputFormats
	for _, format := range []ferry.Format{ferry.FormatJPEG, ferry.FormatPNG, ferry.FormatWebP, ferry.FormatAVIF} {
		t.Run(string(format), func(t *testing.T) {
			if !slices.Contains(served, format) {
				t.Skipf("the daemon does not write %s (its output_formats: %v): no parity to measure", format, served)
			}
			bar := parityBars[format]
			var rustBytes, goBytes int
			var lines []string
			for _, photo := range testimages.Photos(t) {
				for _, req := range parityRequests {
					req.Image, req.Format = photo.Data, format
					req.KeepICC = carriesICC(photo.Data) // compares the codecs, not colour management
					name := fmt.Sprintf("%s %dx%d q%d", photo.Name, req.Width, req.Height, req.Quality)
					r, err := rust.Resize(bg(t), req)
					if err != nil {
						t.Fatalf("%s: daemon: %v", name, err)
					}
					g, err := goPath.Resize(bg(t), req)
					if err != nil {
						t.Fatalf("%s: go: %v", name, err)
					}
					if r.Width != g.Width || r.Height != g.Height || g.Format != format {
						t.Fatalf("%s: daemon %dx%d %s, go %dx%d %s", name, r.Width, r.Height, r.Format, g.Width, g.Height, g.Format)
					}
					ratio := float64(len(g.Image)) / float64(len(r.Image))
					db := imgdiff.PSNR(decodeOutput(t, r.Image), decodeOutput(t, g.Image))
					rustBytes += len(r.Image)
					goBytes += len(g.Image)
					lines = append(lines, fmt.Sprintf("%s: daemon %d B, go %d B (%.2fx), %.1f dB", name, len(r.Image), len(g.Image), ratio, db))
					if ratio < bar.minRatio || ratio > bar.maxRatio {
						t.Errorf("%s: go %d B against the daemon's %d B: %.2fx, want %.2f..%.2f", name, len(g.Image), len(r.Image), ratio, bar.minRatio, bar.maxRatio)
					}
					if db < bar.minPSNR {
						t.Errorf("%s: PSNR %.1f dB between the paths, want >= %.0f", name, db, bar.minPSNR)
					}
				}
			}
			t.Logf("%s: go/daemon bytes %.2fx in all (%d / %d)\n  %s", format, float64(goBytes)/float64(rustBytes),
				goBytes, rustBytes, strings.Join(lines, "\n  "))
		})
	}
}

// lossyWebPInputs are the sample photos as lossy WebP at quality 90 (libwebp, the Go path's
// encoder), each opaque (VP8) and with an alpha ramp (VP8X + ALPH + VP8): the inputs whose
// limited-range YCbCr the Go path must read as libwebp does.
func lossyWebPInputs(t testing.TB) []testimages.Fixture {
	t.Helper()
	var out []testimages.Fixture
	for _, photo := range testimages.Photos(t) {
		img := decodeOutput(t, photo.Data)
		b := img.Bounds()
		out = append(out,
			testimages.Fixture{Name: photo.Name + ".q90.webp", Data: lossyWebP(t, img, 90)},
			testimages.Fixture{Name: photo.Name + ".alpha.q90.webp", Data: lossyWebP(t, withAlphaRamp(img, b.Dx(), b.Dy()), 90)})
	}
	return out
}

// minLossyWebPInputPSNR is how close the two paths' PNG thumbnails of a lossy WebP must be. The
// paths measured 50.9 to 71.3 dB apart (the alpha ones lowest: premultiplied rounding); reading
// the WebPs' YCbCr as full range, as the Go path did before, 27.2 to 29.9 dB opaque and 31.3 to
// 34.6 with alpha (which is composited over white before the comparison).
const minLossyWebPInputPSNR = 40

// TestParityLossyWebPInput: the Go path reads lossy WebP, opaque and with alpha, in the colours
// libwebp (and the daemon's decoder) give it: a thumbnail and a same-size copy of each, as PNG,
// at least minLossyWebPInputPSNR from the daemon's.
func TestParityLossyWebPInput(t *testing.T) {
	_, rust := testclient.Start(t)
	goPath := New()
	var lines []string
	worst := math.Inf(1)
	for _, in := range lossyWebPInputs(t) {
		src := decodeOutput(t, in.Data).Bounds()
		for _, req := range []ferry.ResizeRequest{
			{Width: 400, Height: 400, Format: ferry.FormatPNG},
			{Width: src.Dx(), Height: src.Dy(), Format: ferry.FormatPNG},
		} {
			req.Image = in.Data
			name := fmt.Sprintf("%s into %dx%d", in.Name, req.Width, req.Height)
			r, err := rust.Resize(bg(t), req)
			if err != nil {
				t.Fatalf("%s: daemon: %v", name, err)
			}
			g, err := goPath.Resize(bg(t), req)
			if err != nil {
				t.Fatalf("%s: go: %v", name, err)
			}
			if r.Width != g.Width || r.Height != g.Height {
				t.Fatalf("%s: daemon %dx%d, go %dx%d", name, r.Width, r.Height, g.Width, g.Height)
			}
			db := imgdiff.PSNR(decodeOutput(t, r.Image), decodeOutput(t, g.Image))
			worst = min(worst, db)
			lines = append(lines, fmt.Sprintf("%s: %.1f dB", name, db))
			if db < minLossyWebPInputPSNR {
				t.Errorf("%s: PSNR %.1f dB between the paths, want >= %d", name, db, minLossyWebPInputPSNR)
			}
		}
	}
	t.Logf("lossy WebP input, lowest %.1f dB (min %d)\n  %s", worst, minLossyWebPInputPSNR, strings.Join(lines, "\n  "))
}
