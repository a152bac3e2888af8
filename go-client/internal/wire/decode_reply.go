package wire

import (
	"math"

	"github.com/tinylib/msgp/msgp"
)

// ReplyID reads only the id of a reply, so the reader can find the request it answers (and with it
// the op that says how to decode the rest).
func ReplyID(body []byte) (uint64, error) {
	it, err := openMap(body)
	if err != nil {
		return 0, err
	}
	for it.more() {
		key, val, err := it.next()
		if err != nil {
			return 0, err
		}
		if string(key) == "id" && !isNil(val) {
			id, err := readUint(val, math.MaxUint64)
			if err != nil {
				return 0, fieldErr("id", err)
			}
			return id, nil
		}
	}
	return 0, fieldErr("id", ErrMissing)
}

// DecodeReply decodes a reply to a request of the given op into r. Keys that op's reply does not
// define are skipped, whatever their type. Binary fields alias body unless copyBins is set.
func DecodeReply(body []byte, op Op, r *Reply, copyBins bool) error {
	*r = Reply{}
	it, err := openMap(body)
	if err != nil {
		return err
	}
	var haveID, haveOK bool
	// code and message belong to error replies only; in a success reply they are keys the
	// reply does not define, skipped whatever their type. The map's order is free, so they are
	// kept raw until ok is known.
	var code, message []byte
	var have resultFields
	for it.more() {
		key, val, err := it.next()
		if err != nil {
			return err
		}
		if isNil(val) {
			continue // nil means absent
		}
		switch string(key) {
		case "id":
			// Twice would leave two requests this could answer; ReplyID reads the first.
			if haveID {
				return fieldErr("id", ErrDuplicateKey)
			}
			r.ID, err = readUint(val, math.MaxUint64)
			haveID = true
		case "ok":
			if haveOK {
				return fieldErr("ok", ErrDuplicateKey)
			}
			r.OK, err = readBool(val)
			haveOK = true
		case "code":
			if code != nil {
				return fieldErr("code", ErrDuplicateKey)
			}
			code = val
		case "message":
			if message != nil {
				return fieldErr("message", ErrDuplicateKey)
			}
			message = val
		default:
			switch op.Base() {
			case OpHello:
				err = decodeHelloField(key, val, r, &have)
			case OpResize:
				err = decodeResizeField(key, val, &r.Resize, copyBins, &have)
			case OpChecksum:
				err = decodeChecksumField(key, val, &r.Checksum, copyBins, &have)
			case OpStats:
				err = decodeStatsField(key, val, r)
			case OpProbe:
				err = decodeProbeField(key, val, r, &have)
			}
		}
		if err != nil {
			return fieldErr(string(key), err)
		}
	}
	if err := it.end(); err != nil {
		return err
	}
	switch {
	case !haveID:
		return fieldErr("id", ErrMissing)
	case !haveOK:
		return fieldErr("ok", ErrMissing)
	case !r.OK:
		return decodeErrorFields(code, message, r)
	}
	return have.check(op)
}

// decodeErrorFields decodes an error reply's code (required) and message.
func decodeErrorFields(code, message []byte, r *Reply) (err error) {
	if code == nil {
		return fieldErr("code", ErrMissing)
	}
	if r.Code, err = readUint(code, math.MaxUint16); err != nil {
		return fieldErr("code", err)
	}
	if message != nil {
		s, err := readStr(message)
		if err != nil {
			return fieldErr("message", err)
		}
		r.Message = string(s)
	}
	return nil
}

// resultFields records which required result fields a success reply carried.
type resultFields struct {
	version, maxFrame    bool
	image, width, height bool
	outputs              bool
	digests              bool
	format, frames       bool
}

func (h *resultFields) check(op Op) error {
	missing := ""
	switch op.Base() {
	case OpHello:
		switch {
		case !h.version:
			missing = "version"
		case !h.maxFrame:
			missing = "max_frame"
		}
	case OpResize:
		switch {
		case h.outputs:
			// A reply with outputs has no top-level image, width or height.
		case !h.image:
			missing = "image"
		case !h.width:
			missing = "width"
		case !h.height:
			missing = "height"
		}
	case OpChecksum:
		if !h.digests {
			missing = "digests"
		}
	case OpProbe:
		switch {
		case !h.format:
			missing = "format"
		case !h.width:
			missing = "width"
		case !h.height:
			missing = "height"
		case !h.frames:
			missing = "frames"
		}
	}
	if missing != "" {
		return fieldErr(missing, ErrMissing)
	}
	return nil
}

