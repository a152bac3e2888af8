//go:build unix

// Passing a file by descriptor needs Unix (SCM_RIGHTS): elsewhere the daemon cannot be dialled.

package ferry_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// Files by descriptor (SPEC.md 5.7) against the real daemon: ChecksumFile and ResizeFile give
// what Checksum and Resize give for the same bytes, and what cannot be read is ErrBadFile.

var allAlgorithms = []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3}

func TestChecksumFileEqualsChecksum(t *testing.T) {
	_, c := startDaemon(t)
	for _, n := range []int{0, 1, 100 << 10, 9<<20 + 17} {
		data := paint(n)
		f := testimages.OpenTemp(t, data)
		byFile, err := c.ChecksumFile(ctxFor(t, 10*time.Second), f, allAlgorithms...)
		if err != nil {
			t.Fatalf("ChecksumFile of %d bytes: %v", n, err)
		}
		byData, err := c.Checksum(ctxFor(t, 10*time.Second), ferry.ChecksumRequest{Data: data, Algorithms: allAlgorithms})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range allAlgorithms {
			if !bytes.Equal(byFile.Digests[a], byData.Digests[a]) {
				t.Errorf("%d bytes, %s: file %x, data %x", n, a, byFile.Digests[a], byData.Digests[a])
			}
		}
		if off, _ := f.Seek(0, io.SeekCurrent); off != 0 {
			t.Errorf("the file's offset moved to %d", off)
		}
	}
}

func TestResizeFileEqualsResize(t *testing.T) {
	_, c := startDaemon(t)
	for _, p := range loadPhotos(t) {
		req := ferry.ResizeRequest{Width: 96, Height: 64, Mode: ferry.ModeFill, Format: ferry.FormatPNG}
		byFile, err := c.ResizeFile(ctxFor(t, 10*time.Second), testimages.OpenTemp(t, p.data), req)
		if err != nil {
			t.Fatalf("%s: ResizeFile: %v", p.name, err)
		}
		req.Image = p.data
		byBytes, err := c.Resize(ctxFor(t, 10*time.Second), req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(byFile.Image, byBytes.Image) || byFile.Width != byBytes.Width || byFile.SourceFormat != byBytes.SourceFormat {
			t.Errorf("%s: resize_file differs from resize (%dx%d %s vs %dx%d %s)", p.name, byFile.Width,
				byFile.Height, byFile.SourceFormat, byBytes.Width, byBytes.Height, byBytes.SourceFormat)
		}
	}
}

func TestFilesThatCannotBeReadAreBadFile(t *testing.T) {
	_, c := startDaemon(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	sock := os.NewFile(uintptr(fds[0]), "socket")
	defer sock.Close()
	defer syscall.Close(fds[1])
	for name, f := range map[string]*os.File{"pipe": pr, "directory": dir, "socket": sock} {
		_, err := c.ChecksumFile(ctxFor(t, 5*time.Second), f, ferry.BLAKE3)
		if !errors.Is(err, ferry.ErrBadFile) {
			t.Errorf("%s: %v, want bad_file", name, err)
		}
		var se *ferry.ServerError
		if !errors.As(err, &se) || se.Code != ferry.CodeBadFile {
			t.Errorf("%s: %v is not a server error with code 15", name, err)
		}
	}
	// The connection is unharmed by the refusals.
	if err := c.Ping(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	// A closed file is refused before anything is sent.
	closed := testimages.OpenTemp(t, []byte("x"))
	closed.Close()
	if _, err := c.ChecksumFile(ctxFor(t, 5*time.Second), closed, ferry.BLAKE3); !errors.Is(err, ferry.ErrBadFile) {
		t.Errorf("closed file: %v", err)
	}
	// Image and File together are a caller's mistake.
	_, err = c.ResizeFile(ctxFor(t, 5*time.Second), testimages.OpenTemp(t, []byte("x")), ferry.ResizeRequest{Image: []byte("y"), Width: 8})
	if !errors.Is(err, ferry.ErrInvalidArgument) {
		t.Errorf("Image and File: %v", err)
	}
}

func TestFileFramesInterleaveWithOtherRequests(t *testing.T) {
	// Many goroutines mixing file and byte requests on one client: every descriptor must ride
	// on its own frame's first byte, whatever the writer batched around it.
	_, c := startDaemon(t)
	data := paint(300 << 10)
	f := testimages.OpenTemp(t, data)
	want, err := c.Checksum(ctxFor(t, 5*time.Second), ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{ferry.SHA256}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 64)
	for i := range 64 {
		go func() {
			ctx := ctxFor(t, 20*time.Second)
			var res *ferry.ChecksumResult
			var err error
			if i%2 == 0 {
				res, err = c.ChecksumFile(ctx, f, ferry.SHA256)
			} else {
				res, err = c.Checksum(ctx, ferry.ChecksumRequest{Data: data, Algorithms: []ferry.Algorithm{ferry.SHA256}})
			}
			if err == nil && !bytes.Equal(res.Digests[ferry.SHA256], want.Digests[ferry.SHA256]) {
				err = errors.New("wrong digest")
			}
			errs <- err
		}()
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
