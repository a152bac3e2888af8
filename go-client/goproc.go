package ferry

import (
	"context"
	"errors"
	"fmt"
)

// GoProcessor is the in-process, pure-Go implementation of the daemon's jobs: the same requests,
// the same results, the same refusals with the same codes (protocol/SPEC.md sections 5.3, 5.4
// and 6). It needs no daemon, so it is what the Router falls back to, and what a service runs
// when the Rust path is switched off.
//
// What differs from ferryd, by design or for lack of a pure-Go library:
//   - WebP output is lossless (VP8L, github.com/HugoSmits86/nativewebp): Quality is ignored and
//     files are larger than the daemon's lossy WebP. Same size, same pixels up to rounding.
//   - Embedded ICC profiles are not applied: pixels are taken as sRGB (the daemon converts with
//     Little CMS), and CMYK JPEGs use the standard library's naive conversion. KeepICC and
//     KeepMetadata copy the profile, EXIF and XMP into JPEG and PNG output (see
//     goproc_metadata.go), not into WebP.
//   - Lanczos3 is a true 3-lobe Lanczos kernel through golang.org/x/image/draw.Kernel; nearest,
//     bilinear and Catmull-Rom are x/image/draw's own. A fill crop is rounded to whole source
//     pixels (the daemon keeps it fractional): at most half a pixel of shift.
//   - Decoders cannot be interrupted: the context is checked between stages, and a call whose
//     context ends returns at once while the abandoned stage finishes in the background.
//
// A GoProcessor is safe for concurrent use; its zero value is not usable, call NewGoProcessor.
type GoProcessor struct {
	limits GoLimits
}

// GoLimits are the input limits the Go path enforces before decoding, the same as the daemon's
// (SPEC.md 5.1 hello reply, 5.3 Limits).
type GoLimits struct {
	// MaxPixels bounds width x height of an input image, read from its header.
	MaxPixels int64
	// MaxDimension bounds the input's width and height and each side of the requested box.
	MaxDimension int
	// MaxInputBytes bounds the size of Image or Data: a request the daemon could not receive
	// (its frame would exceed max_frame) is refused here too, with ErrRequestTooLarge.
	MaxInputBytes int
}

// DefaultGoLimits are the daemon's default limits.
var DefaultGoLimits = GoLimits{
	MaxPixels:     DefaultMaxPixels,
	MaxDimension:  DefaultMaxDimension,
	MaxInputBytes: DefaultMaxFrame,
}

// GoOption configures a GoProcessor; pass options to NewGoProcessor.
type GoOption func(*GoProcessor)

// WithGoLimits sets the input limits. A zero field keeps its DefaultGoLimits value. Give the
// Go path the limits the daemon was started with (ferryd --max-pixels and friends, or the
// Client's ServerInfo) so both paths refuse the same inputs.
func WithGoLimits(l GoLimits) GoOption {
	return func(p *GoProcessor) {
		if l.MaxPixels > 0 {
			p.limits.MaxPixels = l.MaxPixels
		}
		if l.MaxDimension > 0 {
			p.limits.MaxDimension = l.MaxDimension
		}
		if l.MaxInputBytes > 0 {
			p.limits.MaxInputBytes = l.MaxInputBytes
		}
	}
}

// NewGoProcessor returns an in-process processor with DefaultGoLimits unless options say
// otherwise.
func NewGoProcessor(opts ...GoOption) *GoProcessor {
	p := &GoProcessor{limits: DefaultGoLimits}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Limits returns the limits in force.
func (p *GoProcessor) Limits() GoLimits { return p.limits }

// The in-process path is one of the interchangeable Processors.
var _ Processor = (*GoProcessor)(nil)

// ctxError is how the Go path reports a context that ended: it is a *ServerError with the code
// the daemon would answer (deadline_exceeded or cancelled), so errors.As and the ErrDeadline...
// sentinel work as they do for daemon replies, and it also wraps the context's own error, so
// errors.Is(err, context.DeadlineExceeded) holds as it does for the Client's local timeouts.
type ctxError struct {
	se    *ServerError
	cause error
}

func (e *ctxError) Error() string   { return e.se.Error() }
func (e *ctxError) Unwrap() []error { return []error{e.se, e.cause} }

// stageCheck returns the Go path's error for ctx if it has ended, naming the stage about to run.
func stageCheck(ctx context.Context, stage string) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	code := CodeCancelled
	verb := "cancelled"
	if errors.Is(err, context.DeadlineExceeded) {
		code, verb = CodeDeadlineExceeded, "deadline passed"
	}
	return &ctxError{
		se:    &ServerError{Code: code, Message: fmt.Sprintf("%s before %s", verb, stage)},
		cause: err,
	}
}

// refuse builds the Go path's refusal with a daemon error code.
func refuse(code Code, format string, args ...any) *ServerError {
	return &ServerError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// runAbandonable runs job on its own goroutine and waits for it or for the end of ctx, whichever
// comes first: Go's decoders and scalers cannot be interrupted, so this is what keeps a caller's
// deadline. An abandoned job stops at its next stage check; its result is dropped.
func runAbandonable[T any](ctx context.Context, job func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return job()
	}
	type outcome struct {
		v   T
		err error
	}
	done := make(chan outcome, 1) // buffered: an abandoned job must not block on sending
	go func() {
		v, err := job()
		done <- outcome{v, err}
	}()
	select {
	case o := <-done:
		return o.v, o.err
	case <-ctx.Done():
		var zero T
		return zero, stageCheck(ctx, "the job finished")
	}
}
