//! Command-line flags (clap derive). Only parsing lives here; [`crate::config`] validates the
//! values and turns them into a [`crate::config::Config`] that knows nothing about clap.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::admin::Command;

const ABOUT: &str = "Runs image thumbnails and checksums for co-located services, over a Unix socket";

const LONG_ABOUT: &str = "\
ferryd is a small daemon that runs CPU-heavy jobs (image resize, checksums) for services on the
same machine. Clients connect to its Unix socket and send length-prefixed MessagePack requests
(protocol/SPEC.md); jobs run on a pool of worker threads, one per core by default.

When the queue bound (--queue-jobs, --queue-bytes) is full, new jobs are answered `busy` at
once instead of waiting. On SIGTERM or SIGINT the daemon stops accepting connections, finishes
what is running (up to --shutdown-grace), removes its socket file and exits 0.

Every flag can also be set with the environment variable shown in brackets, or as a key of
the TOML file named by --config (the flag's name with `-` as `_`: queue_jobs = 128). A flag
wins over its variable, the variable over the file, the file over the default. Sizes accept a
plain number of bytes or a binary unit: 512KiB, 64MiB, 1GiB (K, M, G mean the same).

Under systemd, ferryd sends READY=1 when NOTIFY_SOCKET is set (Type=notify), and uses the
listening socket systemd passes (LISTEN_FDS, socket activation) instead of binding --socket.";

const AFTER_HELP: &str = "\
Examples:
  ferryd --config /etc/ferry/ferryd.toml          flags, variables and a file, in that order
  ferryd --config /etc/ferry/ferryd.toml health   exit 0 when the daemon answers (a probe)
  ferryd stats --json                             the running daemon's counters
  ferryd --socket /tmp/ferry.sock                 try it as an ordinary user
  ferryd --workers 4 --queue-jobs 128             more threads, deeper queue
  RUST_LOG=ferryd=debug ferryd --log-format json  every request, as JSON lines
  ferryd --metrics-listen 127.0.0.1:9464          Prometheus metrics at /metrics";

/// `ferryd` flags.
#[derive(Debug, Parser)]
#[command(name = "ferryd", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do; without a subcommand, run the daemon.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// TOML file of settings, one key per flag (the flag's name with `-` as `_`). Flags and
    /// FERRYD_* variables override it; an unknown key is an error.
    #[arg(long, env = "FERRYD_CONFIG", value_name = "PATH", help_heading = "Configuration", global = true)]
    pub config: Option<PathBuf>,

    /// Unix socket to listen on. A stale socket file left by a crashed daemon is replaced; a
    /// live daemon's socket is never taken over.
    #[arg(
        long,
        env = "FERRYD_SOCKET",
        value_name = "PATH",
        default_value = "/run/ferry/ferryd.sock",
        help_heading = "Socket",
        global = true
    )]
    pub socket: PathBuf,

    /// Permissions of the socket file, in octal. Clients need write permission to connect.
    #[arg(long, env = "FERRYD_SOCKET_MODE", value_name = "OCTAL", default_value = "0660", value_parser = parse_mode, help_heading = "Socket", global = true)]
    pub socket_mode: u32,

    /// Worker threads for jobs [default: number of CPU cores].
    #[arg(long, env = "FERRYD_WORKERS", value_name = "N", help_heading = "Capacity", global = true)]
    pub workers: Option<usize>,

    /// Jobs that may wait or run at once; beyond that, requests are answered `busy`.
    #[arg(long, env = "FERRYD_QUEUE_JOBS", value_name = "N", default_value_t = 64, help_heading = "Capacity", global = true)]
    pub queue_jobs: u64,

    /// Payload bytes that may wait or run at once; beyond that, requests are answered `busy`.
    /// Must be at least --max-frame.
    #[arg(long, env = "FERRYD_QUEUE_BYTES", value_name = "SIZE", default_value = "256MiB", value_parser = parse_size, help_heading = "Capacity", global = true)]
    pub queue_bytes: u64,

    /// Largest request body accepted; larger frames are answered `frame_too_large` and the
    /// connection is closed. Advertised to clients by `hello`.
    #[arg(long, env = "FERRYD_MAX_FRAME", value_name = "SIZE", default_value = "128MiB", value_parser = parse_size, help_heading = "Limits", global = true)]
    pub max_frame: u64,

    /// Largest input image, width x height; larger headers are refused before decoding.
    #[arg(long, env = "FERRYD_MAX_PIXELS", value_name = "N", default_value_t = 100_000_000, help_heading = "Limits", global = true)]
    pub max_pixels: u64,

    /// Largest input width or height, and largest requested output side.
    #[arg(long, env = "FERRYD_MAX_DIMENSION", value_name = "PIXELS", default_value_t = 32768, help_heading = "Limits", global = true)]
    pub max_dimension: u32,

    /// Memory the daemon may hold for requests: frames being read, queued and running jobs (by
    /// an estimate made from the image header), replies not yet written. Beyond it requests are
    /// answered `busy`, or `too_large_for_budget` when one job alone could never fit [default:
    /// half the cgroup's memory.max when one is set, else a quarter of the machine's memory;
    /// at most half of `ulimit -v` when that is set].
    #[arg(long, env = "FERRYD_MEMORY_BUDGET", value_name = "SIZE", value_parser = parse_size, help_heading = "Capacity", global = true)]
    pub memory_budget: Option<u64>,

    /// Longest a job may expect to wait for a worker (the work queued ahead of it, by recent run
    /// times, divided by the workers); beyond it, or beyond the request's own deadline, requests
    /// are answered `busy`.
    #[arg(long, env = "FERRYD_MAX_QUEUE_WAIT", value_name = "SECONDS", default_value = "2", value_parser = parse_seconds, help_heading = "Capacity", global = true)]
    pub max_queue_wait: std::time::Duration,

    /// Longest a job may run once a worker has started it; then it stops at its next check and
    /// is answered `deadline_exceeded`, whatever the request's own timeout_ms. Keep it below
    /// the systemd unit's WatchdogSec= minus a quarter of it (30 s - 7.5 s): a pool whose every
    /// worker is held that long is otherwise taken for wedged.
    #[arg(long, env = "FERRYD_MAX_JOB_TIME", value_name = "SECONDS", default_value = "20", value_parser = parse_seconds, help_heading = "Capacity", global = true)]
    pub max_job_time: std::time::Duration,

    /// Connections served at once; one more is answered `busy` (id 0) and closed.
    #[arg(
        long,
        env = "FERRYD_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 1024,
        help_heading = "Connections",
        global = true
    )]
    pub max_connections: u64,

    /// A frame whose first byte arrived must be complete within this, else the connection is
    /// closed.
    #[arg(long, env = "FERRYD_FRAME_TIMEOUT", value_name = "SECONDS", default_value = "30", value_parser = parse_seconds, help_heading = "Connections", global = true)]
    pub frame_timeout: std::time::Duration,

    /// A connection with no request in flight that sends nothing for this long is closed.
    #[arg(long, env = "FERRYD_IDLE_TIMEOUT", value_name = "SECONDS", default_value = "300", value_parser = parse_seconds, help_heading = "Connections", global = true)]
    pub idle_timeout: std::time::Duration,

    /// A connection with replies pending whose peer reads nothing for this long is closed.
    #[arg(long, env = "FERRYD_REPLY_TIMEOUT", value_name = "SECONDS", default_value = "30", value_parser = parse_seconds, help_heading = "Connections", global = true)]
    pub reply_timeout: std::time::Duration,

    /// Seconds to let running jobs finish after SIGTERM/SIGINT before closing anyway. A second
    /// signal closes at once.
    #[arg(long, env = "FERRYD_SHUTDOWN_GRACE", value_name = "SECONDS", default_value = "30", value_parser = parse_seconds, help_heading = "Lifecycle", global = true)]
    pub shutdown_grace: std::time::Duration,

    /// Serve only peers with one of these uids (comma-separated), as the kernel reports them
    /// (SO_PEERCRED). A peer is served when its uid is listed here or its primary gid in
    /// --allow-gid; with neither flag, any peer that can open the socket. Root (0) is not
    /// implicitly allowed. Others get error `peer_not_allowed` and are disconnected.
    #[arg(long, env = "FERRYD_ALLOW_UID", value_name = "UIDS", value_delimiter = ',', help_heading = "Access", global = true)]
    pub allow_uid: Vec<u32>,

    /// Serve only peers whose primary gid is one of these (comma-separated); see --allow-uid.
    #[arg(long, env = "FERRYD_ALLOW_GID", value_name = "GIDS", value_delimiter = ',', help_heading = "Access", global = true)]
    pub allow_gid: Vec<u32>,

    /// Log line format, on stderr. `auto`: JSON lines when stderr is not a terminal or goes to
    /// journald (JOURNAL_STREAM), text on a terminal. Under journald each line starts with a
    /// syslog priority prefix (`<6>`), so `journalctl -p` filters by level.
    #[arg(long, env = "FERRYD_LOG_FORMAT", value_name = "FORMAT", value_enum, default_value_t = LogFormatArg::Auto, help_heading = "Logging", global = true)]
    pub log_format: LogFormatArg,

    /// Log filter, e.g. `info`, `debug`, `ferryd=debug,warn`. Overrides RUST_LOG; with neither
    /// set the level is `info` (one line per job request; `debug` adds ping, hello and stats).
    #[arg(long, env = "FERRYD_LOG_LEVEL", value_name = "FILTER", help_heading = "Logging", global = true)]
    pub log_level: Option<String>,

    /// Serve Prometheus metrics at /metrics on this address: `unix:/path/metrics.sock` or
    /// `HOST:PORT` (e.g. 127.0.0.1:9464). Off when unset. Who can scrape: a Unix socket gets
    /// --socket-mode, like the main socket; a TCP address anyone who reaches it (127.0.0.1:
    /// every local user, whatever --allow-uid says), which ferryd warns about at start.
    #[arg(long, env = "FERRYD_METRICS_LISTEN", value_name = "ADDR", help_heading = "Observability", global = true)]
    pub metrics_listen: Option<String>,
}

