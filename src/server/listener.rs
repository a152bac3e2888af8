//! The listening socket: bound to `--socket`, or handed over by systemd (socket activation).
//!
//! Binding is careful about the path it takes over:
//! - a path that exists and is not a socket is never removed;
//! - a socket file that accepts a connection belongs to a live daemon: ferryd refuses to start;
//! - a socket file that refuses connections (`ECONNREFUSED`) was left by a daemon that died: it
//!   is removed and replaced;
//! - the new socket is created under a umask that yields `--socket-mode` directly (no moment
//!   with wider permissions), then set to that mode explicitly;
//! - on shutdown the file is removed only if it is still the one this daemon created (same
//!   device and inode), so a successor that already took the path keeps its socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use crate::config::SocketConfig;

/// The first file descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

/// Why the daemon could not get a listening socket.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Another process accepts connections on the path.
    #[error("{path} is in use by a running daemon (a connection to it succeeded); stop that daemon or choose another --socket")]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// The path exists and is something else than a socket.
    #[error("{path} exists and is not a socket; refusing to replace it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// Looking at the existing path failed.
    #[error("cannot inspect {path}")]
    Inspect {
        /// The path.
        path: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Connecting to the existing socket failed in a way that says neither live nor stale.
    #[error("cannot tell whether {path} belongs to a running daemon")]
    Probe {
        /// The path.
        path: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Removing a stale socket file failed.
    #[error("cannot remove the stale socket file {path}")]
    RemoveStale {
        /// The path.
        path: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The socket's directory does not exist and cannot be created.
    #[error("cannot create the socket directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// `bind` failed.
    #[error("cannot listen on {path}")]
    Bind {
        /// The path.
        path: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// Setting the socket file's mode failed.
    #[error("cannot set mode {mode:o} on {path}")]
    SetMode {
        /// The path.
        path: PathBuf,
        /// The requested mode.
        mode: u32,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The descriptor systemd passed is not a listening Unix stream socket.
    #[error("LISTEN_FDS is set but file descriptor 3 is not a listening Unix socket (use ListenStream=/path in the .socket unit)")]
    NotAUnixListener {
        /// What checking it said.
        #[source]
        source: io::Error,
    },
    /// Registering the socket with the runtime failed.
    #[error("cannot register the listening socket with the runtime")]
    Register {
        /// The system error.
        #[source]
        source: io::Error,
    },
}

/// A listening socket and, when this daemon created its file, that file.
#[derive(Debug)]
pub struct Listener {
    inner: UnixListener,
    origin: Origin,
}

/// Where the listening socket came from.
#[derive(Debug)]
enum Origin {
    /// Bound here; the file is ours to remove.
    Bound(SocketFile),
    /// Passed by systemd, which owns the file.
    Activated,
}

/// A socket file this daemon created, identified by device and inode.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// Removes the file if it is still the one created at bind time.
    pub fn remove(self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => match std::fs::remove_file(&self.path) {
                Ok(()) => tracing::info!(path = %self.path.display(), "socket file removed"),
                Err(error) => tracing::warn!(path = %self.path.display(), %error, "cannot remove the socket file"),
            },
            Ok(_) => {
                tracing::info!(path = %self.path.display(), "socket file now belongs to another daemon; left in place")
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(path = %self.path.display(), %error, "cannot inspect the socket file"),
        }
    }
}

impl Listener {
    /// Accepts the next connection.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        self.inner.accept().await.map(|(stream, _)| stream)
    }

    /// Where clients connect, for the log.
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Bound(file) => file.path.display().to_string(),
            Origin::Activated => match self.inner.local_addr() {
                Ok(addr) => match addr.as_pathname() {
                    Some(path) => format!("{} (from systemd)", path.display()),
                    None => "an unnamed socket from systemd".to_string(),
                },
                Err(_) => "a socket from systemd".to_string(),
            },
        }
    }

    /// Stops listening (new connections are refused from here on) and returns the socket file
    /// to remove once the daemon is done, if this daemon created it.
    pub fn close(self) -> Option<SocketFile> {
        match self.origin {
            Origin::Bound(file) => Some(file),
            Origin::Activated => None,
        }
    }
}

/// `FileDescriptorName=` of the socket that serves metrics (ferryd-metrics.socket); every other
/// passed socket is a client socket.
pub const METRICS_FD_NAME: &str = "metrics";

