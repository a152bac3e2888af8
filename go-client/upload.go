package ferry

import (
	"errors"
	"fmt"

	"github.com/ferryd/ferry/go-client/internal/upload"
)

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
	data, f, err := upload.Resolve(r.ImageReader, r.ImageSize, limit, "ImageReader", "ImageSize",
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
	data, f, err := upload.Resolve(r.DataReader, r.DataSize, limit, "DataReader", "DataSize",
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
	var ue *upload.Error
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
