package ferry

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// DefaultThrottleWriteWait bounds, while the daemon is answering busy, how long a job frame may
// expect to wait on its connection behind the frames queued before it. Under overload the
// daemon reads frames no faster than it answers them, so a Client with hundreds of callers
// builds a queue of whole images in front of its connections, and a frame the daemon will
// refuse waits there for hundreds of milliseconds before it is even read: the busy answer then
// takes that long to arrive. Past the bound the Client tries its other connections and, failing
// them, refuses the request locally at once (ErrThrottled, held like the throttle's own
// refusals). While the daemon accepts what it is sent, frames queue without a bound: they are
// work it will do.
const DefaultThrottleWriteWait = 20 * time.Millisecond

// admitOutstanding counts one more job request outstanding unless the Client already has
// outstandingLimit of them: the daemon would answer the next one busy unless one of ours ended
// first, so it would only wait in a connection's queue to learn that. This matters when
// hundreds of callers start at once, before any busy answer has told the throttle anything.
// nil: refused. The count ends when the reply is read (the daemon no longer holds the job, even
// if its caller has yet to be woken) or the call returns.
func (c *Client) admitOutstanding() *outstandingJob {
	limit := c.outstandingLimit()
	n := c.outstanding.Add(1)
	if limit > 0 && n > limit {
		c.outstanding.Add(-1)
		return nil
	}
	return &outstandingJob{client: c}
}

// overloadJobsPerWorker is the least the Client keeps outstanding per daemon worker while more
// of its calls want the daemon than its queue holds: one running and a few waiting, so that a
// worker that finishes finds the next job there.
const overloadJobsPerWorker = 4

// outstandingLimit is how many job requests the Client may have outstanding now, 0 for no
// bound (no hello yet). Normally the daemon's queue_jobs. When more of the Client's calls want
// the daemon than that (outstanding and holding a local refusal together), some are refused
// whatever the bound, and a full queue only makes each job wait longer: the bound is then half
// of queue_jobs (at least overloadJobsPerWorker per worker), which leaves the other half to the
// daemon's other clients. Measured with issue 21's harness at 320 callers on 2 workers (queue
// 64): half the queue served as much as the whole or more (92-94% of 8 callers' goodput against
// 90-92%), at p50 144 ms instead of 164; 4 per worker (8) starved the workers when the callers'
// own process was short of CPU (206 against 290 thumbnails/s beside CPU burners), its replies
// then read about 10 ms late. It returns to queue_jobs as soon as the demand fits.
func (c *Client) outstandingLimit() int64 {
	info := c.info.Load()
	if info == nil || info.QueueJobs <= 0 {
		return 0
	}
	limit := int64(info.QueueJobs)
	if c.outstanding.Load()+c.holding.Load() >= limit {
		limit = min(limit, max(limit/2, int64(overloadJobsPerWorker*max(1, info.Workers))))
	}
	return limit
}

// outstandingJob is one job request counted in Client.outstanding until answered.
type outstandingJob struct {
	client *Client
	done   atomic.Bool
}

// answered uncounts the job, once; nil does nothing.
func (j *outstandingJob) answered() {
	if j != nil && j.done.CompareAndSwap(false, true) {
		j.client.outstanding.Add(-1)
	}
}

// minRateSample is the smallest frame whose writing time updates a connection's write rate:
// a small frame's time is its fixed costs, not its bytes.
const minRateSample = 16 << 10

// queued counts a frame handed to the writer goroutine and stamps when, for writeWait.
func (c *conn) queued(cl *call) {
	cl.queuedBytes = int64(cl.frame.BodyLen()) + 4
	cl.queuedAt = time.Now().UnixNano()
	c.unwritten.Add(cl.queuedBytes)
}

// dequeued uncounts a frame the writer is done with (written, skipped or dropped).
func (c *conn) dequeued(cl *call) {
	if cl.queuedBytes != 0 {
		c.unwritten.Add(-cl.queuedBytes)
		cl.queuedBytes = 0
	}
}

// timeWrite updates the connection's write rate with one frame the writer finished at end
// (Unix nanoseconds): the time since it was queued or the previous frame was done, whichever
// is later (so the writer's own wake-up is counted, but not its idle time), over its bytes. The
// caller holds wmu.
func (c *conn) timeWrite(cl *call, end int64) {
	start := max(cl.queuedAt, c.lastWriteEnd)
	c.lastWriteEnd = end
	if cl.queuedAt == 0 || cl.queuedBytes < minRateSample || end <= start {
		return
	}
	sample := float64(end-start) / float64(cl.queuedBytes)
	old := math.Float64frombits(c.nsPerByte.Load())
	if old > 0 {
		sample = old + (sample-old)/8
	}
	c.nsPerByte.Store(math.Float64bits(sample))
}

// writeWait is how long a frame queued now can expect to wait for the frames ahead of it: the
// bytes not yet written times the recent write rate (0 before the first sample).
func (c *conn) writeWait() time.Duration {
	return time.Duration(float64(c.unwritten.Load()) * math.Float64frombits(c.nsPerByte.Load()))
}

// roomToWrite returns cn, or another live connection, whose queue a job frame may join now; nil
// when every connection is behind by more than the write-wait bound while the daemon answers
// busy (see DefaultThrottleWriteWait).
func (c *Client) roomToWrite(cn *conn) *conn {
	const limit = DefaultThrottleWriteWait
	if c.throttle == nil || cn.writeWait() <= limit || !c.throttle.refusedLately() {
		return cn
	}
	for _, s := range c.slots {
		if other := s.live(); other != nil && other.writeWait() <= limit {
			return other
		}
	}
	return nil
}

// refuseQueued is the local refusal of a job frame no connection has room for, held like a
// throttle refusal so that a caller retrying at once cannot spin.
func (c *Client) refuseQueued(ctx context.Context) error {
	return c.hold(ctx, "every connection has more than "+DefaultThrottleWriteWait.String()+" of frames ahead while the daemon answers busy")
}
