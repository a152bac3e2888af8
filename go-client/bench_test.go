package ferry_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/echofloor"
	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Benchmarks of the socket path against the real ferryd (build it with `cargo build --release`
// for numbers worth reading), next to the floor a raw Unix socket sets on the same machine:
//
//	go test -run '^$' -bench . -benchtime 2s ./
//
// BenchmarkPingP50 prints the round trips side by side as p50 metrics: a raw echo in this process,
// a raw echo in another process (the fair floor: ferryd is another process too), raw frames to
// ferryd, and the Client; plus the Client's ratios to the floors.

// BenchmarkPing measures one round trip through the Client: serially (latency), and from many
// goroutines at once (pipelined throughput; ns/op is then the inverse of requests per second).
func BenchmarkPing(b *testing.B) {
	_, c := startDaemon(b)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := c.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32) // 32 goroutines per CPU: many requests in flight per connection
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.Ping(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
	b.Run("parallel_with_deadline", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := c.Ping(ctx)
				cancel()
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	})
}

// BenchmarkChecksum is the socket path's cost per byte. With CRC32C, cheap enough that transport
// dominates, at 4 KiB (copied into the request buffer) and 1 MiB (written from the caller's
// slice); and BLAKE3 of 64 MiB, the large-payload case of the performance bar.
func BenchmarkChecksum(b *testing.B) {
	_, c := startDaemon(b)
	ctx := context.Background()
	for _, size := range []struct {
		name string
		n    int
		alg  ferry.Algorithm
	}{{"4KiB", 4 << 10, ferry.CRC32C}, {"1MiB", 1 << 20, ferry.CRC32C}, {"64MiB_blake3", 64 << 20, ferry.BLAKE3}} {
		data := paint(size.n)
		req := ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{size.alg}}
		b.Run(size.name+"/serial", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Checksum(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/parallel", func(b *testing.B) {
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Checksum(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRawSocketPingPong is the floor: a ping frame and its reply over a Unix socket to a
// trivial Go echo server, with no client machinery at all; the server runs in this process, or
// in a child process as ferryd does.
func BenchmarkRawSocketPingPong(b *testing.B) {
	for _, where := range []struct {
		name  string
		start func(testing.TB) net.Conn
	}{{"in_process", startEcho}, {"cross_process", startEchoProcess}} {
		b.Run(where.name, func(b *testing.B) {
			conn := where.start(b)
			ping := wire.AppendSimple(nil, wire.Header{ID: 7, Op: wire.OpPing}).Buf
			reply := make([]byte, len(pingReply))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := rawRoundTrip(conn, ping, reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPingP50 alternates three round trips and reports the median of each: the raw echo
// floor, raw ping frames written to ferryd on a plain connection, and Client.Ping. Alternating
// keeps the three under the same machine conditions.
func BenchmarkPingP50(b *testing.B) {
	echo := startEcho(b)
	echoProc := startEchoProcess(b)
	d, c := startDaemon(b)
	direct, err := net.Dial("unix", d.Path())
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	ping := wire.AppendSimple(nil, wire.Header{ID: 7, Op: wire.OpPing}).Buf
	reply := make([]byte, len(pingReply))
	ctx := context.Background()
	var raw, rawProc, daemon, client []time.Duration
	b.ResetTimer()
	for range b.N {
		tp := time.Now()
		if err := rawRoundTrip(echoProc, ping, reply); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := rawRoundTrip(echo, ping, reply); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := rawRoundTrip(direct, ping, reply); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := c.Ping(ctx); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		rawProc = append(rawProc, t0.Sub(tp))
		raw, daemon, client = append(raw, t1.Sub(t0)), append(daemon, t2.Sub(t1)), append(client, t3.Sub(t2))
	}
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Nanoseconds())
	}
	r, rp, dd, cl := p50(raw), p50(rawProc), p50(daemon), p50(client)
	b.ReportMetric(r, "raw-echo-p50-ns")
	b.ReportMetric(rp, "raw-echo-proc-p50-ns")
	b.ReportMetric(cl/rp, "client/raw-echo-proc")
	b.ReportMetric(dd, "raw-ferryd-p50-ns")
	b.ReportMetric(cl, "client-p50-ns")
	b.ReportMetric(cl/r, "client/raw-echo")
	b.ReportMetric(cl/dd, "client/raw-ferryd")
}

// rawRoundTrip times nothing itself: one ping frame out, one reply in, on a bare connection.
func rawRoundTrip(conn net.Conn, _, reply []byte) error { return echofloor.RoundTrip(conn, reply) }

var pingReply = echofloor.PingReply

// startEcho runs the echo server in this process and returns a connection to it.
func startEcho(b testing.TB) net.Conn {
	b.Helper()
	dir, err := os.MkdirTemp("", "fy")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "e.sock"))
	if err != nil {
		b.Fatal(err)
	}
	go echofloor.Serve(ln)
	conn, err := net.Dial("unix", filepath.Join(dir, "e.sock"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn.Close()
		ln.Close()
		os.RemoveAll(dir)
	})
	return conn
}

// TestMain lets this test binary be startEchoProcess's child too.
func TestMain(m *testing.M) {
	echofloor.ServeIfAsked()
	os.Exit(m.Run())
}

// startEchoProcess runs the echo server in a child process, as ferryd is one, and returns a
// connection to it.
func startEchoProcess(b testing.TB) net.Conn {
	b.Helper()
	echo, err := echofloor.StartProcess()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(echo.Stop)
	return echo.Conn
}

// BenchmarkSocketVsGo runs the same jobs through the Client (ferryd) and in process (the Go
// path), one path after the other in each sub-benchmark group, with key=value names so benchstat
// can pivot on path:
//
//	go test -run '^$' -bench SocketVsGo -count 6 ./ | tee new.txt && benchstat -col /path new.txt
func BenchmarkSocketVsGo(b *testing.B) {
	_, c := startDaemon(b)
	paths := []struct {
		name string
		p    ferry.Processor
	}{{"socket", c}, {"go", goproc.New()}}
	ctx := context.Background()
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20, 16 << 20} {
		data := paint(size)
		for _, alg := range []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3} {
			req := ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{alg}}
			for _, path := range paths {
				b.Run(fmt.Sprintf("op=checksum/alg=%s/size=%s/path=%s", alg, sizeName(size), path.name), func(b *testing.B) {
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					for range b.N {
						if _, err := path.p.Checksum(ctx, req); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
	photos, err := filepath.Glob("../tests/data/photos/*.[jp][pn]g")
	if err != nil || len(photos) == 0 {
		b.Fatalf("no sample photos: %v", err)
	}
	for _, name := range photos {
		img, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		req := ferry.ResizeRequest{Image: img, Width: 400, Height: 400, Filter: ferry.FilterLanczos3, Format: ferry.FormatJPEG, Quality: 80}
		for _, path := range paths {
			base := fmt.Sprintf("op=resize/photo=%s/path=%s", filepath.Base(name), path.name)
			b.Run(base+"/mode=serial", func(b *testing.B) {
				b.SetBytes(int64(len(img)))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if _, err := path.p.Resize(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(base+"/mode=parallel", func(b *testing.B) {
				b.SetBytes(int64(len(img)))
				b.ReportAllocs()
				b.SetParallelism(4) // 8 in flight on 2 cores: the daemon's queue stays fed
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := path.p.Resize(ctx, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// BenchmarkProbe measures probe (SPEC.md 5.8) of a 12-megapixel JPEG and of the sample photos:
// through the daemon (the image crosses the socket, the header is read without a worker), in
// process on the Go path, and a ping beside them for the round-trip floor.
func BenchmarkProbe(b *testing.B) {
	_, c := startDaemon(b)
	goPath := goproc.New()
	ctx := context.Background()
	inputs := []struct {
		name string
		data []byte
	}{{"jpeg_12mp", twelveMegapixelJPEG(b)}}
	for _, name := range []string{"rocket.jpg", "astronaut.png"} {
		data, err := os.ReadFile(filepath.Join(photosDir, name))
		if err != nil {
			b.Fatal(err)
		}
		inputs = append(inputs, struct {
			name string
			data []byte
		}{name, data})
	}
	b.Run("ping", func(b *testing.B) {
		for range b.N {
			if err := c.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, in := range inputs {
		req := ferry.ProbeRequest{Image: in.data, Width: 400, Height: 400}
		for _, p := range []struct {
			path   string
			prober ferry.Prober
		}{{"rust", c}, {"go", goPath}} {
			b.Run(in.name+"/"+p.path, func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				b.ReportAllocs()
				for range b.N {
					if _, err := p.prober.Probe(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// twelveMegapixelJPEG is a 4000x3000 photo-shaped JPEG, painted (q90).
func twelveMegapixelJPEG(b testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + i/4001)
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}
