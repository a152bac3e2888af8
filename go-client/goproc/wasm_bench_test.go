package goproc

import (
	"bytes"
	"image"
	"testing"
	"time"

	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// The WebAssembly codecs' first call compiles their module; the later ones reuse it. Run alone
// (go test ./goproc -run TestWASMFirstCallCost -v) to see the cold cost: in a process where
// another test ran first the modules are already compiled.
func TestWASMFirstCallCost(t *testing.T) {
	thumb := image.NewRGBA(image.Rect(0, 0, 400, 267))
	copy(thumb.Pix, testimages.Painted(400, 267).Pix)
	for _, c := range []struct {
		name string
		run  func() (int, error)
	}{
		{"webp encode", func() (int, error) {
			var b bytes.Buffer
			err := encodeWebP(&b, thumb, 80)
			return b.Len(), err
		}},
		{"avif encode", func() (int, error) {
			var b bytes.Buffer
			err := encodeAVIF(&b, thumb, 80)
			return b.Len(), err
		}},
	} {
		var took [3]time.Duration
		for i := range took {
			start := time.Now()
			n, err := c.run()
			took[i] = time.Since(start)
			if err != nil || n == 0 {
				t.Fatalf("%s: %d bytes, %v", c.name, n, err)
			}
		}
		t.Logf("%s 400x267: first call %v, then %v and %v", c.name, took[0].Round(time.Millisecond),
			took[1].Round(time.Millisecond), took[2].Round(time.Millisecond))
	}
	var b bytes.Buffer
	if err := encodeAVIF(&b, thumb, 80); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		start := time.Now()
		if _, err := decodeAVIF(b.Bytes()); err != nil {
			t.Fatal(err)
		}
		t.Logf("avif decode 400x267, call %d: %v", i+1, time.Since(start).Round(time.Millisecond))
	}
}

// Warm encodes: time and memory (B/op: the module instance's linear memory and the copies in and
// out) per 400x267 thumbnail.
func BenchmarkWASMEncode(b *testing.B) {
	thumb := image.NewRGBA(image.Rect(0, 0, 400, 267))
	copy(thumb.Pix, testimages.Painted(400, 267).Pix)
	Warm()
	for _, c := range []struct {
		name string
		enc  func(*bytes.Buffer, *image.RGBA, int) error
	}{{"webp", encodeWebP}, {"avif", encodeAVIF}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(thumb.Pix)))
			var buf bytes.Buffer
			for range b.N {
				buf.Reset()
				if err := c.enc(&buf, thumb, 80); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
