package goproc

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testimages"

	"golang.org/x/image/webp"
)

func bg(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type checksumVector struct {
	Algorithm ferry.Algorithm `json:"algorithm"`
	Length    int             `json:"length"`
	Digest    string          `json:"digest"`
}

// loadChecksumVectors reads protocol/vectors/checksums.json (digests made by independent
// implementations), the same file the daemon's tests read.
func loadChecksumVectors(t testing.TB) []checksumVector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "protocol", "vectors", "checksums.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Checksums []checksumVector `json:"checksums"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Checksums) == 0 {
		t.Fatal("no checksum vectors")
	}
	return file.Checksums
}

func TestGoChecksumMatchesVectors(t *testing.T) {
	p := New()
	algs := map[ferry.Algorithm]bool{}
	for _, v := range loadChecksumVectors(t) {
		algs[v.Algorithm] = true
		res, err := p.Checksum(bg(t), ferry.ChecksumRequest{Data: testimages.PaintedBytes(v.Length), Algorithms: []ferry.Algorithm{v.Algorithm}})
		if err != nil {
			t.Fatalf("%s/%d: %v", v.Algorithm, v.Length, err)
		}
		if got := hex.EncodeToString(res.Digests[v.Algorithm]); got != v.Digest {
			t.Errorf("%s over %d bytes: %s, want %s", v.Algorithm, v.Length, got, v.Digest)
		}
		if res.Served != (ferry.Served{Path: ferry.PathGo, Reason: ferry.ReasonDirect}) {
			t.Errorf("served %+v", res.Served)
		}
	}
	if len(algs) != 4 {
		t.Errorf("vectors cover %d algorithms, want 4", len(algs))
	}
}

func TestGoChecksumAllAtOnceEqualsOneByOne(t *testing.T) {
	p := New()
	all := []ferry.Algorithm{ferry.BLAKE3, ferry.CRC32C, ferry.SHA256, ferry.XXH3_64}
	data := testimages.PaintedBytes(3*checksumChunk + 12345) // several chunks, a ragged end
	res, err := p.Checksum(bg(t), ferry.ChecksumRequest{Data: data, Algorithms: all})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		one, err := p.Checksum(bg(t), ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{a}})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one.Digests[a], res.Digests[a]) {
			t.Errorf("%s differs when computed with the others", a)
		}
	}
	if len(res.Digests[ferry.CRC32C]) != 4 || len(res.Digests[ferry.XXH3_64]) != 8 || len(res.Digests[ferry.SHA256]) != 32 || len(res.Digests[ferry.BLAKE3]) != 32 {
		t.Errorf("digest lengths wrong: %v", res.Digests)
	}
}

