//! Logging: a tracing subscriber on stderr, text or JSON lines, filtered by `--log-level`, else
//! `RUST_LOG`, else `info`.
//!
//! Format (`--log-format auto`, the default): text on a terminal; JSON lines ([`json`]) when
//! stderr is a file, a pipe or journald's stream. Under journald (`JOURNAL_STREAM` names
//! stderr) every line, text or JSON, starts with its syslog priority (`<6>`, [`journald`]).
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

mod journald;
pub mod json;

use std::io::IsTerminal;
use std::os::fd::AsRawFd;

use tracing::Level;
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
    let terminal = std::io::stderr().is_terminal();
    let journald = stderr_is_journal();
    // Colours only for a terminal: a log file or journald should not get escape codes.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(terminal);
    let installed = match (resolve(log.format, terminal, journald), journald) {
        (LogFormat::Json, _) => builder.event_format(json::JsonLines { journald }).try_init(),
        (_, true) => builder.event_format(journald::Prefixed { inner: tracing_subscriber::fmt::format().without_time() }).try_init(),
        (_, false) => builder.try_init(),
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

/// What `auto` means here: JSON unless stderr is a terminal not owned by journald.
pub fn resolve(format: LogFormat, terminal: bool, journald: bool) -> LogFormat {
    match format {
        LogFormat::Auto if terminal && !journald => LogFormat::Text,
        LogFormat::Auto => LogFormat::Json,
        explicit => explicit,
    }
}

/// The syslog priority journald reads from a `<N>` prefix.
pub fn syslog_priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Whether stderr is the stream systemd connected to journald: `JOURNAL_STREAM` is
/// `device:inode` of that stream, and must match stderr's (a child that redirected its stderr
/// inherits the variable but not the stream).
fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = value.split_once(':') else { return false };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else { return false };
    // SAFETY: fstat on stderr's descriptor with a zeroed stat buffer it fills in.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstat(std::io::stderr().as_raw_fd(), &mut stat) };
    rc == 0 && stat.st_dev as u64 == dev && stat.st_ino as u64 == ino
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

    #[test]
    fn auto_is_text_only_on_a_terminal_outside_journald() {
        assert_eq!(resolve(LogFormat::Auto, true, false), LogFormat::Text);
        assert_eq!(resolve(LogFormat::Auto, false, false), LogFormat::Json);
        assert_eq!(resolve(LogFormat::Auto, true, true), LogFormat::Json);
        assert_eq!(resolve(LogFormat::Text, false, true), LogFormat::Text);
        assert_eq!(syslog_priority(&Level::WARN), 4);
    }
}
