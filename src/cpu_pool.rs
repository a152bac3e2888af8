//! The bridge from the tokio reactor to the rayon pool, with the queue bound of SPEC.md 5.1.
//!
//! CPU work never runs on the reactor: [`CpuPool::try_spawn`] hands a closure to rayon and
//! returns a future (a tokio `oneshot`) for its result. Admission is decided *before* anything is
//! queued: a job needs one of `max_jobs` slots and its payload bytes out of `max_bytes`, both
//! counting jobs that wait *and* jobs that run, and the work already admitted must be expected
//! to finish within the job's longest acceptable wait (its `expected` run times summed, divided
//! by the workers; a job admitted with no estimate, before its kind ever ran, counts as much as
//! the newcomer is expected to cost, so the first burst after a start does not hide a queue of
//! free-looking work). When any is short the call fails at once with [`Busy`]; it never waits
//! and never grows a queue, so memory stays bounded by the bound and an admitted job is answered
//! in a bounded time.
//!
//! A queued job can be withdrawn ([`Ticket::withdraw`]) until a worker picks it up: its closure
//! (and everything it holds: payload, memory reservation) is dropped at once and its share of the
//! bound returned, and its [`JobHandle`] resolves to `None`.
//!
//! A panicking job is caught on its worker thread and comes back as [`JobPanicked`]; the worker
//! and the pool go on serving.

use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

/// The admission bound: jobs and payload bytes that may wait or run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueBound {
    /// Largest number of admitted jobs (waiting + running).
    pub max_jobs: u64,
    /// Largest sum of admitted jobs' payload bytes.
    pub max_bytes: u64,
}

/// What a job asks of the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    /// Payload bytes it holds while queued and running (counted against `max_bytes`).
    pub bytes: u64,
    /// How long it is expected to run on one worker; `None` when nothing like it has run yet.
    pub expected: Option<Duration>,
    /// The longest it may wait for a worker: the work admitted before it, divided by the
    /// workers, must be expected to finish within this.
    pub max_wait: Duration,
}

impl Admission {
    /// A job of `bytes` with no run-time estimate and no wait limit (tests, tools).
    pub fn bytes(bytes: u64) -> Self {
        Admission { bytes, expected: Some(Duration::ZERO), max_wait: Duration::MAX }
    }
}

/// The bound is full; nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Every job slot or the payload byte budget is taken (the message names the limits, not the
    /// current use).
    #[error("queue full: {} jobs, {} bytes", .bound.max_jobs, .bound.max_bytes)]
    Full {
        /// The bound that refused the job.
        bound: QueueBound,
    },
    /// The work already admitted would not finish within the job's acceptable wait.
    #[error("expected queue wait {}ms exceeds {}ms", .expected.as_millis(), .limit.as_millis())]
    Wait {
        /// How long the job would wait, as estimated.
        expected: Duration,
        /// The longest wait it accepts ([`crate::server::cost::admissible_wait`]).
        limit: Duration,
    },
}

/// A job panicked; the payload's message, when it had one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("job panicked: {message}")]
pub struct JobPanicked {
    /// The panic message, or a placeholder for a non-string payload.
    pub message: String,
}

/// Failure to start the worker threads.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {workers} worker threads")]
pub struct PoolBuildError {
    workers: usize,
    #[source]
    source: rayon::ThreadPoolBuildError,
}

/// What the pool holds right now, for `stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Jobs admitted and not yet picked up by a worker.
    pub queued: u64,
    /// Jobs a worker is executing.
    pub running: u64,
    /// Payload bytes held by admitted jobs (queued and running).
    pub bytes: u64,
}

/// A rayon pool behind an admission bound.
pub struct CpuPool {
    pool: rayon::ThreadPool,
    workers: usize,
    shared: Arc<Shared>,
}

/// State shared with the permits that jobs carry to their worker threads.
struct Shared {
    bound: QueueBound,
    /// Jobs and bytes admitted. A mutex rather than two atomics: both must be checked and taken
    /// together, and a job is far more expensive than an uncontended lock.
    admitted: Mutex<Admitted>,
    /// Jobs a worker is executing; the rest of `admitted.jobs` are waiting.
    running: AtomicU64,
    /// Jobs finished since start (run, refused at start, or panicked).
    finished: AtomicU64,
}

