package ferry

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// A daemon that stops answering (SIGSTOP, a wedged runtime, a host under swap) keeps its socket
// open: writes succeed into the kernel's buffer and nothing ever comes back. Waiting for each
// call's deadline would cost every caller its whole budget, so each connection watches itself:
// while requests are pending and nothing has moved for half the hang timeout (no byte received,
// no byte of a request taken by the socket), it sends a ping (the daemon answers pings from the
// connection's own task, even when its workers are all busy, so a long job never looks like a
// hang); when nothing at all has moved for the whole hang timeout, the connection is failed with
// ErrNotResponding and every call on it returns. Small writes prove nothing (the kernel buffers
// them for a stopped daemon too), but a large request still being written counts as movement
// once more of it has gone through than any socket buffer holds (writeLive): the daemon is
// reading it.

// activity records when bytes last moved on a connection, in either direction, in Unix
// nanoseconds.
type activity struct{ last atomic.Int64 }

func (a *activity) touch() { a.last.Store(time.Now().UnixNano()) }

// stampReader reads from the daemon, recording activity.
type stampReader struct {
	r io.Reader
	a *activity
}

func (s stampReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.a.touch()
	}
	return n, err
}

// writeStep is how much of a large write goes to the socket at a time, so that its progress is
// seen while it lasts; writeLive is how much of one write must have gone through before its
// progress proves the daemon is reading: well over a Unix socket's default buffer (about
// 200 KiB), which a stopped daemon's kernel still accepts.
const (
	writeStep = 256 << 10
	writeLive = 1 << 20
)

// stampWriter writes to the daemon in steps, recording activity after each step past writeLive.
type stampWriter struct {
	w io.Writer
	a *activity
}

func (s stampWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n, err := s.w.Write(p[:min(len(p), writeStep)])
		written += n
		if written > writeLive {
			s.a.touch()
		}
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// watchTick is how often, as a share of the hang timeout, a connection with pending requests
// looks at its silence.
const watchTicks = 4

// armWatchLocked starts watching for a hang when the first request becomes pending; c.mu is held.
func (c *conn) armWatchLocked() {
	if c.hangAfter <= 0 || c.watching {
		return
	}
	c.watching, c.pinged, c.armedAt = true, false, time.Now().UnixNano()
	c.lastCheck = c.armedAt
	if c.watch == nil {
		c.watch = time.AfterFunc(c.hangAfter/watchTicks, c.checkHung)
	} else {
		c.watch.Reset(c.hangAfter / watchTicks)
	}
}

// checkHung runs on the watch timer: it pings a silent connection and fails one that stayed
// silent for the whole hang timeout.
func (c *conn) checkHung() {
	c.mu.Lock()
	if c.err != nil || len(c.pending) == 0 {
		c.watching = false
		c.mu.Unlock()
		return
	}
	now := time.Now().UnixNano()
	since := max(c.armedAt, c.moved.last.Load())
	silent := time.Duration(now - since)
	isHung := hung(now, since, c.lastCheck, c.hangAfter)
	c.lastCheck = now
	if isHung {
		n := len(c.pending)
		c.mu.Unlock()
		c.fail(connLost(fmt.Errorf("%w: nothing received or sent for %v with %d request(s) pending and a ping sent",
			ErrNotResponding, silent.Round(time.Millisecond), n)))
		return
	}
	ping := false
	if silent >= c.hangAfter/2 {
		ping, c.pinged = !c.pinged, true
	} else {
		c.pinged = false
	}
	c.watch.Reset(c.hangAfter / watchTicks)
	c.mu.Unlock()
	if ping {
		c.sendPing()
	}
}

// hung says whether a connection silent since `since` (Unix nanoseconds) is hung at `now`, the
// previous check having run at `lastCheck`. A check far later than its schedule means this
// process was not running (CPU starvation, a long GC pause, the host paused): the daemon's
// answer may be sitting unread in the socket, so such a check never fails the connection, and
// the next punctual one decides.
func hung(now, since, lastCheck int64, hangAfter time.Duration) bool {
	late := time.Duration(now-lastCheck) > 2*hangAfter/watchTicks
	return !late && time.Duration(now-since) >= hangAfter
}

// sendPing queues a ping nobody waits for: its reply (an id no call holds) is dropped by the
// reader, and only proves that the daemon is alive.
func (c *conn) sendPing() {
	id := c.nextID.Add(1)
	cl := &call{id: id, op: wire.OpPing, buf: getBuf()}
	cl.frame = wire.AppendSimple((*cl.buf)[:0], wire.Header{ID: id, Op: wire.OpPing})
	if c.enqueue(cl) != nil {
		cl.release()
	}
}
