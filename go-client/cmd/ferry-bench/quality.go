package main

import (
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
)

// psnr decodes two thumbnails (JPEG or PNG) and returns their PSNR over R, G and B in dB, or 0
// when either does not decode or their sizes differ. It is how the report backs "comparable to
// libvips": the same photo through ferryd and through libvips, compared pixel by pixel.
func psnr(a, b []byte) float64 {
	ia, _, err := image.Decode(bytes.NewReader(a))
	if err != nil {
		return 0
	}
	ib, _, err := image.Decode(bytes.NewReader(b))
	if err != nil || ia.Bounds().Size() != ib.Bounds().Size() {
		return 0
	}
	ra, rb := rgba(ia), rgba(ib)
	var sum float64
	n := 0
	for i := 0; i+3 < len(ra.Pix); i += 4 {
		for c := 0; c < 3; c++ {
			d := float64(ra.Pix[i+c]) - float64(rb.Pix[i+c])
			sum += d * d
			n++
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

func rgba(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}
