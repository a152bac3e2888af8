//! One client connection: read frames, answer or start each request, send replies in whatever
//! order they finish (SPEC.md 3.5), honour `cancel`, deadlines, the queue bound, the memory
//! budget, the connection's timeouts and shutdown.
//!
//! Two futures share one task: the reader ([`Session`]) and the writer ([`super::writer`]),
//! joined rather than spawned so a `ping` reply is handed from one to the other without waking
//! another thread. Replies go through a channel and each holds its length of the daemon's
//! memory budget and of the connection's own reply allowance ([`max_unread`]): once the
//! allowance is spent the reader stops reading requests, so a client that stops reading its
//! replies stops being served (SPEC.md 7), and after `--reply-timeout` without progress the
//! writer closes the connection.
//!
//! Timeouts: a frame whose first byte arrived must be complete within `--frame-timeout`
//! (waiting for budget included); with nothing in flight, nothing unwritten and no partial
//! frame, a connection silent for `--idle-timeout` is closed.

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::budget::{MemoryBudget, Reservation, Shortfall};
use super::dispatch::{self, Job, JobRun};
use super::reader::{Attached, FrameReader, Inbound};
use super::shares::JobSlot;
use super::writer::{self, Outgoing};
use super::State;
use crate::cpu_pool::{Admission, Busy, JobPanicked, Ticket};
use crate::jobs::{InputFile, JobControl, JobError};
use crate::protocol::codec::PREFIX_LEN;
use crate::protocol::error_code::{ErrorCode, WireError};
use crate::protocol::request::{self, Body, Op, Request};
use crate::protocol::response::{self, ReplyBody, ReplyFrame};

/// After end of stream, how often to check whether the peer closed entirely (rather than only
/// its write side), so that its jobs can be cancelled instead of finished for nobody.
const HANGUP_POLL: Duration = Duration::from_millis(50);

/// Bodies larger than this are decoded on a blocking thread: the structural scan of a hostile
/// 128 MiB body takes hundreds of milliseconds, which must not stall other connections.
const DECODE_OFF_REACTOR: usize = 1 << 20;

/// What a reply's bookkeeping costs beside its bytes (channel slot, frame parts), so that a
/// peer pipelining millions of tiny requests is bounded too.
const REPLY_OVERHEAD: u64 = 128;

/// How long a refused connection gets to take its `busy` frame.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);

/// Reply bytes a connection may leave unread before its requests stop being read: one
/// maximum frame (a large thumbnail fits; a peer that reads nothing holds no more than this
/// plus the replies of jobs it already had admitted).
pub fn max_unread(max_frame: u32) -> u64 {
    u64::from(max_frame)
}

/// Answers a connection over `--max-connections` with `busy` (id 0) and closes it.
pub async fn refuse_over_limit(stream: UnixStream, max: u64) {
    tracing::warn!(max_connections = max, "connection limit reached; refusing a connection");
    refuse(stream, WireError::new(ErrorCode::Busy, format!("connection limit of {max} reached"))).await;
}

/// Sends `error` with id 0 to a connection refused right after accept and closes it without
/// reading. The frame is tiny and normally fits the socket buffer; [`REFUSAL_WRITE`] only bounds
/// a pathological peer.
pub async fn refuse(mut stream: UnixStream, error: WireError) {
    let frame = response::encode_error(0, &error).to_vec();
    let write = async {
        stream.write_all(&frame).await?;
        stream.shutdown().await
    };
    match tokio::time::timeout(REFUSAL_WRITE, write).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, "refused peer gone before its error frame was written"),
        Err(_) => tracing::debug!("refused peer did not take its error frame in time"),
    }
}

/// Serves one connection (already counted by the accept loop) from a peer of `uid` (its fair
/// share; `u32::MAX` when unknown) until the client is done and answered, the peer goes away, a
/// timeout closes it, or shutdown closes it.
pub async fn serve(stream: UnixStream, state: Arc<State>, uid: u32) {
    let _counted = Counted(Arc::clone(&state));
    let (read_half, write_half) = stream.into_split();
    let (replies, outbox) = mpsc::unbounded_channel();
    let peer_gone = CancellationToken::new();
    let busy_answer = state.counters.busy_answer.clone();
    let writer = writer::run(write_half, outbox, peer_gone.clone(), state.connection_limits.reply_timeout, busy_answer);
    let reader = FrameReader::new(read_half, state.max_frame, Arc::clone(&state.budget), uid);
    let session = Session {
        unread: MemoryBudget::new(max_unread(state.max_frame)),
        state: Arc::clone(&state),
        replies,
        peer_gone,
        uid,
        in_flight: HashMap::new(),
        pending: FuturesUnordered::new(),
        next_seq: 0,
        draining: false,
        last_heard: Instant::now(),
    };
    tracing::debug!("connection opened");
    tokio::join!(session.run(reader), writer);
    tracing::debug!("connection closed");
}

