//! systemd's watchdog (`WatchdogSec=` in the unit): `WATCHDOG=1` is sent only while the daemon
//! really makes progress, so a wedged daemon is killed and restarted rather than kept alive by
//! a timer that still ticks.
//!
//! Every quarter of the watchdog period the task checks both halves of the daemon:
//! - the reactor: a spawned task runs to completion (the connection loops, timers and this
//!   task itself share that runtime);
//! - the worker pool: a no-op sent through the rayon pool runs within the next quarter period,
//!   or, when every worker is busy with long jobs, at least one job finished meanwhile.
//!
//! Only when both hold is `WATCHDOG=1` sent: about every quarter period from a healthy daemon
//! (systemd asks for at least one per half period). A pool whose every worker stays on one job
//! for longer than a quarter period, with nothing finishing, counts as stuck: keep
//! `WatchdogSec=` well above the longest job you allow (the unit says 30 s).

use std::sync::Arc;
use std::time::Duration;

use super::systemd::Notifier;
use super::State;

/// The watchdog period systemd asks for (`WATCHDOG_USEC`), if it is meant for this process
/// (`WATCHDOG_PID` unset or ours).
pub fn period_from_env() -> Option<Duration> {
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    let usec = std::env::var("WATCHDOG_USEC").ok()?.trim().parse::<u64>().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings `notifier` while the reactor and the pool of `state` make progress; runs until aborted.
pub async fn run(state: Arc<State>, notifier: Notifier, period: Duration) {
    let step = period / 4;
    tracing::info!(period_ms = period.as_millis() as u64, "systemd watchdog on");
    let mut missed = false;
    loop {
        tokio::time::sleep(step).await;
        let finished_before = state.pool.finished();
        let reactor = tokio::time::timeout(step, tokio::spawn(async {})).await.is_ok_and(|joined| joined.is_ok());
        let probe = tokio::time::timeout(step, state.pool.probe()).await.is_ok_and(|ran| ran.is_ok());
        let pool = probe || state.pool.finished() != finished_before;
        if reactor && pool {
            notifier.notify("WATCHDOG=1");
            if missed {
                tracing::info!("watchdog: progress again");
                missed = false;
            }
        } else {
            tracing::warn!(reactor, pool, "watchdog: no progress; not pinging systemd");
            missed = true;
        }
    }
}
