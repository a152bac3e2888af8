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
// An image over 64 KiB is written to the socket straight from req.Image, without a copy; do not
// modify it until Resize returns. The result's Image is a fresh slice that the caller owns.
// With req.File set instead of req.Image, the daemon reads the file (see ResizeFile).
func (c *Client) Resize(ctx context.Context, req ResizeRequest) (*ResizeResult, error) {
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
	for _, f := range [...]struct {
		name string
		v    int
	}{{"width", req.Width}, {"height", req.Height}, {"quality", req.Quality}} {
		if f.v < 0 || uint64(f.v) > math.MaxUint32 {
			return wire.ResizeRequest{}, &ServerError{Code: CodeInvalidArgument,
				Message: fmt.Sprintf("%s %d out of range", f.name, f.v)}
		}
	}
	w := wire.ResizeRequest{
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
	return w, nil
}