func TestGoChecksumRefusals(t *testing.T) {
	p := New(WithLimits(Limits{MaxInputBytes: 100}))
	for name, algs := range map[string][]ferry.Algorithm{
		"empty":    nil,
		"unknown":  {"md5"},
		"xxh64":    {"xxh64"},
		"repeated": {ferry.SHA256, ferry.CRC32C, ferry.SHA256},
	} {
		_, err := p.Checksum(bg(t), ferry.ChecksumRequest{Data: []byte("x"), Algorithms: algs})
		if !errors.Is(err, ferry.ErrInvalidArgument) || !ferry.IsInvalidInput(err) {
			t.Errorf("%s: %v, want invalid_argument", name, err)
		}
	}
	_, err := p.Checksum(bg(t), ferry.ChecksumRequest{Data: make([]byte, 101), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
	if !errors.Is(err, ferry.ErrRequestTooLarge) {
		t.Errorf("over MaxInputBytes: %v", err)
	}
}

func TestGoContextEnded(t *testing.T) {
	p := New()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := p.Checksum(expired, ferry.ChecksumRequest{Data: []byte("x"), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
	var se *ferry.ServerError
	if !errors.Is(err, ferry.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) {
		t.Errorf("expired checksum: %v", err)
	}
	_, err = p.Resize(expired, ferry.ResizeRequest{Image: testimages.EncodePNG(t, testimages.Painted(10, 10)), Width: 5})
	if !errors.Is(err, ferry.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired resize: %v", err)
	}
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = p.Resize(cancelled, ferry.ResizeRequest{Image: testimages.EncodePNG(t, testimages.Painted(10, 10)), Width: 5})
	if !errors.As(err, &se) || se.Code != ferry.CodeCancelled || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled resize: %v", err)
	}
	// A deadline that passes while a big checksum runs is noticed between chunks and returned
	// promptly.
	big := make([]byte, 128<<20) // allocated (and faulted in) before the clock starts
	for i := 0; i < len(big); i += 4096 {
		big[i] = 1
	}
	short, cancel3 := context.WithTimeout(context.Background(), 2*time.Millisecond)
	defer cancel3()
	start := time.Now()
	_, err = p.Checksum(short, ferry.ChecksumRequest{Data: big, Algorithms: []ferry.Algorithm{ferry.SHA256, ferry.BLAKE3}})
	if !errors.Is(err, ferry.ErrDeadlineExceeded) {
		t.Errorf("128 MiB in 2 ms: %v", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("deadline noticed after %v", el)
	}
}

func TestGoGeometry(t *testing.T) {
	p := New()
	fit := func(w, h, bw, bh int) (int, int) {
		pl, err := p.planResize(w, h, &resizeParams{width: bw, height: bh, mode: ferry.ModeFit})
		if err != nil {
			t.Fatal(err)
		}
		return pl.width, pl.height
	}
	for _, c := range []struct{ w, h, bw, bh, ow, oh int }{
		{640, 427, 400, 400, 400, 267}, // 266.875
		{427, 640, 400, 400, 267, 400},
		{640, 427, 400, 0, 400, 267},
		{640, 427, 0, 100, 150, 100}, // 149.88
		{3, 1, 2, 0, 2, 1},
		{4, 1, 2, 0, 2, 1}, // 0.5 rounds up
		{5, 1, 2, 0, 2, 1}, // 0.4 -> at least 1
		{100, 100, 400, 300, 300, 300},
		{600, 400, 300, 200, 300, 200},
	} {
		if ow, oh := fit(c.w, c.h, c.bw, c.bh); ow != c.ow || oh != c.oh {
			t.Errorf("fit %dx%d in %dx%d: %dx%d, want %dx%d", c.w, c.h, c.bw, c.bh, ow, oh, c.ow, c.oh)
		}
	}
	fill := func(w, h, bw, bh int, a ferry.Anchor) region {
		pl, err := p.planResize(w, h, &resizeParams{width: bw, height: bh, mode: ferry.ModeFill, anchor: a})
		if err != nil {
			t.Fatal(err)
		}
		if pl.width != bw || pl.height != bh {
			t.Errorf("fill output %dx%d", pl.width, pl.height)
		}
		return pl.region
	}
	if r := fill(600, 400, 200, 200, ferry.AnchorCenter); r != (region{100, 0, 400, 400}) {
		t.Errorf("fill center: %+v", r)
	}
	if r := fill(600, 400, 200, 200, ferry.AnchorRight); r.x != 200 {
		t.Errorf("fill right: %+v", r)
	}
	if r := fill(600, 400, 300, 100, ferry.AnchorBottom); r != (region{0, 200, 600, 200}) {
		t.Errorf("fill bottom: %+v", r)
	}
	if r := fill(640, 427, 100, 100, ferry.AnchorCenter); r != (region{106.5, 0, 427, 427}) {
		t.Errorf("fill fractional: %+v", r)
	}
	if r := (region{106.5, 0, 427, 427}).pixelRect(640, 427); r != image.Rect(107, 0, 534, 427) {
		t.Errorf("pixelRect: %v", r)
	}
	// fit that would enlarge past max_pixels is invalid_argument, as in the daemon
	small := New(WithLimits(Limits{MaxPixels: 1_000_000}))
	if _, err := small.planResize(1, 1, &resizeParams{width: 30000, height: 30000, mode: ferry.ModeFit}); !errors.Is(err, ferry.ErrInvalidArgument) {
		t.Errorf("enlarging fit: %v", err)
	}
}

// decodeOutput decodes a result of any output format.
func decodeOutput(t testing.TB, b []byte) image.Image {
	t.Helper()
	f, err := sniffFormat(b)
	if err != nil {
		t.Fatal(err)
	}
	var img image.Image
	switch f {
	case ferry.FormatJPEG:
		img, err = jpeg.Decode(bytes.NewReader(b))
	case ferry.FormatPNG:
		img, err = png.Decode(bytes.NewReader(b))
	case ferry.FormatWebP:
		if img, err = webp.Decode(bytes.NewReader(b)); err == nil {
			img, err = vp8ToRGB(img) // limited range, as libwebp reads it
		}
	case ferry.FormatAVIF:
		img, err = decodeAVIF(b)
	default:
		t.Fatalf("unexpected output format %s", f)
	}
	if err != nil {
		t.Fatalf("decoding %s output: %v", f, err)
	}
	return img
}

func TestGoOrientationAllEight(t *testing.T) {
	p := New()
	upright := testimages.Painted(48, 30)
	for o := 1; o <= 8; o++ {
		stored := testimages.EncodePNG(t, testimages.StoredFor(o, upright))
		in := withPNGExtras(stored, imageMeta{exif: testimages.TIFFOrientation(uint16(o), o%2 == 1)})
		// same size, nearest: the output must be the upright picture exactly
		res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: in, Width: 48, Height: 30, Mode: ferry.ModeExact,
			Filter: ferry.FilterNearest, Format: ferry.FormatPNG})
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		if res.SourceWidth != 48 || res.SourceHeight != 30 {
			t.Errorf("orientation %d: source %dx%d", o, res.SourceWidth, res.SourceHeight)
		}
		got := decodeOutput(t, res.Image)
		for y := 0; y < 30; y++ {
			for x := 0; x < 48; x++ {
				r1, g1, b1, _ := got.At(x, y).RGBA()
				r2, g2, b2, _ := upright.At(x, y).RGBA()
				if r1 != r2 || g1 != g2 || b1 != b2 {
					t.Fatalf("orientation %d: pixel %d,%d differs", o, x, y)
				}
			}
		}
		// NoAutoOrient keeps the stored layout
		res, err = p.Resize(bg(t), ferry.ResizeRequest{Image: in, Width: 100, Height: 100, NoAutoOrient: true, Format: ferry.FormatPNG})
		if err != nil {
			t.Fatal(err)
		}
		sw, sh := uprightSize(o, 48, 30)
		if res.SourceWidth != sw || res.SourceHeight != sh {
			t.Errorf("orientation %d without auto-orient: source %dx%d, want %dx%d", o, res.SourceWidth, res.SourceHeight, sw, sh)
		}
	}
}

func TestGoRefusesBombsFromTheHeader(t *testing.T) {
	p := New()
	for _, b := range testimages.Bombs() {
		start := time.Now()
		_, err := p.Resize(bg(t), ferry.ResizeRequest{Image: b.Data, Width: 100})
		if !errors.Is(err, ferry.ErrImageTooLarge) || !ferry.IsInvalidInput(err) {
			t.Errorf("%s: %v, want image_too_large", b.Name, err)
		}
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Errorf("%s: refused after %v, should be from the header alone", b.Name, el)
		}
	}
	// Limits are configurable: a 160x100 picture is a bomb under a 10,000-pixel limit.
	small := New(WithLimits(Limits{MaxPixels: 10_000}))
	if _, err := small.Resize(bg(t), ferry.ResizeRequest{Image: testimages.EncodePNG(t, testimages.Painted(160, 100)), Width: 10}); !errors.Is(err, ferry.ErrImageTooLarge) {
		t.Errorf("custom max_pixels: %v", err)
	}
	narrow := New(WithLimits(Limits{MaxDimension: 150, MaxInputBytes: 1000}))
	if _, err := narrow.Resize(bg(t), ferry.ResizeRequest{Image: testimages.EncodePNG(t, testimages.Painted(160, 10)), Width: 10}); !errors.Is(err, ferry.ErrImageTooLarge) {
		t.Errorf("custom max_dimension: %v", err)
	}
	if _, err := narrow.Resize(bg(t), ferry.ResizeRequest{Image: make([]byte, 1001), Width: 10}); !errors.Is(err, ferry.ErrRequestTooLarge) || !ferry.IsInvalidInput(err) {
		t.Errorf("custom max input bytes: %v", err)
	}
}

func TestGoRefusesCorruptInput(t *testing.T) {
	p := New()
	for _, c := range testimages.Corrupt(t) {
		_, err := p.Resize(bg(t), ferry.ResizeRequest{Image: c.Data, Width: 32})
		if !errors.Is(err, ferry.ErrBadImage) {
			t.Errorf("%s: %v, want bad_image", c.Name, err)
		}
	}
}

func TestGoRefusesBadArguments(t *testing.T) {
	p := New()
	img := testimages.EncodePNG(t, testimages.Painted(20, 20))
	for name, req := range map[string]ferry.ResizeRequest{
		"no box":          {},
		"fill one side":   {Width: 10, Mode: ferry.ModeFill},
		"exact one side":  {Height: 10, Mode: ferry.ModeExact},
		"negative":        {Width: -1},
		"over max side":   {Width: ferry.DefaultMaxDimension + 1},
		"exact too big":   {Width: 32768, Height: 32768, Mode: ferry.ModeExact},
		"quality 101":     {Width: 10, Quality: 101},
		"quality -1":      {Width: 10, Quality: -1},
		"mode":            {Width: 10, Mode: "stretch"},
		"anchor":          {Width: 10, Height: 10, Mode: ferry.ModeFill, Anchor: "middle"},
		"filter":          {Width: 10, Filter: "lanczos2"},
		"format":          {Width: 10, Format: ferry.FormatGIF},
		"webp too wide":   {Width: 20000, Height: 20, Mode: ferry.ModeExact, Format: ferry.FormatWebP},
		"fit over pixels": {Width: 32768, Height: 32768},
	} {
		req.Image = img
		if _, err := p.Resize(bg(t), req); !errors.Is(err, ferry.ErrInvalidArgument) {
			t.Errorf("%s: %v, want invalid_argument", name, err)
		}
	}
	// Arguments are checked before the image: a bad box on a corrupt image is invalid_argument.
	if _, err := p.Resize(bg(t), ferry.ResizeRequest{Image: []byte("junk")}); !errors.Is(err, ferry.ErrInvalidArgument) {
		t.Errorf("bad box and bad image: %v", err)
	}
}

func TestGoOutputsEveryFormatAndMode(t *testing.T) {
	p := New()
	for _, in := range testimages.Generated(t) {
		for _, f := range []ferry.Format{ferry.FormatJPEG, ferry.FormatPNG, ferry.FormatWebP, ferry.FormatAVIF} {
			for _, c := range []struct {
				mode   ferry.Mode
				w, h   int
				ow, oh int
			}{{ferry.ModeFit, 64, 64, 64, 40}, {ferry.ModeFill, 50, 50, 50, 50}, {ferry.ModeExact, 30, 70, 30, 70}} {
				res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: in.Data, Width: c.w, Height: c.h, Mode: c.mode, Format: f})
				if err != nil {
					t.Fatalf("%s %s %s: %v", in.Name, c.mode, f, err)
				}
				if res.Width != c.ow || res.Height != c.oh || res.Format != f {
					t.Errorf("%s %s %s: %dx%d %s", in.Name, c.mode, f, res.Width, res.Height, res.Format)
				}
				img := decodeOutput(t, res.Image)
				if b := img.Bounds(); b.Dx() != c.ow || b.Dy() != c.oh {
					t.Errorf("%s %s %s: decodes to %v", in.Name, c.mode, f, b)
				}
			}
		}
	}
}