#[derive(Default)]
struct Admitted {
    jobs: u64,
    bytes: u64,
    /// Sum of the admitted jobs' expected run times, in nanoseconds.
    expected_ns: u128,
    /// Admitted jobs with no estimate.
    unknown: u64,
}

/// One admitted job's share of the bound, returned when dropped (after the job ran, when it is
/// withdrawn, or if it is dropped unrun).
struct Permit {
    shared: Arc<Shared>,
    bytes: u64,
    /// Its expected run time in nanoseconds; `None`: admitted with no estimate.
    expected_ns: Option<u128>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut admitted = self.shared.admitted.lock().unwrap_or_else(|e| e.into_inner());
        admitted.jobs -= 1;
        admitted.bytes -= self.bytes;
        match self.expected_ns {
            Some(ns) => admitted.expected_ns -= ns,
            None => admitted.unknown -= 1,
        }
    }
}

/// A job's closure with its permit, waiting for a worker or a withdrawal, whichever comes first.
type Task = Box<dyn FnOnce(Permit) + Send>;

struct Slot {
    task: Mutex<Option<(Task, Permit)>>,
}

impl Slot {
    fn take(&self) -> Option<(Task, Permit)> {
        self.task.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The right to withdraw one queued job. Cheap to keep beside the job's other controls.
#[derive(Clone)]
pub struct Ticket {
    slot: Arc<Slot>,
}

impl Ticket {
    /// Withdraws the job if no worker has picked it up yet: its closure is dropped now (freeing
    /// what it captured) and its share of the bound returned. `false` once it has started.
    pub fn withdraw(&self) -> bool {
        self.slot.take().is_some()
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ticket")
    }
}

impl CpuPool {
    /// Starts `workers` threads named `ferryd-cpu-N`, admitting up to `bound`.
    pub fn new(workers: usize, bound: QueueBound) -> Result<Self, PoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("ferryd-cpu-{i}"))
            .build()
            .map_err(|source| PoolBuildError { workers, source })?;
        let shared = Arc::new(Shared {
            bound,
            admitted: Mutex::default(),
            running: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        });
        Ok(CpuPool { pool, workers, shared })
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The admission bound.
    pub fn bound(&self) -> QueueBound {
        self.shared.bound
    }

    /// Jobs and bytes held now.
    pub fn usage(&self) -> PoolUsage {
        let admitted = self.shared.admitted.lock().unwrap_or_else(|e| e.into_inner());
        let running = self.shared.running.load(Ordering::Relaxed).min(admitted.jobs);
        PoolUsage { queued: admitted.jobs - running, running, bytes: admitted.bytes }
    }

    /// Jobs finished since start; with [`CpuPool::usage`], tells whether work happened since a
    /// previous look.
    pub fn finished(&self) -> u64 {
        self.shared.finished.load(Ordering::Relaxed)
    }

    /// A no-op run on a worker thread outside the admission bound; resolves once a worker has
    /// run it (the watchdog's proof that the pool is not wedged).
    pub fn probe(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.pool.spawn(move || {
            let _ = tx.send(());
        });
        rx
    }

    /// Admits `work` (see [`Admission`]) and queues it on a worker, or refuses at once. The
    /// [`Ticket`] withdraws it while it is still queued.
    ///
    /// The bound is released when `work` returns, *before* its result is sent, so a caller that
    /// has seen the result can immediately be admitted again.
    pub fn try_spawn<R, F>(&self, admission: Admission, work: F) -> Result<(JobHandle<R>, Ticket), Busy>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = self.admit(admission)?;
        let (tx, rx) = oneshot::channel();
        let task: Task = Box::new(move |permit: Permit| {
            let shared = Arc::clone(&permit.shared);
            shared.running.fetch_add(1, Ordering::Relaxed);
            let result = panic::catch_unwind(AssertUnwindSafe(work))
                .map_err(|payload| JobPanicked { message: panic_message(&*payload) });
            shared.running.fetch_sub(1, Ordering::Relaxed);
            shared.finished.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            // The receiver is gone only if the connection was torn down; nobody wants the result.
            let _ = tx.send(result);
        });
        let slot = Arc::new(Slot { task: Mutex::new(Some((task, permit))) });
        let queued = Arc::clone(&slot);
        self.pool.spawn(move || {
            if let Some((task, permit)) = queued.take() {
                task(permit);
            }
        });
        Ok((JobHandle { rx }, Ticket { slot }))
    }

