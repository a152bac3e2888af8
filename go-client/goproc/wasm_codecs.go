package goproc

import (
	"bytes"
	"image"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"
)

// The lossy codecs that Go has no native package for run libwebp and libavif (with libaom)
// compiled to WebAssembly, in the wazero runtime (github.com/gen2brain/webp and /avif): no cgo,
// the same libraries as the daemon's. Each package compiles its module once per process, on its
// first call (the cold call: see the package documentation for what it costs), and instantiates
// it afresh, with its own linear memory, for every call, so calls run in parallel and their
// memory is returned when the call ends. The Processor's job slots bound how many run at once.

// webpMethod is libwebp's speed/size trade-off (0 fast .. 6 small): 4, libwebp's default and
// what the daemon's encoder (libwebp's simple API) uses.
const webpMethod = 4

// encodeWebP writes lossy WebP at quality, as the daemon does. libwebp takes straight alpha.
func encodeWebP(buf *bytes.Buffer, img *image.RGBA, quality int) error {
	return webp.Encode(buf, unpremultiply(img), webp.Options{Quality: quality, Method: webpMethod})
}

// avifSpeed is libaom's speed (0 slow .. 10 fast) for AVIF output: thumbnails are made often and
// in a request's time, so speed matters more than the last few percent of size.
const avifSpeed = 8

// encodeAVIF writes AVIF at quality (libavif's 0..100 scale, alpha at the same quality), 4:2:0.
// The encoder takes premultiplied RGBA, which img is.
func encodeAVIF(buf *bytes.Buffer, img *image.RGBA, quality int) error {
	return avif.Encode(buf, img, avif.Options{
		Quality: quality, QualityAlpha: quality, Speed: avifSpeed,
		ChromaSubsampling: image.YCbCrSubsampleRatio420,
	})
}

// decodeAVIF decodes the primary image (8-bit premultiplied RGBA, or 16-bit for deeper files).
func decodeAVIF(b []byte) (image.Image, error) {
	return avif.Decode(bytes.NewReader(b))
}

// Warm compiles the WebAssembly codecs now (about a second or two of CPU, once per process)
// rather than in the first WebP or AVIF job: call it at start-up, in the background if start-up
// must be quick, so that no caller's deadline pays for it. Safe to call more than once and
// concurrently.
func Warm() {
	webp.Init()
	avif.InitEncoder()
	avif.InitDecoder()
}
