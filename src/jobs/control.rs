//! Deadline, run-time limit and cancellation, checked by a job between stages and per band of
//! rows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::JobError;

/// What a running job polls to learn that its caller no longer wants the result.
///
/// Cloning shares the cancellation flag: the connection keeps one clone and sets it when a
/// `cancel` arrives or the peer goes away; the job holds the other and stops at its next check.
#[derive(Clone, Debug, Default)]
pub struct JobControl {
    deadline: Option<Instant>,
    /// The daemon's own bound on how long the job may run (`--max-job-time`), counted from the
    /// moment a worker starts it: when it ends, and the limit for the error message.
    run_limit: Option<(Instant, Duration)>,
    cancelled: Arc<AtomicBool>,
}

impl JobControl {
    /// A control with an optional deadline and a fresh cancellation flag.
    pub fn new(deadline: Option<Instant>) -> Self {
        Self { deadline, run_limit: None, cancelled: Arc::new(AtomicBool::new(false)) }
    }

    /// Starts the run clock: from now on the job may run for at most `limit`, whatever its
    /// caller's deadline (which counts from arrival, queue included). Called by the worker that
    /// picks the job up; the connection's clone, which only cancels, never needs it.
    pub fn start_run_clock(&mut self, limit: Duration) {
        self.run_limit = Some((Instant::now() + limit, limit));
    }

    /// A control that never expires and is never cancelled (tests, benches).
    pub fn unbounded() -> Self {
        Self::default()
    }

    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// The deadline, if the request carried one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the run clock has run out while the caller's own deadline has not: a
    /// `deadline_exceeded` now is the daemon's limit, not the caller's.
    pub fn stopped_by_run_limit(&self) -> bool {
        let now = Instant::now();
        self.run_limit.is_some_and(|(ends, _)| now >= ends) && self.deadline.is_none_or(|deadline| now < deadline)
    }

    /// `Err` once the job should stop; `stage` names where it noticed, for the error message.
    pub fn check(&self, stage: &'static str) -> Result<(), JobError> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(JobError::Cancelled { stage });
        }
        if self.deadline.is_none() && self.run_limit.is_none() {
            return Ok(());
        }
        let now = Instant::now();
        if self.deadline.is_some_and(|deadline| now >= deadline) {
            return Err(JobError::DeadlineExceeded { stage });
        }
        match self.run_limit {
            Some((ends, limit)) if now >= ends => Err(JobError::RunTimeExceeded { stage, limit }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_clock_stops_a_job_without_a_deadline_and_names_the_limit() {
        let mut ctl = JobControl::new(None);
        assert_eq!(ctl.check("start"), Ok(()));
        ctl.start_run_clock(Duration::ZERO);
        let err = ctl.check("resize").unwrap_err();
        assert_eq!(err, JobError::RunTimeExceeded { stage: "resize", limit: Duration::ZERO });
        assert!(err.to_string().contains("max_job_time"), "{err}");
        ctl.start_run_clock(Duration::from_secs(60));
        assert_eq!(ctl.check("encode"), Ok(()));
    }

    #[test]
    fn a_passed_deadline_is_reported_before_the_run_limit() {
        let mut ctl = JobControl::new(Some(Instant::now()));
        ctl.start_run_clock(Duration::ZERO);
        assert_eq!(ctl.check("decode"), Err(JobError::DeadlineExceeded { stage: "decode" }));
    }
}
