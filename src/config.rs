//! The validated daemon configuration. Built from [`crate::cli::Cli`] once at start; every other
//! module takes a [`Config`] (or a part of it) and never sees clap.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Cli, LogFormatArg};
use crate::cpu_pool::QueueBound;
use crate::jobs::Limits;
use crate::server::peer::PeerAllowlist;

/// Longest socket path the kernel accepts: `sun_path` is 108 bytes including the final NUL.
pub const MAX_SOCKET_PATH: usize = 107;

/// Most worker threads: far beyond any core count ferryd runs on, well below a thread count
/// that stalls start-up (100,000 workers took seconds and never listened).
pub const MAX_WORKERS: usize = 1024;

/// Most queued jobs and connections: each costs a little memory and bookkeeping whether used
/// or not, and no host serves more.
pub const MAX_COUNT: u64 = 1 << 20;

/// Smallest frame limit: a request needs room for its id, op and fields.
pub const MIN_MAX_FRAME: u64 = 1024;

/// Shortest frame, reply and idle timeout and shutdown grace: below it a connection or a drain
/// is cut off by scheduling noise alone (0 and 1 us were accepted before).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// Shortest `--max-queue-wait`: 0 would refuse every job that cannot start at once.
pub const MIN_QUEUE_WAIT: Duration = Duration::from_millis(1);

/// Longest timeout of any kind: one day (deadlines are instants; larger values overflow them).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Everything the daemon needs to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where and how to listen.
    pub socket: SocketConfig,
    /// Worker threads for jobs.
    pub workers: usize,
    /// Jobs and bytes that may wait or run before requests are answered `busy`.
    pub queue: QueueBound,
    /// Largest request body, in bytes.
    pub max_frame: u32,
    /// Input image limits passed to every resize.
    pub limits: Limits,
    /// How long running jobs may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Memory for frames being read, admitted jobs and unwritten replies, in bytes.
    pub memory_budget: u64,
    /// Longest expected queue wait a job is admitted with.
    pub max_queue_wait: Duration,
    /// Longest a job may run once a worker has started it.
    pub max_job_time: Duration,
    /// Connection limits and timeouts.
    pub connections: ConnectionLimits,
    /// Log format and filter.
    pub log: LogConfig,
    /// Peers served (`--allow-uid`, `--allow-gid`); both lists empty: any peer.
    pub allowlist: PeerAllowlist,
    /// Where to serve Prometheus metrics; `None`: nowhere.
    pub metrics_listen: Option<MetricsAddress>,
}

/// How many connections, and how long each may stall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: u64,
    /// A frame whose first byte arrived must be complete within this.
    pub frame_timeout: Duration,
    /// Nothing in flight and nothing received for this long: closed.
    pub idle_timeout: Duration,
    /// Replies pending and nothing read by the peer for this long: closed.
    pub reply_timeout: Duration,
}

/// The metrics listener's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsAddress {
    /// A Unix socket path (`unix:/path`).
    Unix(PathBuf),
    /// A TCP address (`127.0.0.1:9464`, `[::1]:9464`).
    Tcp(std::net::SocketAddr),
}

impl std::fmt::Display for MetricsAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsAddress::Unix(path) => write!(f, "unix:{}", path.display()),
            MetricsAddress::Tcp(addr) => write!(f, "{addr}"),
        }
    }
}

/// The listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketConfig {
    /// Socket file path (unused under socket activation).
    pub path: PathBuf,
    /// Permission bits of the socket file.
    pub mode: u32,
}

