//! Starting the real `ferryd` binary on a socket in a short temporary directory, and a blocking
//! client that speaks raw frames to it.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rmpv::Value;

/// How long any single wait in these tests may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The binary cargo built for these tests.
pub const FERRYD: &str = env!("CARGO_BIN_EXE_ferryd");

/// A short temporary directory (socket paths must stay under 108 bytes).
pub fn short_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("fy").tempdir_in("/tmp").expect("create a temp dir in /tmp")
}

/// A running daemon, killed on drop if the test did not stop it.
pub struct Daemon {
    child: Option<Child>,
    /// The socket clients connect to.
    pub socket: PathBuf,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Starts `ferryd` on a fresh socket with `args` added, and waits until it answers.
    pub fn start(args: &[&str]) -> Daemon {
        let dir = short_tempdir();
        let socket = dir.path().join("f.sock");
        let mut daemon = Daemon::spawn(Command::new(FERRYD), &socket, dir.path(), args);
        daemon._dir = Some(dir);
        daemon.wait_ready();
        daemon
    }

    /// Spawns `command` (ferryd, or a wrapper that ends with ferryd's path) with
    /// `--socket socket` and `args` appended, logging to a file in `log_dir`; does not wait.
    pub fn spawn(mut command: Command, socket: &Path, log_dir: &Path, args: &[&str]) -> Daemon {
        let log = log_dir.join(format!("ferryd-{}.log", std::process::id()));
        let log_file = fs::OpenOptions::new().create(true).append(true).open(&log).expect("open the daemon log");
        // Variables that change the daemon's behaviour are cleared unless the test set them.
        for var in ["RUST_LOG", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "FERRYD_LOG_LEVEL"] {
            if !command.get_envs().any(|(key, _)| key == var) {
                command.env_remove(var);
            }
        }
        command.arg("--socket").arg(socket).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file);
        let child = command.spawn().expect("spawn ferryd");
        Daemon { child: Some(child), socket: socket.to_path_buf(), log, _dir: None }
    }

    /// Waits until a connection succeeds; fails the test if the daemon exits first.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("ferryd exited with {status} before listening; log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "ferryd did not listen on {} in time; log:\n{}",
                self.socket.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A new connection.
    pub fn connect(&self) -> Client {
        Client::connect(&self.socket)
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Sends a signal.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill with a pid of a child we own and have not reaped.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.pid());
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "ferryd did not exit in time; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `stats` on a fresh connection until `done` holds for the reply.
    pub fn wait_for_stats(&self, what: &str, done: impl Fn(&Reply) -> bool) -> Reply {
        let mut client = self.connect();
        let deadline = Instant::now() + PATIENCE;
        let mut id = 1_000_000;
        loop {
            id += 1;
            let stats = client.call(&request(id, "stats", vec![]));
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "stats never showed {what}; last: {stats:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Builds a request map: `id`, `op`, then `fields`.
pub fn request(id: u64, op: &str, fields: Vec<(&str, Value)>) -> Vec<u8> {
    let mut pairs = vec![(Value::from("id"), Value::from(id)), (Value::from("op"), Value::from(op))];
    pairs.extend(fields.into_iter().map(|(k, v)| (Value::from(k), v)));
    let mut body = Vec::new();
    rmpv::encode::write_value(&mut body, &Value::Map(pairs)).unwrap();
    body
}

/// A `bin` value.
pub fn bin(bytes: &[u8]) -> Value {
    Value::Binary(bytes.to_vec())
}

/// An array of strings.
pub fn strs(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

/// Input painted as the checksum vectors define it: byte i = i mod 251.
pub fn painted(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A resize request that keeps one worker busy for roughly half a second or more, from a small
/// input (so that sending it is instant), and that notices a cancel or a deadline within a band
/// of rows. `extra` fields are added to the request.
pub fn slow_job(id: u64, extra: Vec<(&str, Value)>) -> Vec<u8> {
    let mut fields = vec![("image", bin(slow_png())), ("width", Value::from(64))];
    fields.extend(extra);
    request(id, "resize", fields)
}

/// How long [`slow_job`] should take, at least, on one worker of the daemon under test.
pub const SLOW_JOB: Duration = Duration::from_millis(500);

/// A flat translucent grey PNG (compresses to almost nothing, decodes to many pixels), sized once per test
/// run so that resizing it takes at least [`SLOW_JOB`] on this machine and this build.
pub fn slow_png() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(|| {
        let daemon = Daemon::start(&["--workers", "1"]);
        let mut client = daemon.connect();
        let mut side = 1024u32;
        loop {
            let png = flat_png(side);
            let started = Instant::now();
            let body = request(1, "resize", vec![("image", bin(&png)), ("width", Value::from(64))]);
            client.call(&body).expect_ok();
            let took = started.elapsed();
            if took >= SLOW_JOB || side >= 8192 {
                return png;
            }
            // Work grows with the pixel count; aim past the target.
            let scale = (SLOW_JOB.as_secs_f64() * 1.5 / took.as_secs_f64()).sqrt().clamp(1.2, 4.0);
            side = ((side as f64 * scale) as u32).min(8192);
        }
    })
}

/// A `side` x `side` PNG of one translucent grey. Translucent so that the daemon decodes it at
/// full size and premultiplies it (an opaque one is shrunk as it is decoded and costs little).
pub fn flat_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = [128u8, 128, 128, 200].repeat((side * side) as usize);
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// A decoded reply.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply(pub Value);

impl Reply {
    /// A field, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.as_map().expect("a reply is a map").iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// An unsigned field, which must be present.
    pub fn uint(&self, key: &str) -> u64 {
        self.get(key).and_then(Value::as_u64).unwrap_or_else(|| panic!("reply has no uint {key}: {self:?}"))
    }

    /// The reply's id.
    pub fn id(&self) -> u64 {
        self.uint("id")
    }

    /// Whether it is a success.
    pub fn ok(&self) -> bool {
        self.get("ok").and_then(Value::as_bool).expect("reply has ok")
    }

    /// The error code, or `None` for a success.
    pub fn code(&self) -> Option<u64> {
        if self.ok() {
            None
        } else {
            Some(self.uint("code"))
        }
    }

    /// Asserts success and returns self.
    pub fn expect_ok(self) -> Self {
        assert!(self.ok(), "expected success, got {self:?}");
        self
    }

    /// Asserts an error with `code` and returns self.
    pub fn expect_code(self, code: u64) -> Self {
        assert_eq!(self.code(), Some(code), "expected error code {code}, got {self:?}");
        self
    }
}

/// A blocking client speaking raw frames.
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Asks `stats` (as request `id`) until it counts `n` connections, or PATIENCE is spent;
    /// returns the last reply and how many asks it took. The daemon reaps a closed connection
    /// asynchronously (the start-up probe of [`Daemon::wait_ready`], a client just dropped), so
    /// a count right after a close may still include it.
    pub fn stats_once_connections_are(&mut self, id: u64, n: u64) -> (Reply, u64) {
        let started = Instant::now();
        let mut asks = 0;
        loop {
            asks += 1;
            let stats = self.call(&request(id, "stats", vec![]));
            if stats.uint("connections") == n || started.elapsed() > PATIENCE {
                return (stats, asks);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Connects to `socket`.
    pub fn connect(socket: &Path) -> Client {
        let stream = UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        Client { stream }
    }

    /// Writes bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to ferryd");
    }

    /// Writes one whole frame in one `sendmsg` with `fds` attached as one `SCM_RIGHTS` message
    /// (how a client passes a file to `checksum_file` / `resize_file`).
    pub fn send_with_fds(&mut self, body: &[u8], fds: &[std::os::fd::RawFd]) {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body);
        self.send_raw_with_fds(&frame, fds);
    }

    /// Writes `bytes` (any part of the stream) with `fds` attached to the first `sendmsg` as one
    /// `SCM_RIGHTS` message; what that call did not take follows in plain writes.
    pub fn send_raw_with_fds(&mut self, bytes: &[u8], fds: &[std::os::fd::RawFd]) {
        use std::os::fd::AsRawFd;
        let payload = std::mem::size_of_val(fds) as u32;
        // SAFETY: CMSG_SPACE is pure arithmetic.
        let space = unsafe { libc::CMSG_SPACE(payload) } as usize;
        let mut control = vec![0u64; space.div_ceil(8)];
        let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut _, iov_len: bytes.len() };
        // SAFETY: the msghdr points at `iov`, `bytes` and `control`, all alive across the call
        // (sendmsg only reads the iovec's bytes); the cmsg is written inside `control`, which
        // CMSG_SPACE sized.
        let sent = unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(payload) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast(), fds.len());
            libc::sendmsg(self.stream.as_raw_fd(), &msg, 0)
        };
        assert!(sent >= 0, "sendmsg: {}", std::io::Error::last_os_error());
        let sent = sent as usize;
        if sent < bytes.len() {
            self.send_raw(&bytes[sent..]);
        }
    }

    /// Writes one frame: the length prefix, then `body`.
    pub fn send(&mut self, body: &[u8]) {
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(body);
        self.send_raw(&frame);
    }

    /// Reads one whole frame; `None` at a clean end of stream.
    pub fn recv_frame(&mut self) -> Option<Vec<u8>> {
        let mut prefix = [0u8; 4];
        match self.stream.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof || e.kind() == ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("reading a reply: {e}"),
        }
        let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
        self.stream.read_exact(&mut body).expect("a reply's body");
        let mut frame = prefix.to_vec();
        frame.extend_from_slice(&body);
        Some(frame)
    }

    /// Reads and decodes one reply; fails the test at end of stream.
    pub fn recv(&mut self) -> Reply {
        let frame = self.recv_frame().expect("a reply, not end of stream");
        let mut body = &frame[4..];
        let value = rmpv::decode::read_value(&mut body).expect("a reply is MessagePack");
        assert!(body.is_empty(), "bytes after the reply's value");
        Reply(value)
    }

    /// Sends a request body and reads the next reply.
    pub fn call(&mut self, body: &[u8]) -> Reply {
        self.send(body);
        self.recv()
    }

    /// Asserts that the daemon closes the connection with nothing more to say.
    pub fn expect_eof(&mut self) {
        if let Some(frame) = self.recv_frame() {
            panic!("expected end of stream, got a frame: {}", hex::encode(&frame[..frame.len().min(200)]));
        }
    }

    /// Asserts that the connection is still served: a ping is answered, and is the next reply.
    pub fn expect_alive(&mut self, id: u64) {
        let reply = self.call(&request(id, "ping", vec![]));
        assert_eq!((reply.id(), reply.ok()), (id, true), "ping after the previous reply: {reply:?}");
    }

    /// Closes the writing side: the daemon sees end of stream, replies can still arrive.
    pub fn shutdown_write(&mut self) {
        self.stream.shutdown(std::net::Shutdown::Write).unwrap();
    }
}

/// Reads a JSON vector file from protocol/vectors.
pub fn vectors(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/vectors").join(name);
    serde_json::from_str(&fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))).unwrap()
}

/// Reads a sample photo from tests/data/photos.
pub fn photo(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/photos").join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Error codes, as SPEC.md section 6 numbers them (written out here, not taken from the crate,
/// so that a change on either side shows up).
pub mod code {
    pub const MALFORMED: u64 = 1;
    pub const UNSUPPORTED_VERSION: u64 = 2;
    pub const UNKNOWN_OP: u64 = 3;
    pub const INVALID_ARGUMENT: u64 = 4;
    pub const FRAME_TOO_LARGE: u64 = 5;
    pub const DEADLINE_EXCEEDED: u64 = 8;
    pub const CANCELLED: u64 = 9;
    pub const BUSY: u64 = 10;
    pub const SHUTTING_DOWN: u64 = 11;
    pub const TOO_LARGE_FOR_BUDGET: u64 = 13;
    pub const BAD_FILE: u64 = 15;
}
