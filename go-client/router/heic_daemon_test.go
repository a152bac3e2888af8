package router

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testclient"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// A HEIC upload, made by heif-enc, through the Router and the real daemon: the daemon serves it;
// once the daemon is killed, the Go path is not tried and the caller gets the daemon's error,
// matching goproc.ErrNotOnGoPath, while a PNG still falls back to Go.
func TestRouterLeavesHEICToTheRealDaemon(t *testing.T) {
	d, c := testclient.Start(t)
	if !slices.Contains(c.ServerInfo().InputFormats, ferry.FormatHEIC) {
		t.Skipf("the daemon does not read HEIC (its input_formats: %v): nothing to route", c.ServerInfo().InputFormats)
	}
	heifEnc, err := exec.LookPath("heif-enc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("heif-enc is not on PATH (scripts/setup.sh installs it)")
		}
		t.Skip("heif-enc is not on PATH: install it (scripts/setup.sh) to run this test")
	}
	dir := t.TempDir()
	png, heic := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.heic")
	pngData := testimages.EncodePNG(t, testimages.Painted(96, 64))
	if err := os.WriteFile(png, pngData, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(heifEnc, "-q", "80", png, "-o", heic).CombinedOutput(); err != nil {
		t.Fatalf("heif-enc: %v\n%s", err, b)
	}
	heicData, err := os.ReadFile(heic)
	if err != nil {
		t.Fatal(err)
	}
	g := &countingGo{Processor: goproc.New()}
	r, err := New(c, g, WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	res, err := r.Resize(bg(t), ferry.ResizeRequest{Image: heicData, Width: 48})
	if err != nil || res.Served.Path != ferry.PathRust || res.SourceFormat != ferry.FormatHEIC || res.Width != 48 {
		t.Fatalf("daemon up: %v, %+v", err, res)
	}

	d.Kill()
	_, err = r.Resize(bg(t), ferry.ResizeRequest{Image: heicData, Width: 48})
	// The daemon's error: unavailable, or the connection lost when the kill is seen mid-call.
	daemons := errors.Is(err, ferry.ErrUnavailable) || errors.Is(err, ferry.ErrConnectionLost)
	if !errors.Is(err, ErrFallbackRefused) || !errors.Is(err, goproc.ErrNotOnGoPath) || !daemons {
		t.Fatalf("daemon down, HEIC: %v; want the daemon's error in ErrFallbackRefused and ErrNotOnGoPath", err)
	}
	if n := g.calls.Load(); n != 0 {
		t.Fatalf("the Go path was called %d times for HEIC", n)
	}
	res, err = r.Resize(bg(t), ferry.ResizeRequest{Image: pngData, Width: 48})
	if err != nil || res.Served.Path != ferry.PathGo {
		t.Fatalf("daemon down, PNG: %v, %+v; want a Go fallback", err, res)
	}
	t.Logf("HEIC served by the daemon; with it killed: %v", err)
}