/// Logging setup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
    /// An explicit filter; `None` falls back to RUST_LOG, then `info`.
    pub filter: Option<String>,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON when stderr is not a terminal or is journald's, else text (decided at start).
    Auto,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A flag value that cannot work, with the flag named.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The socket path does not fit in `sun_path`.
    #[error("--socket {path:?} is {len} bytes long; Unix socket paths must be at most {MAX_SOCKET_PATH}")]
    SocketPathTooLong {
        /// The path given.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// A mode with bits beyond permissions.
    #[error("--socket-mode {mode:o} has bits outside 0777")]
    SocketMode {
        /// The mode given.
        mode: u32,
    },
    /// A count or size that must be positive.
    #[error("{flag} must be at least 1")]
    Zero {
        /// The flag.
        flag: &'static str,
    },
    /// `--max-frame` does not fit the 32-bit length prefix.
    #[error("--max-frame {value} exceeds the largest frame the protocol can describe ({})", u32::MAX)]
    MaxFrameTooLarge {
        /// The value given.
        value: u64,
    },
    /// A frame of the maximum size could never be read.
    #[error("--memory-budget {budget} is smaller than --max-frame {max_frame}: a request of the maximum size could never be read; raise --memory-budget or lower --max-frame")]
    BudgetSmallerThanFrame {
        /// The memory budget.
        budget: u64,
        /// The frame limit.
        max_frame: u64,
    },
    /// A frame of the maximum size could never be admitted.
    #[error("--queue-bytes {queue_bytes} is smaller than --max-frame {max_frame}: a request of the maximum size could never run; raise --queue-bytes or lower --max-frame")]
    QueueSmallerThanFrame {
        /// The queue byte bound.
        queue_bytes: u64,
        /// The frame limit.
        max_frame: u64,
    },
    /// A number outside its sane range.
    #[error("{flag} {value} is outside {range}")]
    OutOfRange {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: String,
        /// The accepted range, in words.
        range: String,
    },
    /// `--metrics-listen` is neither `unix:PATH` nor `HOST:PORT`.
    #[error("--metrics-listen {value:?} is neither unix:/path/to.sock nor an address such as 127.0.0.1:9464")]
    MetricsAddress {
        /// The value given.
        value: String,
    },
}

impl ConfigError {
    /// The config keys (flags without `--`, `-` as `_`) whose values were refused, so that the
    /// message can say where each came from.
    pub fn keys(&self) -> Vec<String> {
        let keys: &[&str] = match self {
            ConfigError::SocketPathTooLong { .. } => &["socket"],
            ConfigError::SocketMode { .. } => &["socket_mode"],
            ConfigError::Zero { flag } | ConfigError::OutOfRange { flag, .. } => {
                return vec![flag.trim_start_matches("--").replace('-', "_")]
            }
            ConfigError::MaxFrameTooLarge { .. } => &["max_frame"],
            ConfigError::BudgetSmallerThanFrame { .. } => &["memory_budget", "max_frame"],
            ConfigError::QueueSmallerThanFrame { .. } => &["queue_bytes", "max_frame"],
            ConfigError::MetricsAddress { .. } => &["metrics_listen"],
        };
        keys.iter().map(|key| key.to_string()).collect()
    }
}

/// A refused configuration, with where each refused value came from (a flag, a variable, the
/// config file, the default).
#[derive(Debug, thiserror::Error)]
#[error("{error} (from {origins})")]
pub struct SourcedConfigError {
    /// What is wrong.
    pub error: ConfigError,
    /// Where the values came from, in words.
    pub origins: String,
}

/// Checks that `value` lies in `min..=max`.
fn in_range<T: PartialOrd + std::fmt::Debug>(flag: &'static str, value: T, min: T, max: T) -> Result<T, ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::OutOfRange { flag, value: format!("{value:?}"), range: format!("{min:?}..={max:?}") });
    }
    Ok(value)
}

impl Config {
    /// Validates the flags, naming where a refused value came from.
    pub fn from_layered(cli: Cli, settings: &[crate::config_file::Setting]) -> Result<Self, SourcedConfigError> {
        Config::from_cli(cli).map_err(|error| {
            let origins = crate::config_file::origins_of(settings, &error.keys());
            SourcedConfigError { error, origins }
        })
    }

