package ferry

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Tests against fakeServer: the client's own logic, in situations a healthy daemon does not
// produce on demand. The same behaviours against the real daemon are in the integration tests.

func dialFake(t *testing.T, s *fakeServer, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, s.path, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFakeHelloAndPing(t *testing.T) {
	s := newFakeServer(t, nil)
	s.setMaxFrame(4096)
	c := dialFake(t, s)
	info := c.ServerInfo()
	if info == nil || info.Server != "fake 0" || info.MaxFrame != 4096 || info.Workers != 2 {
		t.Fatalf("ServerInfo = %+v", info)
	}
	if len(info.Algorithms) != 2 || info.Algorithms[1] != SHA256 {
		t.Fatalf("Algorithms = %v", info.Algorithms)
	}
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Uptime != 1500*time.Millisecond || st.RequestsByOp["ping"] != 7 || st.Workers != 2 {
		t.Fatalf("Stats = %+v", st)
	}
	// A daemon from before the memory budget reports none of its keys.
	if info.MemoryBudget != 0 || info.MaxConnections != 0 || info.MaxQueueWait != 0 || st.MemoryBudget != 0 {
		t.Fatalf("budget keys from a daemon that sent none: %+v %+v", info, st)
	}
}

// The keys protocol v1 added for the memory budget, in hello and stats replies.
func TestFakeBudgetKeys(t *testing.T) {
	s := newFakeServer(t, func(fc *fakeConn, req wire.Request) {
		if req.Op == wire.OpStats {
			fc.reply(req.Op, &wire.Reply{ID: req.ID, OK: true, Stats: &wire.StatsReply{
				Server: "fake 1", Workers: 2, MemoryBudget: 1 << 30, MemoryUsed: 5 << 20, ConnectionsRefused: 3}})
		}
	})
	s.mu.Lock()
	s.hello.MemoryBudget, s.hello.MaxConnections, s.hello.MaxQueueWaitMs = 2<<30, 1024, 2000
	s.mu.Unlock()
	c := dialFake(t, s)
	info := c.ServerInfo()
	if info.MemoryBudget != 2<<30 || info.MaxConnections != 1024 || info.MaxQueueWait != 2*time.Second {
		t.Fatalf("ServerInfo = %+v", info)
	}
	st, err := c.Stats(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.MemoryBudget != 1<<30 || st.MemoryUsed != 5<<20 || st.ConnectionsRefused != 3 {
		t.Fatalf("Stats = %+v", st)
	}
}

// Replies come back in an order unrelated to the requests; every caller must get its own.
func TestFakeOutOfOrderReplies(t *testing.T) {
	var mu sync.Mutex
	var held []wire.Request
	var heldConn []*fakeConn
	s := newFakeServer(t, func(fc *fakeConn, req wire.Request) {
		// Hold requests in batches of 16 and answer each batch shuffled.
		req.Checksum.Data = append([]byte(nil), req.Checksum.Data...)
		// (or whatever is held after 5ms, when fewer callers remain).
		flush := func() {
			mu.Lock()
			reqs, conns := held, heldConn
			held, heldConn = nil, nil
			mu.Unlock()
			for _, i := range rand.Perm(len(reqs)) {
				conns[i].reply(wire.OpChecksum, checksumReply(reqs[i]))
			}
		}
		mu.Lock()
		held = append(held, req)
		heldConn = append(heldConn, fc)
		n := len(held)
		mu.Unlock()
		switch {
		case n >= 16:
			flush()
		case n == 1:
			time.AfterFunc(5*time.Millisecond, flush)
		}
	})
	c := dialFake(t, s, WithPoolSize(3))
	const goroutines, each = 64, 8
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				data := []byte(fmt.Sprintf("goroutine %d request %d", g, i))
				res, err := c.Checksum(testCtx(t), ChecksumRequest{Data: data, Algorithms: []Algorithm{SHA256}})
				if err != nil {
					errs <- err
					return
				}
				want := sha256.Sum256(data)
				if !bytes.Equal(res.Digests[SHA256], want[:]) {
					errs <- fmt.Errorf("goroutine %d request %d got another request's digest", g, i)
					return
				}
				if res.Served != (Served{Path: PathRust, Reason: ReasonDirect}) {
					errs <- fmt.Errorf("Served = %+v", res.Served)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestFakeServerErrorCodes(t *testing.T) {
	var code atomic.Uint64
	s := newFakeServer(t, func(fc *fakeConn, req wire.Request) {
		fc.reply(req.Op, &wire.Reply{ID: req.ID, Code: code.Load(), Message: "from fake"})
	})
	c := dialFake(t, s)
	for want := CodeMalformed; want <= CodeInternal; want++ {
		code.Store(uint64(want))
		err := c.Ping(testCtx(t))
		var se *ServerError
		if !errors.As(err, &se) || se.Code != want || se.Message != "from fake" {
			t.Fatalf("code %d: got %v", want, err)
		}
		if !errors.Is(err, &ServerError{Code: want}) {
			t.Fatalf("code %d: errors.Is with the code sentinel failed", want)
		}
	}
	// A code from a future version is treated like internal, the number kept in the message.
	code.Store(99)
	err := c.Ping(testCtx(t))
	var se *ServerError
	if !errors.As(err, &se) || se.Code != CodeInternal || !SafeToRetry(err) {
		t.Fatalf("unknown code: got %v", err)
	}
	// The connection survived all of it.
	pings := 0
	for _, h := range s.received() {
		if h.Op == wire.OpPing {
			pings++
		}
	}
	if pings != 13 {
		t.Fatalf("fake saw %d pings, want 13", pings)
	}
}

func TestFakeDeadlineTravelsAndCancels(t *testing.T) {
	s := newFakeServer(t, nil) // never answers resize
	c := dialFake(t, s, WithPoolSize(1))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Resize(ctx, ResizeRequest{Image: []byte("not an image"), Width: 10})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("returned after %v", el)
	}
	// hello, resize, cancel (and the hang watch's pings, which do not matter here)
	waitFor(t, func() bool { return len(withoutPings(s.received())) == 3 })
	got := withoutPings(s.received())
	resize, cnl := got[1], got[2]
	if resize.Op != wire.OpResize || !resize.HasTimeout || resize.TimeoutMs == 0 || resize.TimeoutMs > 300 {
		t.Fatalf("resize header = %+v, want a timeout_ms in (0, 300]", resize)
	}
	if cnl.Op != wire.OpCancel || cnl.ID != resize.ID {
		t.Fatalf("after the deadline the fake got %+v, want cancel of id %d", cnl, resize.ID)
	}
	// Still usable.
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestFakeCancelSendsCancelFrame(t *testing.T) {
	s := newFakeServer(t, nil)
	c := dialFake(t, s, WithPoolSize(1))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, func() bool { return len(s.received()) == 2 })
		cancel()
	}()
	_, err := c.Resize(ctx, ResizeRequest{Image: []byte{1, 2, 3}, Width: 10})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	waitFor(t, func() bool { return len(s.received()) == 3 })
	if got := s.received(); got[2].Op != wire.OpCancel || got[2].ID != got[1].ID || got[1].HasTimeout {
		t.Fatalf("requests = %+v", got)
	}
}

func TestFakeExpiredContextIsNotSent(t *testing.T) {
	s := newFakeServer(t, nil)
	c := dialFake(t, s)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c.Checksum(ctx, ChecksumRequest{Data: []byte("x"), Algorithms: []Algorithm{CRC32C}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	for _, h := range s.received() {
		if h.Op != wire.OpHello {
			t.Fatalf("fake received %+v", h)
		}
	}
}

func TestFakeRequestTooLargeIsRefusedLocally(t *testing.T) {
	s := newFakeServer(t, nil)
	s.setMaxFrame(1024)
	c := dialFake(t, s)
	_, err := c.Checksum(testCtx(t), ChecksumRequest{Data: make([]byte, 2000), Algorithms: []Algorithm{CRC32C}})
	if !errors.Is(err, ErrRequestTooLarge) || !IsInvalidInput(err) || SafeToRetry(err) {
		t.Fatalf("err = %v", err)
	}
	// Just under the limit goes through.
	if _, err := c.Checksum(testCtx(t), ChecksumRequest{Data: make([]byte, 900), Algorithms: []Algorithm{CRC32C}}); err != nil {
		t.Fatal(err)
	}
	for _, h := range s.received() {
		if h.Op == wire.OpChecksum && h.ID == 0 {
			t.Fatal("unexpected")
		}
	}
	if n := len(s.received()); n > 1+2+1 { // hellos for up to 2 connections + the one checksum
		t.Fatalf("fake received %d requests; the oversize one was sent?", n)
	}
}

func TestFakeConnectionLostAndReconnect(t *testing.T) {
	s := newFakeServer(t, nil) // resize never answered: it is in flight when the fake drops it
	c := dialFake(t, s, WithPoolSize(1))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Resize(testCtx(t), ResizeRequest{Image: []byte{1}, Width: 1})
		errc <- err
	}()
	waitFor(t, func() bool { return len(s.received()) == 2 })
	s.dropAll()
	err := <-errc
	if !errors.Is(err, ErrConnectionLost) || !SafeToRetry(err) {
		t.Fatalf("in-flight call: %v, want ErrConnectionLost", err)
	}
	// The next call dials a new connection by itself.
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("ping after reconnect: %v", err)
	}
}

func TestFakeDaemonDown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	if len(path) > 100 {
		dir, _ := os.MkdirTemp("", "fy")
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "none.sock")
	}
	_, err := Dial(testCtx(t), path)
	if !errors.Is(err, ErrUnavailable) || !SafeToRetry(err) {
		t.Fatalf("Dial: %v, want ErrUnavailable", err)
	}
	// Lazily, Dial succeeds and calls fail with ErrUnavailable, the later ones within the backoff
	// without trying again.
	c, err := Dial(testCtx(t), path, WithLazyConnect(), WithRedialBackoff(time.Hour, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ServerInfo() != nil {
		t.Fatal("ServerInfo before any connection")
	}
	for range 3 {
		if err := c.Ping(testCtx(t)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Ping: %v, want ErrUnavailable", err)
		}
	}
}

func TestFakeBackoffThenRecovery(t *testing.T) {
	s := newFakeServer(t, nil)
	path := s.path
	s.close()
	_ = os.Remove(path)
	c, err := Dial(testCtx(t), path, WithLazyConnect(), WithPoolSize(1), WithRedialBackoff(20*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(testCtx(t)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping with no daemon: %v", err)
	}
	s2 := newFakeServerAt(t, path)
	_ = s2
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Ping(testCtx(t))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Ping after the daemon came back: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFakeGarbageReply(t *testing.T) {
	var mode atomic.Int32
	s := newFakeServer(t, func(fc *fakeConn, req wire.Request) {
		switch mode.Load() {
		case 0: // a reply missing its result fields: that call fails, the connection stays
			fc.reply(wire.OpPing, &wire.Reply{ID: req.ID, OK: true})
		case 1: // not a map: nothing can be matched, the connection goes
			fc.writeRaw(wire.AppendFrame(nil, []byte{0x93, 1, 2, 3}))
		default:
			defaultHandle(fc, req)
		}
	})
	c := dialFake(t, s, WithPoolSize(1))
	_, err := c.Checksum(testCtx(t), ChecksumRequest{Data: []byte("a"), Algorithms: []Algorithm{CRC32C}})
	if !errors.Is(err, ErrProtocol) || errors.Is(err, ErrConnectionLost) {
		t.Fatalf("missing digests: %v, want ErrProtocol alone", err)
	}
	mode.Store(1)
	err = c.Ping(testCtx(t))
	if !errors.Is(err, ErrProtocol) || !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("garbage: %v, want ErrConnectionLost wrapping ErrProtocol", err)
	}
	mode.Store(2)
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
}

// A peer that stops reading: a large payload stalls in the socket buffers, and a caller whose
// deadline passes must still get control back promptly (the connection is sacrificed, since a
// half-written frame cannot be resumed).
func TestFakeStalledLargeWrite(t *testing.T) {
	stall := make(chan struct{})
	// The fake stops reading by holding its handler on the first checksum.
	s := newFakeServer(t, func(fc *fakeConn, req wire.Request) {
		if req.Op == wire.OpChecksum {
			<-stall
		}
		defaultHandle(fc, req)
	})
	c := dialFake(t, s, WithPoolSize(1))
	defer close(stall)
	small := ChecksumRequest{Data: []byte("x"), Algorithms: []Algorithm{CRC32C}}
	go func() { _, _ = c.Checksum(context.Background(), small) }()
	waitFor(t, func() bool { return len(s.received()) == 2 })

	big := make([]byte, 32<<20) // far more than the socket buffers hold
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Checksum(ctx, ChecksumRequest{Data: big, Algorithms: []Algorithm{CRC32C}})
	// The caller's deadline, or the hang watch (armed by the first checksum, before this call
	// began) if it fires first: either way the caller is let go.
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrNotResponding) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("stalled write held the caller for %v", el)
	}
	big[0] = 1 // the caller owns its slice again (the race detector checks this)
}

func TestFakeCloseFailsInFlight(t *testing.T) {
	s := newFakeServer(t, nil)
	c := dialFake(t, s)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Resize(context.Background(), ResizeRequest{Image: []byte{1}, Width: 1})
		errc <- err
	}()
	waitFor(t, func() bool { return countOp(s, wire.OpResize) == 1 })
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("in flight at Close: %v", err)
	}
	if err := c.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	c.Close() // again: nothing happens
}

