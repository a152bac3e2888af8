//! A connection's read side: frames out of the socket, each one's memory reserved from the
//! budget as its body arrives, and the descriptors passed with them bound to their frames.
//!
//! ```text
//!   prefix complete ──N=0──────────▶ Empty
//!        │         ──N>max_frame──▶ TooLarge (nothing more is read)
//!        ▼
//!   reserve a first slice (all of N if small) ──refused──▶ paused: no reads until a release
//!        │ granted
//!        ▼
//!   body grows as bytes arrive (capacity at most doubles, never past N), each growth reserved
//!   first within the fair shares (super::shares); refused: paused likewise ──▶ Frame
//! ```
//!
//! The buffer is never allocated, nor the budget reserved, for `N` up front: a peer that
//! announces 128 MiB and sends two bytes holds a 64 KiB slice, for at most `--frame-timeout`.
//!
//! Reads are `recvmsg` calls ([`super::recv_fds`]). A batch of descriptors belongs to the
//! bytes at the end of the read that delivered it (that is where Linux stops a read that
//! brings descriptors), so it is bound to the frame holding the read's **last byte**, never to
//! "the next request that wants one" (SPEC.md 5.7): the frame carries it as [`Attached`], and
//! whatever the frame does not use is closed with it. Such a read is also short without the
//! socket being drained, so it never counts as "drained" (readiness is kept). More than
//! [`MAX_WAITING_FDS`] descriptors waiting for their frames to complete is a connection-level
//! protocol error ([`FrameReader::take_fd_violation`]).

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;
use tokio::net::unix::OwnedReadHalf;
use tokio::net::UnixStream;

use super::budget::{FrameHold, MemoryBudget, Reservation};
use super::recv_fds::recv_with_fds;
use crate::protocol::codec::{classify_prefix, Prefix, PREFIX_LEN};

/// Bytes read at a time between frames, and the smallest growth step inside one.
const READ_CHUNK: usize = 64 * 1024;

/// Descriptors a connection may have received for frames not yet complete (SPEC.md 5.7). A
/// frame takes at most one, and complete frames are handled after every read, so a client that
/// follows the rules never has more than two waiting.
pub const MAX_WAITING_FDS: usize = 8;

/// What the reader produced.
#[derive(Debug)]
pub enum Inbound {
    /// A complete body, its share of the budget (released when dropped), and the descriptors
    /// that arrived with its bytes.
    Frame(Bytes, Reservation, Attached),
    /// A prefix of `N = 0` (any descriptor that came with it is closed).
    Empty,
    /// A prefix over `max_frame`; the reader must not be used again.
    TooLarge(u32),
}

/// The descriptors that arrived with one frame's bytes; closed when dropped.
#[derive(Debug, Default)]
pub struct Attached {
    fds: Vec<OwnedFd>,
    /// Descriptors that came with it and were closed on arrival (beyond the first of a batch).
    closed: usize,
    /// Control data was truncated (`MSG_CTRUNC`): the client sent more than fit.
    truncated: bool,
}

impl Attached {
    /// Whether nothing came with the frame.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty() && !self.truncated
    }

    /// How many descriptors came with the frame.
    pub fn count(&self) -> usize {
        self.fds.len() + self.closed
    }

    /// The frame's one descriptor, or why it has not exactly one (every descriptor is closed).
    pub fn into_one(mut self) -> Result<OwnedFd, String> {
        match (self.count(), self.truncated) {
            (1, false) => Ok(self.fds.pop().expect("one descriptor")),
            (0, false) => Err("no descriptor came with this frame: send one with SCM_RIGHTS on the frame's first byte".into()),
            (_, true) => Err("more descriptors came with this frame than the daemon receives (MSG_CTRUNC); a frame takes one".into()),
            (n, false) => Err(format!("{n} descriptors came with this frame; a *_file frame takes exactly one")),
        }
    }

    fn absorb(&mut self, arrival: Arrival) {
        self.fds.extend(arrival.fds);
        self.closed += arrival.closed;
        self.truncated |= arrival.truncated;
    }
}

