package ferry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	_ "image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
)

// Integration tests: the public API against the real ferryd, started per test by testdaemon.

var (
	photosDir  = filepath.Join("..", "tests", "data", "photos")
	vectorsDir = filepath.Join("..", "protocol", "vectors")
)

// startDaemon starts ferryd with flags and dials it.
func startDaemon(t testing.TB, flags ...string) (*testdaemon.Daemon, *ferry.Client) {
	t.Helper()
	d := testdaemon.Start(t, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ferry.Dial(ctx, d.Path())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return d, c
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestPingAndServerInfo(t *testing.T) {
	_, c := startDaemon(t)
	for range 10 {
		if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Ping(context.Background()); err != nil { // no deadline at all
		t.Fatal(err)
	}
	info := c.ServerInfo()
	if info == nil {
		t.Fatal("no ServerInfo after Dial")
	}
	if info.Version != 1 || info.MaxFrame != ferry.DefaultMaxFrame || info.MaxPixels != ferry.DefaultMaxPixels ||
		info.MaxDimension != ferry.DefaultMaxDimension || info.Workers < 1 || info.QueueJobs < 1 || info.QueueBytes < 1 {
		t.Fatalf("ServerInfo = %+v", info)
	}
	for _, want := range []string{"hello", "ping", "resize", "checksum", "stats", "cancel", "checksum_file", "resize_file", "probe"} {
		if !contains(info.Ops, want) {
			t.Errorf("ops %v lack %s", info.Ops, want)
		}
	}
	for _, f := range []ferry.Format{ferry.FormatJPEG, ferry.FormatPNG, ferry.FormatWebP, ferry.FormatGIF} {
		if !contains(info.InputFormats, f) {
			t.Errorf("input formats %v lack %s", info.InputFormats, f)
		}
	}
	for _, a := range []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3} {
		if !contains(info.Algorithms, a) {
			t.Errorf("algorithms %v lack %s", info.Algorithms, a)
		}
	}
}

func TestStats(t *testing.T) {
	_, c := startDaemon(t, "--workers", "2")
	for range 5 {
		if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Stats(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.Server == "" || st.Workers != 2 || st.Connections < 1 || st.RequestsByOp["ping"] < 5 ||
		st.RequestsTotal < 5 || st.Uptime <= 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

// --- resize ---

type photo struct {
	name string
	data []byte
	w, h int
	img  image.Image
}

func loadPhotos(t *testing.T) []photo {
	t.Helper()
	var out []photo
	for _, name := range []string{"rocket.jpg", "astronaut.png", "coffee.png"} {
		data, err := os.ReadFile(filepath.Join(photosDir, name))
		if err != nil {
			t.Fatalf("sample photo: %v", err)
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := img.Bounds()
		out = append(out, photo{name, data, b.Dx(), b.Dy(), img})
	}
	return out
}

// fitSize is SPEC.md's fit geometry, computed here independently of the daemon.
func fitSize(w, h, bw, bh int) (int, int) {
	s := math.Inf(1)
	if bw > 0 {
		s = float64(bw) / float64(w)
	}
	if bh > 0 {
		s = math.Min(s, float64(bh)/float64(h))
	}
	round := func(x float64) int { return max(1, int(math.Floor(x+0.5))) }
	return round(float64(w) * s), round(float64(h) * s)
}

func TestResizePhotos(t *testing.T) {
	_, c := startDaemon(t)
	cases := []struct {
		req        ferry.ResizeRequest
		exactW     int // 0: fit geometry
		exactH     int
		decodeWith func([]byte) (image.Image, error)
	}{
		{req: ferry.ResizeRequest{Width: 200, Height: 200}, decodeWith: decodeJPEG},
		{req: ferry.ResizeRequest{Width: 300, Format: ferry.FormatPNG}, decodeWith: decodePNG},
		{req: ferry.ResizeRequest{Height: 90, Format: ferry.FormatWebP, Quality: 70}, decodeWith: decodeAny},
		{req: ferry.ResizeRequest{Width: 150, Height: 100, Mode: ferry.ModeFill, Anchor: ferry.AnchorTop, Filter: ferry.FilterCatmullRom}, exactW: 150, exactH: 100, decodeWith: decodeJPEG},
		{req: ferry.ResizeRequest{Width: 123, Height: 77, Mode: ferry.ModeExact, Filter: ferry.FilterBilinear, Format: ferry.FormatPNG}, exactW: 123, exactH: 77, decodeWith: decodePNG},
		{req: ferry.ResizeRequest{Width: 64, Height: 64, Mode: ferry.ModeFill, Filter: ferry.FilterNearest, Quality: 95}, exactW: 64, exactH: 64, decodeWith: decodeJPEG},
	}
	for _, p := range loadPhotos(t) {
		for i, tc := range cases {
			t.Run(fmt.Sprintf("%s/%d_%s", p.name, i, tc.req.Mode), func(t *testing.T) {
				req := tc.req
				req.Image = p.data
				res, err := c.Resize(ctxFor(t, 10*time.Second), req)
				if err != nil {
					t.Fatal(err)
				}
				wantW, wantH := tc.exactW, tc.exactH
				if wantW == 0 {
					wantW, wantH = fitSize(p.w, p.h, req.Width, req.Height)
				}
				wantFormat := req.Format
				if wantFormat == "" {
					wantFormat = ferry.FormatJPEG
				}
				if res.Width != wantW || res.Height != wantH || res.Format != wantFormat {
					t.Fatalf("got %dx%d %s, want %dx%d %s", res.Width, res.Height, res.Format, wantW, wantH, wantFormat)
				}
				if res.SourceWidth != p.w || res.SourceHeight != p.h {
					t.Fatalf("source %dx%d, want %dx%d", res.SourceWidth, res.SourceHeight, p.w, p.h)
				}
				if want := ferry.Format(filepath.Ext(p.name)[1:]); res.SourceFormat != want && !(want == "jpg" && res.SourceFormat == ferry.FormatJPEG) {
					t.Fatalf("source format %s for %s", res.SourceFormat, p.name)
				}
				if res.Served != (ferry.Served{Path: ferry.PathRust, Reason: ferry.ReasonDirect}) {
					t.Fatalf("Served = %+v", res.Served)
				}
				out, err := tc.decodeWith(res.Image)
				if err != nil {
					t.Fatalf("decoding the %s output: %v", res.Format, err)
				}
				if b := out.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
					t.Fatalf("output decodes to %dx%d, reply says %dx%d", b.Dx(), b.Dy(), wantW, wantH)
				}
				// Whole-image colour survives any geometry: a cheap check that the pixels are the
				// photo's, not garbage (the daemon's own tests compare against reference resizes).
				if req.Mode == "" || req.Mode == ferry.ModeFit || req.Mode == ferry.ModeExact {
					if d := meanDistance(p.img, out); d > 12 {
						t.Fatalf("mean colour differs by %.1f levels from the input's", d)
					}
				}
			})
		}
	}
}

func decodeJPEG(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
func decodePNG(b []byte) (image.Image, error)  { return png.Decode(bytes.NewReader(b)) }
func decodeAny(b []byte) (image.Image, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	return img, err
}

// meanDistance is the largest per-channel difference of the two images' mean colours, in 8-bit
// levels.
func meanDistance(a, b image.Image) float64 {
	ma, mb := meanRGB(a), meanRGB(b)
	d := 0.0
	for i := range ma {
		d = math.Max(d, math.Abs(ma[i]-mb[i]))
	}
	return d
}

func meanRGB(img image.Image) [3]float64 {
	var sum [3]float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			sum[0] += float64(r >> 8)
			sum[1] += float64(g >> 8)
			sum[2] += float64(bl >> 8)
		}
	}
	n := float64(b.Dx() * b.Dy())
	return [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
}

// --- checksum ---

func paint(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func TestChecksumVectors(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(vectorsDir, "checksums.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Checksums []struct {
			Algorithm ferry.Algorithm `json:"algorithm"`
			Length    int             `json:"length"`
			Digest    string          `json:"digest"`
		} `json:"checksums"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Checksums) == 0 {
		t.Fatal("no checksum vectors")
	}
	_, c := startDaemon(t)
	byLength := map[int]map[ferry.Algorithm]string{}
	for _, v := range file.Checksums {
		res, err := c.Checksum(ctxFor(t, 10*time.Second), ferry.ChecksumRequest{Data: paint(v.Length), Algorithms: []ferry.Algorithm{v.Algorithm}})
		if err != nil {
			t.Fatalf("%s of %d bytes: %v", v.Algorithm, v.Length, err)
		}
		if got := hex.EncodeToString(res.Digests[v.Algorithm]); got != v.Digest || len(res.Digests) != 1 {
			t.Errorf("%s of %d bytes = %s (%d digests), want %s", v.Algorithm, v.Length, got, len(res.Digests), v.Digest)
		}
		if byLength[v.Length] == nil {
			byLength[v.Length] = map[ferry.Algorithm]string{}
		}
		byLength[v.Length][v.Algorithm] = v.Digest
	}
	// All algorithms of one input in one request: same digests.
	for n, want := range byLength {
		var algs []ferry.Algorithm
		for a := range want {
			algs = append(algs, a)
		}
		res, err := c.Checksum(ctxFor(t, 10*time.Second), ferry.ChecksumRequest{Data: paint(n), Algorithms: algs})
		if err != nil {
			t.Fatal(err)
		}
		for a, d := range want {
			if got := hex.EncodeToString(res.Digests[a]); got != d {
				t.Errorf("%s of %d bytes among %v = %s, want %s", a, n, algs, got, d)
			}
		}
	}
}

// --- errors ---

// pngHeader makes a PNG whose IHDR declares w x h RGB pixels, followed by a token IDAT and IEND:
// a decompression bomb as far as any header check can tell.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB, deflate, no filter, no interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01}) // zlib of a few zeros
	chunk("IEND", nil)
	return b.Bytes()
}

func TestServerErrors(t *testing.T) {
	_, c := startDaemon(t)
	photo := loadPhotos(t)[0].data
	cases := []struct {
		name string
		call func(ctx context.Context) error
		want error
	}{
		{"not an image", resizeErr(c, ferry.ResizeRequest{Image: []byte("plain text, not an image"), Width: 10}), ferry.ErrBadImage},
		{"truncated jpeg", resizeErr(c, ferry.ResizeRequest{Image: photo[:len(photo)/3], Width: 10}), ferry.ErrBadImage},
		{"empty image", resizeErr(c, ferry.ResizeRequest{Image: []byte{}, Width: 10}), ferry.ErrBadImage},
		{"png bomb 20000x20000", resizeErr(c, ferry.ResizeRequest{Image: pngHeader(20000, 20000), Width: 10}), ferry.ErrImageTooLarge},
		{"png 40000 wide", resizeErr(c, ferry.ResizeRequest{Image: pngHeader(40000, 1), Width: 10}), ferry.ErrImageTooLarge},
		{"quality 101", resizeErr(c, ferry.ResizeRequest{Image: photo, Width: 10, Quality: 101}), ferry.ErrInvalidArgument},
		{"unknown mode", resizeErr(c, ferry.ResizeRequest{Image: photo, Width: 10, Mode: "stretch"}), ferry.ErrInvalidArgument},
		{"unknown format", resizeErr(c, ferry.ResizeRequest{Image: photo, Width: 10, Format: "bmp"}), ferry.ErrInvalidArgument},
		{"fit without a box", resizeErr(c, ferry.ResizeRequest{Image: photo}), ferry.ErrInvalidArgument},
		{"fill with one side", resizeErr(c, ferry.ResizeRequest{Image: photo, Width: 10, Mode: ferry.ModeFill}), ferry.ErrInvalidArgument},
		{"box over max_dimension", resizeErr(c, ferry.ResizeRequest{Image: photo, Width: 32769}), ferry.ErrInvalidArgument},
		{"unknown algorithm", checksumErr(c, []ferry.Algorithm{"md5"}), ferry.ErrInvalidArgument},
		{"no algorithm", checksumErr(c, nil), ferry.ErrInvalidArgument},
		{"repeated algorithm", checksumErr(c, []ferry.Algorithm{ferry.SHA256, ferry.SHA256}), ferry.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.call(ctxFor(t, 10*time.Second))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var se *ferry.ServerError
			if !errors.As(err, &se) || se.Message == "" {
				t.Fatalf("err = %#v, want a *ServerError with a message", err)
			}
			if !ferry.IsInvalidInput(err) || ferry.SafeToRetry(err) {
				t.Fatalf("IsInvalidInput %v SafeToRetry %v for %v", ferry.IsInvalidInput(err), ferry.SafeToRetry(err), err)
			}
			if tc.want == ferry.ErrImageTooLarge && time.Since(start) > time.Second {
				t.Fatalf("a header-only refusal took %v", time.Since(start))
			}
		})
	}
	// The connection survived every refusal.
	if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

func resizeErr(c *ferry.Client, req ferry.ResizeRequest) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.Resize(ctx, req)
		return err
	}
}

func checksumErr(c *ferry.Client, algs []ferry.Algorithm) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.Checksum(ctx, ferry.ChecksumRequest{Data: []byte("abc"), Algorithms: algs})
		return err
	}
}

// A queue bound of one job: concurrent work beyond it is answered busy at once, and busy is safe
// to retry.
func TestBusy(t *testing.T) {
	_, c := startDaemon(t, "--workers", "1", "--queue-jobs", "1")
	// One long job holds the only slot (seen running in stats before the next is sent, so the
	// test does not depend on how fast frames travel against how fast jobs finish); the next
	// request is refused busy at once, and the long one still completes.
	long := make(chan error, 1)
	go func() { long <- slowChecksum(c, ctxFor(t, 20*time.Second)) }()
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		if st, err := c.Stats(ctxFor(t, time.Second)); err == nil && st.JobsRunning == 1 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("the long job never showed as running")
		}
	}
	_, err := c.Checksum(ctxFor(t, 5*time.Second), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
	if !errors.Is(err, ferry.ErrBusy) || !ferry.SafeToRetry(err) {
		t.Fatalf("second job while the only slot is taken: %v, want busy, safe to retry", err)
	}
	if err := <-long; err != nil {
		t.Fatalf("the long job: %v", err)
	}
	if _, err := c.Checksum(ctxFor(t, 5*time.Second), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: []ferry.Algorithm{ferry.CRC32C}}); err != nil {
		t.Fatalf("after the slot is free: %v", err)
	}
}

// --- deadlines and cancellation ---

// bigData is large enough that every digest of it takes the daemon a while.
var bigData = sync.OnceValue(func() []byte { return paint(64 << 20) })

// slowChecksum starts a job that is still running when the test gives up on it.
func slowChecksum(c *ferry.Client, ctx context.Context) error {
	_, err := c.Checksum(ctx, ferry.ChecksumRequest{Data: bigData(), Algorithms: []ferry.Algorithm{ferry.SHA256, ferry.BLAKE3, ferry.XXH3_64, ferry.CRC32C}})
	return err
}

func TestDeadline(t *testing.T) {
	_, c := startDaemon(t)
	bigData()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := slowChecksum(c, ctx)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ferry.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned %v after a 20ms deadline", el)
	}
	// An expired ctx is refused before anything is sent.
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	if err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired ctx: %v", err)
	}
	if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

func TestCancel(t *testing.T) {
	_, c := startDaemon(t, "--workers", "1")
	bigData()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- slowChecksum(c, ctx) }()
	// Cancel once the job runs, so that the daemon has the request and the cancel frame is what
	// stops it (stats is answered even while the only worker is busy).
	waitStats(t, c, func(st *ferry.Stats) bool { return st.JobsRunning == 1 })
	cancel()
	start := time.Now()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned %v after cancel", el)
	}
	// The daemon answered the job with an error (cancelled) rather than finishing it.
	st := waitStats(t, c, func(st *ferry.Stats) bool { return st.RequestsByOp["checksum"] == 1 })
	if st.ErrorsTotal != 1 || st.JobsRunning != 0 {
		t.Fatalf("after cancel: %+v, want the checksum answered as an error", st)
	}
	if _, err := c.Checksum(ctxFor(t, 10*time.Second), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: []ferry.Algorithm{ferry.CRC32C}}); err != nil {
		t.Fatal(err)
	}
}

// waitStats polls Stats until cond holds (at most 10s) and returns the last Stats.
func waitStats(t *testing.T, c *ferry.Client, cond func(*ferry.Stats) bool) *ferry.Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.Stats(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached the expected state: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

// --- concurrency ---

func TestManyGoroutines(t *testing.T) {
	// A queue deep enough for every goroutine's job at once: this is about matching, not busy.
	_, c := startDaemon(t, "--queue-jobs", "256")
	const goroutines, each = 200, 5
	crcTable := crc32.MakeTable(crc32.Castagnoli)
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Distinct inputs of distinct sizes, so a mismatched reply cannot pass.
				data := append(paint(g*37+i), fmt.Sprintf("g%d/i%d", g, i)...)
				res, err := c.Checksum(ctxFor(t, 20*time.Second), ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{ferry.CRC32C, ferry.SHA256}})
				if err != nil {
					errc <- err
					return
				}
				sum := sha256.Sum256(data)
				crc := binary.BigEndian.AppendUint32(nil, crc32.Checksum(data, crcTable))
				if !bytes.Equal(res.Digests[ferry.SHA256], sum[:]) || !bytes.Equal(res.Digests[ferry.CRC32C], crc) {
					errc <- fmt.Errorf("goroutine %d request %d: digests of another request", g, i)
					return
				}
				if i%2 == 0 {
					if err := c.Ping(ctxFor(t, 20*time.Second)); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// --- failures of the daemon itself ---

func TestReconnectAfterRestart(t *testing.T) {
	d, c := startDaemon(t)
	if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	d.Kill()
	err := c.Ping(ctxFor(t, 5*time.Second))
	if !errors.Is(err, ferry.ErrConnectionLost) && !errors.Is(err, ferry.ErrUnavailable) {
		t.Fatalf("ping with the daemon dead: %v, want ErrConnectionLost or ErrUnavailable", err)
	}
	if !ferry.SafeToRetry(err) {
		t.Fatalf("not safe to retry: %v", err)
	}
	d.Restart()
	// The client reconnects on its own; a call made within the redial backoff may still see
	// ErrUnavailable, so allow a bounded few.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Ping(ctxFor(t, 5*time.Second))
		if err == nil {
			break
		}
		if !errors.Is(err, ferry.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("ping after restart: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Graceful restart too: SIGTERM, then up again.
	d.Restart()
	deadline = time.Now().Add(5 * time.Second)
	for {
		_, err := c.Checksum(ctxFor(t, 5*time.Second), ferry.ChecksumRequest{Data: []byte("after"), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
		if err == nil {
			break
		}
		if !ferry.SafeToRetry(err) || time.Now().After(deadline) {
			t.Fatalf("checksum after graceful restart: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStoppedDaemonHonoursDeadline(t *testing.T) {
	d, c := startDaemon(t)
	d.Stop()
	start := time.Now()
	err := c.Ping(ctxFor(t, 100*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ping to a stopped daemon: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned after %v", el)
	}
	d.Cont()
	if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatalf("after SIGCONT: %v", err)
	}
}

func TestRequestTooLargeIsRefusedLocally(t *testing.T) {
	_, c := startDaemon(t, "--max-frame", "65536")
	if got := c.ServerInfo().MaxFrame; got != 65536 {
		t.Fatalf("MaxFrame = %d, want 65536", got)
	}
	_, err := c.Checksum(ctxFor(t, 5*time.Second), ferry.ChecksumRequest{Data: make([]byte, 70000), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
	if !errors.Is(err, ferry.ErrRequestTooLarge) || !ferry.IsInvalidInput(err) {
		t.Fatalf("err = %v, want ErrRequestTooLarge", err)
	}
	_, err = c.Checksum(ctxFor(t, 5*time.Second), ferry.ChecksumRequest{Data: make([]byte, 60000), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
	if err != nil {
		t.Fatalf("a request under the limit: %v", err)
	}
	st, err := c.Stats(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st.RequestsByOp["checksum"] != 1 {
		t.Fatalf("daemon counted %d checksums, want 1: the oversize one was sent", st.RequestsByOp["checksum"])
	}
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