func TestFakeInvalidArgumentsRefusedLocally(t *testing.T) {
	s := newFakeServer(t, nil)
	c := dialFake(t, s)
	for _, req := range []ResizeRequest{{Width: -1}, {Height: -5}, {Quality: -1}} {
		_, err := c.Resize(testCtx(t), req)
		if !errors.Is(err, ErrInvalidArgument) || !IsInvalidInput(err) {
			t.Fatalf("%+v: %v", req, err)
		}
	}
}

// newFakeServerAt starts a fake on a given path (after the previous one there went away).
func newFakeServerAt(t *testing.T, path string) *fakeServer {
	s := newFakeServer(t, nil)
	s.ln.Close()
	s.wg.Wait()
	_ = os.Remove(path)
	s.path = path
	ln, err := netListen(path)
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return s
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func countOp(s *fakeServer, op wire.Op) int {
	n := 0
	for _, h := range s.received() {
		if h.Op == op {
			n++
		}
	}
	return n
}

// Small frames are written from the caller's goroutine when the connection is idle; against a
// peer that stopped reading they soon fill the socket buffer, and a caller whose inline write
// blocks must still return at its deadline.
func TestFakeStalledInlineWrites(t *testing.T) {
	stall := make(chan struct{})
	s := newFakeServer(t, func(fc *fakeConn, req wire.Request) {
		<-stall
		defaultHandle(fc, req)
	})
	defer close(stall)
	c := dialFake(t, s, WithPoolSize(1))
	data := make([]byte, 60<<10) // under inlinePayloadMax: copied into the frame, written inline
	// One at a time, so that each takes the inline path; ten of them are far more than the
	// socket buffers hold.
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		start := time.Now()
		_, err := c.Checksum(ctx, ChecksumRequest{Data: data, Algorithms: []Algorithm{CRC32C}})
		cancel()
		t.Logf("call %d: %v after %v", i, err, time.Since(start))
		if el := time.Since(start); el > time.Second {
			t.Fatalf("call %d held for %v by a peer that does not read", i, el)
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrConnectionLost) {
			t.Fatalf("call %d: err = %v, want a deadline or a lost connection", i, err)
		}
	}
}

