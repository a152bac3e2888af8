//! The bridge from the tokio reactor to the rayon pool, with the queue bound of SPEC.md 5.1.
//!
//! CPU work never runs on the reactor: [`CpuPool::try_spawn`] hands a closure to rayon and
//! returns a future (a tokio `oneshot`) for its result. Admission is decided *before* anything is
//! queued: a job needs one of `max_jobs` slots and its payload bytes out of `max_bytes`, both
//! counting jobs that wait *and* jobs that run. When either is short the call fails at once with
//! [`Busy`]; it never waits and never grows a queue, so memory stays bounded by the bound.
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

use tokio::sync::oneshot;

/// The admission bound: jobs and payload bytes that may wait or run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueBound {
    /// Largest number of admitted jobs (waiting + running).
    pub max_jobs: u64,
    /// Largest sum of admitted jobs' payload bytes.
    pub max_bytes: u64,
}

/// The bound is full; nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("queue full: {} jobs, {} bytes", .bound.max_jobs, .bound.max_bytes)]
pub struct Busy {
    /// The bound that refused the job (the message names its limits, not the current use).
    pub bound: QueueBound,
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
}

/// One admitted job's share of the bound, returned when dropped (after the job ran, or if it is
/// dropped unrun).
struct Permit {
    shared: Arc<Shared>,
    bytes: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut admitted = self.shared.admitted.lock().unwrap_or_else(|e| e.into_inner());
        admitted.jobs -= 1;
        admitted.bytes -= self.bytes;
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
        let shared =
            Arc::new(Shared { bound, admitted: Mutex::default(), running: AtomicU64::new(0), finished: AtomicU64::new(0) });
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

    /// Admits `work` (holding `bytes` of payload) and queues it on a worker, or refuses at once.
    ///
    /// The bound is released when `work` returns, *before* its result is sent, so a caller that
    /// has seen the result can immediately be admitted again.
    pub fn try_spawn<R, F>(&self, bytes: u64, work: F) -> Result<JobHandle<R>, Busy>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = self.admit(bytes)?;
        let (tx, rx) = oneshot::channel();
        self.pool.spawn(move || {
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
        Ok(JobHandle { rx })
    }

    fn admit(&self, bytes: u64) -> Result<Permit, Busy> {
        let bound = self.shared.bound;
        let mut admitted = self.shared.admitted.lock().unwrap_or_else(|e| e.into_inner());
        if admitted.jobs >= bound.max_jobs || bytes > bound.max_bytes - admitted.bytes {
            return Err(Busy { bound });
        }
        admitted.jobs += 1;
        admitted.bytes += bytes;
        Ok(Permit { shared: Arc::clone(&self.shared), bytes })
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

/// The result of a job spawned with [`CpuPool::try_spawn`], as a future.
#[derive(Debug)]
pub struct JobHandle<R> {
    rx: oneshot::Receiver<Result<R, JobPanicked>>,
}

impl<R> Future for JobHandle<R> {
    type Output = Result<R, JobPanicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|received| {
            // The sender is dropped without sending only if the worker thread died mid-job,
            // which catch_unwind prevents; report it like a panic rather than hang.
            received.unwrap_or_else(|_| Err(JobPanicked { message: "worker dropped the job".into() }))
        })
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

    #[tokio::test]
    async fn runs_work_off_the_calling_thread() {
        let pool = pool(4, 100);
        let caller = std::thread::current().id();
        let (worker, name) = pool
            .try_spawn(0, || (std::thread::current().id(), std::thread::current().name().map(str::to_owned)))
            .unwrap()
            .await
            .unwrap();
        assert_ne!(worker, caller);
        assert_eq!(name.as_deref(), Some("ferryd-cpu-0"));
    }

    #[tokio::test]
    async fn full_by_jobs_is_busy_at_once_and_frees_on_completion() {
        let pool = pool(1, 100);
        let (release, wait) = mpsc::channel::<()>();
        let first = pool.try_spawn(10, move || wait.recv().unwrap()).unwrap();
        let busy = pool.try_spawn(1, || ()).unwrap_err();
        assert_eq!(busy.to_string(), "queue full: 1 jobs, 100 bytes");
        release.send(()).unwrap();
        first.await.unwrap();
        assert_eq!(pool.usage(), PoolUsage::default());
        pool.try_spawn(1, || ()).unwrap().await.unwrap();
    }

    #[tokio::test]
    async fn full_by_bytes_is_busy() {
        let pool = pool(8, 100);
        let (release, wait) = mpsc::channel::<()>();
        let first = pool.try_spawn(60, move || wait.recv().unwrap()).unwrap();
        assert!(pool.try_spawn(41, || ()).is_err());
        let second = pool.try_spawn(40, || ()).unwrap();
        release.send(()).unwrap();
        first.await.unwrap();
        second.await.unwrap();
    }

    #[tokio::test]
    async fn usage_counts_queued_and_running() {
        let pool = pool(8, 100);
        let (started_tx, started) = mpsc::channel::<()>();
        let (release, wait) = mpsc::channel::<()>();
        let running = pool
            .try_spawn(5, move || {
                started_tx.send(()).unwrap();
                wait.recv().unwrap()
            })
            .unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        let queued = pool.try_spawn(7, || ()).unwrap();
        assert_eq!(pool.usage(), PoolUsage { queued: 1, running: 1, bytes: 12 });
        release.send(()).unwrap();
        running.await.unwrap();
        queued.await.unwrap();
        assert_eq!(pool.usage(), PoolUsage::default());
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_the_pool_keeps_serving() {
        let pool = pool(2, 100);
        let err = pool.try_spawn(3, || -> u32 { panic!("boom {}", 7) }).unwrap().await.unwrap_err();
        assert_eq!(err.message, "boom 7");
        assert_eq!(pool.usage(), PoolUsage::default());
        assert_eq!(pool.try_spawn(3, || 5).unwrap().await, Ok(5));
    }
}
