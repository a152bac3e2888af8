package goproc

import (
	"testing"

	ferry "github.com/ferryd/ferry/go-client"

	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// FuzzAVIFHeader feeds arbitrary bytes to the HEIF and AV1 header readers, which run before any
// decoder and outside the job's panic guard: they must refuse, never panic. Seeds: the headers
// the tests build and an AVIF the Go path wrote.
//
//	go test -run '^$' -fuzz FuzzAVIFHeader -fuzztime 30s ./goproc
func FuzzAVIFHeader(f *testing.F) {
	f.Add(heifFile("avif", 64, 48, ""))
	f.Add(heifFile("avif", 64, 48, "irot"))
	f.Add(heifFile("heic", 1<<20, 16, ""))
	f.Add(heifFile("avif", 64, 48, "clap"))
	f.Add(gridFile(4, 8, 8))
	res, err := New().Resize(bg(f), ferryAVIFRequest(testimages.EncodePNG(f, testimages.Painted(40, 30))))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(res.Image)
	p := New(WithLimits(Limits{MaxPixels: 1_000_000, MaxDimension: 4096}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if f := sniffHEIF(b); f != "" {
			_, _ = readHEIFHeader(b, f)
		}
		_ = p.checkAV1Frames(b)
	})
}

func ferryAVIFRequest(img []byte) ferry.ResizeRequest {
	return ferry.ResizeRequest{Image: img, Width: 40, Format: ferry.FormatAVIF}
}
