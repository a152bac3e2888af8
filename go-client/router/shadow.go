package router

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"slices"
	"strings"

	ferry "github.com/ferryd/ferry/go-client"
)

// ShadowReport is the outcome of one shadow comparison.
type ShadowReport struct {
	// Op is "resize" or "checksum"; Key the request's routing key.
	Op, Key string
	// Primary served the caller; Shadow ran in the background.
	Primary, Shadow ferry.Path
	// Result is "match", "mismatch" or "error" (the shadow call failed for a reason of its own,
	// such as the daemon being down: nothing to compare).
	Result string
	// Detail says what differed, or why the comparison could not be made.
	Detail string
	// PrimaryErr and ShadowErr are the refusals, when either path refused the input.
	PrimaryErr, ShadowErr error
}

// startShadow runs the other path for a request the primary has answered, in the background,
// within the shadow bound, and reports the comparison.
func startShadow[T any](r *Router, ctx context.Context, o *routedOp[T], primary ferry.Path, res T, perr error) {
	other, proc := ferry.PathGo, r.goPath
	if primary == ferry.PathGo {
		other, proc = ferry.PathRust, r.rust
	}
	select {
	case r.shadowSlots <- struct{}{}:
	default:
		r.obs.Shadow(o.op, "skipped")
		return
	}
	var p permit
	if other == ferry.PathRust {
		var ok bool
		if p, ok = r.breaker.allow(); !ok {
			<-r.shadowSlots
			r.obs.Shadow(o.op, "skipped")
			return
		}
	}
	run := o.detach()
	var snap T
	if perr == nil {
		snap = o.snapshot(res)
	}
	// The caller's context may end as soon as it has its answer: the shadow keeps its values
	// but not its cancellation, and has a budget of its own.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.shadow.Timeout)
	started := r.goBackground(func() {
		defer func() { <-r.shadowSlots }()
		defer cancel()
		start := r.cfg.now()
		sres, serr := run(sctx, proc)
		r.obs.Attempt(o.op, other, serr, r.cfg.now().Sub(start))
		if other == ferry.PathRust {
			r.breaker.tell(p, judge(sctx, serr))
		}
		rep := ShadowReport{Op: o.op, Key: o.key, Primary: primary, Shadow: other, PrimaryErr: perr, ShadowErr: serr}
		switch {
		case serr != nil && !ferry.IsInvalidInput(serr):
			rep.Result, rep.Detail = "error", "shadow call failed: "+serr.Error()
		case perr != nil || serr != nil:
			if pc, sc := refusalWord(perr), refusalWord(serr); pc == sc {
				rep.Result, rep.Detail = "match", "both refused: "+pc
			} else {
				rep.Result, rep.Detail = "mismatch", fmt.Sprintf("%s %s, %s %s", primary, pc, other, sc)
			}
		default:
			if same, detail := o.compare(snap, sres); same {
				rep.Result, rep.Detail = "match", detail
			} else {
				rep.Result, rep.Detail = "mismatch", detail
			}
		}
		r.obs.Shadow(o.op, rep.Result)
		switch rep.Result {
		case "mismatch":
			r.log.Warn("ferry router: shadow mismatch", "op", o.op, "key", o.key, "primary", primary,
				"shadow", other, "detail", rep.Detail)
		case "error":
			r.log.Debug("ferry router: shadow call failed", "op", o.op, "shadow", other, "err", serr)
		}
		if r.cfg.shadow.OnReport != nil {
			r.cfg.shadow.OnReport(rep)
		}
	})
	if !started { // the Router is closed
		cancel()
		<-r.shadowSlots
		if other == ferry.PathRust {
			r.breaker.release(p)
		}
	}
}

// refusalWord names a refusal for comparison: the code word, or "ok" for no error.
func refusalWord(err error) string {
	if err == nil {
		return "ok"
	}
	return Outcome(err)
}

// compareChecksums: the same algorithms, byte-identical digests.
func compareChecksums(a, b *ferry.ChecksumResult) (bool, string) {
	if len(a.Digests) != len(b.Digests) {
		return false, fmt.Sprintf("%d digests against %d", len(a.Digests), len(b.Digests))
	}
	algs := make([]ferry.Algorithm, 0, len(a.Digests))
	for alg := range a.Digests {
		algs = append(algs, alg)
	}
	slices.Sort(algs)
	for _, alg := range algs {
		if !bytes.Equal(a.Digests[alg], b.Digests[alg]) {
			return false, fmt.Sprintf("%s: %x against %x", alg, a.Digests[alg], b.Digests[alg])
		}
	}
	return true, fmt.Sprintf("%d digests equal", len(algs))
}

// compareResize: the same output and source dimensions and formats, and pictures that look
// alike (PSNR at least the shadow's MinPSNR once both are decoded).
func (r *Router) compareResize(a, b *ferry.ResizeResult) (bool, string) {
	if a.Outputs != nil || b.Outputs != nil {
		return r.compareOutputs(a, b)
	}
	if a.Width != b.Width || a.Height != b.Height || a.Format != b.Format {
		return false, fmt.Sprintf("output %dx%d %s against %dx%d %s", a.Width, a.Height, a.Format, b.Width, b.Height, b.Format)
	}
	if a.SourceWidth != b.SourceWidth || a.SourceHeight != b.SourceHeight || a.SourceFormat != b.SourceFormat {
		return false, fmt.Sprintf("source %dx%d %s against %dx%d %s", a.SourceWidth, a.SourceHeight, a.SourceFormat,
			b.SourceWidth, b.SourceHeight, b.SourceFormat)
	}
	ai, err := decodeImage(a.Image)
	if err != nil {
		return false, "primary output does not decode: " + err.Error()
	}
	bi, err := decodeImage(b.Image)
	if err != nil {
		return false, "shadow output does not decode: " + err.Error()
	}
	if ai.Bounds().Size() != bi.Bounds().Size() || ai.Bounds().Size() != image.Pt(a.Width, a.Height) {
		return false, fmt.Sprintf("decoded sizes %v and %v", ai.Bounds().Size(), bi.Bounds().Size())
	}
	db := psnr(ai, bi)
	if db < r.cfg.shadow.MinPSNR {
		return false, fmt.Sprintf("PSNR %.1f dB below %.1f", db, r.cfg.shadow.MinPSNR)
	}
	return true, fmt.Sprintf("%dx%d, PSNR %.1f dB", a.Width, a.Height, db)
}

// compareOutputs compares results with several outputs, output by output, as compareResize
// compares single ones.
func (r *Router) compareOutputs(a, b *ferry.ResizeResult) (bool, string) {
	if len(a.Outputs) != len(b.Outputs) {
		return false, fmt.Sprintf("%d outputs against %d", len(a.Outputs), len(b.Outputs))
	}
	notes := make([]string, len(a.Outputs))
	for i := range a.Outputs {
		one := func(res *ferry.ResizeResult, o ferry.Output) *ferry.ResizeResult {
			return &ferry.ResizeResult{Image: o.Image, Width: o.Width, Height: o.Height, Format: o.Format,
				SourceWidth: res.SourceWidth, SourceHeight: res.SourceHeight, SourceFormat: res.SourceFormat}
		}
		same, note := r.compareResize(one(a, a.Outputs[i]), one(b, b.Outputs[i]))
		if !same {
			return false, fmt.Sprintf("output %d: %s", i, note)
		}
		notes[i] = note
	}
	return true, strings.Join(notes, "; ")
}
