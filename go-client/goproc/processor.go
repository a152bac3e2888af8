package goproc

import (
	"context"
	"errors"
	"fmt"

	ferry "github.com/ferryd/ferry/go-client"
)

// Processor runs resize and checksum jobs in this process; see the package documentation for
// what it does and how its output differs from the daemon's. It is safe for concurrent use; its
// zero value is not usable, call New.
type Processor struct {
	limits Limits
}

// Limits are the input limits the Go path enforces before decoding, the same as the daemon's
// (SPEC.md 5.1 hello reply, 5.3 Limits).
type Limits struct {
	// MaxPixels bounds width x height of an input image, read from its header.
	MaxPixels int64
	// MaxDimension bounds the input's width and height and each side of the requested box.
	MaxDimension int
	// MaxInputBytes bounds the size of Image or Data: a request the daemon could not receive
	// (its frame would exceed max_frame) is refused here too, with ferry.ErrRequestTooLarge.
	MaxInputBytes int
}

// DefaultLimits are the daemon's default limits.
var DefaultLimits = Limits{
	MaxPixels:     ferry.DefaultMaxPixels,
	MaxDimension:  ferry.DefaultMaxDimension,
	MaxInputBytes: ferry.DefaultMaxFrame,
}

// Option configures a Processor; pass options to New.
type Option func(*Processor)

// WithLimits sets the input limits. A zero field keeps its DefaultLimits value. Give the
// Go path the limits the daemon was started with (ferryd --max-pixels and friends, or the
// ferry.Client's ferry.ServerInfo) so both paths refuse the same inputs.
func WithLimits(l Limits) Option {
	return func(p *Processor) {
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

// New returns an in-process processor with DefaultLimits unless options say
// otherwise.
func New(opts ...Option) *Processor {
	p := &Processor{limits: DefaultLimits}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Limits returns the limits in force.
func (p *Processor) Limits() Limits { return p.limits }

// The in-process path is one of the interchangeable Processors.
var _ ferry.Processor = (*Processor)(nil)

// ctxError is how the Go path reports a context that ended: it is a *ferry.ServerError with the code
// the daemon would answer (deadline_exceeded or cancelled), so errors.As and the ErrDeadline...
// sentinel work as they do for daemon replies, and it also wraps the context's own error, so
// errors.Is(err, context.DeadlineExceeded) holds as it does for the ferry.Client's local timeouts.
type ctxError struct {
	se    *ferry.ServerError
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
	code := ferry.CodeCancelled
	verb := "cancelled"
	if errors.Is(err, context.DeadlineExceeded) {
		code, verb = ferry.CodeDeadlineExceeded, "deadline passed"
	}
	return &ctxError{
		se:    &ferry.ServerError{Code: code, Message: fmt.Sprintf("%s before %s", verb, stage)},
		cause: err,
	}
}

// refuse builds the Go path's refusal with a daemon error code.
func refuse(code ferry.Code, format string, args ...any) *ferry.ServerError {
	return &ferry.ServerError{Code: code, Message: fmt.Sprintf(format, args...)}
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
