package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Fuzz targets for what the client reads from the daemon: frames off the socket and reply
// bodies. The seeds are every frame of protocol/vectors (canonical encodings, the encodings a
// decoder must accept, and the invalid frames). Run one with, for example:
//
//	go test -run '^$' -fuzz FuzzDecodeReply -fuzztime 20s ./internal/wire
//
// A crash is saved under testdata/fuzz/<target>/ and from then on replays as a regular test.

// vectorFrames returns every hex-encoded frame in protocol/vectors' messages.json and
// invalid.json.
func vectorFrames(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	for _, name := range []string{"messages.json", "invalid.json"} {
		raw, err := os.ReadFile(filepath.Join(vectorsDir, name))
		if err != nil {
			f.Fatalf("reading vectors: %v", err)
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			f.Fatalf("parsing %s: %v", name, err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					if s, ok := x.(string); ok && (k == "canonical" || k == "frame") {
						if b, err := hex.DecodeString(s); err == nil {
							out = append(out, b)
						}
						continue
					}
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(doc)
	}
	if len(out) == 0 {
		f.Fatal("no frames in protocol/vectors")
	}
	return out
}

// decodedOps are the ops whose replies the client decodes.
var decodedOps = []Op{OpHello, OpPing, OpResize, OpChecksum, OpStats}

// FuzzDecodeReply: any body, decoded as the reply to any op, gives a reply or a *DecodeError,
// never a panic; a decoded reply's id is the one ReplyID reads; decoding in place and with
// binary data copied out agree; and a decoded reply, encoded again, decodes to itself.
func FuzzDecodeReply(f *testing.F) {
	for _, fr := range vectorFrames(f) {
		if len(fr) > LengthSize {
			f.Add(fr[LengthSize:])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, idErr := ReplyID(body)
		for _, op := range decodedOps {
			var inPlace, copied Reply
			err := DecodeReply(body, op, &inPlace, false)
			err2 := DecodeReply(body, op, &copied, true)
			if (err == nil) != (err2 == nil) {
				t.Fatalf("%s: in place %v, copied %v", op, err, err2)
			}
			if err != nil {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%s: error %T %v is not a *DecodeError", op, err, err)
				}
				continue
			}
			if idErr != nil || inPlace.ID != id {
				t.Fatalf("%s: decoded id %d, ReplyID %d (%v)", op, inPlace.ID, id, idErr)
			}
			if !reflect.DeepEqual(inPlace, copied) {
				t.Fatalf("%s: in place %+v, copied %+v", op, inPlace, copied)
			}
			again := AppendReply(nil, op, &copied)
			var back Reply
			if err := DecodeReply(again[LengthSize:], op, &back, true); err != nil {
				t.Fatalf("%s: re-encoded reply does not decode: %v", op, err)
			}
			if !reflect.DeepEqual(normalReply(back), normalReply(copied)) {
				t.Fatalf("%s: round trip\n got %+v\nwant %+v", op, back, copied)
			}
		}
	})
}

// normalReply erases the differences an encoding does not carry: empty and nil lists.
func normalReply(r Reply) Reply {
	if !r.OK {
		return Reply{ID: r.ID, Code: r.Code, Message: r.Message}
	}
	if len(r.Resize.Image) == 0 {
		r.Resize.Image = nil
	}
	if len(r.Checksum.Digests) == 0 {
		r.Checksum.Digests = nil
	}
	for i := range r.Checksum.Digests {
		if len(r.Checksum.Digests[i].Sum) == 0 {
			r.Checksum.Digests[i].Sum = nil
		}
	}
	if h := r.Hello; h != nil {
		c := *h
		for _, l := range []*[]string{&c.Ops, &c.InputFormats, &c.OutputFormats, &c.Modes, &c.Filters, &c.Algorithms} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		r.Hello = &c
	}
	if s := r.Stats; s != nil {
		c := *s
		if len(c.RequestsByOp) == 0 {
			c.RequestsByOp = nil
		}
		r.Stats = &c
	}
	return r
}

// FuzzReadFrame: any byte stream reads as a sequence of frames, each within the limit and never
// empty, that ends with EOF, a short read or a refused length; never more bytes than there are.
func FuzzReadFrame(f *testing.F) {
	for _, fr := range vectorFrames(f) {
		f.Add(fr)
	}
	f.Add(append(AppendFrame(nil, []byte{0x80}), AppendFrame(nil, []byte{0x81, 0xa2, 'i', 'd', 1})...))
	const limit = 1 << 12
	f.Fuzz(func(t *testing.T, stream []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(stream), 64)
		read := 0
		for {
			body, err := ReadFrame(br, limit)
			if err != nil {
				switch {
				case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
					errors.Is(err, ErrEmptyFrame), errors.Is(err, ErrFrameTooLarge):
				default:
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(body) == 0 || len(body) > limit {
				t.Fatalf("frame of %d bytes with limit %d", len(body), limit)
			}
			read += LengthSize + len(body)
			if read > len(stream) {
				t.Fatalf("read %d bytes from a stream of %d", read, len(stream))
			}
		}
	})
}
