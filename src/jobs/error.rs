//! Why a job refused or failed. The server's dispatch maps each variant to a wire error code
//! (`From<&JobError> for WireError`, protocol/SPEC.md section 6); nothing here knows the codes.

/// A job's refusal or failure, with the context a log line or the caller needs.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum JobError {
    /// A parameter is out of range (box, quality, algorithm list). Wire code `invalid_argument`.
    #[error("{0}")]
    InvalidArgument(String),
    /// The input is no supported image, or is corrupt or truncated. Wire code `bad_image`.
    #[error("{0}")]
    BadImage(String),
    /// The header declares more than the limits allow. Wire code `image_too_large`.
    #[error("image {width}x{height} exceeds {limit}")]
    ImageTooLarge { width: u64, height: u64, limit: String },
    /// The deadline passed; `stage` says where the job noticed. Wire code `deadline_exceeded`.
    #[error("deadline passed before {stage}")]
    DeadlineExceeded { stage: &'static str },
    /// The caller cancelled; `stage` says where the job noticed. Wire code `cancelled`.
    #[error("cancelled before {stage}")]
    Cancelled { stage: &'static str },
    /// A file passed by descriptor could not be read whole: not readable, a short read, or its
    /// size changed while it was read. Wire code `bad_file`.
    #[error("{0}")]
    BadFile(String),
    /// A bug: an encoder failed on valid pixels, or the job panicked. Wire code `internal`.
    #[error("{0}")]
    Internal(String),
}
