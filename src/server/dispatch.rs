//! What each operation does once its request is decoded: `hello` and `stats` are answered from
//! the connection's task; `resize` and `checksum` (and their `*_file` forms) become a [`Job`]
//! closure for the CPU pool.
//!
//! This is the one place where wire and jobs meet: a decoded [`ResizeRequest`] becomes the
//! job's [`ResizeParams`] (defaults filled in; one per output for a request with `outputs`), a
//! [`ResizeOutput`] becomes a [`ResizeReply`] (several a [`SeveralReply`]), and every
//! [`JobError`] becomes a [`WireError`] with its code (SPEC.md section 6).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::budget::{Reservation, Shortfall};
use super::cost::{CostModel, JobKind};
use super::State;
use crate::jobs::resize::ResizeOutput;
use crate::jobs::{self, Algorithm, InputFile, JobControl, JobError, Limits, ResizeParams};
use crate::protocol::error_code::{ErrorCode, WireError};
use crate::protocol::request::{ChecksumRequest, HelloRequest, OutputRequest, ProbeRequest, ResizeRequest, MAX_OUTPUTS};
use crate::protocol::response::{
    ChecksumReply, HelloLimits, HelloReply, OutputReply, ProbeReply, ReplyBody, ResizeReply, SeveralReply,
    StatsMemory, StatsReply,
};
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
        limits: Some(HelloLimits {
            memory_budget: state.budget.limit(),
            max_connections: state.connection_limits.max_connections,
            max_queue_wait_ms: state.max_queue_wait.as_millis() as u64,
            max_outputs: Some(MAX_OUTPUTS),
        }),
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
        memory: Some(StatsMemory {
            memory_budget: state.budget.limit(),
            memory_used: state.budget.used(),
            connections_refused: counters.connections_refused,
        }),
    })
}

/// The `probe` reply (SPEC.md 5.8): the header read and the memory estimate of a resize, no
/// pixel decoded, so it runs on the connection's task or a blocking thread, never on the pool.
/// A panic in header code is `internal`, as a panic in a job is; the decoders' own panics are
/// already `bad_image` (they are guarded where they are opened).
pub fn probe(limits: &Limits, request: &ProbeRequest) -> Result<ReplyBody, WireError> {
    let thumbnail = match (request.width, request.height) {
        (None, None) => None,
        (w, h) => Some((w.unwrap_or(0), h.unwrap_or(0))),
    };
    let run = || jobs::probe::probe(&request.image, thumbnail, limits);
    let info = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .map_err(|_| WireError::new(ErrorCode::Internal, "probe panicked"))?
        .map_err(|e| WireError::from(&e))?;
    Ok(ReplyBody::Probe(ProbeReply {
        format: info.format,
        width: info.width,
        height: info.height,
        orientation: info.orientation,
        alpha: info.alpha,
        icc: info.icc,
        progressive: info.progressive,
        frames: info.frames,
        memory: info.memory,
    }))
}

/// A request that runs on the CPU pool.
#[derive(Debug)]
pub enum Job {
    /// Decode, resize, encode; with `outputs`, decode once and make each.
    Resize(ResizeRequest),
    /// Digests.
    Checksum(ChecksumRequest),
    /// Digests of a file passed by descriptor (closed when the job is dropped).
    ChecksumFile(InputFile, Vec<Algorithm>),
    /// Thumbnail of a file passed by descriptor; `image` is empty until the job reads the file.
    ResizeFile(InputFile, ResizeRequest),
}

/// What a checksum holds beside its data (hash states, rayon's split of a large input).
const CHECKSUM_MEMORY: u64 = 1 << 20;

impl Job {
    /// Payload bytes the job holds while queued and running (counted against `--queue-bytes`).
    /// For `checksum_file` that is its two chunk buffers, not the file: a file of any size is
    /// read through them.
    pub fn payload_len(&self) -> u64 {
        match self {
            Job::Resize(r) => r.image.len() as u64,
            Job::Checksum(c) => c.data.len() as u64,
            Job::ChecksumFile(file, _) => jobs::checksum_file::buffer_bytes(file.size()),
            Job::ResizeFile(file, _) => file.size(),
        }
    }

    /// What the job's run time is proportional to, for the cost model: a resize's memory
    /// estimate (`memory`); for a resize with `outputs`, the sum of each output's estimate as if
    /// it were asked alone, so that every output's resize and encode is counted (the decode, done
    /// once, is counted once per output: the kind's own rate learns that away); a checksum's
    /// input length; a `resize_file`'s file size (its header is not read before it runs).
    pub fn cost_units(&self, memory: u64, limits: &Limits) -> u64 {
        match self {
            Job::Resize(r) => match &r.outputs {
                Some(outputs) => output_params(r, outputs)
                    .iter()
                    .map(|params| jobs::resize::estimate_memory(&r.image, params, limits).unwrap_or(memory))
                    .fold(0u64, u64::saturating_add)
                    .max(memory),
                None => memory,
            },
            Job::ResizeFile(file, _) => file.size(),
            Job::Checksum(c) => c.data.len() as u64,
            Job::ChecksumFile(file, _) => file.size(),
        }
    }

