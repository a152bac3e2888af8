package goproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/imgdiff"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// referenceEncode runs a reference encoder (avifenc, heif-enc: scripts/setup.sh installs them)
// on a painted PNG and returns what it wrote. Without the tool the test fails under CI and is
// skipped, by name, elsewhere.
func referenceEncode(t *testing.T, tool string, src image.Image, ext string, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not on PATH (scripts/setup.sh installs it)", tool)
		}
		t.Skipf("%s is not on PATH: install it (scripts/setup.sh) to run this test", tool)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out"+ext)
	if err := os.WriteFile(in, testimages.EncodePNG(t, src), 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, in, out)
	if tool == "heif-enc" {
		args = append(args[:len(args)-1], "-o", out)
	}
	if b, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// AVIFs made by the reference encoders (avifenc: libavif; heif-enc: libheif, as the daemon
// writes them) are read on the Go path: format, size and colours (PSNR against the painted
// source, through a lossless PNG output at the same size).
func TestGoReadsAVIF(t *testing.T) {
	src := testimages.Painted(96, 64)
	p := New()
	for name, avifFile := range map[string][]byte{
		"avifenc":  referenceEncode(t, "avifenc", src, ".avif", "-s", "8", "--min", "0", "--max", "10"),
		"heif-enc": referenceEncode(t, "heif-enc", src, ".avif", "-A", "-q", "90"),
	} {
		if err := p.Serves(&ferry.ResizeRequest{Image: avifFile}); err != nil {
			t.Fatalf("%s: Serves: %v", name, err)
		}
		res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: avifFile, Width: 96, Height: 64, Mode: ferry.ModeExact, Format: ferry.FormatPNG})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.SourceFormat != ferry.FormatAVIF || res.SourceWidth != 96 || res.SourceHeight != 64 {
			t.Fatalf("%s: source %s %dx%d, want avif 96x64", name, res.SourceFormat, res.SourceWidth, res.SourceHeight)
		}
		db := imgdiff.PSNR(src, decodeOutput(t, res.Image))
		if db < 30 {
			t.Errorf("%s: decoded AVIF is %.1f dB from its source, want >= 30", name, db)
		}
		t.Logf("%s's AVIF read %.1f dB from its source", name, db)
	}
}

