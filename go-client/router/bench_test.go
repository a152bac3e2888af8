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
