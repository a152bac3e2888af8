//! The write side of a connection: replies from a channel, coalesced into as few writes as
//! possible.
//!
//! Each reply is written into a buffer; the buffer is flushed only when no further reply is
//! ready, so a burst of pipelined pings goes out in one `write`, while a lone reply goes out at
//! once. A payload larger than the buffer (a thumbnail) is written straight from its own
//! [`bytes::Bytes`], not copied in.

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::protocol::response::ReplyFrame;

/// Write buffer per connection: a few hundred small replies.
const WRITE_BUFFER: usize = 64 * 1024;

/// Writes replies until the channel closes (the reader is done) and then ends the stream, or
/// until a write fails (the peer is gone: `peer_gone` is cancelled so the reader stops too), or
/// until `closing` is cancelled (shutdown's grace period is over).
pub async fn run(
    half: OwnedWriteHalf,
    mut replies: mpsc::Receiver<ReplyFrame>,
    peer_gone: CancellationToken,
    closing: CancellationToken,
) {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, half);
    let pump = async {
        while let Some(first) = replies.recv().await {
            let mut next = Some(first);
            while let Some(frame) = next.take() {
                for part in frame.parts() {
                    out.write_all(part).await?;
                }
                next = replies.try_recv().ok();
            }
            out.flush().await?;
        }
        // The reader has finished and every reply is out: tell the client with end of stream.
        out.shutdown().await
    };
    tokio::select! {
        result = pump => {
            if let Err(error) = result {
                tracing::debug!(%error, "write failed; the peer is gone");
                peer_gone.cancel();
            }
        }
        _ = closing.cancelled() => {}
    }
}
