package ferry

import (
	"os"
	"sync"
	"sync/atomic"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// A call's frame moves through these states. The writer takes a frame only by moving it from
// queued to writing, and a caller that gives up early moves it from queued to abandoned, so
// exactly one of them decides whether the frame goes out.
const (
	stateQueued uint32 = iota
	stateWriting
	stateWritten
	stateAbandoned
)

// call is one request in flight on a connection.
type call struct {
	id uint64
	op wire.Op

	// state is one of the state* constants above.
	state atomic.Uint32
	// frame is the encoded request; buf is the pooled buffer behind frame.Buf, returned to the
	// pool by the writer once it no longer needs the frame.
	frame wire.Frame
	buf   *[]byte
	// written is non-nil only when frame points into the caller's payload. The writer closes it
	// once it is done with that memory (written, skipped or failed), and a caller leaving early
	// waits on it so that it never returns while its slice is still being read.
	written chan struct{}
	// step, payload and payloadBase let a caller leave while its payload is still being written
	// (see conn.writeReferencing and conn.detachPayload). step is non-nil only when written is:
	// a one-token lock the writer holds while it writes one step of the payload and an
	// abandoning caller takes to swap payload for a private copy of what is left. payload holds
	// the payload's bytes from offset payloadBase on (the caller's slice, base 0, until then);
	// payloadOff counts the bytes written so far. All three are guarded by step.
	step        chan struct{}
	payload     []byte
	payloadBase int
	payloadOff  int
	// file, for checksum_file and resize_file, is passed with SCM_RIGHTS on the frame's first
	// byte (see conn.writeFileFrame). The caller owns it; it must stay open until written closes.
	file *os.File

	// queuedBytes and queuedAt (Unix nanoseconds) are the frame's size and when it was handed
	// to the writer goroutine, for the connection's write rate (conn.queued); 0 for a frame
	// written inline. Set before the frame is queued, then read and cleared by the writer only.
	queuedBytes int64
	queuedAt    int64

	// job, for a job request counted outstanding (Client.admitOutstanding), is uncounted by
	// the reader as soon as the reply is read, before the caller is woken; nil otherwise.
	job *outstandingJob

	// done is closed by whoever removes the call from its connection's pending map: the reader
	// with a reply, or the connection's failure with err.
	done  chan struct{}
	reply wire.Reply
	err   error
}

// bufPool recycles request buffers. Requests with large payloads leave the payload out of the
// buffer (see inlinePayloadMax), so every buffer stays small.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

// maxPooledBuf keeps unusually large buffers out of the pool.
const maxPooledBuf = inlinePayloadMax + 4<<10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte, used []byte) {
	if cap(used) > maxPooledBuf {
		return
	}
	*b = used[:0]
	bufPool.Put(b)
}

// release returns the call's buffer to the pool; only the writer (or the caller before the call
// was queued) calls it.
func (c *call) release() {
	if c.buf != nil {
		putBuf(c.buf, c.frame.Buf)
		c.buf = nil
	}
	c.frame = wire.Frame{}
}
