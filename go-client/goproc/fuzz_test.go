package goproc

import (
	"bytes"
	"context"
	"errors"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/imgdiff"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// FuzzResize feeds arbitrary bytes and arguments to the Go path's resize. Run it with:
//
//	go test -run '^$' -fuzz FuzzResize -fuzztime 20s -fuzzminimizetime 1s ./goproc
//
// (The short minimize time matters: image decoders' first-use paths make inputs look new once,
// and the default minute of minimizing each would take the whole run.)
//
// Every input ends in a thumbnail that decodes to the size the result reports, or in a refusal
// with a code a bad input earns (bad_image, image_too_large, invalid_argument): never a panic
// and never internal, which is what a caught panic in a decoder, scaler or encoder becomes. The
// seeds are the sample photos of tests/data/photos and the painted, corrupt and oversize inputs
// the other tests use, and AVIF and HEIC files and headers. Probe reads the same bytes: it never
// refuses what the resize accepted and reports the same source size and format; with NoEnlarge no
// output is larger than its source. A crash is saved under testdata/fuzz/FuzzResize/ and replays
// as a test.
func FuzzResize(f *testing.F) {
	seeds := append(testimages.Photos(f), testimages.Generated(f)...)
	seeds = append(seeds, testimages.Corrupt(f)...)
	seeds = append(seeds, testimages.Bombs()...)
	var avifSeed bytes.Buffer
	if err := encodeAVIF(&avifSeed, testimages.Painted(48, 32), 60); err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, testimages.Fixture{Name: "painted.avif", Data: avifSeed.Bytes()},
		testimages.Fixture{Name: "header.avif", Data: heifFile("avif", 64, 48, "")},
		testimages.Fixture{Name: "rotated.avif", Data: heifFile("avif", 64, 48, "irot")},
		testimages.Fixture{Name: "cropped.avif", Data: heifFile("avif", 64, 48, "clap")},
		testimages.Fixture{Name: "header.heic", Data: heifFile("heic", 64, 48, "")})
	for i, s := range seeds {
		f.Add(s.Data, uint16(40+i*7), uint16(30+i*5), uint8(i), uint8(i/3))
	}
	// Small limits keep each run fast; the checks are the same at any size.
	p := New(WithLimits(Limits{MaxPixels: 4_000_000, MaxDimension: 4096}), WithConcurrency(1))
	modes := []ferry.Mode{ferry.ModeFit, ferry.ModeFill, ferry.ModeExact, "bogus"}
	formats := []ferry.Format{ferry.FormatJPEG, ferry.FormatPNG, ferry.FormatWebP, ferry.FormatAVIF, ""}
	filters := []ferry.Filter{ferry.FilterLanczos3, ferry.FilterNearest, ferry.FilterBilinear, ferry.FilterCatmullRom}
	// Run every mode, filter and format once first: code that runs only once per process (tables
	// built on first use) would otherwise look like new coverage to the first input that reaches
	// it, and the fuzzer would spend its time minimizing inputs that are not interesting.
	warm := testimages.EncodePNG(f, testimages.Painted(64, 48))
	for _, m := range modes {
		for _, ft := range filters {
			for _, fm := range formats {
				_, _ = p.Resize(context.Background(), ferry.ResizeRequest{Image: warm, Width: 20, Height: 20, Mode: m, Filter: ft, Format: fm})
			}
		}
	}
	f.Fuzz(func(t *testing.T, img []byte, w, h uint16, mode, format uint8) {
		req := ferry.ResizeRequest{
			Image:        img,
			Width:        int(w % 600),
			Height:       int(h % 600),
			Mode:         modes[mode%4],
			Format:       formats[format%5],
			Filter:       filters[(mode/4)%4],
			Anchor:       ferry.AnchorTopRight,
			NoAutoOrient: format&0x10 != 0,
			KeepICC:      format&0x20 != 0,
			KeepMetadata: format&0x40 != 0,
			NoEnlarge:    format&0x80 != 0,
		}
		info, probeErr := p.Probe(context.Background(), ferry.ProbeRequest{Image: img})
		// A context without a deadline runs the job on this goroutine: no scheduling noise in the
		// coverage the fuzzer steers by.
		res, err := p.Resize(context.Background(), req)
		if errors.Is(err, ErrNotOnGoPath) {
			return // HEIC, or AVIF with irot/imir: told from the header, as it should be
		}
		if err != nil {
			var se *ferry.ServerError
			if !errors.As(err, &se) {
				t.Fatalf("error without a code: %v", err)
			}
			switch se.Code {
			case ferry.CodeBadImage, ferry.CodeImageTooLarge, ferry.CodeInvalidArgument:
			default:
				t.Fatalf("refused with %s: %v", se.Code, err)
			}
			return
		}
		if res.Width < 1 || res.Height < 1 || (req.Width > 0 && req.Mode != ferry.ModeFit && !req.NoEnlarge && res.Width != req.Width) {
			t.Fatalf("%dx%d for a %dx%d %s box", res.Width, res.Height, req.Width, req.Height, req.Mode)
		}
		if req.NoEnlarge && (res.Width > res.SourceWidth || res.Height > res.SourceHeight) {
			t.Fatalf("NoEnlarge: %dx%d from %dx%d", res.Width, res.Height, res.SourceWidth, res.SourceHeight)
		}
		if probeErr != nil {
			t.Fatalf("probe refused what the resize accepted: %v", probeErr)
		}
		if info.Format != res.SourceFormat || (!req.NoAutoOrient && (info.Width != res.SourceWidth || info.Height != res.SourceHeight)) {
			t.Fatalf("probe %+v, resize source %dx%d %s", info, res.SourceWidth, res.SourceHeight, res.SourceFormat)
		}
		out, err := imgdiff.Decode(res.Image)
		if err != nil {
			t.Fatalf("the %s output does not decode: %v", res.Format, err)
		}
		if b := out.Bounds(); b.Dx() != res.Width || b.Dy() != res.Height {
			t.Fatalf("output decodes to %v, result says %dx%d", b.Size(), res.Width, res.Height)
		}
	})
}