func TestGoGrayStaysGray(t *testing.T) {
	p := New()
	g := image.NewGray(image.Rect(0, 0, 40, 40))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	for _, f := range []ferry.Format{ferry.FormatJPEG, ferry.FormatPNG} {
		res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: testimages.EncodePNG(t, g), Width: 20, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := decodeOutput(t, res.Image).(*image.Gray); !ok {
			t.Errorf("%s output of a gray input is %T", f, decodeOutput(t, res.Image))
		}
	}
}

func TestGoAlphaHasNoHalo(t *testing.T) {
	p := New()
	var alpha []byte
	for _, in := range testimages.Generated(t) {
		if in.Name == "alpha.png" {
			alpha = in.Data
		}
	}
	for _, f := range []ferry.Filter{ferry.FilterBilinear, ferry.FilterCatmullRom, ferry.FilterLanczos3} {
		res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: alpha, Width: 40, Format: ferry.FormatPNG, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		out := decodeOutput(t, res.Image)
		translucent := 0
		for y := 0; y < 25; y++ {
			for x := 0; x < 40; x++ {
				c := color.NRGBAModel.Convert(out.At(x, y)).(color.NRGBA)
				if c.A == 0 {
					continue
				}
				translucent++
				// The visible colour is blue (20,60,200); the hidden one is red. Premultiplied
				// resizing keeps red out of every visible edge pixel.
				if c.R > 60 {
					t.Fatalf("%s: pixel %d,%d is %v: red bled from transparent pixels", f, x, y, c)
				}
			}
		}
		if translucent == 0 {
			t.Fatalf("%s: no visible pixels", f)
		}
	}
	// JPEG has no alpha: the transparent area is composited over white.
	res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: alpha, Width: 40})
	if err != nil {
		t.Fatal(err)
	}
	r, g, b, _ := decodeOutput(t, res.Image).At(0, 0).RGBA()
	if r>>8 < 240 || g>>8 < 240 || b>>8 < 240 {
		t.Errorf("transparent corner over white is %d,%d,%d", r>>8, g>>8, b>>8)
	}
}

