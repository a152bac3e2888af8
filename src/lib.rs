//! ferryd: runs CPU-heavy jobs (image thumbnails, checksums) for co-located services, over a
//! Unix socket, speaking the protocol of `protocol/SPEC.md`.
//!
//! # Layout
//! - [`cli`]: command-line flags (clap); parsing only.
//! - [`config_file`]: the TOML file and `FERRYD_*` variables layered under the flags.
//! - [`config`]: the validated [`config::Config`] built from them.
//! - [`admin`]: `ferryd health`, `stats`, `check-config`, speaking the protocol to a daemon.
//! - [`telemetry`]: logging (text or JSON lines on stderr).
//! - [`server`]: listener, connections, dispatch, shutdown, systemd integration.
//! - [`protocol`]: frames, requests, replies and error codes, in wire words only.
//! - [`vocabulary`]: the words both the wire and the jobs use (modes, filters, formats,
//!   algorithms), so that neither [`protocol`] nor [`jobs`] imports the other.
//! - [`metrics`]: Prometheus metrics on `--metrics-listen`, read from the server's counters.
//! - [`cpu_pool`]: the rayon pool behind a bound on queued jobs and bytes.
//! - [`allocator`]: giving memory back to the system after bursts of large images.
//! - [`jobs`]: the work itself, as plain synchronous functions.
//!
//! `src/main.rs` wires them: flags, config, allocator, logging, pool, runtime, [`server::serve`].

pub mod admin;
pub mod allocator;
pub mod cli;
pub mod config;
pub mod config_file;
pub mod cpu_pool;
pub mod jobs;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod telemetry;
pub mod vocabulary;
