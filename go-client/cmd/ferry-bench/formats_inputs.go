package main

import (
	"bytes"
	"fmt"
	"image"
	stddraw "image/draw"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	ferry "github.com/ferryd/ferry/go-client"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// The HEIC and AVIF section's inputs are made at bench time from corpus photos by the reference
// encoders, so nothing binary is committed and the settings are on record here and in the report.
// Both at quality 80, their default chroma (4:2:0), single images (no grid: libheif 1.15's
// heif-enc writes none).
var (
	// heicEncoder: libheif's heif-enc with x265 (Debian's libheif-examples), its default preset.
	heicEncoder = []string{"heif-enc", "-q", "80"}
	// avifEncoder: libavif's avifenc with libaom (Debian's libavif-bin), speed 6 (its default),
	// cq-level 13 in end-usage q, which is libavif's and libheif's quality 80.
	avifEncoder = []string{"avifenc", "-s", "6", "-j", "2", "-y", "420", "--min", "0", "--max", "63", "-a", "end-usage=q", "-a", "cq-level=13"}
)

// encoderSettings is the command lines above as the report prints them.
func encoderSettings() string {
	return fmt.Sprintf("HEIC: `%s -o OUT.heic PHOTO`; AVIF: `%s PHOTO OUT.avif`", strings.Join(heicEncoder, " "), strings.Join(avifEncoder, " "))
}

// formatInput is one HEIC or AVIF file made from a corpus photo.
type formatInput struct {
	Name   string       `json:"name"`   // e.g. sunset.heic
	Source string       `json:"source"` // the corpus photo it was made from
	Format ferry.Format `json:"format"`
	Width  int          `json:"width"`
	Height int          `json:"height"`
	Bytes  int          `json:"bytes"`
	data   []byte
	// full is the reference decoder's full decode (heif-convert for HEIC, avifdec for AVIF).
	full image.Image
}

// pickFormatPhotos chooses the section's sources: the photos without an ICC profile (so that no
// path's colour handling is in the PSNR) nearest 12 MP (a phone's photo) and 5 MP, and the
// smallest; in a short run the smallest alone.
func pickFormatPhotos(photos []photo, short bool) []photo {
	var plain []photo
	for _, p := range photos {
		if !p.ICC && !p.Detail {
			plain = append(plain, p)
		}
	}
	if len(plain) == 0 {
		return nil
	}
	smallest := slices.MinFunc(plain, func(a, b photo) int { return a.Width*a.Height - b.Width*b.Height })
	if short {
		return []photo{smallest}
	}
	nearest := func(mp float64) photo {
		return slices.MinFunc(plain, func(a, b photo) int {
			return cmpFloat(math.Abs(a.megapixels()-mp), math.Abs(b.megapixels()-mp))
		})
	}
	var out []photo
	for _, p := range []photo{nearest(12), nearest(5), smallest} {
		if !slices.ContainsFunc(out, func(q photo) bool { return q.Name == p.Name }) {
			out = append(out, p)
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// formatToolsMissing names the reference tools not on PATH ("" when all are there).
func formatToolsMissing() string {
	var missing []string
	for _, tool := range []string{heicEncoder[0], avifEncoder[0], "heif-convert", "avifdec"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return strings.Join(missing, ", ") + " not on PATH (scripts/setup.sh installs libheif-examples and libavif-bin)"
}

// makeFormatInputs writes each photo into dir and encodes it as HEIC and as AVIF, then decodes
// each file fully with the reference decoders for the quality check.
func makeFormatInputs(dir string, photos []photo) ([]formatInput, error) {
	var inputs []formatInput
	for _, p := range photos {
		src := filepath.Join(dir, p.Name)
		if err := os.WriteFile(src, p.data, 0o644); err != nil {
			return nil, err
		}
		stem := strings.TrimSuffix(p.Name, filepath.Ext(p.Name))
		for _, f := range []ferry.Format{ferry.FormatHEIC, ferry.FormatAVIF} {
			in := formatInput{Name: stem + "." + string(f), Source: p.Name, Format: f, Width: p.Width, Height: p.Height}
			path := filepath.Join(dir, in.Name)
			var cmd []string
			if f == ferry.FormatHEIC {
				cmd = append(slices.Clone(heicEncoder), "-o", path, src)
			} else {
				cmd = append(slices.Clone(avifEncoder), src, path)
			}
			if err := runTool(cmd...); err != nil {
				return nil, err
			}
			var err error
			if in.data, err = os.ReadFile(path); err != nil {
				return nil, err
			}
			in.Bytes = len(in.data)
			if in.full, err = referenceDecode(dir, path, f); err != nil {
				return nil, err
			}
			inputs = append(inputs, in)
		}
	}
	return inputs, nil
}

// referenceDecode decodes a HEIC (heif-convert: libheif with libde265) or AVIF (avifdec: libavif
// with dav1d or libaom) file fully, through a PNG.
func referenceDecode(dir, path string, f ferry.Format) (image.Image, error) {
	png := filepath.Join(dir, filepath.Base(path)+".full.png")
	defer os.Remove(png)
	cmd := []string{"avifdec", path, png}
	if f == ferry.FormatHEIC {
		cmd = []string{"heif-convert", path, png}
	}
	if err := runTool(cmd...); err != nil {
		return nil, err
	}
	return decodeFile(png)
}

// decodeAVIF reads an AVIF output back with avifdec (the reference decoder), as PNG bytes.
func decodeAVIF(dir string, avif []byte) ([]byte, error) {
	in, err := os.CreateTemp(dir, "out-*.avif")
	if err != nil {
		return nil, err
	}
	defer os.Remove(in.Name())
	if _, err := in.Write(avif); err != nil {
		in.Close()
		return nil, err
	}
	in.Close()
	png := in.Name() + ".png"
	defer os.Remove(png)
	if err := runTool("avifdec", in.Name(), png); err != nil {
		return nil, err
	}
	return os.ReadFile(png)
}

// decodeWebP reads a lossy WebP output back as PNG bytes. x/image/webp hands out VP8's Y'CbCr
// as an image.YCbCr, which Go converts as JPEG's full-range JFIF; VP8's samples are BT.601
// limited range (libwebp: R = 1.164 (Y-16) + 1.596 (Cr-128), ...), so read naively every pixel
// is off by a few levels (27 dB against libvips' own decode of the same file, 34 dB when
// converted right). Chroma is taken at the nearest sample (libwebp upsamples it bilinearly).
func decodeWebP(data []byte) ([]byte, error) {
	img, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("webp output: %w", err)
	}
	var ycc *image.YCbCr
	switch v := img.(type) {
	case *image.YCbCr:
		ycc = v
	case *image.NYCbCrA: // alpha is 255 in these opaque thumbnails
		ycc = &v.YCbCr
	default:
		return nil, fmt.Errorf("webp output decoded as %T, not lossy Y'CbCr", img)
	}
	b := ycc.Bounds()
	rgb := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	clamp := func(v float64) uint8 { return uint8(min(max(math.Round(v), 0), 255)) }
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			c := ycc.YCbCrAt(b.Min.X+x, b.Min.Y+y)
			l, cb, cr := 1.16438*(float64(c.Y)-16), float64(c.Cb)-128, float64(c.Cr)-128
			i := rgb.PixOffset(x, y)
			rgb.Pix[i], rgb.Pix[i+1], rgb.Pix[i+2], rgb.Pix[i+3] = clamp(l+1.59602*cr), clamp(l-0.39178*cb-0.81299*cr), clamp(l+2.01722*cb), 255
		}
	}
	var buf bytes.Buffer
	err = png.Encode(&buf, rgb)
	return buf.Bytes(), err
}

func decodeFile(path string) (image.Image, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return img, nil
}

func runTool(args ...string) error {
	cmd := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, firstLines(stderr.String(), 3))
	}
	return nil
}

