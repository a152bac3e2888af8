package ferry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// ioBufferSize is the size of each connection's read and write buffers: many small frames per
// system call, and large payloads bypass the buffer.
const ioBufferSize = 64 << 10

// conn is one connection to the daemon, carrying many requests at once.
//
// Two goroutines own the socket: the writer writes queued frames in order through a buffered
// writer and flushes whenever its queue runs dry, so concurrent requests share system calls; the
// reader reads replies and hands each to the call waiting for its id. A connection whose framing
// can no longer be trusted (a read or write error, an unreadable reply, a frame abandoned half
// written) is failed as a whole and never reused: every call still pending on it gets the error.
type conn struct {
	nc net.Conn
	br *bufio.Reader
	// moved records when bytes last moved either way (see checkHung).
	moved    *activity
	maxFrame int
	info     *ServerInfo
	nextID   atomic.Uint64

	// mu guards pending and err.
	mu sync.Mutex
	// pending holds the calls sent or about to be sent, by id. Removing a call from it is what
	// entitles a goroutine to complete the call.
	pending map[uint64]*call
	err     error
	// dead is closed when the connection fails; the writer stops on it.
	dead chan struct{}

	// rtt gives the hang timeout and takes the round trips of this connection's pings (see
	// checkHung); nil when hang detection is off. watch, watching, armedAt, lastCheck, pingID
	// and pingSent (Unix nanoseconds) are the watch's state, guarded by mu; pingID is the id of
	// the watch's ping in flight, 0 when none is.
	rtt       *rttEstimator
	watch     *time.Timer
	watching  bool
	armedAt   int64
	lastCheck int64
	pingID    uint64
	pingSent  int64
	// pingWritten and pingWrittenAt (Unix nanoseconds) are the id of the watch's last ping that
	// the writer wrote, and when: set by the writer, read by the watch.
	pingWritten   atomic.Uint64
	pingWrittenAt atomic.Int64

	// qmu guards queue and qclosed.
	qmu sync.Mutex
	// queue holds frames for the writer, oldest first. It is not bounded here: each entry is a
	// caller waiting for its reply, so the callers bound it.
	queue   []*call
	qclosed bool
	// wake has room for one token: an enqueue that finds it full knows the writer is already due
	// to look at the queue.
	wake chan struct{}

	// wmu serialises writers of bw: the writer goroutine, or a caller writing inline.
	wmu sync.Mutex
	bw  *bufio.Writer
	// lastWriteEnd (Unix nanoseconds, guarded by wmu) is when the last frame was written;
	// unwritten counts the bytes of frames queued for the writer and not yet written; nsPerByte
	// (float64 bits) is the recent write rate. Together they give writeWait.
	lastWriteEnd int64
	unwritten    atomic.Int64
	nsPerByte    atomic.Uint64

	wg sync.WaitGroup
}

func newConn(nc net.Conn, br *bufio.Reader, moved *activity, info *ServerInfo, rtt *rttEstimator) *conn {
	c := &conn{
		nc:       nc,
		br:       br,
		moved:    moved,
		rtt:      rtt,
		maxFrame: int(info.MaxFrame),
		info:     info,
		pending:  make(map[uint64]*call),
		dead:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
	}
	c.bw = bufio.NewWriterSize(stampWriter{nc, moved}, ioBufferSize)
	c.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
	return c
}

// alive reports whether the connection may take new requests.
func (c *conn) alive() bool {
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}

// register adds a call to the pending map before its frame is queued, so that a reply can never
// arrive for an id nobody waits on.
func (c *conn) register(cl *call) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.pending[cl.id] = cl
	c.armWatchLocked()
	return nil
}

// unregister removes a call from the pending map and reports whether it was still there, i.e.
// whether the caller now owns its completion.
func (c *conn) unregister(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[id]; !ok {
		return false
	}
	delete(c.pending, id)
	return true
}

