//! The wire protocol of protocol/SPEC.md: frames, requests, replies and error codes. Nothing
//! here does I/O or runs jobs; the server composes these pieces.
//!
//! # Layout
//! - [`codec`]: the length prefix, the `max_frame` check, empty and oversize frames (SPEC 2, 7).
//! - [`request`]: a frame body to a typed [`request::Request`] or the error that answers it
//!   (SPEC 3, 5, 7), payloads sliced out of the frame without a copy.
//! - [`response`]: replies in canonical MessagePack (SPEC 3.1), payloads kept out of the buffer.
//! - [`error_code`]: the code table (SPEC 6) and [`error_code::WireError`], the error a reply
//!   carries. (Job errors are mapped to it by the server's dispatch, not here.)
//! - `msgpack`: the structural pass over a body that the request decoder is built on.

pub mod codec;
pub mod error_code;
mod msgpack;
pub mod request;
pub mod response;

#[cfg(test)]
mod vectors_tests;

/// The protocol version this daemon speaks (SPEC.md section 9).
pub const PROTOCOL_VERSION: u64 = 1;

/// Daemon name and version, as `hello` and `stats` report it.
pub const SERVER_NAME: &str = concat!("ferryd ", env!("CARGO_PKG_VERSION"));

/// Default largest body length `N`: 128 MiB (SPEC.md section 2).
pub const DEFAULT_MAX_FRAME: u32 = 128 * 1024 * 1024;