    fn admit(&self, admission: Admission) -> Result<Permit, Busy> {
        let bound = self.shared.bound;
        let mut admitted = self.shared.admitted.lock().unwrap_or_else(|e| e.into_inner());
        if admitted.jobs >= bound.max_jobs || admission.bytes > bound.max_bytes - admitted.bytes {
            return Err(Busy::Full { bound });
        }
        let expected_ns = admission.expected.map(|d| d.as_nanos());
        // Jobs ahead of this one share the workers; an idle worker means no wait at all.
        if admitted.jobs >= self.workers as u64 {
            let unknown = u128::from(admitted.unknown) * expected_ns.unwrap_or(0);
            let ahead = admitted.expected_ns + unknown;
            let wait = Duration::from_nanos((ahead / self.workers as u128).min(u64::MAX.into()) as u64);
            if wait > admission.max_wait {
                return Err(Busy::Wait { expected: wait, limit: admission.max_wait });
            }
        }
        admitted.jobs += 1;
        admitted.bytes += admission.bytes;
        match expected_ns {
            Some(ns) => admitted.expected_ns += ns,
            None => admitted.unknown += 1,
        }
        Ok(Permit { shared: Arc::clone(&self.shared), bytes: admission.bytes, expected_ns })
    }
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPool")
            .field("workers", &self.workers)
            .field("bound", &self.shared.bound)
            .field("usage", &self.usage())
            .finish()
    }
}

/// The result of a job spawned with [`CpuPool::try_spawn`], as a future: `None` when the job
/// was withdrawn before it started ([`Ticket::withdraw`]).
#[derive(Debug)]
pub struct JobHandle<R> {
    rx: oneshot::Receiver<Result<R, JobPanicked>>,
}

