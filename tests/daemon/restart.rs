//! Upgrades and restarts: clients of any v1 vintage against this daemon, this build's client
//! against a daemon that sends keys it does not know, and restarts under load through a held
//! listening socket (what systemd's ferryd.socket does) losing no request.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmpv::Value;

use crate::harness::{bin, painted, request, short_tempdir, strs, Client, Daemon, FERRYD};

#[test]
fn old_and_new_clients_work_within_v1() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    // An old client: no hello at all, only the fields of the first v1.
    client.expect_alive(1);
    // A newer client: offers a future version and sends keys this daemon has never heard of.
    let versions = Value::Array(vec![1.into(), 2.into(), 7.into()]);
    let hello = client.call(&request(
        2,
        "hello",
        vec![("versions", versions), ("client", "ferry-go/9.0".into()), ("features", strs(&["zstd"]))],
    ));
    assert_eq!(hello.expect_ok().uint("version"), 1);
    let checksum = client.call(&request(
        3,
        "checksum",
        vec![("data", bin(&painted(100))), ("algorithms", strs(&["crc32c"])), ("priority", "high".into())],
    ));
    checksum.expect_ok();
    // A client that speaks only a future version is told so, and the connection stays usable.
    let future = client.call(&request(4, "hello", vec![("versions", Value::Array(vec![2.into()]))]));
    future.expect_code(2);
    client.expect_alive(5);
}

/// A fake daemon that answers every request `ok` with `fields` plus keys no build knows.
fn fake_daemon_with_future_keys(listener: UnixListener, replies: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        for _ in 0..replies {
            let mut prefix = [0u8; 4];
            stream.read_exact(&mut prefix).unwrap();
            let mut body = vec![0; u32::from_be_bytes(prefix) as usize];
            stream.read_exact(&mut body).unwrap();
            let request = rmpv::decode::read_value(&mut &body[..]).unwrap();
            let get = |key: &str| request.as_map().unwrap().iter().find(|(k, _)| k.as_str() == Some(key)).unwrap().1.clone();
            let mut pairs = vec![("id".into(), get("id")), ("ok".into(), true.into())];
            if get("op").as_str() == Some("hello") {
                pairs.push(("version".into(), 1.into()));
                pairs.push(("server".into(), "ferryd 9.9.9".into()));
            }
            pairs.push(("future_counter".into(), 42.into()));
            pairs.push(("future_map".into(), Value::Map(vec![("a".into(), Value::Array(vec![1.into()]))])));
            let mut reply = Vec::new();
            rmpv::encode::write_value(&mut reply, &Value::Map(pairs)).unwrap();
            stream.write_all(&(reply.len() as u32).to_be_bytes()).unwrap();
            stream.write_all(&reply).unwrap();
        }
    })
}

#[test]
fn this_builds_client_ignores_reply_keys_it_does_not_know() {
    let dir = short_tempdir();
    let path = dir.path().join("new.sock");
    let fake = fake_daemon_with_future_keys(UnixListener::bind(&path).unwrap(), 2);
    let health = Command::new(FERRYD).args(["--socket", path.to_str().unwrap(), "health"]).output().unwrap();
    assert!(health.status.success(), "{}", String::from_utf8_lossy(&health.stderr));
    assert!(String::from_utf8_lossy(&health.stdout).contains("ferryd 9.9.9"));
    fake.join().unwrap();
    std::fs::remove_file(&path).unwrap();
    let fake = fake_daemon_with_future_keys(UnixListener::bind(&path).unwrap(), 1);
    let stats = Command::new(FERRYD).args(["--socket", path.to_str().unwrap(), "stats", "--json"]).output().unwrap();
    assert!(stats.status.success(), "{}", String::from_utf8_lossy(&stats.stderr));
    let json: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(json["future_counter"], 42);
    fake.join().unwrap();
}

