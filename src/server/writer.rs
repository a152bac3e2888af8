//! The write side of a connection: replies from a channel, coalesced into as few writes as
//! possible, each holding its share of the memory budget until it is written.
//!
//! Each reply is written into a buffer; the buffer is flushed only when no further reply is
//! ready, so a burst of pipelined pings goes out in one `write`, while a lone reply goes out at
//! once. A payload larger than the buffer (a thumbnail) is written straight from its own
//! [`bytes::Bytes`], not copied in.
//!
//! A peer that reads nothing for `--reply-timeout` while replies wait is cut off: every write
//! must make progress within that time, else the connection is closed with a log line.

use std::time::Duration;

use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::budget::Reservation;
use crate::protocol::response::ReplyFrame;

/// Write buffer per connection: a few hundred small replies.
const WRITE_BUFFER: usize = 64 * 1024;

/// A reply on its way out, with what it holds of the daemon's and the connection's budgets.
#[derive(Debug)]
pub struct Outgoing {
    /// The encoded reply.
    pub frame: ReplyFrame,
    /// Released once the reply is written (or dropped unwritten).
    pub held: [Reservation; 2],
    /// For a `busy` reply, when its request's frame was read whole: the time to its reply
    /// written lands in the busy-answer histogram.
    pub busy_since: Option<Instant>,
}

/// Writes replies until the channel closes (the reader is done) and then ends the stream, or
/// until a write fails or stalls for `reply_timeout` (the peer is gone or not reading:
/// `peer_gone` is cancelled so the reader stops too). Each `busy` reply's time from its frame
/// to its flush lands in `busy_answer`.
pub async fn run(
    half: OwnedWriteHalf,
    mut replies: mpsc::UnboundedReceiver<Outgoing>,
    peer_gone: CancellationToken,
    reply_timeout: Duration,
    busy_answer: Histogram,
) {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, half);
    let pump = async {
        let mut busy = Vec::new();
        while let Some(first) = replies.recv().await {
            let mut next = Some(first);
            while let Some(reply) = next.take() {
                busy.extend(reply.busy_since);
                for part in reply.frame.parts() {
                    let mut written = 0;
                    while written < part.len() {
                        let n = progress(reply_timeout, out.write(&part[written..])).await?;
                        if n == 0 {
                            return Err(std::io::ErrorKind::WriteZero.into());
                        }
                        written += n;
                    }
                }
                drop(reply);
                next = replies.try_recv().ok();
            }
            progress(reply_timeout, out.flush()).await?;
            let written = Instant::now();
            for since in busy.drain(..) {
                busy_answer.observe(written.duration_since(since).as_secs_f64());
            }
        }
        // The reader has finished and every reply is out: tell the client with end of stream.
        progress(reply_timeout, out.shutdown()).await
    };
    tokio::select! {
        result = pump => {
            if let Err(error) = result {
                if error.kind() == std::io::ErrorKind::TimedOut {
                    tracing::warn!(reply_timeout_s = reply_timeout.as_secs_f64(), "peer reads no replies; closing the connection");
                } else {
                    tracing::debug!(%error, "write failed; the peer is gone");
                }
                peer_gone.cancel();
            }
        }
        _ = peer_gone.cancelled() => {}
    }
}

/// One write-side step that must complete within `limit`.
async fn progress<T>(
    limit: Duration,
    step: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    match tokio::time::timeout(limit, step).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no progress writing replies")),
    }
}
