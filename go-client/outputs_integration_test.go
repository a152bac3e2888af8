package ferry_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// Several outputs from one decode (SPEC.md 5.3.1) against the real daemon.

// threeOutputs are the outputs the tests ask for: three formats, three modes.
var threeOutputs = []ferry.OutputSpec{
	{Width: 400, Height: 400},
	{Width: 120, Height: 120, Mode: ferry.ModeFill, Anchor: ferry.AnchorTop, Format: ferry.FormatWebP, Quality: 70},
	{Width: 64, Height: 40, Mode: ferry.ModeExact, Filter: ferry.FilterBilinear, Format: ferry.FormatPNG},
}

// checkOutputs asserts that res holds one decodable output per spec, of the size the spec's
// geometry gives for a w x h source and in the spec's format.
func checkOutputs(t *testing.T, res *ferry.ResizeResult, specs []ferry.OutputSpec, w, h int) {
	t.Helper()
	if res.Image != nil || res.Width != 0 || res.Height != 0 || res.Format != "" {
		t.Fatalf("a result with outputs has top-level image fields: %dx%d %q, %d bytes", res.Width, res.Height, res.Format, len(res.Image))
	}
	if len(res.Outputs) != len(specs) {
		t.Fatalf("%d outputs, want %d", len(res.Outputs), len(specs))
	}
	if res.SourceWidth != w || res.SourceHeight != h {
		t.Fatalf("source %dx%d, want %dx%d", res.SourceWidth, res.SourceHeight, w, h)
	}
	for i, spec := range specs {
		o := res.Outputs[i]
		wantW, wantH := spec.Width, spec.Height
		if spec.Mode == "" || spec.Mode == ferry.ModeFit {
			wantW, wantH = fitSize(w, h, spec.Width, spec.Height)
		}
		wantFormat := spec.Format
		if wantFormat == "" {
			wantFormat = ferry.FormatJPEG
		}
		if o.Width != wantW || o.Height != wantH || o.Format != wantFormat {
			t.Fatalf("output %d: %dx%d %s, want %dx%d %s", i, o.Width, o.Height, o.Format, wantW, wantH, wantFormat)
		}
		img, name, err := image.Decode(bytes.NewReader(o.Image))
		if err != nil {
			t.Fatalf("output %d does not decode: %v", i, err)
		}
		if ferry.Format(name) != wantFormat {
			t.Fatalf("output %d is a %s file, want %s", i, name, wantFormat)
		}
		if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
			t.Fatalf("output %d decodes to %dx%d, want %dx%d", i, b.Dx(), b.Dy(), wantW, wantH)
		}
	}
}

func TestResizeOutputs(t *testing.T) {
	_, c := startDaemon(t)
	if got := c.ServerInfo().MaxOutputs; got != ferry.MaxOutputs {
		t.Fatalf("ServerInfo().MaxOutputs = %d, want %d", got, ferry.MaxOutputs)
	}
	for _, p := range loadPhotos(t) {
		t.Run(p.name, func(t *testing.T) {
			res, err := c.Resize(ctxFor(t, 10*time.Second), ferry.ResizeRequest{Image: p.data, Outputs: threeOutputs})
			if err != nil {
				t.Fatal(err)
			}
			checkOutputs(t, res, threeOutputs, p.w, p.h)
			if res.Served != (ferry.Served{Path: ferry.PathRust, Reason: ferry.ReasonDirect}) {
				t.Fatalf("Served = %+v", res.Served)
			}
		})
	}
}

func TestResizeOutputsErrors(t *testing.T) {
	_, c := startDaemon(t)
	photo := loadPhotos(t)[0].data
	nine := make([]ferry.OutputSpec, ferry.MaxOutputs+1)
	for i := range nine {
		nine[i] = ferry.OutputSpec{Width: 10 + i}
	}
	cases := []struct {
		name string
		req  ferry.ResizeRequest
		want error
	}{
		{"nine outputs", ferry.ResizeRequest{Image: photo, Outputs: nine}, ferry.ErrInvalidArgument},
		{"outputs and a width", ferry.ResizeRequest{Image: photo, Width: 10, Outputs: threeOutputs}, ferry.ErrInvalidArgument},
		{"outputs and a format", ferry.ResizeRequest{Image: photo, Format: ferry.FormatPNG, Outputs: threeOutputs}, ferry.ErrInvalidArgument},
		{"an output in bmp", ferry.ResizeRequest{Image: photo, Outputs: []ferry.OutputSpec{{Width: 10}, {Width: 10, Format: "bmp"}}}, ferry.ErrInvalidArgument},
		{"an output without a box", ferry.ResizeRequest{Image: photo, Outputs: []ferry.OutputSpec{{Width: 10}, {}}}, ferry.ErrInvalidArgument},
		{"an output too wide for webp", ferry.ResizeRequest{Image: photo, Outputs: []ferry.OutputSpec{{Width: 20000, Height: 10, Mode: ferry.ModeExact, Format: ferry.FormatWebP}}}, ferry.ErrInvalidArgument},
		{"a truncated image", ferry.ResizeRequest{Image: photo[:len(photo)/3], Outputs: threeOutputs}, ferry.ErrBadImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Resize(ctxFor(t, 10*time.Second), tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var se *ferry.ServerError
			if !errors.As(err, &se) || se.Message == "" {
				t.Fatalf("err = %#v, want a *ServerError with a message", err)
			}
		})
	}
	if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// Every count from 1 to MaxOutputs comes back in request order (the sizes tell them apart).
func TestResizeOutputsOrder(t *testing.T) {
	_, c := startDaemon(t)
	p := loadPhotos(t)[0]
	for n := 1; n <= ferry.MaxOutputs; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			specs := make([]ferry.OutputSpec, n)
			for i := range specs {
				specs[i] = ferry.OutputSpec{Width: 40 + 50*((i*3)%n)}
			}
			res, err := c.Resize(ctxFor(t, 10*time.Second), ferry.ResizeRequest{Image: p.data, Outputs: specs})
			if err != nil {
				t.Fatal(err)
			}
			checkOutputs(t, res, specs, p.w, p.h)
		})
	}
}
