package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The frames of protocol/vectors/invalid.json that are malformed (code 1) or oversize (code 5)
// must be refused by this package's decoder, with the id the spec says the error reply carries.
// The other codes there are about values and images, which only the daemon judges.
func TestInvalidVectorsAreRefused(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorsDir, "invalid.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Invalid []struct {
			Name    string `json:"name"`
			Frame   string `json:"frame"`
			Code    int    `json:"code"`
			ReplyID uint64 `json:"reply_id"`
		} `json:"invalid"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, v := range file.Invalid {
		t.Run(v.Name, func(t *testing.T) {
			frame := mustHex(t, v.Frame)
			body, err := ReadFrame(bufio.NewReader(bytes.NewReader(frame)), DefaultMaxFrame)
			switch v.Code {
			case 5:
				if !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("ReadFrame: %v, want ErrFrameTooLarge", err)
				}
			case 1:
				if err != nil {
					if !errors.Is(err, ErrEmptyFrame) {
						t.Fatalf("ReadFrame: %v", err)
					}
					break
				}
				req, err := DecodeRequest(body)
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("DecodeRequest accepted a malformed frame: %+v (err %v)", req, err)
				}
				if req.ID != v.ReplyID {
					t.Fatalf("id for the error reply = %d, want %d (%v)", req.ID, v.ReplyID, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if _, err := DecodeRequest(body); err != nil {
					t.Fatalf("a well-formed request (the daemon refuses its values) failed to decode: %v", err)
				}
			}
			checked++
		})
	}
	if checked != len(file.Invalid) {
		t.Fatalf("checked %d of %d", checked, len(file.Invalid))
	}
}

// Reply decoding refuses what the spec forbids and ignores what it allows.
func TestDecodeReplyStrictness(t *testing.T) {
	enc := func(b []byte) []byte { return b }
	cases := []struct {
		name string
		body []byte
		op   Op
		ok   bool
	}{
		{"bin as str", enc([]byte("\x83\xa2id\x01\xa2ok\xc3\xa7digests\x81\xa6crc32c\xa4abcd")), OpChecksum, false},
		{"negative id", enc([]byte("\x82\xa2id\xff\xa2ok\xc3")), OpPing, false},
		{"ok not bool", enc([]byte("\x82\xa2id\x01\xa2ok\x01")), OpPing, false},
		{"trailing byte", enc([]byte("\x82\xa2id\x01\xa2ok\xc3\xc0")), OpPing, false},
		{"no ok", enc([]byte("\x81\xa2id\x01")), OpPing, false},
		{"error without code", enc([]byte("\x82\xa2id\x01\xa2ok\xc2")), OpPing, false},
		{"width over uint32", enc([]byte("\x85\xa2id\x01\xa2ok\xc3\xa5image\xc4\x00\xa5width\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xa6height\x01")), OpResize, false},
		{"resize without image", enc([]byte("\x84\xa2id\x01\xa2ok\xc3\xa5width\x01\xa6height\x01")), OpResize, false},
		{"unknown key of any type", enc([]byte("\x83\xa2id\x01\xa2ok\xc3\xa3new\xc7\x01\x05\x00")), OpPing, true},
		{"a field of another op is ignored", enc([]byte("\x83\xa2id\x01\xa2ok\xc3\xa5width\xa3str")), OpPing, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r Reply
			err := DecodeReply(tc.body, tc.op, &r, false)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
