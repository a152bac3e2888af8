//! Expected run times, learned from the jobs that ran, so that admission can refuse work that
//! would wait longer than a request may (`--max-queue-wait`, or its own deadline).
//!
//! Each kind of job keeps running averages of nanoseconds per unit of size, one per size class
//! (a power of two of units), since a small job's fixed costs would make a single rate wildly
//! wrong for a large one. For `resize` the unit is a byte of its memory estimate (which grows
//! with the input's and the output's pixel counts, what the run time follows), for `checksum` a
//! byte of data. The expected run time of a new job is its size times the rate of its class, or
//! of the nearest class that has run (larger first: its rate carries less fixed cost, so the
//! guess errs towards admitting); until a kind has run at all it is expected to take no time,
//! so a fresh daemon admits by the queue bound alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How much one new run moves the average: 1/8 (the last dozen runs or so dominate).
const WEIGHT: f64 = 0.125;

/// The kinds of job with a cost of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// Thumbnails.
    Resize,
    /// Digests.
    Checksum,
    /// Several thumbnails from one decode: per byte of its estimate, more work than one output
    /// (every output is encoded), so it learns its own rate.
    ResizeSeveral,
}

/// How many [`JobKind`]s there are.
const KINDS: usize = 3;

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
    /// The run time a job of `units` is expected to take on one worker.
    pub fn expected(&self, kind: JobKind, units: u64) -> Duration {
        let rates = &self.ns_per_unit[kind as usize];
        let rate_of = |c: usize| f64::from_bits(rates[c].load(Ordering::Relaxed));
        let own = class(units);
        let nearest = (0..CLASSES)
            .flat_map(|d| [own.checked_add(d).filter(|&c| c < CLASSES), own.checked_sub(d)])
            .flatten()
            .map(rate_of)
            .find(|&rate| rate > 0.0)
            .unwrap_or(0.0);
        Duration::from_nanos((nearest * units as f64).min(u64::MAX as f64) as u64)
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
        assert_eq!(model.expected(JobKind::Resize, 1000), Duration::ZERO);
        model.record(JobKind::Resize, 1000, Duration::from_micros(10));
        assert_eq!(model.expected(JobKind::Resize, 2000), Duration::from_micros(20));
        assert_eq!(model.expected(JobKind::Checksum, 2000), Duration::ZERO);
        model.record(JobKind::Resize, 1000, Duration::from_micros(18));
        assert_eq!(model.expected(JobKind::Resize, 1000), Duration::from_micros(11));
    }

    #[test]
    fn small_jobs_fixed_costs_do_not_inflate_large_ones() {
        let model = CostModel::default();
        // 1 byte in 20 us (all overhead), 1 MiB in 1 ms.
        model.record(JobKind::Checksum, 1, Duration::from_micros(20));
        model.record(JobKind::Checksum, 1 << 20, Duration::from_millis(1));
        assert_eq!(model.expected(JobKind::Checksum, 1 << 20), Duration::from_millis(1));
        assert_eq!(model.expected(JobKind::Checksum, 1), Duration::from_micros(20));
        // An unseen class borrows the nearest larger one's rate.
        assert_eq!(model.expected(JobKind::Checksum, 1 << 10), Duration::from_nanos(976));
    }
}
