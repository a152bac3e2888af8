package wire

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// DecodeError says why a message could not be decoded, and in which field.
type DecodeError struct {
	// Field is the key whose value was wrong or missing; empty for the message as a whole.
	Field string
	// Err is the reason: one of the Err* values of this package or a msgp error.
	Err error
}

// Error describes the failure and the field it happened in.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "wire: " + e.Err.Error()
	}
	return fmt.Sprintf("wire: field %q: %v", e.Field, e.Err)
}

// Unwrap returns the reason, for errors.Is.
func (e *DecodeError) Unwrap() error { return e.Err }

// Reasons carried by DecodeError.
var (
	ErrNotMap        = errors.New("body is not a MessagePack map")
	ErrKeyNotString  = errors.New("map key is not a string")
	ErrTrailingBytes = errors.New("trailing bytes after the message")
	ErrMissing       = errors.New("required field missing")
	ErrDuplicateKey  = errors.New("key appears twice")
	ErrOutOfRange    = errors.New("value out of range")
)

func fieldErr(key string, err error) error { return &DecodeError{Field: key, Err: err} }

// mapIter walks the top-level map of a message, yielding each key and the exact bytes of its
// value, so that the caller decides per key how (and whether) to read the value.
type mapIter struct {
	rest []byte
	left uint32
}

func openMap(body []byte) (mapIter, error) {
	n, rest, err := msgp.ReadMapHeaderBytes(body)
	if err != nil {
		return mapIter{}, &DecodeError{Err: fmt.Errorf("%w: %v", ErrNotMap, err)}
	}
	return mapIter{rest: rest, left: n}, nil
}

func (it *mapIter) more() bool { return it.left > 0 }

func (it *mapIter) next() (key, val []byte, err error) {
	key, rest, err := msgp.ReadStringZC(it.rest)
	if err != nil {
		var te msgp.TypeError
		if errors.As(err, &te) {
			return nil, nil, &DecodeError{Err: ErrKeyNotString}
		}
		return nil, nil, &DecodeError{Err: err}
	}
	after, err := msgp.Skip(rest)
	if err != nil {
		return nil, nil, fieldErr(string(key), err)
	}
	it.rest = after
	it.left--
	return key, rest[:len(rest)-len(after)], nil
}

// splitValue splits b after its first complete MessagePack value.
func splitValue(b []byte) (val, rest []byte, err error) {
	rest, err = msgp.Skip(b)
	if err != nil {
		return nil, nil, err
	}
	return b[:len(b)-len(rest)], rest, nil
}

// end checks that the map was the whole body.
func (it *mapIter) end() error {
	if len(it.rest) != 0 {
		return &DecodeError{Err: ErrTrailingBytes}
	}
	return nil
}

// isNil reports whether a value is MessagePack nil, which for an optional field means absent.
func isNil(val []byte) bool { return len(val) == 1 && val[0] == 0xc0 }

// readUint reads any integer encoding of a non-negative value no greater than max.
func readUint(val []byte, max uint64) (uint64, error) {
	v, _, err := msgp.ReadUint64Bytes(val)
	if err != nil {
		return 0, err
	}
	if v > max {
		return 0, fmt.Errorf("%w: %d > %d", ErrOutOfRange, v, max)
	}
	return v, nil
}

func readStr(val []byte) ([]byte, error) {
	s, _, err := msgp.ReadStringZC(val)
	return s, err
}

// readBin reads a bin value (never a str or an array). With copyOut the bytes are copied, for
// bodies whose buffer is reused; otherwise they alias the body.
func readBin(val []byte, copyOut bool) ([]byte, error) {
	b, _, err := msgp.ReadBytesZC(val)
	if err != nil {
		return nil, err
	}
	return ownBin(b, copyOut), nil
}

// ownBin is a bin read in place, copied out of the body when copyOut is set. The copy of an
// empty bin stays empty rather than nil, as it is in place.
func ownBin(b []byte, copyOut bool) []byte {
	if copyOut {
		return bytes.Clone(b)
	}
	return b
}

func readBool(val []byte) (bool, error) {
	v, _, err := msgp.ReadBoolBytes(val)
	return v, err
}

func readStrArray(val []byte) ([]string, error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(val)
	if err != nil {
		return nil, err
	}
	if int(n) > len(rest) { // each element takes at least one byte
		return nil, msgp.ErrShortBytes
	}
	out := make([]string, 0, n)
	for range n {
		s, r, err := msgp.ReadStringZC(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, word(s))
		rest = r
	}
	return out, nil
}

func readUintArray(val []byte) ([]uint64, error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(val)
	if err != nil {
		return nil, err
	}
	if int(n) > len(rest) {
		return nil, msgp.ErrShortBytes
	}
	out := make([]uint64, 0, n)
	for range n {
		v, r, err := msgp.ReadUint64Bytes(rest)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		rest = r
	}
	return out, nil
}

// word converts the protocol's fixed words to strings without allocating; anything else is copied.
func word(b []byte) string {
	switch string(b) {
	case "jpeg":
		return "jpeg"
	case "png":
		return "png"
	case "webp":
		return "webp"
	case "gif":
		return "gif"
	case "crc32c":
		return "crc32c"
	case "xxh3_64":
		return "xxh3_64"
	case "sha256":
		return "sha256"
	case "blake3":
		return "blake3"
	case "fit":
		return "fit"
	case "fill":
		return "fill"
	case "exact":
		return "exact"
	case "hello":
		return "hello"
	case "ping":
		return "ping"
	case "resize":
		return "resize"
	case "checksum":
		return "checksum"
	case "stats":
		return "stats"
	case "cancel":
		return "cancel"
	}
	return string(b)
}
