//! One client connection: read frames, answer or start each request, send replies in whatever
//! order they finish (SPEC.md 3.4), honour `cancel`, deadlines, the queue bound and shutdown.
//!
//! Two futures share one task: the reader ([`Session`]) and the writer ([`super::writer`]),
//! joined rather than spawned so a `ping` reply is handed from one to the other without waking
//! another thread. They talk through a bounded channel of encoded replies; when it is full the
//! reader waits, so a client that stops reading its replies stops being read from (SPEC.md 7),
//! and memory per connection stays bounded.

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::net::unix::OwnedReadHalf;
use tokio::net::UnixStream;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::dispatch::{self, Job};
use super::{writer, State};
use crate::cpu_pool::JobPanicked;
use crate::jobs::JobControl;
use crate::protocol::codec::{FrameDecoder, Inbound, PREFIX_LEN};
use crate::protocol::error_code::{ErrorCode, WireError};
use crate::protocol::request::{self, Body, Op};
use crate::protocol::response::{self, ReplyBody, ReplyFrame};

/// Replies that may wait for the writer. Beyond this the reader pauses (backpressure).
const REPLY_BACKLOG: usize = 1024;

/// After end of stream, how often to check whether the peer closed entirely (rather than only
/// its write side), so that its jobs can be cancelled instead of finished for nobody.
const HANGUP_POLL: Duration = Duration::from_millis(50);

/// Serves one connection until the client is done and answered, the peer goes away, or shutdown
/// closes it.
pub async fn serve(stream: UnixStream, state: Arc<State>) {
    let _counted = state.counters.connection_opened();
    let (read_half, write_half) = stream.into_split();
    let (replies, outbox) = mpsc::channel(REPLY_BACKLOG);
    let peer_gone = CancellationToken::new();
    let writer = writer::run(write_half, outbox, peer_gone.clone(), state.closing.clone());
    let frames = FramedRead::new(read_half, FrameDecoder::new(state.max_frame));
    let session = Session {
        state: Arc::clone(&state),
        replies,
        peer_gone,
        in_flight: HashMap::new(),
        pending: FuturesUnordered::new(),
        draining: false,
    };
    tracing::debug!("connection opened");
    tokio::join!(session.run(frames), writer);
    tracing::debug!("connection closed");
}

/// A job's result on its way back to the connection, with what the log line needs.
struct Finished {
    id: u64,
    op: Op,
    bytes_in: usize,
    arrived: Instant,
    result: Result<Result<ReplyBody, WireError>, JobPanicked>,
}

type PendingJob = Pin<Box<dyn Future<Output = Finished> + Send>>;

/// What woke the reader.
enum Event {
    /// Shutdown's grace period is over, or the peer is gone: drop everything.
    Abandon(&'static str),
    /// A job finished.
    Finished(Finished),
    /// Shutdown began.
    Draining,
    /// The decoder produced something, hit end of stream (`None`) or failed.
    Read(Option<std::io::Result<Inbound>>),
    /// Time to check whether a half-closed peer is still there.
    HangupCheck,
}

/// The reader side of a connection and the requests it has in flight.
struct Session {
    state: Arc<State>,
    /// Encoded replies for the writer; bounded (see [`REPLY_BACKLOG`]).
    replies: mpsc::Sender<ReplyFrame>,
    /// Cancelled by the writer when a write fails.
    peer_gone: CancellationToken,
    /// Requests running or queued on the pool, by id: their controls, for `cancel` and for
    /// abandoning them when the peer goes away.
    in_flight: HashMap<u64, JobControl>,
    /// The same requests' results, as they complete.
    pending: FuturesUnordered<PendingJob>,
    /// Shutdown has begun: new requests are answered `shutting_down`.
    draining: bool,
}

impl Session {
    async fn run(mut self, mut frames: FramedRead<OwnedReadHalf, FrameDecoder>) {
        let fd = frames.get_ref().as_ref().as_raw_fd();
        let mut reading = true;
        let mut hangup = tokio::time::interval(HANGUP_POLL);
        hangup.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.pending.is_empty() && (!reading || self.draining) {
                break;
            }
            let event = tokio::select! {
                biased;
                _ = self.state.closing.cancelled() => Event::Abandon("daemon closing"),
                _ = self.peer_gone.cancelled() => Event::Abandon("peer gone"),
                Some(done) = self.pending.next(), if !self.pending.is_empty() => Event::Finished(done),
                _ = self.state.draining.cancelled(), if !self.draining => Event::Draining,
                item = frames.next(), if reading => Event::Read(item),
                _ = hangup.tick(), if !reading => Event::HangupCheck,
            };
            match event {
                Event::Abandon(why) => return self.abandon(why),
                Event::Finished(done) => self.finish(done).await,
                Event::Draining => self.draining = true,
                Event::Read(Some(Ok(Inbound::Frame(body)))) => self.on_frame(body).await,
                Event::Read(Some(Ok(Inbound::Empty))) => {
                    let error = WireError::new(ErrorCode::Malformed, "empty frame (N = 0)");
                    self.reply_error(0, None, PREFIX_LEN, Instant::now(), error).await;
                }
                Event::Read(Some(Ok(Inbound::TooLarge { len }))) => {
                    let message = format!("frame of {len} bytes exceeds max_frame {}", self.state.max_frame);
                    self.reply_error(
                        0,
                        None,
                        PREFIX_LEN,
                        Instant::now(),
                        WireError::new(ErrorCode::FrameTooLarge, message),
                    )
                    .await;
                    // The body is never read; requests already in flight are still answered.
                    reading = false;
                }
                Event::Read(Some(Err(error))) => {
                    tracing::debug!(%error, "read failed");
                    return self.abandon("read failed");
                }
                Event::Read(None) => reading = false,
                Event::HangupCheck => {
                    if peer_hung_up(fd) {
                        return self.abandon("peer hung up");
                    }
                }
            }
        }
    }

