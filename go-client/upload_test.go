package ferry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// Uploads passed as an io.ReaderAt with a size (ResizeRequest.ImageReader/ImageSize,
// ChecksumRequest.DataReader/DataSize), against the real daemon and the Go path: an upload as
// net/http hands it over, kept in memory or spilled to a temporary file, gives what the same
// bytes give, and the reader's mistakes are refused the same way on both paths.

// formFile posts data as a multipart upload to a handler and returns what FormFile gives it.
// maxMemory decides whether multipart keeps the part in memory or spills it to a temporary file.
func formFile(t *testing.T, data []byte, maxMemory int64) (multipart.File, *multipart.FileHeader) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("photo", "photo.bin")
	if err != nil {
		t.Fatal(err)
	}
	part.Write(data)
	mw.Close()
	r := httptest.NewRequest(http.MethodPost, "/upload", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	if err := r.ParseMultipartForm(maxMemory); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.MultipartForm.RemoveAll() })
	f, h, err := r.FormFile("photo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, h
}

// uploadKinds are the two shapes net/http gives an upload: in memory, and in a temporary file
// (an *os.File, which the Client passes by descriptor).
var uploadKinds = []struct {
	name      string
	maxMemory int64
	isFile    bool
}{{"in memory", 64 << 20, false}, {"spilled to a file", 1, true}}

func TestResizeImageReaderEqualsImage(t *testing.T) {
	_, c := startDaemon(t)
	paths := map[string]ferry.Processor{"daemon": c, "go": goproc.New()}
	for _, p := range loadPhotos(t) {
		req := ferry.ResizeRequest{Width: 96, Height: 64, Mode: ferry.ModeFill, Format: ferry.FormatPNG}
		for pathName, proc := range paths {
			want := req
			want.Image = p.data
			byBytes, err := proc.Resize(ctxFor(t, 10*time.Second), want)
			if err != nil {
				t.Fatal(err)
			}
			for _, kind := range uploadKinds {
				f, h := formFile(t, p.data, kind.maxMemory)
				if _, isFile := f.(*os.File); isFile != kind.isFile {
					t.Fatalf("multipart gave %T for an upload %s", f, kind.name)
				}
				up := req
				up.ImageReader, up.ImageSize = f, h.Size
				got, err := proc.Resize(ctxFor(t, 10*time.Second), up)
				if err != nil {
					t.Fatalf("%s, %s, upload %s: %v", p.name, pathName, kind.name, err)
				}
				if !bytes.Equal(got.Image, byBytes.Image) || got.SourceFormat != byBytes.SourceFormat {
					t.Errorf("%s, %s, upload %s: differs from the same bytes as Image", p.name, pathName, kind.name)
				}
			}
		}
	}
	// The spilled uploads went by descriptor: the daemon counted resize_file requests.
	stats, err := c.Stats(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n := stats.RequestsByOp["resize_file"]; n != 3 {
		t.Errorf("daemon answered %d resize_file requests, want 3 (one per spilled upload)", n)
	}
}

func TestChecksumDataReaderEqualsData(t *testing.T) {
	_, c := startDaemon(t)
	data := paint(3<<20 + 5)
	for pathName, proc := range map[string]ferry.Processor{"daemon": c, "go": goproc.New()} {
		want, err := proc.Checksum(ctxFor(t, 10*time.Second), ferry.ChecksumRequest{Data: data, Algorithms: allDigests})
		if err != nil {
			t.Fatal(err)
		}
		readers := map[string]io.ReaderAt{"bytes.Reader": bytes.NewReader(data)}
		for _, kind := range uploadKinds {
			f, _ := formFile(t, data, kind.maxMemory)
			readers["multipart "+kind.name] = f
		}
		for name, r := range readers {
			got, err := proc.Checksum(ctxFor(t, 10*time.Second),
				ferry.ChecksumRequest{DataReader: r, DataSize: int64(len(data)), Algorithms: allDigests})
			if err != nil {
				t.Fatalf("%s, %s: %v", pathName, name, err)
			}
			for _, a := range allDigests {
				if !bytes.Equal(got.Digests[a], want.Digests[a]) {
					t.Errorf("%s, %s, %s: %x, want %x", pathName, name, a, got.Digests[a], want.Digests[a])
				}
			}
		}
		// A size short of the file's is the first DataSize bytes: read, not passed whole.
		prefix, err := proc.Checksum(ctxFor(t, 10*time.Second), ferry.ChecksumRequest{
			DataReader: testimages.OpenTemp(t, data), DataSize: 1000, Algorithms: allDigests})
		if err != nil {
			t.Fatal(err)
		}
		wantPrefix, _ := goproc.New().Checksum(context.Background(), ferry.ChecksumRequest{Data: data[:1000], Algorithms: allDigests})
		if !bytes.Equal(prefix.Digests[ferry.BLAKE3], wantPrefix.Digests[ferry.BLAKE3]) {
			t.Errorf("%s: DataSize 1000 of a longer file did not digest its first 1000 bytes", pathName)
		}
	}
}

var allDigests = []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3}

