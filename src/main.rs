//! `ferryd`: flags, configuration, logging, worker pool and runtime; everything else is in the
//! library (see `src/lib.rs`).

use std::error::Error;
use std::process::ExitCode;

use ferryd::config::Config;
use ferryd::config_file::{self, LayerError};
use ferryd::cpu_pool::CpuPool;
use ferryd::{admin, allocator, server, telemetry};

fn main() -> ExitCode {
    let mut layered = match config_file::load(std::env::args_os()) {
        Ok(layered) => layered,
        // --help, --version and flag errors: clap prints them and picks the exit code.
        Err(LayerError::Flags(error)) => error.exit(),
        Err(error) => return fail(&error),
    };
    if let Some(command) = layered.cli.command.take() {
        return admin::run(&command, layered.cli, &layered.settings);
    }
    let config = match Config::from_layered(layered.cli, &layered.settings) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    allocator::configure();
    if let Err(error) = telemetry::init(&config.log) {
        return fail(&error);
    }
    #[cfg(feature = "fault-injection")]
    tracing::warn!("built with the fault-injection feature: jobs whose input starts with a magic string panic on purpose; a test build, never for production");
    let pool = match CpuPool::new(config.workers, config.queue) {
        Ok(pool) => pool,
        Err(error) => return fail(&error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("ferryd-io").build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    match runtime.block_on(server::serve(config, pool)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// Prints the error and its whole cause chain once, on one line, and picks the exit code.
fn fail(error: &dyn Error) -> ExitCode {
    let mut line = format!("ferryd: error: {error}");
    let mut cause = error.source();
    while let Some(inner) = cause {
        line.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    eprintln!("{line}");
    ExitCode::FAILURE
}