/// Descriptors from one read, waiting for the frame that holds `last_byte` to complete.
#[derive(Debug)]
struct Arrival {
    /// Stream offset of the last byte of the read that delivered them.
    last_byte: u64,
    /// At most one: a batch of several is refused whatever its frame, so the rest are closed at
    /// once rather than held.
    fds: Vec<OwnedFd>,
    closed: usize,
    truncated: bool,
}

/// Where the reader is inside the stream. `start` is the stream offset of a frame's prefix.
#[derive(Debug)]
enum Stage {
    /// Between frames: waiting for a prefix.
    Prefix,
    /// The prefix announced `len`; the budget could not cover its first slice yet.
    Reserving { len: usize, start: u64 },
    /// Reading a body of `len` bytes; `held` covers the buffer; `stalled` when it may not grow
    /// now (no reads until memory is released).
    Body { len: usize, start: u64, held: FrameHold, stalled: bool },
}

/// Frames from one connection.
#[derive(Debug)]
pub struct FrameReader {
    half: OwnedReadHalf,
    buf: BytesMut,
    /// Stream offset of `buf[0]`.
    offset: u64,
    max_frame: u32,
    budget: Arc<MemoryBudget>,
    /// The peer's uid, for its fair share (`u32::MAX` when unknown).
    uid: u32,
    stage: Stage,
    /// When the first byte of the frame now being read arrived; `None` between frames.
    frame_started: Option<Instant>,
    /// Received descriptors whose frame is not complete yet, oldest first. Closed when the
    /// reader is dropped (the connection ends).
    arrivals: VecDeque<Arrival>,
    /// Descriptors in `arrivals`.
    waiting_fds: usize,
    /// Why the descriptor rules were broken (too many waiting).
    fd_violation: Option<String>,
}

impl FrameReader {
    /// A reader of frames of up to `max_frame` bytes from a peer of `uid`, reserving from
    /// `budget`.
    pub fn new(half: OwnedReadHalf, max_frame: u32, budget: Arc<MemoryBudget>, uid: u32) -> Self {
        FrameReader {
            half,
            buf: BytesMut::new(),
            offset: 0,
            max_frame,
            budget,
            uid,
            stage: Stage::Prefix,
            frame_started: None,
            arrivals: VecDeque::new(),
            waiting_fds: 0,
            fd_violation: None,
        }
    }

