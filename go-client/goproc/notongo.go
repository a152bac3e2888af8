package goproc

import (
	"errors"
	"fmt"

	ferry "github.com/ferryd/ferry/go-client"
)

// ErrNotOnGoPath: the Go path does not serve this input, though the daemon may: a HEIC image (no
// pure-Go HEVC decoder that this module may embed; see the package documentation) or an AVIF
// image whose primary item has a clean aperture (clap), a crop the Go path does not apply. Nothing was decoded. It is neither invalid input nor busy: retrying on the Go
// path cannot help. The router treats it like WithoutFallback for that input: no Go attempt, the
// daemon's answer is the caller's.
var ErrNotOnGoPath = errors.New("ferry goproc: not served on the Go path")

// notOnGoPath is ErrNotOnGoPath for an input of format f, saying why.
func notOnGoPath(f ferry.Format, why string) error {
	return fmt.Errorf("%w: %s input: %s", ErrNotOnGoPath, f, why)
}

// Serves returns nil when the Go path can serve req's input, or an error matching ErrNotOnGoPath
// when it cannot (see there), reading no more than the input's header: of Image, or of File
// through ReadAt. An input it cannot tell (unreadable, not an image) is left to Resize, which
// refuses it as the daemon would. The router calls it before it sends a request to Go.
func (p *Processor) Serves(req *ferry.ResizeRequest) error {
	head := req.Image
	if req.File != nil {
		buf := make([]byte, servesHeadBytes)
		n, _ := req.File.ReadAt(buf, 0)
		head = buf[:n]
	}
	f, err := sniffFormat(head)
	if err != nil {
		return nil
	}
	switch f {
	case ferry.FormatHEIC:
		return notOnGoPath(f, "no HEVC decoder on the Go path")
	case ferry.FormatAVIF:
		h, err := readHEIFHeader(head, f)
		if err == nil && h.cropped {
			return notOnGoPath(f, "the primary image has a clean aperture (clap), a crop the Go path does not apply")
		}
	}
	return nil
}

// servesHeadBytes is how much of a file Serves reads: HEIF headers (ftyp, meta) fit in a few
// KiB ahead of the media data; a meta box past it is read whole by Resize.
const servesHeadBytes = 64 << 10