func TestGoKeepsMetadataOnlyWhenAsked(t *testing.T) {
	p := New()
	icc := bytes.Repeat([]byte("profile!"), 10000) // 80 KB: two JPEG segments
	xmp := []byte("<x:xmpmeta>hello</x:xmpmeta>")
	in := withJPEGExtras(testimages.EncodeJPEG(t, testimages.Painted(50, 30), 90), imageMeta{exif: testimages.TIFFOrientation(6, true), icc: icc, xmp: xmp})
	got := jpegMeta(in)
	if !bytes.Equal(got.icc, icc) || !bytes.Equal(got.xmp, xmp) || got.orientation() != 6 {
		t.Fatalf("fixture metadata did not round-trip: %d bytes icc, orientation %d", len(got.icc), got.orientation())
	}
	for _, f := range []ferry.Format{ferry.FormatJPEG, ferry.FormatPNG} {
		res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: in, Width: 20, Format: f, KeepICC: true, KeepMetadata: true})
		if err != nil {
			t.Fatal(err)
		}
		out := readMeta(res.Image, f)
		if !bytes.Equal(out.icc, icc) || !bytes.Equal(out.xmp, xmp) || out.exif == nil {
			t.Errorf("%s: metadata not kept (icc %d bytes, xmp %q, exif %d bytes)", f, len(out.icc), out.xmp, len(out.exif))
		}
		if out.orientation() != 1 {
			t.Errorf("%s: kept orientation %d, want 1 (pixels already upright)", f, out.orientation())
		}
		decodeOutput(t, res.Image) // still a valid file
		res, err = p.Resize(bg(t), ferry.ResizeRequest{Image: in, Width: 20, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		if out := readMeta(res.Image, f); out.icc != nil || out.xmp != nil || out.exif != nil {
			t.Errorf("%s: metadata written though not asked for", f)
		}
	}
}
