//! Expected run times, learned from the jobs that ran, so that admission can refuse work that
//! would wait longer than a request may (`--max-queue-wait`, or its own deadline).
//!
//! Each kind of job keeps running averages of nanoseconds per unit of size, one per size class
//! (a power of two of units), since a small job's fixed costs would make a single rate wildly
//! wrong for a large one. For `resize` the unit is a byte of its memory estimate (which grows
//! with the input's and the output's pixel counts, what the run time follows); for a `resize`
//! with several outputs, the sum of each output's estimate as if it were asked alone (so eight
//! large outputs cost eight times one); for `resize_file` a byte of the file; for `checksum` a
//! byte of data. The expected run time of a new job is its size times the rate of its class, or
//! of the nearest class that has run (larger first: its rate carries less fixed cost, so the
//! guess errs towards admitting). A kind that has not run yet borrows the rate of a kind with
//! the same unit (several outputs: a single resize's); with neither, its cost is unknown (the
//! pool then counts it as costing what the next job admitted behind it is expected to cost).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How much one new run moves the average: 1/8 (the last dozen runs or so dominate).
const WEIGHT: f64 = 0.125;

/// The longest wait a job is admitted with: `max_queue_wait`, and, when the request has a
/// deadline (`remaining` of it left), whatever leaves time to run (`own` expected) before it: a
/// job that could only start to be stopped is refused now instead.
///
/// No headroom is kept below `max_queue_wait`, although the wait is enforced (a job no worker
/// reached in time is answered `busy` unrun) and estimates miss: a shorter queue costs goodput
/// where refused clients retry on the same cores. Measured under tenfold overload on 2 cores
/// (60 clients retrying after 5 ms, 250 ms wait, 4 s): admitting up to the whole wait served
/// 956-1001 jobs with 9-18 of them answered `busy` for starting late; up to three quarters of it
/// served 599, the difference spent on 24,490 `busy` round trips instead of 765-2,041.
pub fn admissible_wait(max_queue_wait: Duration, remaining: Option<Duration>, own: Option<Duration>) -> Duration {
    match remaining {
        Some(left) => max_queue_wait.min(left.saturating_sub(own.unwrap_or(Duration::ZERO))),
        None => max_queue_wait,
    }
}

/// The kinds of job with a cost of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Thumbnails.
    Resize,
    /// Digests.
    Checksum,
    /// Several thumbnails from one decode, per byte of its outputs' single estimates: less work
    /// than as many separate requests (one decode), so it learns its own rate.
    ResizeSeveral,
    /// A thumbnail of a file passed by descriptor, per byte of the file (its header is read only
    /// on the worker, so no estimate exists at admission).
    ResizeFile,
}

impl JobKind {
    /// The kind whose rate stands in until this one has run: the same unit, similar work.
    fn stand_in(self) -> Option<JobKind> {
        match self {
            JobKind::ResizeSeveral => Some(JobKind::Resize),
            JobKind::Resize | JobKind::Checksum | JobKind::ResizeFile => None,
        }
    }
}

/// How many [`JobKind`]s there are.
const KINDS: usize = 4;

/// Size classes: one per power of two of units.
const CLASSES: usize = 64;

/// Running averages of nanoseconds per unit, per [`JobKind`] and size class (`f64` bits in
/// atomics; 0 means no run yet).
#[derive(Debug)]
pub struct CostModel {
    ns_per_unit: [[AtomicU64; CLASSES]; KINDS],
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel { ns_per_unit: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))) }
    }
}

fn class(units: u64) -> usize {
    (63 - units.max(1).leading_zeros()) as usize
}

impl CostModel {
    /// The run time a job of `units` is expected to take on one worker; `None` until a job of
    /// its kind (or of its stand-in) has run.
    pub fn expected(&self, kind: JobKind, units: u64) -> Option<Duration> {
        let rate = self.rate(kind, units).or_else(|| kind.stand_in().and_then(|other| self.rate(other, units)))?;
        Some(Duration::from_nanos((rate * units as f64).min(u64::MAX as f64) as u64))
    }

