//! What each operation does once its request is decoded: `hello` and `stats` are answered from
//! the connection's task; `resize` and `checksum` become a [`Job`] closure for the CPU pool.

use tokio_util::sync::CancellationToken;

use super::State;
use crate::jobs::{self, JobControl, Limits};
use crate::protocol::error_code::{ErrorCode, WireError};
use crate::protocol::request::{ChecksumRequest, HelloRequest, ResizeRequest};
use crate::protocol::response::{ChecksumReply, HelloReply, ReplyBody, StatsReply};
use crate::protocol::{PROTOCOL_VERSION, SERVER_NAME};

/// The `hello` reply, or `unsupported_version` when the client speaks no version of ours.
pub fn hello(state: &State, request: &HelloRequest) -> Result<ReplyBody, WireError> {
    if !request.versions.contains(&PROTOCOL_VERSION) {
        return Err(WireError::new(
            ErrorCode::UnsupportedVersion,
            format!("no common protocol version; server speaks [{PROTOCOL_VERSION}]"),
        ));
    }
    let bound = state.pool.bound();
    Ok(ReplyBody::Hello(HelloReply {
        version: PROTOCOL_VERSION,
        server: SERVER_NAME.to_string(),
        max_frame: state.max_frame.into(),
        max_pixels: state.limits.max_pixels,
        max_dimension: state.limits.max_dimension.into(),
        workers: state.pool.workers() as u64,
        queue_jobs: bound.max_jobs,
        queue_bytes: bound.max_bytes,
    }))
}

/// The `stats` reply: counters since start and what the pool holds now.
pub fn stats(state: &State) -> ReplyBody {
    let counters = state.counters.snapshot();
    let usage = state.pool.usage();
    ReplyBody::Stats(StatsReply {
        server: SERVER_NAME.to_string(),
        uptime_ms: state.started.elapsed().as_millis() as u64,
        connections: counters.connections,
        jobs_running: usage.running,
        jobs_queued: usage.queued,
        queued_bytes: usage.bytes,
        requests_total: counters.requests_total,
        errors_total: counters.errors_total,
        busy_total: counters.busy_total,
        requests_by_op: counters.by_op,
        workers: state.pool.workers() as u64,
    })
}

/// A request that runs on the CPU pool.
#[derive(Debug)]
pub enum Job {
    /// Decode, resize, encode.
    Resize(ResizeRequest),
    /// Digests.
    Checksum(ChecksumRequest),
}

impl Job {
    /// Payload bytes the job holds while queued and running (counted against `--queue-bytes`).
    pub fn payload_len(&self) -> u64 {
        match self {
            Job::Resize(r) => r.image.len() as u64,
            Job::Checksum(c) => c.data.len() as u64,
        }
    }

    /// The closure a worker runs. It first checks whether the job should start at all: not once
    /// shutdown has begun (`shutting_down`), not past its deadline or after a cancel.
    pub fn into_work(
        self,
        ctl: JobControl,
        limits: Limits,
        draining: CancellationToken,
    ) -> impl FnOnce() -> Result<ReplyBody, WireError> + Send + 'static {
        move || {
            if draining.is_cancelled() {
                return Err(WireError::new(
                    ErrorCode::ShuttingDown,
                    "daemon is shutting down; the job was not started",
                ));
            }
            ctl.check("start").map_err(|e| WireError::from(&e))?;
            match self {
                Job::Resize(r) => jobs::resize::resize(&r.image, &r.params, &limits, &ctl)
                    .map(|out| ReplyBody::Resize(out.into()))
                    .map_err(|e| WireError::from(&e)),
                Job::Checksum(c) => jobs::checksum::checksum(&c.data, &c.algorithms, &ctl)
                    .map(|digests| ReplyBody::Checksum(ChecksumReply { digests }))
                    .map_err(|e| WireError::from(&e)),
            }
        }
    }
}
