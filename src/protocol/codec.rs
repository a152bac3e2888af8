//! Framing (protocol/SPEC.md sections 2 and 7): a `u32` big-endian body length, then the body.
//!
//! ```text
//! +----------------+------------------------------+
//! | N: u32 BE      | body: N bytes of MessagePack |
//! +----------------+------------------------------+
//!   4 bytes          1 <= N <= max_frame
//! ```
//!
//! Why not `tokio_util::codec::LengthDelimitedCodec` as is: it reports `N > max_frame` as an
//! `io::Error`, after which `FramedRead` yields nothing more, and it hands back an empty frame
//! for `N = 0`. The spec needs both as *frames of their own*: `N > max_frame` is answered
//! `frame_too_large` (id 0) the moment the four length bytes are in, before any of the body is
//! allocated or read, and only then is the connection closed; `N = 0` is answered `malformed`
//! and the connection stays open. [`FrameDecoder`] does the same length-prefix walk and yields
//! those cases as [`Inbound`] values, and it discards a partial frame at end of stream instead
//! of failing.
//!
//! The size check happens when the prefix is complete ([`classify_prefix`]); nothing is
//! reserved for the body up front: the buffer grows as bytes arrive, so a peer that announces
//! 128 MiB and sends two bytes costs two bytes. (The daemon reads frames with its own reader,
//! which also reserves `N` against the memory budget at this point; it shares
//! [`classify_prefix`] with [`FrameDecoder`].) The body is split off the read buffer as
//! [`Bytes`] without a copy.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

/// Length of the frame prefix.
pub const PREFIX_LEN: usize = 4;

/// What a complete 4-byte prefix announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefix {
    /// `N = 0`: answered `malformed`, the connection stays usable.
    Empty,
    /// `N > max_frame`: answered `frame_too_large` (id 0), then the connection is closed.
    TooLarge(u32),
    /// A body of `1..=max_frame` bytes follows.
    Body(usize),
}

/// Reads the length prefix and checks it against `max_frame`.
pub fn classify_prefix(prefix: [u8; PREFIX_LEN], max_frame: u32) -> Prefix {
    match u32::from_be_bytes(prefix) {
        0 => Prefix::Empty,
        n if n > max_frame => Prefix::TooLarge(n),
        n => Prefix::Body(n as usize),
    }
}

/// What the decoder read from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A complete body of `1..=max_frame` bytes.
    Frame(Bytes),
    /// A prefix of `N = 0`: answered `malformed`, the connection stays usable.
    Empty,
    /// A prefix over `max_frame`: answered `frame_too_large`; the body is never read and the
    /// decoder must not be polled again.
    TooLarge {
        /// The announced body length.
        len: u32,
    },
}

/// Splits a byte stream into [`Inbound`] frames.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame: u32,
    /// Body length of the frame being read, once its prefix has been consumed.
    body_len: Option<usize>,
}

impl FrameDecoder {
    /// A decoder that accepts bodies of up to `max_frame` bytes.
    pub fn new(max_frame: u32) -> Self {
        Self { max_frame, body_len: None }
    }
}

impl Decoder for FrameDecoder {
    type Item = Inbound;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Inbound>> {
        let len = match self.body_len {
            Some(len) => len,
            None => {
                if src.len() < PREFIX_LEN {
                    return Ok(None);
                }
                let prefix = [src[0], src[1], src[2], src[3]];
                src.advance(PREFIX_LEN);
                let len = match classify_prefix(prefix, self.max_frame) {
                    Prefix::Empty => return Ok(Some(Inbound::Empty)),
                    Prefix::TooLarge(len) => return Ok(Some(Inbound::TooLarge { len })),
                    Prefix::Body(len) => len,
                };
                self.body_len = Some(len);
                len
            }
        };
        if src.len() < len {
            return Ok(None);
        }
        self.body_len = None;
        Ok(Some(Inbound::Frame(src.split_to(len).freeze())))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> io::Result<Option<Inbound>> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None => {
                // End of stream inside a frame: SPEC.md section 7 says discard it.
                src.clear();
                self.body_len = None;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(decoder: &mut FrameDecoder, buf: &mut BytesMut) -> Vec<Inbound> {
        let mut out = Vec::new();
        while let Some(item) = decoder.decode(buf).unwrap() {
            let stop = matches!(item, Inbound::TooLarge { .. });
            out.push(item);
            if stop {
                break;
            }
        }
        out
    }

    #[test]
    fn splits_frames_and_reports_empty_ones() {
        let mut d = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 2, 0xa1, 0x61, 0, 0, 0, 0, 0, 0, 0, 1, 0xc0][..]);
        assert_eq!(
            feed(&mut d, &mut buf),
            vec![
                Inbound::Frame(Bytes::from_static(&[0xa1, 0x61])),
                Inbound::Empty,
                Inbound::Frame(Bytes::from_static(&[0xc0]))
            ]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn waits_for_a_split_prefix_and_body() {
        let mut d = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0, 0][..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[0, 3, 1]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(&[2, 3]);
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Inbound::Frame(Bytes::from_static(&[1, 2, 3]))));
    }

    #[test]
    fn oversize_is_reported_from_the_prefix_alone() {
        let mut d = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 17][..]);
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Inbound::TooLarge { len: 17 }));
        // nothing was reserved for the body
        assert!(buf.capacity() < 17);
        // an allowed length reserves nothing either: the body grows as it arrives
        let mut d = FrameDecoder::new(1 << 20);
        let mut buf = BytesMut::from(&[0, 0x10, 0, 0][..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert!(buf.capacity() < 1 << 20);
    }

    #[test]
    fn partial_frame_at_eof_is_discarded() {
        let mut d = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&[0, 0, 0, 5, 1, 2][..]);
        assert_eq!(d.decode_eof(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
        let mut buf = BytesMut::from(&[0, 0][..]);
        assert_eq!(d.decode_eof(&mut buf).unwrap(), None);
    }
}
