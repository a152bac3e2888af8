//! Readiness notifications for systemd `Type=notify` services: a datagram to `NOTIFY_SOCKET`.
//! A handful of lines of std instead of a dependency; a no-op when the variable is unset.
//! (Socket activation, the other half of systemd integration, is in [`super::listener`].)

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends state changes (`READY=1`, `STOPPING=1`) to the service manager, if there is one.
#[derive(Clone, Debug)]
pub struct Notifier {
    target: Option<SocketAddr>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`: a path, or `@name` for an abstract socket.
    pub fn from_env() -> Self {
        let Some(value) = std::env::var_os("NOTIFY_SOCKET") else { return Notifier { target: None } };
        let bytes = value.as_encoded_bytes();
        let target = match bytes.strip_prefix(b"@") {
            Some(name) => SocketAddr::from_abstract_name(name),
            None => SocketAddr::from_pathname(&value),
        };
        match target {
            Ok(addr) => Notifier { target: Some(addr) },
            Err(error) => {
                tracing::warn!(%error, socket = ?value, "NOTIFY_SOCKET is not a usable address; not notifying");
                Notifier { target: None }
            }
        }
    }

    /// Sends `state` (newline-separated `KEY=value` lines). Failures are logged, not fatal: the
    /// daemon serves the same whether or not its manager hears about it.
    pub fn notify(&self, state: &str) {
        let Some(addr) = &self.target else { return };
        if let Err(error) = UnixDatagram::unbound().and_then(|socket| socket.send_to_addr(state.as_bytes(), addr)) {
            tracing::warn!(%error, state, "cannot notify the service manager");
        }
    }
}
