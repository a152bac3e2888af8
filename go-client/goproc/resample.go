package goproc

import (
	"image"
	stddraw "image/draw"
	"math"

	ferry "github.com/ferryd/ferry/go-client"

	"golang.org/x/image/draw"
)

// lanczos3 is the 3-lobe Lanczos kernel, sinc(t)·sinc(t/3) on |t| < 3, the same kernel as the
// daemon's fast_image_resize Lanczos3. x/image/draw has none, but its Kernel type takes any
// separable kernel and widens it when downscaling, as a proper convolution must.
var lanczos3 = &draw.Kernel{Support: 3, At: func(t float64) float64 {
	t = math.Abs(t)
	if t >= 3 {
		return 0
	}
	return sinc(t) * sinc(t/3)
}}

func sinc(t float64) float64 {
	if t == 0 {
		return 1
	}
	x := math.Pi * t
	return math.Sin(x) / x
}

// filterKernels maps the spec's filter words to x/image/draw. BiLinear and CatmullRom are
// kernels (triangle of support 1, Catmull-Rom cubic of support 2), as in the daemon; not
// ApproxBiLinear, which samples 4 pixels and aliases when shrinking.
var filterKernels = map[ferry.Filter]draw.Scaler{
	ferry.FilterNearest:    draw.NearestNeighbor,
	ferry.FilterBilinear:   draw.BiLinear,
	ferry.FilterCatmullRom: draw.CatmullRom,
	ferry.FilterLanczos3:   lanczos3,
}

// scalable returns src as a type x/image/draw scales on a fast path into *image.RGBA (Gray,
// RGBA, NRGBA, YCbCr), converting other types (palette, 16-bit, CMYK, YCbCr+alpha) to
// premultiplied 8-bit RGBA first. 16-bit samples are reduced to 8 here, as in the daemon.
func scalable(src image.Image) image.Image {
	switch src.(type) {
	case *image.Gray, *image.RGBA, *image.NRGBA, *image.YCbCr:
		return src
	}
	b := src.Bounds()
	dst := image.NewRGBA(b)
	stddraw.Draw(dst, b, src, b.Min, stddraw.Src)
	return dst
}

// resample scales the sr rectangle of src to w x h premultiplied RGBA. x/image/draw
// premultiplies non-premultiplied sources (NRGBA) per pixel before filtering, so transparent
// pixels contribute no colour: no halos at transparent edges.
func resample(src image.Image, sr image.Rectangle, w, h int, f ferry.Filter) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	filterKernels[f].Scale(dst, dst.Rect, src, sr, draw.Src, nil)
	return dst
}

// unpremultiply converts premultiplied RGBA to straight alpha, clamping: the negative lobes of
// Lanczos and Catmull-Rom can leave a colour sample above its alpha, which must saturate, not
// wrap.
func unpremultiply(src *image.RGBA) *image.NRGBA {
	dst := image.NewNRGBA(src.Rect)
	for i := 0; i+3 < len(src.Pix); i += 4 {
		a := uint32(src.Pix[i+3])
		dst.Pix[i+3] = uint8(a)
		switch a {
		case 0:
			// fully transparent: colour is meaningless, leave it black
		case 255:
			copy(dst.Pix[i:i+3], src.Pix[i:i+3])
		default:
			for c := 0; c < 3; c++ {
				dst.Pix[i+c] = uint8(min(255, (uint32(src.Pix[i+c])*255+a/2)/a))
			}
		}
	}
	return dst
}

// overWhite composites premultiplied RGBA over white: c + (255 - a), which for premultiplied
// samples is exactly "alpha over white". The result is opaque.
func overWhite(src *image.RGBA) *image.RGBA {
	for i := 0; i+3 < len(src.Pix); i += 4 {
		a := src.Pix[i+3]
		if a == 255 {
			continue
		}
		for c := 0; c < 3; c++ {
			src.Pix[i+c] = uint8(min(255, uint32(src.Pix[i+c])+uint32(255-a)))
		}
		src.Pix[i+3] = 255
	}
	return src
}

// isOpaque reports whether every alpha sample is 255.
func isOpaque(img *image.RGBA) bool {
	for i := 3; i < len(img.Pix); i += 4 {
		if img.Pix[i] != 255 {
			return false
		}
	}
	return true
}

// toGray keeps the red channel of an opaque picture whose channels are equal (a grayscale
// source resized into RGBA).
func toGray(src *image.RGBA) *image.Gray {
	dst := image.NewGray(src.Rect)
	for i, j := 0, 0; i+3 < len(src.Pix); i, j = i+4, j+1 {
		dst.Pix[j] = src.Pix[i]
	}
	return dst
}