    /// Validates the flags.
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let len = cli.socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(ConfigError::SocketPathTooLong { path: cli.socket, len });
        }
        if cli.socket_mode & !0o777 != 0 {
            return Err(ConfigError::SocketMode { mode: cli.socket_mode });
        }
        let workers = match cli.workers {
            Some(0) => return Err(ConfigError::Zero { flag: "--workers" }),
            Some(n) => in_range("--workers", n, 1, MAX_WORKERS)?,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WORKERS),
        };
        for (flag, value) in [
            ("--queue-jobs", cli.queue_jobs),
            ("--queue-bytes", cli.queue_bytes),
            ("--max-frame", cli.max_frame),
            ("--max-pixels", cli.max_pixels),
            ("--max-dimension", u64::from(cli.max_dimension)),
            ("--max-connections", cli.max_connections),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { flag });
            }
        }
        if cli.max_job_time.is_zero() {
            return Err(ConfigError::Zero { flag: "--max-job-time" });
        }
        in_range("--queue-jobs", cli.queue_jobs, 1, MAX_COUNT)?;
        in_range("--max-connections", cli.max_connections, 1, MAX_COUNT)?;
        in_range("--max-job-time", cli.max_job_time, MIN_TIMEOUT, MAX_TIMEOUT)?;
        let max_frame =
            u32::try_from(cli.max_frame).map_err(|_| ConfigError::MaxFrameTooLarge { value: cli.max_frame })?;
        in_range("--max-frame", cli.max_frame, MIN_MAX_FRAME, u64::from(u32::MAX))?;
        for (flag, value) in [
            ("--frame-timeout", cli.frame_timeout),
            ("--idle-timeout", cli.idle_timeout),
            ("--reply-timeout", cli.reply_timeout),
            ("--shutdown-grace", cli.shutdown_grace),
        ] {
            in_range(flag, value, MIN_TIMEOUT, MAX_TIMEOUT)?;
        }
        in_range("--max-queue-wait", cli.max_queue_wait, MIN_QUEUE_WAIT, MAX_TIMEOUT)?;
        let metrics_listen = cli.metrics_listen.as_deref().map(parse_metrics_address).transpose()?;
        if cli.queue_bytes < cli.max_frame {
            return Err(ConfigError::QueueSmallerThanFrame { queue_bytes: cli.queue_bytes, max_frame: cli.max_frame });
        }
        let memory_budget = match cli.memory_budget {
            Some(0) => return Err(ConfigError::Zero { flag: "--memory-budget" }),
            Some(bytes) => bytes,
            // A derived default never goes below one frame of the maximum size.
            None => crate::server::budget::machine_default().max(cli.max_frame),
        };
        if memory_budget < cli.max_frame {
            return Err(ConfigError::BudgetSmallerThanFrame { budget: memory_budget, max_frame: cli.max_frame });
        }
        Ok(Config {
            socket: SocketConfig { path: cli.socket, mode: cli.socket_mode },
            workers,
            queue: QueueBound { max_jobs: cli.queue_jobs, max_bytes: cli.queue_bytes },
            max_frame,
            limits: Limits { max_pixels: cli.max_pixels, max_dimension: cli.max_dimension },
            shutdown_grace: cli.shutdown_grace,
            memory_budget,
            max_queue_wait: cli.max_queue_wait,
            max_job_time: cli.max_job_time,
            connections: ConnectionLimits {
                max_connections: cli.max_connections,
                frame_timeout: cli.frame_timeout,
                idle_timeout: cli.idle_timeout,
                reply_timeout: cli.reply_timeout,
            },
            log: LogConfig {
                format: match cli.log_format {
                    LogFormatArg::Auto => LogFormat::Auto,
                    LogFormatArg::Text => LogFormat::Text,
                    LogFormatArg::Json => LogFormat::Json,
                },
                filter: cli.log_level,
            },
            allowlist: PeerAllowlist { uids: cli.allow_uid, gids: cli.allow_gid },
            metrics_listen,
        })
    }
}