// Close leaves no goroutine behind: readers, writers and dials all end.
func TestFakeCloseLeavesNoGoroutines(t *testing.T) {
	s := newFakeServer(t, nil)
	before := runtime.NumGoroutine()
	c, err := Dial(testCtx(t), s.path, WithPoolSize(4))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := c.Ping(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	s.dropAll() // broken connections, redials in flight
	_ = c.Ping(testCtx(t))
	c.Close()
	// The fake's own per-connection goroutines end once it sees the connections close.
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}

// withoutPings drops the pings from headers the fake received: the hang watch sends them on
// its own while a request is pending.
func withoutPings(hs []wire.Header) []wire.Header {
	var out []wire.Header
	for _, h := range hs {
		if h.Op != wire.OpPing {
			out = append(out, h)
		}
	}
	return out
}

// A daemon that takes requests and answers nothing, pings included, is declared hung after twice
// the hang timeout: the call fails with ErrNotResponding (safe to retry) long before its deadline.
func TestFakeHungDaemonIsDetected(t *testing.T) {
	s := newFakeServer(t, func(fc *fakeConn, req wire.Request) {}) // answers hello only
	const hang = 200 * time.Millisecond
	c := dialFake(t, s, WithPoolSize(1), WithHangTimeout(hang))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := c.Ping(ctx)
	took := time.Since(start)
	if !errors.Is(err, ErrNotResponding) || !errors.Is(err, ErrConnectionLost) || !SafeToRetry(err) {
		t.Fatalf("err = %v, want ErrNotResponding and ErrConnectionLost", err)
	}
	// Suspect after the hang timeout, failed after twice it (the watch backs off once).
	if took < 2*hang || took > 2*hang+hang/2 {
		t.Fatalf("declared hung after %v, want between %v and %v", took, 2*hang, 2*hang+hang/2)
	}
	pings := 0
	for _, h := range s.received() {
		if h.Op == wire.OpPing {
			pings++
		}
	}
	if pings != 2 { // the call's own ping, and the watch's
		t.Fatalf("fake saw %d pings, want 2", pings)
	}
}

// A daemon that answers pings but takes its time over a job is alive: the call waits for the
// job (here: until its deadline), never failing as hung.
func TestFakeSlowJobIsNotAHang(t *testing.T) {
	s := newFakeServer(t, nil) // answers pings, never resize
	c := dialFake(t, s, WithPoolSize(1), WithHangTimeout(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	_, err := c.Resize(ctx, ResizeRequest{Image: []byte("x"), Width: 10})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNotResponding) {
		t.Fatalf("err = %v, want only the caller's deadline", err)
	}
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("connection not usable after a slow job: %v", err)
	}
}

// refusingListener accepts connections and answers each, before reading anything, with an error
// frame of id 0 carrying code, then closes it: how ferryd refuses a peer (peer_not_allowed) or a
// connection over its limit (busy).
func refusingListener(t *testing.T, code Code) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "r.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = nc.Write(wire.AppendReply(nil, wire.OpPing, &wire.Reply{ID: 0, Code: uint64(code), Message: "refused"}))
			_ = nc.Close()
		}
	}()
	return path
}

