//! The daemon: accept connections, serve each on its own task, shut down cleanly.
//!
//! # Layout
//! - [`listener`]: bind `--socket` (stale file replaced, live one refused, mode set) or take the
//!   socket systemd passes.
//! - [`connection`]: one client: frames in, requests dispatched, replies out of order.
//! - [`writer`]: a connection's write side, replies coalesced into few writes.
//! - [`dispatch`]: what each operation does; jobs become closures for the CPU pool.
//! - [`counters`]: the numbers `stats` reports.
//! - [`shutdown`]: SIGTERM / SIGINT.
//! - [`systemd`]: `READY=1` / `STOPPING=1` notifications.
//! - [`watchdog`]: `WATCHDOG=1` while the reactor and the pool make progress.
//! - [`trim`]: freed memory back to the system when the pool goes idle.
//!
//! # Shutdown (SPEC.md section 8)
//! The first signal cancels [`State::draining`]: the listener is closed (new connections are
//! refused), requests read from then on are answered `shutting_down`, jobs still queued are
//! answered `shutting_down` when a worker reaches them, running jobs finish and are answered.
//! Each connection closes once it has nothing in flight. When every connection is closed, or
//! the grace period (or a second signal) cancels [`State::closing`] first, the socket file is
//! removed and [`serve`] returns.

pub mod connection;
pub mod counters;
pub mod dispatch;
pub mod listener;
pub mod shutdown;
pub mod systemd;
pub mod trim;
pub mod watchdog;
pub mod writer;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::cpu_pool::CpuPool;
use crate::jobs::Limits;
use counters::Counters;
use listener::{ListenError, Listener};
use shutdown::Signals;
use systemd::Notifier;

/// How long connections get to close after the grace period before the daemon exits anyway.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No listening socket.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// Signal handlers could not be installed.
    #[error("cannot install the SIGTERM/SIGINT handlers")]
    Signals(#[source] std::io::Error),
    /// `--metrics-listen` cannot be bound.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::http::MetricsListenError),
    /// The metrics socket systemd passed is unusable.
    #[error("the metrics socket passed by systemd (FileDescriptorName=metrics) is unusable")]
    MetricsActivation(#[source] std::io::Error),
}

/// What every connection shares.
#[derive(Debug)]
pub struct State {
    /// Largest request body.
    pub max_frame: u32,
    /// Image limits passed to every resize.
    pub limits: Limits,
    /// Where jobs run, behind the queue bound.
    pub pool: CpuPool,
    /// Numbers for `stats`.
    pub counters: Counters,
    /// Start time, for `uptime_ms`.
    pub started: Instant,
    /// Cancelled when shutdown begins. Connections answer new requests `shutting_down` and close
    /// once nothing of theirs is in flight; workers refuse to start queued jobs.
    pub draining: CancellationToken,
    /// Cancelled when the grace period is over (or on a second signal). Connections cancel
    /// their jobs and close at once, without waiting for replies.
    pub closing: CancellationToken,
}

impl State {
    /// Shared state for a daemon with `config`, running jobs on `pool`.
    pub fn new(config: &Config, pool: CpuPool) -> Self {
        State {
            max_frame: config.max_frame,
            limits: config.limits,
            pool,
            counters: Counters::default(),
            started: Instant::now(),
            draining: CancellationToken::new(),
            closing: CancellationToken::new(),
        }
    }
}

/// Runs the daemon with `config` until a shutdown signal has been handled: listens, notifies
/// systemd, serves, drains, removes the socket file.
pub async fn serve(config: Config, pool: CpuPool) -> Result<(), ServerError> {
    let mut signals = Signals::install().map_err(ServerError::Signals)?;
    let listener = match listener::from_activation()? {
        Some(listener) => listener,
        None => listener::bind(&config.socket)?,
    };
    let state = Arc::new(State::new(&config, pool));
    let metrics_stop = CancellationToken::new();
    // A passed metrics socket wins over --metrics-listen, as the passed client socket wins over
    // --socket.
    let metrics = match crate::metrics::http::from_activation().map_err(ServerError::MetricsActivation)? {
        Some(passed) => Some(passed),
        None => match &config.metrics_listen {
            Some(address) => Some((crate::metrics::http::bind(address).await?, address.to_string())),
            None => None,
        },
    };
    if let Some((listener, address)) = metrics {
        let registry = Arc::new(crate::metrics::registry(Arc::clone(&state)));
        tracing::info!(address, "metrics at /metrics");
        tokio::spawn(crate::metrics::http::serve(listener, registry, metrics_stop.clone()));
    }
    tracing::info!(
        socket = %listener.describe(),
        workers = state.pool.workers(),
        queue_jobs = config.queue.max_jobs,
        queue_bytes = config.queue.max_bytes,
        max_frame = config.max_frame,
        "{} listening",
        crate::protocol::SERVER_NAME
    );
    let notifier = Notifier::from_env();
    notifier.notify("READY=1\nSTATUS=serving");
    let watchdog = watchdog::period_from_env()
        .map(|period| tokio::spawn(watchdog::run(Arc::clone(&state), notifier.clone(), period)));

    let trimmer = tokio::spawn(trim::trim_when_idle(Arc::clone(&state)));
    let begin = CancellationToken::new();
    let signal_task = tokio::spawn({
        let begin = begin.clone();
        let closing = state.closing.clone();
        let grace = config.shutdown_grace;
        async move {
            let name = signals.recv().await;
            tracing::info!(
                signal = name,
                grace_s = grace.as_secs_f64(),
                "shutdown: no new connections; running jobs finish"
            );
            notifier.notify("STOPPING=1");
            begin.cancel();
            let name = signals.recv().await;
            tracing::warn!(signal = name, "second signal: closing connections now");
            closing.cancel();
        }
    });
    run(listener, Arc::clone(&state), begin.cancelled_owned(), config.shutdown_grace).await;
    signal_task.abort();
    trimmer.abort();
    if let Some(task) = watchdog {
        task.abort();
    }
    metrics_stop.cancel();
    Ok(())
}

/// Accepts connections until `shutdown` completes, then drains (see the module docs) for at
/// most `grace` and removes the socket file.
pub async fn run(listener: Listener, state: Arc<State>, shutdown: impl Future<Output = ()>, grace: Duration) {
    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    tracker.spawn(connection::serve(stream, Arc::clone(&state)));
                }
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning on a listener that stays ready.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    state.draining.cancel();
    let socket_file = listener.close();
    tracker.close();
    let open = tracker.len();
    if open > 0 {
        tracing::info!(connections = open, "waiting for in-flight requests");
    }
    tokio::select! {
        _ = tracker.wait() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!(connections = tracker.len(), "grace period over; closing connections with requests in flight");
            state.closing.cancel();
        }
        _ = state.closing.cancelled() => {}
    }
    if tokio::time::timeout(CLOSE_TIMEOUT, tracker.wait()).await.is_err() {
        tracing::warn!(connections = tracker.len(), "connections did not close in time; exiting anyway");
    }
    if let Some(file) = socket_file {
        file.remove();
    }
    tracing::info!("shutdown complete");
}
