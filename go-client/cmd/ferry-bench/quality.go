package main

import (
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
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

// vsFullDecode is the PSNR of each path's thumbnail of one photo, written as lossless PNG,
// against the reference: the full decode resized with Lanczos3 straight to the output size
// (benches/rust/quality_reference.rs writes it), the yardstick of SPEC.md 5.3's quality
// contract. 0 where a path is absent.
type vsFullDecode struct {
	Default float64 `json:"default_db"` // ferryd, default mode
	Fast    float64 `json:"fast_db"`    // ferryd, fast mode
	Vips    float64 `json:"vips_db"`    // libvips, pyvips thumbnail_buffer
	Govips  float64 `json:"govips_db"`  // libvips through govips
}

// referenceOf is the reference PNG of the named photo in dir, nil when there is none.
func referenceOf(dir, name string) []byte {
	if dir == "" {
		return nil
	}
	ref, err := os.ReadFile(filepath.Join(dir, name+".png"))
	if err != nil {
		return nil
	}
	return ref
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
