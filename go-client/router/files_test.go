package router

import (
	"bytes"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// Files through the router against the real daemon: served by the daemon while it runs, by the
// Go path (which reads the same descriptor with ReadAt) once it is gone, with the same results.
func TestRouterFallsBackToGoForFiles(t *testing.T) {
	d := testdaemon.Start(t)
	r, _ := faultRouter(t, d, BreakerConfig{ConsecutiveFailures: 100, OpenFor: time.Minute},
		WithPolicy(Policy{Mode: RouteRust}))
	data := bytes.Repeat([]byte("ferry files "), 200_000)
	sumFile := testimages.OpenTemp(t, data)
	png := testimages.EncodePNG(t, testimages.Painted(64, 48))
	imgFile := testimages.OpenTemp(t, png)
	algs := []ferry.Algorithm{ferry.SHA256, ferry.BLAKE3}
	want, err := goproc.New().Checksum(bg(t), ferry.ChecksumRequest{Data: data, Algorithms: algs})
	if err != nil {
		t.Fatal(err)
	}
	resizeReq := ferry.ResizeRequest{File: imgFile, Width: 32, Format: ferry.FormatPNG}

	check := func(path ferry.Path, reason ferry.Reason) {
		t.Helper()
		sum, err := r.Checksum(bg(t), ferry.ChecksumRequest{File: sumFile, Algorithms: algs})
		if err != nil {
			t.Fatalf("checksum of a file on %s: %v", path, err)
		}
		if sum.Served != (ferry.Served{Path: path, Reason: reason}) {
			t.Errorf("checksum served by %s, want %s/%s", sum.Served, path, reason)
		}
		for _, a := range algs {
			if !bytes.Equal(sum.Digests[a], want.Digests[a]) {
				t.Errorf("%s on %s: %x, want %x", a, path, sum.Digests[a], want.Digests[a])
			}
		}
		res, err := r.Resize(bg(t), resizeReq)
		if err != nil {
			t.Fatalf("resize of a file on %s: %v", path, err)
		}
		if res.Served != (ferry.Served{Path: path, Reason: reason}) || res.Width != 32 || res.Height != 24 {
			t.Errorf("resize: %dx%d served by %s, want 32x24 by %s/%s", res.Width, res.Height, res.Served, path, reason)
		}
	}
	check(ferry.PathRust, ReasonPolicy)
	d.Kill()
	check(ferry.PathGo, ReasonFallback)
}