    /// Which cost average the job's run time feeds.
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Resize(r) if r.outputs.is_some() => JobKind::ResizeSeveral,
            Job::Resize(_) => JobKind::Resize,
            Job::ResizeFile(..) => JobKind::ResizeFile,
            Job::Checksum(_) | Job::ChecksumFile(..) => JobKind::Checksum,
        }
    }

    /// Memory the job will allocate at most, beside its request frame: for a resize, the
    /// estimate from the image header ([`jobs::resize::estimate_memory`], or
    /// [`jobs::resize::estimate_memory_several`]: the decode plus every output). A resize the
    /// job would refuse before decoding (bad box, unreadable header, over the limits) is refused
    /// here with the same error, before it is queued. A `resize_file` holds its file's bytes;
    /// its estimate needs the header, so the job reserves it after reading ([`resize_file`]).
    /// A `checksum_file` holds its chunk buffers.
    pub fn memory(&self, limits: &Limits) -> Result<u64, WireError> {
        match self {
            Job::Resize(r) => resize_estimate(r, limits).map_err(|e| WireError::from(&e)),
            Job::Checksum(_) => Ok(CHECKSUM_MEMORY),
            Job::ChecksumFile(file, _) => Ok(CHECKSUM_MEMORY + jobs::checksum_file::buffer_bytes(file.size())),
            Job::ResizeFile(file, _) => Ok(file.size()),
        }
    }

    /// The closure a worker runs. It first checks whether the job should start at all: not once
    /// shutdown has begun (`shutting_down`), not past its deadline or after a cancel, not past
    /// `run.start_by` (`busy`); then it starts the job's run clock (`run.max_job_time`). `held` is the job's share of the memory
    /// budget, released when the closure is done or dropped; the run time of a job that ran is
    /// recorded in `run.costs` against `run.units`.
    pub fn into_work(
        self,
        mut ctl: JobControl,
        limits: Limits,
        draining: CancellationToken,
        held: Reservation,
        run: JobRun,
    ) -> impl FnOnce() -> Result<ReplyBody, WireError> + Send + 'static {
        move || {
            let budget = Arc::clone(held.budget());
            let _held = held;
            if draining.is_cancelled() {
                return Err(WireError::new(
                    ErrorCode::ShuttingDown,
                    "daemon is shutting down; the job was not started",
                ));
            }
            ctl.check("start").map_err(|e| WireError::from(&e))?;
            let late = Instant::now().saturating_duration_since(run.start_by);
            if !late.is_zero() {
                return Err(WireError::new(
                    ErrorCode::Busy,
                    format!(
                        "not started within max_queue_wait {}ms (waited {}ms): the queue ran slower than expected",
                        run.max_queue_wait.as_millis(),
                        (run.max_queue_wait + late).as_millis()
                    ),
                ));
            }
            ctl.start_run_clock(run.max_job_time);
            let kind = self.kind();
            let started = Instant::now();
            let result = match self {
                Job::Resize(r) => run_resize(&r, &limits, &ctl).map_err(|e| WireError::from(&e)),
                Job::Checksum(c) => jobs::checksum::checksum(&c.data, &c.algorithms, &ctl)
                    .map(|digests| ReplyBody::Checksum(ChecksumReply { digests }))
                    .map_err(|e| WireError::from(&e)),
                Job::ChecksumFile(file, algorithms) => jobs::checksum_file::checksum_file(&file, &algorithms, &ctl)
                    .map(|digests| ReplyBody::Checksum(ChecksumReply { digests }))
                    .map_err(|e| WireError::from(&e)),
                Job::ResizeFile(file, r) => resize_file(file, r, &limits, &ctl, &budget),
            };
            // A job cut short by its caller says nothing about its cost; one stopped by the run
            // limit is recorded anyway (a lower bound, but the right order of magnitude), so the
            // queue stops admitting its like as if it were cheap.
            let cut_by_caller = match &result {
                Err(e) if e.code == ErrorCode::Cancelled => true,
                Err(e) if e.code == ErrorCode::DeadlineExceeded => !ctl.stopped_by_run_limit(),
                _ => false,
            };
            if !cut_by_caller {
                run.costs.record(kind, run.units, started.elapsed());
            }
            result
        }
    }
}

