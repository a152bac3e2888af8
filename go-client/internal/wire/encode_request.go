package wire

import "github.com/tinylib/msgp/msgp"

// appendKey appends a map key. Every key in the protocol is shorter than 32 bytes, so it is a
// fixstr: one prefix byte and the text, no length switch.
func appendKey(b []byte, k string) []byte {
	b = append(b, 0xa0|byte(len(k)))
	return append(b, k...)
}

// appendHeader starts a request body: the map header for the common fields plus extra more, then
// id, op and timeout_ms in canonical order.
func appendHeader(b []byte, h *Header, extra int) []byte {
	n := 2 + extra
	if h.HasTimeout {
		n++
	}
	b = msgp.AppendMapHeader(b, uint32(n))
	b = appendKey(b, "id")
	b = msgp.AppendUint64(b, h.ID)
	b = appendKey(b, "op")
	b = msgp.AppendString(b, string(h.Op))
	if h.HasTimeout {
		b = appendKey(b, "timeout_ms")
		b = msgp.AppendUint64(b, uint64(h.TimeoutMs))
	}
	return b
}

// AppendSimple appends a request with no fields besides the common ones: ping, stats, cancel.
func AppendSimple(dst []byte, h Header) Frame {
	start := len(dst)
	b := appendHeader(startFrame(dst), &h, 0)
	finishFrame(b, start, 0)
	return Frame{Buf: b, Split: len(b)}
}

// AppendHello appends a hello request.
func AppendHello(dst []byte, h Header, r *HelloRequest) Frame {
	start := len(dst)
	extra := 1
	if r.Client != "" {
		extra++
	}
	b := appendHeader(startFrame(dst), &h, extra)
	b = appendKey(b, "versions")
	b = msgp.AppendArrayHeader(b, uint32(len(r.Versions)))
	for _, v := range r.Versions {
		b = msgp.AppendUint64(b, v)
	}
	if r.Client != "" {
		b = appendKey(b, "client")
		b = msgp.AppendString(b, r.Client)
	}
	finishFrame(b, start, 0)
	return Frame{Buf: b, Split: len(b)}
}

// appendPayload appends a bin header for p and then either p itself (when it is at most inlineMax
// bytes) or nothing, returning the offset where p belongs and the payload to write separately.
func appendPayload(b []byte, p []byte, inlineMax int) ([]byte, int, []byte) {
	b = msgp.AppendBytesHeader(b, uint32(len(p)))
	if len(p) <= inlineMax {
		return append(b, p...), 0, nil
	}
	return b, len(b), p
}

// frameFor packages an encoded request whose payload may have been left out.
func frameFor(b []byte, start, split int, payload []byte) Frame {
	finishFrame(b, start, len(payload))
	if payload == nil {
		split = len(b)
	}
	return Frame{Buf: b, Split: split, Payload: payload}
}

// AppendResize appends a resize request, or a resize_file request (h.Op) without image. An image longer than inlineMax bytes is left out of the
// buffer and referenced from the Frame instead (see Frame).
func AppendResize(dst []byte, h Header, r *ResizeRequest, inlineMax int) Frame {
	start := len(dst)
	extra := 1
	file := h.Op == OpResizeFile
	if file {
		extra = 0 // resize_file: the image is the passed file
	}
	for _, present := range [...]bool{
		r.Width != 0, r.Height != 0, r.Mode != "", r.Anchor != "", r.Filter != "", r.Format != "",
		r.Quality != 0, r.Outputs != nil, r.AutoOrient != Unset, r.KeepICC != Unset,
		r.KeepMetadata != Unset, r.Fast != Unset, r.Enlarge != Unset,
	} {
		if present {
			extra++
		}
	}
	b := appendHeader(startFrame(dst), &h, extra)
	split, payload := 0, []byte(nil)
	if !file {
		b = appendKey(b, "image")
		b, split, payload = appendPayload(b, r.Image, inlineMax)
	}
	if r.Width != 0 {
		b = appendKey(b, "width")
		b = msgp.AppendUint64(b, uint64(r.Width))
	}
	if r.Height != 0 {
		b = appendKey(b, "height")
		b = msgp.AppendUint64(b, uint64(r.Height))
	}
	b = appendOptString(b, "mode", r.Mode)
	b = appendOptString(b, "anchor", r.Anchor)
	b = appendOptString(b, "filter", r.Filter)
	b = appendOptString(b, "format", r.Format)
	if r.Quality != 0 {
		b = appendKey(b, "quality")
		b = msgp.AppendUint64(b, uint64(r.Quality))
	}
	if r.Outputs != nil {
		b = appendKey(b, "outputs")
		b = msgp.AppendArrayHeader(b, uint32(len(r.Outputs)))
		for i := range r.Outputs {
			b = appendOutputRequest(b, &r.Outputs[i])
		}
	}
	b = appendOptBool(b, "auto_orient", r.AutoOrient)
	b = appendOptBool(b, "keep_icc", r.KeepICC)
	b = appendOptBool(b, "keep_metadata", r.KeepMetadata)
	b = appendOptBool(b, "fast", r.Fast)
	b = appendOptBool(b, "enlarge", r.Enlarge)
	return frameFor(b, start, split, payload)
}

