package router

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// noThrottle keeps the throttle out of tests of the fallback rules, which send busy answers
// with WithBusyFallback: the throttle would turn some into "throttled" fallbacks.
var noThrottle = WithThrottle(ThrottleConfig{K: -1})

// busyDaemon makes the fake daemon answer busy to everything.
func busyDaemon(context.Context) error {
	return &ferry.ServerError{Code: ferry.CodeBusy, Message: "queue full"}
}

func TestWithoutFallbackReturnsTheDaemonsError(t *testing.T) {
	rust := newFakeRust()
	rust.setFail(busyDaemon)
	r, g := newTestRouter(t, rust, WithoutFallback(ferry.FormatWebP), WithBusyFallback(), noThrottle)
	img := testimages.EncodePNG(t, testimages.Painted(64, 48))

	_, err := r.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 32, Format: ferry.FormatWebP})
	if !errors.Is(err, ErrFallbackRefused) || !errors.Is(err, ferry.ErrBusy) || !ferry.SafeToRetry(err) {
		t.Fatalf("webp with the daemon busy: %v, want ErrFallbackRefused wrapping busy", err)
	}
	if g.calls.Load() != 0 {
		t.Fatal("the refused format ran on Go")
	}
	// Other formats still fall back.
	res, err := r.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 32})
	if err != nil || res.Served.String() != "go/fallback" || res.Format != ferry.FormatJPEG {
		t.Fatalf("jpeg with the daemon busy: %v, %+v", err, res)
	}
	m := countsOf(t, r)
	if got := m.fallbacks("resize", "busy", actionRefused); got != 1 {
		t.Errorf("fallbacks{busy,refused} = %v", got)
	}
	if got := m.fallbacks("resize", "busy", actionGo); got != 1 {
		t.Errorf("fallbacks{busy,go} = %v", got)
	}

	// With the breaker open there is no daemon error: the refusal wraps ErrUnavailable.
	rust.setFail(func(context.Context) error { return ferry.ErrConnectionLost })
	for range DefaultBreakerConsecutiveFailures {
		_, _ = r.Checksum(bg(t), sumReq)
	}
	if r.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %v", r.BreakerState())
	}
	_, err = r.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 32, Format: ferry.FormatWebP})
	if !errors.Is(err, ErrFallbackRefused) || !errors.Is(err, ferry.ErrUnavailable) {
		t.Fatalf("webp with the breaker open: %v", err)
	}
	if got := m.fallbacks("resize", "breaker_open", actionRefused); got != 1 {
		t.Errorf("fallbacks{breaker_open,refused} = %v", got)
	}
}

func TestWithFallbackFormatConverts(t *testing.T) {
	rust := newFakeRust()
	rust.setFail(busyDaemon)
	r, _ := newTestRouter(t, rust, WithFallbackFormat(ferry.FormatWebP, ferry.FormatJPEG), WithBusyFallback(), noThrottle)
	img := testimages.EncodePNG(t, testimages.Painted(64, 48))
	res, err := r.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 32, Format: ferry.FormatWebP})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != ferry.FormatJPEG || !bytes.HasPrefix(res.Image, []byte{0xFF, 0xD8}) || res.Served.String() != "go/fallback" {
		t.Fatalf("got %s (%s), want a JPEG from the Go fallback", res.Format, res.Served)
	}
	if _, err := decodeImage(res.Image); err != nil {
		t.Fatal(err)
	}
	if got := countsOf(t, r).fallbacks("resize", "busy", actionConverted); got != 1 {
		t.Errorf("fallbacks{busy,converted} = %v", got)
	}
	// Served by the daemon, the format asked for is kept.
	rust.setFail(nil)
	res, err = r.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 32, Format: ferry.FormatWebP})
	if err != nil || res.Format != ferry.FormatWebP || res.Served.Path != ferry.PathRust {
		t.Fatalf("daemon up: %v %s %s", err, res.Format, res.Served)
	}
}

// The daemon busy (WithBusyFallback) and the Go path's only slot taken: the caller gets
// ErrOverloaded at once (no queue wait), typed, wrapping goproc.ErrSaturated, safe to retry, and
// nothing runs.
func TestOverloadedWhenBothPathsAreFull(t *testing.T) {
	rust := newFakeRust()
	rust.setFail(busyDaemon)
	g := goproc.New(goproc.WithConcurrency(1), goproc.WithQueueWait(-1))
	r, err := New(rust, g, WithObserver(newCounts()), WithBusyFallback())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Hold the only Go slot with a job whose caller has already gone.
	big := testimages.EncodePNG(t, testimages.Painted(3000, 2000))
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, _ = g.Resize(short, ferry.ResizeRequest{Image: big, Width: 10})
	if g.Running() != 1 {
		t.Skip("the abandoned job finished before the test could use its slot")
	}
	_, err = r.Checksum(bg(t), sumReq)
	if !errors.Is(err, ErrOverloaded) || !errors.Is(err, goproc.ErrSaturated) || !errors.Is(err, ferry.ErrBusy) || !ferry.SafeToRetry(err) {
		t.Fatalf("got %v, want ErrOverloaded over goproc.ErrSaturated (busy, safe to retry)", err)
	}
	var re *Error
	if !errors.As(err, &re) || re.Served != (ferry.Served{Path: ferry.PathGo, Reason: ReasonFallback}) || re.RetryAfter() <= 0 {
		t.Errorf("error %#v: want Served go/fallback and a retry hint", re)
	}
	if got := countsOf(t, r).requests("checksum", "go", "fallback", "overloaded"); got != 1 {
		t.Errorf("requests{go,fallback,overloaded} = %v", got)
	}
	// The kill switch with a full Go path is overloaded too.
	if err := r.SetPolicy(Policy{Mode: RouteGo}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Checksum(bg(t), sumReq); g.Running() == 1 && (!errors.Is(err, ErrOverloaded) || !errors.Is(err, goproc.ErrSaturated)) {
		t.Fatalf("kill switch, Go full: %v", err)
	}
}

// Without WithLogger the Router writes nothing anywhere, not even to slog's default logger,
// through policy changes, breaker transitions and fallbacks.
func TestRouterIsQuietByDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	rust := newFakeRust()
	rust.setFail(func(context.Context) error { return ferry.ErrUnavailable })
	r, err := New(rust, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range DefaultBreakerConsecutiveFailures + 1 {
		if _, err := r.Checksum(bg(t), sumReq); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SetPolicy(Policy{Mode: RouteGo}); err != nil {
		t.Fatal(err)
	}
	if r.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %v", r.BreakerState())
	}
	if buf.Len() != 0 {
		t.Fatalf("the router logged without a logger:\n%s", buf.String())
	}
}