func decodeHelloField(key, val []byte, r *Reply, have *resultFields) (err error) {
	if r.Hello == nil {
		r.Hello = new(HelloReply)
	}
	h := r.Hello
	switch string(key) {
	case "version":
		h.Version, err = readUint(val, math.MaxUint64)
		have.version = true
	case "server":
		var s []byte
		s, err = readStr(val)
		h.Server = string(s)
	case "max_frame":
		h.MaxFrame, err = readUint(val, math.MaxUint32)
		have.maxFrame = true
	case "max_pixels":
		h.MaxPixels, err = readUint(val, math.MaxUint64)
	case "max_dimension":
		h.MaxDimension, err = readUint(val, math.MaxUint32)
	case "ops":
		h.Ops, err = readStrArray(val)
	case "input_formats":
		h.InputFormats, err = readStrArray(val)
	case "output_formats":
		h.OutputFormats, err = readStrArray(val)
	case "modes":
		h.Modes, err = readStrArray(val)
	case "filters":
		h.Filters, err = readStrArray(val)
	case "algorithms":
		h.Algorithms, err = readStrArray(val)
	case "workers":
		h.Workers, err = readUint(val, math.MaxUint64)
	case "queue_jobs":
		h.QueueJobs, err = readUint(val, math.MaxUint64)
	case "queue_bytes":
		h.QueueBytes, err = readUint(val, math.MaxUint64)
	case "memory_budget":
		h.MemoryBudget, err = readUint(val, math.MaxUint64)
	case "max_connections":
		h.MaxConnections, err = readUint(val, math.MaxUint64)
	case "max_queue_wait_ms":
		h.MaxQueueWaitMs, err = readUint(val, math.MaxUint64)
	case "max_outputs":
		h.MaxOutputs, err = readUint(val, math.MaxUint64)
	}
	return err
}

func decodeProbeField(key, val []byte, r *Reply, have *resultFields) (err error) {
	if r.Probe == nil {
		r.Probe = new(ProbeReply)
	}
	p := r.Probe
	var v uint64
	switch string(key) {
	case "format":
		var s []byte
		s, err = readStr(val)
		p.Format = word(s)
		have.format = true
	case "width":
		v, err = readUint(val, math.MaxUint32)
		p.Width = uint32(v)
		have.width = true
	case "height":
		v, err = readUint(val, math.MaxUint32)
		p.Height = uint32(v)
		have.height = true
	case "orientation":
		p.Orientation, err = readUint(val, math.MaxUint64)
	case "alpha":
		p.Alpha, err = readBool(val)
	case "icc":
		p.ICC, err = readBool(val)
	case "progressive":
		p.Progressive, err = readBool(val)
	case "frames":
		p.Frames, err = readUint(val, math.MaxUint64)
		have.frames = true
	case "memory":
		p.Memory, err = readUint(val, math.MaxUint64)
	}
	return err
}

func decodeResizeField(key, val []byte, r *ResizeReply, copyBins bool, have *resultFields) (err error) {
	var v uint64
	switch string(key) {
	case "image":
		r.Image, err = readBin(val, copyBins)
		have.image = true
	case "width":
		v, err = readUint(val, math.MaxUint32)
		r.Width = uint32(v)
		have.width = true
	case "height":
		v, err = readUint(val, math.MaxUint32)
		r.Height = uint32(v)
		have.height = true
	case "format":
		var s []byte
		s, err = readStr(val)
		r.Format = word(s)
	case "source_width":
		v, err = readUint(val, math.MaxUint32)
		r.SourceWidth = uint32(v)
	case "source_height":
		v, err = readUint(val, math.MaxUint32)
		r.SourceHeight = uint32(v)
	case "source_format":
		var s []byte
		s, err = readStr(val)
		r.SourceFormat = word(s)
	case "outputs":
		r.Outputs, err = decodeOutputReplies(val, copyBins)
		have.outputs = true
	}
	return err
}

