//! Gauges and counters read from the daemon's state at each scrape.
//!
//! | metric | type | labels | from |
//! |---|---|---|---|
//! | `ferryd_requests_total` | counter | `op`, `outcome` (`ok` or an error code's name) | replies |
//! | `ferryd_busy_total` | counter | | `busy` replies (stats `busy_total`) |
//! | `ferryd_errors_total` | counter | | error replies (stats `errors_total`) |
//! | `ferryd_connections` | gauge | | connections open now |
//! | `ferryd_connections_refused_total` | counter | | refused at accept (limit, peer) |
//! | `ferryd_jobs_running` | gauge | | jobs on a worker now (in flight) |
//! | `ferryd_jobs_queued` | gauge | | jobs admitted and waiting (queue depth) |
//! | `ferryd_queued_bytes` | gauge | | payload bytes held by admitted jobs |
//! | `ferryd_queue_jobs_limit`, `ferryd_queue_bytes_limit` | gauge | | the queue bound |
//! | `ferryd_memory_budget_bytes`, `ferryd_memory_used_bytes`, `ferryd_memory_free_bytes` | gauge | | the memory budget |
//! | `ferryd_received_bytes_total`, `ferryd_sent_bytes_total` | counter | | frames in and out |
//! | `ferryd_workers` | gauge | | worker threads |
//! | `ferryd_uptime_seconds` | gauge | | since start |
//! | `ferryd_build_info` | gauge (1) | `version` | |

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::protocol::response::ReplyBody;
use crate::server::{dispatch, State};

/// Reads [`State`] at scrape time.
#[derive(Debug)]
pub struct StateCollector {
    /// The daemon's shared state.
    pub state: Arc<State>,
}

/// A gauge without labels.
pub fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A counter without labels (`_total` is appended to `name`).
pub fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// Gauges are i64 in the text format; a u64 beyond it is clamped (never in practice).
fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let ReplyBody::Stats(stats) = dispatch::stats(&self.state) else {
            unreachable!("dispatch::stats answers with a stats body")
        };
        let memory = stats.memory.as_ref().expect("dispatch::stats always reports memory");
        let (memory_budget, memory_used) = (memory.memory_budget, memory.memory_used);
        let traffic = self.state.counters.traffic();
        let bound = self.state.pool.bound();

        let mut requests = encoder.encode_descriptor(
            "ferryd_requests",
            "Replies sent, by op (`-`: unreadable request) and outcome (`ok` or the error code's name)",
            None,
            MetricType::Counter,
        )?;
        for (op, outcome, count) in &traffic.replies {
            let labels = [("op", *op), ("outcome", *outcome)];
            ConstCounter::new(*count).encode(requests.encode_family(&labels)?)?;
        }
        counter(&mut encoder, "ferryd_busy", "Requests answered busy (queue, memory budget or connection limit full)", stats.busy_total)?;
        counter(&mut encoder, "ferryd_errors", "Error replies of any code", stats.errors_total)?;
        gauge(&mut encoder, "ferryd_connections", "Client connections open now", signed(stats.connections))?;
        counter(
            &mut encoder,
            "ferryd_connections_refused",
            "Connections refused at accept (connection limit or peer not allowed)",
            memory.connections_refused,
        )?;
        gauge(&mut encoder, "ferryd_jobs_running", "Jobs executing on a worker now", signed(stats.jobs_running))?;
        gauge(&mut encoder, "ferryd_jobs_queued", "Jobs admitted and waiting for a worker (queue depth)", signed(stats.jobs_queued))?;
        gauge(&mut encoder, "ferryd_queued_bytes", "Payload bytes held by admitted jobs", signed(stats.queued_bytes))?;
        gauge(&mut encoder, "ferryd_queue_jobs_limit", "Queue bound in jobs (--queue-jobs)", signed(bound.max_jobs))?;
        gauge(&mut encoder, "ferryd_queue_bytes_limit", "Queue bound in payload bytes (--queue-bytes)", signed(bound.max_bytes))?;
        gauge(&mut encoder, "ferryd_memory_budget_bytes", "Memory budget for frames being read, admitted jobs and unwritten replies (--memory-budget)", signed(memory_budget))?;
        gauge(&mut encoder, "ferryd_memory_used_bytes", "Memory budget held now by frames, jobs and replies", signed(memory_used))?;
        let free = memory_budget.saturating_sub(memory_used);
        gauge(&mut encoder, "ferryd_memory_free_bytes", "Memory budget not held now", signed(free))?;
        counter(&mut encoder, "ferryd_received_bytes", "Request bytes read, length prefixes included", traffic.bytes_in)?;
        counter(&mut encoder, "ferryd_sent_bytes", "Reply bytes written, length prefixes included", traffic.bytes_out)?;
        gauge(&mut encoder, "ferryd_workers", "Worker threads", signed(stats.workers))?;
        gauge(&mut encoder, "ferryd_uptime_seconds", "Seconds since the daemon started", signed(stats.uptime_ms / 1000))?;
        let mut info = encoder.encode_descriptor("ferryd_build_info", "The daemon's version (value 1)", None, MetricType::Gauge)?;
        ConstGauge::new(1i64).encode(info.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?)?;
        Ok(())
    }
}
