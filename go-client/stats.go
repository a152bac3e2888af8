package ferry

import (
	"context"
	"math"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Stats are the daemon's counters since it started (SPEC.md section 5.5).
type Stats struct {
	// Server is the daemon's name and version.
	Server string
	// Uptime is the time since the daemon started.
	Uptime time.Duration
	// Connections is the number of connections open now, this Client's included.
	Connections int
	// JobsRunning and JobsQueued are the jobs executing and waiting now.
	JobsRunning, JobsQueued int
	// QueuedBytes is the payload held by the admitted jobs now.
	QueuedBytes int64
	// RequestsTotal counts the requests answered, ErrorsTotal the error replies among them and
	// BusyTotal the busy replies, all since start.
	RequestsTotal, ErrorsTotal, BusyTotal uint64
	// RequestsByOp counts the requests answered per op.
	RequestsByOp map[string]uint64
	// Workers is the size of the daemon's CPU pool.
	Workers int
	// MemoryBudget is the daemon's memory budget and MemoryUsed what it holds against it now, in
	// bytes; ConnectionsRefused counts connections refused (over the connection limit, or a peer
	// not allowed) since start. All zero from a daemon that does not report them.
	MemoryBudget, MemoryUsed int64
	ConnectionsRefused       uint64
}

// Stats asks the daemon for its counters. The daemon answers without queueing, so a health check
// gets an answer even while the worker pool is saturated.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	req := wire.Request{Header: wire.Header{Op: wire.OpStats}}
	cl, err := c.do(ctx, &req)
	if err != nil {
		return nil, err
	}
	s := cl.reply.Stats
	if s == nil {
		s = &wire.StatsReply{}
	}
	byOp := make(map[string]uint64, len(s.RequestsByOp))
	for _, c := range s.RequestsByOp {
		byOp[c.Op] = c.Count
	}
	return &Stats{
		Server:             s.Server,
		Uptime:             time.Duration(s.UptimeMs) * time.Millisecond,
		Connections:        int(s.Connections),
		JobsRunning:        int(s.JobsRunning),
		JobsQueued:         int(s.JobsQueued),
		QueuedBytes:        int64(s.QueuedBytes),
		RequestsTotal:      s.RequestsTotal,
		ErrorsTotal:        s.ErrorsTotal,
		BusyTotal:          s.BusyTotal,
		RequestsByOp:       byOp,
		Workers:            int(s.Workers),
		MemoryBudget:       int64(min(s.MemoryBudget, math.MaxInt64)),
		MemoryUsed:         int64(min(s.MemoryUsed, math.MaxInt64)),
		ConnectionsRefused: s.ConnectionsRefused,
	}, nil
}
