//! ferryd: runs CPU-heavy jobs (image thumbnails, checksums) for co-located services, over a
//! Unix socket, speaking the protocol of `protocol/SPEC.md`.
//!
//! # Layout
//! - [`cli`]: command-line flags (clap); parsing only.
//! - [`config`]: the validated [`config::Config`] built from them.
//! - [`telemetry`]: logging (text or JSON lines on stderr).
//! - [`server`]: listener, connections, dispatch, shutdown, systemd integration.
//! - [`protocol`]: frames, requests, replies and error codes, in wire words only.
//! - [`vocabulary`]: the words both the wire and the jobs use (modes, filters, formats,
//!   algorithms), so that neither [`protocol`] nor [`jobs`] imports the other.
//! - [`cpu_pool`]: the rayon pool behind a bound on queued jobs and bytes.
//! - [`allocator`]: giving memory back to the system after bursts of large images.
//! - [`jobs`]: the work itself, as plain synchronous functions.
//!
//! `src/main.rs` wires them: flags, config, allocator, logging, pool, runtime, [`server::serve`].

pub mod allocator;
pub mod cli;
pub mod config;
pub mod cpu_pool;
pub mod jobs;
pub mod protocol;
pub mod server;
pub mod telemetry;
pub mod vocabulary;
