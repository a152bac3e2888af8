package ferry

import (
	"context"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Probe asks the daemon what req.Image is, from its header alone (SPEC.md section 5.8): its
// format, size after orientation, orientation, alpha, profile, interlacing, frame count, and
// the memory the daemon would reserve to make a thumbnail of it into req's box. No pixel is
// decoded and no worker is taken, so a probe is answered at once even when the daemon is busy
// (never ErrBusy); an image a resize would refuse before decoding is refused the same way
// (CodeBadImage, CodeImageTooLarge).
//
// An image over 64 KiB is written to the socket straight from req.Image; do not modify it until
// Probe returns.
func (c *Client) Probe(ctx context.Context, req ProbeRequest) (*ProbeInfo, error) {
	if err := wireRange(req.Width, req.Height, 0); err != nil {
		return nil, err
	}
	r := wire.Request{
		Header: wire.Header{Op: wire.OpProbe},
		Probe:  wire.ProbeRequest{Image: req.Image, Width: uint32(req.Width), Height: uint32(req.Height)},
	}
	cl, err := c.do(ctx, &r)
	if err != nil {
		return nil, err
	}
	p := cl.reply.Probe
	return &ProbeInfo{
		Format:      Format(p.Format),
		Width:       int(p.Width),
		Height:      int(p.Height),
		Orientation: int(p.Orientation),
		Alpha:       p.Alpha,
		ICC:         p.ICC,
		Progressive: p.Progressive,
		Frames:      int(p.Frames),
		Memory:      int64(min(p.Memory, 1<<63-1)),
		Served:      Served{Path: PathRust, Reason: ReasonDirect},
	}, nil
}
