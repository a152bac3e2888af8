package goproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	ferry "github.com/ferryd/ferry/go-client"
)

// inputFile checks a request's File the way the daemon does (SPEC.md 5.7): exactly one of
// payload and file, a regular file, no larger than the processor's MaxInputBytes. It returns
// the size that reading stops at.
func (p *Processor) inputFile(f *os.File, payload []byte, payloadName string) (int64, error) {
	if payload != nil {
		return 0, refuse(ferry.CodeInvalidArgument, "set %s or File, not both", payloadName)
	}
	info, err := f.Stat()
	if err != nil {
		return 0, refuse(ferry.CodeBadFile, "stat: %v", err)
	}
	if !info.Mode().IsRegular() {
		return 0, refuse(ferry.CodeBadFile, "not a regular file (%s)", info.Mode().Type())
	}
	if info.Size() > int64(p.limits.MaxInputBytes) {
		return 0, fmt.Errorf("%w: file of %d bytes, limit %d", ferry.ErrRequestTooLarge, info.Size(), p.limits.MaxInputBytes)
	}
	return info.Size(), nil
}

// readFileAt fills buf from f at off with ReadAt (pread: f's offset never moves, so the router
// can hand the same file to either path, or to both). Hitting the end first means the file
// shrank: bad_file, as in the daemon.
func readFileAt(f *os.File, buf []byte, off int64) error {
	if _, err := f.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			return refuse(ferry.CodeBadFile, "short read at offset %d: the file shrank while being read", off)
		}
		return refuse(ferry.CodeBadFile, "read at offset %d: %v", off, err)
	}
	return nil
}

// checkUnchanged refuses a file whose size is no longer size once it has been read.
func checkUnchanged(f *os.File, size int64) error {
	info, err := f.Stat()
	if err != nil {
		return refuse(ferry.CodeBadFile, "stat: %v", err)
	}
	if info.Size() != size {
		return refuse(ferry.CodeBadFile, "file size changed from %d to %d while being read", size, info.Size())
	}
	return nil
}

// readWholeFile reads a resize's File into memory, checking ctx before and after.
func (p *Processor) readWholeFile(ctx context.Context, f *os.File, image []byte) ([]byte, error) {
	size, err := p.inputFile(f, image, "Image")
	if err != nil {
		return nil, err
	}
	if err := stageCheck(ctx, "read"); err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	if err := readFileAt(f, buf, 0); err != nil {
		return nil, err
	}
	if err := checkUnchanged(f, size); err != nil {
		return nil, err
	}
	return buf, nil
}
