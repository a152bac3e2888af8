package router

import (
	"context"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// The router's own cost per request, on the Go path (no daemon), against the Go path called
// directly: what RouteAuto adds to a small checksum it keeps in process, and what a Router
// pinned to Go adds (the difference is auto's decision).
func BenchmarkChecksum4KiBCRC32C(b *testing.B) {
	req := ferry.ChecksumRequest{Data: testimages.PaintedBytes(4 << 10), Algorithms: []ferry.Algorithm{ferry.CRC32C}}
	g := goproc.New()
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(int64(len(req.Data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := g.Checksum(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	// auto against a Router pinned to Go: the cost of auto's decision alone.
	for _, mode := range []RouteMode{RouteAuto, RouteGo} {
		r, err := New(newFakeRust(), g, WithPolicy(Policy{Mode: mode}))
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.Run(string(mode), func(b *testing.B) {
			b.SetBytes(int64(len(req.Data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := r.Checksum(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The router's own cost on the daemon path, against a daemon Processor that answers at once:
// the breaker, the throttle, the attempt's context (which ends when the breaker opens) and the
// observer. A real daemon call costs tens of microseconds and more.
func BenchmarkRustPathOverhead(b *testing.B) {
	req := ferry.ChecksumRequest{Data: []byte("x"), Algorithms: []ferry.Algorithm{ferry.CRC32C}}
	rust := instantRust{}
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := rust.Checksum(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	r, err := New(rust, goproc.New())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.Run("router", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := r.Checksum(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// instantRust answers every checksum at once with an empty result.
type instantRust struct{}

func (instantRust) Resize(context.Context, ferry.ResizeRequest) (*ferry.ResizeResult, error) {
	return &ferry.ResizeResult{}, nil
}

func (instantRust) Checksum(context.Context, ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	return &ferry.ChecksumResult{}, nil
}