/// Uncounts the connection when it ends.
struct Counted(Arc<State>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.counters.connection_closed();
    }
}

/// A job's result on its way back to the connection, with what the log line needs. `result`
/// is `None` when the job was withdrawn from the queue (and already answered).
struct Finished {
    id: u64,
    seq: u64,
    op: Op,
    bytes_in: usize,
    arrived: Instant,
    result: Option<Result<Result<ReplyBody, WireError>, JobPanicked>>,
}

type PendingJob = Pin<Box<dyn Future<Output = Finished> + Send>>;

/// A request running or queued on the pool.
struct InFlight {
    /// Tells this job from a later one that reuses its id after it was answered early.
    seq: u64,
    op: Op,
    bytes_in: usize,
    arrived: Instant,
    ctl: JobControl,
    ticket: Ticket,
    /// Its peer's slot in the per-uid job shares, returned when it is answered.
    _slot: JobSlot,
}

/// What woke the reader.
enum Event {
    /// Shutdown's grace period is over: answer everything `shutting_down` and close.
    Closing,
    /// The peer is gone: drop everything.
    PeerGone,
    /// A job finished.
    Finished(Finished),
    /// Shutdown began.
    Draining,
    /// Bytes arrived (`Ok(0)`: end of stream), or reading failed.
    Read(std::io::Result<usize>),
    /// Memory was released: retry the frame waiting for budget, or resume reading.
    Freed,
    /// The frame or idle timeout expired.
    Timeout,
    /// Time to check whether a half-closed peer is still there.
    HangupCheck,
}

/// The reader side of a connection and the requests it has in flight.
struct Session {
    state: Arc<State>,
    /// Encoded replies for the writer, each holding its bytes of the budgets.
    replies: mpsc::UnboundedSender<Outgoing>,
    /// This connection's allowance for unwritten replies ([`max_unread`]).
    unread: Arc<MemoryBudget>,
    /// Cancelled by the writer when a write fails or stalls.
    peer_gone: CancellationToken,
    /// The peer's uid, for its share of the job slots.
    uid: u32,
    /// Requests running or queued on the pool, by id: for `cancel`, the duplicate-id rule,
    /// shutdown and abandoning them when the peer goes away.
    in_flight: HashMap<u64, InFlight>,
    /// The same requests' results, as they complete.
    pending: FuturesUnordered<PendingJob>,
    next_seq: u64,
    /// Shutdown has begun: new requests are answered `shutting_down`.
    draining: bool,
    /// When a byte last arrived, for the idle timeout.
    last_heard: Instant,
}