// AppendProbe appends a probe request. An image longer than inlineMax bytes is left out of the
// buffer and referenced from the Frame instead (see Frame).
func AppendProbe(dst []byte, h Header, r *ProbeRequest, inlineMax int) Frame {
	start := len(dst)
	extra := 1
	if r.Width != 0 {
		extra++
	}
	if r.Height != 0 {
		extra++
	}
	b := appendHeader(startFrame(dst), &h, extra)
	b = appendKey(b, "image")
	b, split, payload := appendPayload(b, r.Image, inlineMax)
	if r.Width != 0 {
		b = appendUintField(b, "width", uint64(r.Width))
	}
	if r.Height != 0 {
		b = appendUintField(b, "height", uint64(r.Height))
	}
	return frameFor(b, start, split, payload)
}

// AppendChecksum appends a checksum request, or a checksum_file request (h.Op) without data. Data longer than inlineMax bytes is left out of the
// buffer and referenced from the Frame instead (see Frame).
func AppendChecksum(dst []byte, h Header, r *ChecksumRequest, inlineMax int) Frame {
	start := len(dst)
	file := h.Op == OpChecksumFile
	fields := 2
	if file {
		fields = 1
	}
	b := appendHeader(startFrame(dst), &h, fields)
	split, payload := 0, []byte(nil)
	if !file {
		b = appendKey(b, "data")
		b, split, payload = appendPayload(b, r.Data, inlineMax)
	}
	b = appendKey(b, "algorithms")
	b = msgp.AppendArrayHeader(b, uint32(len(r.Algorithms)))
	for _, a := range r.Algorithms {
		b = msgp.AppendString(b, a)
	}
	return frameFor(b, start, split, payload)
}

// AppendRequest appends any request, dispatching on r.Op. Unknown ops are encoded with the common
// fields only, which is how a test provokes unknown_op.
func AppendRequest(dst []byte, r *Request, inlineMax int) Frame {
	switch r.Op.Base() {
	case OpHello:
		return AppendHello(dst, r.Header, &r.Hello)
	case OpResize:
		return AppendResize(dst, r.Header, &r.Resize, inlineMax)
	case OpChecksum:
		return AppendChecksum(dst, r.Header, &r.Checksum, inlineMax)
	case OpProbe:
		return AppendProbe(dst, r.Header, &r.Probe, inlineMax)
	default:
		return AppendSimple(dst, r.Header)
	}
}

// appendOutputRequest appends one outputs element: a map of its non-zero fields in table order.
func appendOutputRequest(b []byte, o *OutputRequest) []byte {
	n := 0
	for _, present := range [...]bool{o.Width != 0, o.Height != 0, o.Mode != "", o.Anchor != "",
		o.Filter != "", o.Format != "", o.Quality != 0, o.Enlarge != Unset} {
		if present {
			n++
		}
	}
	b = msgp.AppendMapHeader(b, uint32(n))
	if o.Width != 0 {
		b = appendUintField(b, "width", uint64(o.Width))
	}
	if o.Height != 0 {
		b = appendUintField(b, "height", uint64(o.Height))
	}
	b = appendOptString(b, "mode", o.Mode)
	b = appendOptString(b, "anchor", o.Anchor)
	b = appendOptString(b, "filter", o.Filter)
	b = appendOptString(b, "format", o.Format)
	if o.Quality != 0 {
		b = appendUintField(b, "quality", uint64(o.Quality))
	}
	return appendOptBool(b, "enlarge", o.Enlarge)
}

func appendOptString(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = appendKey(b, key)
	return msgp.AppendString(b, v)
}

func appendOptBool(b []byte, key string, v OptBool) []byte {
	if v == Unset {
		return b
	}
	b = appendKey(b, key)
	return msgp.AppendBool(b, v == True)
}
