package goproc

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/png"

	ferry "github.com/ferryd/ferry/go-client"

	"golang.org/x/image/webp"
)

// The largest side each output format can store; a larger output is invalid_argument, as in
// the daemon.
const (
	maxSideJPEG = 65535
	maxSideWebP = 16383
	maxSidePNG  = 1<<31 - 1
	// The daemon's AVIF limit (libheif 1.15's security limit on one picture); AV1 and the Go
	// path's libavif would store up to 65536, but both paths refuse the same outputs.
	maxSideAVIF = 16384
)

// resizeParams is a ferry.ResizeRequest with every default applied and every word checked.
type resizeParams struct {
	width, height int
	mode          ferry.Mode
	anchor        ferry.Anchor
	filter        ferry.Filter
	format        ferry.Format
	quality       int
	autoOrient    bool
	keepICC       bool
	keepMetadata  bool
	noEnlarge     bool // the output is never larger than the input (zero: it may be, the default)
}

// validateResize applies the protocol defaults and refuses, as invalid_argument, what the daemon
// refuses before it looks at the image: unknown words, a negative or oversized box side, a box
// that does not suit the mode, a fill or exact box over max_pixels, a quality outside 1..100.
func (p *Processor) validateResize(req *ferry.ResizeRequest) (resizeParams, error) {
	rp := resizeParams{
		width: req.Width, height: req.Height,
		mode: req.Mode, anchor: req.Anchor, filter: req.Filter, format: req.Format,
		quality:    req.Quality,
		autoOrient: !req.NoAutoOrient, keepICC: req.KeepICC, keepMetadata: req.KeepMetadata,
		noEnlarge: req.NoEnlarge,
	}
	if rp.mode == "" {
		rp.mode = ferry.ModeFit
	}
	if rp.anchor == "" {
		rp.anchor = ferry.AnchorCenter
	}
	if rp.filter == "" {
		rp.filter = ferry.FilterLanczos3
	}
	if rp.format == "" {
		rp.format = ferry.FormatJPEG
	}
	if rp.quality == 0 {
		rp.quality = ferry.DefaultQuality
	}
	switch rp.mode {
	case ferry.ModeFit, ferry.ModeFill, ferry.ModeExact:
	default:
		return rp, refuse(ferry.CodeInvalidArgument, "unknown mode %q", rp.mode)
	}
	if _, ok := anchorFractions[rp.anchor]; !ok {
		return rp, refuse(ferry.CodeInvalidArgument, "unknown anchor %q", rp.anchor)
	}
	if _, ok := filterKernels[rp.filter]; !ok {
		return rp, refuse(ferry.CodeInvalidArgument, "unknown filter %q", rp.filter)
	}
	switch rp.format {
	case ferry.FormatJPEG, ferry.FormatPNG, ferry.FormatWebP, ferry.FormatAVIF:
	default:
		return rp, refuse(ferry.CodeInvalidArgument, "unknown output format %q", rp.format)
	}
	w, h, maxDim := rp.width, rp.height, p.limits.MaxDimension
	if w < 0 || h < 0 {
		return rp, refuse(ferry.CodeInvalidArgument, "box %dx%d: sides must not be negative", w, h)
	}
	if w > maxDim || h > maxDim {
		return rp, refuse(ferry.CodeInvalidArgument, "box %dx%d: each side must be at most max_dimension %d", w, h, maxDim)
	}
	switch {
	case rp.mode == ferry.ModeFit && w == 0 && h == 0:
		return rp, refuse(ferry.CodeInvalidArgument, "fit needs a non-zero width or height")
	case rp.mode != ferry.ModeFit && (w == 0 || h == 0):
		return rp, refuse(ferry.CodeInvalidArgument, "%s needs both width and height, got %dx%d", rp.mode, w, h)
	}
	if rp.mode != ferry.ModeFit {
		if err := p.checkOutputSize(w, h); err != nil {
			return rp, err
		}
	}
	if rp.quality < 1 || rp.quality > 100 {
		return rp, refuse(ferry.CodeInvalidArgument, "quality %d is outside 1..=100", rp.quality)
	}
	return rp, nil
}

