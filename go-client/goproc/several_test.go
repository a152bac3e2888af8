package goproc

import (
	"bytes"
	"errors"
	"image"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

var threeOutputs = []ferry.OutputSpec{
	{Width: 400, Height: 400},
	{Width: 120, Height: 120, Mode: ferry.ModeFill, Anchor: ferry.AnchorTop, Format: ferry.FormatWebP, Quality: 70},
	{Width: 64, Height: 40, Mode: ferry.ModeExact, Filter: ferry.FilterBilinear, Format: ferry.FormatPNG},
}

// Each output is exactly what the same box asked alone gives (the Go path decodes at full size
// either way), and the image is decoded once for all of them.
func TestGoOutputsDecodeOnceAndMatchSingleResizes(t *testing.T) {
	p := New()
	for _, photo := range testimages.Photos(t) {
		t.Run(photo.Name, func(t *testing.T) {
			req := ferry.ResizeRequest{Image: photo.Data, KeepMetadata: true, Outputs: threeOutputs}
			before := decodes.Load()
			res, err := p.Resize(bg(t), req)
			if err != nil {
				t.Fatal(err)
			}
			if n := decodes.Load() - before; n != 1 {
				t.Fatalf("%d decodes for %d outputs, want 1", n, len(threeOutputs))
			}
			if len(res.Outputs) != len(threeOutputs) || res.Image != nil {
				t.Fatalf("%d outputs and a %d-byte top-level image", len(res.Outputs), len(res.Image))
			}
			if res.Served != (ferry.Served{Path: ferry.PathGo, Reason: ferry.ReasonDirect}) {
				t.Fatalf("Served = %+v", res.Served)
			}
			before = decodes.Load()
			for i, spec := range threeOutputs {
				alone, err := p.Resize(bg(t), ferry.ResizeRequest{Image: photo.Data, KeepMetadata: true,
					Width: spec.Width, Height: spec.Height, Mode: spec.Mode, Anchor: spec.Anchor,
					Filter: spec.Filter, Format: spec.Format, Quality: spec.Quality})
				if err != nil {
					t.Fatal(err)
				}
				o := res.Outputs[i]
				if o.Width != alone.Width || o.Height != alone.Height || o.Format != alone.Format {
					t.Fatalf("output %d: %dx%d %s, alone %dx%d %s", i, o.Width, o.Height, o.Format, alone.Width, alone.Height, alone.Format)
				}
				if !bytes.Equal(o.Image, alone.Image) {
					t.Fatalf("output %d differs from the same resize alone", i)
				}
				if res.SourceWidth != alone.SourceWidth || res.SourceHeight != alone.SourceHeight || res.SourceFormat != alone.SourceFormat {
					t.Fatalf("source %dx%d %s, alone %dx%d %s", res.SourceWidth, res.SourceHeight, res.SourceFormat,
						alone.SourceWidth, alone.SourceHeight, alone.SourceFormat)
				}
				if _, _, err := image.DecodeConfig(bytes.NewReader(o.Image)); err != nil {
					t.Fatalf("output %d: %v", i, err)
				}
			}
			// The counter sees every decode: one per single resize.
			if n := decodes.Load() - before; n != int64(len(threeOutputs)) {
				t.Fatalf("%d decodes for %d single resizes", n, len(threeOutputs))
			}
		})
	}
}

// The Go path refuses what the daemon refuses, with the daemon's code, before decoding.
func TestGoOutputsRefusals(t *testing.T) {
	p := New()
	photo := testimages.Photos(t)[0].Data
	nine := make([]ferry.OutputSpec, ferry.MaxOutputs+1)
	for i := range nine {
		nine[i] = ferry.OutputSpec{Width: 10}
	}
	cases := []struct {
		name string
		req  ferry.ResizeRequest
		want error
	}{
		{"nine outputs", ferry.ResizeRequest{Image: photo, Outputs: nine}, ferry.ErrInvalidArgument},
		{"outputs and a height", ferry.ResizeRequest{Image: photo, Height: 5, Outputs: threeOutputs}, ferry.ErrInvalidArgument},
		{"an output without a box", ferry.ResizeRequest{Image: photo, Outputs: []ferry.OutputSpec{{Width: 10}, {}}}, ferry.ErrInvalidArgument},
		{"an output in bmp", ferry.ResizeRequest{Image: photo, Outputs: []ferry.OutputSpec{{Width: 10, Format: "bmp"}}}, ferry.ErrInvalidArgument},
		{"an output too wide for webp", ferry.ResizeRequest{Image: photo, Outputs: []ferry.OutputSpec{{Width: 20000, Height: 10, Mode: ferry.ModeExact, Format: ferry.FormatWebP}}}, ferry.ErrInvalidArgument},
		{"not an image", ferry.ResizeRequest{Image: []byte("plain text"), Outputs: threeOutputs}, ferry.ErrBadImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := decodes.Load()
			_, err := p.Resize(bg(t), tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if n := decodes.Load() - before; n != 0 {
				t.Fatalf("a refused request decoded %d times", n)
			}
		})
	}
}
