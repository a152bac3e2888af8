package ferry

import (
	"context"
	"io"
	"os"
)

// Mode says how a resize fits the image into the requested box.
type Mode string

const (
	// ModeFit scales the image to fit inside the box, keeping its aspect ratio.
	// A zero Width or Height leaves that side unconstrained. It ENLARGES an image smaller than
	// the box (640x427 into a 1200 box is 1200x801) unless the request sets NoEnlarge, which
	// keeps such an image at its own size.
	ModeFit Mode = "fit"
	// ModeFill scales the image to cover the box, then crops it at the Anchor; it too enlarges
	// an image smaller than the box unless NoEnlarge, which then outputs the crop at its own
	// size: the largest size of the box's aspect the image holds (640x427 into a 1000x1000 fill
	// is 427x427).
	ModeFill Mode = "fill"
	// ModeExact scales the image to exactly Width x Height, ignoring aspect ratio; with
	// NoEnlarge each side is at most the image's.
	ModeExact Mode = "exact"
)

// Anchor says which part of the image survives the crop in ModeFill.
type Anchor string

// The anchors of ModeFill.
const (
	AnchorCenter      Anchor = "center"
	AnchorTop         Anchor = "top"
	AnchorBottom      Anchor = "bottom"
	AnchorLeft        Anchor = "left"
	AnchorRight       Anchor = "right"
	AnchorTopLeft     Anchor = "top_left"
	AnchorTopRight    Anchor = "top_right"
	AnchorBottomLeft  Anchor = "bottom_left"
	AnchorBottomRight Anchor = "bottom_right"
)

// Filter is the resampling kernel of a resize.
type Filter string

// The resampling filters, from fastest to sharpest.
const (
	FilterNearest    Filter = "nearest"
	FilterBilinear   Filter = "bilinear"
	FilterCatmullRom Filter = "catmull_rom"
	FilterLanczos3   Filter = "lanczos3"
)

// Format is an image format. The daemon's Resize reads JPEG, PNG, WebP, GIF, HEIC/HEIF and AVIF
// and writes JPEG, PNG, WebP and AVIF (ServerInfo.InputFormats and OutputFormats list what a
// running daemon serves).
type Format string

// The image formats.
const (
	FormatJPEG Format = "jpeg"
	FormatPNG  Format = "png"
	FormatWebP Format = "webp"
	FormatGIF  Format = "gif"
	// FormatHEIC is HEIF with HEVC pictures, as phones write them: read, never written. A HEIF
	// file with AV1 pictures is FormatAVIF.
	FormatHEIC Format = "heic"
	// FormatAVIF is AVIF (HEIF with AV1 pictures): read and written by the daemon.
	FormatAVIF Format = "avif"
)

// Algorithm is a checksum algorithm.
type Algorithm string

// The checksum algorithms. Digests are big-endian for CRC32C and XXH3-64.
const (
	CRC32C Algorithm = "crc32c"
	// XXH3_64 is XXH3 with 64-bit output and seed 0 (not XXH64).
	XXH3_64 Algorithm = "xxh3_64"
	SHA256  Algorithm = "sha256"
	BLAKE3  Algorithm = "blake3"
)

// Defaults applied where a request field is left at its zero value, and the daemon's default
// limits. They match protocol/SPEC.md.
const (
	DefaultQuality      = 80
	DefaultMaxFrame     = 128 << 20
	DefaultMaxPixels    = 100_000_000
	DefaultMaxDimension = 32768
	// MaxOutputs is the most outputs one ResizeRequest may ask for.
	MaxOutputs = 8
)

