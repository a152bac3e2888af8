package wire

import "github.com/tinylib/msgp/msgp"

// AppendReply appends a whole reply frame in canonical form: an error reply when !r.OK, else the
// success fields of op in table order. The client never sends replies; fake servers in the tests
// do, and the vectors test checks the encoding.
func AppendReply(dst []byte, op Op, r *Reply) []byte {
	start := len(dst)
	b := startFrame(dst)
	op = op.Base()
	if !r.OK {
		b = msgp.AppendMapHeader(b, 4)
		b = appendKey(b, "id")
		b = msgp.AppendUint64(b, r.ID)
		b = appendKey(b, "ok")
		b = msgp.AppendBool(b, false)
		b = appendKey(b, "code")
		b = msgp.AppendUint64(b, r.Code)
		b = appendKey(b, "message")
		b = msgp.AppendString(b, r.Message)
		finishFrame(b, start, 0)
		return b
	}
	fields := 0
	switch {
	case op == OpHello && r.Hello != nil:
		fields = 14
		if r.Hello.hasBudgetKeys() {
			fields += 3
			if r.Hello.MaxOutputs != 0 {
				fields++
			}
		}
	case op == OpResize && r.Resize.Outputs != nil:
		fields = 4
	case op == OpResize:
		fields = 7
	case op == OpChecksum:
		fields = 1
	case op == OpProbe && r.Probe != nil:
		fields = 9
	case op == OpStats && r.Stats != nil:
		fields = 11
		if r.Stats.hasBudgetKeys() {
			fields += 3
		}
	}
	b = msgp.AppendMapHeader(b, uint32(2+fields))
	b = appendKey(b, "id")
	b = msgp.AppendUint64(b, r.ID)
	b = appendKey(b, "ok")
	b = msgp.AppendBool(b, true)
	switch {
	case fields == 0:
	case op == OpHello:
		b = appendHelloReply(b, r.Hello)
	case op == OpResize:
		b = appendResizeReply(b, &r.Resize)
	case op == OpChecksum:
		b = appendKey(b, "digests")
		b = msgp.AppendMapHeader(b, uint32(len(r.Checksum.Digests)))
		for _, d := range r.Checksum.Digests {
			b = msgp.AppendString(b, d.Algorithm)
			b = msgp.AppendBytes(b, d.Sum)
		}
	case op == OpStats:
		b = appendStatsReply(b, r.Stats)
	case op == OpProbe:
		b = appendProbeReply(b, r.Probe)
	}
	finishFrame(b, start, 0)
	return b
}

func appendUintField(b []byte, key string, v uint64) []byte {
	return msgp.AppendUint64(appendKey(b, key), v)
}

func appendStrField(b []byte, key, v string) []byte {
	return msgp.AppendString(appendKey(b, key), v)
}

func appendStrArrayField(b []byte, key string, v []string) []byte {
	b = msgp.AppendArrayHeader(appendKey(b, key), uint32(len(v)))
	for _, s := range v {
		b = msgp.AppendString(b, s)
	}
	return b
}

func appendHelloReply(b []byte, h *HelloReply) []byte {
	b = appendUintField(b, "version", h.Version)
	b = appendStrField(b, "server", h.Server)
	b = appendUintField(b, "max_frame", h.MaxFrame)
	b = appendUintField(b, "max_pixels", h.MaxPixels)
	b = appendUintField(b, "max_dimension", h.MaxDimension)
	b = appendStrArrayField(b, "ops", h.Ops)
	b = appendStrArrayField(b, "input_formats", h.InputFormats)
	b = appendStrArrayField(b, "output_formats", h.OutputFormats)
	b = appendStrArrayField(b, "modes", h.Modes)
	b = appendStrArrayField(b, "filters", h.Filters)
	b = appendStrArrayField(b, "algorithms", h.Algorithms)
	b = appendUintField(b, "workers", h.Workers)
	b = appendUintField(b, "queue_jobs", h.QueueJobs)
	b = appendUintField(b, "queue_bytes", h.QueueBytes)
	if h.hasBudgetKeys() {
		b = appendUintField(b, "memory_budget", h.MemoryBudget)
		b = appendUintField(b, "max_connections", h.MaxConnections)
		b = appendUintField(b, "max_queue_wait_ms", h.MaxQueueWaitMs)
		if h.MaxOutputs != 0 {
			b = appendUintField(b, "max_outputs", h.MaxOutputs)
		}
	}
	return b
}

