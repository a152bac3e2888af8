//! Returns freed memory to the system once the worker pool is idle after a burst (see
//! [`crate::allocator`] for why this is not left to malloc).

use std::sync::Arc;
use std::time::Duration;

use super::State;
use crate::allocator;

/// How often the pool is looked at. Also the longest that memory freed by a burst stays
/// resident after the pool has gone idle.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Runs until the daemon stops: whenever jobs have finished since the last trim and none is
/// queued or running now, releases free heap memory (on a blocking thread, off the reactor).
pub async fn trim_when_idle(state: Arc<State>) {
    let mut trimmed_at = state.pool.finished();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let finished = state.pool.finished();
        let usage = state.pool.usage();
        if finished != trimmed_at && usage.queued == 0 && usage.running == 0 {
            trimmed_at = finished;
            // A panic here would only mean memory stays resident; nothing to recover.
            let _ = tokio::task::spawn_blocking(allocator::release_free_memory).await;
        }
    }
}
