// Package ferry moves the CPU-hot work of a Go service (thumbnails, checksums) to ferryd, a Rust
// daemon on the same machine, over a Unix socket.
//
// A Client speaks ferry's wire protocol (protocol/SPEC.md: length-prefixed MessagePack frames). It
// is safe for concurrent use: requests from any number of goroutines share a small pool of
// connections, many in flight on each, matched to their replies by id. Create one per daemon and
// share it.
//
//	c, err := ferry.Dial(ctx, "/run/ferry/ferryd.sock")
//	if err != nil {
//		return err // errors.Is(err, ferry.ErrUnavailable): the daemon is not running
//	}
//	defer c.Close()
//
//	thumb, err := c.Resize(ctx, ferry.ResizeRequest{Image: photo, Width: 400, Height: 400})
//	switch {
//	case errors.Is(err, ferry.ErrBadImage), errors.Is(err, ferry.ErrImageTooLarge):
//		// the input is refused: retrying anywhere fails the same way
//	case ferry.SafeToRetry(err):
//		// busy, shutting down, unreachable, connection lost: try again later or elsewhere
//	case err != nil:
//		return err
//	}
//	_ = thumb.Image // JPEG (the default), at most 400x400, aspect ratio kept
//
// Several sizes of one photo are one request: with ResizeRequest.Outputs the daemon decodes the
// photo once and makes each output from it (ResizeResult.Outputs, in request order).
//
// Every mode ENLARGES an image smaller than its box by default (ModeFit puts a 640x427 photo into
// a 1200 box at 1200x801); ResizeRequest.NoEnlarge (OutputSpec.NoEnlarge per output) keeps each
// output no larger than its input. Probe says what an upload is from its header alone (format,
// upright size, orientation, alpha, ICC, progressive, frames, the memory a thumbnail of it would
// take) without making a thumbnail and without a worker of the daemon (Prober).
//
// # Files by descriptor
//
// ChecksumFile and ResizeFile (or ChecksumRequest.File, ResizeRequest.File) pass an open file's
// descriptor over the socket (SCM_RIGHTS) instead of its bytes: the daemon reads the file itself
// with pread, so a large file is never copied through the connection and the caller's offset
// never moves. The file must be a regular file open for reading (ErrBadFile otherwise) and stay
// open until the call returns; the in-process Go path and the router accept the same requests.
//
// # Uploads
//
// An upload as net/http hands it over goes without a temporary file or a []byte of the
// caller's: ResizeRequest.ImageReader (a multipart.File) with ImageSize (its header's Size), or
// ChecksumRequest.DataReader with DataSize. An *os.File of exactly that size (multipart keeps
// large uploads in one) goes by descriptor; any other reader is read once, bounded by the size
// given and the daemon's max_frame. Format.MIMEType gives a result's Content-Type.
//
// # Platforms
//
// ferryd runs on Linux; a Client dials it over a Unix socket from any Unix. Where it cannot
// (Windows, any non-Unix GOOS), Dial fails with ErrUnsupportedPlatform wrapped in
// ErrUnavailable, and with WithLazyConnect returns a Client whose every call fails so, which the
// router treats as a daemon that is down. The in-process Go path (package goproc) and the router
// work everywhere.
//
// # Contexts, deadlines and cancellation
//
// Every call takes a context first. Its deadline travels with the request (as timeout_ms), so the
// daemon never starts a job whose caller has given up and stops a running one at its next check.
// Cancelling the context sends a cancel frame for the request. Either way the call returns at once
// with the context's error, wrapped, and the connection it shares with other calls stays up: a
// frame that was being written is finished from a copy of what is left, then cancelled: errors.Is(err, context.DeadlineExceeded) and
// errors.Is(err, context.Canceled) hold. A context that has already ended is not sent at all.
//
// # Errors
//
// Every error reply of the daemon is a *ServerError carrying the protocol's Code; sentinels such
// as ErrBadImage, ErrBusy, ErrDeadlineExceeded and ErrTooLargeForBudget match it by code with
// errors.Is. Failures on the client's side are ErrUnavailable (no connection could be made; a
// daemon that refuses this process wraps ErrPeerNotAllowed in it), ErrConnectionLost (the
// connection broke with the request in flight), ErrNotResponding (the daemon stopped answering,
// always with ErrConnectionLost), ErrRequestTooLarge (refused locally: over the daemon's
// advertised max_frame), ErrUnsupportedPlatform, ErrProtocol and ErrClosed. IsInvalidInput and SafeToRetry sort them for
// callers that retry or fall back to another path.
//
// # Overload
//
// A daemon with a full queue answers busy (ErrBusy). The Client then throttles itself, as
// Google's SRE book describes ("Handling Overload"): over a 10 s window it counts its resize and
// checksum requests and the daemon's accepts (every answer but busy), and refuses a request
// locally, without sending its image, with probability max(0, (requests - K*accepts) /
// (requests + 1)), K = 2, at most 95% (see Throttle). The daemon is then sent about twice what
// it accepts, keeping its queue full, instead of whole images it would read only to refuse. A
// local refusal is ErrThrottled, which also matches ErrBusy (SafeToRetry holds); it is held for
// a jittered DefaultThrottleHold (50 ms), never past the caller's context, so a caller that
// retries at once cannot spin on the cores the daemon needs. Retry busy errors after
// RetryAfter(err) (0 for the daemon's own busy answer: pick a short jittered backoff), within
// the request's deadline, or shed the request upstream. WithThrottle tunes K or turns the
// throttle off; Client.Throttle().Probability() shows it. Package router runs the same
// throttle, and keeps its own off in front of a Client that throttles itself.
//
// Two more local refusals (ErrThrottled too, held alike, off with the throttle) keep a busy
// answer from waiting behind other callers' images in the Client's own connections, which is
// where it waited for hundreds of milliseconds with hundreds of callers: a Client never has more
// jobs outstanding than the daemon's queue holds (ServerInfo.QueueJobs), since the daemon would
// refuse the next one, and only half of that while more of its calls want the daemon than that
// (a full queue makes each job wait longer and serves no more); and while the daemon answers busy, a job is not queued on a connection
// behind more than DefaultThrottleWriteWait (20 ms) of frames to write, by the connection's
// measured write rate, but sent on another connection with room or refused.
//
// # Connections
//
// Dial connects and performs the hello handshake (ServerInfo reports its result: the daemon's
// limits and capabilities), bounded by WithDialTimeout (DefaultDialTimeout, 1 s). A broken
// connection fails its own in-flight calls and is replaced on the next call, so a restarted
// daemon is picked up without any action from the caller. After a failed connection attempt,
// calls fail fast with ErrUnavailable for a short, growing backoff (DefaultRedialBackoff up to
// DefaultMaxRedialBackoff).
//
// A daemon that is stopped or wedged keeps its socket open and answers nothing. Each connection
// watches for that: while requests are pending and nothing has arrived for half the hang timeout
// it pings the daemon (answered even when every worker is busy, so a long job never looks like
// a hang), and when nothing at all has arrived for twice the hang timeout it fails its calls
// with ErrNotResponding. The hang timeout adapts like TCP's retransmission timer: a floor
// (WithHangTimeout, DefaultHangTimeout, 250 ms) raised by the measured ping round trips and their
// variance on a loaded host, up to DefaultMaxHangTimeout; Client.HangTimeout reports it. A
// stopped daemon thus costs a call in flight about 500 ms on an idle host, not its whole
// deadline, and a healthy daemon on a loaded host is not declared hung.
//
// The Client logs nothing.
//
// Payloads over 64 KiB are written to the socket from the caller's slice without a copy: do not
// modify a request's Image or Data until the call returns.
//
// # Related packages
//
// This package is the client alone: besides the standard library it depends only on its wire
// encoding (an internal package over github.com/tinylib/msgp), a few dozen packages in all. Package goproc is the in-process, pure-Go implementation of the same jobs, and package
// router routes between the two (policy, fallback, circuit breaker, shadow comparisons,
// Prometheus metrics). Client, goproc.Processor and router.Router all implement Processor, the
// interface Go workers program against, so a worker can switch between them without other
// changes.
package ferry
