package goproc

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferryd/ferry/go-client/internal/testimages"

	gen2brain "github.com/gen2brain/webp"
	"golang.org/x/image/webp"
)

// BenchmarkWebPDecode12MP compares the two WebP decoders the Go path could use on a 12 MP lossy
// WebP (q90), opaque and with alpha, each followed by vp8ToRGB: golang.org/x/image/webp (pure
// Go, what decodeImage uses) and github.com/gen2brain/webp (libwebp: the system's libwebp.so
// through purego when one is installed, else libwebp compiled to WebAssembly; -tags nodynamic
// forces the WebAssembly build). Both hand back the same limited-range 4:2:0 planes, so both need
// the conversion. The picture is sunset.jpg (4272x2848) from FERRY_CORPUS when set (the
// corpus of benches/README.md), else a painted picture of that size. B/op counts the Go heap,
// which holds wazero's linear memory but not what a system libwebp mallocs.
//
//	FERRY_CORPUS=/path/to/corpus go test ./goproc -run '^$' -bench WebPDecode12MP -benchtime 5x
//
// On the shared 2-core VM at load 0.7-1.1, per 12 MP decode and conversion, opaque / alpha:
// x/image 297 / 343 ms and 68 / 129 MB; gen2brain through the system's libwebp 149 / 179 ms and
// 81 / 81 MB (plus libwebp's own buffers); gen2brain as WebAssembly (-tags nodynamic) 630 / 629 ms
// and 122 / 313 MB. decodeImage keeps x/image: the WebAssembly build, what runs where no
// libwebp.so is installed, is 2x slower with 2-3x the memory; the system library is 2x faster
// but present only with libwebp-dev; and gen2brain asks libwebp for YUV 4:2:0 even for lossless
// WebP, which x/image decodes to RGB exactly.
func BenchmarkWebPDecode12MP(b *testing.B) {
	src := benchPhoto12MP(b)
	bounds := src.Bounds()
	inputs := []struct {
		name string
		data []byte
	}{
		{"opaque", lossyWebP(b, src, 90)},
		{"alpha", lossyWebP(b, withAlphaRamp(src, bounds.Dx(), bounds.Dy()), 90)},
	}
	decoders := []struct {
		name   string
		decode func([]byte) (image.Image, error)
	}{
		{"ximage", func(d []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(d)) }},
		{"gen2brain", func(d []byte) (image.Image, error) { return gen2brain.Decode(bytes.NewReader(d)) }},
	}
	gen2brain.Init()
	for _, in := range inputs {
		for _, dec := range decoders {
			b.Run(in.name+"/"+dec.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(bounds.Dx() * bounds.Dy()))
				for range b.N {
					planes, err := dec.decode(in.data)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := vp8ToRGB(planes); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchPhoto12MP is sunset.jpg from FERRY_CORPUS, or a painted picture of its size.
func benchPhoto12MP(b *testing.B) image.Image {
	if dir := os.Getenv("FERRY_CORPUS"); dir != "" {
		data, err := os.ReadFile(filepath.Join(dir, "sunset.jpg"))
		if err != nil {
			b.Fatal(err)
		}
		return decodeOutput(b, data)
	}
	b.Log("FERRY_CORPUS is not set: a painted 4272x2848 picture instead of sunset.jpg")
	return testimages.Painted(4272, 2848)
}
