// Package testimages makes the encoded inputs that the Go tests and fuzz seeds share: the sample
// photos of tests/data/photos, and pictures painted in code (gradients, grayscale, palette, 16-bit,
// alpha, every EXIF orientation), oversize headers (bombs) and corrupt files. Nothing is stored
// but the photos, so a test needs no fixture files of its own.
package testimages

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/HugoSmits86/nativewebp"
)

// Fixture is one encoded input with a name for test output.
type Fixture struct {
	Name string
	Data []byte
}

// PhotosDir returns the directory of the sample photos, tests/data/photos at the repository root,
// found from this package's own source location so that any package's tests can call it.
func PhotosDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "tests", "data", "photos")
}

// Photos reads every photo of tests/data/photos; the set must not be empty.
func Photos(t testing.TB) []Fixture {
	t.Helper()
	dir := PhotosDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	var out []Fixture
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".jpg", ".jpeg", ".png", ".webp", ".gif":
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, Fixture{e.Name(), b})
		}
	}
	if len(out) == 0 {
		t.Fatalf("no photos in %s", dir)
	}
	return out
}

// PaintedBytes is n bytes of the pattern i % 251: no run or period that a checksum could
// mistake for another input.
func PaintedBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// Painted is a smooth, asymmetric picture (gradients plus a bright block near the top-left
// corner) so that a wrong orientation or crop shows.
func Painted(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(255 * x / w), uint8(255 * y / h), uint8(128 + 100*(x-y)/(w+h)), 255}
			if x < w/4 && y < h/5 {
				c = color.RGBA{250, 240, 20, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func EncodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func EncodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TIFFOrientation is a minimal TIFF block whose IFD0 holds only an orientation entry.
func TIFFOrientation(v uint16, little bool) []byte {
	var bo binary.AppendByteOrder = binary.BigEndian
	head := []byte("MM\x00*")
	if little {
		bo, head = binary.LittleEndian, []byte("II*\x00")
	}
	b := append([]byte(nil), head...)
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, 1)      // one entry
	b = bo.AppendUint16(b, 0x0112) // Orientation
	b = bo.AppendUint16(b, 3)      // SHORT
	b = bo.AppendUint32(b, 1)      // count
	b = bo.AppendUint16(b, v)
	b = bo.AppendUint16(b, 0) // value padding
	b = bo.AppendUint32(b, 0) // no next IFD
	return b
}

// StoredFor returns the stored picture that EXIF orientation o turns into upright. It follows
// the EXIF table itself (upright pixel (u, v) comes from stored pixel (x, y), W x H the stored
// size), written out here independently of the code under test.
func StoredFor(o int, upright *image.RGBA) *image.RGBA {
	uw, uh := upright.Rect.Dx(), upright.Rect.Dy()
	sw, sh := uw, uh
	if o >= 5 {
		sw, sh = uh, uw
	}
	stored := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for v := 0; v < uh; v++ {
		for u := 0; u < uw; u++ {
			var x, y int
			switch o {
			case 2:
				x, y = sw-1-u, v
			case 3:
				x, y = sw-1-u, sh-1-v
			case 4:
				x, y = u, sh-1-v
			case 5:
				x, y = v, u
			case 6:
				x, y = v, sh-1-u
			case 7:
				x, y = sw-1-v, sh-1-u
			case 8:
				x, y = sw-1-v, u
			default:
				x, y = u, v
			}
			stored.SetRGBA(x, y, upright.RGBAAt(u, v))
		}
	}
	return stored
}

// OrientedJPEG is a JPEG of upright whose pixels are stored for orientation o, with an EXIF
// APP1 segment saying o right after SOI.
func OrientedJPEG(t testing.TB, o int, upright *image.RGBA) []byte {
	j := EncodeJPEG(t, StoredFor(o, upright), 95)
	exif := append([]byte("Exif\x00\x00"), TIFFOrientation(uint16(o), o%2 == 0)...)
	app1 := append([]byte{0xFF, 0xE1, byte((len(exif) + 2) >> 8), byte(len(exif) + 2)}, exif...)
	out := append([]byte(nil), j[:2]...)
	out = append(out, app1...)
	return append(out, j[2:]...)
}

// PNGChunk is one PNG chunk with its CRC.
func PNGChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// Decompression Bombs: headers that declare more than the limits allow, with no pixels behind
// them. Both paths must refuse them from the header alone.
func BombPNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB
	b := append([]byte("\x89PNG\r\n\x1a\n"), PNGChunk("IHDR", ihdr)...)
	return append(b, PNGChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
}

func BombJPEG(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 17, 8}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	// a start of scan, so the header is complete, then nothing
	b = append(b, 0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)
	return append(b, 0xFF, 0xD9)
}