    /// Nanoseconds per unit for a job of `units` of `kind`: its class's, or the nearest class's
    /// that has run; `None` before any job of the kind has run.
    fn rate(&self, kind: JobKind, units: u64) -> Option<f64> {
        let rates = &self.ns_per_unit[kind as usize];
        let rate_of = |c: usize| f64::from_bits(rates[c].load(Ordering::Relaxed));
        let own = class(units);
        (0..CLASSES)
            .flat_map(|d| [own.checked_add(d).filter(|&c| c < CLASSES), own.checked_sub(d)])
            .flatten()
            .map(rate_of)
            .find(|&rate| rate > 0.0)
    }

    /// Learns from a job of `units` that took `took`.
    pub fn record(&self, kind: JobKind, units: u64, took: Duration) {
        let sample = took.as_nanos() as f64 / units.max(1) as f64;
        let slot = &self.ns_per_unit[kind as usize][class(units)];
        // A lost update under a race only skips one sample.
        let old = f64::from_bits(slot.load(Ordering::Relaxed));
        let new = if old == 0.0 { sample } else { old + (sample - old) * WEIGHT };
        slot.store(new.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_rate_per_kind() {
        let model = CostModel::default();
        assert_eq!(model.expected(JobKind::Resize, 1000), None);
        model.record(JobKind::Resize, 1000, Duration::from_micros(10));
        assert_eq!(model.expected(JobKind::Resize, 2000), Some(Duration::from_micros(20)));
        assert_eq!(model.expected(JobKind::Checksum, 2000), None);
        model.record(JobKind::Resize, 1000, Duration::from_micros(18));
        assert_eq!(model.expected(JobKind::Resize, 1000), Some(Duration::from_micros(11)));
    }

    #[test]
    fn small_jobs_fixed_costs_do_not_inflate_large_ones() {
        let model = CostModel::default();
        // 1 byte in 20 us (all overhead), 1 MiB in 1 ms.
        model.record(JobKind::Checksum, 1, Duration::from_micros(20));
        model.record(JobKind::Checksum, 1 << 20, Duration::from_millis(1));
        assert_eq!(model.expected(JobKind::Checksum, 1 << 20), Some(Duration::from_millis(1)));
        assert_eq!(model.expected(JobKind::Checksum, 1), Some(Duration::from_micros(20)));
        // An unseen class borrows the nearest larger one's rate.
        assert_eq!(model.expected(JobKind::Checksum, 1 << 10), Some(Duration::from_nanos(976)));
    }

    #[test]
    fn the_admissible_wait_keeps_headroom_and_room_to_run() {
        let (two, ms) = (Duration::from_secs(2), Duration::from_millis);
        assert_eq!(admissible_wait(two, None, Some(ms(100))), two);
        assert_eq!(admissible_wait(two, Some(ms(500)), Some(ms(100))), ms(400));
        assert_eq!(admissible_wait(two, Some(ms(500)), None), ms(500));
        assert_eq!(admissible_wait(two, Some(ms(50)), Some(ms(100))), Duration::ZERO);
    }

    #[test]
    fn several_outputs_borrow_the_single_rate_until_they_have_their_own() {
        let model = CostModel::default();
        model.record(JobKind::Resize, 1 << 20, Duration::from_millis(10));
        // Eight outputs of one megabyte's estimate each: eight times one output.
        assert_eq!(model.expected(JobKind::ResizeSeveral, 8 << 20), Some(Duration::from_millis(80)));
        model.record(JobKind::ResizeSeveral, 8 << 20, Duration::from_millis(40));
        assert_eq!(model.expected(JobKind::ResizeSeveral, 8 << 20), Some(Duration::from_millis(40)));
        // A file's bytes are no estimate's: no stand-in.
        assert_eq!(model.expected(JobKind::ResizeFile, 1 << 20), None);
    }
}