    /// Cancels every job of this connection; their results will not be sent.
    fn abandon(self, why: &'static str) {
        if !self.in_flight.is_empty() {
            tracing::debug!(jobs = self.in_flight.len(), why, "abandoning in-flight requests");
        }
        for ctl in self.in_flight.values() {
            ctl.cancel();
        }
    }

    async fn on_frame(&mut self, body: Bytes) {
        let arrived = Instant::now();
        let bytes_in = body.len() + PREFIX_LEN;
        let request = match request::decode(&body) {
            Ok(request) => request,
            Err(rejected) => {
                return self.reply_error(rejected.id, rejected.op, bytes_in, arrived, rejected.error).await
            }
        };
        let (id, op) = (request.id, request.body.op());
        if op == Op::Cancel {
            let found = self.in_flight.get(&id).inspect(|ctl| ctl.cancel()).is_some();
            tracing::debug!(target: "ferryd::request", id, op = "cancel", bytes_in, found, "cancel");
            return;
        }
        if self.in_flight.contains_key(&id) {
            let error =
                WireError::new(ErrorCode::InvalidArgument, format!("id {id} is already in flight on this connection"));
            return self.reply_error(id, Some(op), bytes_in, arrived, error).await;
        }
        if self.draining {
            let error = WireError::new(ErrorCode::ShuttingDown, "daemon is shutting down");
            return self.reply_error(id, Some(op), bytes_in, arrived, error).await;
        }
        let job = match request.body {
            Body::Ping => return self.reply(id, op, bytes_in, arrived, Ok(ReplyBody::Ping)).await,
            Body::Stats => return self.reply(id, op, bytes_in, arrived, Ok(dispatch::stats(&self.state))).await,
            Body::Hello(hello) => {
                tracing::info!(client = hello.client.as_deref().unwrap_or("-"), versions = ?hello.versions, "hello");
                return self.reply(id, op, bytes_in, arrived, dispatch::hello(&self.state, &hello)).await;
            }
            Body::Resize(resize) => Job::Resize(resize),
            Body::Checksum(checksum) => Job::Checksum(checksum),
            Body::Cancel => unreachable!("handled above"),
        };
        self.start(id, op, request.timeout_ms, job, bytes_in, arrived).await;
    }