func TestDialRefusedAtAccept(t *testing.T) {
	_, err := Dial(testCtx(t), refusingListener(t, CodePeerNotAllowed))
	if !errors.Is(err, ErrPeerNotAllowed) || !errors.Is(err, ErrUnavailable) || SafeToRetry(err) || IsInvalidInput(err) {
		t.Fatalf("peer refused: %v (safe to retry %v), want ErrPeerNotAllowed, not retryable", err, SafeToRetry(err))
	}
	_, err = Dial(testCtx(t), refusingListener(t, CodeBusy))
	if !errors.Is(err, ErrBusy) || !errors.Is(err, ErrUnavailable) || !SafeToRetry(err) {
		t.Fatalf("connection limit: %v, want busy, retryable", err)
	}
}

func TestNewCodesAndServedString(t *testing.T) {
	tooBig := &ServerError{Code: CodeTooLargeForBudget, Message: "needs 3 GiB"}
	if !errors.Is(tooBig, ErrTooLargeForBudget) || SafeToRetry(tooBig) || IsInvalidInput(tooBig) {
		t.Errorf("too_large_for_budget: safe to retry %v, invalid input %v", SafeToRetry(tooBig), IsInvalidInput(tooBig))
	}
	if CodeTooLargeForBudget.String() != "too_large_for_budget" || CodePeerNotAllowed.String() != "peer_not_allowed" {
		t.Errorf("names: %s, %s", CodeTooLargeForBudget, CodePeerNotAllowed)
	}
	if s := (Served{Path: PathRust, Reason: ReasonDirect}).String(); s != "rust/direct" {
		t.Errorf("Served.String() = %q", s)
	}
	if s := (Served{}).String(); s != "" {
		t.Errorf("zero Served.String() = %q", s)
	}
}

