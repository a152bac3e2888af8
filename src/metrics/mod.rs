//! The daemon's own Prometheus metrics, on an optional listener (`--metrics-listen`).
//!
//! One source with `stats`: the collector reads the same [`crate::server::dispatch::stats`]
//! reply and [`crate::server::counters::Counters`] at every scrape, so a dashboard and
//! `ferryd stats` never disagree. Only the latency histograms are kept as metrics objects (in
//! `Counters`, observed by the job wrapper), because a histogram cannot be rebuilt from totals.
//!
//! # Layout
//! - [`collector`]: the gauges and counters, read at scrape time.
//! - [`process`]: resident memory, CPU time and open descriptors from `/proc/self`.
//! - [`http`]: the listener, a minimal HTTP/1.1 responder for `GET /metrics`.
//!
//! The metric names, with their types and labels, are listed in [`collector`] and in the
//! operator's guide.

pub mod collector;
pub mod http;
pub mod process;

use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::server::State;

/// The registry of a daemon whose shared state is `state`.
pub fn registry(state: Arc<State>) -> Registry {
    let mut registry = Registry::default();
    let latency = state.counters.latency.clone();
    registry.register(
        "ferryd_job_queue_wait_seconds",
        "Time from admission until a worker started the job, by op",
        latency.queue_wait,
    );
    registry.register("ferryd_job_run_seconds", "Time a worker spent running the job, by op", latency.run);
    registry.register(
        "ferryd_busy_answer_seconds",
        "Time from a request's frame read whole to its busy reply written",
        state.counters.busy_answer.clone(),
    );
    registry.register_collector(Box::new(collector::StateCollector { state }));
    registry.register_collector(Box::new(process::ProcessCollector));
    registry
}

/// The registry's current text, in the Prometheus text format (0.0.4).
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail; an encoder error would be a bug in a collector.
    if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut text, registry) {
        tracing::error!(%error, "cannot encode metrics");
    }
    text
}
