package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// The vectors live in protocol/vectors at the repository root; both test suites read them from
// there and keep no copy.
var vectorsDir = filepath.Join("..", "..", "..", "protocol", "vectors")

type messageVector struct {
	Name      string         `json:"name"`
	Kind      string         `json:"kind"`
	Op        string         `json:"op"`
	Value     map[string]any `json:"value"`
	Canonical string         `json:"canonical"`
	Accept    []struct {
		Why   string `json:"why"`
		Frame string `json:"frame"`
	} `json:"accept"`
}

func loadMessages(t *testing.T) []messageVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorsDir, "messages.json"))
	if err != nil {
		t.Fatalf("reading vectors: %v", err)
	}
	var file struct {
		MaxFrame int             `json:"max_frame"`
		Messages []messageVector `json:"messages"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // ids up to 2^64-1 do not survive float64
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("parsing vectors: %v", err)
	}
	if file.MaxFrame != DefaultMaxFrame {
		t.Fatalf("vectors say max_frame %d, this package %d", file.MaxFrame, DefaultMaxFrame)
	}
	if len(file.Messages) == 0 {
		t.Fatal("no message vectors")
	}
	return file.Messages
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// body strips and checks a frame's length prefix.
func body(t *testing.T, frame []byte) []byte {
	t.Helper()
	if len(frame) < LengthSize {
		t.Fatalf("frame of %d bytes", len(frame))
	}
	n, err := ReadLength(bytes.NewReader(frame), DefaultMaxFrame)
	if err != nil {
		t.Fatalf("length prefix: %v", err)
	}
	if int(n) != len(frame)-LengthSize {
		t.Fatalf("length prefix says %d, body is %d bytes", n, len(frame)-LengthSize)
	}
	return frame[LengthSize:]
}

func TestVectorsDecode(t *testing.T) {
	for _, m := range loadMessages(t) {
		frames := map[string]string{"canonical": m.Canonical}
		for _, a := range m.Accept {
			frames[a.Why] = a.Frame
		}
		for why, hexFrame := range frames {
			t.Run(m.Name+"/"+why, func(t *testing.T) {
				b := body(t, mustHex(t, hexFrame))
				if m.Kind == "request" {
					req, err := DecodeRequest(b)
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					assertValue(t, requestValue(&req), m.Value)
					return
				}
				for _, op := range replyOps(m.Op) {
					for _, copyBins := range []bool{false, true} {
						var r Reply
						if err := DecodeReply(b, op, &r, copyBins); err != nil {
							t.Fatalf("decode as %s: %v", op, err)
						}
						assertValue(t, replyValue(&r, op), m.Value)
					}
					id, err := ReplyID(b)
					if err != nil {
						t.Fatalf("ReplyID: %v", err)
					}
					if want := m.Value["id"].(json.Number).String(); strconv.FormatUint(id, 10) != want {
						t.Fatalf("ReplyID = %d, want %s", id, want)
					}
				}
			})
		}
	}
}

func TestVectorsEncode(t *testing.T) {
	for _, m := range loadMessages(t) {
		t.Run(m.Name, func(t *testing.T) {
			want := mustHex(t, m.Canonical)
			if m.Kind == "reply" {
				// Re-encode what the canonical frame decodes to.
				op := replyOps(m.Op)[0]
				var r Reply
				if err := DecodeReply(body(t, want), op, &r, false); err != nil {
					t.Fatal(err)
				}
				if got := AppendReply(nil, op, &r); !bytes.Equal(got, want) {
					t.Fatalf("reply encoding\n got %x\nwant %x", got, want)
				}
				return
			}
			req := requestFromValue(t, m.Value)
			// Inline: the whole frame in one buffer, behind some existing bytes.
			prefix := []byte("xyz")
			f := AppendRequest(append([]byte(nil), prefix...), &req, 1<<30)
			if f.Payload != nil {
				t.Fatal("payload left out although under inlineMax")
			}
			if got := f.Buf[len(prefix):]; !bytes.Equal(got, want) {
				t.Fatalf("request encoding\n got %x\nwant %x", got, want)
			}
			// Split: the payload referenced, the written bytes the same.
			f = AppendRequest(nil, &req, -1)
			var out bytes.Buffer
			if _, err := f.WriteTo(&out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("split request encoding\n got %x\nwant %x", out.Bytes(), want)
			}
			if f.Size() != len(want) || f.BodyLen() != len(want)-LengthSize {
				t.Fatalf("Size %d BodyLen %d for a %d-byte frame", f.Size(), f.BodyLen(), len(want))
			}
		})
	}
}

// replyOps is the op(s) a reply vector is decoded as; error replies ("*") answer any op.
func replyOps(op string) []Op {
	if op == "*" {
		return []Op{OpPing, OpHello, OpResize, OpChecksum, OpStats, OpChecksumFile, OpResizeFile, OpProbe}
	}
	return []Op{Op(op)}
}

func assertValue(t *testing.T, got, want map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("decoded value differs\n got %s\nwant %s", g, w)
	}
}

// --- conversions between the vectors' JSON values and this package's types ---

func num(v uint64) json.Number { return json.Number(strconv.FormatUint(v, 10)) }
func bin(b []byte) any         { return map[string]any{"$bin": hex.EncodeToString(b)} }

func strList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func requestValue(r *Request) map[string]any {
	v := map[string]any{"id": num(r.ID), "op": string(r.Op)}
	if r.HasTimeout {
		v["timeout_ms"] = num(uint64(r.TimeoutMs))
	}
	switch r.Op.Base() {
	case OpHello:
		vs := make([]any, len(r.Hello.Versions))
		for i, x := range r.Hello.Versions {
			vs[i] = num(x)
		}
		v["versions"] = vs
		if r.Hello.Client != "" {
			v["client"] = r.Hello.Client
		}
	case OpResize:
		z := &r.Resize
		if !r.Op.TakesFile() {
			v["image"] = bin(z.Image)
		}
		boxValue(v, &OutputRequest{Width: z.Width, Height: z.Height, Mode: z.Mode, Anchor: z.Anchor,
			Filter: z.Filter, Format: z.Format, Quality: z.Quality, Enlarge: z.Enlarge})
		if z.Outputs != nil {
			outs := make([]any, len(z.Outputs))
			for i := range z.Outputs {
				o := map[string]any{}
				boxValue(o, &z.Outputs[i])
				outs[i] = o
			}
			v["outputs"] = outs
		}
		for k, x := range map[string]OptBool{"auto_orient": z.AutoOrient, "keep_icc": z.KeepICC, "keep_metadata": z.KeepMetadata, "fast": z.Fast} {
			if x != Unset {
				v[k] = x == True
			}
		}
	case OpProbe:
		v["image"] = bin(r.Probe.Image)
		boxValue(v, &OutputRequest{Width: r.Probe.Width, Height: r.Probe.Height})
	case OpChecksum:
		if !r.Op.TakesFile() {
			v["data"] = bin(r.Checksum.Data)
		}
		v["algorithms"] = strList(r.Checksum.Algorithms)
	}
	return v
}

// boxValue sets the non-zero box fields of o in v.
func boxValue(v map[string]any, o *OutputRequest) {
	for k, x := range map[string]uint32{"width": o.Width, "height": o.Height, "quality": o.Quality} {
		if x != 0 {
			v[k] = num(uint64(x))
		}
	}
	for k, x := range map[string]string{"mode": o.Mode, "anchor": o.Anchor, "filter": o.Filter, "format": o.Format} {
		if x != "" {
			v[k] = x
		}
	}
	if o.Enlarge != Unset {
		v["enlarge"] = o.Enlarge == True
	}
}

func replyValue(r *Reply, op Op) map[string]any {
	v := map[string]any{"id": num(r.ID), "ok": r.OK}
	if !r.OK {
		v["code"] = num(r.Code)
		v["message"] = r.Message
		return v
	}
	switch op.Base() {
	case OpHello:
		h := r.Hello
		for k, x := range map[string]uint64{"version": h.Version, "max_frame": h.MaxFrame,
			"max_pixels": h.MaxPixels, "max_dimension": h.MaxDimension, "workers": h.Workers,
			"queue_jobs": h.QueueJobs, "queue_bytes": h.QueueBytes} {
			v[k] = num(x)
		}
		if h.MemoryBudget != 0 || h.MaxConnections != 0 || h.MaxQueueWaitMs != 0 {
			v["memory_budget"], v["max_connections"] = num(h.MemoryBudget), num(h.MaxConnections)
			v["max_queue_wait_ms"] = num(h.MaxQueueWaitMs)
		}
		if h.MaxOutputs != 0 {
			v["max_outputs"] = num(h.MaxOutputs)
		}
		v["server"] = h.Server
		for k, x := range map[string][]string{"ops": h.Ops, "input_formats": h.InputFormats,
			"output_formats": h.OutputFormats, "modes": h.Modes, "filters": h.Filters,
			"algorithms": h.Algorithms} {
			v[k] = strList(x)
		}
	case OpResize:
		z := &r.Resize
		if z.Outputs != nil {
			outs := make([]any, len(z.Outputs))
			for i, o := range z.Outputs {
				outs[i] = map[string]any{"image": bin(o.Image), "width": num(uint64(o.Width)),
					"height": num(uint64(o.Height)), "format": o.Format}
			}
			v["outputs"] = outs
		} else {
			v["image"] = bin(z.Image)
			v["width"], v["height"] = num(uint64(z.Width)), num(uint64(z.Height))
			v["format"] = z.Format
		}
		v["source_width"], v["source_height"] = num(uint64(z.SourceWidth)), num(uint64(z.SourceHeight))
		v["source_format"] = z.SourceFormat
	case OpChecksum:
		d := map[string]any{}
		for _, x := range r.Checksum.Digests {
			d[x.Algorithm] = bin(x.Sum)
		}
		v["digests"] = d
	case OpProbe:
		p := r.Probe
		v["format"] = p.Format
		v["width"], v["height"] = num(uint64(p.Width)), num(uint64(p.Height))
		v["orientation"], v["frames"], v["memory"] = num(p.Orientation), num(p.Frames), num(p.Memory)
		v["alpha"], v["icc"], v["progressive"] = p.Alpha, p.ICC, p.Progressive
	case OpStats:
		s := r.Stats
		for k, x := range map[string]uint64{"uptime_ms": s.UptimeMs, "connections": s.Connections,
			"jobs_running": s.JobsRunning, "jobs_queued": s.JobsQueued, "queued_bytes": s.QueuedBytes,
			"requests_total": s.RequestsTotal, "errors_total": s.ErrorsTotal,
			"busy_total": s.BusyTotal, "workers": s.Workers} {
			v[k] = num(x)
		}
		if s.MemoryBudget != 0 || s.MemoryUsed != 0 || s.ConnectionsRefused != 0 {
			v["memory_budget"], v["memory_used"] = num(s.MemoryBudget), num(s.MemoryUsed)
			v["connections_refused"] = num(s.ConnectionsRefused)
		}
		v["server"] = s.Server
		byOp := map[string]any{}
		for _, c := range s.RequestsByOp {
			byOp[c.Op] = num(c.Count)
		}
		v["requests_by_op"] = byOp
	}
	return v
}

func requestFromValue(t *testing.T, v map[string]any) Request {
	t.Helper()
	u := func(k string) uint64 {
		n, err := strconv.ParseUint(v[k].(json.Number).String(), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return n
	}
	s := func(k string) string { x, _ := v[k].(string); return x }
	b := func(k string) []byte { return mustHex(t, v[k].(map[string]any)["$bin"].(string)) }
	opt := func(k string) OptBool {
		if x, ok := v[k].(bool); ok {
			return Of(x)
		}
		return Unset
	}
	optU := func(k string) uint32 {
		if _, ok := v[k]; !ok {
			return 0
		}
		return uint32(u(k))
	}
	r := Request{Header: Header{ID: u("id"), Op: Op(s("op"))}}
	if _, ok := v["timeout_ms"]; ok {
		r.TimeoutMs, r.HasTimeout = uint32(u("timeout_ms")), true
	}
	switch r.Op.Base() {
	case OpHello:
		for _, x := range v["versions"].([]any) {
			n, _ := strconv.ParseUint(x.(json.Number).String(), 10, 64)
			r.Hello.Versions = append(r.Hello.Versions, n)
		}
		r.Hello.Client = s("client")
	case OpResize:
		var image []byte
		if !r.Op.TakesFile() {
			image = b("image")
		}
		r.Resize = ResizeRequest{Image: image, Width: optU("width"), Height: optU("height"),
			Mode: s("mode"), Anchor: s("anchor"), Filter: s("filter"), Format: s("format"),
			Quality: optU("quality"), AutoOrient: opt("auto_orient"), KeepICC: opt("keep_icc"),
			KeepMetadata: opt("keep_metadata"), Fast: opt("fast"), Enlarge: opt("enlarge")}
		if outs, ok := v["outputs"].([]any); ok {
			r.Resize.Outputs = make([]OutputRequest, len(outs))
			for i, x := range outs {
				o := x.(map[string]any)
				u := func(k string) uint32 {
					n, ok := o[k].(json.Number)
					if !ok {
						return 0
					}
					w, _ := strconv.ParseUint(n.String(), 10, 32)
					return uint32(w)
				}
				str := func(k string) string { x, _ := o[k].(string); return x }
				enlarge := Unset
				if x, ok := o["enlarge"].(bool); ok {
					enlarge = Of(x)
				}
				r.Resize.Outputs[i] = OutputRequest{Width: u("width"), Height: u("height"),
					Mode: str("mode"), Anchor: str("anchor"), Filter: str("filter"),
					Format: str("format"), Quality: u("quality"), Enlarge: enlarge}
			}
		}
	case OpProbe:
		r.Probe = ProbeRequest{Image: b("image"), Width: optU("width"), Height: optU("height")}
	case OpChecksum:
		if !r.Op.TakesFile() {
			r.Checksum.Data = b("data")
		}
		for _, x := range v["algorithms"].([]any) {
			r.Checksum.Algorithms = append(r.Checksum.Algorithms, x.(string))
		}
	}
	return r
}
