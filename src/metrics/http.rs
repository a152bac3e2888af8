//! The metrics listener: a minimal HTTP/1.1 responder on the daemon's tokio runtime, for one
//! path. Why not hyper: the whole job is "read a request head, answer `GET /metrics` with a
//! body, close", which is forty lines on tokio; hyper and its service stack would add a dozen
//! crates for it.
//!
//! Each connection gets one request and `Connection: close`. The head must arrive within
//! [`HEAD_TIMEOUT`] and fit [`MAX_HEAD`]; anything else is answered 400 and closed, so a slow
//! or hostile scraper cannot hold memory or tasks. `GET /metrics` is 200, any other path 404,
//! another method 405.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::config::MetricsAddress;

/// Longest request head read.
pub const MAX_HEAD: usize = 8 * 1024;

/// Time a scraper has to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The metrics listener could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for metrics on {address}")]
pub struct MetricsListenError {
    /// The address.
    pub address: MetricsAddress,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// A bound metrics listener.
pub enum MetricsListener {
    /// Loopback or any TCP address.
    Tcp(TcpListener),
    /// A Unix socket, and its file to remove at the end (empty: not ours to remove).
    Unix(UnixListener, PathBuf),
}

/// Binds `address`. A Unix socket file left by an earlier run is replaced (it is ours: the
/// path is given to this daemon alone); the new one gets `mode`, the main socket's
/// `--socket-mode`, under a umask that yields it directly, so whoever may use the daemon may
/// scrape it and nobody else (it was 0755 before: no scraper but root could connect).
///
/// A TCP listener has no such gate: every process that can reach the address can scrape, and
/// `--allow-uid`/`--allow-gid` do not apply. Loopback is every local user; anything else is
/// the network. Both are said in a warning at start.
pub async fn bind(address: &MetricsAddress, mode: u32) -> Result<MetricsListener, MetricsListenError> {
    let failed = |source| MetricsListenError { address: address.clone(), source };
    match address {
        MetricsAddress::Tcp(addr) => {
            let scope = if addr.ip().is_loopback() { "every local user" } else { "anyone who can reach this address" };
            tracing::warn!(address = %addr, "metrics over TCP can be scraped by {scope}; --allow-uid/--allow-gid do not apply to them (a unix: address gets the main socket's mode)");
            TcpListener::bind(addr).await.map(MetricsListener::Tcp).map_err(failed)
        }
        MetricsAddress::Unix(path) => {
            use std::os::unix::fs::PermissionsExt;
            remove_stale_socket(path);
            let listener = crate::server::listener::with_umask(!mode & 0o777, || std::os::unix::net::UnixListener::bind(path))
                .map_err(failed)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(failed)?;
            listener.set_nonblocking(true).map_err(failed)?;
            UnixListener::from_std(listener).map(|l| MetricsListener::Unix(l, path.clone())).map_err(failed)
        }
    }
}

/// The metrics socket systemd passed (named `metrics`, ferryd-metrics.socket), TCP or Unix.
/// Under the shipped unit this is how metrics reach the host network: the socket is created by
/// systemd outside the service's empty network namespace, so `PrivateNetwork=` and
/// `RestrictAddressFamilies=AF_UNIX` stay as they are.
pub fn from_activation() -> Result<Option<(MetricsListener, String)>, io::Error> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let passed = crate::server::listener::activated_fds();
    let Some((fd, _)) = passed.into_iter().find(|(_, name)| name == crate::server::listener::METRICS_FD_NAME) else {
        return Ok(None);
    };
    // SAFETY: a descriptor systemd passed to this process (LISTEN_PID), used by nothing else.
    let tcp = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    // SAFETY: fcntl on a descriptor we own; FD_CLOEXEC keeps it out of any child process.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    match tcp.local_addr() {
        Ok(addr) => {
            tcp.set_nonblocking(true)?;
            Ok(Some((MetricsListener::Tcp(TcpListener::from_std(tcp)?), format!("{addr} (from systemd)"))))
        }
        Err(_) => {
            // SAFETY: the same descriptor, handed from one owner to the next.
            let unix = unsafe { std::os::unix::net::UnixListener::from_raw_fd(tcp.into_raw_fd()) };
            let addr = unix.local_addr()?;
            unix.set_nonblocking(true)?;
            let path = addr.as_pathname().map(Path::to_path_buf).unwrap_or_default();
            let shown = format!("unix:{} (from systemd)", path.display());
            // The file belongs to the socket unit: an empty path is never removed.
            Ok(Some((MetricsListener::Unix(UnixListener::from_std(unix)?, PathBuf::new()), shown)))
        }
    }
}

fn remove_stale_socket(path: &Path) {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Serves scrapes until `stop` is cancelled, then removes a Unix socket file.
pub async fn serve(listener: MetricsListener, registry: Arc<Registry>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = accept(&listener) => accepted,
        };
        match accepted {
            Ok(Connection::Tcp(stream)) => {
                tokio::spawn(answer(stream, Arc::clone(&registry)));
            }
            Ok(Connection::Unix(stream)) => {
                tokio::spawn(answer(stream, Arc::clone(&registry)));
            }
            Err(error) => {
                tracing::warn!(%error, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    if let MetricsListener::Unix(_, path) = listener {
        if !path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }
}

enum Connection {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &MetricsListener) -> io::Result<Connection> {
    match listener {
        MetricsListener::Tcp(l) => l.accept().await.map(|(s, _)| Connection::Tcp(s)),
        MetricsListener::Unix(l, _) => l.accept().await.map(|(s, _)| Connection::Unix(s)),
    }
}

/// Reads one request head and writes one response.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, registry: Arc<Registry>) {
    let head = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await;
    let (status, content_type, body) = match head {
        Ok(Ok(head)) => route(&head, &registry),
        _ => ("400 Bad Request", "text/plain", "bad request\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if let Err(error) = stream.write_all(response.as_bytes()).await {
        tracing::debug!(%error, "metrics reply not sent");
    }
    let _ = stream.shutdown().await;
}

/// The status, content type and body for a request head.
fn route(head: &str, registry: &Registry) -> (&'static str, &'static str, String) {
    let mut words = head.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/metrics") => {
            ("200 OK", prometheus_client::encoding::prometheus_text::CONTENT_TYPE, super::render(registry))
        }
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "only /metrics is served here\n".into()),
        _ => ("405 Method Not Allowed", "text/plain", "use GET /metrics\n".into()),
    }
}

/// Reads until the blank line that ends an HTTP head, at most [`MAX_HEAD`] bytes.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<String> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "incomplete or oversized request head"));
        }
        head.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(head).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "request head is not UTF-8"))
}
