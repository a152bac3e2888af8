//! `ferryd health`: connect, `hello` (the daemon speaks our protocol version), `ping` (the
//! connection loop answers). Exit 0 with one line on stdout, or 1 with the reason on stderr.
//! A daemon that is draining answers `shutting_down` and so is reported unhealthy: it should
//! get no new traffic.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::client::{chain, Client, ClientError};

/// Probes the daemon at `socket`; the whole probe is bounded by `timeout` per step.
pub fn run(socket: &Path, timeout: Duration) -> ExitCode {
    let started = Instant::now();
    match probe(socket, timeout) {
        Ok(server) => {
            println!("ok: {server} at {} answered in {:.1} ms", socket.display(), started.elapsed().as_secs_f64() * 1e3);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ferryd health: unhealthy: {}", chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// `hello` then `ping`; the daemon's name and version.
pub fn probe(socket: &Path, timeout: Duration) -> Result<String, ClientError> {
    let mut client = Client::connect(socket, timeout)?;
    let hello = client.hello("ferryd health")?;
    client.call("ping", vec![])?;
    let server = hello.iter().find(|(key, _)| key == "server").and_then(|(_, v)| v.as_str().map(String::from));
    Ok(server.unwrap_or_else(|| "ferryd".into()))
}
