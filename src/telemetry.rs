//! Logging: a tracing subscriber on stderr, text or JSON lines, filtered by `--log-level`, else
//! `RUST_LOG`, else `info`.
//!
//! What goes out at which level:
//! - `info`: start, listening address, shutdown steps, and one line per job request
//!   (`resize`, `checksum`) and per error reply, under the target `ferryd::request`;
//! - `debug`: also the successful `ping`, `hello`, `stats` and every `cancel` (these can run at
//!   100,000+ per second, where a line each would cost more than the request);
//! - panics in jobs, at `error`, under `ferryd::panic` (the job is answered `internal`).
//!
//! Request lines carry id, op, bytes in and out, elapsed microseconds and the outcome (`ok` or
//! the error code's name), never payload bytes.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// The filter used when neither `--log-level` nor `RUST_LOG` says otherwise.
pub const DEFAULT_FILTER: &str = "info";

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter does not parse.
    #[error("invalid log filter {filter:?} (from {origin})")]
    Filter {
        /// The text given.
        filter: String,
        /// `--log-level` or `RUST_LOG`.
        origin: &'static str,
        /// Why it does not parse.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber was already installed.
    #[error("a log subscriber is already installed")]
    AlreadyInstalled,
}

/// Installs the global subscriber and a panic hook that logs through it.
pub fn init(log: &LogConfig) -> Result<(), TelemetryError> {
    let filter = filter(log)?;
    // Colours only for a terminal: a log file or journald should not get escape codes.
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let installed = match log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    installed.map_err(|_| TelemetryError::AlreadyInstalled)?;
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        tracing::error!(target: "ferryd::panic", %location, %thread, "panic: {message}");
    }));
    Ok(())
}

fn filter(log: &LogConfig) -> Result<EnvFilter, TelemetryError> {
    let (text, origin) = match &log.filter {
        Some(text) => (text.clone(), "--log-level"),
        None => match std::env::var("RUST_LOG") {
            Ok(text) if !text.trim().is_empty() => (text, "RUST_LOG"),
            _ => (DEFAULT_FILTER.to_string(), "the default"),
        },
    };
    EnvFilter::try_new(&text).map_err(|source| TelemetryError::Filter { filter: text, origin, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_filter_is_checked() {
        let bad = LogConfig { format: LogFormat::Text, filter: Some("ferryd=loud".into()) };
        let err = filter(&bad).unwrap_err();
        assert!(err.to_string().contains("--log-level"), "{err}");
        let good = LogConfig { format: LogFormat::Json, filter: Some("ferryd=debug,warn".into()) };
        assert!(filter(&good).is_ok());
    }
}
