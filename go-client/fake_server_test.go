package ferry

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// fakeServer speaks the protocol well enough to drive the client into the corners a real daemon
// rarely reaches: replies out of order, unknown codes, garbage, dropped connections, a peer that
// stops reading. Behaviour is per test through handle; the default answers hello, ping, stats and
// checksum (crc32c and sha256 only, computed for real) and never answers resize.
type fakeServer struct {
	t    testing.TB
	path string
	ln   net.Listener
	mu   sync.Mutex
	// hello is the hello reply every connection gets; set it with setMaxFrame.
	hello wire.HelloReply
	// handle answers one request; nil means defaultHandle. Set it with setHandle.
	handle   func(fc *fakeConn, req wire.Request)
	requests []wire.Header // every request received, in arrival order
	conns    []*fakeConn
	wg       sync.WaitGroup
}

// fakeConn is one accepted connection; reply is safe from any goroutine.
type fakeConn struct {
	srv *fakeServer
	nc  net.Conn
	wmu sync.Mutex
}

func newFakeServer(t testing.TB, handle func(fc *fakeConn, req wire.Request)) *fakeServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "fy")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "f.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, path: path, ln: ln, handle: handle, hello: wire.HelloReply{
		Version: 1, Server: "fake 0", MaxFrame: wire.DefaultMaxFrame, MaxPixels: 100_000_000,
		MaxDimension: 32768, Ops: []string{"hello", "ping", "resize", "checksum", "stats", "cancel"},
		InputFormats: []string{"jpeg", "png"}, OutputFormats: []string{"jpeg"},
		Modes: []string{"fit"}, Filters: []string{"lanczos3"}, Algorithms: []string{"crc32c", "sha256"},
		Workers: 2, QueueJobs: 64, QueueBytes: 1 << 28,
	}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() {
		s.close()
		_ = os.RemoveAll(dir)
	})
	return s
}

func (s *fakeServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		fc := &fakeConn{srv: s, nc: nc}
		s.mu.Lock()
		s.conns = append(s.conns, fc)
		s.mu.Unlock()
		s.wg.Add(1)
		go fc.serve()
	}
}

// close stops listening and drops every connection.
func (s *fakeServer) close() {
	_ = s.ln.Close()
	s.dropAll()
	s.wg.Wait()
}

// dropAll closes every open connection, as a crashing daemon would.
func (s *fakeServer) dropAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, fc := range conns {
		_ = fc.nc.Close()
	}
}

// received returns a copy of the headers received so far.
func (s *fakeServer) received() []wire.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wire.Header(nil), s.requests...)
}

func (fc *fakeConn) serve() {
	defer fc.srv.wg.Done()
	defer fc.nc.Close()
	br := bufio.NewReaderSize(fc.nc, 64<<10)
	for {
		body, err := wire.ReadFrame(br, wire.DefaultMaxFrame)
		if err != nil {
			return
		}
		req, err := wire.DecodeRequest(body)
		if err != nil {
			fc.reply(wire.OpPing, &wire.Reply{ID: req.ID, Code: uint64(CodeMalformed), Message: err.Error()})
			continue
		}
		fc.srv.mu.Lock()
		fc.srv.requests = append(fc.srv.requests, req.Header)
		hello, handle := fc.srv.hello, fc.srv.handle
		fc.srv.mu.Unlock()
		if req.Op == wire.OpHello {
			fc.reply(wire.OpHello, &wire.Reply{ID: req.ID, OK: true, Hello: &hello})
			continue
		}
		if handle != nil {
			handle(fc, req)
		} else {
			defaultHandle(fc, req)
		}
	}
}

// reply writes one reply frame.
func (fc *fakeConn) reply(op wire.Op, r *wire.Reply) {
	fc.writeRaw(wire.AppendReply(nil, op, r))
}

// writeRaw writes bytes as they are, for garbage.
func (fc *fakeConn) writeRaw(b []byte) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_, _ = fc.nc.Write(b)
}

func defaultHandle(fc *fakeConn, req wire.Request) {
	switch req.Op {
	case wire.OpPing:
		fc.reply(req.Op, &wire.Reply{ID: req.ID, OK: true})
	case wire.OpStats:
		fc.reply(req.Op, &wire.Reply{ID: req.ID, OK: true, Stats: &wire.StatsReply{
			Server: "fake 0", UptimeMs: 1500, Connections: 1, RequestsTotal: 7,
			RequestsByOp: []wire.OpCount{{Op: "ping", Count: 7}}, Workers: 2,
		}})
	case wire.OpChecksum:
		fc.reply(req.Op, checksumReply(req))
	case wire.OpResize, wire.OpCancel:
		// resize: never answered, so tests can exercise deadlines and cancellation.
	default:
		fc.reply(req.Op, &wire.Reply{ID: req.ID, Code: uint64(CodeUnknownOp), Message: "unknown op"})
	}
}

// checksumReply computes the two digests the fake knows, for real.
func checksumReply(req wire.Request) *wire.Reply {
	r := &wire.Reply{ID: req.ID, OK: true}
	for _, a := range req.Checksum.Algorithms {
		var sum []byte
		switch a {
		case "crc32c":
			sum = binary.BigEndian.AppendUint32(nil, crc32.Checksum(req.Checksum.Data, crc32.MakeTable(crc32.Castagnoli)))
		case "sha256":
			s := sha256.Sum256(req.Checksum.Data)
			sum = s[:]
		default:
			return &wire.Reply{ID: req.ID, Code: uint64(CodeInvalidArgument), Message: "fake knows crc32c and sha256"}
		}
		r.Checksum.Digests = append(r.Checksum.Digests, wire.Digest{Algorithm: a, Sum: sum})
	}
	return r
}

func netListen(path string) (net.Listener, error) { return net.Listen("unix", path) }

// setMaxFrame changes the max_frame that later hello replies advertise.
func (s *fakeServer) setMaxFrame(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hello.MaxFrame = n
}

// setHandle replaces the request handler.
func (s *fakeServer) setHandle(h func(fc *fakeConn, req wire.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handle = h
}
