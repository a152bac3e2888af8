package ferry

import (
	"context"
	"fmt"
	"math"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Resize decodes req.Image in the daemon, applies its EXIF orientation, converts it to sRGB,
// resizes it into the requested box and encodes it (SPEC.md section 5.3). ctx's deadline travels
// with the request; cancelling ctx cancels it in the daemon.
//
// With req.Outputs set, the daemon decodes the image once and makes every output from it
// (SPEC.md 5.3.1); the result's Outputs holds them in request order.
//
// An image over 64 KiB is written to the socket straight from req.Image, without a copy; do not
// modify it until Resize returns. The result's Image (or each output's) is a fresh slice that the
// caller owns. With req.File set instead of req.Image, the daemon reads the file (see ResizeFile).
// With req.ImageReader (an upload's multipart.File) and req.ImageSize, an *os.File of that size
// goes by descriptor and any other reader is read into the request, up to max_frame.
func (c *Client) Resize(ctx context.Context, req ResizeRequest) (*ResizeResult, error) {
	if err := req.ResolveReader(c.uploadLimit()); err != nil {
		return nil, err
	}
	w, err := wireResize(&req)
	if err != nil {
		return nil, err
	}
	r := wire.Request{Header: wire.Header{Op: wire.OpResize}, Resize: w}
	if req.File != nil {
		if err := checkFileInput(req.File, req.Image, "Image"); err != nil {
			return nil, err
		}
		r.Op = wire.OpResizeFile
	}
	cl, err := c.doFile(ctx, &r, req.File)
	if err != nil {
		return nil, err
	}
	z := &cl.reply.Resize
	if len(req.Outputs) > 0 {
		if len(z.Outputs) != len(req.Outputs) {
			return nil, fmt.Errorf("%w: %d outputs requested, %d in the reply", ErrProtocol, len(req.Outputs), len(z.Outputs))
		}
		outs := make([]Output, len(z.Outputs))
		for i, o := range z.Outputs {
			outs[i] = Output{Image: o.Image, Width: int(o.Width), Height: int(o.Height), Format: Format(o.Format)}
		}
		return &ResizeResult{
			Outputs:      outs,
			SourceWidth:  int(z.SourceWidth),
			SourceHeight: int(z.SourceHeight),
			SourceFormat: Format(z.SourceFormat),
			Served:       Served{Path: PathRust, Reason: ReasonDirect},
		}, nil
	}
	return &ResizeResult{
		Image:        z.Image,
		Width:        int(z.Width),
		Height:       int(z.Height),
		Format:       Format(z.Format),
		SourceWidth:  int(z.SourceWidth),
		SourceHeight: int(z.SourceHeight),
		SourceFormat: Format(z.SourceFormat),
		Served:       Served{Path: PathRust, Reason: ReasonDirect},
	}, nil
}

// wireResize maps a ResizeRequest to its wire form. Zero values stay zero so the encoder omits them
// and the daemon applies its defaults. Values that the wire cannot carry (negative, over 32 bits)
// are refused here as invalid_argument, the code the daemon would give for an out-of-range value.
func wireResize(req *ResizeRequest) (wire.ResizeRequest, error) {
	if err := wireRange(req.Width, req.Height, req.Quality); err != nil {
		return wire.ResizeRequest{}, err
	}
	var outputs []wire.OutputRequest
	if len(req.Outputs) > 0 {
		if err := CheckOutputs(req); err != nil {
			return wire.ResizeRequest{}, err
		}
		outputs = make([]wire.OutputRequest, len(req.Outputs))
		for i, o := range req.Outputs {
			if err := wireRange(o.Width, o.Height, o.Quality); err != nil {
				return wire.ResizeRequest{}, err
			}
			outputs[i] = wire.OutputRequest{Width: uint32(o.Width), Height: uint32(o.Height), Mode: string(o.Mode),
				Anchor: string(o.Anchor), Filter: string(o.Filter), Format: string(o.Format), Quality: uint32(o.Quality)}
			if o.NoEnlarge {
				outputs[i].Enlarge = wire.False
			}
		}
	}
	w := wire.ResizeRequest{
		Outputs: outputs,
		Image:   req.Image,
		Width:   uint32(req.Width),
		Height:  uint32(req.Height),
		Mode:    string(req.Mode),
		Anchor:  string(req.Anchor),
		Filter:  string(req.Filter),
		Format:  string(req.Format),
		Quality: uint32(req.Quality),
	}
	if req.NoAutoOrient {
		w.AutoOrient = wire.False
	}
	if req.KeepICC {
		w.KeepICC = wire.True
	}
	if req.KeepMetadata {
		w.KeepMetadata = wire.True
	}
	if req.Fast {
		w.Fast = wire.True
	}
	if req.NoEnlarge {
		w.Enlarge = wire.False
	}
	return w, nil
}

// wireRange refuses box and quality values the wire cannot carry (negative, over 32 bits).
func wireRange(width, height, quality int) error {
	for _, f := range [...]struct {
		name string
		v    int
	}{{"width", width}, {"height", height}, {"quality", quality}} {
		if f.v < 0 || uint64(f.v) > math.MaxUint32 {
			return &ServerError{Code: CodeInvalidArgument, Message: fmt.Sprintf("%s %d out of range", f.name, f.v)}
		}
	}
	return nil
}

// CheckOutputs refuses, as the daemon would (a *ServerError with CodeInvalidArgument), a request
// whose Outputs are more than MaxOutputs or come with a top-level box field (Width, Height,
// Mode, Anchor, Filter, Format, Quality or NoEnlarge) set. A request without Outputs passes. The Client and
// the in-process Go path (and so the router) apply it, so every path refuses the same requests.
func CheckOutputs(req *ResizeRequest) error {
	if len(req.Outputs) == 0 {
		return nil
	}
	if len(req.Outputs) > MaxOutputs {
		return &ServerError{Code: CodeInvalidArgument,
			Message: fmt.Sprintf("outputs must hold 1 to %d outputs, not %d", MaxOutputs, len(req.Outputs))}
	}
	for _, f := range [...]struct {
		name string
		set  bool
	}{{"width", req.Width != 0}, {"height", req.Height != 0}, {"mode", req.Mode != ""},
		{"anchor", req.Anchor != ""}, {"filter", req.Filter != ""}, {"format", req.Format != ""},
		{"quality", req.Quality != 0}, {"enlarge", req.NoEnlarge}} {
		if f.set {
			return &ServerError{Code: CodeInvalidArgument,
				Message: fmt.Sprintf("%s must be zero when outputs is given: set it per output", f.name)}
		}
	}
	return nil
}
