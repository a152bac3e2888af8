package ferry

import (
	"sync"
	"sync/atomic"
	"time"
)

// rttEstimator turns ping round trips into the hang timeout, the way TCP sets its retransmission
// timer (RFC 6298): a smoothed round trip srtt and its mean deviation rttvar, each sample moving
// them by 1/8 and 1/4, and rto = srtt + 4*rttvar. The hang timeout is twice rto (a ping may go
// out a quarter of the timeout after the silence began, and it must have had the whole timeout;
// see checkHung, which fails a connection after twice the timeout's silence), never below the floor
// (WithHangTimeout, DefaultHangTimeout) and never above the ceiling (DefaultMaxHangTimeout, or
// twice the floor if that is larger), which also caps the silence that fails a connection.
//
// Only pings are samples. The daemon answers a ping from the connection's own task, even while
// every worker is busy, so a ping's round trip measures exactly what the hang watch waits on: our
// writer's queue, the socket both ways, the daemon's connection task getting a CPU, our reader
// getting one. On a loaded host (busy loops beside the daemon, the daemon under a CPU quota, this
// process starved) all of those stretch, and the timeout with them. A job's reply would also
// count its queue wait and run time, which say nothing about whether the daemon is alive; a long
// job would inflate the timeout and make a stopped daemon slow to detect.
//
// One estimator serves all of a Client's connections: they reach the same daemon on the same
// host, and more samples track a change sooner.
type rttEstimator struct {
	floor, ceiling time.Duration

	// mu guards srtt, rttvar and seen.
	mu           sync.Mutex
	srtt, rttvar time.Duration
	seen         bool
	// current is the hang timeout now, in nanoseconds: read by every watch tick, without mu.
	current atomic.Int64
}

func newRTTEstimator(floor time.Duration) *rttEstimator {
	e := &rttEstimator{floor: floor, ceiling: max(DefaultMaxHangTimeout, 2*floor)}
	e.current.Store(int64(floor))
	return e
}

// timeout is the hang timeout now.
func (e *rttEstimator) timeout() time.Duration { return time.Duration(e.current.Load()) }

// failAfter is the silence after which a connection is failed: twice the timeout (one back-off,
// see checkHung), but never more than the ceiling, so that a stopped daemon is found within
// DefaultMaxHangTimeout however slow the pings were before it stopped.
func (e *rttEstimator) failAfter() time.Duration { return min(2*e.timeout(), e.ceiling) }

// sample feeds one ping round trip.
func (e *rttEstimator) sample(rtt time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.seen {
		e.srtt, e.rttvar, e.seen = rtt, rtt/2, true
	} else {
		dev := e.srtt - rtt
		if dev < 0 {
			dev = -dev
		}
		e.rttvar = (3*e.rttvar + dev) / 4
		e.srtt = (7*e.srtt + rtt) / 8
	}
	rto := e.srtt + 4*e.rttvar
	e.current.Store(int64(min(max(2*rto, e.floor), e.ceiling)))
}

// HangTimeout returns the hang timeout now: a connection with requests pending that stays silent
// this long, a ping unanswered, is suspect, and after twice this long its calls fail with
// ErrNotResponding (at most DefaultMaxHangTimeout). It is the floor set by WithHangTimeout
// (DefaultHangTimeout), raised while the measured ping round trips of this Client's connections
// are slow or vary (see WithHangTimeout), up to DefaultMaxHangTimeout. It is 0 when hang detection is off (a negative
// WithHangTimeout). A caller that waits for the daemon's liveness in its own way (a health
// probe) can use it as a timeout that does not cry wolf on a loaded host.
func (c *Client) HangTimeout() time.Duration {
	if c.rtt == nil {
		return 0
	}
	return c.rtt.timeout()
}
