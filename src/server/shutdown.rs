//! Shutdown signals. The first SIGTERM or SIGINT begins a graceful shutdown (SPEC.md section 8);
//! a second one cuts the grace period short.

use std::io;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// The installed SIGTERM and SIGINT handlers. Install them before the socket is listening, so
/// that a signal arriving during start-up is handled rather than killing the process.
#[derive(Debug)]
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> io::Result<Self> {
        Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    /// Waits for the next SIGTERM or SIGINT and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
