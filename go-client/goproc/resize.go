package goproc

import (
	"bytes"
	"context"
	"fmt"
	"image"
	stddraw "image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"sync/atomic"

	ferry "github.com/ferryd/ferry/go-client"

	"golang.org/x/image/webp"
)

// Resize decodes req.Image, applies its EXIF orientation, resizes it into the requested box and
// encodes it, in this process (SPEC.md 5.3). Arguments are checked first, then the header
// against the limits, and only then is anything decoded. Refusals are *ferry.ServerError with the
// daemon's codes; a context that ends yields deadline_exceeded or cancelled, wrapping the context's error.
// req.Image is only read, and not after Resize returns. req.File, when set instead, is read
// whole with ReadAt first (bad_file rules as in the daemon, size within MaxInputBytes); so is
// req.ImageReader (req.ImageSize bytes, an *os.File of that size taken as File).
//
// With req.Outputs set, the image is decoded once and every output made from it, as the daemon
// does (SPEC.md 5.3.1); see resizeSeveral.
func (p *Processor) Resize(ctx context.Context, req ferry.ResizeRequest) (*ferry.ResizeResult, error) {
	if err := req.ResolveReader(int64(p.limits.MaxInputBytes)); err != nil {
		return nil, err
	}
	if req.File != nil {
		image, err := p.readWholeFile(ctx, req.File, req.Image)
		if err != nil {
			return nil, err
		}
		req.Image, req.File = image, nil
	}
	if err := p.checkInputBytes(len(req.Image)); err != nil {
		return nil, err
	}
	if len(req.Outputs) > 0 {
		return p.resizeSeveral(ctx, &req)
	}
	rp, err := p.validateResize(&req)
	if err != nil {
		return nil, err
	}
	h, err := p.readHeader(req.Image, rp.autoOrient)
	if err != nil {
		return nil, err
	}
	plan, err := p.planOutput(&h, &rp)
	if err != nil {
		return nil, err
	}
	if err := stageCheck(ctx, "decode"); err != nil {
		return nil, err
	}

	return runResize(ctx, p, func() (*ferry.ResizeResult, error) {
		src, err := decodeImage(req.Image, h.format, h.storedW, h.storedH)
		if err != nil {
			return nil, err
		}
		if err := stageCheck(ctx, "resize"); err != nil {
			return nil, err
		}
		out, err := makeOutput(ctx, decodedSource(src), h.orientation, plan, &rp, &h.meta)
		if err != nil {
			return nil, err
		}
		return &ferry.ResizeResult{
			Image:        out,
			Width:        plan.width,
			Height:       plan.height,
			Format:       rp.format,
			SourceWidth:  h.uprightW,
			SourceHeight: h.uprightH,
			SourceFormat: h.format,
			Served:       ferry.Served{Path: ferry.PathGo, Reason: ferry.ReasonDirect},
		}, nil
	})
}

// header is what an input's header says, read and checked against the limits before anything is
// decoded: the format, the stored size, the metadata, the orientation to apply and the size after it.
type header struct {
	format             ferry.Format
	storedW, storedH   int
	meta               imageMeta
	orientation        int
	uprightW, uprightH int
}

func (p *Processor) readHeader(img []byte, autoOrient bool) (header, error) {
	h := header{orientation: 1}
	var err error
	if h.format, err = sniffFormat(img); err != nil {
		return h, err
	}
	if h.storedW, h.storedH, err = headerSize(img, h.format); err != nil {
		return h, err
	}
	if err := p.checkInputSize(h.storedW, h.storedH); err != nil {
		return h, err
	}
	if h.format == ferry.FormatAVIF {
		// The frames the decoder would decode, which need not be what ispe declares.
		if err := p.checkAV1Frames(img); err != nil {
			return h, err
		}
	}
	h.meta = readMeta(img, h.format)
	switch {
	case h.format == ferry.FormatAVIF:
		// irot and imir are part of the image, applied whatever the request says, as libheif
		// (the daemon's reader) applies them; an AVIF's EXIF orientation is not read.
		hh, _ := readHEIFHeader(img, h.format) // parsed once already by headerSize
		h.orientation = hh.orientation()
	case autoOrient:
		h.orientation = h.meta.orientation()
	}
	h.uprightW, h.uprightH = uprightSize(h.orientation, h.storedW, h.storedH)
	return h, nil
}

// planOutput plans one output of the input h describes, refusing one its format cannot store.
func (p *Processor) planOutput(h *header, rp *resizeParams) (resizePlan, error) {
	plan, err := p.planResize(h.uprightW, h.uprightH, rp)
	if err != nil {
		return plan, err
	}
	if side := maxOutputSide(rp.format); plan.width > side || plan.height > side {
		return plan, refuse(ferry.CodeInvalidArgument, "output %dx%d exceeds what %s can store (%d per side)",
			plan.width, plan.height, rp.format, side)
	}
	return plan, nil
}

