package goproc

import (
	"errors"
	"fmt"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/upload"
)

// resolveImage replaces req.ImageReader by req.File (an *os.File of exactly ImageSize bytes,
// then read with ReadAt like any File) or req.Image (ImageSize bytes read from it), within
// MaxInputBytes: the same rules as the Client's, from the same code.
func (p *Processor) resolveImage(req *ferry.ResizeRequest) error {
	data, f, err := upload.Resolve(req.ImageReader, req.ImageSize, int64(p.limits.MaxInputBytes),
		"ImageReader", "ImageSize", req.Image != nil || req.File != nil)
	if err != nil {
		return uploadError(err)
	}
	if data != nil || f != nil {
		req.Image, req.File, req.ImageReader, req.ImageSize = data, f, nil, 0
	}
	return nil
}

// resolveData is resolveImage for ChecksumRequest.DataReader.
func (p *Processor) resolveData(req *ferry.ChecksumRequest) error {
	data, f, err := upload.Resolve(req.DataReader, req.DataSize, int64(p.limits.MaxInputBytes),
		"DataReader", "DataSize", req.Data != nil || req.File != nil)
	if err != nil {
		return uploadError(err)
	}
	if data != nil || f != nil {
		req.Data, req.File, req.DataReader, req.DataSize = data, f, nil, 0
	}
	return nil
}

// uploadError types a refused upload as the Client does: ferry.ErrRequestTooLarge over the
// limit, ferry.ErrInvalidArgument otherwise.
func uploadError(err error) error {
	var ue *upload.Error
	if errors.As(err, &ue) && ue.TooLarge {
		return fmt.Errorf("%w: %v", ferry.ErrRequestTooLarge, err)
	}
	return fmt.Errorf("%w: %w", ferry.ErrInvalidArgument, err)
}