    /// After a read: why the connection must close for breaking the descriptor rules, once.
    /// The waiting descriptors are closed then; nothing more may be read.
    pub fn take_fd_violation(&mut self) -> Option<String> {
        let why = self.fd_violation.take()?;
        self.arrivals.clear();
        self.waiting_fds = 0;
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
        matches!(self.stage, Stage::Reserving { .. } | Stage::Body { stalled: true, .. })
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
                    let start = self.offset;
                    let prefix = self.take(PREFIX_LEN);
                    match classify_prefix([prefix[0], prefix[1], prefix[2], prefix[3]], self.max_frame) {
                        Prefix::Empty => {
                            drop(self.attached_until(start + PREFIX_LEN as u64));
                            self.frame_done();
                            return Some(Inbound::Empty);
                        }
                        Prefix::TooLarge(len) => return Some(Inbound::TooLarge(len)),
                        Prefix::Body(len) => self.stage = Stage::Reserving { len, start },
                    }
                }
                Stage::Reserving { len, start } => {
                    let (len, start) = (*len, *start);
                    let held = self.budget.begin_frame(self.uid, len as u64)?;
                    self.stage = Stage::Body { len, start, held, stalled: false };
                }
                Stage::Body { len, .. } => {
                    if self.buf.len() < *len {
                        self.body_room();
                        return None;
                    }
                    let Stage::Body { len, start, held, .. } = std::mem::replace(&mut self.stage, Stage::Prefix)
                    else {
                        unreachable!("matched above")
                    };
                    let body = self.take(len).freeze();
                    let attached = self.attached_until(start + (PREFIX_LEN + len) as u64);
                    self.frame_done();
                    return Some(Inbound::Frame(body, held.into_reservation(), attached));
                }
            }
        }
    }

    /// Reads once from the socket (cancel-safe: bytes are only taken inside `try_io`, after
    /// readiness); `Ok(0)` is end of stream. Descriptors that came along wait for their frame.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        self.make_room();
        debug_assert!(self.buf.capacity() > self.buf.len(), "read_more while waiting for budget");
        let stream: &UnixStream = self.half.as_ref();
        let mut fds = Vec::new();
        let received = loop {
            stream.readable().await?;
            let (buf, fds) = (&mut self.buf, &mut fds);
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
                // Not so when control data came: the kernel ends such a read at the control
                // message however much data waits behind it, and no new edge would come for
                // data already queued (a descriptor frame split after its first bytes stalled).
                if received.len > 0 && received.len < room && !received.had_control() {
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
        if received.had_control() && n > 0 {
            let last_byte = self.offset + self.buf.len() as u64 - 1;
            let closed = fds.len().saturating_sub(1);
            fds.truncate(1);
            self.waiting_fds += fds.len();
            self.arrivals.push_back(Arrival { last_byte, fds, closed, truncated: received.truncated });
            if self.waiting_fds > MAX_WAITING_FDS {
                self.fd_violation = Some(format!(
                    "more than {MAX_WAITING_FDS} received descriptors waiting for their frames to complete"
                ));
            }
        }
        if n > 0 && self.frame_started.is_none() {
            self.frame_started = Some(Instant::now());
        }
        Ok(n)
    }

    /// Drops a partial frame, its reservation and the descriptors waiting for frames (end of
    /// stream inside a frame, a timeout: nothing more is read).
    pub fn discard_partial(&mut self) {
        self.buf = BytesMut::new();
        self.stage = Stage::Prefix;
        self.frame_started = None;
        self.arrivals.clear();
        self.waiting_fds = 0;
    }

    /// Takes `n` buffered bytes off the front of the stream.
    fn take(&mut self, n: usize) -> BytesMut {
        self.offset += n as u64;
        self.buf.split_to(n)
    }

    /// The descriptors whose read ended before stream offset `end`: those of the frame that
    /// ends there (earlier frames took theirs when they completed).
    fn attached_until(&mut self, end: u64) -> Attached {
        let mut attached = Attached::default();
        while self.arrivals.front().is_some_and(|a| a.last_byte < end) {
            let arrival = self.arrivals.pop_front().expect("checked above");
            self.waiting_fds -= arrival.fds.len();
            attached.absorb(arrival);
        }
        attached
    }

    /// A frame is complete: the next one starts with the bytes already buffered, if any.
    fn frame_done(&mut self) {
        self.frame_started = if self.buf.is_empty() { None } else { Some(Instant::now()) };
        if self.buf.is_empty() && self.buf.capacity() > 4 * READ_CHUNK {
            // Give a large body's buffer back rather than keep it for the next small request.
            self.buf = BytesMut::new();
        }
    }

    /// Ensures free capacity for the next read: a chunk between frames; inside a body, see
    /// [`FrameReader::body_room`].
    fn make_room(&mut self) {
        if matches!(self.stage, Stage::Body { .. }) {
            self.body_room();
        } else if self.buf.capacity() == self.buf.len() {
            self.buf.reserve(READ_CHUNK);
        }
    }

    /// Inside a body: room to double what is buffered (at least a chunk), never more than the
    /// body still needs, reserved from the budget first; when the fair shares refuse it, the
    /// body is stalled (no reads until memory is released).
    ///
    /// Growth is `reserve`, i.e. `realloc` of the one buffer: the body, being the newest large
    /// block, sits at the top of the heap (see `crate::allocator`) and grows in place, so a large
    /// body is neither copied at each doubling nor leaves outgrown buffers behind it. Copying
    /// into fresh buffers instead (and trimming the outgrown ones at once to keep the peak under
    /// twice the body) faulted every page in again: BLAKE3 of a 64 MiB frame fell to 0.3 GB/s.
    fn body_room(&mut self) {
        let buffered = self.buf.len();
        let spare = self.buf.capacity() > buffered;
        let Stage::Body { len, held, stalled, .. } = &mut self.stage else { return };
        if spare {
            *stalled = false;
            return;
        }
        let want = len.saturating_sub(buffered).max(1).min(buffered.max(READ_CHUNK));
        let covered = (buffered + want) as u64;
        if covered > held.bytes() && !self.budget.try_grow_frame(held, covered - held.bytes()) {
            *stalled = true;
            return;
        }
        *stalled = false;
        self.buf.reserve(want);
    }
}
