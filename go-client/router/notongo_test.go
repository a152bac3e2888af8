package router

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// heicDaemon stands for a daemon that reads HEIC, which the Go path does not: it answers every
// resize with a thumbnail, or with the error the test sets.
type heicDaemon struct {
	mu    sync.Mutex
	err   error
	calls atomic.Int64
}

func (d *heicDaemon) setErr(err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
}

func (d *heicDaemon) answer() error {
	d.calls.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

func (d *heicDaemon) Resize(ctx context.Context, req ferry.ResizeRequest) (*ferry.ResizeResult, error) {
	if err := d.answer(); err != nil {
		return nil, err
	}
	return &ferry.ResizeResult{Image: []byte{0xFF, 0xD8, 0xFF}, Width: 32, Height: 24, Format: ferry.FormatJPEG,
		SourceWidth: 64, SourceHeight: 48, SourceFormat: ferry.FormatHEIC}, nil
}

func (d *heicDaemon) Checksum(ctx context.Context, req ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	if err := d.answer(); err != nil {
		return nil, err
	}
	return &ferry.ChecksumResult{Digests: map[ferry.Algorithm][]byte{}}, nil
}

// heicUpload is the start of a HEIC file: its ftyp box is all the Go path reads before it says
// the input is not for it.
var heicUpload = []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")

// A HEIC input is never sent to Go: the daemon's answer, or its error, is the caller's, as if
// WithoutFallback named the format; the Go share of percentage routing goes to the daemon; the
// kill switch gets the Go path's ErrNotOnGoPath; and with the breaker open the refusal is held,
// so a caller retrying at once does not spin.
func TestRouterKeepsInputsTheGoPathDoesNotReadOffGo(t *testing.T) {
	rust := &heicDaemon{}
	r, g := newTestRouter(t, rust, WithBusyFallback(), noThrottle)
	req := ferry.ResizeRequest{Image: heicUpload, Width: 32}

	res, err := r.Resize(bg(t), req)
	if err != nil || res.Served.Path != ferry.PathRust {
		t.Fatalf("daemon up: %v, %+v", err, res)
	}

	internal := &ferry.ServerError{Code: ferry.CodeInternal, Message: "decoder crashed"}
	for name, daemonErr := range map[string]error{
		"internal": internal,
		"busy":     &ferry.ServerError{Code: ferry.CodeBusy, Message: "queue full"},
	} {
		rust.setErr(daemonErr)
		_, err := r.Resize(bg(t), req)
		var re *Error
		if !errors.Is(err, ErrFallbackRefused) || !errors.Is(err, goproc.ErrNotOnGoPath) || !errors.Is(err, daemonErr) ||
			!errors.As(err, &re) || re.Served.Path != ferry.PathRust {
			t.Errorf("daemon %s: %v, want the daemon's error in ErrFallbackRefused and ErrNotOnGoPath, served by rust", name, err)
		}
	}
	if got := countsOf(t, r).fallbacks("resize", "internal", actionRefused); got != 1 {
		t.Errorf("fallbacks{internal,refused} = %v, want 1", got)
	}
	if n := g.calls.Load(); n != 0 {
		t.Fatalf("the Go path was called %d times for a HEIC input", n)
	}

	// The breaker open: no daemon error to return, so the refusal is held for its hint.
	rust.setErr(internal)
	for range DefaultBreakerConsecutiveFailures {
		_, _ = r.Checksum(bg(t), sumReq)
	}
	if r.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %v after %d internal errors", r.BreakerState(), DefaultBreakerConsecutiveFailures)
	}
	ctx, cancel := context.WithTimeout(bg(t), 300*time.Millisecond)
	defer cancel()
	refusals := 0
	for ctx.Err() == nil {
		_, err := r.Resize(ctx, req)
		if !errors.Is(err, ErrFallbackRefused) || !errors.Is(err, goproc.ErrNotOnGoPath) {
			t.Fatalf("breaker open: %v", err)
		}
		refusals++
	}
	if refusals > 30 {
		t.Errorf("%d refusals in 300 ms with the breaker open: a retrying caller spins", refusals)
	}

	// Policies that send requests to Go.
	rust.setErr(nil)
	r2, g2 := newTestRouter(t, rust, WithPolicy(Policy{Mode: RoutePercentage, RustPercent: 0}))
	if res, err := r2.Resize(bg(t), req); err != nil || res.Served != (ferry.Served{Path: ferry.PathRust, Reason: ReasonPercentage}) {
		t.Errorf("percentage 0 (all Go): %v, %+v; want the daemon to serve HEIC", err, res)
	}
	if err := r2.SetPolicy(Policy{Mode: RouteGo}); err != nil {
		t.Fatal(err)
	}
	_, err = r2.Resize(bg(t), req)
	var re *Error
	if !errors.Is(err, goproc.ErrNotOnGoPath) || !errors.As(err, &re) || re.Served.Reason != ReasonKillSwitch {
		t.Errorf("kill switch: %v, want ErrNotOnGoPath from Go", err)
	}
	if n := g2.calls.Load(); n != 1 {
		t.Errorf("the Go path was called %d times, want once (the kill switch)", n)
	}
	t.Logf("%d held refusals in 300 ms with the breaker open", refusals)
}
