package ferry

import (
	"errors"
	"fmt"

	"github.com/ferryd/ferry/go-client/internal/upload"
)

// resolveImage replaces req.ImageReader by req.File (an *os.File of exactly ImageSize bytes) or
// req.Image (ImageSize bytes read from it), bounded by limit; see ResizeRequest.ImageReader.
func resolveImage(req *ResizeRequest, limit int64) error {
	data, f, err := upload.Resolve(req.ImageReader, req.ImageSize, limit, "ImageReader", "ImageSize",
		req.Image != nil || req.File != nil)
	if err != nil {
		return uploadError(err)
	}
	if data != nil || f != nil {
		req.Image, req.File, req.ImageReader, req.ImageSize = data, f, nil, 0
	}
	return nil
}

// resolveData is resolveImage for ChecksumRequest.DataReader.
func resolveData(req *ChecksumRequest, limit int64) error {
	data, f, err := upload.Resolve(req.DataReader, req.DataSize, limit, "DataReader", "DataSize",
		req.Data != nil || req.File != nil)
	if err != nil {
		return uploadError(err)
	}
	if data != nil || f != nil {
		req.Data, req.File, req.DataReader, req.DataSize = data, f, nil, 0
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
