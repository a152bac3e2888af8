package ferry

import (
	"errors"
	"fmt"
)

// Code is a stable error code from protocol/SPEC.md section 6.
type Code uint16

// The error codes. Their numbers never change.
const (
	CodeMalformed          Code = 1
	CodeUnsupportedVersion Code = 2
	CodeUnknownOp          Code = 3
	CodeInvalidArgument    Code = 4
	CodeFrameTooLarge      Code = 5
	CodeBadImage           Code = 6
	CodeImageTooLarge      Code = 7
	CodeDeadlineExceeded   Code = 8
	CodeCancelled          Code = 9
	CodeBusy               Code = 10
	CodeShuttingDown       Code = 11
	CodeInternal           Code = 12
)

var codeNames = map[Code]string{
	CodeMalformed:          "malformed",
	CodeUnsupportedVersion: "unsupported_version",
	CodeUnknownOp:          "unknown_op",
	CodeInvalidArgument:    "invalid_argument",
	CodeFrameTooLarge:      "frame_too_large",
	CodeBadImage:           "bad_image",
	CodeImageTooLarge:      "image_too_large",
	CodeDeadlineExceeded:   "deadline_exceeded",
	CodeCancelled:          "cancelled",
	CodeBusy:               "busy",
	CodeShuttingDown:       "shutting_down",
	CodeInternal:           "internal",
}

// String returns the code's name in the spec, e.g. "bad_image".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", uint16(c))
}

// ServerError is a request refused by a job: by the daemon (every error reply becomes one), or by
// the in-process Go path, which refuses bad input with the same codes.
type ServerError struct {
	Code    Code
	Message string
}

func (e *ServerError) Error() string {
	if e.Message == "" {
		return "ferry: " + e.Code.String()
	}
	return "ferry: " + e.Code.String() + ": " + e.Message
}

// Is makes errors.Is(err, ferry.ErrBusy) and the other code sentinels match any ServerError with
// the same code, whatever its message.
func (e *ServerError) Is(target error) bool {
	t, ok := target.(*ServerError)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for the server codes a caller most often branches on; compare with errors.Is.
var (
	ErrBadImage         error = &ServerError{Code: CodeBadImage}
	ErrImageTooLarge    error = &ServerError{Code: CodeImageTooLarge}
	ErrInvalidArgument  error = &ServerError{Code: CodeInvalidArgument}
	ErrBusy             error = &ServerError{Code: CodeBusy}
	ErrShuttingDown     error = &ServerError{Code: CodeShuttingDown}
	ErrDeadlineExceeded error = &ServerError{Code: CodeDeadlineExceeded}
)

// Client-side failures: nothing came back from a job.
var (
	// ErrClosed: the Client was closed before or during the call.
	ErrClosed = errors.New("ferry: client closed")
	// ErrUnavailable: no connection to the daemon could be made (not running, socket missing,
	// permission denied). Wrapped with the dial error.
	ErrUnavailable = errors.New("ferry: daemon unavailable")
	// ErrConnectionLost: the connection broke while the request was in flight; the request may or
	// may not have run.
	ErrConnectionLost = errors.New("ferry: connection lost")
	// ErrRequestTooLarge: the encoded request would exceed the daemon's max_frame; nothing was sent.
	ErrRequestTooLarge = errors.New("ferry: request exceeds max frame size")
	// ErrProtocol: the daemon sent something this client cannot read.
	ErrProtocol = errors.New("ferry: protocol error")
)

// IsInvalidInput reports whether err is a refusal of the request itself (bad image, over limits,
// bad arguments): sending it again, to either path, fails the same way.
func IsInvalidInput(err error) bool {
	if errors.Is(err, ErrRequestTooLarge) {
		return true
	}
	var se *ServerError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case CodeMalformed, CodeUnknownOp, CodeInvalidArgument, CodeBadImage, CodeImageTooLarge,
		CodeFrameTooLarge, CodeUnsupportedVersion:
		return true
	}
	return false
}

// SafeToRetry reports whether sending the same request again may succeed: the daemon was busy,
// shutting down, unreachable or failed internally, or the connection broke. Refusals of the input,
// cancellations and caller deadlines are not safe to retry: a deadline_exceeded request sent again
// with the same budget fails the same way (SPEC.md section 6: only a larger budget may help, and
// that is the caller's decision, not a retry loop's).
func SafeToRetry(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConnectionLost) {
		return true
	}
	var se *ServerError
	if errors.As(err, &se) {
		switch se.Code {
		case CodeBusy, CodeShuttingDown, CodeInternal:
			return true
		}
		return false
	}
	return false
}