/// The descriptors systemd passed with their names (`LISTEN_FDNAMES`, `unknown` when unnamed),
/// if this process was socket-activated (`LISTEN_PID` is our pid and `LISTEN_FDS` at least 1).
pub fn activated_fds() -> Vec<(i32, String)> {
    let ours =
        std::env::var("LISTEN_PID").ok().and_then(|pid| pid.trim().parse::<u32>().ok()) == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS").ok().and_then(|n| n.trim().parse::<i32>().ok()).unwrap_or(0);
    if !ours || count <= 0 {
        return Vec::new();
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':').map(String::from);
    (LISTEN_FDS_START..LISTEN_FDS_START + count)
        .map(|fd| (fd, names.next().filter(|n| !n.is_empty()).unwrap_or_else(|| "unknown".into())))
        .collect()
}

/// The client socket systemd passed, if this process was socket-activated: the first
/// descriptor not named [`METRICS_FD_NAME`].
pub fn from_activation() -> Result<Option<Listener>, ListenError> {
    let passed = activated_fds();
    let mut clients = passed.iter().filter(|(_, name)| name != METRICS_FD_NAME);
    let Some(&(fd, _)) = clients.next() else { return Ok(None) };
    if clients.next().is_some() {
        tracing::warn!(count = passed.len(), fd, "systemd passed several client sockets; serving only the first");
    }
    check_listening(fd).map_err(|source| ListenError::NotAUnixListener { source })?;
    // SAFETY: systemd hands descriptors from 3 on to the process named by LISTEN_PID, which is
    // this one; nothing else in the process owns or closes this one.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
    std_listener.local_addr().map_err(|source| ListenError::NotAUnixListener { source })?;
    // SAFETY: fcntl on a descriptor we own; FD_CLOEXEC keeps it out of any child process.
    unsafe { libc::fcntl(std_listener.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    let inner = register(std_listener)?;
    Ok(Some(Listener { inner, origin: Origin::Activated }))
}

/// Binds `config.path` with `config.mode`, replacing a stale socket file.
pub fn bind(config: &SocketConfig) -> Result<Listener, ListenError> {
    let path = &config.path;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::create_dir_all(dir).map_err(|source| ListenError::CreateDir { path: dir.to_path_buf(), source })?;
    }
    clear_stale(path)?;
    let std_listener = with_umask(!config.mode & 0o777, || std::os::unix::net::UnixListener::bind(path))
        .map_err(|source| ListenError::Bind { path: path.clone(), source })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(config.mode))
        .map_err(|source| ListenError::SetMode { path: path.clone(), mode: config.mode, source })?;
    let meta = std::fs::symlink_metadata(path).map_err(|source| ListenError::Inspect { path: path.clone(), source })?;
    let inner = register(std_listener)?;
    Ok(Listener { inner, origin: Origin::Bound(SocketFile { path: path.clone(), dev: meta.dev(), ino: meta.ino() }) })
}

/// Removes a socket file nobody listens on; refuses a live one or a non-socket.
fn clear_stale(path: &Path) -> Result<(), ListenError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(ListenError::Inspect { path: path.to_path_buf(), source }),
    };
    if !meta.file_type().is_socket() {
        return Err(ListenError::NotASocket { path: path.to_path_buf() });
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ListenError::InUse { path: path.to_path_buf() }),
        // A full accept backlog also means someone is listening.
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Err(ListenError::InUse { path: path.to_path_buf() }),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(ListenError::RemoveStale { path: path.to_path_buf(), source }),
            }
            tracing::info!(path = %path.display(), "replaced a stale socket file (nothing was listening on it)");
            Ok(())
        }
        Err(source) => Err(ListenError::Probe { path: path.to_path_buf(), source }),
    }
}

/// Runs `f` with the process umask set to `mask`, then restores it. The umask is process-wide;
/// this runs once at start-up, before any other thread creates files.
pub(crate) fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: umask only swaps an integer in the process state; it cannot fail.
    let previous = unsafe { libc::umask(mask as libc::mode_t) };
    let result = f();
    // SAFETY: as above.
    unsafe { libc::umask(previous) };
    result
}

/// Checks that `fd` is a socket in the listening state (`SO_ACCEPTCONN`).
fn check_listening(fd: i32) -> io::Result<()> {
    let mut accepting: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `accepting`, which is that large.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut accepting as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if accepting == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the socket is not listening"));
    }
    Ok(())
}

fn register(listener: std::os::unix::net::UnixListener) -> Result<UnixListener, ListenError> {
    listener.set_nonblocking(true).map_err(|source| ListenError::Register { source })?;
    UnixListener::from_std(listener).map_err(|source| ListenError::Register { source })
}