    /// Queues a job on the pool, or answers at once when it cannot run.
    async fn start(&mut self, id: u64, op: Op, timeout_ms: Option<u32>, job: Job, bytes_in: usize, arrived: Instant) {
        if timeout_ms == Some(0) {
            let error = WireError::new(
                ErrorCode::DeadlineExceeded,
                "timeout_ms is 0: the deadline passed before the job was queued",
            );
            return self.reply_error(id, Some(op), bytes_in, arrived, error).await;
        }
        let ctl = JobControl::new(timeout_ms.map(|ms| arrived + Duration::from_millis(ms.into())));
        let payload = job.payload_len();
        let work = job.into_work(ctl.clone(), self.state.limits, self.state.draining.clone());
        let work = self.state.counters.time_job(op, work);
        match self.state.pool.try_spawn(payload, work) {
            Err(busy) => {
                let error = WireError::new(ErrorCode::Busy, busy.to_string());
                self.reply_error(id, Some(op), bytes_in, arrived, error).await;
            }
            Ok(handle) => {
                self.in_flight.insert(id, ctl);
                self.pending
                    .push(Box::pin(async move { Finished { id, op, bytes_in, arrived, result: handle.await } }));
            }
        }
    }

    async fn finish(&mut self, done: Finished) {
        self.in_flight.remove(&done.id);
        let result =
            done.result.unwrap_or_else(|panicked| Err(WireError::new(ErrorCode::Internal, panicked.to_string())));
        self.reply(done.id, done.op, done.bytes_in, done.arrived, result).await;
    }

    async fn reply_error(&mut self, id: u64, op: Option<Op>, bytes_in: usize, arrived: Instant, error: WireError) {
        let frame = response::encode_error(id, &error);
        self.send(id, op, bytes_in, arrived, Some(&error), frame).await;
    }

    async fn reply(
        &mut self,
        id: u64,
        op: Op,
        bytes_in: usize,
        arrived: Instant,
        result: Result<ReplyBody, WireError>,
    ) {
        match result {
            Ok(body) => {
                let frame = response::encode_ok(id, body);
                self.send(id, Some(op), bytes_in, arrived, None, frame).await;
            }
            Err(error) => self.reply_error(id, Some(op), bytes_in, arrived, error).await,
        }
    }

    /// Counts and logs a reply, then hands it to the writer, waiting while the writer is behind.
    async fn send(
        &mut self,
        id: u64,
        op: Option<Op>,
        bytes_in: usize,
        arrived: Instant,
        error: Option<&WireError>,
        frame: ReplyFrame,
    ) {
        self.state.counters.record_reply(op, error.map(|e| e.code));
        self.state.counters.record_bytes(bytes_in, frame.len());
        log_request(id, op, bytes_in, frame.len(), arrived.elapsed(), error);
        let frame = match self.replies.try_send(frame) {
            Ok(()) => return,
            Err(TrySendError::Closed(_)) => return self.peer_gone.cancel(),
            Err(TrySendError::Full(frame)) => frame,
        };
        tokio::select! {
            sent = self.replies.send(frame) => if sent.is_err() { self.peer_gone.cancel() },
            _ = self.peer_gone.cancelled() => {}
            _ = self.state.closing.cancelled() => {}
        }
    }
}

/// One line per answered request. Job requests and errors at `info`; successful control
/// requests (ping, hello, stats) at `debug`, since they can arrive at 100,000+ per second.
fn log_request(
    id: u64,
    op: Option<Op>,
    bytes_in: usize,
    bytes_out: usize,
    elapsed: Duration,
    error: Option<&WireError>,
) {
    let op_word = op.map_or("-", Op::word);
    let elapsed_us = elapsed.as_micros() as u64;
    match error {
        Some(error) if error.code == ErrorCode::Internal => {
            tracing::warn!(target: "ferryd::request", id, op = op_word, bytes_in, bytes_out, elapsed_us, outcome = error.code.name(), message = %error.message, "request")
        }
        Some(error) => {
            tracing::info!(target: "ferryd::request", id, op = op_word, bytes_in, bytes_out, elapsed_us, outcome = error.code.name(), message = %error.message, "request")
        }
        None if matches!(op, Some(Op::Resize | Op::Checksum)) => {
            tracing::info!(target: "ferryd::request", id, op = op_word, bytes_in, bytes_out, elapsed_us, outcome = "ok", "request")
        }
        None => {
            tracing::debug!(target: "ferryd::request", id, op = op_word, bytes_in, bytes_out, elapsed_us, outcome = "ok", "request")
        }
    }
}

/// Whether the peer closed its end entirely (`POLLHUP`), as opposed to only shutting down its
/// writing side, after which it may still be waiting for replies.
fn peer_hung_up(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd { fd, events: 0, revents: 0 };
    // SAFETY: `fd` belongs to the read half, which the caller keeps open; a zero timeout never
    // blocks; `pfd` is a valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0
}
