package ferry

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// An upload given as an io.ReaderAt (ResizeRequest.ImageReader, ChecksumRequest.DataReader) is
// turned into what a path sends or reads: the *os.File itself when it is one holding exactly the
// stated size (ferryd then reads it by descriptor, goproc with ReadAt), else the stated number of
// bytes read into memory. The Client and goproc both call ResolveReader, so both paths accept and
// refuse the same requests. (Kept in this package rather than one of its own: every package a
// router user compiles counts.)

// ResolveReader replaces an upload given as ImageReader and ImageSize by what a path takes: File,
// when ImageReader is an *os.File of exactly ImageSize bytes, else Image, the ImageSize bytes
// read from it with one ReadAt. A request without ImageReader is left as it is. It refuses, as
// every Processor does, an ImageSize over limit (ErrRequestTooLarge, nothing read), and an
// ImageSize without ImageReader or of zero, an ImageReader beside Image or File, or a reader
// that holds fewer bytes or fails (ErrInvalidArgument, the reader's error kept).
//
// The Client (limit: the daemon's max_frame) and goproc (its MaxInputBytes) call it first; a
// Processor of another package, such as one routing between them, can call it once so that
// every path after it sees plain bytes or a file.
func (r *ResizeRequest) ResolveReader(limit int64) error {
	data, f, err := resolveUpload(r.ImageReader, r.ImageSize, limit, "ImageReader", "ImageSize",
		r.Image != nil || r.File != nil)
	if err != nil {
		return uploadError(err)
	}
	if data != nil || f != nil {
		r.Image, r.File, r.ImageReader, r.ImageSize = data, f, nil, 0
	}
	return nil
}

// ResolveReader is ResizeRequest.ResolveReader for DataReader and DataSize: afterwards the
// request holds Data or File.
func (r *ChecksumRequest) ResolveReader(limit int64) error {
	data, f, err := resolveUpload(r.DataReader, r.DataSize, limit, "DataReader", "DataSize",
		r.Data != nil || r.File != nil)
	if err != nil {
		return uploadError(err)
	}
	if data != nil || f != nil {
		r.Data, r.File, r.DataReader, r.DataSize = data, f, nil, 0
	}
	return nil
}

// uploadError types a refused upload: ErrRequestTooLarge when its size is over the limit (nothing
// was read), ErrInvalidArgument otherwise (the cause, such as the reader's own error, kept).
func uploadError(err error) error {
	var ue *uploadRefusal
	if errors.As(err, &ue) && ue.TooLarge {
		return fmt.Errorf("%w: %v", ErrRequestTooLarge, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
}

// uploadLimit is the most bytes a Client reads from an upload's reader: the daemon's max_frame
// (from the latest hello; the default before the first), which no request can exceed.
func (c *Client) uploadLimit() int64 {
	if info := c.ServerInfo(); info != nil && info.MaxFrame > 0 {
		return info.MaxFrame
	}
	return DefaultMaxFrame
}

// uploadRefusal is a refused upload. TooLarge says that the stated size is over the path's limit (uploadError
// maps it to ErrRequestTooLarge); otherwise the request itself is wrong or its
// reader failed (invalid_argument).
type uploadRefusal struct {
	TooLarge bool
	Err      error
}

func (e *uploadRefusal) Error() string { return e.Err.Error() }
func (e *uploadRefusal) Unwrap() error { return e.Err }

// resolveUpload checks an upload and returns either a file to pass as it is or the bytes read.
//
// r is the reader and size the number of bytes from offset 0 that are the input; readerField and
// sizeField name them in errors; others reports whether the request's other inputs (the bytes
// field, File) are set too, which is refused. A size of zero or less is refused, and a size over
// limit is refused before anything is read. An *os.File whose size is exactly size is returned
// as the file; any other reader is read with one ReadAt (a multipart.File, an io.SectionReader, a
// bytes.Reader), and one holding fewer than size bytes is refused.
//
// A nil r returns nothing (the request has no upload), unless size is set, which is refused.
func resolveUpload(r io.ReaderAt, size, limit int64, readerField, sizeField string, others bool) ([]byte, *os.File, error) {
	if r == nil {
		if size != 0 {
			return nil, nil, &uploadRefusal{Err: fmt.Errorf("%s is set without %s", sizeField, readerField)}
		}
		return nil, nil, nil
	}
	if others {
		return nil, nil, &uploadRefusal{Err: fmt.Errorf("set one input: %s, or its bytes, or File", readerField)}
	}
	if size <= 0 {
		return nil, nil, &uploadRefusal{Err: fmt.Errorf("%s is %d: give the number of bytes %s holds", sizeField, size, readerField)}
	}
	if size > limit {
		return nil, nil, &uploadRefusal{TooLarge: true, Err: fmt.Errorf("%s of %d bytes, limit %d", readerField, size, limit)}
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
		return nil, nil, &uploadRefusal{Err: fmt.Errorf("%s holds %d bytes, %s says %d", readerField, n, sizeField, size)}
	}
	return nil, nil, &uploadRefusal{Err: fmt.Errorf("reading %s: %w", readerField, err)}
}
