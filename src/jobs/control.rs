//! Deadline and cancellation, checked by a job between stages and per band of rows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::JobError;

/// What a running job polls to learn that its caller no longer wants the result.
///
/// Cloning shares the cancellation flag: the connection keeps one clone and sets it when a
/// `cancel` arrives or the peer goes away; the job holds the other and stops at its next check.
#[derive(Clone, Debug, Default)]
pub struct JobControl {
    deadline: Option<Instant>,
    cancelled: Arc<AtomicBool>,
}

impl JobControl {
    /// A control with an optional deadline and a fresh cancellation flag.
    pub fn new(deadline: Option<Instant>) -> Self {
        Self { deadline, cancelled: Arc::new(AtomicBool::new(false)) }
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

    /// `Err` once the job should stop; `stage` names where it noticed, for the error message.
    pub fn check(&self, stage: &'static str) -> Result<(), JobError> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(JobError::Cancelled { stage });
        }
        if let Some(deadline) = self.deadline {
            if Instant::now() >= deadline {
                return Err(JobError::DeadlineExceeded { stage });
            }
        }
        Ok(())
    }
}
