//! The daemon: accept connections, serve each on its own task, shut down cleanly.
//!
//! # Layout
//! - [`listener`]: bind `--socket` (stale file replaced, live one refused, mode set) or take the
//!   socket systemd passes.
//! - [`peer`]: the peer's credentials on accept, checked against `--allow-uid`/`--allow-gid`.
//! - [`connection`]: one client: frames in, requests dispatched, replies out of order; its
//!   timeouts (frame, idle) and its bound on unread replies.
//! - [`reader`]: a connection's read side: each frame's memory reserved as its body arrives,
//!   descriptors bound to the frame whose bytes they came with.
//! - [`recv_fds`]: `recvmsg` with the descriptors a client passes for `*_file` requests.
//! - [`writer`]: a connection's write side, replies coalesced into few writes; the reply timeout.
//! - [`budget`]: the memory budget frames, jobs and replies are counted against.
//! - [`shares`]: what frames being read may hold of it, in all and per uid (fair shares).
//! - [`cost`]: expected job run times, for admission by expected queue wait.
//! - [`dispatch`]: what each operation does; jobs become closures for the CPU pool.
//! - [`counters`]: the numbers `stats` reports.
//! - [`shutdown`]: SIGTERM / SIGINT.
//! - [`systemd`]: `READY=1` / `STOPPING=1` notifications.
//! - [`watchdog`]: `WATCHDOG=1` while the reactor and the pool make progress.
//! - [`trim`]: freed memory back to the system when the pool goes idle.
//!
//! # Shutdown (SPEC.md section 8)
//! The first signal closes the listener and removes the socket file (new connections are
//! refused, and a successor may bind the path at once), then cancels [`State::draining`]:
//! jobs still queued are withdrawn and answered `shutting_down` at once, requests read from
//! then on are answered `shutting_down`, running jobs finish and are answered. Each connection
//! closes once it has nothing in flight. When the grace period runs out (or a second signal
//! arrives) first, [`State::closing`] is cancelled: every connection cancels its running jobs,
//! answers each of them `shutting_down`, writes what it owes (for at most [`CLOSE_TIMEOUT`]) and
//! closes; then [`serve`] returns.

pub mod budget;
pub mod connection;
pub mod cost;
pub mod counters;
pub mod dispatch;
pub mod listener;
pub mod reader;
pub mod recv_fds;
pub mod peer;
pub mod shares;
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

use crate::config::{Config, ConnectionLimits};
use crate::cpu_pool::CpuPool;
use crate::jobs::Limits;
use budget::MemoryBudget;
use cost::CostModel;
use counters::Counters;
use listener::{ListenError, Listener};
use peer::PeerAllowlist;
use shutdown::Signals;
use systemd::Notifier;

/// How long connections get to write their last replies and close after the grace period
/// before the daemon exits anyway.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// First pause after a failed accept (EMFILE, ENFILE); doubled on each failure in a row.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(50);

/// Longest pause after failed accepts.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

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
    /// What frames, jobs and unwritten replies hold, against `--memory-budget`.
    pub budget: Arc<MemoryBudget>,
    /// Expected run times, for admission by expected wait.
    pub costs: Arc<CostModel>,
    /// Job slots in use per uid: while other uids have jobs, one uid holds at most three
    /// quarters of `--queue-jobs` (beyond: `busy`).
    pub job_shares: Arc<shares::JobShares>,
    /// Connections open per uid: at most three quarters of `--max-connections` each.
    pub connection_shares: Arc<shares::ConnectionShares>,
    /// Longest expected queue wait a job is admitted with (`--max-queue-wait`).
    pub max_queue_wait: Duration,
    /// Longest a job may run once started (`--max-job-time`); then it stops with
    /// `deadline_exceeded`.
    pub max_job_time: Duration,
    /// Connection limit and timeouts.
    pub connection_limits: ConnectionLimits,
    /// Which peers are served (see [`peer`]).
    pub allowlist: PeerAllowlist,
    /// Start time, for `uptime_ms`.
    pub started: Instant,
    /// Cancelled when shutdown begins. Connections answer new requests `shutting_down` and close
    /// once nothing of theirs is in flight; workers refuse to start queued jobs.
    pub draining: CancellationToken,
    /// Cancelled when the grace period is over (or on a second signal). Connections cancel
    /// their jobs and close at once, without waiting for replies.
    pub closing: CancellationToken,
    /// `probe`s reading headers at once, each on a blocking thread: as many as workers, apart
    /// from the pool's job slots. A probe is microseconds, but a crafted header is not (a 16 KB
    /// PNG whose `iCCP` inflates to 16 MiB takes 21 ms and that memory), so none runs on the
    /// reactor and at most this many hold such memory. A connection whose probe finds every
    /// permit taken waits for one (its next frame is read after); a probe is never `busy`.
    pub probe_slots: Arc<tokio::sync::Semaphore>,
}

impl State {
    /// Shared state for a daemon with `config`, running jobs on `pool`.
    pub fn new(config: &Config, pool: CpuPool) -> Self {
        let probe_slots = Arc::new(tokio::sync::Semaphore::new(pool.workers().max(1)));
        State {
            max_frame: config.max_frame,
            limits: config.limits,
            pool,
            counters: Counters::default(),
            budget: MemoryBudget::for_frames(config.memory_budget, u64::from(config.max_frame)),
            costs: Arc::default(),
            job_shares: Arc::default(),
            connection_shares: Arc::default(),
            max_queue_wait: config.max_queue_wait,
            max_job_time: config.max_job_time,
            connection_limits: config.connections,
            allowlist: config.allowlist.clone(),
            started: Instant::now(),
            draining: CancellationToken::new(),
            closing: CancellationToken::new(),
            probe_slots,
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
            Some(address) => Some((crate::metrics::http::bind(address, config.socket.mode).await?, address.to_string())),
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
        memory_budget = config.memory_budget,
        max_connections = config.connections.max_connections,
        allow_uid = ?config.allowlist.uids,
        allow_gid = ?config.allowlist.gids,
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

/// Accepts connections until `shutdown` completes, then removes the socket file and drains (see
/// the module docs) for at most `grace`.
pub async fn run(listener: Listener, state: Arc<State>, shutdown: impl Future<Output = ()>, grace: Duration) {
    let tracker = TaskTracker::new();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    if state.counters.connection_opened(state.connection_limits.max_connections) {
                        tracker.spawn(peer::serve_if_allowed(stream, Arc::clone(&state)));
                    } else {
                        state.counters.connection_refused();
                        tracker.spawn(connection::refuse_over_limit(stream, state.connection_limits.max_connections));
                    }
                }
                Err(error) => {
                    // EMFILE/ENFILE: the listener stays ready, so back off instead of spinning;
                    // connections closing (idle and frame timeouts) free descriptors meanwhile.
                    tracing::warn!(%error, backoff_ms = backoff.as_millis() as u64, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            },
        }
    }
    if let Some(file) = listener.close() {
        file.remove();
    }
    state.draining.cancel();
    tracker.close();
    let open = tracker.len();
    if open > 0 {
        tracing::info!(connections = open, "waiting for in-flight requests");
    }
    tokio::select! {
        _ = tracker.wait() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!(connections = tracker.len(), "grace period over; answering requests in flight shutting_down and closing");
            state.closing.cancel();
        }
        _ = state.closing.cancelled() => {}
    }
    if tokio::time::timeout(CLOSE_TIMEOUT, tracker.wait()).await.is_err() {
        tracing::warn!(connections = tracker.len(), "connections did not close in time; exiting anyway");
    }
    tracing::info!("shutdown complete");
}