/// `--log-format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// JSON when stderr is not a terminal or is journald's, else text.
    Auto,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parses an octal file mode such as `0660` or `660`.
fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    u32::from_str_radix(digits, 8).map_err(|_| format!("{text:?} is not an octal mode such as 0660"))
}

/// Parses a byte size: a plain number, or a number with K/KiB, M/MiB or G/GiB (all binary).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a size such as 268435456 or 256MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        other => return Err(format!("unknown size unit {other:?} in {text:?}; use KiB, MiB or GiB")),
    };
    number.checked_mul(1 << shift).ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses seconds, fractions allowed (`30`, `0.5`, `30s`), or milliseconds with `ms` (`250ms`).
pub fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let trimmed = text.trim();
    let (number, scale) = match trimmed.strip_suffix("ms") {
        Some(ms) => (ms, 1e-3),
        None => (trimmed.strip_suffix('s').unwrap_or(trimmed), 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{text:?} is not a number of seconds such as 30 or 2.5"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let cli = Cli::try_parse_from(["ferryd"]).unwrap();
        assert_eq!(cli.socket, PathBuf::from("/run/ferry/ferryd.sock"));
        assert_eq!(cli.socket_mode, 0o660);
        assert_eq!(cli.queue_jobs, 64);
        assert_eq!(cli.queue_bytes, 256 << 20);
        assert_eq!(cli.max_frame, 128 << 20);
        assert_eq!(cli.max_pixels, 100_000_000);
        assert_eq!(cli.max_dimension, 32768);
        assert_eq!(cli.shutdown_grace, std::time::Duration::from_secs(30));
        assert_eq!(cli.log_format, LogFormatArg::Auto);
        assert_eq!(cli.memory_budget, None);
        assert_eq!(cli.max_connections, 1024);
        assert_eq!(cli.frame_timeout, std::time::Duration::from_secs(30));
        assert_eq!(cli.idle_timeout, std::time::Duration::from_secs(300));
        assert_eq!(cli.reply_timeout, std::time::Duration::from_secs(30));
        assert_eq!(cli.max_queue_wait, std::time::Duration::from_secs(2));
        assert_eq!(cli.max_job_time, std::time::Duration::from_secs(20));
        assert!(cli.command.is_none() && cli.config.is_none() && cli.metrics_listen.is_none());
    }

    /// Every setting is global, so a probe may write `ferryd health --socket PATH` as well as
    /// `ferryd --socket PATH health`; a new flag that forgets `global = true` fails here.
    #[test]
    fn every_setting_is_accepted_after_a_subcommand() {
        let command = Cli::command();
        let local: Vec<_> = command.get_arguments().filter(|a| a.get_long().is_some() && !a.is_global_set()).map(|a| a.get_id().to_string()).collect();
        assert!(local.is_empty(), "flags not global: {local:?}");
        for argv in [
            &["ferryd", "health", "--socket", "/tmp/x.sock", "--log-level", "debug"][..],
            &["ferryd", "--socket", "/tmp/x.sock", "--log-level", "debug", "health"][..],
            &["ferryd", "--log-level", "debug", "health", "--socket", "/tmp/x.sock"][..],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert_eq!(cli.socket, PathBuf::from("/tmp/x.sock"), "{argv:?}");
            assert_eq!(cli.log_level.as_deref(), Some("debug"), "{argv:?}");
            assert!(matches!(cli.command, Some(Command::Health(_))), "{argv:?}");
        }
        let cli = Cli::try_parse_from(["ferryd", "stats", "--json", "--config", "/etc/f.toml"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("/etc/f.toml")));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("268435456"), Ok(268_435_456));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }

    #[test]
    fn modes_and_seconds() {
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert!(parse_mode("0980").is_err());
        assert_eq!(parse_seconds("0.25"), Ok(std::time::Duration::from_millis(250)));
        assert!(parse_seconds("-1").is_err());
        assert_eq!(parse_seconds("30s"), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(parse_seconds("250ms"), Ok(std::time::Duration::from_millis(250)));
    }
}
