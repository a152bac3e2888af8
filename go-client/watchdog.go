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
// while requests are pending it pings the daemon every quarter of the hang timeout (the daemon
// answers pings from the connection's own task, even when its workers are all busy, so a long
// job never looks like a hang), and when nothing at all has moved for twice the hang timeout (no
// byte received, no proof that the daemon read what we wrote), the connection is failed with
// ErrNotResponding and every call on it returns. Silence means silence on all of the Client's
// connections (activity.daemon): one connection left waiting by a daemon that serves the others
// is backpressure, bounded by the calls' own deadlines, not a hang. The pings' round trips set the timeout itself
// (rttEstimator): a loaded host gets a longer one instead of false alarms. Small writes prove
// nothing (the kernel buffers them for a stopped daemon too), but once more bytes have gone
// through since the last sign of life than any socket buffer holds (writeLive), the daemon has
// read some of them.

// activity records when bytes last moved on a connection, in either direction, in Unix
// nanoseconds, and how many bytes were written since then. writing is when the write system
// call in progress began, 0 when none is: a write that lasts means a full socket (the daemon is
// not reading), not a writer that this process has not scheduled.
//
// daemon is shared by all of a Client's connections: when any of them last saw the daemon alive.
// A stopped or wedged daemon silences every connection at once, while a live one may leave one
// connection silent for a while (its reader paused for the daemon's memory budget, its jobs
// behind the others'), so a connection is declared hung only when the daemon has been silent on
// all of them (see checkHung).
type activity struct {
	last    atomic.Int64
	sent    atomic.Int64
	writing atomic.Int64
	daemon  *atomic.Int64
}

func (a *activity) touch() {
	now := time.Now().UnixNano()
	a.last.Store(now)
	a.sent.Store(0)
	if a.daemon != nil {
		a.daemon.Store(now)
	}
}

// wrote counts n bytes taken by the socket; past writeLive since the last touch, the daemon must
// have read some of them, which is a sign of life.
func (a *activity) wrote(n int) {
	if a.sent.Add(int64(n)) > writeLive {
		a.touch()
	}
}

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
// seen while it lasts; writeLive is how many bytes must have gone through since the last sign of
// life before their progress proves the daemon is reading: well over a Unix socket's default
// buffer (about 200 KiB), which a stopped daemon's kernel still accepts.
const (
	writeStep = 256 << 10
	writeLive = 1 << 20
)

// stampWriter writes to the daemon in steps, counting the bytes taken (activity.wrote).
type stampWriter struct {
	w io.Writer
	a *activity
}

func (s stampWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		s.a.writing.Store(time.Now().UnixNano())
		n, err := s.w.Write(p[:min(len(p), writeStep)])
		s.a.writing.Store(0)
		written += n
		s.a.wrote(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// watchTicks is how many times per hang timeout a connection with pending requests looks at its
// silence and pings the daemon.
const watchTicks = 4

// armWatchLocked starts watching for a hang when the first request becomes pending; c.mu is held.
func (c *conn) armWatchLocked() {
	if c.rtt == nil || c.watching {
		return
	}
	c.watching, c.armedAt = true, time.Now().UnixNano()
	c.lastCheck = c.armedAt
	tick := c.rtt.timeout() / watchTicks
	if c.watch == nil {
		c.watch = time.AfterFunc(tick, c.checkHung)
	} else {
		c.watch.Reset(tick)
	}
}

// checkHung runs on the watch timer: it fails a connection that stayed silent for twice the hang
// timeout, and otherwise pings the daemon unless a ping is already in flight. The pings' round
// trips are the samples of the adaptive timeout (see rttEstimator); their replies are also the
// sign of life that a connection waiting on long jobs needs.
func (c *conn) checkHung() {
	c.mu.Lock()
	if c.err != nil || len(c.pending) == 0 {
		c.watching = false
		c.mu.Unlock()
		return
	}
	hangAfter := c.rtt.timeout()
	now := time.Now().UnixNano()
	since := max(c.armedAt, c.moved.last.Load())
	if c.moved.daemon != nil {
		since = max(since, c.moved.daemon.Load()) // alive on another connection: not stopped
	}
	silent := time.Duration(now - since)
	// Silence for the hang timeout only makes the connection suspect: like TCP after a
	// retransmission timeout, the watch backs off and waits as long again, and fails the
	// connection after twice the timeout's silence (DefaultMaxHangTimeout at most). The first
	// expiry is where a sudden load spike would cry wolf: it comes before any ping has measured
	// the new load. And the daemon must have had the ping for half the timeout: a ping still in
	// our queue, behind a writer this process has not run, proves nothing against the daemon;
	// a writer stuck that long in one write (a full socket: the daemon reads nothing) stands for
	// a ping it has not read.
	pinged := c.pingID != 0 && c.pingWritten.Load() == c.pingID &&
		time.Duration(now-c.pingWrittenAt.Load()) >= hangAfter/2
	if ws := c.moved.writing.Load(); c.pingID != 0 && ws != 0 && time.Duration(now-ws) >= hangAfter/2 {
		pinged = true
	}
	isHung := pinged && time.Duration(now-since) >= c.rtt.failAfter() && hung(now, since, c.lastCheck, hangAfter)
	c.lastCheck = now
	if isHung && c.repliesWaiting() {
		// The daemon has answered; our reader has not run yet. Not a hang: the reply's bytes
		// will count as movement once read.
		isHung = false
	}
	if isHung {
		n, pingAge := len(c.pending), time.Duration(now-c.pingSent)
		c.mu.Unlock()
		c.fail(connLost(fmt.Errorf("%w: nothing received or sent for %v with %d request(s) pending, a ping unanswered for %v (hang timeout %v)",
			ErrNotResponding, silent.Round(time.Millisecond), n, pingAge.Round(time.Millisecond), hangAfter.Round(time.Millisecond))))
		return
	}
	ping := c.pingID == 0
	if ping {
		c.pingID, c.pingSent = c.nextID.Add(1), now
	}
	id := c.pingID
	c.watch.Reset(hangAfter / watchTicks)
	c.mu.Unlock()
	if ping {
		c.sendPing(id)
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

// sendPing queues the watch's ping with id: its reply, which no call waits for, gives the reader
// a round-trip sample (see dispatch) and proves that the daemon is alive.
func (c *conn) sendPing(id uint64) {
	cl := &call{id: id, op: wire.OpPing, buf: getBuf()}
	cl.frame = wire.AppendSimple((*cl.buf)[:0], wire.Header{ID: id, Op: wire.OpPing})
	if c.enqueue(cl) != nil {
		cl.release()
	}
}