/// What a job's closure needs to bound and account its run: when it must have started, how
/// long it may run (`--max-job-time`), and the cost model its run time feeds, with the job's
/// size in the model's units.
#[derive(Clone, Debug)]
pub struct JobRun {
    /// Admission plus `--max-queue-wait`: a job that no worker reached by then is not started
    /// but answered `busy` (the queue ran slower than its recent run times said; skipping the
    /// job lets the queue catch up instead of making every later job late too).
    pub start_by: Instant,
    /// `--max-queue-wait`, for that refusal's message.
    pub max_queue_wait: Duration,
    /// The longest the job may run once a worker has started it.
    pub max_job_time: Duration,
    /// Where its run time is recorded.
    pub costs: Arc<CostModel>,
    /// Its size, in the units of [`Job::cost_units`].
    pub units: u64,
}

/// `resize_file` on a worker: the file is read whole (its size already reserved and bounded by
/// `max_frame`) and its descriptor closed; then the estimate from its header is reserved like a
/// `resize`'s at admission, and the normal resize runs.
fn resize_file(
    file: InputFile,
    mut request: ResizeRequest,
    limits: &Limits,
    ctl: &JobControl,
    budget: &Arc<super::budget::MemoryBudget>,
) -> Result<ReplyBody, WireError> {
    let wire = |e: JobError| WireError::from(&e);
    request.image = Bytes::from(file.read_all(ctl).map_err(wire)?);
    drop(file);
    let memory = resize_estimate(&request, limits).map_err(wire)?;
    let _estimate = budget.try_reserve(memory).map_err(|shortfall| match shortfall {
        Shortfall::Never => WireError::new(
            ErrorCode::TooLargeForBudget,
            format!("job needs an estimated {memory} bytes; the memory budget is {}", budget.limit()),
        ),
        Shortfall::Full => WireError::new(
            ErrorCode::Busy,
            format!("memory budget full: {} of {} bytes in use", budget.used(), budget.limit()),
        ),
    })?;
    run_resize(&request, limits, ctl).map_err(wire)
}

/// The memory estimate of a `resize` (or a `resize_file` once read), one output or several.
fn resize_estimate(r: &ResizeRequest, limits: &Limits) -> Result<u64, JobError> {
    match &r.outputs {
        Some(outputs) => jobs::resize::estimate_memory_several(&r.image, &output_params(r, outputs), limits),
        None => jobs::resize::estimate_memory(&r.image, &resize_params(r), limits),
    }
}

/// A `resize` (or a `resize_file` once read) on a worker: one output or several.
fn run_resize(r: &ResizeRequest, limits: &Limits, ctl: &JobControl) -> Result<ReplyBody, JobError> {
    match &r.outputs {
        Some(outputs) => jobs::resize::resize_several(&r.image, &output_params(r, outputs), limits, ctl)
            .map(|outs| ReplyBody::ResizeSeveral(several_reply(outs))),
        None => jobs::resize::resize(&r.image, &resize_params(r), limits, ctl).map(|out| ReplyBody::Resize(resize_reply(out))),
    }
}

/// The job's parameters for a wire request: each field as sent, or the job's default (which is
/// the default SPEC.md 5.3 states).
pub fn resize_params(request: &ResizeRequest) -> ResizeParams {
    let single = OutputRequest {
        width: request.width,
        height: request.height,
        mode: request.mode,
        anchor: request.anchor,
        filter: request.filter,
        format: request.format,
        quality: request.quality,
        enlarge: request.enlarge,
    };
    with_box(&shared_params(request), &single)
}

/// The job's parameters for each of a request's `outputs`: the output's box fields and the
/// request's `auto_orient`, `keep_icc`, `keep_metadata` and `fast`, each as sent or defaulted.
pub fn output_params(request: &ResizeRequest, outputs: &[OutputRequest]) -> Vec<ResizeParams> {
    let shared = shared_params(request);
    outputs.iter().map(|o| with_box(&shared, o)).collect()
}

/// The fields every output of a request shares, as sent or defaulted; the box at its defaults.
fn shared_params(request: &ResizeRequest) -> ResizeParams {
    let d = ResizeParams::default();
    ResizeParams {
        auto_orient: request.auto_orient.unwrap_or(d.auto_orient),
        keep_icc: request.keep_icc.unwrap_or(d.keep_icc),
        keep_metadata: request.keep_metadata.unwrap_or(d.keep_metadata),
        fast: request.fast.unwrap_or(d.fast),
        ..d
    }
}

/// `shared` with one output's box fields, each as sent or defaulted.
fn with_box(shared: &ResizeParams, o: &OutputRequest) -> ResizeParams {
    let d = ResizeParams::default();
    ResizeParams {
        width: o.width.unwrap_or(d.width),
        height: o.height.unwrap_or(d.height),
        mode: o.mode.unwrap_or(d.mode),
        anchor: o.anchor.unwrap_or(d.anchor),
        filter: o.filter.unwrap_or(d.filter),
        format: o.format.unwrap_or(d.format),
        quality: o.quality.unwrap_or(d.quality),
        enlarge: o.enlarge.unwrap_or(d.enlarge),
        ..shared.clone()
    }
}

