//! Integration tests: the real `ferryd` binary, started on a socket in a short temporary
//! directory, spoken to in raw frames. One binary, one module per topic.

mod harness;

mod config_checks;
mod control;
mod files;
mod heif;
mod framing;
mod invalid_vectors;
mod jobs;
mod lifecycle;
mod fair;
mod limits;
mod overload;
mod peers;
mod metrics;
mod operator;
mod outputs;
mod pipelining;
mod probe;
mod queue;
mod restart;
mod watchdog;
