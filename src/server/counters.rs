//! The counters behind the `stats` reply (SPEC.md 5.5) and the metrics listener: both read
//! them here, so the two never disagree. Relaxed atomics: each number is exact, a snapshot of
//! several is only approximately simultaneous, which is all a dashboard needs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use crate::protocol::error_code::ErrorCode;
use crate::protocol::request::Op;

/// Outcome columns: `ok`, then one per error code (by wire number).
const OUTCOMES: usize = ErrorCode::ALL.len() + 1;

/// Connection and request counters since start.
#[derive(Debug)]
pub struct Counters {
    connections: AtomicU64,
    requests_total: AtomicU64,
    errors_total: AtomicU64,
    busy_total: AtomicU64,
    by_op: [AtomicU64; Op::ALL.len()],
    /// Replies by op (last row: no readable op) and outcome (column 0 `ok`, else the code).
    by_outcome: [[AtomicU64; OUTCOMES]; Op::ALL.len() + 1],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// Connections refused at accept (connection limit, peer not allowed) since start.
    connections_refused: AtomicU64,
    /// Time from admission to a worker starting the job, and the job's run time, by op.
    pub latency: Latency,
    /// Time from a request's frame read whole to its `busy` reply written to the socket: the
    /// daemon's own share of a busy answer's latency (SPEC.md 6.2 asks milliseconds).
    pub busy_answer: Histogram,
}

/// The job latency histograms (seconds), labelled by op.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Admission to start on a worker: the time a job waited in the queue.
    pub queue_wait: Family<OpLabel, Histogram, fn() -> Histogram>,
    /// Start to end on a worker.
    pub run: Family<OpLabel, Histogram, fn() -> Histogram>,
}

/// The `op` label of the latency histograms.
pub type OpLabel = [(&'static str, &'static str); 1];

/// 100 µs to ~100 s in ×4 steps (11 buckets): thumbnails take milliseconds to seconds, queue
/// waits microseconds to the whole `--max-queue-wait`.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 11))
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            queue_wait: Family::new_with_constructor(latency_histogram),
            run: Family::new_with_constructor(latency_histogram),
        }
    }
}

/// 50 µs to ~13 s in ×2 steps (19 buckets): a busy answer should take well under a
/// millisecond, and the steps are fine enough to read a p99 against a bar of tens of them.
fn busy_answer_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.00005, 2.0, 19))
}

/// Every counter of [`Counters`] that the metrics listener exports beyond the `stats` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficSnapshot {
    /// `(op word or "-", outcome word, replies)`, zero rows left out.
    pub replies: Vec<(&'static str, &'static str, u64)>,
    /// Request bytes read, length prefixes included.
    pub bytes_in: u64,
    /// Reply bytes written, length prefixes included.
    pub bytes_out: u64,
}

/// The counters at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Connections open now.
    pub connections: u64,
    /// Replies sent since start.
    pub requests_total: u64,
    /// Error replies since start.
    pub errors_total: u64,
    /// `busy` replies since start.
    pub busy_total: u64,
    /// Replies per op, ops with none left out, in table order.
    pub by_op: Vec<(Op, u64)>,
    /// Connections refused since start (connection limit, peer not allowed).
    pub connections_refused: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            connections: AtomicU64::default(),
            requests_total: AtomicU64::default(),
            errors_total: AtomicU64::default(),
            busy_total: AtomicU64::default(),
            by_op: Default::default(),
            by_outcome: Default::default(),
            bytes_in: AtomicU64::default(),
            bytes_out: AtomicU64::default(),
            connections_refused: AtomicU64::default(),
            latency: Latency::default(),
            busy_answer: busy_answer_histogram(),
        }
    }
}

