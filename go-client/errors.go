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
	// CodeTooLargeForBudget: one job's estimated memory alone exceeds the daemon's whole memory
	// budget, so this daemon can never run it (another path may).
	CodeTooLargeForBudget Code = 13
	// CodePeerNotAllowed: the daemon's uid/gid allowlist refuses this process; sent right after
	// connecting, then the daemon closes the connection.
	CodePeerNotAllowed Code = 14
	// CodeBadFile: a ChecksumFile/ResizeFile descriptor did not reach the daemon, is not a
	// regular file open for reading, or the file changed size while the daemon read it.
	CodeBadFile Code = 15
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
	CodeTooLargeForBudget:  "too_large_for_budget",
	CodePeerNotAllowed:     "peer_not_allowed",
	CodeBadFile:            "bad_file",
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
	// ErrTooLargeForBudget: the job could never fit this daemon's memory budget. Not safe to
	// retry on the same daemon, and not a fault of the input either: the in-process Go path,
	// which has no such budget, may serve it (the router falls back on it).
	ErrTooLargeForBudget error = &ServerError{Code: CodeTooLargeForBudget}
	// ErrPeerNotAllowed: the daemon refuses this process's uid/gid. Dial and calls fail with it
	// wrapped in ErrUnavailable; retrying does not help until the daemon's allowlist changes.
	ErrPeerNotAllowed error = &ServerError{Code: CodePeerNotAllowed}
	// ErrBadFile: the file passed by descriptor is not a readable regular file, or it changed
	// while being read. The in-process Go path refuses the same files.
	ErrBadFile error = &ServerError{Code: CodeBadFile}
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
	// ErrNotResponding: the daemon received requests but sent nothing back, not even the answer
	// to a ping, for the hang timeout (WithHangTimeout): it is stopped or wedged. Always wrapped
	// together with ErrConnectionLost, so SafeToRetry holds.
	ErrNotResponding = errors.New("ferry: daemon not responding")
	// ErrUnsupportedPlatform: this platform cannot talk to ferryd (Windows, and any GOOS that
	// is not Unix): ferryd does not run there and a file cannot be passed by descriptor. Dial
	// fails with it, wrapped in ErrUnavailable; with WithLazyConnect, Dial succeeds and every
	// call fails so, which lets the router (package router) serve everything on the Go path.
	// Not safe to retry. The in-process Go path (package goproc) works on every platform.
	ErrUnsupportedPlatform = errors.New("ferry: ferryd is not supported on this platform")
)

// IsInvalidInput reports whether err is a refusal of the request itself (bad image, over limits,
// bad arguments): sending it again, to either path, fails the same way. too_large_for_budget is
// not one: the daemon's memory budget refuses it, the Go path may still serve it.
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
// shutting down, unreachable, not responding or failed internally, or the connection broke.
// Refusals of the input, cancellations and caller deadlines are not safe to retry: a
// deadline_exceeded request sent again with the same budget fails the same way (SPEC.md section
// 6: only a larger budget may help, and that is the caller's decision, not a retry loop's).
// Neither are too_large_for_budget (this daemon can never run the job; the Go path may) and
// peer_not_allowed (the daemon refuses this process), even when they come wrapped in
// ErrUnavailable from a refused connection, nor ErrUnsupportedPlatform.
func SafeToRetry(err error) bool {
	if err == nil {
		return false
	}
	var se *ServerError
	hasCode := errors.As(err, &se)
	if hasCode && (se.Code == CodeTooLargeForBudget || se.Code == CodePeerNotAllowed) {
		return false
	}
	if errors.Is(err, ErrUnsupportedPlatform) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConnectionLost) {
		return true
	}
	if hasCode {
		switch se.Code {
		case CodeBusy, CodeShuttingDown, CodeInternal:
			return true
		}
	}
	return false
}
