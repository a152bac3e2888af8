package ferry

import (
	"context"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Checksum computes every digest in req.Algorithms over req.Data in one pass in the daemon (SPEC.md
// section 5.4). Digests are raw bytes: CRC32C and XXH3-64 big-endian.
//
// Data over 64 KiB is written to the socket straight from req.Data, without a copy; do not modify
// it until Checksum returns. With req.File set instead, the daemon reads the file (see
// ChecksumFile). req.DataReader with req.DataSize is taken as for Resize's ImageReader.
func (c *Client) Checksum(ctx context.Context, req ChecksumRequest) (*ChecksumResult, error) {
	if err := req.ResolveReader(c.uploadLimit()); err != nil {
		return nil, err
	}
	// Up to four algorithms (all there are) fit this array, keeping the conversion off the heap.
	var names [4]string
	algs := names[:0]
	for _, a := range req.Algorithms {
		algs = append(algs, string(a))
	}
	r := wire.Request{
		Header:   wire.Header{Op: wire.OpChecksum},
		Checksum: wire.ChecksumRequest{Data: req.Data, Algorithms: algs},
	}
	if req.File != nil {
		if err := checkFileInput(req.File, req.Data, "Data"); err != nil {
			return nil, err
		}
		r.Op = wire.OpChecksumFile
	}
	cl, err := c.doFile(ctx, &r, req.File)
	if err != nil {
		return nil, err
	}
	digests := make(map[Algorithm][]byte, len(cl.reply.Checksum.Digests))
	for _, d := range cl.reply.Checksum.Digests {
		digests[Algorithm(d.Algorithm)] = d.Sum
	}
	return &ChecksumResult{Digests: digests, Served: Served{Path: PathRust, Reason: ReasonDirect}}, nil
}