// The Go path writes AVIF that avifdec, the reference decoder, reads back close to the Go path's
// own PNG of the same request; quality is honoured and alpha kept.
func TestGoWritesAVIF(t *testing.T) {
	p := New()
	photo := testimages.Photos(t)[0].Data
	req := ferry.ResizeRequest{Image: photo, Width: 320, Height: 320, Format: ferry.FormatAVIF}
	res, err := p.Resize(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Format = ferry.FormatPNG
	ref, err := p.Resize(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if avifdec, err := exec.LookPath("avifdec"); err == nil {
		dir := t.TempDir()
		in, out := filepath.Join(dir, "out.avif"), filepath.Join(dir, "back.png")
		if err := os.WriteFile(in, res.Image, 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(avifdec, in, out).CombinedOutput(); err != nil {
			t.Fatalf("avifdec: %v\n%s", err, b)
		}
		back, _ := os.ReadFile(out)
		if db := imgdiff.PSNR(decodeOutput(t, ref.Image), decodeOutput(t, back)); db < 30 {
			t.Errorf("avifdec reads the Go path's AVIF %.1f dB from its PNG, want >= 30", db)
		} else {
			t.Logf("avifdec reads the Go path's AVIF (%d B, %dx%d) %.1f dB from its PNG", len(res.Image), res.Width, res.Height, db)
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("avifdec is not on PATH (scripts/setup.sh installs it)")
	} else {
		t.Log("avifdec is not on PATH: the AVIF output is checked by the Go path's own decoder only")
	}

	// The Go path reads its own AVIF back (its frames checked against the limits first).
	back, err := p.Resize(bg(t), ferry.ResizeRequest{Image: res.Image, Width: res.Width, Format: ferry.FormatPNG})
	if err != nil || back.SourceFormat != ferry.FormatAVIF || back.SourceWidth != res.Width || back.SourceHeight != res.Height {
		t.Fatalf("reading its own AVIF back: %v, %+v", err, back)
	}

	sizes := map[int]int{}
	for _, q := range []int{30, 90} {
		r, err := p.Resize(bg(t), ferry.ResizeRequest{Image: photo, Width: 320, Format: ferry.FormatAVIF, Quality: q})
		if err != nil {
			t.Fatal(err)
		}
		sizes[q] = len(r.Image)
	}
	if sizes[30] >= sizes[90] {
		t.Errorf("AVIF at quality 30 is %d B, at 90 %d B: quality is not honoured", sizes[30], sizes[90])
	}

	var alpha []byte
	for _, in := range testimages.Generated(t) {
		if in.Name == "alpha.png" {
			alpha = in.Data
		}
	}
	for _, f := range []ferry.Format{ferry.FormatAVIF, ferry.FormatWebP} {
		r, err := p.Resize(bg(t), ferry.ResizeRequest{Image: alpha, Width: 40, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		if c := color.NRGBAModel.Convert(decodeOutput(t, r.Image).At(0, 0)).(color.NRGBA); c.A > 8 {
			t.Errorf("%s: the transparent corner has alpha %d: alpha not kept", f, c.A)
		}
	}
}

// WebP is lossy and takes quality, like the daemon's.
func TestGoWebPHonoursQuality(t *testing.T) {
	p := New()
	photo := testimages.Photos(t)[0].Data
	sizes := map[int]int{}
	for _, q := range []int{30, 90} {
		r, err := p.Resize(bg(t), ferry.ResizeRequest{Image: photo, Width: 320, Format: ferry.FormatWebP, Quality: q})
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Image[12:16]) != "VP8 " {
			t.Fatalf("quality %d: first chunk %q, want lossy VP8", q, r.Image[12:16])
		}
		sizes[q] = len(r.Image)
	}
	if sizes[30] >= sizes[90] {
		t.Errorf("WebP at quality 30 is %d B, at 90 %d B: quality is not honoured", sizes[30], sizes[90])
	}
}

// HEIC, and AVIF with a clean aperture (a crop), are not on the Go path: a typed error, from the
// header alone, that is neither invalid input nor retryable.
func TestGoNotOnGoPath(t *testing.T) {
	src := testimages.Painted(64, 48)
	cases := map[string][]byte{
		"heic":         referenceEncode(t, "heif-enc", src, ".heic", "-q", "60"),
		"heic, header": heifFile("heic", 64, 48, ""),
		"clap, header": heifFile("avif", 64, 48, "clap"),
	}
	p := New()
	for name, data := range cases {
		req := ferry.ResizeRequest{Image: data, Width: 32}
		start := time.Now()
		_, err := p.Resize(bg(t), req)
		if !errors.Is(err, ErrNotOnGoPath) || ferry.IsInvalidInput(err) || ferry.SafeToRetry(err) {
			t.Errorf("%s: Resize: %v, want ErrNotOnGoPath only", name, err)
		}
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Errorf("%s: refused after %v, should be from the header alone", name, el)
		}
		if err := p.Serves(&req); !errors.Is(err, ErrNotOnGoPath) {
			t.Errorf("%s: Serves: %v, want ErrNotOnGoPath", name, err)
		}
		f := testimages.OpenTemp(t, data)
		if err := p.Serves(&ferry.ResizeRequest{File: f}); !errors.Is(err, ErrNotOnGoPath) {
			t.Errorf("%s: Serves of a file: %v, want ErrNotOnGoPath", name, err)
		}
	}
	for _, ok := range [][]byte{testimages.EncodePNG(t, src), heifFile("avif", 64, 48, "irot"), []byte("not an image")} {
		if err := p.Serves(&ferry.ResizeRequest{Image: ok}); err != nil {
			t.Errorf("Serves(%.12q): %v, want nil", ok, err)
		}
	}
}

// An AVIF whose header declares more pixels than the limits is refused before any decoder runs,
// and a header that does not parse is bad_image.
func TestGoRefusesAVIFBombsFromTheHeader(t *testing.T) {
	p := New()
	for name, data := range map[string][]byte{
		"wide":  heifFile("avif", 1<<20, 16, ""),
		"large": heifFile("avif", 40000, 40000, ""),
	} {
		start := time.Now()
		_, err := p.Resize(bg(t), ferry.ResizeRequest{Image: data, Width: 100})
		if !errors.Is(err, ferry.ErrImageTooLarge) {
			t.Errorf("%s: %v, want image_too_large", name, err)
		}
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Errorf("%s: refused after %v, should be from the header alone", name, el)
		}
	}
	good := heifFile("avif", 64, 48, "")
	for name, data := range map[string][]byte{
		"no meta":        good[:24],
		"meta cut short": good[:len(good)-30],
		"no ispe":        heifFile("avif", 0, 0, ""),
	} {
		if _, err := p.Resize(bg(t), ferry.ResizeRequest{Image: data, Width: 100}); !errors.Is(err, ferry.ErrBadImage) {
			t.Errorf("%s: %v, want bad_image", name, err)
		}
	}
}

func TestSniffHEIFBrands(t *testing.T) {
	for _, c := range []struct {
		major  string
		compat []string
		want   ferry.Format
	}{
		{"avif", []string{"mif1", "miaf"}, ferry.FormatAVIF},
		{"mif1", []string{"avif"}, ferry.FormatAVIF},
		{"avis", nil, ferry.FormatAVIF},
		{"heic", []string{"mif1"}, ferry.FormatHEIC},
		{"mif1", []string{"heic"}, ferry.FormatHEIC},
		{"heix", nil, ferry.FormatHEIC},
		{"mif1", []string{"miaf"}, ""}, // a codec not named: neither
		{"isom", []string{"mp41"}, ""}, // a video
	} {
		if got := sniffHEIF(ftyp(c.major, c.compat...)); got != c.want {
			t.Errorf("ftyp %s %v: %q, want %q", c.major, c.compat, got, c.want)
		}
	}
}

// ftyp is an ftyp box with the given brands.
func ftyp(major string, compat ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compat)))
	b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
	for _, c := range compat {
		b = append(b, c...)
	}
	return b
}

