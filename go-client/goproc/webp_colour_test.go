package goproc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	stddraw "image/draw"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferryd/ferry/go-client/internal/testimages"

	"golang.org/x/image/webp"
)

// lossyWebP encodes src as lossy WebP at quality with libwebp (the Go path's encoder): a simple
// VP8 file when src is opaque, VP8X + ALPH + VP8 when it is not.
func lossyWebP(t testing.TB, src image.Image, quality int) []byte {
	t.Helper()
	rgba := image.NewRGBA(src.Bounds())
	stddraw.Draw(rgba, rgba.Rect, src, src.Bounds().Min, stddraw.Src)
	var b bytes.Buffer
	if err := encodeWebP(&b, rgba, quality); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withAlphaRamp is src (its top-left w x h) with straight alpha falling from 255 on the left to
// 64 on the right, so that the colours under the alpha still count in a PSNR over white.
func withAlphaRamp(src image.Image, w, h int) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	stddraw.Draw(dst, dst.Rect, src, src.Bounds().Min, stddraw.Src)
	for y := range h {
		for x := range w {
			dst.Pix[y*dst.Stride+4*x+3] = uint8(255 - 191*x/max(w-1, 1))
		}
	}
	return dst
}

// dwebpPAM decodes a WebP with libwebp's dwebp (Debian's webp package; scripts/setup.sh installs
// it) into straight RGBA. Without the tool the test fails under CI and is skipped, by name,
// elsewhere.
func dwebpPAM(t *testing.T, data []byte) *image.NRGBA {
	t.Helper()
	path, err := exec.LookPath("dwebp")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dwebp is not on PATH (scripts/setup.sh installs Debian's webp)")
		}
		t.Skip("dwebp is not on PATH: install Debian's webp (scripts/setup.sh) to run this test")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.webp"), filepath.Join(dir, "out.pam")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(path, "-quiet", in, "-pam", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("dwebp: %v\n%s", err, b)
	}
	pam, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := parsePAM(pam)
	if err != nil {
		t.Fatalf("dwebp's PAM: %v", err)
	}
	return img
}

// parsePAM reads the RGB_ALPHA PAM that dwebp -pam writes.
func parsePAM(b []byte) (*image.NRGBA, error) {
	header, pix, ok := bytes.Cut(b, []byte("ENDHDR\n"))
	if !ok {
		return nil, fmt.Errorf("no ENDHDR")
	}
	var w, h, depth, maxval int
	for _, line := range strings.Split(string(header), "\n") {
		var key string
		var v int
		if n, _ := fmt.Sscanf(line, "%s %d", &key, &v); n != 2 {
			continue
		}
		switch key {
		case "WIDTH":
			w = v
		case "HEIGHT":
			h = v
		case "DEPTH":
			depth = v
		case "MAXVAL":
			maxval = v
		}
	}
	if depth != 4 || maxval != 255 || len(pix) != w*h*4 {
		return nil, fmt.Errorf("%dx%d depth %d maxval %d with %d bytes of samples", w, h, depth, maxval, len(pix))
	}
	return &image.NRGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}, nil
}

// straightRGBA returns img's samples as straight (non-premultiplied) RGBA bytes, row by row.
func straightRGBA(img image.Image) []byte {
	b := img.Bounds()
	out := make([]byte, 0, 4*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out = append(out, c.R, c.G, c.B, c.A)
		}
	}
	return out
}

// sampleDiff compares two RGBA byte slices on R, G, B and A: the largest difference, how many
// samples differ and the PSNR.
func sampleDiff(a, b []byte) (worst int, differing int, psnr float64) {
	var sum float64
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d != 0 {
			differing++
			worst = max(worst, d, -d)
			sum += float64(d * d)
		}
	}
	if sum == 0 {
		return 0, 0, math.Inf(1)
	}
	return worst, differing, 10 * math.Log10(255*255/(sum/float64(len(a))))
}

// TestWebPColourMatchesDwebp: lossy WebPs made by libwebp, decoded by x/image/webp and converted
// by vp8ToRGB, against libwebp's own decoder (dwebp -pam, fancy upsampling): every sample within
// 1 of dwebp's. The same planes read as Go's colour model reads them (full-range JFIF, nearest
// chroma) are logged for comparison: 29.4 dB on coffee at q90 (R, G, B and A).
func TestWebPColourMatchesDwebp(t *testing.T) {
	coffee := decodeOutput(t, photoNamed(t, "coffee.png"))
	cases := []struct {
		name string
		src  image.Image
		q    int
		want string // the type vp8ToRGB must return
	}{
		{"coffee q90", coffee, 90, "*image.RGBA"},
		{"coffee q50", coffee, 50, "*image.RGBA"},
		{"coffee 301x201 with alpha q75", withAlphaRamp(coffee, 301, 201), 75, "*image.NRGBA"},
		{"painted 33x17 q90", testimages.Painted(33, 17), 90, "*image.RGBA"},
	}
	for _, c := range cases {
		data := lossyWebP(t, c.src, c.q)
		planes, err := webp.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := vp8ToRGB(planes)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if typ := fmt.Sprintf("%T", got); typ != c.want {
			t.Errorf("%s: vp8ToRGB gave %s, want %s", c.name, typ, c.want)
		}
		truth := dwebpPAM(t, data)
		if got.Bounds() != truth.Rect {
			t.Fatalf("%s: %v, dwebp %v", c.name, got.Bounds(), truth.Rect)
		}
		worst, differing, db := sampleDiff(straightRGBA(got), truth.Pix)
		_, _, before := sampleDiff(straightRGBA(planes), truth.Pix)
		t.Logf("%s (%T): largest difference %d, %d of %d samples differ, %.1f dB (the planes as Go's colour model reads them: %.1f dB)",
			c.name, planes, worst, differing, len(truth.Pix), db, before)
		if worst > 1 {
			t.Errorf("%s: a sample %d away from dwebp's, want at most 1", c.name, worst)
		}
	}
}

// photoNamed returns the sample photo of that name.
func photoNamed(t testing.TB, name string) []byte {
	t.Helper()
	for _, p := range testimages.Photos(t) {
		if p.Name == name {
			return p.Data
		}
	}
	t.Fatalf("no sample photo %s", name)
	return nil
}
