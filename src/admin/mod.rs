//! The operator's subcommands: `ferryd health`, `ferryd stats`, `ferryd check-config`. The first
//! two speak the real protocol to a running daemon (the one at `--socket`, from the same flags,
//! variables and config file as the daemon), through [`client::Client`].
//!
//! # Layout
//! - [`client`]: a blocking protocol client with one deadline per call.
//! - [`health`]: `hello` then `ping`; exit 0 or 1 (a probe for systemd, Kubernetes, scripts).
//! - [`stats`]: the `stats` reply as aligned text or one JSON object.
//! - [`check_config`]: validates flags, variables and file, prints the effective settings.

pub mod check_config;
pub mod client;
pub mod health;
pub mod stats;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::cli::{parse_seconds, Cli};
use crate::config_file::Setting;

/// `ferryd` subcommands. Without one, `ferryd` runs the daemon.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exit 0 if the daemon at --socket answers, else 1 (a probe).
    ///
    /// Sends `hello` and `ping` on one connection, each answered within --timeout; otherwise
    /// prints why on stderr and exits 1. For liveness/readiness probes and scripts.
    Health(Timeout),
    /// Print the running daemon's counters.
    ///
    /// Every field of the `stats` reply, as aligned text or with --json as one JSON object.
    Stats(StatsArgs),
    /// Validate the configuration and print the effective settings.
    ///
    /// Checks flags, FERRYD_* variables and the --config file together as the daemon would;
    /// prints the settings as TOML, each with where it came from; exits 1 on the first problem.
    CheckConfig,
}

/// How long a subcommand waits for the daemon.
#[derive(Clone, Copy, Debug, Args)]
pub struct Timeout {
    /// Seconds to wait for the connection and every reply.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_seconds)]
    pub timeout: Duration,
}

/// `ferryd stats` flags.
#[derive(Clone, Copy, Debug, Args)]
pub struct StatsArgs {
    /// One JSON object on one line instead of aligned text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub wait: Timeout,
}

/// Runs `command` with the daemon settings in `cli` (and their origins, for `check-config`).
pub fn run(command: &Command, cli: Cli, settings: &[Setting]) -> ExitCode {
    match command {
        Command::Health(wait) => health::run(&cli.socket, wait.timeout),
        Command::Stats(args) => stats::run(&cli.socket, args.wait.timeout, args.json),
        Command::CheckConfig => check_config::run(cli, settings),
    }
}
