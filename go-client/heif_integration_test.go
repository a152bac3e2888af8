package ferry_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// HEIC and AVIF through the daemon: inputs made at test time by the reference encoders
// (heif-enc from Debian's libheif-examples, avifenc from libavif-bin, both installed by
// scripts/setup.sh), AVIF output read back by avifdec.

// referenceTool returns the path of tool, or ends the test: t.Fatal when CI is set, t.Skip
// naming the package otherwise.
func referenceTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	msg := tool + " not found: apt-get install " + pkg + " (scripts/setup.sh does)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this fails instead of skipping)")
	}
	t.Skip(msg)
	return ""
}

// gradient is a smooth w x h picture.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

// encodeWith writes img as PNG and runs tool (heif-enc or avifenc) on it.
func encodeWith(t *testing.T, tool, pkg string, img image.Image, ext string) []byte {
	path := referenceTool(t, tool, pkg)
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out."+ext)
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{in, out}
	if tool == "heif-enc" {
		args = []string{"-q", "90", "-o", out, in}
	}
	if msg, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHEICAndAVIFThroughTheDaemon(t *testing.T) {
	_, c := startDaemon(t)
	info := c.ServerInfo()
	if info == nil || !contains(info.InputFormats, ferry.FormatHEIC) || !contains(info.InputFormats, ferry.FormatAVIF) || !contains(info.OutputFormats, ferry.FormatAVIF) {
		t.Fatalf("formats in %v, out %v", info.InputFormats, info.OutputFormats)
	}
	src := gradient(320, 200)
	inputs := map[ferry.Format][]byte{
		ferry.FormatHEIC: encodeWith(t, "heif-enc", "libheif-examples", src, "heic"),
		ferry.FormatAVIF: encodeWith(t, "avifenc", "libavif-bin", src, "avif"),
	}
	avifdec := referenceTool(t, "avifdec", "libavif-bin")
	for format, input := range inputs {
		res, err := c.Resize(ctxFor(t, 10*time.Second), ferry.ResizeRequest{Image: input, Width: 160, Format: ferry.FormatAVIF, Quality: 80})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if res.SourceFormat != format || res.SourceWidth != 320 || res.SourceHeight != 200 || res.Width != 160 || res.Height != 100 || res.Format != ferry.FormatAVIF {
			t.Fatalf("%s: %+v", format, res)
		}
		if res.Format.MIMEType() != "image/avif" || format.MIMEType() == "" {
			t.Fatalf("MIME types %q %q", res.Format.MIMEType(), format.MIMEType())
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "out.avif"), res.Image, 0o600); err != nil {
			t.Fatal(err)
		}
		if msg, err := exec.Command(avifdec, filepath.Join(dir, "out.avif"), filepath.Join(dir, "out.png")).CombinedOutput(); err != nil {
			t.Fatalf("avifdec of the daemon's AVIF: %v\n%s", err, msg)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "out.png"))
		out, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if r := out.Bounds(); r.Dx() != 160 || r.Dy() != 100 {
			t.Fatalf("avifdec reads %v", r)
		}
		if d := meanDistance(src, out); d > 6 {
			t.Fatalf("%s: mean colour differs by %.1f levels", format, d)
		}
	}
}
