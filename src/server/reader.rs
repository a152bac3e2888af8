//! A connection's read side: frames out of the socket, each one's length reserved against the
//! memory budget before its body is buffered.
//!
//! ```text
//!   prefix complete ──N=0──────────▶ Empty
//!        │         ──N>max_frame──▶ TooLarge (nothing more is read)
//!        ▼
//!   reserve N from the budget ──refused──▶ paused: no reads until a release, then retry
//!        │ granted
//!        ▼
//!   body grows as bytes arrive (capacity at most doubles, never past N) ──▶ Frame + reservation
//! ```
//!
//! The buffer is never allocated for `N` up front: a peer that announces 128 MiB and sends
//! two bytes holds its reservation (which [`super::connection`] bounds in time with
//! `--frame-timeout`), not 128 MiB of memory.
//!
//! Reads are `recvmsg` calls ([`super::recv_fds`]): descriptors passed with `SCM_RIGHTS` wait
//! in a per-connection FIFO until a `*_file` request claims the oldest ([`FrameReader::take_fd`],
//! SPEC.md 5.7). More than [`MAX_UNCLAIMED_FDS`] waiting, or truncated control data, is a
//! frame-level protocol error ([`FrameReader::take_fd_violation`]).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;
use tokio::net::unix::OwnedReadHalf;
use tokio::net::UnixStream;

use super::budget::{MemoryBudget, Reservation, Shortfall};
use super::recv_fds::recv_with_fds;
use crate::protocol::codec::{classify_prefix, Prefix, PREFIX_LEN};

/// Bytes read at a time between frames, and the smallest growth step inside one.
const READ_CHUNK: usize = 64 * 1024;

/// Descriptors a connection may have received and not yet claimed (SPEC.md 5.7).
pub const MAX_UNCLAIMED_FDS: usize = 8;

/// What the reader produced.
#[derive(Debug)]
pub enum Inbound {
    /// A complete body and its share of the budget (released when dropped).
    Frame(Bytes, Reservation),
    /// A prefix of `N = 0`.
    Empty,
    /// A prefix over `max_frame`; the reader must not be used again.
    TooLarge(u32),
}

/// Where the reader is inside the stream.
#[derive(Debug)]
enum Stage {
    /// Between frames: waiting for a prefix.
    Prefix,
    /// The prefix announced `len`; the budget could not cover it yet.
    Reserving { len: usize },
    /// Reading a body of `len` bytes, reserved.
    Body { len: usize, held: Reservation },
}

/// Frames from one connection.
#[derive(Debug)]
pub struct FrameReader {
    half: OwnedReadHalf,
    buf: BytesMut,
    max_frame: u32,
    budget: Arc<MemoryBudget>,
    stage: Stage,
    /// When the first byte of the frame now being read arrived; `None` between frames.
    frame_started: Option<Instant>,
    /// Received descriptors not yet claimed by a `*_file` request, oldest first. Closed when
    /// the reader is dropped (the connection ends).
    fds: VecDeque<OwnedFd>,
    /// Why the descriptor rules were broken (too many unclaimed, truncated control data).
    fd_violation: Option<String>,
}

impl FrameReader {
    /// A reader of frames of up to `max_frame` bytes, reserving from `budget`.
    pub fn new(half: OwnedReadHalf, max_frame: u32, budget: Arc<MemoryBudget>) -> Self {
        FrameReader {
            half,
            buf: BytesMut::new(),
            max_frame,
            budget,
            stage: Stage::Prefix,
            frame_started: None,
            fds: VecDeque::new(),
            fd_violation: None,
        }
    }

    /// The oldest received descriptor, for the `*_file` request whose frame was just read;
    /// `None` when none is waiting (`bad_file`).
    pub fn take_fd(&mut self) -> Option<OwnedFd> {
        self.fds.pop_front()
    }

    /// After a read: why the connection must close for breaking the descriptor rules, once.
    /// The waiting descriptors are closed then; nothing more may be read.
    pub fn take_fd_violation(&mut self) -> Option<String> {
        let why = self.fd_violation.take()?;
        self.fds.clear();
        Some(why)
    }

    /// The socket, for the hang-up check.
    pub fn socket(&self) -> &OwnedReadHalf {
        &self.half
    }

    /// When the frame being read began, if one is partly read (or waits for budget).
    pub fn frame_started(&self) -> Option<Instant> {
        self.frame_started
    }

    /// Whether the next frame waits for budget (then [`FrameReader::read_more`] must not be
    /// called; wait for a release and call [`FrameReader::next_buffered`] again).
    pub fn waiting_for_budget(&self) -> bool {
        matches!(self.stage, Stage::Reserving { .. })
    }