/// The reply fields for thumbnails made from one decode, in request order. The job returns at
/// least one output; the source fields are the same in each.
pub fn several_reply(outs: Vec<ResizeOutput>) -> SeveralReply {
    let (source_width, source_height, source_format) = outs
        .first()
        .map(|o| (o.source_width, o.source_height, o.source_format))
        .unwrap_or((0, 0, crate::vocabulary::ImageFormat::Jpeg));
    SeveralReply {
        outputs: outs
            .into_iter()
            .map(|o| OutputReply { image: Bytes::from(o.bytes), width: o.width, height: o.height, format: o.format })
            .collect(),
        source_width,
        source_height,
        source_format,
    }
}

/// The reply fields for a finished thumbnail.
pub fn resize_reply(out: ResizeOutput) -> ResizeReply {
    ResizeReply {
        // Vec -> Bytes takes ownership of the allocation: no copy.
        image: Bytes::from(out.bytes),
        width: out.width,
        height: out.height,
        format: out.format,
        source_width: out.source_width,
        source_height: out.source_height,
        source_format: out.source_format,
    }
}

impl From<&JobError> for WireError {
    fn from(error: &JobError) -> Self {
        let code = match error {
            JobError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            JobError::BadImage(_) => ErrorCode::BadImage,
            JobError::ImageTooLarge { .. } => ErrorCode::ImageTooLarge,
            JobError::DeadlineExceeded { .. } | JobError::RunTimeExceeded { .. } => ErrorCode::DeadlineExceeded,
            JobError::Cancelled { .. } => ErrorCode::Cancelled,
            JobError::BadFile(_) => ErrorCode::BadFile,
            JobError::Internal(_) => ErrorCode::Internal,
        };
        WireError::new(code, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{Filter, Mode, OutputFormat};

    #[test]
    fn every_job_error_maps_to_its_code() {
        let cases = [
            (JobError::InvalidArgument("q".into()), ErrorCode::InvalidArgument),
            (JobError::BadImage("b".into()), ErrorCode::BadImage),
            (JobError::ImageTooLarge { width: 2, height: 3, limit: "max_pixels 1".into() }, ErrorCode::ImageTooLarge),
            (JobError::DeadlineExceeded { stage: "decode" }, ErrorCode::DeadlineExceeded),
            (JobError::RunTimeExceeded { stage: "encode", limit: Duration::from_secs(30) }, ErrorCode::DeadlineExceeded),
            (JobError::Cancelled { stage: "resize" }, ErrorCode::Cancelled),
            (JobError::BadFile("short".into()), ErrorCode::BadFile),
            (JobError::Internal("boom".into()), ErrorCode::Internal),
        ];
        for (error, code) in cases {
            let wire = WireError::from(&error);
            assert_eq!(wire.code, code);
            assert_eq!(wire.message, error.to_string());
        }
    }

    #[test]
    fn absent_fields_take_the_job_defaults_and_sent_ones_are_kept() {
        assert_eq!(resize_params(&ResizeRequest::default()), ResizeParams::default());
        let sent = ResizeRequest {
            width: Some(10),
            mode: Some(Mode::Fill),
            filter: Some(Filter::Nearest),
            format: Some(OutputFormat::WebP),
            quality: Some(5),
            keep_icc: Some(true),
            ..ResizeRequest::default()
        };
        let params = resize_params(&sent);
        assert_eq!(
            (params.width, params.height, params.mode, params.filter, params.format, params.quality, params.keep_icc),
            (10, 0, Mode::Fill, Filter::Nearest, OutputFormat::WebP, 5, true)
        );
        assert!(params.auto_orient, "auto_orient defaults to true");
    }

    #[test]
    fn each_output_takes_its_box_and_the_shared_flags() {
        let outputs = [
            OutputRequest { width: Some(100), format: Some(OutputFormat::Png), ..OutputRequest::default() },
            OutputRequest { width: Some(20), height: Some(10), mode: Some(Mode::Fill), quality: Some(9), ..OutputRequest::default() },
        ];
        let request = ResizeRequest { keep_metadata: Some(true), auto_orient: Some(false), fast: Some(true), ..ResizeRequest::default() };
        let params = output_params(&request, &outputs);
        assert_eq!(
            params.iter().map(|p| (p.width, p.height, p.mode, p.format, p.quality)).collect::<Vec<_>>(),
            [(100, 0, Mode::Fit, OutputFormat::Png, 80), (20, 10, Mode::Fill, OutputFormat::Jpeg, 9)]
        );
        assert!(params.iter().all(|p| p.keep_metadata && !p.auto_orient && !p.keep_icc && p.fast));
    }
}
