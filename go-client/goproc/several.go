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
		one.Filter, one.Format, one.Quality, one.NoEnlarge = o.Filter, o.Format, o.Quality, o.NoEnlarge
		rp, err := p.validateResize(&one)
		if err != nil {
			return nil, err
		}
		rps[i] = rp
	}
	h, err := p.readHeader(req.Image, !req.NoAutoOrient)
	if err != nil {
		return nil, err
	}
	plans := make([]resizePlan, len(rps))
	for i := range rps {
		if plans[i], err = p.planOutput(&h, &rps[i]); err != nil {
			return nil, err
		}
	}
	if err := stageCheck(ctx, "decode"); err != nil {
		return nil, err
	}

	return runResize(ctx, p, func() (*ferry.ResizeResult, error) {
		img, err := decodeImage(req.Image, h.format, h.storedW, h.storedH)
		if err != nil {
			return nil, err
		}
		src := decodedSource(img)
		outs := make([]ferry.Output, len(plans))
		for i, plan := range plans {
			if err := stageCheck(ctx, "resize"); err != nil {
				return nil, err
			}
			b, err := makeOutput(ctx, src, h.orientation, plan, &rps[i], &h.meta)
			if err != nil {
				return nil, err
			}
			outs[i] = ferry.Output{Image: b, Width: plan.width, Height: plan.height, Format: rps[i].format}
		}
		return &ferry.ResizeResult{
			Outputs:      outs,
			SourceWidth:  h.uprightW,
			SourceHeight: h.uprightH,
			SourceFormat: h.format,
			Served:       ferry.Served{Path: ferry.PathGo, Reason: ferry.ReasonDirect},
		}, nil
	})
}
