package ferry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Client talks to one ferryd over its Unix socket. It is safe for concurrent use by any number of
// goroutines: their requests share a small pool of connections, many in flight on each, and are
// matched to replies by id. Create it with Dial and release it with Close.
type Client struct {
	path  string
	cfg   config
	slots []*slot
	// next spreads calls over the slots, round robin.
	next atomic.Uint32
	info atomic.Pointer[ServerInfo]
	// rtt sets the connections' hang timeout from their ping round trips; nil when hang
	// detection is off. heard is when any connection last saw the daemon alive (Unix
	// nanoseconds; see activity).
	rtt   *rttEstimator
	heard atomic.Int64

	// ctx is cancelled by Close; it bounds the dials.
	ctx    context.Context
	cancel context.CancelFunc
	// closed is closed by Close; waiting callers and dials watch it.
	closed    chan struct{}
	closeOnce sync.Once
	// wg counts the dial goroutines, so Close can wait for them.
	wg sync.WaitGroup
	// detached counts the calls abandoned while their frame was being written, which the writer
	// finished from a copy (see abandon); the tests read it.
	detached atomic.Uint64
	// throttle refuses jobs locally while the daemon answers busy to most of them; nil when
	// off (see WithThrottle).
	throttle *Throttle
	// outstanding counts the job requests past the throttle and not yet answered (queued,
	// written, or held by the daemon); see admitOutstanding.
	outstanding atomic.Int64
	// holding counts the calls holding a local refusal now (see hold): with outstanding, how
	// many of this Client's calls want the daemon at once (see outstandingLimit).
	holding atomic.Int64
}

// Dial returns a Client for the daemon listening on socketPath. It connects and performs the
// hello handshake before returning (unless WithLazyConnect is given), so a daemon that is down
// yields an error wrapping ErrUnavailable. The remaining connections of the pool are opened in the
// background. ctx bounds the first connection only; it does not limit the Client's lifetime.
//
// On a platform where ferryd cannot run (Windows, any non-Unix GOOS), Dial fails with an error
// matching both ErrUnsupportedPlatform and ErrUnavailable; with WithLazyConnect it returns a
// Client whose every call fails so, for a router that then serves on the Go path.
func Dial(ctx context.Context, socketPath string, opts ...Option) (*Client, error) {
	cfg := newConfig(opts)
	c := &Client{
		path:   socketPath,
		cfg:    cfg,
		closed: make(chan struct{}),
	}
	if cfg.throttleK >= 0 {
		c.throttle = NewThrottle(ThrottleConfig{K: cfg.throttleK}, cfg.throttleNow, nil)
	}
	if cfg.hangTimeout > 0 {
		c.rtt = newRTTEstimator(cfg.hangTimeout)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.slots = make([]*slot, cfg.poolSize)
	for i := range c.slots {
		c.slots[i] = &slot{client: c}
	}
	if cfg.lazy {
		return c, nil
	}
	if _, err := c.slots[0].get(ctx); err != nil {
		c.Close()
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("%w: dialing %s: %w", ErrUnavailable, socketPath, ctxErr)
		}
		return nil, err
	}
	for _, s := range c.slots[1:] {
		s.redial()
	}
	return c, nil
}

// Close closes every connection. Calls in flight, and calls made afterwards, fail with ErrClosed.
// It waits for the Client's goroutines to end and always returns nil; calling it again does
// nothing.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		for _, s := range c.slots {
			s.close()
		}
		c.wg.Wait()
	})
	return nil
}

// ServerInfo returns what the daemon reported in its most recent hello handshake, or nil when no
// connection has been made yet (only possible with WithLazyConnect). The result is shared: do not
// modify it.
func (c *Client) ServerInfo() *ServerInfo { return c.info.Load() }

func (c *Client) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// pick chooses the connection for one call: the next slot in turn if its connection is up, else
// any connection that is up (while the slot redials in the background), else a fresh dial.
func (c *Client) pick(ctx context.Context) (*conn, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	n := len(c.slots)
	first := int(c.next.Add(1) % uint32(n))
	s := c.slots[first]
	if cn := s.live(); cn != nil {
		return cn, nil
	}
	for i := 1; i < n; i++ {
		if cn := c.slots[(first+i)%n].live(); cn != nil {
			s.redial()
			return cn, nil
		}
	}
	return s.get(ctx)
}

// do sends one request and waits for its reply. The returned call holds a success reply; every
// failure is returned as an error: *ServerError for an error reply, ctx's error wrapped when ctx
// ended first, the client-side sentinels (ErrClosed, ErrConnectionLost, ...) otherwise.
func (c *Client) do(ctx context.Context, req *wire.Request) (*call, error) {
	return c.doFile(ctx, req, nil)
}

// doFile is do for a request that passes file by descriptor (checksum_file, resize_file).
func (c *Client) doFile(ctx context.Context, req *wire.Request, file *os.File) (*call, error) {
	if err := ctx.Err(); err != nil {
		return nil, opError(req.Op, err)
	}
	if isJob(req.Op) {
		counted, err := c.admit(ctx)
		if err != nil {
			return nil, err
		}
		if counted {
			job := c.admitOutstanding()
			if job == nil {
				return nil, c.hold(ctx, "as many jobs outstanding as the Client keeps: the daemon's queue_jobs, or half of it while more calls want it")
			}
			cl, err := c.send1(ctx, req, file, job)
			job.answered()
			if !errors.Is(err, ErrThrottled) { // refused for its connections' queues: never sent
				c.throttle.Done(!errors.Is(err, ErrBusy))
			}
			return cl, err
		}
	}
	return c.send1(ctx, req, file, nil)
}

