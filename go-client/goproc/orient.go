package goproc

import "image"

// The Go path, like the daemon, plans on the upright picture (what the caller's box refers to),
// maps the plan back into the picture as stored, resizes the stored pixels and turns only the
// small output upright: the full-size picture is never rotated.
//
// For each EXIF orientation, upright pixel (u, v) comes from stored pixel (x, y):
//
//	1: (u, v)            2: (W-1-u, v)       3: (W-1-u, H-1-v)    4: (u, H-1-v)
//	5: (v, u)            6: (v, H-1-u)       7: (W-1-v, H-1-u)    8: (W-1-v, u)
//
// where W x H is the stored size; 5 to 8 swap width and height.

// transposes reports whether orientation o swaps width and height.
func transposes(o int) bool { return o >= 5 }

// uprightSize is the size of a stored w x h picture once turned upright.
func uprightSize(o, w, h int) (int, int) {
	if transposes(o) {
		return h, w
	}
	return w, h
}

// storedPoint maps a point of the upright picture to the stored one, in continuous coordinates
// (pixel edges, not centres), for a stored picture of w x h.
func storedPoint(o int, u, v, w, h float64) (float64, float64) {
	switch o {
	case 2:
		return w - u, v
	case 3:
		return w - u, h - v
	case 4:
		return u, h - v
	case 5:
		return v, u
	case 6:
		return v, h - u
	case 7:
		return w - v, h - u
	case 8:
		return w - v, u
	}
	return u, v
}

// regionToStored maps a region of the upright picture into the stored w x h picture.
func regionToStored(o int, r region, w, h int) region {
	x0, y0 := storedPoint(o, r.x, r.y, float64(w), float64(h))
	x1, y1 := storedPoint(o, r.x+r.w, r.y+r.h, float64(w), float64(h))
	return region{min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// orientRGBA turns a stored picture upright.
func orientRGBA(o int, src *image.RGBA) *image.RGBA {
	if o <= 1 || o > 8 {
		return src
	}
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	uw, uh := uprightSize(o, sw, sh)
	dst := image.NewRGBA(image.Rect(0, 0, uw, uh))
	for v := 0; v < uh; v++ {
		row := dst.Pix[v*dst.Stride : v*dst.Stride+4*uw]
		for u := 0; u < uw; u++ {
			var x, y int
			switch o {
			case 2:
				x, y = sw-1-u, v
			case 3:
				x, y = sw-1-u, sh-1-v
			case 4:
				x, y = u, sh-1-v
			case 5:
				x, y = v, u
			case 6:
				x, y = v, sh-1-u
			case 7:
				x, y = sw-1-v, sh-1-u
			case 8:
				x, y = sw-1-v, u
			}
			i := y*src.Stride + 4*x
			copy(row[4*u:4*u+4], src.Pix[i:i+4])
		}
	}
	return dst
}
