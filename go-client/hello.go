package ferry

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"runtime"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// ServerInfo is what the daemon said about itself in the hello handshake: its version, limits
// and capabilities.
type ServerInfo struct {
	// Version is the protocol version in use (1).
	Version int
	// Server is the daemon's name and version, e.g. "ferryd 0.1.0".
	Server string
	// MaxFrame is the largest request body the daemon accepts, in bytes; the Client refuses larger
	// requests locally with ErrRequestTooLarge.
	MaxFrame int64
	// MaxPixels is the largest input image (width x height) resize accepts; over it a resize
	// fails with ErrImageTooLarge.
	MaxPixels int64
	// MaxDimension is the largest input width or height, and the largest box side, accepted.
	MaxDimension int
	// Ops are the operations served.
	Ops []string
	// InputFormats and OutputFormats are the image formats resize reads and writes.
	InputFormats, OutputFormats []Format
	// Modes are the resize modes offered.
	Modes []Mode
	// Filters are the resampling filters offered.
	Filters []Filter
	// Algorithms are the checksum algorithms offered.
	Algorithms []Algorithm
	// Workers is the size of the daemon's CPU pool.
	Workers int
	// QueueJobs bounds the jobs the daemon holds (waiting or running) before it answers busy.
	QueueJobs int
	// QueueBytes bounds the payload bytes the daemon holds before it answers busy.
	QueueBytes int64
	// MemoryBudget bounds everything the daemon holds (frames being read, queued jobs with
	// their estimated working memory, replies not yet written), in bytes; a job that could never
	// fit it is refused with ErrTooLargeForBudget. Zero: the daemon does not say (older version).
	MemoryBudget int64
	// MaxConnections is the number of connections the daemon serves at once; beyond it a new
	// connection is refused with busy. Zero: the daemon does not say.
	MaxConnections int
	// MaxQueueWait is the longest expected queue wait the daemon accepts a job with; beyond it,
	// or beyond the request's own deadline, it answers busy. Zero: the daemon does not say.
	MaxQueueWait time.Duration
	// MaxOutputs is the most outputs one ResizeRequest may ask for (ResizeRequest.Outputs).
	// Zero: the daemon does not serve several outputs from one decode.
	MaxOutputs int
}

func serverInfoFrom(h *wire.HelloReply) *ServerInfo {
	return &ServerInfo{
		Version:        int(h.Version),
		Server:         h.Server,
		MaxFrame:       int64(h.MaxFrame),
		MaxPixels:      int64(h.MaxPixels),
		MaxDimension:   int(h.MaxDimension),
		Ops:            h.Ops,
		InputFormats:   words[Format](h.InputFormats),
		OutputFormats:  words[Format](h.OutputFormats),
		Modes:          words[Mode](h.Modes),
		Filters:        words[Filter](h.Filters),
		Algorithms:     words[Algorithm](h.Algorithms),
		Workers:        int(h.Workers),
		QueueJobs:      int(h.QueueJobs),
		QueueBytes:     int64(h.QueueBytes),
		MemoryBudget:   int64(min(h.MemoryBudget, math.MaxInt64)),
		MaxConnections: int(min(h.MaxConnections, math.MaxInt32)),
		MaxQueueWait:   time.Duration(min(h.MaxQueueWaitMs, math.MaxInt64/uint64(time.Millisecond))) * time.Millisecond,
		MaxOutputs:     int(min(h.MaxOutputs, math.MaxInt32)),
	}
}

func words[T ~string](s []string) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = T(v)
	}
	return out
}

// handshakeID is the id of the hello request, the first on every connection; request ids start
// after it.
const handshakeID = 1

// connect opens one connection: connect, hello, then the reader and writer start. Errors are
// wrapped in ErrUnavailable: no connection could be made.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	if !daemonPlatform {
		return nil, fmt.Errorf("%w: %w (GOOS %s): use the in-process Go path (package goproc) or the router's kill switch",
			ErrUnavailable, ErrUnsupportedPlatform, runtime.GOOS)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.dialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	moved := &activity{daemon: &c.heard}
	br := bufio.NewReaderSize(stampReader{nc, moved}, ioBufferSize)
	info, err := handshake(ctx, nc, br, c.cfg.clientName)
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, c.path, err)
	}
	cn := newConn(nc, br, moved, info, c.rtt)
	cn.nextID.Store(handshakeID)
	return cn, nil
}

// handshake sends hello and reads its reply synchronously, before the connection is shared, so no
// request can go out before the limits are known.
func handshake(ctx context.Context, nc net.Conn, br *bufio.Reader, name string) (*ServerInfo, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	// Cancelling ctx (Close, or the caller's ctx) interrupts a daemon that never answers.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	f := wire.AppendHello(nil, wire.Header{ID: handshakeID, Op: wire.OpHello},
		&wire.HelloRequest{Versions: []uint64{wire.ProtocolVersion}, Client: name})
	// A daemon that refuses the connection (peer_not_allowed, or busy at its connection limit)
	// sends an error frame with id 0 as soon as it accepts, and closes: the write may then fail
	// with a broken pipe, but the reason is waiting to be read, so it is read first.
	_, werr := nc.Write(f.Buf)
	body, err := wire.ReadFrame(br, wire.DefaultMaxFrame)
	if err != nil {
		if werr != nil {
			return nil, fmt.Errorf("hello: %w", werr)
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, fmt.Errorf("hello reply: %w", err)
	}
	var r wire.Reply
	if err := wire.DecodeReply(body, wire.OpHello, &r, false); err != nil {
		return nil, fmt.Errorf("%w: hello reply: %v", ErrProtocol, err)
	}
	if werr != nil && r.OK {
		return nil, fmt.Errorf("hello: %w", werr)
	}
	if !r.OK {
		return nil, fmt.Errorf("hello refused: %w", serverError(&r))
	}
	if r.ID != handshakeID {
		return nil, fmt.Errorf("%w: hello answered with id %d", ErrProtocol, r.ID)
	}
	if r.Hello.Version != wire.ProtocolVersion {
		return nil, fmt.Errorf("%w: daemon chose protocol version %d", ErrProtocol, r.Hello.Version)
	}
	if r.Hello.MaxFrame == 0 {
		return nil, fmt.Errorf("%w: hello reply has max_frame 0", ErrProtocol)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	if !stop() { // ctx ended while we finished; the deadline may already be set in the past
		return nil, fmt.Errorf("hello: %w", ctx.Err())
	}
	return serverInfoFrom(r.Hello), nil
}
