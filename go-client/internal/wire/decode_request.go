package wire

import (
	"errors"
	"math"

	"github.com/tinylib/msgp/msgp"
)

// The request keys this package knows, as bit positions for duplicate detection.
var requestKeys = [...]string{
	"id", "op", "timeout_ms", "versions", "client", "image", "width", "height", "mode", "anchor",
	"filter", "format", "quality", "auto_orient", "keep_icc", "keep_metadata", "data", "algorithms",
	"outputs", "fast", "enlarge",
}

func requestKeyIndex(key []byte) int {
	for i, k := range requestKeys {
		if k == string(key) {
			return i
		}
	}
	return -1
}

// ErrZeroID is the reason given for a request whose id is 0, which is reserved.
var ErrZeroID = errors.New("id 0 is reserved")

// DecodeRequest decodes a request body as the daemon must (SPEC.md section 3): strictly, with
// duplicate keys, missing required fields and mistyped values refused. Binary fields alias body.
//
// On error, the returned Request's ID is set if the id could be read, which is the id an error
// reply must carry (SPEC.md section 7). Fake servers in the tests use it.
func DecodeRequest(body []byte) (Request, error) {
	var r Request
	var vals [len(requestKeys)][]byte
	it, err := openMap(body)
	if err != nil {
		return r, err
	}
	var dup error
	var dupKey string
	for it.more() {
		key, val, err := it.next()
		if err != nil {
			return r, err
		}
		i := requestKeyIndex(key)
		if i < 0 {
			continue
		}
		if vals[i] != nil && dup == nil {
			dup = fieldErr(requestKeys[i], ErrDuplicateKey)
			dupKey = requestKeys[i]
		}
		vals[i] = val
	}
	if err := it.end(); err != nil {
		return r, err
	}
	get := func(key string) []byte {
		v := vals[requestKeyIndex([]byte(key))]
		if v == nil || isNil(v) {
			return nil
		}
		return v
	}

	// A repeated id leaves no id to trust (SPEC.md 3.4): the reply carries 0.
	if dupKey == "id" {
		return r, dup
	}
	// id first: every later error reply needs it.
	idVal := get("id")
	if idVal == nil {
		return r, fieldErr("id", ErrMissing)
	}
	if r.ID, err = readUint(idVal, math.MaxUint64); err != nil {
		return r, fieldErr("id", err)
	}
	if r.ID == 0 {
		return r, fieldErr("id", ErrZeroID)
	}
	if dup != nil {
		return r, dup
	}
	opVal := get("op")
	if opVal == nil {
		return r, fieldErr("op", ErrMissing)
	}
	op, err := readStr(opVal)
	if err != nil {
		return r, fieldErr("op", err)
	}
	r.Op = Op(word(op))
	if v := get("timeout_ms"); v != nil {
		t, err := readUint(v, math.MaxUint32)
		if err != nil {
			return r, fieldErr("timeout_ms", err)
		}
		r.TimeoutMs, r.HasTimeout = uint32(t), true
	}

	switch r.Op.Base() {
	case OpHello:
		err = decodeHelloRequest(get, &r.Hello)
	case OpResize:
		err = decodeResizeRequest(get, &r.Resize, r.Op.TakesFile())
	case OpChecksum:
		err = decodeChecksumRequest(get, &r.Checksum, r.Op.TakesFile())
	case OpProbe:
		err = decodeProbeRequest(get, &r.Probe)
	}
	return r, err
}

func decodeHelloRequest(get func(string) []byte, h *HelloRequest) error {
	v := get("versions")
	if v == nil {
		return fieldErr("versions", ErrMissing)
	}
	var err error
	if h.Versions, err = readUintArray(v); err != nil {
		return fieldErr("versions", err)
	}
	if v := get("client"); v != nil {
		s, err := readStr(v)
		if err != nil {
			return fieldErr("client", err)
		}
		h.Client = string(s)
	}
	return nil
}

