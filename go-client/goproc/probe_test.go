package goproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testclient"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// animatedGIF is three frames of 40x30, the first interlaced-free with a transparent colour.
func animatedGIF(t testing.TB) []byte {
	t.Helper()
	anim := &gif.GIF{}
	for n := 0; n < 3; n++ {
		frame := image.NewPaletted(image.Rect(0, 0, 40, 30), palette.Plan9)
		for i := range frame.Pix {
			frame.Pix[i] = uint8(n*40 + i%7)
		}
		anim.Image = append(anim.Image, frame)
		anim.Delay = append(anim.Delay, 10)
		anim.Disposal = append(anim.Disposal, gif.DisposalNone)
	}
	var out bytes.Buffer
	if err := gif.EncodeAll(&out, anim); err != nil {
		t.Fatal(err)
	}
	b := out.Bytes()
	// image/gif writes a graphic control extension per frame; set the first one's
	// transparency flag so that alpha is declared.
	if i := bytes.Index(b, []byte{0x21, 0xF9, 0x04}); i >= 0 {
		b[i+3] |= 1
	} else {
		t.Fatal("no graphic control extension")
	}
	return b
}

// probeInputs are the images both paths are probed with: the sample photos, the generated
// fixtures (orientations, alpha, palettes, 16-bit, GIF, WebP), an animated GIF, the bombs and the
// corrupt files.
func probeInputs(t *testing.T) []testimages.Fixture {
	inputs := append(testimages.Photos(t), testimages.Generated(t)...)
	inputs = append(inputs, testimages.Fixture{Name: "animated.gif", Data: animatedGIF(t)})
	inputs = append(inputs, testimages.Bombs()...)
	return append(inputs, testimages.Corrupt(t)...)
}

// TestProbeAgreesWithTheDaemon: every field but Memory (each path's own figure) is the same on
// both paths, and so is every refusal's code.
func TestProbeAgreesWithTheDaemon(t *testing.T) {
	_, rust := testclient.Start(t)
	goPath := New()
	answered, refused := 0, 0
	for _, in := range probeInputs(t) {
		for _, box := range [][2]int{{0, 0}, {400, 400}} {
			name := fmt.Sprintf("%s/%dx%d", in.Name, box[0], box[1])
			req := ferry.ProbeRequest{Image: in.Data, Width: box[0], Height: box[1]}
			r, rerr := rust.Probe(bg(t), req)
			g, gerr := goPath.Probe(bg(t), req)
			if rerr != nil || gerr != nil {
				var rs, gs *ferry.ServerError
				if !errors.As(rerr, &rs) || !errors.As(gerr, &gs) || rs.Code != gs.Code {
					t.Errorf("%s: rust %v, go %v", name, rerr, gerr)
				}
				refused++
				continue
			}
			answered++
			if r.Served.Path != ferry.PathRust || g.Served.Path != ferry.PathGo {
				t.Errorf("%s: served %s and %s", name, r.Served, g.Served)
			}
			if r.Memory <= 0 || g.Memory <= 0 {
				t.Errorf("%s: memory %d and %d", name, r.Memory, g.Memory)
			}
			rr, gg := *r, *g
			rr.Memory, gg.Memory, rr.Served, gg.Served = 0, 0, ferry.Served{}, ferry.Served{}
			if rr != gg {
				t.Errorf("%s:\nrust %+v\n  go %+v", name, rr, gg)
			}
		}
	}
	t.Logf("%d probes answered alike, %d refused alike", answered, refused)
	if answered < 20 || refused < 8 {
		t.Fatalf("only %d answered and %d refused: the fixtures went missing", answered, refused)
	}
}

