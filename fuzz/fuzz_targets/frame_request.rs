//! Bytes from a peer, cut into reads of varying size, through [`FrameDecoder`] and
//! [`request::decode`]: never a panic, and every outcome one the server knows how to answer.
//!
//! Input: the first byte picks the read size (1 to 16 bytes, or everything at once from 240
//! on), so prefixes and bodies split across reads are covered; the rest is the byte stream.

#![no_main]

use bytes::{Bytes, BytesMut};
use ferryd::protocol::codec::{FrameDecoder, Inbound};
use ferryd::protocol::error_code::ErrorCode;
use ferryd::protocol::request::{self, Body};
use ferryd::protocol::response;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

/// Small enough that oversize frames happen, large enough for every frame in the vectors.
const MAX_FRAME: u32 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else { return };
    let step = if cut >= 240 { stream.len().max(1) } else { usize::from(cut % 16) + 1 };
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut buf = BytesMut::new();
    for chunk in stream.chunks(step) {
        buf.extend_from_slice(chunk);
        while let Some(item) = decoder.decode(&mut buf).expect("FrameDecoder never fails") {
            if !serve(item) {
                return;
            }
        }
    }
    while let Some(item) = decoder.decode_eof(&mut buf).expect("FrameDecoder never fails at end of stream") {
        if !serve(item) {
            return;
        }
    }
});

/// Checks one decoder outcome as the connection would handle it; `false` when the connection
/// stops reading (an oversize prefix).
fn serve(item: Inbound) -> bool {
    match item {
        Inbound::Empty => true,
        Inbound::TooLarge { len } => {
            assert!(len > MAX_FRAME, "TooLarge for an allowed length {len}");
            false
        }
        Inbound::Frame(body) => {
            assert!(!body.is_empty() && body.len() <= MAX_FRAME as usize, "frame of {} bytes", body.len());
            check_request(&body);
            true
        }
    }
}

fn check_request(body: &Bytes) {
    match request::decode(body) {
        Ok(request) => {
            assert_ne!(request.id, 0, "id 0 accepted");
            // Payloads are slices of the frame.
            let payload = match &request.body {
                Body::Resize(r) => Some(&r.image),
                Body::Checksum(c) => Some(&c.data),
                Body::Probe(p) => Some(&p.image),
                _ => None,
            };
            if let Some(payload) = payload {
                let (start, end) = (body.as_ptr() as usize, body.as_ptr() as usize + body.len());
                let at = payload.as_ptr() as usize;
                assert!(payload.is_empty() || (at >= start && at + payload.len() <= end), "payload outside the frame");
            }
        }
        Err(rejection) => {
            let code = rejection.error.code;
            assert!(
                matches!(code, ErrorCode::Malformed | ErrorCode::UnknownOp | ErrorCode::InvalidArgument),
                "decoding answered {code}: {rejection}"
            );
            assert!(rejection.id != 0 || code == ErrorCode::Malformed, "id 0 with {code}");
            // The reply the server would send encodes as one well-formed frame.
            let frame = response::encode_error(rejection.id, &rejection.error).to_vec();
            let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
            assert_eq!(len + 4, frame.len(), "reply prefix");
        }
    }
}
