package router

import (
	"bytes"
	"errors"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// An upload given as a reader is read once by the Router, before routing: each path, and a
// shadow call, sees the same bytes; a wrong one is refused as every Processor refuses it.
func TestRouterTakesUploadsAsReaders(t *testing.T) {
	rust := newFakeRust()
	r, g := newTestRouter(t, rust)
	img := testimages.EncodePNG(t, testimages.Painted(80, 60))
	res, err := r.Resize(bg(t), ferry.ResizeRequest{ImageReader: bytes.NewReader(img), ImageSize: int64(len(img)), Width: 40, Height: 30})
	if err != nil || res.Width != 40 || res.Served.Path != ferry.PathRust {
		t.Fatalf("resize from a reader: %+v, %v", res, err)
	}
	data := []byte("ferry")
	sum, err := r.Checksum(bg(t), ferry.ChecksumRequest{DataReader: bytes.NewReader(data), DataSize: 5, Algorithms: []ferry.Algorithm{ferry.SHA256}})
	want := mustChecksum(t, r, ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{ferry.SHA256}})
	if err != nil || !bytes.Equal(sum.Digests[ferry.SHA256], want.Digests[ferry.SHA256]) {
		t.Fatalf("checksum from a reader: %v, %v", sum, err)
	}
	if err := r.SetPolicy(Policy{Mode: RouteGo}); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Resize(bg(t), ferry.ResizeRequest{ImageReader: bytes.NewReader(img), ImageSize: int64(len(img)), Width: 40, Height: 30}); err != nil || res.Served.Path != ferry.PathGo || g.calls.Load() != 1 {
		t.Fatalf("kill switch, resize from a reader: %+v, %v, %d Go calls", res, err, g.calls.Load())
	}
	_, err = r.Resize(bg(t), ferry.ResizeRequest{ImageReader: bytes.NewReader(img[:10]), ImageSize: int64(len(img)), Width: 40})
	var re *Error
	if !errors.Is(err, ferry.ErrInvalidArgument) || !errors.As(err, &re) {
		t.Fatalf("a short reader: %v", err)
	}
}