// hasBudgetKeys says whether the reply carries the keys protocol v1 added after queue_bytes; a
// daemon from before them sends none, and the encoder then writes none either. max_outputs came
// last, so a reply with it has the others too (a zero one is written as 0).
func (h *HelloReply) hasBudgetKeys() bool {
	return h.MemoryBudget != 0 || h.MaxConnections != 0 || h.MaxQueueWaitMs != 0 || h.MaxOutputs != 0
}

// hasBudgetKeys says whether the reply carries the keys protocol v1 added after workers.
func (s *StatsReply) hasBudgetKeys() bool {
	return s.MemoryBudget != 0 || s.MemoryUsed != 0 || s.ConnectionsRefused != 0
}

func appendResizeReply(b []byte, r *ResizeReply) []byte {
	if r.Outputs != nil {
		b = msgp.AppendArrayHeader(appendKey(b, "outputs"), uint32(len(r.Outputs)))
		for _, o := range r.Outputs {
			b = msgp.AppendMapHeader(b, 4)
			b = msgp.AppendBytes(appendKey(b, "image"), o.Image)
			b = appendUintField(b, "width", uint64(o.Width))
			b = appendUintField(b, "height", uint64(o.Height))
			b = appendStrField(b, "format", o.Format)
		}
		b = appendUintField(b, "source_width", uint64(r.SourceWidth))
		b = appendUintField(b, "source_height", uint64(r.SourceHeight))
		return appendStrField(b, "source_format", r.SourceFormat)
	}
	b = msgp.AppendBytes(appendKey(b, "image"), r.Image)
	b = appendUintField(b, "width", uint64(r.Width))
	b = appendUintField(b, "height", uint64(r.Height))
	b = appendStrField(b, "format", r.Format)
	b = appendUintField(b, "source_width", uint64(r.SourceWidth))
	b = appendUintField(b, "source_height", uint64(r.SourceHeight))
	return appendStrField(b, "source_format", r.SourceFormat)
}

func appendProbeReply(b []byte, p *ProbeReply) []byte {
	b = appendStrField(b, "format", p.Format)
	b = appendUintField(b, "width", uint64(p.Width))
	b = appendUintField(b, "height", uint64(p.Height))
	b = appendUintField(b, "orientation", p.Orientation)
	b = msgp.AppendBool(appendKey(b, "alpha"), p.Alpha)
	b = msgp.AppendBool(appendKey(b, "icc"), p.ICC)
	b = msgp.AppendBool(appendKey(b, "progressive"), p.Progressive)
	b = appendUintField(b, "frames", p.Frames)
	return appendUintField(b, "memory", p.Memory)
}

func appendStatsReply(b []byte, s *StatsReply) []byte {
	b = appendStrField(b, "server", s.Server)
	b = appendUintField(b, "uptime_ms", s.UptimeMs)
	b = appendUintField(b, "connections", s.Connections)
	b = appendUintField(b, "jobs_running", s.JobsRunning)
	b = appendUintField(b, "jobs_queued", s.JobsQueued)
	b = appendUintField(b, "queued_bytes", s.QueuedBytes)
	b = appendUintField(b, "requests_total", s.RequestsTotal)
	b = appendUintField(b, "errors_total", s.ErrorsTotal)
	b = appendUintField(b, "busy_total", s.BusyTotal)
	b = msgp.AppendMapHeader(appendKey(b, "requests_by_op"), uint32(len(s.RequestsByOp)))
	for _, c := range s.RequestsByOp {
		b = msgp.AppendString(b, c.Op)
		b = msgp.AppendUint64(b, c.Count)
	}
	b = appendUintField(b, "workers", s.Workers)
	if s.hasBudgetKeys() {
		b = appendUintField(b, "memory_budget", s.MemoryBudget)
		b = appendUintField(b, "memory_used", s.MemoryUsed)
		b = appendUintField(b, "connections_refused", s.ConnectionsRefused)
	}
	return b
}
