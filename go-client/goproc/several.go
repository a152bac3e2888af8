package goproc

import (
	"context"

	ferry "github.com/ferryd/ferry/go-client"
)

// resizeSeveral serves a request with Outputs (SPEC.md 5.3.1): every output's arguments are
// checked, then the header against the limits, then the image is decoded once and each output is
// resized from that decode and encoded, in request order. Any refusal or failure fails the whole
// request, as in the daemon.
//
// The Go path decodes at full size whatever the outputs (it has no shrink-on-load), so an output
// here is what the same output alone would be: only the daemon's may differ slightly.
func (p *Processor) resizeSeveral(ctx context.Context, req *ferry.ResizeRequest) (*ferry.ResizeResult, error) {
	if err := ferry.CheckOutputs(req); err != nil {
		return nil, err
	}
	rps := make([]resizeParams, len(req.Outputs))
	for i, o := range req.Outputs {
		one := *req
		one.Outputs = nil
		one.Width, one.Height, one.Mode, one.Anchor = o.Width, o.Height, o.Mode, o.Anchor
		one.Filter, one.Format, one.Quality = o.Filter, o.Format, o.Quality
		rp, err := p.validateResize(&one)
		if err != nil {
			return nil, err
		}
		rps[i] = rp
	}
	srcFormat, err := sniffFormat(req.Image)
	if err != nil {
		return nil, err
	}
	storedW, storedH, err := headerSize(req.Image, srcFormat)
	if err != nil {
		return nil, err
	}
	if err := p.checkInputSize(storedW, storedH); err != nil {
		return nil, err
	}
	meta := readMeta(req.Image, srcFormat)
	o := 1
	if !req.NoAutoOrient {
		o = meta.orientation()
	}
	uprightW, uprightH := uprightSize(o, storedW, storedH)
	plans := make([]resizePlan, len(rps))
	for i := range rps {
		plan, err := p.planResize(uprightW, uprightH, &rps[i])
		if err != nil {
			return nil, err
		}
		if side := maxOutputSide(rps[i].format); plan.width > side || plan.height > side {
			return nil, refuse(ferry.CodeInvalidArgument, "output %dx%d exceeds what %s can store (%d per side)",
				plan.width, plan.height, rps[i].format, side)
		}
		plans[i] = plan
	}
	if err := stageCheck(ctx, "decode"); err != nil {
		return nil, err
	}

	return runLimited(ctx, p, func() (res *ferry.ResizeResult, err error) {
		defer func() {
			if r := recover(); r != nil {
				res, err = nil, refuse(ferry.CodeInternal, "go resize panicked: %v", r)
			}
		}()
		img, err := decodeImage(req.Image, srcFormat, storedW, storedH)
		if err != nil {
			return nil, err
		}
		src := decodedSource(img)
		outs := make([]ferry.Output, len(plans))
		for i, plan := range plans {
			if err := stageCheck(ctx, "resize"); err != nil {
				return nil, err
			}
			b, err := makeOutput(ctx, src, o, plan, &rps[i], &meta)
			if err != nil {
				return nil, err
			}
			outs[i] = ferry.Output{Image: b, Width: plan.width, Height: plan.height, Format: rps[i].format}
		}
		return &ferry.ResizeResult{
			Outputs:      outs,
			SourceWidth:  uprightW,
			SourceHeight: uprightH,
			SourceFormat: srcFormat,
			Served:       ferry.Served{Path: ferry.PathGo, Reason: ferry.ReasonDirect},
		}, nil
	})
}