// mustNotRead fails the test if anything reads it.
type mustNotRead struct{ t *testing.T }

func (m mustNotRead) ReadAt(p []byte, off int64) (int, error) {
	m.t.Error("an upload over the limit was read")
	return 0, io.EOF
}

type failingReader struct{ err error }

func (f failingReader) ReadAt(p []byte, off int64) (int, error) { return 0, f.err }

func TestUploadMistakesAreRefusedAlikeOnBothPaths(t *testing.T) {
	_, c := startDaemon(t)
	photo := paint(1000)
	diskErr := errors.New("disk on fire")
	for pathName, proc := range map[string]ferry.Processor{"daemon": c, "go": goproc.New()} {
		for _, tc := range []struct {
			name string
			req  ferry.ResizeRequest
			want error
		}{
			{"no size", ferry.ResizeRequest{ImageReader: bytes.NewReader(photo), Width: 8}, ferry.ErrInvalidArgument},
			{"size without reader", ferry.ResizeRequest{ImageSize: 10, Image: photo, Width: 8}, ferry.ErrInvalidArgument},
			{"reader and Image", ferry.ResizeRequest{ImageReader: bytes.NewReader(photo), ImageSize: 1000, Image: photo, Width: 8}, ferry.ErrInvalidArgument},
			{"reader shorter than its size", ferry.ResizeRequest{ImageReader: bytes.NewReader(photo), ImageSize: 1001, Width: 8}, ferry.ErrInvalidArgument},
			{"reader failing", ferry.ResizeRequest{ImageReader: failingReader{diskErr}, ImageSize: 1000, Width: 8}, diskErr},
			{"over the limit", ferry.ResizeRequest{ImageReader: mustNotRead{t}, ImageSize: 1 << 40, Width: 8}, ferry.ErrRequestTooLarge},
		} {
			_, err := proc.Resize(ctxFor(t, 5*time.Second), tc.req)
			if !errors.Is(err, tc.want) {
				t.Errorf("%s, %s: %v, want %v", pathName, tc.name, err, tc.want)
			}
			if !ferry.IsInvalidInput(err) {
				t.Errorf("%s, %s: IsInvalidInput(%v) = false: no path can serve it", pathName, tc.name, err)
			}
		}
		_, err := proc.Checksum(ctxFor(t, 5*time.Second), ferry.ChecksumRequest{DataSize: 5, Algorithms: allDigests})
		if !errors.Is(err, ferry.ErrInvalidArgument) {
			t.Errorf("%s: DataSize without DataReader: %v", pathName, err)
		}
	}
}

// ResolveReader, which a routing Processor calls once before choosing a path: a file of exactly
// the size stays a file, anything else becomes bytes, a request without a reader is untouched.
func TestResolveReader(t *testing.T) {
	data := paint(5000)
	f := testimages.OpenTemp(t, data)
	req := ferry.ResizeRequest{ImageReader: f, ImageSize: 5000}
	if err := req.ResolveReader(1 << 20); err != nil || req.File != f || req.Image != nil || req.ImageReader != nil || req.ImageSize != 0 {
		t.Errorf("a file of exactly ImageSize: %v, File %v, Image %d bytes", err, req.File, len(req.Image))
	}
	req = ferry.ResizeRequest{ImageReader: f, ImageSize: 4000}
	if err := req.ResolveReader(1 << 20); err != nil || req.File != nil || !bytes.Equal(req.Image, data[:4000]) {
		t.Errorf("a file longer than ImageSize: %v, File %v, Image %d bytes", err, req.File, len(req.Image))
	}
	sum := ferry.ChecksumRequest{DataReader: bytes.NewReader(data), DataSize: 5000}
	if err := sum.ResolveReader(1 << 20); err != nil || !bytes.Equal(sum.Data, data) || sum.DataReader != nil {
		t.Errorf("a bytes.Reader: %v, Data %d bytes", err, len(sum.Data))
	}
	if err := sum.ResolveReader(10); err != nil || !bytes.Equal(sum.Data, data) {
		t.Errorf("resolved twice: %v", err) // nothing left to resolve: untouched, whatever the limit
	}
	over := ferry.ChecksumRequest{DataReader: mustNotRead{t}, DataSize: 11}
	if err := over.ResolveReader(10); !errors.Is(err, ferry.ErrRequestTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}
