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
    /// The job ran for the daemon's whole `--max-job-time` (`limit`) and was stopped; `stage`
    /// says where it noticed. Wire code `deadline_exceeded`, like a caller's own deadline.
    #[error("job stopped before {stage}: it ran for the daemon's max_job_time of {}", humanize(*.limit))]
    RunTimeExceeded { stage: &'static str, limit: std::time::Duration },
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

/// `30s`, `1.5s`, `250ms`: the limit as an operator would write it.
fn humanize(limit: std::time::Duration) -> String {
    if limit.subsec_nanos() == 0 {
        format!("{}s", limit.as_secs())
    } else if limit < std::time::Duration::from_secs(1) {
        format!("{}ms", limit.as_millis())
    } else {
        format!("{}s", limit.as_secs_f64())
    }
}
