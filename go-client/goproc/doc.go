// Package goproc is the in-process, pure-Go implementation of ferryd's jobs: resize and checksum
// with the same requests, results and refusals as the daemon (ferry.ResizeRequest,
// ferry.ResizeResult, *ferry.ServerError with the protocol's codes). It needs no daemon, so it is
// what the router (package router) falls back to, and what a service runs when the daemon is
// switched off. A Processor implements ferry.Processor, like *ferry.Client.
//
//	p := goproc.New(goproc.WithLimits(goproc.Limits{MaxPixels: 50_000_000}))
//	res, err := p.Resize(ctx, ferry.ResizeRequest{Image: photo, Width: 400, Height: 400})
//	switch {
//	case ferry.IsInvalidInput(err):
//		// bad image, over the limits, bad arguments: the daemon would refuse it the same way
//	case err != nil:
//		return err
//	}
//	_ = res.Served.String() // "go/direct"
//
// # Behaviour
//
// Resize checks the arguments, then reads the size from the image header and refuses an input
// over Limits (image_too_large) before anything is decoded, so a decompression bomb costs a few
// bytes of header. Decoding uses the format's own decoder (image/jpeg, image/png, image/gif,
// golang.org/x/image/webp, libavif for AVIF), not image.Decode. Checksum feeds the data to every
// algorithm in one pass; its digests equal the daemon's byte for byte.
// Probe reads a header as the daemon's probe does (the same fields and refusals; Memory is this
// path's own figure) without taking a job slot, and ResizeRequest.NoEnlarge plans outputs as the
// daemon does.
//
// # Formats
//
// Input: JPEG, PNG, GIF, WebP and AVIF. An AVIF is sniffed by its ftyp brands; before any
// decoder runs, its size is read from the primary item's ispe property and the size of every AV1
// frame it holds (primary, alpha, grid tiles, thumbnails) from the sequence header its data
// starts with, and all are held to Limits: a header that declares less than its frames hold is
// refused by its frames (image_too_large), not decoded. Output: JPEG, PNG, WebP and AVIF. WebP
// output is lossy at Quality, as the daemon's: libwebp, method 4, the daemon's settings; AVIF
// output is libavif with libaom at Quality (alpha at the same quality), 4:2:0, speed 8. Both run
// as WebAssembly in the wazero runtime (github.com/gen2brain/webp and /avif): no cgo, no C
// toolchain, the same libraries as the daemon's. On the sample photos the Go path's WebP is
// 0.88x to 1.00x the daemon's size and 38.0 to 43.2 dB from it (TestParityWithDaemon; the lossless
// WebP it wrote before was 7.3x to 13.5x), its AVIF 0.76x to 1.00x and 40.2 to 44.6 dB.
//
// Lossy WebP input is decoded by golang.org/x/image/webp, whose YCbCr planes are limited-range
// BT.601 (Y 16..235): Go's image/color would read them as full-range JFIF, washed out, so they
// are converted as libwebp converts them (its fancy chroma upsampling included), within 1 of
// libwebp's dwebp per sample. A lossy WebP's thumbnail is 50.9 to 71.3 dB from the daemon's on
// the sample photos, opaque and with alpha (27.2 to 34.6 dB before; TestParityLossyWebPInput).
//
// Not on the Go path, with an error matching ErrNotOnGoPath from the header alone (nothing
// decoded; not invalid input, not worth a retry here), which the router treats like
// WithoutFallback: HEIC input (the pure-Go candidate, github.com/gen2brain/heic, embeds libheif
// and libde265, LGPL-3.0, into every binary that imports this package, and decodes only), and
// AVIF whose primary image has a clean aperture (clap), a crop the Go path does not apply.
// Processor.Serves says so for a request before it is sent. An AVIF's rotation and mirror (irot,
// imir) are applied, as libheif applies them, whatever NoAutoOrient says; its EXIF orientation
// is not read.
//
// # The WebAssembly codecs
//
// Each codec package compiles its module once per process, on its first call, and keeps it
// (about 6 MB resident for WebP, 5 MB for the AVIF decoder, 12 MB for the AVIF encoder; compiling
// all three peaks at about 115 MB). On a loaded 2-core machine (TestWASMFirstCallCost) a 400x267
// thumbnail's first WebP encode took 0.8 s, its first AVIF encode 2.3 s and its first AVIF
// decode 0.8 s; the next ones 14 to 110 ms (BenchmarkWASMEncode). Call Warm at start-up (in a
// goroutine if start-up must be quick) so that no request's deadline pays for it. Every call
// instantiates the module afresh with its own linear memory, freed when the call ends (for a
// 400x267 thumbnail about 1.5 MB for WebP and 20 to 30 MB for AVIF, whose encoder keeps large
// tables), so calls run in parallel, bounded by the job slots (WithConcurrency).
//
// They import github.com/ebitengine/purego, with which they first try a shared libwebp or libavif
// (libwebp.so, libavif.so: the development packages' names) and use the WebAssembly build when
// none loads. purego makes a Linux binary built with CGO_ENABLED=0 dynamically linked (it needs
// the C library's loader at run time): build with -tags nodynamic for a static binary that
// always uses the WebAssembly codecs (a scratch or distroless-static container needs it).
//
// At most Concurrency jobs run at once (WithConcurrency; GOMAXPROCS by default). A call that
// finds every slot taken waits for one at most the queue wait (WithQueueWait, DefaultQueueWait)
// and until its context ends, then fails with ErrSaturated (busy, safe to retry) without doing
// any work. The context is checked between stages (before decode, resize, orientation and encode; between
// 1 MiB chunks of a checksum). Go's decoders and scalers cannot be interrupted, so a call whose
// context ends returns at once with deadline_exceeded or cancelled, a *ferry.ServerError that
// also wraps the context's error (errors.Is(err, context.DeadlineExceeded) holds), and the
// abandoned stage finishes in the background and stops at the next stage check.
//
// # Differences from ferryd
//
// These are by design or for lack of a pure-Go library; the router's documentation lists what
// they mean for a fallback.
//   - Metadata (KeepICC, KeepMetadata) is not written into WebP or AVIF output.
//   - Embedded ICC profiles are not applied: pixels are taken as sRGB (the daemon converts to
//     sRGB with Little CMS), so a wide-gamut photo looks duller; CMYK JPEGs use the standard
//     library's naive conversion. KeepICC and KeepMetadata copy the profile, EXIF and XMP into
//     JPEG and PNG output.
//   - JPEG output uses image/jpeg: 4:2:0 chroma subsampling at every quality (the daemon's
//     libjpeg-turbo keeps full chroma from quality 90), so sizes and artefacts differ at the same
//     Quality.
//   - PNG output of a grayscale input with transparency is RGBA (the daemon writes gray+alpha).
//   - Lanczos3 is a true 3-lobe Lanczos kernel through golang.org/x/image/draw.Kernel; nearest,
//     bilinear and Catmull-Rom are x/image/draw's own. A fill crop is rounded to whole source
//     pixels (the daemon keeps it fractional): at most half a pixel of shift.
package goproc