    /// The next item from what is already buffered, without reading: `None` when more bytes
    /// (or budget) are needed.
    pub fn next_buffered(&mut self) -> Option<Inbound> {
        loop {
            match &mut self.stage {
                Stage::Prefix => {
                    if self.buf.len() < PREFIX_LEN {
                        return None;
                    }
                    let prefix = self.buf.split_to(PREFIX_LEN);
                    match classify_prefix([prefix[0], prefix[1], prefix[2], prefix[3]], self.max_frame) {
                        Prefix::Empty => {
                            self.frame_done();
                            return Some(Inbound::Empty);
                        }
                        Prefix::TooLarge(len) => return Some(Inbound::TooLarge(len)),
                        Prefix::Body(len) => self.stage = Stage::Reserving { len },
                    }
                }
                Stage::Reserving { len } => {
                    let len = *len;
                    match self.budget.try_reserve(len as u64) {
                        Ok(held) => self.stage = Stage::Body { len, held },
                        // `Never` cannot happen: the configuration keeps the budget >= max_frame.
                        Err(Shortfall::Full | Shortfall::Never) => return None,
                    }
                }
                Stage::Body { len, .. } => {
                    let len = *len;
                    if self.buf.len() < len {
                        return None;
                    }
                    let Stage::Body { held, .. } = std::mem::replace(&mut self.stage, Stage::Prefix) else {
                        unreachable!("matched above")
                    };
                    let body = self.buf.split_to(len).freeze();
                    self.frame_done();
                    return Some(Inbound::Frame(body, held));
                }
            }
        }
    }

    /// Reads once from the socket (cancel-safe: bytes are only taken inside `try_io`, after
    /// readiness); `Ok(0)` is end of stream. Descriptors that came along join the queue.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        self.make_room();
        let stream: &UnixStream = self.half.as_ref();
        let received = loop {
            stream.readable().await?;
            let (buf, fds) = (&mut self.buf, &mut self.fds);
            let mut got = None;
            let outcome = stream.try_io(Interest::READABLE, || {
                let spare = buf.spare_capacity_mut();
                let room = spare.len();
                let received = recv_with_fds(stream.as_raw_fd(), spare, fds)?;
                got = Some(received);
                // A read that did not fill the buffer drained the socket: say WouldBlock so that
                // tokio clears the readiness and this task waits for the next epoll edge, as
                // tokio's own poll_read does. Otherwise a connection streaming a huge frame
                // would loop on empty reads and starve the others on this reactor thread.
                if received.len > 0 && received.len < room {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(())
            });
            match (got, outcome) {
                (Some(received), _) => break received,
                (None, Err(error)) if error.kind() == io::ErrorKind::WouldBlock => continue,
                (None, Err(error)) => return Err(error),
                (None, Ok(())) => unreachable!("a successful read sets `got`"),
            }
        };
        let n = received.len;
        // SAFETY: recvmsg initialised the first `n` spare bytes.
        unsafe { self.buf.set_len(self.buf.len() + n) };
        if received.truncated {
            self.fd_violation = Some("control data truncated (MSG_CTRUNC): descriptors lost".into());
        } else if self.fds.len() > MAX_UNCLAIMED_FDS {
            self.fd_violation =
                Some(format!("more than {MAX_UNCLAIMED_FDS} received descriptors not claimed by a *_file request"));
        }
        if n > 0 && self.frame_started.is_none() {
            self.frame_started = Some(Instant::now());
        }
        Ok(n)
    }

    /// Drops a partial frame and its reservation (end of stream inside a frame).
    pub fn discard_partial(&mut self) {
        self.buf = BytesMut::new();
        self.stage = Stage::Prefix;
        self.frame_started = None;
    }

    /// A frame is complete: the next one starts with the bytes already buffered, if any.
    fn frame_done(&mut self) {
        self.frame_started = if self.buf.is_empty() { None } else { Some(Instant::now()) };
        if self.buf.is_empty() && self.buf.capacity() > 4 * READ_CHUNK {
            // Give a large body's buffer back rather than keep it for the next small request.
            self.buf = BytesMut::new();
        }
    }

    /// Ensures free capacity for the next read: a chunk between frames; inside a body, double
    /// what is buffered (at least a chunk), never more than the body still needs.
    ///
    /// Growth is `reserve`, i.e. `realloc` of the one buffer: the body, being the newest large
    /// block, sits at the top of the heap (see `crate::allocator`) and grows in place, so a large
    /// body is neither copied at each doubling nor leaves outgrown buffers behind it. Copying
    /// into fresh buffers instead (and trimming the outgrown ones at once to keep the peak under
    /// twice the body) faulted every page in again: BLAKE3 of a 64 MiB frame fell to 0.3 GB/s.
    fn make_room(&mut self) {
        if self.buf.capacity() > self.buf.len() {
            return;
        }
        let want = match &self.stage {
            Stage::Body { len, .. } => {
                let missing = len.saturating_sub(self.buf.len()).max(1);
                missing.min(self.buf.len().max(READ_CHUNK))
            }
            _ => READ_CHUNK,
        };
        self.buf.reserve(want);
    }
}