impl Session {
    async fn run(mut self, mut reader: FrameReader) {
        let fd = reader.socket().as_ref().as_raw_fd();
        let limits = self.state.connection_limits;
        let mut reading = true;
        let mut hangup = tokio::time::interval(HANGUP_POLL);
        hangup.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if reading {
                while let Some(item) = self.backlog_allows().then(|| reader.next_buffered()).flatten() {
                    if !self.on_inbound(item).await {
                        reading = false;
                        break;
                    }
                }
            }
            if self.pending.is_empty() && (!reading || self.draining) {
                break;
            }
            let can_read = reading && !reader.waiting_for_budget() && self.backlog_allows();
            let deadline = match reader.frame_started() {
                Some(started) if reading => Some(started + limits.frame_timeout),
                _ if reading && self.in_flight.is_empty() && self.unread.used() == 0 => {
                    Some(self.last_heard + limits.idle_timeout)
                }
                _ => None,
            };
            let backlog_full = !self.backlog_allows();
            let reserving = reader.waiting_for_budget();
            let budget_freed = self.state.budget.freed();
            let unread_freed = self.unread.freed();
            let event = tokio::select! {
                biased;
                _ = self.state.closing.cancelled() => Event::Closing,
                _ = self.peer_gone.cancelled() => Event::PeerGone,
                Some(done) = self.pending.next(), if !self.pending.is_empty() => Event::Finished(done),
                _ = self.state.draining.cancelled(), if !self.draining => Event::Draining,
                read = reader.read_more(), if can_read => Event::Read(read),
                _ = budget_freed, if reading && reserving => Event::Freed,
                _ = unread_freed, if reading && backlog_full => Event::Freed,
                _ = sleep_until(deadline), if deadline.is_some() => Event::Timeout,
                _ = hangup.tick(), if !reading => Event::HangupCheck,
            };
            match event {
                Event::Closing => return self.close_for_shutdown(),
                Event::PeerGone => return self.abandon("peer gone"),
                Event::Finished(done) => self.finish(done),
                Event::Draining => self.begin_draining(),
                Event::Read(Ok(0)) => {
                    reader.discard_partial();
                    reading = false;
                }
                Event::Read(Ok(_)) => {
                    self.last_heard = Instant::now();
                    if let Some(why) = reader.take_fd_violation() {
                        // Like frame_too_large: answered with id 0, requests in flight still
                        // finish, nothing more is read (SPEC.md 5.7).
                        tracing::warn!(why, "descriptor rules broken; closing the connection");
                        self.reply_error(0, None, 0, Instant::now(), WireError::new(ErrorCode::Malformed, why));
                        reader.discard_partial();
                        reading = false;
                    }
                }
                Event::Read(Err(error)) => {
                    tracing::debug!(%error, "read failed");
                    return self.abandon("read failed");
                }
                Event::Freed => {}
                Event::Timeout => {
                    if reader.frame_started().is_some() {
                        tracing::warn!(
                            frame_timeout_s = limits.frame_timeout.as_secs_f64(),
                            waiting_for_budget = reader.waiting_for_budget(),
                            "frame not complete in time; closing the connection"
                        );
                    } else {
                        tracing::info!(idle_timeout_s = limits.idle_timeout.as_secs_f64(), "idle connection closed");
                    }
                    reader.discard_partial();
                    reading = false;
                }
                Event::HangupCheck => {
                    if peer_hung_up(fd) {
                        return self.abandon("peer hung up");
                    }
                }
            }
        }
    }

    /// Whether the peer has left few enough replies unread for requests to be read.
    fn backlog_allows(&self) -> bool {
        self.unread.used() < self.unread.limit()
    }

    /// Handles one item from the reader; `false` when nothing more may be read.
    async fn on_inbound(&mut self, item: Inbound) -> bool {
        match item {
            Inbound::Frame(body, held, attached) => self.on_frame(body, held, attached).await,
            Inbound::Empty => {
                let error = WireError::new(ErrorCode::Malformed, "empty frame (N = 0)");
                self.reply_error(0, None, PREFIX_LEN, Instant::now(), error);
            }
            Inbound::TooLarge(len) => {
                let message = format!("frame of {len} bytes exceeds max_frame {}", self.state.max_frame);
                let error = WireError::new(ErrorCode::FrameTooLarge, message);
                self.reply_error(0, None, PREFIX_LEN, Instant::now(), error);
                // The body is never read; requests already in flight are still answered.
                return false;
            }
        }
        true
    }

    /// Cancels every job of this connection; their results will not be sent.
    fn abandon(self, why: &'static str) {
        if !self.in_flight.is_empty() {
            tracing::debug!(jobs = self.in_flight.len(), why, "abandoning in-flight requests");
        }
        for job in self.in_flight.values() {
            if !job.ticket.withdraw() {
                job.ctl.cancel();
            }
        }
    }

    /// Shutdown began: queued jobs are withdrawn and answered `shutting_down` now; running ones
    /// finish.
    fn begin_draining(&mut self) {
        self.draining = true;
        let queued: Vec<u64> =
            self.in_flight.iter().filter(|(_, job)| job.ticket.withdraw()).map(|(&id, _)| id).collect();
        for id in queued {
            self.answer_early(
                id,
                WireError::new(ErrorCode::ShuttingDown, "daemon is shutting down; the job was not started"),
            );
        }
    }

    /// The grace period is over: every request still in flight is cancelled and answered
    /// `shutting_down`; the writer sends what is owed and ends the stream.
    fn close_for_shutdown(mut self) {
        let ids: Vec<u64> = self.in_flight.keys().copied().collect();
        for id in ids {
            let job = &self.in_flight[&id];
            if !job.ticket.withdraw() {
                job.ctl.cancel();
            }
            self.answer_early(
                id,
                WireError::new(ErrorCode::ShuttingDown, "daemon is shutting down; the job was stopped"),
            );
        }
    }

    /// Answers an in-flight request before its job reports (withdrawn, or abandoned to
    /// shutdown); a result that still comes later is ignored.
    fn answer_early(&mut self, id: u64, error: WireError) {
        if let Some(job) = self.in_flight.remove(&id) {
            self.reply_error(id, Some(job.op), job.bytes_in, job.arrived, error);
        }
    }

    /// Decodes and serves one frame with the descriptors that arrived with its bytes (SPEC.md
    /// 5.7): a `*_file` frame needs exactly one; any other frame none (a `cancel`'s are closed
    /// and it acts as usual, since it is never answered). Whatever the request does not take
    /// is closed when this returns, whatever the outcome.
    async fn on_frame(&mut self, body: Bytes, held: Reservation, attached: Attached) {
        let arrived = Instant::now();
        let bytes_in = body.len() + PREFIX_LEN;
        let decoded = if body.len() > DECODE_OFF_REACTOR {
            let frame = body.clone();
            match tokio::task::spawn_blocking(move || request::decode(&frame)).await {
                Ok(decoded) => decoded,
                Err(panicked) => {
                    let error = WireError::new(ErrorCode::Internal, format!("request decoder failed: {panicked}"));
                    return self.reply_error(0, None, bytes_in, arrived, error);
                }
            }
        } else {
            request::decode(&body)
        };
        let request = match decoded {
            Ok(request) => request,
            Err(rejected) => return self.reply_error(rejected.id, rejected.op, bytes_in, arrived, rejected.error),
        };
        let op = request.body.op();
        let fd = if op.takes_file() {
            match attached.into_one() {
                Ok(fd) => Some(fd),
                Err(why) => {
                    let error = WireError::new(ErrorCode::BadFile, why);
                    return self.reply_error(request.id, Some(op), bytes_in, arrived, error);
                }
            }
        } else {
            if !attached.is_empty() && op != Op::Cancel {
                let why = format!("{} descriptor(s) came with a {} frame, which takes none", attached.count(), op.word());
                let error = WireError::new(ErrorCode::BadFile, why);
                return self.reply_error(request.id, Some(op), bytes_in, arrived, error);
            }
            None
        };
        self.on_request(request, fd, held, bytes_in, arrived).await;
    }

    async fn on_request(
        &mut self,
        request: Request,
        fd: Option<OwnedFd>,
        held: Reservation,
        bytes_in: usize,
        arrived: Instant,
    ) {
        let (id, op) = (request.id, request.body.op());
        if op == Op::Cancel {
            let found = self.cancel(id);
            tracing::debug!(target: "ferryd::request", id, op = "cancel", bytes_in, found, "cancel");
            return;
        }
        if self.in_flight.contains_key(&id) {
            let error =
                WireError::new(ErrorCode::InvalidArgument, format!("id {id} is already in flight on this connection"));
            return self.reply_error(id, Some(op), bytes_in, arrived, error);
        }
        if self.draining {
            let error = WireError::new(ErrorCode::ShuttingDown, "daemon is shutting down");
            return self.reply_error(id, Some(op), bytes_in, arrived, error);
        }
        let job = match request.body {
            Body::Ping => return self.reply(id, op, bytes_in, arrived, Ok(ReplyBody::Ping)),
            Body::Stats => return self.reply(id, op, bytes_in, arrived, Ok(dispatch::stats(&self.state))),
            Body::Hello(hello) => {
                // Both bounded: versions holds at most 16 numbers (checked at decode), the client's
                // name is cut to 64 characters, so a hostile hello cannot flood the log.
                let client = hello.client.as_deref().unwrap_or("-");
                let client: String = client.chars().take(64).collect();
                tracing::info!(client, versions = ?hello.versions, "hello");
                return self.reply(id, op, bytes_in, arrived, dispatch::hello(&self.state, &hello));
            }
            Body::Probe(probe) => {
                // No worker slot, no queue (SPEC.md 5.8): one of the probe slots, on a blocking
                // thread, never the reactor (see `State::probe_slots`). This connection waits.
                let slots = Arc::clone(&self.state.probe_slots);
                let limits = self.state.limits;
                let result = match slots.acquire_owned().await {
                    Ok(slot) => tokio::task::spawn_blocking(move || {
                        let _slot = slot;
                        dispatch::probe(&limits, &probe)
                    })
                    .await
                    .unwrap_or_else(|failed| Err(WireError::new(ErrorCode::Internal, format!("probe failed: {failed}")))),
                    Err(closed) => Err(WireError::new(ErrorCode::Internal, format!("probe slots: {closed}"))),
                };
                return self.reply(id, op, bytes_in, arrived, result);
            }
            Body::Resize(resize) => Job::Resize(resize),
            Body::Checksum(checksum) => Job::Checksum(checksum),
            Body::ChecksumFile(algorithms) => match self.input_file(fd) {
                Ok(file) => Job::ChecksumFile(file, algorithms),
                Err(error) => return self.reply_error(id, Some(op), bytes_in, arrived, error),
            },
            Body::ResizeFile(resize) => match self.input_file(fd) {
                // Read whole like a `resize` frame's image, so bounded the same way.
                Ok(file) if file.size() > u64::from(self.state.max_frame) => {
                    let message = format!("file of {} bytes exceeds max_frame {}", file.size(), self.state.max_frame);
                    let error = WireError::new(ErrorCode::ImageTooLarge, message);
                    return self.reply_error(id, Some(op), bytes_in, arrived, error);
                }
                Ok(file) => Job::ResizeFile(file, resize),
                Err(error) => return self.reply_error(id, Some(op), bytes_in, arrived, error),
            },
            Body::Cancel => unreachable!("handled above"),
        };
        self.start(id, op, request.timeout_ms, job, held, bytes_in, arrived);
    }

    /// The descriptor of a `*_file` request as a file to read: `bad_file` when it is no readable
    /// regular file. Runs on the reactor: `fstat` and a zero-byte `pread` do not block.
    fn input_file(&self, fd: Option<OwnedFd>) -> Result<InputFile, WireError> {
        let fd = fd.ok_or_else(|| WireError::new(ErrorCode::BadFile, "no descriptor came with this frame"))?;
        InputFile::new(fd).map_err(|e: JobError| WireError::from(&e))
    }

    /// `cancel`: a queued target is withdrawn and answered `cancelled` now; a running one is
    /// asked to stop and answers when it does. Returns whether there was a target.
    fn cancel(&mut self, id: u64) -> bool {
        let Some(job) = self.in_flight.get(&id) else { return false };
        if job.ticket.withdraw() {
            self.answer_early(id, WireError::new(ErrorCode::Cancelled, "cancelled before it started"));
        } else {
            job.ctl.cancel();
        }
        true
    }

    /// Admits a job (deadline, memory budget, queue bound and expected wait) and queues it on
    /// the pool, or answers at once when it cannot run.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        id: u64,
        op: Op,
        timeout_ms: Option<u32>,
        job: Job,
        frame: Reservation,
        bytes_in: usize,
        arrived: Instant,
    ) {
        let deadline = timeout_ms.map(|ms| arrived + Duration::from_millis(ms.into()));
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining == Some(Duration::ZERO) {
            let error = WireError::new(
                ErrorCode::DeadlineExceeded,
                "timeout_ms is 0: the deadline passed before the job was queued",
            );
            return self.reply_error(id, Some(op), bytes_in, arrived, error);
        }
        let max_jobs = self.state.pool.bound().max_jobs;
        let Some(slot) = self.state.job_shares.try_take(self.uid, max_jobs) else {
            let error = WireError::new(
                ErrorCode::Busy,
                format!(
                    "uid {} holds its share of the job slots ({} of {max_jobs}) while other peers have jobs",
                    self.uid,
                    super::shares::JobShares::cap(max_jobs)
                ),
            );
            return self.reply_error(id, Some(op), bytes_in, arrived, error);
        };
        let memory = match job.memory(&self.state.limits) {
            Ok(bytes) => bytes,
            Err(error) => return self.reply_error(id, Some(op), bytes_in, arrived, error),
        };
        let mut held = match self.state.budget.try_reserve(memory) {
            Ok(held) => held,
            Err(shortfall) => {
                let limit = self.state.budget.limit();
                let error = match shortfall {
                    Shortfall::Never => WireError::new(
                        ErrorCode::TooLargeForBudget,
                        format!(
                            "job needs an estimated {memory} bytes; jobs may hold at most {} of the memory budget of {limit}",
                            self.state.budget.job_limit()
                        ),
                    ),
                    Shortfall::Full => WireError::new(
                        ErrorCode::Busy,
                        format!("memory budget full: {} of {limit} bytes in use", self.state.budget.used()),
                    ),
                };
                return self.reply_error(id, Some(op), bytes_in, arrived, error);
            }
        };
        held.merge(frame);
        let kind = job.kind();
        let units = job.cost_units(memory, &self.state.limits);
        let expected = self.state.costs.expected(kind, units).map(|e| e.min(self.state.max_job_time));
        let max_wait = super::cost::admissible_wait(self.state.max_queue_wait, remaining, expected);
        let admission = Admission { bytes: job.payload_len(), expected, max_wait };
        let ctl = JobControl::new(deadline);
        let run = JobRun {
            start_by: Instant::now() + self.state.max_queue_wait,
            max_queue_wait: self.state.max_queue_wait,
            max_job_time: self.state.max_job_time,
            costs: Arc::clone(&self.state.costs),
            units,
        };
        let work = job.into_work(ctl.clone(), self.state.limits, self.state.draining.clone(), held, run);
        let work = self.state.counters.time_job(op, work);
        match self.state.pool.try_spawn(admission, work) {
            Err(busy) => {
                let error = WireError::new(ErrorCode::Busy, busy.to_string());
                if matches!(busy, Busy::Wait { .. }) {
                    tracing::debug!(id, %busy, "refused by expected wait");
                }
                self.reply_error(id, Some(op), bytes_in, arrived, error);
            }
            Ok((handle, ticket)) => {
                let seq = self.next_seq;
                self.next_seq += 1;
                self.in_flight.insert(id, InFlight { seq, op, bytes_in, arrived, ctl, ticket, _slot: slot });
                self.pending
                    .push(Box::pin(async move { Finished { id, seq, op, bytes_in, arrived, result: handle.await } }));
            }
        }
    }

    fn finish(&mut self, done: Finished) {
        let Some(result) = done.result else { return };
        if self.in_flight.get(&done.id).map(|job| job.seq) != Some(done.seq) {
            return; // answered early (withdrawn, or shutdown); the id may be in use again
        }
        self.in_flight.remove(&done.id);
        let result = result.unwrap_or_else(|panicked| Err(WireError::new(ErrorCode::Internal, panicked.to_string())));
        self.reply(done.id, done.op, done.bytes_in, done.arrived, result);
    }

    fn reply_error(&mut self, id: u64, op: Option<Op>, bytes_in: usize, arrived: Instant, error: WireError) {
        let frame = response::encode_error(id, &error);
        self.send(id, op, bytes_in, arrived, Some(&error), frame);
    }

    fn reply(&mut self, id: u64, op: Op, bytes_in: usize, arrived: Instant, result: Result<ReplyBody, WireError>) {
        match result {
            Ok(body) => {
                let frame = response::encode_ok(id, body);
                self.send(id, Some(op), bytes_in, arrived, None, frame);
            }
            Err(error) => self.reply_error(id, Some(op), bytes_in, arrived, error),
        }
    }

    /// Counts and logs a reply, then hands it to the writer with its share of the budgets.
    fn send(
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
        let bytes = frame.len() as u64 + REPLY_OVERHEAD;
        let held = [self.state.budget.reserve_anyway(bytes), self.unread.reserve_anyway(bytes)];
        let busy_since = error.filter(|e| e.code == ErrorCode::Busy).map(|_| arrived);
        if self.replies.send(Outgoing { frame, held, busy_since }).is_err() {
            self.peer_gone.cancel();
        }
    }
}

/// Sleeps until `deadline` (never completes for `None`; the select guards that case).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
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
        None if matches!(op, Some(Op::Resize | Op::Checksum | Op::ResizeFile | Op::ChecksumFile)) => {
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
