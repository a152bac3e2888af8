package router

import (
	"errors"
	"slices"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// Probe through the router against the real daemon: the path each policy picks, recorded in
// Served, the same header read on both, and the fallback when the daemon is gone.
func TestProbeRoutesLikeACheapOp(t *testing.T) {
	d := testdaemon.Start(t)
	r, _ := faultRouter(t, d, BreakerConfig{}, WithPolicy(Policy{Mode: RouteAuto}))
	photo := testimages.Photos(t)[0].Data
	req := ferry.ProbeRequest{Image: photo, Width: 400, Height: 400}
	probe := func(mode RouteMode) *ferry.ProbeInfo {
		t.Helper()
		if err := r.SetPolicy(Policy{Mode: mode}); err != nil {
			t.Fatal(err)
		}
		info, err := r.Probe(bg(t), req)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		return info
	}
	auto := probe(RouteAuto)
	if auto.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonCost}) {
		t.Errorf("auto: served %s, want go/cost", auto.Served)
	}
	rust := probe(RouteRust)
	if rust.Served != (ferry.Served{Path: ferry.PathRust, Reason: ReasonPolicy}) {
		t.Errorf("rust: served %s, want rust/policy", rust.Served)
	}
	if ok, diff := compareProbes(auto, rust); !ok {
		t.Errorf("the paths read the header differently: %s", diff)
	}
	if killed := probe(RouteGo); killed.Served.Path != ferry.PathGo {
		t.Errorf("kill switch: served %s", killed.Served)
	}
	// The daemon gone: the Go path answers.
	d.Kill()
	fallback := probe(RouteRust)
	if fallback.Served.Path != ferry.PathGo {
		t.Errorf("daemon gone: served %s", fallback.Served)
	}
	// A probe refused for its input is not retried on the other path: the same code comes back.
	_, err := r.Probe(bg(t), ferry.ProbeRequest{Image: []byte("no image")})
	if !isCode(err, ferry.CodeBadImage) {
		t.Errorf("probe of no image: %v", err)
	}
}

// TestProbeNeedsAProber: a Processor that reads no headers answers unknown_op, not a panic.
func TestProbeNeedsAProber(t *testing.T) {
	r, err := New(onlyProcessor{goproc.New()}, onlyProcessor{goproc.New()}, WithLogger(quietLog), WithPolicy(Policy{Mode: RouteGo}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Probe(bg(t), ferry.ProbeRequest{Image: []byte("x")})
	if !isCode(err, ferry.CodeUnknownOp) {
		t.Fatalf("got %v, want unknown_op", err)
	}
}

// onlyProcessor hides every method of its Processor but Resize and Checksum.
type onlyProcessor struct{ ferry.Processor }

func isCode(err error, code ferry.Code) bool {
	var se *ferry.ServerError
	return errors.As(err, &se) && se.Code == code
}

// TestNoEnlargeOnBothPaths: the router passes NoEnlarge through, and both paths make the same
// sizes of it, single and per output.
func TestNoEnlargeOnBothPaths(t *testing.T) {
	d := testdaemon.Start(t)
	r, _ := faultRouter(t, d, BreakerConfig{})
	photo := testimages.Photos(t)[0]
	img, err := decodeImage(photo.Data)
	if err != nil {
		t.Fatal(err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	reqs := []ferry.ResizeRequest{
		{Image: photo.Data, Width: 4 * w, Height: 4 * w, NoEnlarge: true},
		{Image: photo.Data, Width: 3 * h, Height: 3 * h, Mode: ferry.ModeFill, NoEnlarge: true},
		{Image: photo.Data, Outputs: []ferry.OutputSpec{{Width: 4 * w, NoEnlarge: true}, {Width: w / 2, NoEnlarge: true}}},
	}
	for i, req := range reqs {
		var sizes [2][]int
		for k, mode := range []RouteMode{RouteRust, RouteGo} {
			if err := r.SetPolicy(Policy{Mode: mode}); err != nil {
				t.Fatal(err)
			}
			res, err := r.Resize(bg(t), req)
			if err != nil {
				t.Fatalf("request %d on %s: %v", i, mode, err)
			}
			sizes[k] = []int{res.Width, res.Height}
			for _, o := range res.Outputs {
				sizes[k] = append(sizes[k], o.Width, o.Height)
			}
			for n := 0; n < len(sizes[k]); n += 2 {
				if sizes[k][n] > w || sizes[k][n+1] > h {
					t.Errorf("request %d on %s: %v is larger than the %dx%d input", i, mode, sizes[k], w, h)
				}
			}
		}
		if !slices.Equal(sizes[0], sizes[1]) {
			t.Errorf("request %d: daemon %v, Go %v", i, sizes[0], sizes[1])
		}
	}
}
