//! The error codes of protocol/SPEC.md section 6, and the error a reply carries.
//!
//! Numbers and names are part of the wire contract: they never change, and a unit test reads
//! SPEC.md's table to make sure this file and the document agree.

use std::fmt;

/// A stable wire error code (SPEC.md section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorCode {
    /// Not a MessagePack map with string keys, trailing bytes, a repeated key, a missing or
    /// mistyped field, an empty body, or `id = 0`.
    Malformed = 1,
    /// `hello` shared no version with the daemon.
    UnsupportedVersion = 2,
    /// `op` is not one the daemon serves.
    UnknownOp = 3,
    /// A value out of range or not one of its allowed words, or an id already in flight.
    InvalidArgument = 4,
    /// The length prefix exceeds `max_frame`; the connection is closed after the reply.
    FrameTooLarge = 5,
    /// The image is not a supported format, or is corrupt or truncated.
    BadImage = 6,
    /// The image header declares more than `max_dimension` or `max_pixels`.
    ImageTooLarge = 7,
    /// The request's `timeout_ms` ran out before or while it ran.
    DeadlineExceeded = 8,
    /// The client cancelled the request.
    Cancelled = 9,
    /// Full right now: the queue bound (jobs or bytes), the memory budget, the expected queue
    /// wait (longer than the request's deadline or `--max-queue-wait`), or the connection limit
    /// (then sent with id 0 right after accept). Nothing was queued; retrying later may work.
    Busy = 10,
    /// The daemon is stopping and did not start this request.
    ShuttingDown = 11,
    /// A bug in the daemon, for example a panic in a job.
    Internal = 12,
    /// The job's estimated memory alone exceeds the daemon's whole memory budget: it could
    /// never be admitted here (another path may run it).
    TooLargeForBudget = 13,
    /// The connecting process's uid/gid is not allowed; sent with id 0 right after accept.
    PeerNotAllowed = 14,
    /// A `*_file` request's descriptor is missing, not a readable regular file, or the file
    /// changed size while it was read.
    BadFile = 15,
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::Malformed,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnknownOp,
        ErrorCode::InvalidArgument,
        ErrorCode::FrameTooLarge,
        ErrorCode::BadImage,
        ErrorCode::ImageTooLarge,
        ErrorCode::DeadlineExceeded,
        ErrorCode::Cancelled,
        ErrorCode::Busy,
        ErrorCode::ShuttingDown,
        ErrorCode::Internal,
        ErrorCode::TooLargeForBudget,
        ErrorCode::PeerNotAllowed,
        ErrorCode::BadFile,
    ];

    /// The number sent on the wire.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The name used in SPEC.md, in logs and in clients' error types.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::BadImage => "bad_image",
            ErrorCode::ImageTooLarge => "image_too_large",
            ErrorCode::DeadlineExceeded => "deadline_exceeded",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Busy => "busy",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
            ErrorCode::TooLargeForBudget => "too_large_for_budget",
            ErrorCode::PeerNotAllowed => "peer_not_allowed",
            ErrorCode::BadFile => "bad_file",
        }
    }

    /// The code with this wire number, if the table has one.
    pub fn from_number(number: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|code| u64::from(code.number()) == number)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an error reply carries: a code and a human-readable message (not for parsing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WireError {
    /// The stable code.
    pub code: ErrorCode,
    /// Detail for logs; clients must not parse it.
    pub message: String,
}

impl WireError {
    /// An error reply with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of SPEC.md's section 6 table, as (number, name).
    fn spec_table() -> Vec<(u8, String)> {
        let spec =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/protocol/SPEC.md")).expect("read SPEC.md");
        let section = spec.split("## 6. Error codes").nth(1).expect("SPEC.md has section 6");
        let section = section.split("\n## ").next().unwrap();
        section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let number = cells.get(1)?.parse::<u8>().ok()?;
                let name = cells.get(2)?.trim_matches('`').to_string();
                Some((number, name))
            })
            .collect()
    }


    #[test]
    fn codes_match_the_spec_table() {
        let spec = spec_table();
        let ours: Vec<(u8, String)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.number(), c.name().to_string()))
            .collect();
        assert_eq!(ours, spec);
    }

    #[test]
    fn numbers_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_number(code.number().into()), Some(code));
        }
        assert_eq!(ErrorCode::from_number(0), None);
        assert_eq!(ErrorCode::from_number(16), None);
    }
}