func BombGIF(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0, 0x3B)
}

func BombWebP(w, h uint32) []byte {
	vp8x := []byte{0, 0, 0, 0}
	vp8x = append(vp8x, byte(w-1), byte((w-1)>>8), byte((w-1)>>16))
	vp8x = append(vp8x, byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	body := append([]byte("WEBPVP8X"), binary.LittleEndian.AppendUint32(nil, 10)...)
	body = append(body, vp8x...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// Bombs are the oversize headers, each refused with image_too_large.
func Bombs() []Fixture {
	return []Fixture{
		{"png 20000x20000 (pixels)", BombPNG(20000, 20000)},
		{"png 40000x1 (dimension)", BombPNG(40000, 1)},
		{"jpeg 40000x40000", BombJPEG(40000, 40000)},
		{"gif 60000x60000", BombGIF(60000, 60000)},
		{"webp 16384x16384", BombWebP(16384, 16384)},
	}
}

// Corrupt are refused with bad_image by both paths.
func Corrupt(t testing.TB) []Fixture {
	photo := Painted(64, 48)
	j := EncodeJPEG(t, photo, 90)
	p := EncodePNG(t, photo)
	badCRC := bytes.Clone(p)
	badCRC[29] ^= 0xFF // inside IHDR's CRC
	return []Fixture{
		{"empty", nil},
		{"text", []byte("this is not an image at all")},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}},
		{"jpeg header cut", j[:40]},
		{"png signature only", []byte("\x89PNG\r\n\x1a\n")},
		{"png cut in IDAT", p[:len(p)/2]},
		{"png bad IHDR crc", badCRC},
		{"png zero width", BombPNG(0, 10)},
		{"gif header only", []byte("GIF89a")},
		{"riff not webp", append([]byte("RIFF\x04\x00\x00\x00WAVE"), make([]byte, 16)...)},
	}
}

// Generated cover what photos rarely do: grayscale, palette, 16-bit, alpha, GIF, WebP and
// every EXIF orientation.
func Generated(t testing.TB) []Fixture {
	t.Helper()
	base := Painted(160, 100)
	var out []Fixture

	gray := image.NewGray(base.Rect)
	gray16 := image.NewGray16(base.Rect)
	rgba64 := image.NewRGBA64(base.Rect)
	nrgba := image.NewNRGBA(base.Rect)
	pal := image.NewPaletted(base.Rect, palette.Plan9)
	for y := 0; y < 100; y++ {
		for x := 0; x < 160; x++ {
			c := base.RGBAAt(x, y)
			gray.Set(x, y, c)
			gray16.SetGray16(x, y, color.Gray16{uint16(x*400 + y*17)})
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(x * 409), uint16(y * 655), uint16((x + y) * 250), 0xFFFF})
			// alpha: an opaque disc on a transparent background whose hidden colour is bright
			// red, so a resize that does not premultiply bleeds red into the edge
			dx, dy := x-80, y-50
			if dx*dx+dy*dy < 40*40 {
				nrgba.SetNRGBA(x, y, color.NRGBA{20, 60, 200, 255})
			} else if dx*dx+dy*dy < 44*44 {
				nrgba.SetNRGBA(x, y, color.NRGBA{20, 60, 200, 128})
			} else {
				nrgba.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 0})
			}
			pal.Set(x, y, c)
		}
	}
	out = append(out,
		Fixture{"gray.png", EncodePNG(t, gray)},
		Fixture{"gray.jpg", EncodeJPEG(t, gray, 90)},
		Fixture{"gray16.png", EncodePNG(t, gray16)},
		Fixture{"rgb16.png", EncodePNG(t, rgba64)},
		Fixture{"alpha.png", EncodePNG(t, nrgba)},
		Fixture{"palette.png", EncodePNG(t, pal)},
	)
	var g bytes.Buffer
	if err := gif.Encode(&g, pal, nil); err != nil {
		t.Fatal(err)
	}
	out = append(out, Fixture{"palette.gif", g.Bytes()})
	var w bytes.Buffer
	if err := nativewebp.Encode(&w, nrgba, nil); err != nil {
		t.Fatal(err)
	}
	out = append(out, Fixture{"alpha.webp", w.Bytes()})
	for o := 1; o <= 8; o++ {
		out = append(out, Fixture{"orient" + string(rune('0'+o)) + ".jpg", OrientedJPEG(t, o, base)})
	}
	return out
}

// OpenTemp writes data to a file in the test's temporary directory and opens it for reading
// (closed when the test ends): the input of the tests that pass files by descriptor.
func OpenTemp(t testing.TB, data []byte) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