// heifFile is the header of a HEIF file of brand whose primary item (1) declares w x h (no ispe
// when w is 0), with an irot or clap property when extra names one, followed by an empty mdat:
// enough for the header reader, nothing for a decoder.
func heifFile(brand string, w, h uint32, extra string) []byte {
	boxOf := func(typ string, parts ...[]byte) []byte {
		n := 8
		for _, p := range parts {
			n += len(p)
		}
		b := binary.BigEndian.AppendUint32(nil, uint32(n))
		b = append(b, typ...)
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	full := []byte{0, 0, 0, 0}
	var props, assoc []byte
	if w > 0 {
		props = append(props, boxOf("ispe", full, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h))...)
		assoc = append(assoc, 0x80|1)
	}
	switch extra {
	case "irot":
		props = append(props, boxOf("irot", []byte{1})...)
		assoc = append(assoc, 0x80|byte(len(assoc)+1))
	case "clap":
		props = append(props, boxOf("clap", make([]byte, 32))...)
		assoc = append(assoc, 0x80|byte(len(assoc)+1))
	}
	ipma := append([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 1, byte(len(assoc))}, assoc...)
	meta := boxOf("meta", full,
		boxOf("hdlr", full, []byte("\x00\x00\x00\x00pict\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")),
		boxOf("pitm", full, []byte{0, 1}),
		boxOf("iprp", boxOf("ipco", props), boxOf("ipma", ipma)))
	return append(append(ftyp(brand, "mif1"), meta...), boxOf("mdat")...)
}