// ResizeRequest asks for one thumbnail, or with Outputs for several of the same image. The zero
// value of every optional field is the protocol default: ModeFit, AnchorCenter, FilterLanczos3,
// FormatJPEG, quality 80, EXIF orientation applied, ICC converted to sRGB, metadata stripped.
type ResizeRequest struct {
	// Image is the encoded input: JPEG, PNG, WebP or GIF (first frame).
	Image []byte
	// File, instead of Image, is an open file holding the encoded input: the daemon gets its
	// descriptor (resize_file, SPEC.md 5.7) and reads it itself; the Go path reads it with
	// ReadAt. Set exactly one of Image, File and ImageReader. Its offset is never moved.
	File *os.File
	// ImageReader, with ImageSize, is the input as the first ImageSize bytes of a reader: an
	// upload as it arrives (a multipart.File from http.Request.FormFile, with the
	// multipart.FileHeader's Size), without a temporary file or a []byte of the caller's. An
	// *os.File holding exactly ImageSize bytes (multipart keeps large uploads in one) goes by
	// descriptor, as File does; any other reader is read once with ReadAt, at most ImageSize
	// bytes (over the daemon's max_frame, or goproc's MaxInputBytes: ErrRequestTooLarge before
	// anything is read). A reader holding fewer bytes, or failing, is refused with
	// ErrInvalidArgument. It must stay readable until the call returns.
	ImageReader io.ReaderAt
	// ImageSize is the number of bytes of ImageReader that are the input; set with ImageReader
	// only.
	ImageSize int64
	// Width and Height are the box. In ModeFit one of them may be zero (unconstrained).
	Width, Height int
	Mode          Mode
	Anchor        Anchor
	Filter        Filter
	Format        Format
	// Quality is 1..100 for JPEG and WebP output; zero means DefaultQuality.
	Quality int
	// NoAutoOrient leaves the EXIF orientation unapplied.
	NoAutoOrient bool
	// KeepICC leaves pixels in their embedded colour profile and embeds it in the output.
	KeepICC bool
	// KeepMetadata copies EXIF and XMP to the output where the format allows.
	KeepMetadata bool
	// Fast trades quality for speed: the daemon decodes a large JPEG at 1/8 with a smaller
	// margin over the output (SPEC.md 5.3, "fast"), measured up to about 7 dB below the
	// default on fine detail such as text and stripes. For every output of the request. The
	// in-process Go path ignores it.
	Fast bool
	// NoEnlarge keeps the output no larger than the input (after orientation) on either axis
	// (the protocol's enlarge false, SPEC.md 5.3): by default every mode enlarges an image
	// smaller than the box. See Mode for what each mode does instead. With Outputs, set it per
	// output.
	NoEnlarge bool
	// Outputs, when non-empty, asks for up to MaxOutputs thumbnails from one decode of Image,
	// each with its own box, mode, anchor, filter, format and quality (SPEC.md 5.3.1). The box
	// fields above (Width to Quality, and NoEnlarge) must then be zero; NoAutoOrient, KeepICC and KeepMetadata
	// apply to every output. The result's Outputs holds the thumbnails in this order.
	//
	// The image is decoded once, at the size the largest output needs, and smaller outputs may be
	// made from larger ones, so an output can differ slightly from the same thumbnail asked for
	// alone (its size never does). Any failure fails the whole request.
	Outputs []OutputSpec
	// Key is a routing key for the router (package router): requests with the same key take the same path in
	// percentage mode, so retries land where the first attempt did. Never sent to the daemon.
	Key string
}

// OutputSpec is one thumbnail of a ResizeRequest with Outputs: the same fields, defaults and
// limits as the request's single-output box fields.
type OutputSpec struct {
	// Width and Height are the box. In ModeFit one of them may be zero (unconstrained).
	Width, Height int
	Mode          Mode
	Anchor        Anchor
	Filter        Filter
	Format        Format
	// Quality is 1..100 for JPEG and WebP output; zero means DefaultQuality.
	Quality int
	// NoEnlarge keeps this output no larger than the input; see ResizeRequest.NoEnlarge.
	NoEnlarge bool
}

// Output is one thumbnail of a ResizeResult with Outputs.
type Output struct {
	Image         []byte
	Width, Height int
	Format        Format
}

// ResizeResult is a thumbnail and what was done to make it. For a request with Outputs, Outputs
// holds one thumbnail per requested output, in request order, and Image, Width, Height and
// Format are zero.
type ResizeResult struct {
	Image         []byte
	Width, Height int
	Format        Format
	// Outputs holds the thumbnails of a request with Outputs; nil otherwise.
	Outputs []Output
	// SourceWidth and SourceHeight are the input's size after orientation.
	SourceWidth, SourceHeight int
	SourceFormat              Format
	// Served records which path produced the result and why.
	Served Served
}

