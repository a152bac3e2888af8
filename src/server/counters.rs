//! The counters behind the `stats` reply (SPEC.md 5.5). Relaxed atomics: each number is exact,
//! a snapshot of several is only approximately simultaneous, which is all a dashboard needs.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::protocol::error_code::ErrorCode;
use crate::protocol::request::Op;

/// Connection and request counters since start.
#[derive(Debug, Default)]
pub struct Counters {
    connections: AtomicU64,
    requests_total: AtomicU64,
    errors_total: AtomicU64,
    busy_total: AtomicU64,
    connections_refused: AtomicU64,
    by_op: [AtomicU64; Op::ALL.len()],
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
    /// Connections refused right after accept since start (peer not in the allowlist).
    pub connections_refused: u64,
    /// Replies per op, ops with none left out, in table order.
    pub by_op: Vec<(Op, u64)>,
}

/// Keeps a connection counted while it lives.
#[derive(Debug)]
pub struct ConnectionGuard<'a> {
    counters: &'a Counters,
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.counters.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Counters {
    /// Counts a connection until the guard is dropped.
    pub fn connection_opened(&self) -> ConnectionGuard<'_> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard { counters: self }
    }

    /// Counts a connection refused right after accept.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one reply: its op if it was read, its error code if it was an error.
    pub fn record_reply(&self, op: Option<Op>, error: Option<ErrorCode>) {
        self.requests_total.fetch_add(1, Ordering::Relaxed);
        if let Some(op) = op {
            self.by_op[op.index()].fetch_add(1, Ordering::Relaxed);
        }
        if let Some(code) = error {
            self.errors_total.fetch_add(1, Ordering::Relaxed);
            if code == ErrorCode::Busy {
                self.busy_total.fetch_add(1, Ordering::Relaxed);
            }
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
        let guard = c.connection_opened();
        c.record_reply(Some(Op::Ping), None);
        c.record_reply(Some(Op::Resize), Some(ErrorCode::Busy));
        c.record_reply(None, Some(ErrorCode::Malformed));
        c.connection_refused();
        let s = c.snapshot();
        assert_eq!((s.connections, s.requests_total, s.errors_total, s.busy_total), (1, 3, 2, 1));
        assert_eq!(s.by_op, vec![(Op::Ping, 1), (Op::Resize, 1)]);
        assert_eq!(s.connections_refused, 1);
        drop(guard);
        assert_eq!(c.snapshot().connections, 0);
    }
}