/// `unix:/path` or a socket address; a Unix path must fit `sun_path` like `--socket`.
fn parse_metrics_address(value: &str) -> Result<MetricsAddress, ConfigError> {
    let invalid = || ConfigError::MetricsAddress { value: value.to_string() };
    if let Some(path) = value.strip_prefix("unix:") {
        if path.is_empty() || path.len() > MAX_SOCKET_PATH {
            return Err(invalid());
        }
        return Ok(MetricsAddress::Unix(PathBuf::from(path)));
    }
    value.parse().map(MetricsAddress::Tcp).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        let argv = std::iter::once("ferryd").chain(args.iter().copied());
        Config::from_cli(Cli::try_parse_from(argv).unwrap())
    }

    #[test]
    fn defaults_are_valid() {
        let c = config(&[]).unwrap();
        assert_eq!(c.max_frame, 128 << 20);
        assert_eq!(c.queue, QueueBound { max_jobs: 64, max_bytes: 256 << 20 });
        assert_eq!(c.limits, Limits::default());
        assert!(c.workers >= 1);
        assert!(!c.allowlist.is_restricted(), "any peer by default");
    }

    #[test]
    fn allowlists_are_comma_lists() {
        let c = config(&["--allow-uid", "0,1000", "--allow-gid", "65534"]).unwrap();
        assert_eq!(c.allowlist, PeerAllowlist { uids: vec![0, 1000], gids: vec![65534] });
        let argv = ["ferryd", "--allow-uid", "root"];
        assert!(Cli::try_parse_from(argv).is_err(), "names are not uids");
    }

    #[test]
    fn refusals_name_the_flag() {
        let long = format!("/tmp/{}", "x".repeat(110));
        assert!(matches!(config(&["--socket", &long]), Err(ConfigError::SocketPathTooLong { .. })));
        assert_eq!(config(&["--workers", "0"]), Err(ConfigError::Zero { flag: "--workers" }));
        assert_eq!(config(&["--queue-jobs", "0"]), Err(ConfigError::Zero { flag: "--queue-jobs" }));
        assert_eq!(config(&["--socket-mode", "7777"]), Err(ConfigError::SocketMode { mode: 0o7777 }));
        assert_eq!(
            config(&["--max-frame", "4GiB", "--queue-bytes", "8GiB"]),
            Err(ConfigError::MaxFrameTooLarge { value: 4 << 30 })
        );
        let err = config(&["--queue-bytes", "64MiB"]).unwrap_err();
        assert!(err.to_string().contains("--queue-bytes 67108864 is smaller than --max-frame 134217728"), "{err}");
        assert!(config(&["--queue-bytes", "64MiB", "--max-frame", "64MiB"]).is_ok());
        let err = config(&["--memory-budget", "64MiB"]).unwrap_err();
        assert_eq!(err, ConfigError::BudgetSmallerThanFrame { budget: 64 << 20, max_frame: 128 << 20 });
        assert_eq!(config(&["--memory-budget", "1GiB"]).unwrap().memory_budget, 1 << 30);
        assert_eq!(config(&["--max-connections", "0"]), Err(ConfigError::Zero { flag: "--max-connections" }));
        assert_eq!(config(&["--max-job-time", "0"]), Err(ConfigError::Zero { flag: "--max-job-time" }));
        assert!(matches!(config(&["--metrics-listen", "localhost"]), Err(ConfigError::MetricsAddress { .. })));
    }

    #[test]
    fn ranges_are_checked_and_named() {
        let err = config(&["--workers", "100000"]).unwrap_err();
        assert_eq!(err.to_string(), "--workers 100000 is outside 1..=1024");
        assert!(config(&["--workers", "1024"]).is_ok());
        for (flag, value) in [
            ("--frame-timeout", "0"),
            ("--frame-timeout", "1ms"),
            ("--idle-timeout", "0.05"),
            ("--reply-timeout", "0"),
            ("--shutdown-grace", "0"),
            ("--max-queue-wait", "0"),
            ("--frame-timeout", "100000"),
            ("--queue-jobs", "2000000"),
            ("--max-connections", "2000000"),
            ("--max-frame", "100"),
        ] {
            let err = config(&[flag, value]).unwrap_err();
            assert!(matches!(err, ConfigError::OutOfRange { flag: f, .. } if f == flag), "{flag} {value}: {err}");
        }
        assert!(config(&["--frame-timeout", "0.1", "--max-queue-wait", "1ms", "--shutdown-grace", "0.2"]).is_ok());
        let err = config(&["--frame-timeout", "0"]).unwrap_err();
        assert_eq!(err.keys(), ["frame_timeout"]);
        assert!(err.to_string().contains("--frame-timeout 0ns is outside 100ms..=86400s"), "{err}");
    }

    #[test]
    fn metrics_addresses() {
        assert_eq!(config(&[]).unwrap().metrics_listen, None);
        let unix = config(&["--metrics-listen", "unix:/run/ferry/metrics.sock"]).unwrap().metrics_listen;
        assert_eq!(unix, Some(MetricsAddress::Unix("/run/ferry/metrics.sock".into())));
        let tcp = config(&["--metrics-listen", "127.0.0.1:9464"]).unwrap().metrics_listen.unwrap();
        assert_eq!(tcp.to_string(), "127.0.0.1:9464");
        assert!(config(&["--metrics-listen", "unix:"]).is_err());
    }
}