/// Starts ferryd on the listening socket `listener` as systemd would pass it (fd 3,
/// LISTEN_FDS=1, LISTEN_PID = its pid), the same socket every time.
fn start_activated(listener: &UnixListener, dir: &std::path::Path) -> Daemon {
    let fd = listener.as_raw_fd();
    let mut command = Command::new("sh");
    command.args(["-c", r#"LISTEN_PID=$$ exec "$0" "$@""#, FERRYD]).env("LISTEN_FDS", "1");
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let rc = if fd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(fd, 3) };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // --socket names the held path: were activation ignored, binding it would fail (it is live).
    let path = listener.local_addr().unwrap().as_pathname().unwrap().to_path_buf();
    Daemon::spawn(command, &path, dir, &["--workers", "2", "--shutdown-grace", "10"])
}

/// What happened to the load generator's requests.
#[derive(Default)]
struct Tally {
    /// Answered `ok` on the first attempt.
    first_try: AtomicU64,
    /// Answered `ok` on the single retry (after `shutting_down` or a connection closed first).
    retried: AtomicU64,
    /// Not answered `ok` after the retry, or any other error: must stay 0.
    failed: AtomicU64,
    /// Slowest successful request, microseconds (including a retry).
    slowest_us: AtomicU64,
}

/// One attempt: `Ok(true)` answered ok, `Ok(false)` retryable (shutting_down, or the connection
/// ended before the reply), `Err` anything else.
fn attempt(stream: &mut Option<UnixStream>, path: &std::path::Path, id: u64, body: &[u8]) -> Result<bool, String> {
    if stream.is_none() {
        let connected = UnixStream::connect(path).map_err(|e| format!("connect: {e}"))?;
        connected.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        *stream = Some(connected);
    }
    let s = stream.as_mut().unwrap();
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    let closed = |e: &std::io::Error| {
        matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof)
    };
    if let Err(e) = s.write_all(&frame) {
        return if closed(&e) { Ok(false) } else { Err(format!("write: {e}")) };
    }
    let mut prefix = [0u8; 4];
    if let Err(e) = s.read_exact(&mut prefix) {
        return if closed(&e) { Ok(false) } else { Err(format!("read: {e}")) };
    }
    let mut reply = vec![0u8; u32::from_be_bytes(prefix) as usize];
    s.read_exact(&mut reply).map_err(|e| format!("read body: {e}"))?;
    let reply = rmpv::decode::read_value(&mut &reply[..]).map_err(|e| e.to_string())?;
    let get = |key: &str| reply.as_map().and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v.clone()));
    if get("id").and_then(|v| v.as_u64()) != Some(id) {
        return Err(format!("reply for another id: {reply}"));
    }
    match (get("ok").and_then(|v| v.as_bool()), get("code").and_then(|v| v.as_u64())) {
        (Some(true), _) => Ok(true),
        (Some(false), Some(11)) => Ok(false),
        _ => Err(format!("error reply: {reply}")),
    }
}

/// Sends requests until `stop`, each on the connection of the previous one (a fresh connection
/// every `per_connection` requests, or after the daemon closed it), retrying once.
fn load(path: std::path::PathBuf, worker: u64, per_connection: u64, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let data = painted(64 * 1024);
    let mut stream: Option<UnixStream> = None;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let id = worker << 32 | n;
        let body = if n % 2 == 0 {
            request(id, "checksum", vec![("data", bin(&data)), ("algorithms", strs(&["sha256"]))])
        } else {
            request(id, "ping", vec![])
        };
        let started = Instant::now();
        let outcome = match attempt(&mut stream, &path, id, &body) {
            Ok(true) => Ok(true),
            Ok(false) => {
                stream = None;
                attempt(&mut stream, &path, id, &body).map(|ok| ok.then_some(false))
                    .and_then(|ok| ok.ok_or_else(|| "still shutting_down or closed on the retry".to_string()))
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(first) => {
                let counter = if first { &tally.first_try } else { &tally.retried };
                counter.fetch_add(1, Ordering::Relaxed);
                tally.slowest_us.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            Err(why) => {
                eprintln!("request {id} failed: {why}");
                tally.failed.fetch_add(1, Ordering::Relaxed);
                stream = None;
            }
        }
        if n % per_connection == 0 {
            stream = None;
        }
    }
}

#[test]
fn restarts_under_load_lose_no_request() {
    let dir = short_tempdir();
    let path = dir.path().join("held.sock");
    // The supervisor's socket: open for the whole test, as ferryd.socket is for systemd.
    let listener = UnixListener::bind(&path).unwrap();
    let mut daemon = start_activated(&listener, dir.path());
    Client::connect(&path).expect_alive(1);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    // Four clients: two on long-lived connections, two on a new connection every few requests.
    let clients: Vec<_> = [(1, 1_000_000), (2, 1_000_000), (3, 1), (4, 5)]
        .into_iter()
        .map(|(worker, per)| {
            let (path, stop, tally) = (path.clone(), Arc::clone(&stop), Arc::clone(&tally));
            std::thread::spawn(move || load(path, worker, per, stop, tally))
        })
        .collect();
    const RESTARTS: usize = 3;
    let mut gaps = Vec::new();
    for _ in 0..RESTARTS {
        std::thread::sleep(Duration::from_millis(700));
        let stopping = Instant::now();
        assert_eq!(daemon.terminate().code(), Some(0), "log:\n{}", daemon.log());
        // Restart=: a new process on the same socket. Meanwhile connections wait in its backlog.
        daemon = start_activated(&listener, dir.path());
        gaps.push(stopping.elapsed());
    }
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let (first, retried, failed) =
        (tally.first_try.load(Ordering::Relaxed), tally.retried.load(Ordering::Relaxed), tally.failed.load(Ordering::Relaxed));
    eprintln!(
        "restart under load: {RESTARTS} restarts, {} requests ok ({first} first try, {retried} after one retry), \
         {failed} failed; slowest {} ms; stop-to-restart gaps {gaps:?}",
        first + retried,
        tally.slowest_us.load(Ordering::Relaxed) / 1000
    );
    assert_eq!(failed, 0, "requests lost across restarts");
    assert!(first + retried > 200, "too little load to mean anything: {}", first + retried);
    // The last daemon serves and stops cleanly; the socket file stays with its owner.
    Client::connect(&path).expect_alive(1);
    assert!(daemon.terminate().success());
    assert!(path.exists());
}