// decodeResizeRequest reads resize's fields; resize_file (file) has no image.
func decodeResizeRequest(get func(string) []byte, r *ResizeRequest, file bool) error {
	v := get("image")
	if v == nil && !file {
		return fieldErr("image", ErrMissing)
	}
	var err error
	if !file {
		if r.Image, err = readBin(v, false); err != nil {
			return fieldErr("image", err)
		}
	}
	var box OutputRequest
	if err := decodeBox(get, &box); err != nil {
		return err
	}
	r.Width, r.Height, r.Quality = box.Width, box.Height, box.Quality
	r.Mode, r.Anchor, r.Filter, r.Format = box.Mode, box.Anchor, box.Filter, box.Format
	r.Enlarge = box.Enlarge
	if v := get("outputs"); v != nil {
		if r.Outputs, err = decodeOutputRequests(v); err != nil {
			return fieldErr("outputs", err)
		}
	}
	for _, f := range []struct {
		key string
		dst *OptBool
	}{{"auto_orient", &r.AutoOrient}, {"keep_icc", &r.KeepICC}, {"keep_metadata", &r.KeepMetadata}, {"fast", &r.Fast}} {
		if v := get(f.key); v != nil {
			b, err := readBool(v)
			if err != nil {
				return fieldErr(f.key, err)
			}
			*f.dst = Of(b)
		}
	}
	return nil
}

// decodeBox reads the box fields of a resize request or of one of its outputs. Their values are
// the daemon's to judge; only their types are checked here.
func decodeBox(get func(string) []byte, o *OutputRequest) error {
	for _, f := range []struct {
		key string
		dst *uint32
	}{{"width", &o.Width}, {"height", &o.Height}, {"quality", &o.Quality}} {
		if v := get(f.key); v != nil {
			n, err := readUint(v, math.MaxUint32)
			if err != nil {
				return fieldErr(f.key, err)
			}
			*f.dst = uint32(n)
		}
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"mode", &o.Mode}, {"anchor", &o.Anchor}, {"filter", &o.Filter}, {"format", &o.Format}} {
		if v := get(f.key); v != nil {
			s, err := readStr(v)
			if err != nil {
				return fieldErr(f.key, err)
			}
			*f.dst = word(s)
		}
	}
	if v := get("enlarge"); v != nil {
		b, err := readBool(v)
		if err != nil {
			return fieldErr("enlarge", err)
		}
		o.Enlarge = Of(b)
	}
	return nil
}

// decodeProbeRequest reads probe's fields: the image, and the box's sides when sent.
func decodeProbeRequest(get func(string) []byte, p *ProbeRequest) error {
	v := get("image")
	if v == nil {
		return fieldErr("image", ErrMissing)
	}
	var err error
	if p.Image, err = readBin(v, false); err != nil {
		return fieldErr("image", err)
	}
	for _, f := range []struct {
		key string
		dst *uint32
	}{{"width", &p.Width}, {"height", &p.Height}} {
		if v := get(f.key); v != nil {
			n, err := readUint(v, math.MaxUint32)
			if err != nil {
				return fieldErr(f.key, err)
			}
			*f.dst = uint32(n)
		}
	}
	return nil
}

// outputKeys are the keys of an outputs element, for duplicate detection.
var outputKeys = [...]string{"width", "height", "mode", "anchor", "filter", "format", "quality", "enlarge"}

// decodeOutputRequests reads outputs: an array of maps with str keys and none repeated (SPEC.md
// section 3 applies to nested maps too). The count is the daemon's to judge.
func decodeOutputRequests(val []byte) ([]OutputRequest, error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(val)
	if err != nil {
		return nil, err
	}
	if int(n) > len(rest) { // each element takes at least one byte
		return nil, msgp.ErrShortBytes
	}
	out := make([]OutputRequest, n)
	for i := range out {
		elem, after, err := splitValue(rest)
		if err != nil {
			return nil, err
		}
		rest = after
		var vals [len(outputKeys)][]byte
		it, err := openMap(elem)
		if err != nil {
			return nil, err
		}
		for it.more() {
			key, v, err := it.next()
			if err != nil {
				return nil, err
			}
			for k, name := range outputKeys {
				if name != string(key) {
					continue
				}
				if vals[k] != nil {
					return nil, fieldErr(name, ErrDuplicateKey)
				}
				vals[k] = v
			}
		}
		get := func(key string) []byte {
			for k, name := range outputKeys {
				if name == key && vals[k] != nil && !isNil(vals[k]) {
					return vals[k]
				}
			}
			return nil
		}
		if err := decodeBox(get, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeChecksumRequest reads checksum's fields; checksum_file (file) has no data.
func decodeChecksumRequest(get func(string) []byte, c *ChecksumRequest, file bool) error {
	v := get("data")
	if v == nil && !file {
		return fieldErr("data", ErrMissing)
	}
	var err error
	if !file {
		if c.Data, err = readBin(v, false); err != nil {
			return fieldErr("data", err)
		}
	}
	v = get("algorithms")
	if v == nil {
		return fieldErr("algorithms", ErrMissing)
	}
	if c.Algorithms, err = readStrArray(v); err != nil {
		return fieldErr("algorithms", err)
	}
	return nil
}