// "A declared size that lies": an AVIF whose ispe says 64x48 over an AV1 frame of 2000x1600 is
// held to the limits by its frame, read from the AV1 sequence header before any decoder runs.
func TestGoRefusesAVIFWhoseFramesOutgrowItsHeader(t *testing.T) {
	data := referenceEncode(t, "avifenc", testimages.Painted(2000, 1600), ".avif", "-s", "10")
	i := bytes.Index(data, []byte("ispe"))
	binary.BigEndian.PutUint32(data[i+8:], 64)
	binary.BigEndian.PutUint32(data[i+12:], 48)
	p := New(WithLimits(Limits{MaxPixels: 1_000_000}))
	start := time.Now()
	_, err := p.Resize(bg(t), ferry.ResizeRequest{Image: data, Width: 32})
	if !errors.Is(err, ferry.ErrImageTooLarge) {
		t.Fatalf("a 64x48 header over a 2000x1600 frame, 1 MP limit: %v, want image_too_large", err)
	}
	if el := time.Since(start); el > 50*time.Millisecond {
		t.Errorf("refused after %v, should be from the headers alone", el)
	}
	frames, ferr := av1Frames(data)
	if ferr != nil || len(frames) != 1 || frames[0] != [2]int{2000, 1600} {
		t.Errorf("av1Frames: %v, %v; want one 2000x1600 frame", frames, ferr)
	}
	// With alpha (a second AV1 item) both frames are read, and an honest file passes.
	alpha := referenceEncode(t, "avifenc", testimages.Painted(300, 200), ".avif", "-s", "10")
	if frames, err := av1Frames(alpha); err != nil || len(frames) == 0 || frames[0] != [2]int{300, 200} {
		t.Errorf("av1Frames of an honest file: %v, %v", frames, err)
	}
	if _, err := p.Resize(bg(t), ferry.ResizeRequest{Image: alpha, Width: 32}); err != nil {
		t.Errorf("an honest 300x200 AVIF: %v", err)
	}
	t.Logf("refused: %v", err)
}

// A grid of many tiny tiles is refused by the count of its AV1 items, from the headers.
func TestGoRefusesAVIFGridOfTinyTiles(t *testing.T) {
	p := New()
	for _, c := range []struct {
		tiles int
		want  error
	}{{16, ferry.ErrBadImage}, {maxAV1Items + 1, ferry.ErrImageTooLarge}} {
		data := gridFile(c.tiles, 8, 8)
		frames, err := av1Frames(data)
		if err != nil || len(frames) != c.tiles || frames[0] != [2]int{8, 8} {
			t.Fatalf("%d tiles: av1Frames %d frames (first %v), %v", c.tiles, len(frames), frames[:min(1, len(frames))], err)
		}
		// 16 tiles pass the headers and reach the decoder, which finds no picture: bad_image.
		_, err = p.Resize(bg(t), ferry.ResizeRequest{Image: data, Width: 32})
		if !errors.Is(err, c.want) {
			t.Errorf("%d tiles of 8x8: %v, want %v", c.tiles, err, c.want)
		}
	}
}

// sequenceHeaderOBU is an AV1 sequence header OBU (reduced still picture header) for frames of
// up to w x h.
func sequenceHeaderOBU(w, h int) []byte {
	var bits []byte
	put := func(v uint64, n int) {
		for i := n - 1; i >= 0; i-- {
			bits = append(bits, byte(v>>i)&1)
		}
	}
	put(0, 3)  // seq_profile
	put(1, 1)  // still_picture
	put(1, 1)  // reduced_still_picture_header
	put(0, 5)  // seq_level_idx
	put(15, 4) // frame_width_bits_minus_1
	put(15, 4) // frame_height_bits_minus_1
	put(uint64(w-1), 16)
	put(uint64(h-1), 16)
	payload := make([]byte, (len(bits)+7)/8)
	for i, b := range bits {
		payload[i/8] |= b << (7 - i%8)
	}
	return append([]byte{0x0A, byte(len(payload))}, payload...)
}

