package goproc

import (
	"context"

	ferry "github.com/ferryd/ferry/go-client"
)

// Probe reads req.Image's header and says what it is (SPEC.md 5.8), by the daemon's rules: the
// same format sniffing, header size, limits and EXIF reading a resize starts with (so it refuses
// what a resize here would refuse before decoding, with the same codes), and the same reading
// of alpha, interlacing and frames. No pixel is decoded and no job slot is taken.
//
// Memory is the Go path's own figure for a thumbnail into req's box: this path has no
// shrink-on-load, so it is the stored pixels x 8 (the decoded image and the copy the scaler
// reads), plus the output pixels x 16 (the resized picture, its encoder's buffers and the
// encoded bytes), plus 1 MiB. The daemon's figure for the same image is usually smaller.
func (p *Processor) Probe(ctx context.Context, req ferry.ProbeRequest) (_ *ferry.ProbeInfo, err error) {
	if err := stageCheck(ctx, "probe"); err != nil {
		return nil, err
	}
	if err := p.checkInputBytes(len(req.Image)); err != nil {
		return nil, err
	}
	w, h := req.Width, req.Height
	if w < 0 || h < 0 || w > p.limits.MaxDimension || h > p.limits.MaxDimension {
		return nil, refuse(ferry.CodeInvalidArgument, "box %dx%d: each side must be 0 to max_dimension %d", w, h, p.limits.MaxDimension)
	}
	defer func() {
		if r := recover(); r != nil {
			err = refuse(ferry.CodeInternal, "go probe panicked: %v", r)
		}
	}()
	hd, err := p.readHeader(req.Image, true)
	if err != nil {
		return nil, err
	}
	if w == 0 && h == 0 {
		w, h = hd.uprightW, hd.uprightH
	}
	plan, err := p.planResize(hd.uprightW, hd.uprightH, &resizeParams{width: w, height: h, mode: ferry.ModeFit})
	if err != nil {
		return nil, err
	}
	facts := readFacts(req.Image, hd.format)
	memory := int64(hd.storedW)*int64(hd.storedH)*8 + int64(plan.width)*int64(plan.height)*16 + 1<<20
	return &ferry.ProbeInfo{
		Format:      hd.format,
		Width:       hd.uprightW,
		Height:      hd.uprightH,
		Orientation: hd.orientation,
		Alpha:       facts.alpha,
		ICC:         hd.meta.icc != nil,
		Progressive: facts.progressive,
		Frames:      facts.frames,
		Memory:      memory,
		Served:      ferry.Served{Path: ferry.PathGo, Reason: ferry.ReasonDirect},
	}, nil
}

var _ ferry.Prober = (*Processor)(nil)
