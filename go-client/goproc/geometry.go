package goproc

import (
	"image"
	"math"

	ferry "github.com/ferryd/ferry/go-client"
)

// region is a rectangle of the source in pixel units. A fill crop is W/s x H/s, rarely whole
// pixels, so it stays fractional until the scaler needs integers.
type region struct{ x, y, w, h float64 }

// resizePlan is what to resize into what: a region of the upright source, and the output size.
type resizePlan struct {
	region        region
	width, height int
}

// anchorFractions says where a fill crop sits along each axis: 0 start, 0.5 middle, 1 end.
var anchorFractions = map[ferry.Anchor][2]float64{
	ferry.AnchorCenter: {0.5, 0.5}, ferry.AnchorTop: {0.5, 0}, ferry.AnchorBottom: {0.5, 1},
	ferry.AnchorLeft: {0, 0.5}, ferry.AnchorRight: {1, 0.5}, ferry.AnchorTopLeft: {0, 0},
	ferry.AnchorTopRight: {1, 0}, ferry.AnchorBottomLeft: {0, 1}, ferry.AnchorBottomRight: {1, 1},
}

// planResize applies SPEC.md 5.3 (Geometry) to an upright source of w x h. Sizes are computed in
// integers, never from a floating-point scale, so "round half up" and "never exceeds the box"
// hold exactly, as in the daemon: 640x427 into 400x400 is 400x267.
func (p *Processor) planResize(w, h int, rp *resizeParams) (resizePlan, error) {
	whole := region{0, 0, float64(w), float64(h)}
	bw, bh := int64(rp.width), int64(rp.height)
	w64, h64 := int64(w), int64(h)
	switch rp.mode {
	case ferry.ModeFit:
		// s = min(W/w, H/h) over the non-zero sides: the constraining side is exact, the other
		// is round(side*s), at least 1.
		var ow, oh int64
		widthConstrains := bh == 0 || (bw != 0 && bw*h64 <= bh*w64)
		// s > 1 exactly when the constraining box side is longer than the input's: without
		// enlarge the scale is then 1, the input's own size.
		enlarges := (widthConstrains && bw > w64) || (!widthConstrains && bh > h64)
		switch {
		case enlarges && rp.noEnlarge:
			ow, oh = w64, h64
		case widthConstrains:
			ow, oh = bw, roundRatio(h64*bw, w64)
		default:
			ow, oh = roundRatio(w64*bh, h64), bh
		}
		ow, oh = max(ow, 1), max(oh, 1)
		if ow > math.MaxInt32 || oh > math.MaxInt32 {
			return resizePlan{}, refuse(ferry.CodeInvalidArgument, "output %dx%d is too large", ow, oh)
		}
		if err := p.checkOutputSize(int(ow), int(oh)); err != nil {
			return resizePlan{}, err
		}
		return resizePlan{region: whole, width: int(ow), height: int(oh)}, nil
	case ferry.ModeFill:
		// s = max(W/w, H/h): one side of the crop is the whole source side, the other is
		// box_side / s, placed by the anchor.
		var rw, rh float64
		if bw*h64 >= bh*w64 {
			rw, rh = float64(w), float64(bh)*float64(w)/float64(bw)
		} else {
			rw, rh = float64(bw)*float64(h)/float64(bh), float64(h)
		}
		a := anchorFractions[rp.anchor]
		r := region{(float64(w) - rw) * a[0], (float64(h) - rh) * a[1], rw, rh}
		ow, oh := rp.width, rp.height
		if rp.noEnlarge {
			ow, oh = fillDown(w64, h64, bw, bh)
		}
		return resizePlan{region: r, width: ow, height: oh}, nil
	default: // ferry.ModeExact
		if rp.noEnlarge {
			return resizePlan{region: whole, width: min(rp.width, w), height: min(rp.height, h)}, nil
		}
		return resizePlan{region: whole, width: rp.width, height: rp.height}, nil
	}
}

// fillDown is fill's output size without enlarge (SPEC.md 5.3): the box when the input covers
// it, else the crop region itself at its own size (the largest size of the box's aspect the
// input holds), rounded half up, at least 1.
func fillDown(w, h, bw, bh int64) (int, int) {
	if bw <= w && bh <= h {
		return int(bw), int(bh)
	}
	if w*bh <= h*bw {
		return int(w), int(max(roundRatio(bh*w, bw), 1))
	}
	return int(max(roundRatio(bw*h, bh), 1)), int(h)
}

// roundRatio is round(num/den) with halves rounded up.
func roundRatio(num, den int64) int64 { return (2*num + den) / (2 * den) }

// pixelRect rounds a region to whole pixels inside a w x h source, never empty.
func (r region) pixelRect(w, h int) image.Rectangle {
	x0 := clampInt(int(math.Round(r.x)), 0, w-1)
	y0 := clampInt(int(math.Round(r.y)), 0, h-1)
	x1 := clampInt(int(math.Round(r.x+r.w)), x0+1, w)
	y1 := clampInt(int(math.Round(r.y+r.h)), y0+1, h)
	return image.Rect(x0, y0, x1, y1)
}

func clampInt(v, lo, hi int) int { return max(lo, min(v, hi)) }
