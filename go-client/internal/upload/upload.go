// Package upload turns a request's io.ReaderAt input (ResizeRequest.ImageReader,
// ChecksumRequest.DataReader) into what a path sends or reads: the *os.File itself when it is
// one holding exactly the stated size (ferryd then reads it by descriptor, goproc with ReadAt),
// else the stated number of bytes read into memory. The Client and goproc share it, so both
// paths accept and refuse the same requests.
package upload

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Error is a refused upload. TooLarge says that the stated size is over the path's limit (the
// caller maps it to ferry.ErrRequestTooLarge); otherwise the request itself is wrong or its
// reader failed (invalid_argument).
type Error struct {
	TooLarge bool
	Err      error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Resolve checks an upload and returns either a file to pass as it is or the bytes read.
//
// r is the reader and size the number of bytes from offset 0 that are the input; readerField and
// sizeField name them in errors; others reports whether the request's other inputs (the bytes
// field, File) are set too, which is refused. A size of zero or less is refused, and a size over
// limit is refused before anything is read. An *os.File whose size is exactly size is returned
// as the file; any other reader is read with one ReadAt (a multipart.File, an io.SectionReader, a
// bytes.Reader), and one holding fewer than size bytes is refused.
//
// A nil r returns nothing (the request has no upload), unless size is set, which is refused.
func Resolve(r io.ReaderAt, size, limit int64, readerField, sizeField string, others bool) ([]byte, *os.File, error) {
	if r == nil {
		if size != 0 {
			return nil, nil, &Error{Err: fmt.Errorf("%s is set without %s", sizeField, readerField)}
		}
		return nil, nil, nil
	}
	if others {
		return nil, nil, &Error{Err: fmt.Errorf("set one input: %s, or its bytes, or File", readerField)}
	}
	if size <= 0 {
		return nil, nil, &Error{Err: fmt.Errorf("%s is %d: give the number of bytes %s holds", sizeField, size, readerField)}
	}
	if size > limit {
		return nil, nil, &Error{TooLarge: true, Err: fmt.Errorf("%s of %d bytes, limit %d", readerField, size, limit)}
	}
	if f, ok := r.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Size() == size {
			return nil, f, nil
		}
	}
	buf := make([]byte, size)
	n, err := r.ReadAt(buf, 0)
	if int64(n) == size {
		return buf, nil, nil // io.EOF with a full buffer is a clean end
	}
	if err == nil || errors.Is(err, io.EOF) {
		return nil, nil, &Error{Err: fmt.Errorf("%s holds %d bytes, %s says %d", readerField, n, sizeField, size)}
	}
	return nil, nil, &Error{Err: fmt.Errorf("reading %s: %w", readerField, err)}
}