// isJob reports whether op asks the daemon's workers for work, which the throttle may hold
// back; ping and stats are answered without them and always go through.
func isJob(op wire.Op) bool {
	switch op {
	case wire.OpResize, wire.OpChecksum, wire.OpResizeFile, wire.OpChecksumFile:
		return true
	}
	return false
}

// send1 is doFile past the throttle: it sets the request's budget, picks a connection, sends
// and waits.
func (c *Client) send1(ctx context.Context, req *wire.Request, file *os.File, job *outstandingJob) (*call, error) {
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			// Not sent: the daemon would only answer deadline_exceeded.
			return nil, opError(req.Op, context.DeadlineExceeded)
		}
		// Rounded up, so a budget under a millisecond is not sent as 0 ("already expired").
		ms := (left + time.Millisecond - 1) / time.Millisecond
		req.TimeoutMs, req.HasTimeout = uint32(min(ms, math.MaxUint32)), true
	}
	for attempt := 0; ; attempt++ {
		cn, err := c.pick(ctx)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil, opError(req.Op, err)
			}
			return nil, err
		}
		if isJob(req.Op) {
			if cn = c.roomToWrite(cn); cn == nil {
				return nil, c.refuseQueued(ctx)
			}
		}
		cl, err := c.send(ctx, cn, req, file, job)
		if err != nil {
			// The connection failed before anything was written: nothing reached the daemon, so
			// one more try on another connection is safe.
			if attempt == 0 && errors.Is(err, ErrConnectionLost) {
				continue
			}
			return nil, err
		}
		return c.wait(ctx, cn, cl)
	}
}

// send encodes req with a fresh id for cn, registers it, and writes it inline or queues it for
// the writer goroutine.
func (c *Client) send(ctx context.Context, cn *conn, req *wire.Request, file *os.File, job *outstandingJob) (*call, error) {
	req.ID = cn.nextID.Add(1)
	cl := &call{id: req.ID, op: req.Op, buf: getBuf(), done: make(chan struct{}), file: file, job: job}
	cl.frame = wire.AppendRequest((*cl.buf)[:0], req, inlinePayloadMax)
	if n := cl.frame.BodyLen(); n > cn.maxFrame {
		cl.release()
		return nil, fmt.Errorf("%w: %s request of %d bytes, daemon max_frame is %d",
			ErrRequestTooLarge, req.Op, n, cn.maxFrame)
	}
	if cl.frame.References() || file != nil {
		// The writer reads the caller's memory or descriptor: the caller must not leave before
		// it is done with them, or has taken them back (see abandon).
		cl.written = make(chan struct{})
	}
	if cl.frame.References() {
		cl.step, cl.payload = make(chan struct{}, 1), cl.frame.Payload
	}
	if err := cn.register(cl); err != nil {
		cl.release()
		return nil, err
	}
	if !cl.frame.References() {
		if ok, err := cn.tryWriteInline(ctx, cl); ok {
			if err != nil && ctx.Err() != nil {
				return nil, opError(req.Op, ctx.Err())
			}
			return cl, nil // on a write error, fail() has completed cl with ErrConnectionLost
		}
	}
	if err := cn.enqueue(cl); err != nil {
		// fail() has taken the pending map (and completed cl) or will; either way the frame was
		// never handed to the writer, so recycle it here.
		cl.release()
		return nil, err
	}
	return cl, nil
}

// wait blocks until the reply, the connection's failure or the end of ctx.
func (c *Client) wait(ctx context.Context, cn *conn, cl *call) (*call, error) {
	select {
	case <-cl.done:
		if cl.err != nil {
			return nil, cl.err
		}
		if !cl.reply.OK {
			return nil, serverError(&cl.reply)
		}
		return cl, nil
	case <-ctx.Done():
		c.abandon(cn, cl)
		return nil, opError(cl.op, ctx.Err())
	}
}

// abandon gives up on a call whose ctx ended, without breaking the connection that other calls
// share. A frame not yet taken by the writer is simply not sent. A frame already being written
// cannot be cut short without breaking the framing, so the writer finishes it, from a private
// copy of what is left of the caller's payload (detachPayload), and a cancel frame follows it:
// the daemon drops the job, the caller returns at once, and the other calls carry on. Only a
// daemon that has stopped reading for abandonWriteWait costs the connection (see there).
func (c *Client) abandon(cn *conn, cl *call) {
	if cl.state.CompareAndSwap(stateQueued, stateAbandoned) {
		cn.unregister(cl.id)
		return
	}
	if cl.written != nil {
		select {
		case <-cl.written:
		default:
			c.detached.Add(1)
			if !cn.detachPayload(cl) {
				cn.fail(connLost(fmt.Errorf("request abandoned while its payload was being written, and the daemon read none of it for %v", abandonWriteWait)))
				<-cl.written
			}
		}
	}
	if cn.unregister(cl.id) {
		cn.sendCancel(cl.id)
	}
}

// serverError converts an error reply. Codes this client does not know are reported as
// CodeInternal, as the spec asks, with the number kept in the message.
func serverError(r *wire.Reply) *ServerError {
	code := Code(r.Code)
	if _, known := codeNames[code]; !known {
		return &ServerError{Code: CodeInternal, Message: fmt.Sprintf("unknown code %d: %s", r.Code, r.Message)}
	}
	return &ServerError{Code: code, Message: r.Message}
}

// opError wraps a context error with the operation that it ended.
func opError(op wire.Op, err error) error {
	return fmt.Errorf("ferry: %s: %w", op, err)
}

// The daemon Client is one of the interchangeable Processors.
var _ Processor = (*Client)(nil)
