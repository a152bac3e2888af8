package goproc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// Processor runs resize and checksum jobs in this process; see the package documentation for
// what it does and how its output differs from the daemon's. It is safe for concurrent use; its
// zero value is not usable, call New.
type Processor struct {
	limits Limits
	// slots bounds the jobs running at once (WithConcurrency): a job takes a slot before its
	// first decoder or hash runs and gives it back when its goroutine ends, abandoned or not, so
	// the bound holds for the CPU and memory really in use. A caller that finds every slot taken
	// waits at most queueWait (and its own context), then gets ErrSaturated.
	slots     chan struct{}
	queueWait time.Duration
}

// Defaults of the Go path's concurrency limit.
const (
	// DefaultQueueWait is how long a job waits for a free slot before the call fails with
	// ErrSaturated. Long enough to ride out a burst of short jobs, short enough that an overloaded
	// process answers promptly.
	DefaultQueueWait = time.Second
)

// DefaultConcurrency is the default number of Go jobs that run at once: runtime.GOMAXPROCS(0)
// when New is called, one per core the process may use (resize and checksum are CPU-bound).
func DefaultConcurrency() int { return runtime.GOMAXPROCS(0) }

// ErrSaturated: every Go job slot stayed taken for the queue wait (or until the caller's context
// ended); the job was not started. It wraps ferry.ErrBusy, so ferry.SafeToRetry holds, and
// the context's error when that ended the wait. The router turns it into router.ErrOverloaded.
var ErrSaturated = errors.New("ferry goproc: every Go job slot is taken")

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

// WithConcurrency sets how many jobs run at once (DefaultConcurrency() when n <= 0). Calls beyond
// it wait for a slot (see WithQueueWait).
func WithConcurrency(n int) Option {
	return func(p *Processor) {
		if n > 0 {
			p.slots = make(chan struct{}, n)
		}
	}
}

// WithQueueWait sets how long a call waits for a free job slot before it fails with
// ErrSaturated (DefaultQueueWait when d is 0; a negative d means no wait at all). The caller's
// context bounds the wait too.
func WithQueueWait(d time.Duration) Option {
	return func(p *Processor) {
		if d != 0 {
			p.queueWait = max(d, 0)
		}
	}
}

// New returns an in-process processor with DefaultLimits, DefaultConcurrency() job slots and
// DefaultQueueWait unless options say otherwise.
func New(opts ...Option) *Processor {
	p := &Processor{limits: DefaultLimits, queueWait: DefaultQueueWait}
	for _, o := range opts {
		o(p)
	}
	if p.slots == nil {
		p.slots = make(chan struct{}, DefaultConcurrency())
	}
	return p
}

// Concurrency returns the number of job slots.
func (p *Processor) Concurrency() int { return cap(p.slots) }

// Running returns the number of jobs holding a slot now: running, or abandoned by their caller
// and still finishing their current stage. It never exceeds Concurrency.
func (p *Processor) Running() int { return len(p.slots) }

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

// acquire takes a job slot, waiting at most the queue wait and until ctx ends.
func (p *Processor) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	if p.queueWait <= 0 {
		return fmt.Errorf("%w (%d running): %w", ErrSaturated, cap(p.slots), ferry.ErrBusy)
	}
	t := time.NewTimer(p.queueWait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		return fmt.Errorf("%w (%d running) for %v: %w", ErrSaturated, cap(p.slots), p.queueWait, ferry.ErrBusy)
	case <-ctx.Done():
		return fmt.Errorf("%w (%d running) until the context ended: %w: %w", ErrSaturated, cap(p.slots),
			ferry.ErrBusy, ctx.Err())
	}
}

func (p *Processor) release() { <-p.slots }

// runLimited runs job in a job slot, on its own goroutine, and waits for it or for the end of
// ctx, whichever comes first: Go's decoders and scalers cannot be interrupted, so this is what
// keeps a caller's deadline. An abandoned job keeps its slot until it stops, at its next stage
// check; its result is dropped.
func runLimited[T any](ctx context.Context, p *Processor, job func() (T, error)) (T, error) {
	var zero T
	if err := p.acquire(ctx); err != nil {
		return zero, err
	}
	if ctx.Done() == nil {
		defer p.release()
		return job()
	}
	type outcome struct {
		v   T
		err error
	}
	done := make(chan outcome, 1) // buffered: an abandoned job must not block on sending
	go func() {
		var o outcome
		func() {
			defer p.release()
			o.v, o.err = job()
		}()
		// Freed before the result is sent: once a caller has its result, its slot is free
		// (Running counts it no longer).
		done <- o
	}()
	select {
	case o := <-done:
		return o.v, o.err
	case <-ctx.Done():
		return zero, stageCheck(ctx, "the job finished")
	}
}