impl<R> Future for JobHandle<R> {
    type Output = Option<Result<R, JobPanicked>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The sender is dropped without sending only when the task was withdrawn (catch_unwind
        // keeps a panicking job from dropping it).
        Pin::new(&mut self.rx).poll(cx).map(Result::ok)
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    fn pool(max_jobs: u64, max_bytes: u64) -> CpuPool {
        CpuPool::new(1, QueueBound { max_jobs, max_bytes }).unwrap()
    }

    /// Spawns with a byte count only, keeping just the handle.
    fn spawn<R: Send + 'static>(
        pool: &CpuPool,
        bytes: u64,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<JobHandle<R>, Busy> {
        pool.try_spawn(Admission::bytes(bytes), work).map(|(handle, _)| handle)
    }

    async fn result<R>(handle: JobHandle<R>) -> Result<R, JobPanicked> {
        handle.await.expect("the job was not withdrawn")
    }

    #[tokio::test]
    async fn runs_work_off_the_calling_thread() {
        let pool = pool(4, 100);
        let caller = std::thread::current().id();
        let handle =
            spawn(&pool, 0, || (std::thread::current().id(), std::thread::current().name().map(str::to_owned)));
        let (worker, name) = result(handle.unwrap()).await.unwrap();
        assert_ne!(worker, caller);
        assert_eq!(name.as_deref(), Some("ferryd-cpu-0"));
    }

    #[tokio::test]
    async fn full_by_jobs_is_busy_at_once_and_frees_on_completion() {
        let pool = pool(1, 100);
        let (release, wait) = mpsc::channel::<()>();
        let first = spawn(&pool, 10, move || wait.recv().unwrap()).unwrap();
        let busy = spawn(&pool, 1, || ()).unwrap_err();
        assert_eq!(busy.to_string(), "queue full: 1 jobs, 100 bytes");
        release.send(()).unwrap();
        result(first).await.unwrap();
        assert_eq!(pool.usage(), PoolUsage::default());
        result(spawn(&pool, 1, || ()).unwrap()).await.unwrap();
    }

    #[tokio::test]
    async fn full_by_bytes_is_busy() {
        let pool = pool(8, 100);
        let (release, wait) = mpsc::channel::<()>();
        let first = spawn(&pool, 60, move || wait.recv().unwrap()).unwrap();
        assert!(spawn(&pool, 41, || ()).is_err());
        let second = spawn(&pool, 40, || ()).unwrap();
        release.send(()).unwrap();
        result(first).await.unwrap();
        result(second).await.unwrap();
    }

    #[tokio::test]
    async fn usage_counts_queued_and_running() {
        let pool = pool(8, 100);
        let (started_tx, started) = mpsc::channel::<()>();
        let (release, wait) = mpsc::channel::<()>();
        let running = spawn(&pool, 5, move || {
            started_tx.send(()).unwrap();
            wait.recv().unwrap()
        })
        .unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        let queued = spawn(&pool, 7, || ()).unwrap();
        assert_eq!(pool.usage(), PoolUsage { queued: 1, running: 1, bytes: 12 });
        release.send(()).unwrap();
        result(running).await.unwrap();
        result(queued).await.unwrap();
        assert_eq!(pool.usage(), PoolUsage::default());
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_the_pool_keeps_serving() {
        let pool = pool(2, 100);
        let err = result(spawn(&pool, 3, || -> u32 { panic!("boom {}", 7) }).unwrap()).await.unwrap_err();
        assert_eq!(err.message, "boom 7");
        assert_eq!(pool.usage(), PoolUsage::default());
        assert_eq!(result(spawn(&pool, 3, || 5).unwrap()).await, Ok(5));
    }

    #[tokio::test]
    async fn a_queued_job_is_withdrawn_at_once_and_a_running_one_is_not() {
        let pool = pool(8, 100);
        let (started_tx, started) = mpsc::channel::<()>();
        let (release, wait) = mpsc::channel::<()>();
        let (running, running_ticket) = pool
            .try_spawn(Admission::bytes(5), move || {
                started_tx.send(()).unwrap();
                wait.recv().unwrap()
            })
            .unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        let held = Arc::new(());
        let captured = Arc::clone(&held);
        let (queued, ticket) = pool.try_spawn(Admission::bytes(7), move || drop(captured)).unwrap();
        assert!(ticket.withdraw());
        // Freed now, while the worker is still busy: the closure, its capture and its bytes.
        assert_eq!(Arc::strong_count(&held), 1);
        assert_eq!(pool.usage(), PoolUsage { queued: 0, running: 1, bytes: 5 });
        assert!(queued.await.is_none());
        assert!(!ticket.withdraw());
        assert!(!running_ticket.withdraw(), "a running job cannot be withdrawn");
        release.send(()).unwrap();
        result(running).await.unwrap();
    }

    #[tokio::test]
    async fn work_expected_to_outlast_the_wait_limit_is_refused() {
        let pool = pool(8, 100);
        let (release, wait) = mpsc::channel::<()>();
        let second = Duration::from_secs(1);
        let job = |max_wait| Admission { bytes: 1, expected: Some(second), max_wait };
        let (first, _) = pool.try_spawn(job(Duration::ZERO), move || wait.recv().unwrap()).unwrap();
        // One worker, one second of work ahead: a job that accepts 2 s waits, one that accepts
        // 500 ms is refused.
        let (queued, _) = pool.try_spawn(job(2 * second), || ()).unwrap();
        let busy = pool.try_spawn(job(second / 2), || ()).unwrap_err();
        assert_eq!(busy, Busy::Wait { expected: 2 * second, limit: second / 2 });
        release.send(()).unwrap();
        result(first).await.unwrap();
        result(queued).await.unwrap();
    }

    #[tokio::test]
    async fn jobs_admitted_without_an_estimate_count_as_much_as_the_newcomer() {
        let pool = pool(8, 100);
        let (release, wait) = mpsc::channel::<()>();
        let unknown = Admission { bytes: 1, expected: None, max_wait: Duration::MAX };
        let (first, _) = pool.try_spawn(unknown, move || wait.recv().unwrap()).unwrap();
        // Nothing known: admitted (the queue bound alone decides).
        let (second, _) = pool.try_spawn(unknown, || ()).unwrap();
        // Two unknown jobs ahead on one worker, each taken for the newcomer's 300 ms: 600 ms.
        let job = |max_wait| Admission { bytes: 1, expected: Some(Duration::from_millis(300)), max_wait };
        let busy = pool.try_spawn(job(Duration::from_millis(500)), || ()).unwrap_err();
        assert_eq!(busy, Busy::Wait { expected: Duration::from_millis(600), limit: Duration::from_millis(500) });
        let (third, _) = pool.try_spawn(job(Duration::from_millis(700)), || ()).unwrap();
        release.send(()).unwrap();
        result(first).await.unwrap();
        result(second).await.unwrap();
        result(third).await.unwrap();
        assert_eq!(pool.usage(), PoolUsage::default());
    }
}
