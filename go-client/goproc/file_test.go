package goproc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
)

func openTemp(t *testing.T, data []byte) *os.File {
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

func TestChecksumOfAFileEqualsChecksumOfItsBytes(t *testing.T) {
	p := New()
	data := bytes.Repeat([]byte{1, 2, 3, 5, 8}, 700_000) // several chunks
	algs := []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3}
	byData, err := p.Checksum(context.Background(), ferry.ChecksumRequest{Data: data, Algorithms: algs})
	if err != nil {
		t.Fatal(err)
	}
	byFile, err := p.Checksum(context.Background(), ferry.ChecksumRequest{File: openTemp(t, data), Algorithms: algs})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range algs {
		if !bytes.Equal(byData.Digests[a], byFile.Digests[a]) {
			t.Errorf("%s differs", a)
		}
	}
}

func TestFilesThatAreNotRegularOrOverTheLimitAreRefused(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	p := New()
	_, err = p.Checksum(context.Background(), ferry.ChecksumRequest{File: pr, Algorithms: []ferry.Algorithm{ferry.BLAKE3}})
	if !errors.Is(err, ferry.ErrBadFile) {
		t.Errorf("pipe: %v", err)
	}
	_, err = p.Resize(context.Background(), ferry.ResizeRequest{File: pr, Width: 8})
	if !errors.Is(err, ferry.ErrBadFile) {
		t.Errorf("pipe resize: %v", err)
	}
	small := New(WithLimits(Limits{MaxInputBytes: 10}))
	_, err = small.Resize(context.Background(), ferry.ResizeRequest{File: openTemp(t, make([]byte, 11)), Width: 8})
	if !errors.Is(err, ferry.ErrRequestTooLarge) {
		t.Errorf("file over MaxInputBytes: %v", err)
	}
}
