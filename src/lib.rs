//! ferryd: runs CPU-heavy jobs for co-located Go services, over a Unix socket.
//!
//! # Layout
//! - [`jobs`]: the work itself, as plain synchronous functions.

pub mod jobs;
