package goproc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

func TestChecksumOfAFileEqualsChecksumOfItsBytes(t *testing.T) {
	p := New()
	data := bytes.Repeat([]byte{1, 2, 3, 5, 8}, 700_000) // several chunks
	algs := []ferry.Algorithm{ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3}
	byData, err := p.Checksum(context.Background(), ferry.ChecksumRequest{Data: data, Algorithms: algs})
	if err != nil {
		t.Fatal(err)
	}
	byFile, err := p.Checksum(context.Background(), ferry.ChecksumRequest{File: testimages.OpenTemp(t, data), Algorithms: algs})
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
	_, err = small.Resize(context.Background(), ferry.ResizeRequest{File: testimages.OpenTemp(t, make([]byte, 11)), Width: 8})
	if !errors.Is(err, ferry.ErrRequestTooLarge) {
		t.Errorf("file over MaxInputBytes: %v", err)
	}
}