// decodeOutputReplies reads a resize reply's outputs: an array of maps, each with image, width
// and height required and format; other keys are skipped.
func decodeOutputReplies(val []byte, copyBins bool) ([]OutputReply, error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(val)
	if err != nil {
		return nil, err
	}
	if int(n) > len(rest) {
		return nil, msgp.ErrShortBytes
	}
	out := make([]OutputReply, n)
	for i := range out {
		elem, after, err := splitValue(rest)
		if err != nil {
			return nil, err
		}
		rest = after
		it, err := openMap(elem)
		if err != nil {
			return nil, err
		}
		var have resultFields
		o := &out[i]
		for it.more() {
			key, v, err := it.next()
			if err != nil {
				return nil, err
			}
			if isNil(v) {
				continue
			}
			var n uint64
			switch string(key) {
			case "image":
				o.Image, err = readBin(v, copyBins)
				have.image = true
			case "width":
				n, err = readUint(v, math.MaxUint32)
				o.Width = uint32(n)
				have.width = true
			case "height":
				n, err = readUint(v, math.MaxUint32)
				o.Height = uint32(n)
				have.height = true
			case "format":
				var s []byte
				s, err = readStr(v)
				o.Format = word(s)
			}
			if err != nil {
				return nil, fieldErr(string(key), err)
			}
		}
		if err := have.check(OpResize); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeChecksumField(key, val []byte, r *ChecksumReply, copyBins bool, have *resultFields) error {
	if string(key) != "digests" {
		return nil
	}
	n, rest, err := msgp.ReadMapHeaderBytes(val)
	if err != nil {
		return err
	}
	if int(n) > len(rest) {
		return msgp.ErrShortBytes
	}
	r.Digests = make([]Digest, 0, n)
	for range n {
		name, after, err := msgp.ReadStringZC(rest)
		if err != nil {
			return err
		}
		sum, after, err := msgp.ReadBytesZC(after)
		if err != nil {
			return err
		}
		r.Digests = append(r.Digests, Digest{Algorithm: word(name), Sum: ownBin(sum, copyBins)})
		rest = after
	}
	have.digests = true
	return nil
}

func decodeStatsField(key, val []byte, r *Reply) (err error) {
	if r.Stats == nil {
		r.Stats = new(StatsReply)
	}
	s := r.Stats
	var dst *uint64
	switch string(key) {
	case "server":
		var b []byte
		b, err = readStr(val)
		s.Server = string(b)
		return err
	case "requests_by_op":
		return decodeOpCounts(val, s)
	case "uptime_ms":
		dst = &s.UptimeMs
	case "connections":
		dst = &s.Connections
	case "jobs_running":
		dst = &s.JobsRunning
	case "jobs_queued":
		dst = &s.JobsQueued
	case "queued_bytes":
		dst = &s.QueuedBytes
	case "requests_total":
		dst = &s.RequestsTotal
	case "errors_total":
		dst = &s.ErrorsTotal
	case "busy_total":
		dst = &s.BusyTotal
	case "workers":
		dst = &s.Workers
	case "memory_budget":
		dst = &s.MemoryBudget
	case "memory_used":
		dst = &s.MemoryUsed
	case "connections_refused":
		dst = &s.ConnectionsRefused
	default:
		return nil
	}
	*dst, err = readUint(val, math.MaxUint64)
	return err
}

func decodeOpCounts(val []byte, s *StatsReply) error {
	n, rest, err := msgp.ReadMapHeaderBytes(val)
	if err != nil {
		return err
	}
	if int(n) > len(rest) {
		return msgp.ErrShortBytes
	}
	s.RequestsByOp = make([]OpCount, 0, n)
	for range n {
		name, after, err := msgp.ReadStringZC(rest)
		if err != nil {
			return err
		}
		count, after, err := msgp.ReadUint64Bytes(after)
		if err != nil {
			return err
		}
		s.RequestsByOp = append(s.RequestsByOp, OpCount{Op: word(name), Count: count})
		rest = after
	}
	return nil
}