impl Counters {
    /// Counts a new connection if fewer than `max` are open; `false` (nothing counted) when the
    /// limit is reached.
    pub fn connection_opened(&self, max: u64) -> bool {
        self.connections.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < max).then_some(n + 1)).is_ok()
    }

    /// A connection counted by [`Counters::connection_opened`] has closed.
    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection was refused (connection limit or peer check).
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one reply: its op if it was read, its error code if it was an error.
    pub fn record_reply(&self, op: Option<Op>, error: Option<ErrorCode>) {
        self.requests_total.fetch_add(1, Ordering::Relaxed);
        if let Some(op) = op {
            self.by_op[op.index()].fetch_add(1, Ordering::Relaxed);
        }
        let row = op.map_or(Op::ALL.len(), Op::index);
        let column = error.map_or(0, |code| usize::from(code.number()));
        self.by_outcome[row][column].fetch_add(1, Ordering::Relaxed);
        if let Some(code) = error {
            self.errors_total.fetch_add(1, Ordering::Relaxed);
            if code == ErrorCode::Busy {
                self.busy_total.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts one request's bytes in and its reply's bytes out.
    pub fn record_bytes(&self, bytes_in: usize, bytes_out: usize) {
        self.bytes_in.fetch_add(bytes_in as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes_out as u64, Ordering::Relaxed);
    }

    /// Wraps a job's closure so that its queue wait (from now until a worker starts it) and run
    /// time land in [`Counters::latency`] under `op`.
    pub fn time_job<R>(&self, op: Op, work: impl FnOnce() -> R) -> impl FnOnce() -> R {
        let label = [("op", op.word())];
        let wait = self.latency.queue_wait.get_or_create(&label).clone();
        let run = self.latency.run.get_or_create(&label).clone();
        let admitted = Instant::now();
        move || {
            let started = Instant::now();
            wait.observe((started - admitted).as_secs_f64());
            let result = work();
            run.observe(started.elapsed().as_secs_f64());
            result
        }
    }

    /// The counters only the metrics listener reports.
    pub fn traffic(&self) -> TrafficSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut replies = Vec::new();
        for (row, counts) in self.by_outcome.iter().enumerate() {
            let op = Op::ALL.get(row).map_or("-", |op| op.word());
            for (column, count) in counts.iter().enumerate() {
                let n = load(count);
                if n > 0 {
                    let outcome = match column {
                        0 => "ok",
                        number => ErrorCode::from_number(number as u64).map_or("unknown", ErrorCode::name),
                    };
                    replies.push((op, outcome, n));
                }
            }
        }
        TrafficSnapshot {
            replies,
            bytes_in: load(&self.bytes_in),
            bytes_out: load(&self.bytes_out),
            
        }
    }

    /// The current values.
    pub fn snapshot(&self) -> CounterSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            connections: load(&self.connections),
            requests_total: load(&self.requests_total),
            errors_total: load(&self.errors_total),
            busy_total: load(&self.busy_total),
            connections_refused: load(&self.connections_refused),
            by_op: Op::ALL.iter().map(|&op| (op, load(&self.by_op[op.index()]))).filter(|(_, n)| *n > 0).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_replies_errors_and_connections() {
        let c = Counters::default();
        assert!(c.connection_opened(1));
        assert!(!c.connection_opened(1), "the limit is reached");
        c.connection_refused();
        c.record_reply(Some(Op::Ping), None);
        c.record_reply(Some(Op::Resize), Some(ErrorCode::Busy));
        c.record_reply(None, Some(ErrorCode::Malformed));
        let s = c.snapshot();
        assert_eq!((s.connections, s.requests_total, s.errors_total, s.busy_total), (1, 3, 2, 1));
        assert_eq!(s.by_op, vec![(Op::Ping, 1), (Op::Resize, 1)]);
        assert_eq!(s.connections_refused, 1);
        c.connection_closed();
        assert_eq!(c.snapshot().connections, 0);
        c.record_bytes(10, 20);
        let t = c.traffic();
        assert_eq!(t.replies, vec![("ping", "ok", 1), ("resize", "busy", 1), ("-", "malformed", 1)]);
        assert_eq!((t.bytes_in, t.bytes_out), (10, 20));
    }

    #[test]
    fn timed_jobs_land_in_their_ops_histograms() {
        let c = Counters::default();
        let work = c.time_job(Op::Checksum, || 42);
        assert_eq!(work(), 42);
        let mut text = String::new();
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("wait", "w", c.latency.queue_wait.clone());
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("wait_count{op=\"checksum\"} 1"), "{text}");
    }
}
