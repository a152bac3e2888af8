package router

import (
	"errors"
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
