package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// LengthSize is the size of the frame header: the body length as a big-endian uint32.
const LengthSize = 4

// DefaultMaxFrame is the daemon's default limit on a frame body, in bytes (SPEC.md section 2).
const DefaultMaxFrame = 128 << 20

// ErrFrameTooLarge is returned when a frame's body exceeds the limit in force.
var ErrFrameTooLarge = errors.New("wire: frame too large")

// ErrEmptyFrame is returned for a frame whose length is zero, which the spec forbids.
var ErrEmptyFrame = errors.New("wire: empty frame")

// Frame is one encoded request, ready to write.
//
// When a request carries a large binary payload the encoder does not copy it: Buf then holds the
// length prefix and the body bytes before the payload, followed directly by the body bytes after
// it, and Split says where Payload belongs. When Payload is nil, Buf is the whole frame.
type Frame struct {
	// Buf is the length prefix and every body byte except Payload.
	Buf []byte
	// Split is the offset in Buf at which Payload goes on the wire.
	Split int
	// Payload is the caller's slice, written between Buf[:Split] and Buf[Split:]; nil when inline.
	Payload []byte
}

// Size is the number of bytes the frame takes on the wire, length prefix included.
func (f *Frame) Size() int { return len(f.Buf) + len(f.Payload) }

// BodyLen is the frame's body length N, the number compared with max_frame.
func (f *Frame) BodyLen() int { return f.Size() - LengthSize }

// References reports whether the frame points into memory it does not own (the caller's payload),
// so that the memory must stay untouched until the frame is written.
func (f *Frame) References() bool { return f.Payload != nil }

// WriteTo writes the whole frame to w. With a bufio.Writer the payload goes straight to the
// underlying writer once the buffer is full, so large payloads are not copied again.
func (f *Frame) WriteTo(w io.Writer) (int64, error) {
	if f.Payload == nil {
		n, err := w.Write(f.Buf)
		return int64(n), err
	}
	var total int64
	for _, part := range [][]byte{f.Buf[:f.Split], f.Payload, f.Buf[f.Split:]} {
		n, err := w.Write(part)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// startFrame appends a placeholder length prefix; finishFrame fills it in.
func startFrame(dst []byte) []byte { return append(dst, 0, 0, 0, 0) }

// finishFrame writes the body length into the prefix at start. The body is everything in buf after
// the prefix plus payloadLen bytes that are written separately.
func finishFrame(buf []byte, start, payloadLen int) {
	n := len(buf) - start - LengthSize + payloadLen
	if n > math.MaxUint32 {
		// Unrepresentable; the caller's max_frame check refuses it before it is sent. Write a
		// length that no daemon accepts rather than a truncated one that would desynchronise.
		n = math.MaxUint32
	}
	binary.BigEndian.PutUint32(buf[start:], uint32(n))
}

// ReadFrame reads one frame from r and returns its body in a newly allocated slice. It refuses a
// body longer than max before reading it, and an empty one. io.EOF means the stream ended cleanly
// between frames; io.ErrUnexpectedEOF that it ended inside one.
func ReadFrame(r *bufio.Reader, max uint32) ([]byte, error) {
	n, err := ReadLength(r, max)
	if err != nil {
		return nil, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}

// ReadLength reads a frame's length prefix and checks it against max (and against zero).
func ReadLength(r io.Reader, max uint32) (uint32, error) {
	var hdr [LengthSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return 0, ErrEmptyFrame
	}
	if n > max {
		return n, fmt.Errorf("%w: %d bytes exceeds %d", ErrFrameTooLarge, n, max)
	}
	return n, nil
}

// AppendFrame appends a frame holding body to dst; for tests and raw writers.
func AppendFrame(dst, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}