// runResize runs the decode-and-resize work under the concurrency limit; a panic in it is an
// internal error, as the daemon reports one.
func runResize(ctx context.Context, p *Processor, work func() (*ferry.ResizeResult, error)) (*ferry.ResizeResult, error) {
	return runLimited(ctx, p, func() (res *ferry.ResizeResult, err error) {
		defer func() {
			if r := recover(); r != nil {
				res, err = nil, refuse(ferry.CodeInternal, "go resize panicked: %v", r)
			}
		}()
		return work()
	})
}

// decoded is a decoded input ready to be resized, possibly more than once.
type decoded struct {
	img  image.Image // in a type the scaler reads directly (see scalable)
	gray bool        // the input was grayscale, which the JPEG output may stay
}

func decodedSource(src image.Image) decoded {
	_, gray := src.(*image.Gray)
	if _, gray16 := src.(*image.Gray16); gray16 {
		gray = true
	}
	return decoded{img: scalable(src), gray: gray}
}

// makeOutput makes one output from the decoded stored picture: its planned region (upright
// coordinates, mapped into the stored picture by orientation o) resized, turned upright and
// encoded with the metadata rp keeps.
func makeOutput(ctx context.Context, src decoded, o int, plan resizePlan, rp *resizeParams, meta *imageMeta) ([]byte, error) {
	b := src.img.Bounds()
	storedW, storedH := b.Dx(), b.Dy()
	stored := regionToStored(o, plan.region, storedW, storedH)
	outW, outH := plan.width, plan.height
	if transposes(o) {
		outW, outH = outH, outW
	}
	sr := stored.pixelRect(storedW, storedH).Add(b.Min)
	resized := resample(src.img, sr, outW, outH, rp.filter)

	if err := stageCheck(ctx, "orient"); err != nil {
		return nil, err
	}
	upright := orientRGBA(o, resized)

	if err := stageCheck(ctx, "encode"); err != nil {
		return nil, err
	}
	var extras imageMeta
	if rp.keepICC {
		extras.icc = meta.icc
	}
	if rp.keepMetadata {
		extras.exif, extras.xmp = meta.exif, meta.xmp
		if rp.autoOrient && extras.exif != nil {
			extras.exif = exifUpright(extras.exif)
		}
	}
	return encodeOutput(upright, rp.format, rp.quality, src.gray, extras)
}

// decodes counts decodeImage calls, so a test can check that a request with several outputs
// decodes its image once.
var decodes atomic.Int64

// decodeImage decodes the pixels with the format's own decoder (not image.Decode, which would
// depend on what the program happens to have registered). Corrupt or truncated input, and a
// decoder that panics on it, is bad_image. Lossy WebP comes back as RGB(A) (see vp8ToRGB). A GIF's first frame is drawn onto its logical
// screen, as the daemon does.
func decodeImage(b []byte, f ferry.Format, w, h int) (img image.Image, err error) {
	decodes.Add(1)
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, refuse(ferry.CodeBadImage, "%s decoder failed: %v", f, r)
		}
	}()
	r := bytes.NewReader(b)
	switch f {
	case ferry.FormatJPEG:
		img, err = jpeg.Decode(r)
	case ferry.FormatPNG:
		img, err = png.Decode(r)
	case ferry.FormatWebP:
		img, err = webp.Decode(r)
	case ferry.FormatAVIF:
		img, err = decodeAVIF(b)
	case ferry.FormatGIF:
		img, err = gif.Decode(r)
		if err == nil && img.Bounds() != image.Rect(0, 0, w, h) {
			canvas := image.NewRGBA(image.Rect(0, 0, w, h))
			stddraw.Draw(canvas, img.Bounds(), img, img.Bounds().Min, stddraw.Src)
			img = canvas
		}
	}
	if err != nil {
		return nil, refuse(ferry.CodeBadImage, "%s: %v", f, err)
	}
	if f == ferry.FormatWebP {
		// x/image/webp leaves lossy WebP in limited-range YCbCr that Go would read as full range.
		if img, err = vp8ToRGB(img); err != nil {
			return nil, err
		}
	}
	if got := img.Bounds(); got.Dx() != w || got.Dy() != h {
		return nil, refuse(ferry.CodeBadImage, "%s: header says %dx%d, pixels are %dx%d", f, w, h, got.Dx(), got.Dy())
	}
	return img, nil
}

// String names a plan for logs and test failures.
func (p resizePlan) String() string {
	return fmt.Sprintf("%dx%d from %.1f,%.1f %.1fx%.1f", p.width, p.height, p.region.x, p.region.y, p.region.w, p.region.h)
}
