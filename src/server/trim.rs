//! Returns freed memory to the system once the worker pool is idle after a burst (see
//! [`crate::allocator`] for why this is not left to malloc).

use std::sync::Arc;
use std::time::Duration;

use super::State;
use crate::allocator;

/// How often the pool is looked at. Memory freed by a burst stays resident for one to two of
/// these after the pool has gone idle.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Free memory kept at the top of the heap by the first trim after a burst: what the next job
/// would otherwise fault back in page by page.
pub const RESERVE: usize = 32 << 20;

/// Free heap below which the trim after a quiet interval is skipped: what one large job leaves
/// free (a 16 MP photo's buffers, a few frames) and the next one would fault back in page by
/// page, since `malloc_trim` returns free pages anywhere in the heap, not only above
/// [`RESERVE`]. Jobs one at a time every second or so, the bench's pattern and a quiet
/// service's, then keep their pages; a burst leaves far more free and is trimmed as before.
/// Kept below the bench's bar for memory held after a burst (50 MiB).
pub const KEEP_FREE: usize = 48 << 20;

/// Quiet time after which the reserve goes too.
pub const FULL_TRIM_AFTER: Duration = Duration::from_secs(30);

/// Runs until the daemon stops: whenever jobs have finished since the last trim, none has
/// finished during the last whole interval, and none is queued or running now, releases free
/// heap memory but [`RESERVE`] (on a blocking thread, off the reactor); after
/// [`FULL_TRIM_AFTER`] of such quiet, the reserve as well. Waiting for a quiet interval matters:
/// a client sending one large request after another leaves the pool idle for a moment between
/// them, and trimming in those moments made the next request fault every page of its buffers
/// back in (64 MiB checksums fell from about 2.5 to 0.5 GB/s). The reserve is for a client
/// sending one request every few seconds: a 16 MP progressive JPEG faulted 48 MiB of libjpeg's
/// coefficient buffers back in after each full trim, 12,400 page faults that made its thumbnail
/// 35 to 54 ms.
pub async fn trim_when_idle(state: Arc<State>) {
    let mut schedule = TrimSchedule::new(state.pool.finished());
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let usage = state.pool.usage();
        let Some(keep) = schedule.tick(state.pool.finished(), usage.queued == 0 && usage.running == 0) else {
            continue;
        };
        if keep > 0 && allocator::free_heap_bytes().is_some_and(|free| free <= KEEP_FREE) {
            continue;
        }
        // A panic here would only mean memory stays resident; nothing to recover.
        let _ = tokio::task::spawn_blocking(move || allocator::release_free_memory(keep)).await;
    }
}

/// When to trim, from what the pool did between ticks [`CHECK_EVERY`] apart.
#[derive(Debug)]
struct TrimSchedule {
    /// Jobs finished as of the last trim.
    trimmed_at: u64,
    /// Jobs finished as of the last tick.
    seen_at_last_tick: u64,
    /// How long the pool has been quiet (no job finished, none queued or running).
    quiet_for: Duration,
    /// Whether the last trim kept [`RESERVE`].
    reserve_kept: bool,
}

impl TrimSchedule {
    fn new(finished: u64) -> Self {
        TrimSchedule { trimmed_at: finished, seen_at_last_tick: finished, quiet_for: Duration::ZERO, reserve_kept: false }
    }

    /// One tick: `finished` jobs so far, `idle` when none is queued or running. Returns the bytes
    /// to keep at the heap's top when it is time to trim.
    fn tick(&mut self, finished: u64, idle: bool) -> Option<usize> {
        let quiet = idle && finished == self.seen_at_last_tick;
        self.seen_at_last_tick = finished;
        if !quiet {
            self.quiet_for = Duration::ZERO;
            return None;
        }
        self.quiet_for += CHECK_EVERY;
        if finished != self.trimmed_at {
            self.trimmed_at = finished;
            self.reserve_kept = true;
            Some(RESERVE)
        } else if self.reserve_kept && self.quiet_for >= FULL_TRIM_AFTER {
            self.reserve_kept = false;
            Some(0)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_tick_after_work_keeps_the_reserve_and_a_long_quiet_returns_it() {
        let mut s = TrimSchedule::new(0);
        assert_eq!(s.tick(0, true), None, "nothing ran: nothing to trim");
        // A burst: jobs finish during the tick, or are still queued or running.
        assert_eq!(s.tick(5, true), None);
        assert_eq!(s.tick(9, false), None);
        assert_eq!(s.tick(9, false), None);
        // The first whole quiet interval trims, keeping the reserve.
        assert_eq!(s.tick(9, true), Some(RESERVE));
        let ticks_to_full = (FULL_TRIM_AFTER.as_millis() / CHECK_EVERY.as_millis()) as usize;
        let mut trims = vec![];
        for _ in 1..ticks_to_full + 10 {
            trims.extend(s.tick(9, true));
        }
        assert_eq!(trims, [0], "the reserve goes once, after FULL_TRIM_AFTER of quiet");
        // One more job: the reserve again at the next quiet tick, and again returned later.
        assert_eq!(s.tick(10, true), None);
        assert_eq!(s.tick(10, true), Some(RESERVE));
        assert_eq!(s.tick(10, true), None);
    }

    #[test]
    fn work_between_ticks_restarts_the_wait_for_the_full_trim() {
        let mut s = TrimSchedule::new(0);
        s.tick(1, true);
        assert_eq!(s.tick(1, true), Some(RESERVE));
        let half = (FULL_TRIM_AFTER.as_millis() / CHECK_EVERY.as_millis() / 2) as usize;
        for _ in 0..half {
            assert_eq!(s.tick(1, true), None);
        }
        // A job runs: the reserve is taken again at its first quiet tick, and the full trim
        // waits FULL_TRIM_AFTER from there, not from the first quiet.
        assert_eq!(s.tick(1, false), None);
        assert_eq!(s.tick(2, true), None);
        assert_eq!(s.tick(2, true), Some(RESERVE));
        for _ in 0..half + 2 {
            assert_eq!(s.tick(2, true), None);
        }
    }
}
