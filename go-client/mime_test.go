package ferry_test

import (
	"bytes"
	"context"
	"image/gif"
	"net/http"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

func TestFormatMIMEType(t *testing.T) {
	for f, want := range map[ferry.Format]string{
		ferry.FormatJPEG: "image/jpeg",
		ferry.FormatPNG:  "image/png",
		ferry.FormatWebP: "image/webp",
		ferry.FormatGIF:  "image/gif",
		"":               "",
		"tiff":           "",
		"JPEG":           "", // formats are the spec's lower-case words
	} {
		if got := f.MIMEType(); got != want {
			t.Errorf("Format(%q).MIMEType() = %q, want %q", f, got, want)
		}
	}
}

// The type agrees with what net/http sniffs from real encoded images of each format, so a
// Content-Type set from it matches the bytes served.
func TestFormatMIMETypeMatchesSniffedBytes(t *testing.T) {
	painted := testimages.Painted(64, 48)
	var gifBytes bytes.Buffer
	if err := gif.Encode(&gifBytes, painted, nil); err != nil {
		t.Fatal(err)
	}
	webp, err := goproc.New().Resize(context.Background(),
		ferry.ResizeRequest{Image: testimages.EncodePNG(t, painted), Width: 32, Format: ferry.FormatWebP})
	if err != nil {
		t.Fatal(err)
	}
	for f, img := range map[ferry.Format][]byte{
		ferry.FormatJPEG: testimages.EncodeJPEG(t, painted, 80),
		ferry.FormatPNG:  testimages.EncodePNG(t, painted),
		ferry.FormatWebP: webp.Image,
		ferry.FormatGIF:  gifBytes.Bytes(),
	} {
		if got := http.DetectContentType(img); got != f.MIMEType() {
			t.Errorf("%s: net/http sniffs %q, MIMEType says %q", f, got, f.MIMEType())
		}
	}
}
