package router

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// Requests with several outputs (ferry.ResizeRequest.Outputs) through the router: both paths,
// the fallback with its format rules, and the shadow comparison.

var routedOutputs = []ferry.OutputSpec{
	{Width: 200, Height: 200},
	{Width: 80, Height: 80, Mode: ferry.ModeFill, Format: ferry.FormatWebP},
	{Width: 40, Format: ferry.FormatPNG},
}

// checkRoutedOutputs asserts one decodable output per spec, in the formats given.
func checkRoutedOutputs(t *testing.T, res *ferry.ResizeResult, formats ...ferry.Format) {
	t.Helper()
	if len(res.Outputs) != len(formats) || res.Image != nil {
		t.Fatalf("%d outputs (want %d) and a %d-byte top-level image", len(res.Outputs), len(formats), len(res.Image))
	}
	for i, o := range res.Outputs {
		if o.Format != formats[i] {
			t.Fatalf("output %d is %s, want %s", i, o.Format, formats[i])
		}
		img, err := decodeImage(o.Image)
		if err != nil {
			t.Fatalf("output %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != o.Width || b.Dy() != o.Height {
			t.Fatalf("output %d decodes to %dx%d, result says %dx%d", i, b.Dx(), b.Dy(), o.Width, o.Height)
		}
	}
}

func TestOutputsOnBothPathsAndTheFallback(t *testing.T) {
	d := testdaemon.Start(t)
	r, _ := faultRouter(t, d, BreakerConfig{}, WithPolicy(Policy{Mode: RouteRust}))
	photo := testimages.Photos(t)[0].Data
	req := ferry.ResizeRequest{Image: photo, Outputs: routedOutputs}
	formats := []ferry.Format{ferry.FormatJPEG, ferry.FormatWebP, ferry.FormatPNG}

	res, err := r.Resize(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	checkRoutedOutputs(t, res, formats...)
	if res.Served.Path != ferry.PathRust {
		t.Fatalf("served %s, want the daemon", res.Served)
	}
	rustSizes := res.Outputs

	if err := r.SetPolicy(Policy{Mode: RouteGo}); err != nil {
		t.Fatal(err)
	}
	res, err = r.Resize(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	checkRoutedOutputs(t, res, formats...)
	if res.Served.Path != ferry.PathGo {
		t.Fatalf("served %s, want Go", res.Served)
	}
	for i, o := range res.Outputs {
		if o.Width != rustSizes[i].Width || o.Height != rustSizes[i].Height {
			t.Fatalf("output %d: Go %dx%d, daemon %dx%d", i, o.Width, o.Height, rustSizes[i].Width, rustSizes[i].Height)
		}
	}

	// The daemon gone: the same request falls back to Go.
	if err := r.SetPolicy(Policy{Mode: RouteRust}); err != nil {
		t.Fatal(err)
	}
	d.Kill()
	res, err = r.Resize(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	checkRoutedOutputs(t, res, formats...)
	if res.Served.String() != "go/fallback" {
		t.Fatalf("served %s, want go/fallback", res.Served)
	}
}

func TestOutputsFallbackFormatRules(t *testing.T) {
	photo := testimages.Photos(t)[0].Data
	req := ferry.ResizeRequest{Image: photo, Outputs: routedOutputs}

	rust := newFakeRust()
	rust.setFail(busyDaemon)
	r, _ := newTestRouter(t, rust, WithFallbackFormat(ferry.FormatWebP, ferry.FormatJPEG), WithBusyFallback(), noThrottle)
	res, err := r.Resize(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	// Only the WebP output is converted; the caller's Outputs are left as they were.
	checkRoutedOutputs(t, res, ferry.FormatJPEG, ferry.FormatJPEG, ferry.FormatPNG)
	if !bytes.HasPrefix(res.Outputs[1].Image, []byte{0xFF, 0xD8}) || res.Served.String() != "go/fallback" {
		t.Fatalf("output 1 is not a JPEG from the Go fallback (%s)", res.Served)
	}
	if routedOutputs[1].Format != ferry.FormatWebP {
		t.Fatal("the fallback changed the caller's OutputSpec")
	}

	r, g := newTestRouter(t, rust, WithoutFallback(ferry.FormatPNG), WithBusyFallback(), noThrottle)
	_, err = r.Resize(bg(t), req)
	if !errors.Is(err, ErrFallbackRefused) || !errors.Is(err, ferry.ErrBusy) {
		t.Fatalf("an output in a refused format: %v, want ErrFallbackRefused wrapping busy", err)
	}
	if g.calls.Load() != 0 {
		t.Fatal("a request with a refused output format ran on Go")
	}
}

func TestShadowComparesOutputs(t *testing.T) {
	rust := newFakeRust()
	reports := &collectReports{}
	r, _ := newTestRouter(t, rust, WithPolicy(Policy{Mode: RouteShadow}), WithShadow(ShadowConfig{OnReport: reports.add}))
	photo := testimages.Photos(t)[0].Data
	if _, err := r.Resize(bg(t), ferry.ResizeRequest{Image: photo, Outputs: routedOutputs}); err != nil {
		t.Fatal(err)
	}
	reports.wait(t, 1)
	if rep := reports.all()[0]; rep.Result != "match" || strings.Count(rep.Detail, "PSNR") != len(routedOutputs) {
		t.Fatalf("identical outputs: %+v, want a match over every output", rep)
	}
}
