package ferry

import (
	"context"
	"fmt"
	"os"
)

// ChecksumFile computes every digest in algs over the whole of f in the daemon, which reads the
// file itself: f's descriptor is passed over the socket (checksum_file, SPEC.md 5.7), so its
// bytes are never copied through the connection. f must be a regular file open for reading; the
// daemon reads it from offset 0 to its size at that moment with pread, never moving f's offset.
// A file that is no regular file, or that changes size while being read, fails with ErrBadFile.
// f must stay open until ChecksumFile returns.
func (c *Client) ChecksumFile(ctx context.Context, f *os.File, algs ...Algorithm) (*ChecksumResult, error) {
	return c.Checksum(ctx, ChecksumRequest{File: f, Algorithms: algs})
}

// ResizeFile is Resize of the image in f, passed by descriptor (resize_file, SPEC.md 5.7):
// req.Image must be nil. The file's size must be at most the daemon's max_frame
// (ErrImageTooLarge otherwise). f must stay open until ResizeFile returns.
func (c *Client) ResizeFile(ctx context.Context, f *os.File, req ResizeRequest) (*ResizeResult, error) {
	req.File = f
	return c.Resize(ctx, req)
}

// checkFileInput refuses a request that sets both a payload and a file, or a file that is
// already closed (whose descriptor could not be sent).
func checkFileInput(f *os.File, payload []byte, payloadName string) error {
	if payload != nil {
		return &ServerError{Code: CodeInvalidArgument, Message: fmt.Sprintf("set %s or File, not both", payloadName)}
	}
	if _, err := f.Stat(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFile, err)
	}
	return nil
}
