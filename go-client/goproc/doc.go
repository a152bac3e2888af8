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
// golang.org/x/image/webp), not image.Decode. Checksum feeds the data to every algorithm in one
// pass; its digests equal the daemon's byte for byte. Probe reads a header as the daemon's probe
// does (the same fields and refusals; Memory is this path's own figure) without taking a job
// slot, and ResizeRequest.NoEnlarge plans outputs as the daemon does.
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
//   - WebP output is lossless (VP8L, github.com/HugoSmits86/nativewebp): Quality is ignored and
//     files are several times larger than the daemon's lossy VP8. Same size, same pixels up to
//     rounding. Metadata (KeepICC, KeepMetadata) is not written into WebP output.
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