// references are full decodes resized with Lanczos3 straight to an output's size, as lossless
// PNG, made once per (image, size): the yardstick every path's output is compared with, as in the
// section on quality against the full decode (there the `image` crate's Lanczos3; here the same
// kernel through x/image/draw, which widens it when downscaling).
type references map[string][]byte

// of returns the reference of full at w x h, keyed by name.
func (r references) of(name string, full image.Image, w, h int) []byte {
	key := fmt.Sprintf("%s@%dx%d", name, w, h)
	if ref, ok := r[key]; ok {
		return ref
	}
	src := image.NewRGBA(full.Bounds())
	stddraw.Draw(src, src.Bounds(), full, full.Bounds().Min, stddraw.Src)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	referenceLanczos3.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		return nil
	}
	r[key] = buf.Bytes()
	return r[key]
}

// referenceLanczos3 is sinc(t)·sinc(t/3) on |t| < 3, the daemon's and the Go path's Lanczos3.
var referenceLanczos3 = &draw.Kernel{Support: 3, At: func(t float64) float64 {
	t = math.Abs(t)
	if t >= 3 {
		return 0
	}
	return sinc(t) * sinc(t/3)
}}

func sinc(t float64) float64 {
	if t == 0 {
		return 1
	}
	x := math.Pi * t
	return math.Sin(x) / x
}
