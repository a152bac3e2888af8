package ferry_test

import (
	"errors"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// Probe (SPEC.md 5.8) and NoEnlarge (5.3) against the real daemon.

func TestProbePhotos(t *testing.T) {
	_, c := startDaemon(t)
	for _, p := range loadPhotos(t) {
		info, err := c.Probe(ctxFor(t, 5*time.Second), ferry.ProbeRequest{Image: p.data, Width: 400, Height: 400})
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		// The sample photos carry no orientation: the decoded size is the upright one.
		if info.Width != p.w || info.Height != p.h || info.Orientation != 1 || info.Frames != 1 {
			t.Errorf("%s: %+v, decoded %dx%d", p.name, info, p.w, p.h)
		}
		if info.Served != (ferry.Served{Path: ferry.PathRust, Reason: ferry.ReasonDirect}) || info.Memory <= 0 {
			t.Errorf("%s: served %s, memory %d", p.name, info.Served, info.Memory)
		}
		// The estimate grows with the box it is for.
		whole, err := c.Probe(ctxFor(t, 5*time.Second), ferry.ProbeRequest{Image: p.data})
		if err != nil {
			t.Fatal(err)
		}
		if whole.Memory < info.Memory {
			t.Errorf("%s: memory for its own size %d < for a 400 box %d", p.name, whole.Memory, info.Memory)
		}
	}
	_, err := c.Probe(ctxFor(t, 5*time.Second), ferry.ProbeRequest{Image: []byte("hello, world")})
	var se *ferry.ServerError
	if !errors.As(err, &se) || se.Code != ferry.CodeBadImage {
		t.Fatalf("probe of no image: %v", err)
	}
}

func TestNoEnlarge(t *testing.T) {
	_, c := startDaemon(t)
	p := loadPhotos(t)[0] // rocket.jpg
	big := 4 * max(p.w, p.h)
	enlarged, err := c.Resize(ctxFor(t, 10*time.Second), ferry.ResizeRequest{Image: p.data, Width: big, Height: big})
	if err != nil {
		t.Fatal(err)
	}
	if enlarged.Width <= p.w {
		t.Fatalf("the default should enlarge %dx%d into %d: got %dx%d", p.w, p.h, big, enlarged.Width, enlarged.Height)
	}
	kept, err := c.Resize(ctxFor(t, 10*time.Second), ferry.ResizeRequest{Image: p.data, Width: big, Height: big, NoEnlarge: true})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Width != p.w || kept.Height != p.h {
		t.Fatalf("NoEnlarge fit: %dx%d, want the input's %dx%d", kept.Width, kept.Height, p.w, p.h)
	}
	// Outputs with a top-level NoEnlarge are refused like any top-level box field.
	_, err = c.Resize(ctxFor(t, 5*time.Second), ferry.ResizeRequest{Image: p.data, NoEnlarge: true, Outputs: []ferry.OutputSpec{{Width: 10}}})
	var se *ferry.ServerError
	if !errors.As(err, &se) || se.Code != ferry.CodeInvalidArgument {
		t.Fatalf("NoEnlarge beside Outputs: %v", err)
	}
}