// TestProbeReadsEachKind checks the Go path's answers against what made the images.
func TestProbeReadsEachKind(t *testing.T) {
	p := New()
	probe := func(data []byte) *ferry.ProbeInfo {
		t.Helper()
		info, err := p.Probe(bg(t), ferry.ProbeRequest{Image: data})
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	upright := testimages.Painted(64, 48)
	turned := probe(testimages.OrientedJPEG(t, 6, upright))
	if turned.Format != ferry.FormatJPEG || turned.Width != 64 || turned.Height != 48 || turned.Orientation != 6 || turned.Alpha {
		t.Errorf("oriented JPEG: %+v", turned)
	}
	alpha := image.NewNRGBA(image.Rect(0, 0, 30, 20))
	alpha.SetNRGBA(3, 3, color.NRGBA{1, 2, 3, 4})
	if got := probe(testimages.EncodePNG(t, alpha)); !got.Alpha || got.Frames != 1 || got.Progressive {
		t.Errorf("RGBA PNG: %+v", got)
	}
	if got := probe(animatedGIF(t)); got.Frames != 3 || !got.Alpha || got.Width != 40 || got.Height != 30 {
		t.Errorf("animated GIF: %+v", got)
	}
	// The memory is this path's formula: stored pixels x 8 + output pixels x 16 + 1 MiB.
	info, err := p.Probe(bg(t), ferry.ProbeRequest{Image: testimages.EncodePNG(t, upright), Width: 32})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(64*48*8 + 32*24*16 + 1<<20); info.Memory != want {
		t.Errorf("memory %d, want %d", info.Memory, want)
	}
	// A box side over max_dimension is refused before the image is read.
	_, err = p.Probe(bg(t), ferry.ProbeRequest{Image: []byte("no image"), Width: ferry.DefaultMaxDimension + 1})
	var se *ferry.ServerError
	if !errors.As(err, &se) || se.Code != ferry.CodeInvalidArgument {
		t.Errorf("oversized box: %v", err)
	}
}

// TestNoEnlargeGeometry: the Go path plans NoEnlarge as SPEC.md 5.3 says, and as the daemon
// does (TestNoEnlargeAgreesWithTheDaemon).
func TestNoEnlargeGeometry(t *testing.T) {
	p := New()
	for _, c := range []struct {
		w, h, bw, bh int
		mode         ferry.Mode
		ow, oh       int
	}{
		{640, 427, 1200, 1200, ferry.ModeFit, 640, 427},
		{640, 427, 400, 400, ferry.ModeFit, 400, 267},
		{640, 427, 0, 500, ferry.ModeFit, 640, 427},
		{640, 427, 1000, 1000, ferry.ModeFill, 427, 427},
		{600, 400, 900, 300, ferry.ModeFill, 600, 200},
		{600, 400, 200, 200, ferry.ModeFill, 200, 200},
		{640, 427, 1000, 100, ferry.ModeExact, 640, 100},
	} {
		rp := resizeParams{width: c.bw, height: c.bh, mode: c.mode, anchor: ferry.AnchorCenter, noEnlarge: true}
		plan, err := p.planResize(c.w, c.h, &rp)
		if err != nil {
			t.Fatal(err)
		}
		if plan.width != c.ow || plan.height != c.oh {
			t.Errorf("%s %dx%d into %dx%d: %dx%d, want %dx%d", c.mode, c.w, c.h, c.bw, c.bh, plan.width, plan.height, c.ow, c.oh)
		}
	}
}

// TestNoEnlargeAgreesWithTheDaemon: the output sizes of NoEnlarge requests are the daemon's,
// single and with Outputs.
func TestNoEnlargeAgreesWithTheDaemon(t *testing.T) {
	_, rust := testclient.Start(t)
	goPath := New()
	small := testimages.EncodePNG(t, testimages.Painted(160, 100))
	reqs := []ferry.ResizeRequest{
		{Image: small, Width: 1200, Height: 1200, NoEnlarge: true},
		{Image: small, Width: 500, Height: 500, Mode: ferry.ModeFill, NoEnlarge: true},
		{Image: small, Width: 300, Height: 50, Mode: ferry.ModeExact, NoEnlarge: true},
		{Image: small, Width: 80, Height: 80, Mode: ferry.ModeFill, NoEnlarge: true},
		{Image: small, Outputs: []ferry.OutputSpec{{Width: 400, NoEnlarge: true}, {Width: 400}, {Width: 50, NoEnlarge: true}}},
	}
	for i, req := range reqs {
		r, err := rust.Resize(bg(t), req)
		if err != nil {
			t.Fatal(err)
		}
		g, err := goPath.Resize(bg(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if r.Width != g.Width || r.Height != g.Height || r.Width > 160 || r.Height > 100 {
			t.Errorf("request %d: rust %dx%d, go %dx%d", i, r.Width, r.Height, g.Width, g.Height)
		}
		for k := range r.Outputs {
			ro, gop := r.Outputs[k], g.Outputs[k]
			if ro.Width != gop.Width || ro.Height != gop.Height {
				t.Errorf("request %d output %d: rust %dx%d, go %dx%d", i, k, ro.Width, ro.Height, gop.Width, gop.Height)
			}
		}
	}
}
