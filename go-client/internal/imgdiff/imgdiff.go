// Package imgdiff decodes the outputs of either path and measures how far apart two pictures are
// (PSNR), for the differential tests of the Go path (the router's shadow comparisons use the same
// arithmetic in router/compare_images.go, which keeps package router's imports to what routing needs).
package imgdiff

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"

	"github.com/gen2brain/avif"
	"golang.org/x/image/webp"
)

// Decode decodes an output of either path: JPEG, PNG, WebP or AVIF, told apart by their magic
// bytes.
func Decode(b []byte) (image.Image, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return jpeg.Decode(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return png.Decode(bytes.NewReader(b))
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return webp.Decode(bytes.NewReader(b))
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return avif.Decode(bytes.NewReader(b))
	}
	return nil, errors.New("not a JPEG, PNG, WebP or AVIF image")
}

// PSNR compares two pictures of the same size on their RGB samples, each composited over
// white first (a transparent pixel's hidden colour does not count). Identical pictures give
// +Inf.
func PSNR(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	var sum float64
	n := 0
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			ca := rgbOverWhite(a.At(ab.Min.X+x, ab.Min.Y+y))
			cb := rgbOverWhite(b.At(bb.Min.X+x, bb.Min.Y+y))
			for k := 0; k < 3; k++ {
				d := ca[k] - cb[k]
				sum += d * d
				n++
			}
		}
	}
	if sum == 0 || n == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

func rgbOverWhite(c color.Color) [3]float64 {
	r, g, b, a := c.RGBA() // premultiplied, 16-bit
	w := float64(0xFFFF - a)
	return [3]float64{(float64(r) + w) / 257, (float64(g) + w) / 257, (float64(b) + w) / 257}
}