// checkOutputSize refuses an output the daemon would refuse as an input: enlarging is allowed,
// but not into a bomb.
func (p *Processor) checkOutputSize(w, h int) error {
	if w > p.limits.MaxDimension || h > p.limits.MaxDimension {
		return refuse(ferry.CodeInvalidArgument, "output %dx%d has a side over max_dimension %d", w, h, p.limits.MaxDimension)
	}
	if int64(w)*int64(h) > p.limits.MaxPixels {
		return refuse(ferry.CodeInvalidArgument, "output %dx%d exceeds max_pixels %d", w, h, p.limits.MaxPixels)
	}
	return nil
}

// maxOutputSide is the largest side format can store.
func maxOutputSide(f ferry.Format) int {
	switch f {
	case ferry.FormatJPEG:
		return maxSideJPEG
	case ferry.FormatWebP:
		return maxSideWebP
	case ferry.FormatAVIF:
		return maxSideAVIF
	}
	return maxSidePNG
}

// sniffFormat tells the input's format from its first bytes, with the same magic numbers as the
// daemon; anything else is bad_image.
func sniffFormat(b []byte) (ferry.Format, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return ferry.FormatJPEG, nil
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return ferry.FormatPNG, nil
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return ferry.FormatGIF, nil
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return ferry.FormatWebP, nil
	}
	if f := sniffHEIF(b); f != "" {
		return f, nil
	}
	return "", refuse(ferry.CodeBadImage, "not a JPEG, PNG, WebP, GIF, AVIF or HEIC image")
}

// headerSize reads the stored size (before EXIF orientation) from the image header alone, with
// the format's DecodeConfig (JPEG: its marker segments): nothing proportional to the pixel count is allocated. For GIF it
// is the logical screen, which the first frame is drawn onto.
func headerSize(b []byte, f ferry.Format) (int, int, error) {
	var cfg image.Config
	var err error
	r := bytes.NewReader(b)
	switch f {
	case ferry.FormatJPEG:
		// Walked by hand, as the daemon does: image/jpeg's DecodeConfig stops at the frame
		// header of a JFIF file but reads on to the scan otherwise, so the two paths would
		// disagree on headers that are cut short.
		segs, herr := jpegHeader(b)
		if herr != nil {
			return 0, 0, herr
		}
		cfg.Width, cfg.Height, err = jpegFrameSize(segs)
		if err != nil {
			return 0, 0, err
		}
	case ferry.FormatPNG:
		cfg, err = png.DecodeConfig(r)
	case ferry.FormatGIF:
		cfg, err = gif.DecodeConfig(r)
	case ferry.FormatWebP:
		cfg, err = webp.DecodeConfig(r)
	case ferry.FormatAVIF:
		h, herr := readHEIFHeader(b, f)
		if herr != nil {
			return 0, 0, herr
		}
		if h.cropped {
			return 0, 0, notOnGoPath(f, "the primary image has a clean aperture (clap), a crop the Go path does not apply")
		}
		cfg.Width, cfg.Height = h.width, h.height
	default: // ferry.FormatHEIC
		return 0, 0, notOnGoPath(f, "no HEVC decoder on the Go path")
	}
	if err != nil {
		return 0, 0, refuse(ferry.CodeBadImage, "%s header: %v", f, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, refuse(ferry.CodeBadImage, "%s: header declares %dx%d", f, cfg.Width, cfg.Height)
	}
	return cfg.Width, cfg.Height, nil
}

// checkInputSize is the decompression-bomb guard: image_too_large when the header declares a
// side over max_dimension or an area over max_pixels. It runs before any decoder.
func (p *Processor) checkInputSize(w, h int) error {
	if w > p.limits.MaxDimension || h > p.limits.MaxDimension {
		return refuse(ferry.CodeImageTooLarge, "image %dx%d exceeds max_dimension %d", w, h, p.limits.MaxDimension)
	}
	if int64(w)*int64(h) > p.limits.MaxPixels {
		return refuse(ferry.CodeImageTooLarge, "image %dx%d exceeds max_pixels %d", w, h, p.limits.MaxPixels)
	}
	return nil
}

// checkInputBytes refuses an input the daemon could not have received.
func (p *Processor) checkInputBytes(n int) error {
	if n > p.limits.MaxInputBytes {
		return fmt.Errorf("%w: resize image of %d bytes, limit %d", ferry.ErrRequestTooLarge, n, p.limits.MaxInputBytes)
	}
	return nil
}