// gridFile is the header of an AVIF whose primary item (1) is a grid declaring 64x48 over n AV1
// tiles of w x h, every tile's data the same sequence header: enough for the header readers.
func gridFile(n, w, h int) []byte {
	boxOf := func(typ string, parts ...[]byte) []byte {
		size := 8
		for _, p := range parts {
			size += len(p)
		}
		b := binary.BigEndian.AppendUint32(nil, uint32(size))
		b = append(b, typ...)
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	full := []byte{0, 0, 0, 0}
	infe := func(id int, typ string) []byte {
		return boxOf("infe", []byte{2, 0, 0, 0}, binary.BigEndian.AppendUint16(nil, uint16(id)), []byte{0, 0}, []byte(typ))
	}
	entries := infe(1, "grid")
	for i := range n {
		entries = append(entries, infe(i+2, "av01")...)
	}
	iinf := boxOf("iinf", full, binary.BigEndian.AppendUint16(nil, uint16(n+1)), entries)
	seq := sequenceHeaderOBU(w, h)
	// iloc v0: 4-byte offsets and lengths, no base offset; the offset is patched below.
	ilocEntries := binary.BigEndian.AppendUint16(nil, uint16(n))
	for i := range n {
		ilocEntries = binary.BigEndian.AppendUint16(ilocEntries, uint16(i+2))
		ilocEntries = append(ilocEntries, 0, 0, 0, 1) // data_reference_index 0, one extent
		ilocEntries = append(ilocEntries, 0, 0, 0, 0)
		ilocEntries = binary.BigEndian.AppendUint32(ilocEntries, uint32(len(seq)))
	}
	iloc := boxOf("iloc", full, []byte{0x44, 0x00}, ilocEntries)
	props := boxOf("ipco", boxOf("ispe", full, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 64), 48)))
	ipma := boxOf("ipma", full, []byte{0, 0, 0, 1, 0, 1, 1, 0x81})
	meta := boxOf("meta", full,
		boxOf("hdlr", full, []byte("\x00\x00\x00\x00pict\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")),
		boxOf("pitm", full, []byte{0, 1}), iinf, iloc, boxOf("iprp", props, ipma))
	head := append(ftyp("avif", "mif1"), meta...)
	dataAt := uint32(len(head) + 8) // after the mdat box header
	out := append(head, boxOf("mdat", seq)...)
	// Patch every extent offset to point at the sequence header in mdat.
	at := bytes.Index(out, []byte("iloc")) + 4 + 4 + 2 + 2
	for range n {
		binary.BigEndian.PutUint32(out[at+2+2+2:], dataAt)
		at += 2 + 2 + 2 + 4 + 4
	}
	return out
}

// irot and imir are applied as libheif applies them (heif-convert's PNG is the reference): every
// rotation, each mirror, and a rotation then a mirror, whatever NoAutoOrient says.
func TestGoAppliesAVIFRotationAndMirror(t *testing.T) {
	src := testimages.Painted(48, 30) // asymmetric: a bright block near the top-left corner
	p := New()
	for _, args := range [][]string{
		{}, {"--irot", "1"}, {"--irot", "2"}, {"--irot", "3"}, {"--imir", "0"}, {"--imir", "1"},
		{"--irot", "1", "--imir", "0"}, {"--irot", "3", "--imir", "1"},
	} {
		name := strings.Join(args, " ")
		avifFile := referenceEncode(t, "avifenc", src, ".avif", append([]string{"-s", "8", "--min", "0", "--max", "8"}, args...)...)
		want := referenceDecode(t, "heif-convert", avifFile)
		wb := want.Bounds()
		for _, noAuto := range []bool{false, true} {
			res, err := p.Resize(bg(t), ferry.ResizeRequest{Image: avifFile, Width: wb.Dx(), Height: wb.Dy(),
				Mode: ferry.ModeExact, Format: ferry.FormatPNG, NoAutoOrient: noAuto})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if res.SourceWidth != wb.Dx() || res.SourceHeight != wb.Dy() {
				t.Errorf("%s: source %dx%d, heif-convert %v", name, res.SourceWidth, res.SourceHeight, wb.Size())
			}
			db := imgdiff.PSNR(want, decodeOutput(t, res.Image))
			t.Logf("%s: %v %.1f dB", name, wb.Size(), db)
			if db < 30 {
				t.Errorf("%s (NoAutoOrient %v): %.1f dB from heif-convert's picture, want >= 30", name, noAuto, db)
			}
		}
	}
}

// referenceDecode runs a reference decoder (heif-convert applies irot and imir) to PNG.
func referenceDecode(t *testing.T, tool string, data []byte) image.Image {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not on PATH (scripts/setup.sh installs it)", tool)
		}
		t.Skipf("%s is not on PATH: install it (scripts/setup.sh) to run this test", tool)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.avif"), filepath.Join(dir, "out.png")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(path, in, out).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return decodeOutput(t, b)
}