// A daemon that reads a large request slowly (alive, but the request takes longer to send than
// the hang timeout) is not mistaken for a hung one: bytes taken by the socket count as life.
func TestFakeSlowReaderIsNotAHang(t *testing.T) {
	dir, err := os.MkdirTemp("", "fy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		hello, err := wire.ReadFrame(br, wire.DefaultMaxFrame)
		if err != nil {
			return
		}
		req, _ := wire.DecodeRequest(hello)
		_, _ = nc.Write(wire.AppendReply(nil, wire.OpHello, &wire.Reply{ID: req.ID, OK: true, Hello: &wire.HelloReply{
			Version: 1, Server: "slow", MaxFrame: wire.DefaultMaxFrame}}))
		n, err := wire.ReadLength(br, wire.DefaultMaxFrame)
		if err != nil {
			return
		}
		body := make([]byte, n)
		for got := 0; got < len(body); { // 128 KiB every 10 ms: about 0.5 s for 6 MiB
			k, err := io.ReadFull(br, body[got:min(len(body), got+128<<10)])
			if err != nil {
				return
			}
			got += k
			time.Sleep(10 * time.Millisecond)
		}
		req, err = wire.DecodeRequest(body)
		if err != nil {
			return
		}
		_, _ = nc.Write(wire.AppendReply(nil, wire.OpChecksum, &wire.Reply{ID: req.ID, OK: true,
			Checksum: wire.ChecksumReply{Digests: []wire.Digest{{Algorithm: "crc32c", Sum: []byte{1, 2, 3, 4}}}}}))
		_, _ = io.Copy(io.Discard, br) // the hang watch's pings, unanswered
	}()
	c, err := Dial(testCtx(t), path, WithPoolSize(1), WithHangTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	res, err := c.Checksum(testCtx(t), ChecksumRequest{Data: make([]byte, 6<<20), Algorithms: []Algorithm{CRC32C}})
	if err != nil {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	if len(res.Digests[CRC32C]) != 4 {
		t.Fatalf("digests %v", res.Digests)
	}
	t.Logf("6 MiB read slowly in %v with a 200ms hang timeout: served", time.Since(start).Round(time.Millisecond))
}

// A daemon that stops reading in the middle of a large request (as a stopped one does once its
// socket buffer is full) is declared hung too: the part the kernel buffered proves nothing.
func TestFakeStalledLargeWriteIsAHang(t *testing.T) {
	dir, err := os.MkdirTemp("", "fy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "h.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		hello, err := wire.ReadFrame(br, wire.DefaultMaxFrame)
		if err != nil {
			return
		}
		req, _ := wire.DecodeRequest(hello)
		_, _ = nc.Write(wire.AppendReply(nil, wire.OpHello, &wire.Reply{ID: req.ID, OK: true, Hello: &wire.HelloReply{
			Version: 1, Server: "stalled", MaxFrame: wire.DefaultMaxFrame}}))
		<-stop // reads nothing more
	}()
	const hang = 200 * time.Millisecond
	c, err := Dial(testCtx(t), path, WithPoolSize(1), WithHangTimeout(hang))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Checksum(testCtx(t), ChecksumRequest{Data: make([]byte, 16<<20), Algorithms: []Algorithm{CRC32C}})
	took := time.Since(start)
	if !errors.Is(err, ErrNotResponding) {
		t.Fatalf("after %v: %v, want ErrNotResponding", took, err)
	}
	if took > 2*hang+hang/2 {
		t.Fatalf("declared hung after %v", took)
	}
}
