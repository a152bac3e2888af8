package goproc

import (
	"image"
	"math"

	ferry "github.com/ferryd/ferry/go-client"
)

// Lossy WebP (VP8) stores BT.601 YCbCr in limited range ("studio swing": Y 16..235, Cb and Cr
// 16..240 around 128), chroma subsampled 4:2:0 with its samples centred between the luma
// samples. golang.org/x/image/webp hands those planes back as *image.YCbCr (or *image.NYCbCrA
// with an ALPH chunk), types whose colour model, and x/image/draw's fast path, read them as
// full-range JFIF YCbCr: blacks come out grey, colours washed out and shifted (27.6 dB against
// the original where libwebp's own decoder gets 36.9). So the Go path converts them here, with
// libwebp's rules: the range expanded by 255/219 (luma) and 255/224 (chroma), and each chroma
// sample interpolated from its four nearest stored ones, weighted 9:3:3:1 by distance (what
// libwebp calls fancy upsampling, on by default in dwebp and in image-webp, the daemon's
// decoder). Rounding is this code's own: the result is within 1 of dwebp's per sample (see
// TestWebPColourMatchesDwebp), not bit for bit.
//
// The output is 4 bytes a pixel next to the planes' 1.5 (2.5 with alpha), within the 8 a pixel
// the Probe memory figure allows for the decoded image and the copy the scaler reads; the
// planes are garbage once the conversion returns.

// yuvFrac is the fixed-point precision of the conversion: 16 fraction bits, so every product
// fits an int32 (255 x 2.02 x 65536 < 2^25).
const yuvFrac = 16

// The conversion's coefficients, from BT.601's luma weights Kr = 0.299, Kb = 0.114 and the
// limited ranges (219 luma steps, 224 chroma steps mapped onto 255).
var (
	yScale  = fixed(255.0 / 219)                                   // luma 16..235 onto 0..255
	crToR   = fixed(2 * (1 - 0.299) * 255.0 / 224)                 // 1.596
	cbToG   = fixed(2 * 0.114 * (1 - 0.114) / 0.587 * 255.0 / 224) // 0.392
	crToG   = fixed(2 * 0.299 * (1 - 0.299) / 0.587 * 255.0 / 224) // 0.813
	cbToB   = fixed(2 * (1 - 0.114) * 255.0 / 224)                 // 2.017
	yOffset = int32(16)
)

func fixed(f float64) int32 { return int32(math.Round(f * (1 << yuvFrac))) }

// vp8ToRGB returns the RGB(A) picture of what x/image/webp decoded: *image.RGBA for an opaque
// lossy WebP (*image.YCbCr), *image.NRGBA (straight alpha, as WebP stores it) for one with an
// alpha plane (*image.NYCbCrA). Lossless WebP decodes to RGB already and is returned as it is.
// Planes in any layout but 4:2:0 from the origin, which VP8 cannot produce, are an internal error
// rather than colours converted by the wrong rule.
func vp8ToRGB(img image.Image) (image.Image, error) {
	switch m := img.(type) {
	case *image.YCbCr:
		if err := checkVP8Planes(m); err != nil {
			return nil, err
		}
		dst := image.NewRGBA(m.Rect)
		yuv420ToRGB(m, nil, 0, dst.Pix, dst.Stride)
		return dst, nil
	case *image.NYCbCrA:
		if err := checkVP8Planes(&m.YCbCr); err != nil {
			return nil, err
		}
		dst := image.NewNRGBA(m.Rect)
		yuv420ToRGB(&m.YCbCr, m.A, m.AStride, dst.Pix, dst.Stride)
		return dst, nil
	}
	return img, nil
}

func checkVP8Planes(m *image.YCbCr) error {
	if m.SubsampleRatio != image.YCbCrSubsampleRatio420 || m.Rect.Min != (image.Point{}) {
		return refuse(ferry.CodeInternal, "webp decoder gave %v planes at %v, not 4:2:0 from the origin", m.SubsampleRatio, m.Rect.Min)
	}
	return nil
}

// yuv420ToRGB writes src (4:2:0, limited range, Rect at the origin) as 4-byte pixels into pix,
// rows stride bytes apart: R, G, B, then the alpha plane's sample (alpha nil: 255). Row by row:
// the two chroma rows nearest the luma row are blended 3:1 once per row, into a row padded with
// a copy of its end samples on both sides (the edges repeat), then each pair of pixels that
// shares a chroma column blends it 3:1 with its left or right neighbour and converts.
func yuv420ToRGB(src *image.YCbCr, alpha []byte, alphaStride int, pix []byte, stride int) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	// cb and cr hold 3 x the nearer chroma row + the farther one (a vertical 3:1 blend, x4),
	// column j at index j+1.
	cb := make([]int32, cw+2)
	cr := make([]int32, cw+2)
	for y := range h {
		near := y / 2
		far := near + 1 // an odd luma row lies between chroma rows near and near+1
		if y%2 == 0 {
			far = near - 1
		}
		far = min(max(far, 0), ch-1) // the edges repeat their row
		nb, fb := src.Cb[near*src.CStride:][:cw], src.Cb[far*src.CStride:][:cw]
		nr, fr := src.Cr[near*src.CStride:][:cw], src.Cr[far*src.CStride:][:cw]
		for j := range cw {
			cb[j+1] = 3*int32(nb[j]) + int32(fb[j])
			cr[j+1] = 3*int32(nr[j]) + int32(fr[j])
		}
		cb[0], cb[cw+1] = cb[1], cb[cw]
		cr[0], cr[cw+1] = cr[1], cr[cw]

		luma := src.Y[y*src.YStride:][:w]
		out := pix[y*stride:][:4*w]
		for x := 0; x < w; x += 2 {
			j := x/2 + 1
			c, cl, cr0 := 3*cb[j], cb[j-1], cb[j+1]
			d, dl, dr := 3*cr[j], cr[j-1], cr[j+1]
			// 9:3:3:1 in all, rounded to 8 bits as libwebp rounds its upsampled chroma.
			putRGB(out[4*x:][:4], luma[x], uint8((c+cl+8)>>4), uint8((d+dl+8)>>4))
			if x+1 < w {
				putRGB(out[4*x+4:][:4], luma[x+1], uint8((c+cr0+8)>>4), uint8((d+dr+8)>>4))
			}
		}
		if alpha == nil {
			for x := 3; x < len(out); x += 4 {
				out[x] = 255
			}
		} else {
			for x, a := range alpha[y*alphaStride:][:w] {
				out[4*x+3] = a
			}
		}
	}
}

// putRGB writes the R, G and B of luma and chroma u, v (all 8-bit, limited range) into o[:3].
func putRGB(o []byte, luma, u, v uint8) {
	l := lumaTerm[luma]
	o[0] = clamp8((l + crToRTerm[v]) >> yuvFrac)
	o[1] = clamp8((l - cbToGTerm[u] - crToGTerm[v]) >> yuvFrac)
	o[2] = clamp8((l + cbToBTerm[u]) >> yuvFrac)
}

// The conversion's products for every 8-bit sample, the luma one with the rounding half added.
var lumaTerm, crToRTerm, cbToGTerm, crToGTerm, cbToBTerm = func() (l, rv, gu, gv, bu [256]int32) {
	for i := range int32(256) {
		l[i] = yScale*(i-yOffset) + 1<<(yuvFrac-1)
		rv[i], gu[i], gv[i], bu[i] = crToR*(i-128), cbToG*(i-128), crToG*(i-128), cbToB*(i-128)
	}
	return
}()

func clamp8(v int32) uint8 {
	return uint8(min(max(v, 0), 255))
}