// ChecksumRequest asks for digests of Data (or of File), all computed in one pass.
type ChecksumRequest struct {
	Data []byte
	// File, instead of Data, is an open regular file to digest: the daemon gets its descriptor
	// (checksum_file, SPEC.md 5.7) and reads it itself; the Go path reads it with ReadAt. Data
	// must be nil when File is set. Its offset is never moved.
	File *os.File
	// DataReader, with DataSize, is the data as the first DataSize bytes of a reader (an upload's
	// multipart.File, with its header's Size), instead of Data or File: an *os.File of exactly
	// DataSize bytes goes by descriptor, any other reader is read once with ReadAt, as for
	// ResizeRequest.ImageReader.
	DataReader io.ReaderAt
	// DataSize is the number of bytes of DataReader to digest; set with DataReader only.
	DataSize int64
	// Algorithms is non-empty, each at most once.
	Algorithms []Algorithm
	// Key is a routing key for the router; see ResizeRequest.Key.
	Key string
}

// ChecksumResult holds one digest per requested algorithm.
type ChecksumResult struct {
	Digests map[Algorithm][]byte
	Served  Served
}

// ProbeRequest asks what an image is, from its header alone (SPEC.md 5.8).
type ProbeRequest struct {
	// Image is the encoded input, as for ResizeRequest.Image.
	Image []byte
	// Width and Height are the box of the thumbnail ProbeInfo.Memory is estimated for (a fit, the
	// other resize fields at their defaults; a zero side unconstrained). Both zero: the image's
	// own size after orientation.
	Width, Height int
	// Key is a routing key for the router; see ResizeRequest.Key.
	Key string
}

// ProbeInfo is what a probe found in an image's header. No pixel was decoded.
type ProbeInfo struct {
	Format Format
	// Width and Height are after EXIF orientation: what a resize reports as SourceWidth and
	// SourceHeight.
	Width, Height int
	// Orientation is the EXIF orientation tag, 1 to 8 (1 when absent).
	Orientation int
	// Alpha: the header declares alpha or transparency (the pixels may still be opaque).
	Alpha bool
	// ICC: an ICC profile is embedded.
	ICC bool
	// Progressive: a progressive JPEG, an interlaced PNG or GIF.
	Progressive bool
	// Frames in the file, at least 1 (a resize reads the first).
	Frames int
	// Memory is what the path that answered would hold to make the thumbnail of the request's
	// box: the daemon's admission estimate (compare it with Hello's MemoryBudget), or the Go
	// path's own figure.
	Memory int64
	// Served records which path answered and why.
	Served Served
}

// Prober reads image headers. *Client, the in-process goproc.Processor and the router all
// implement it; it is apart from Processor so that other Processors need not.
type Prober interface {
	Probe(ctx context.Context, req ProbeRequest) (*ProbeInfo, error)
}

// Path names the implementation that served a request.
type Path string

const (
	// PathRust is ferryd, over the Unix socket.
	PathRust Path = "rust"
	// PathGo is the in-process pure-Go implementation.
	PathGo Path = "go"
)

// Reason says why a request took the path it took. The client and the in-process Go path answer
// ReasonDirect; the router's reasons are constants of package router.
type Reason string

// ReasonDirect: the caller used a Client or the in-process path directly, no router involved.
const ReasonDirect Reason = "direct"

// Served is the record of which path produced a result, and why.
type Served struct {
	Path   Path
	Reason Reason
}

// String returns "path/reason", e.g. "rust/policy" or "go/fallback"; the zero Served is "".
func (s Served) String() string {
	if s.Path == "" && s.Reason == "" {
		return ""
	}
	return string(s.Path) + "/" + string(s.Reason)
}

// Processor is what Go workers call: the daemon Client, the in-process goproc.Processor and router.Router
// all implement it, so a worker can switch between them without changing a line.
type Processor interface {
	Resize(ctx context.Context, req ResizeRequest) (*ResizeResult, error)
	Checksum(ctx context.Context, req ChecksumRequest) (*ChecksumResult, error)
}

// Service is the whole method set a Go worker uses: the jobs plus health and counters. *Client
// and the router (package router) both implement it, so a worker written against Service takes
// either, and moving a service onto the router is a one-line change where it is built.
type Service interface {
	Processor
	Ping(ctx context.Context) error
	Stats(ctx context.Context) (*Stats, error)
	Close() error
}

var (
	_ Service = (*Client)(nil)
	_ Prober  = (*Client)(nil)
)
