package goproc

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"

	ferry "github.com/ferryd/ferry/go-client"

	"github.com/zeebo/blake3"
	"github.com/zeebo/xxh3"
)

// checksumChunk is how much data each digest takes between two checks of the context: large
// enough that the check costs nothing, small enough (well under a millisecond per algorithm)
// that a deadline is noticed promptly.
const checksumChunk = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum computes every digest in req.Algorithms over req.Data, feeding each chunk of the
// data to every algorithm in turn (one pass over memory). Digest bytes are those of SPEC.md
// 5.4: ferry.CRC32C and XXH3-64 big-endian, SHA-256 and ferry.BLAKE3 as their 32 digest bytes.
func (p *Processor) Checksum(ctx context.Context, req ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	if err := req.ResolveReader(int64(p.limits.MaxInputBytes)); err != nil {
		return nil, err
	}
	if req.File != nil {
		return p.checksumFile(ctx, req)
	}
	if len(req.Data) > p.limits.MaxInputBytes {
		return nil, fmt.Errorf("%w: checksum data of %d bytes, limit %d", ferry.ErrRequestTooLarge,
			len(req.Data), p.limits.MaxInputBytes)
	}
	hashers, err := newHashers(req.Algorithms)
	if err != nil {
		return nil, err
	}
	if err := stageCheck(ctx, "checksum"); err != nil {
		return nil, err
	}
	return runLimited(ctx, p, func() (*ferry.ChecksumResult, error) {
		for data := req.Data; len(data) > 0; {
			n := min(len(data), checksumChunk)
			for _, h := range hashers {
				h.Write(data[:n])
			}
			data = data[n:]
			if len(data) > 0 {
				if err := stageCheck(ctx, "the next chunk"); err != nil {
					return nil, err
				}
			}
		}
		digests := make(map[ferry.Algorithm][]byte, len(hashers))
		for i, h := range hashers {
			digests[req.Algorithms[i]] = h.Sum(nil)
		}
		return &ferry.ChecksumResult{Digests: digests, Served: ferry.Served{Path: ferry.PathGo, Reason: ferry.ReasonDirect}}, nil
	})
}

// checksumFile is Checksum of req.File, read with ReadAt one chunk at a time (the same chunk
// and context checks as Data), up to the size Stat gave first, within MaxInputBytes.
func (p *Processor) checksumFile(ctx context.Context, req ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	size, err := p.inputFile(req.File, req.Data, "Data")
	if err != nil {
		return nil, err
	}
	hashers, err := newHashers(req.Algorithms)
	if err != nil {
		return nil, err
	}
	if err := stageCheck(ctx, "checksum"); err != nil {
		return nil, err
	}
	return runLimited(ctx, p, func() (*ferry.ChecksumResult, error) {
		buf := make([]byte, min(size, checksumChunk))
		for off := int64(0); off < size; {
			chunk := buf[:min(size-off, checksumChunk)]
			if err := readFileAt(req.File, chunk, off); err != nil {
				return nil, err
			}
			for _, h := range hashers {
				h.Write(chunk)
			}
			off += int64(len(chunk))
			if err := stageCheck(ctx, "the next chunk"); err != nil {
				return nil, err
			}
		}
		if err := checkUnchanged(req.File, size); err != nil {
			return nil, err
		}
		digests := make(map[ferry.Algorithm][]byte, len(hashers))
		for i, h := range hashers {
			digests[req.Algorithms[i]] = h.Sum(nil)
		}
		return &ferry.ChecksumResult{Digests: digests, Served: ferry.Served{Path: ferry.PathGo, Reason: ferry.ReasonDirect}}, nil
	})
}

// newHashers returns one hash per algorithm, in order, refusing what the daemon refuses: an
// empty list, an unknown name, a name given twice (invalid_argument).
func newHashers(algs []ferry.Algorithm) ([]hash.Hash, error) {
	if len(algs) == 0 {
		return nil, refuse(ferry.CodeInvalidArgument, "algorithms must not be empty")
	}
	hashers := make([]hash.Hash, 0, len(algs))
	seen := make(map[ferry.Algorithm]bool, len(algs))
	for _, a := range algs {
		if seen[a] {
			return nil, refuse(ferry.CodeInvalidArgument, "algorithm %q requested twice", a)
		}
		seen[a] = true
		switch a {
		case ferry.CRC32C:
			// hash/crc32's Sum appends the value big-endian, as the spec wants.
			hashers = append(hashers, crc32.New(castagnoli))
		case ferry.XXH3_64:
			hashers = append(hashers, &xxh3BigEndian{h: xxh3.New()})
		case ferry.SHA256:
			hashers = append(hashers, sha256.New())
		case ferry.BLAKE3:
			hashers = append(hashers, blake3.New())
		default:
			return nil, refuse(ferry.CodeInvalidArgument, "unknown algorithm %q", a)
		}
	}
	return hashers, nil
}

// xxh3BigEndian adapts zeebo/xxh3's streaming hasher (seed 0, 64-bit output) so that Sum appends
// the value big-endian, whatever byte order that library's own Sum uses.
type xxh3BigEndian struct{ h *xxh3.Hasher }

func (x *xxh3BigEndian) Write(p []byte) (int, error) { return x.h.Write(p) }
func (x *xxh3BigEndian) Sum(b []byte) []byte         { return binary.BigEndian.AppendUint64(b, x.h.Sum64()) }
func (x *xxh3BigEndian) Reset()                      { x.h.Reset() }
func (x *xxh3BigEndian) Size() int                   { return 8 }
func (x *xxh3BigEndian) BlockSize() int              { return 64 }