// enqueue hands a frame to the writer.
func (c *conn) enqueue(cl *call) error {
	c.qmu.Lock()
	if c.qclosed {
		c.qmu.Unlock()
		return c.failure()
	}
	c.queued(cl)
	c.queue = append(c.queue, cl)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// sendCancel queues a cancel frame for id; best effort, it has no reply.
func (c *conn) sendCancel(id uint64) {
	cl := &call{id: id, op: wire.OpCancel, buf: getBuf()}
	cl.frame = wire.AppendSimple((*cl.buf)[:0], wire.Header{ID: id, Op: wire.OpCancel})
	if c.enqueue(cl) != nil {
		cl.release()
	}
}

func (c *conn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail ends the connection once: it closes the socket and completes every pending call with err.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()

	// Close the queue before signalling dead, so that the writer's final drain sees every frame
	// that will ever be queued.
	c.qmu.Lock()
	c.qclosed = true
	c.qmu.Unlock()
	close(c.dead)
	_ = c.nc.Close()
	if c.watch != nil {
		c.watch.Stop()
	}

	for _, cl := range pending {
		cl.err = err
		close(cl.done)
	}
}

// close fails the connection and waits for its goroutines.
func (c *conn) close(err error) {
	c.fail(err)
	c.wg.Wait()
}

func (c *conn) writeLoop() {
	defer c.wg.Done()
	var batch []*call
	for {
		select {
		case <-c.wake:
		case <-c.dead:
			c.drain(nil)
			return
		}
		c.wmu.Lock()
		bw := c.bw
		for {
			c.qmu.Lock()
			batch, c.queue = c.queue, batch[:0]
			c.qmu.Unlock()
			if len(batch) == 0 {
				break
			}
			for i, cl := range batch {
				if err := c.writeOne(bw, cl); err != nil {
					c.wmu.Unlock()
					c.fail(connLost(fmt.Errorf("writing request: %w", err)))
					c.drain(batch[i+1:])
					return
				}
				batch[i] = nil
			}
		}
		// The queue ran dry: send what is buffered.
		err := bw.Flush()
		c.wmu.Unlock()
		if err != nil {
			c.fail(connLost(fmt.Errorf("writing request: %w", err)))
			c.drain(nil)
			return
		}
	}
}

// inlineWriteSlack is added to the caller's deadline for an inline write. A write that is merely
// in progress when the deadline passes (it takes microseconds) must not break the connection for
// everyone on it; only a socket that has stopped draining should.
const inlineWriteSlack = 50 * time.Millisecond

// tryWriteInline writes a small frame from the caller's goroutine when no one else is writing,
// saving the hand-off to the writer goroutine: on an idle connection that hand-off is most of
// what the client adds to a round trip. It reports whether it took the frame.
//
// An inline write blocks only when the socket buffer is full, i.e. the daemon has stopped
// reading. The caller must still get control back when its ctx ends, so the write is bounded by
// ctx's deadline (plus inlineWriteSlack), and a ctx that can be cancelled without one takes the
// writer goroutine instead. A write cut short leaves half a frame behind: the connection is failed.
func (c *conn) tryWriteInline(ctx context.Context, cl *call) (bool, error) {
	deadline, hasDeadline := ctx.Deadline()
	if !hasDeadline && ctx.Done() != nil {
		return false, nil
	}
	if !c.wmu.TryLock() {
		return false, nil // someone is writing: queue behind them and share their flush
	}
	if hasDeadline {
		_ = c.nc.SetWriteDeadline(deadline.Add(inlineWriteSlack))
	}
	err := c.writeOne(c.bw, cl)
	if err == nil {
		err = c.bw.Flush()
	}
	if hasDeadline {
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(connLost(fmt.Errorf("writing request: %w", err)))
	}
	return true, err
}

// writeOne writes one frame unless its caller gave up first, then recycles the frame.
func (c *conn) writeOne(bw *bufio.Writer, cl *call) error {
	if !cl.state.CompareAndSwap(stateQueued, stateWriting) {
		c.finishFrame(cl)
		return nil
	}
	var err error
	switch {
	case cl.file != nil:
		err = c.writeFileFrame(bw, cl)
	case cl.step != nil:
		err = c.writeReferencing(bw, cl)
	default:
		_, err = cl.frame.WriteTo(bw)
	}
	c.timeWrite(cl, time.Now().UnixNano())
	cl.state.Store(stateWritten)
	if cl.op == wire.OpPing && cl.done == nil && err == nil { // the watch's ping (see checkHung)
		c.pingWrittenAt.Store(time.Now().UnixNano())
		c.pingWritten.Store(cl.id)
	}
	c.finishFrame(cl)
	return err
}

// writeReferencing writes a frame whose payload is the caller's memory, one writeStep of the
// payload at a time under cl.step, so that an abandoning caller can swap what is left for a copy
// between two steps (detachPayload). bufio copies what it buffers, so once a step's Write
// returns nothing of it is read again.
func (c *conn) writeReferencing(bw *bufio.Writer, cl *call) error {
	f := &cl.frame
	if _, err := bw.Write(f.Buf[:f.Split]); err != nil {
		return err
	}
	for off, total := 0, len(f.Payload); off < total; {
		n := min(writeStep, total-off)
		cl.step <- struct{}{}
		src := cl.payload[off-cl.payloadBase:]
		_, err := bw.Write(src[:n])
		off += n
		cl.payloadOff = off
		<-cl.step
		if err != nil {
			return err
		}
	}
	_, err := bw.Write(f.Buf[f.Split:])
	return err
}

// abandonWriteWait bounds how long an abandoning caller waits for the writer to let go of its
// memory: one step of writeReferencing, or the small frame of a file passed by descriptor. A
// step takes microseconds while the daemon reads; only a full socket (a daemon that has stopped
// reading, which the hang timeout usually catches first) makes it longer, and then the
// connection is failed rather than the caller kept.
const abandonWriteWait = time.Second

// detachPayload lets a caller whose ctx ended leave while its frame is being written: it takes
// the step lock between two steps and swaps what is left of the payload for a copy, which the
// writer finishes from. For a file frame it waits for the frame to go. It reports false when
// the writer did not let go within abandonWriteWait.
func (c *conn) detachPayload(cl *call) bool {
	timer := time.NewTimer(abandonWriteWait)
	defer timer.Stop()
	if cl.step == nil {
		select {
		case <-cl.written:
			return true
		case <-timer.C:
			return false
		}
	}
	select {
	case cl.step <- struct{}{}:
		rest := cl.payload[cl.payloadOff-cl.payloadBase:]
		cl.payload, cl.payloadBase = append([]byte(nil), rest...), cl.payloadOff
		<-cl.step
		return true
	case <-cl.written:
		return true
	case <-timer.C:
		return false
	}
}

func (c *conn) finishFrame(cl *call) {
	c.dequeued(cl)
	cl.release()
	if cl.written != nil {
		close(cl.written)
	}
}

// drain recycles frames that will never be written: those left in a failed batch and in the queue.
func (c *conn) drain(rest []*call) {
	c.qmu.Lock()
	rest = append(rest, c.queue...)
	c.queue = nil
	c.qmu.Unlock()
	for _, cl := range rest {
		cl.state.CompareAndSwap(stateQueued, stateAbandoned)
		c.finishFrame(cl)
	}
}

// maxReply bounds the length of a reply frame. The spec bounds every frame by max_frame, but a
// daemon configured with a small max_frame may still produce a larger output than its inputs;
// the bound only has to catch a corrupt length, so it is never below the default max_frame.
func (c *conn) maxReply() uint32 {
	return uint32(max(c.maxFrame, wire.DefaultMaxFrame))
}

func (c *conn) readLoop() {
	defer c.wg.Done()
	for {
		n, err := wire.ReadLength(c.br, c.maxReply())
		if err != nil {
			if errors.Is(err, wire.ErrFrameTooLarge) || errors.Is(err, wire.ErrEmptyFrame) {
				err = fmt.Errorf("%w: reply frame: %v", ErrProtocol, err)
			} else if err == io.EOF {
				err = errors.New("daemon closed the connection")
			}
			c.fail(connLost(err))
			return
		}
		// Small replies are decoded in place in the read buffer (their few bytes of binary data
		// copied out); large ones get a buffer of their own that the result keeps, uncopied.
		var body []byte
		inPlace := int(n) <= c.br.Size()
		if inPlace {
			body, err = c.br.Peek(int(n))
		} else {
			body = make([]byte, n)
			_, err = io.ReadFull(c.br, body)
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			c.fail(connLost(fmt.Errorf("reading reply: %w", err)))
			return
		}
		ok := c.dispatch(body, inPlace)
		if inPlace {
			_, _ = c.br.Discard(int(n))
		}
		if !ok {
			return
		}
	}
}

// dispatch completes the call a reply answers. It returns false when the reply shows that the
// connection can no longer be used.
func (c *conn) dispatch(body []byte, copyBins bool) bool {
	id, err := wire.ReplyID(body)
	if err != nil {
		c.fail(connLost(fmt.Errorf("%w: unreadable reply: %v", ErrProtocol, err)))
		return false
	}
	if id == 0 {
		// The daemon could not read one of our requests; we cannot tell which, and for
		// frame_too_large it closes the connection anyway.
		var r wire.Reply
		cause := fmt.Errorf("%w: daemon answered id 0", ErrProtocol)
		if wire.DecodeReply(body, wire.OpPing, &r, true) == nil && !r.OK {
			cause = fmt.Errorf("%w: daemon answered id 0: %w", ErrProtocol, serverError(&r))
		}
		c.fail(connLost(cause))
		return false
	}
	c.mu.Lock()
	cl := c.pending[id]
	delete(c.pending, id)
	if cl == nil && id == c.pingID && c.pingID != 0 {
		c.rtt.sample(time.Duration(time.Now().UnixNano() - c.pingSent))
		c.pingID = 0
	}
	c.mu.Unlock()
	if cl == nil {
		return true // the watch's ping, or the caller gave up on it (a cancel frame is on its way or already read)
	}
	if err := wire.DecodeReply(body, cl.op, &cl.reply, copyBins); err != nil {
		cl.err = fmt.Errorf("%w: %s reply: %v", ErrProtocol, cl.op, err)
	}
	cl.job.answered()
	close(cl.done)
	return true
}

// connLost wraps the reason a connection broke so that errors.Is(err, ErrConnectionLost) holds.
func connLost(cause error) error {
	return fmt.Errorf("%w: %w", ErrConnectionLost, cause)
}
