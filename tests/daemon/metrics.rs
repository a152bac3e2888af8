//! The metrics listener: scraped over HTTP on a Unix socket and on loopback TCP, parsed with
//! the Python prometheus_client reference parser (tests/ops/parse_metrics.py), and compared
//! with the `stats` reply it shares its counters with.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use rmpv::Value;

use crate::harness::{bin, code, painted, request, short_tempdir, slow_job, strs, Daemon};

/// Sends `GET path` over `stream` and returns the status line and the body.
fn get(mut stream: impl Read + Write, path: &str) -> (String, String) {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: ferryd\r\nAccept: text/plain\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// Parsed samples: (name, labels, value).
struct Scrape {
    families: serde_json::Map<String, serde_json::Value>,
    samples: Vec<(String, serde_json::Map<String, serde_json::Value>, f64)>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ops/parse_metrics.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3");
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("No module named 'prometheus_client'"),
            "the metrics test needs Python's prometheus-client (scripts/setup.sh installs it: \
             pip install -r protocol/gen/requirements.txt)"
        );
        assert!(out.status.success(), "the exposition parser refused the scrape: {stderr}\n{text}");
        let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let samples = parsed["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s[0].as_str().unwrap().to_string(), s[1].as_object().unwrap().clone(), s[2].as_f64().unwrap()))
            .collect();
        Scrape { families: parsed["families"].as_object().unwrap().clone(), samples }
    }

    /// The value of the sample `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).and_then(|x| x.as_str()) == Some(*v)))
            .map(|(_, _, v)| *v)
    }

    fn must(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
    }
}

/// Each `busy` reply's time from its frame read whole to the reply written lands in
/// `ferryd_busy_answer_seconds`, and nothing else does: SPEC.md 6.2 asks busy in milliseconds,
/// and this is the daemon's own share of it, apart from a client's queues.
#[test]
fn busy_answers_are_timed_from_frame_to_reply() {
    let dir = short_tempdir();
    let metrics_path = dir.path().join("m.sock");
    let listen = format!("unix:{}", metrics_path.display());
    let daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "1", "--metrics-listen", &listen]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    for id in 2..=4 {
        let body = request(id, "checksum", vec![("data", bin(&painted(1000))), ("algorithms", strs(&["crc32c"]))]);
        assert_eq!(client.call(&body).expect_code(code::BUSY).id(), id);
    }
    assert_eq!(client.recv().expect_ok().id(), 1);
    client.call(&request(5, "checksum", vec![("data", bin(b"x")), ("algorithms", strs(&["crc32c"]))])).expect_ok();

    let (_, body) = get(UnixStream::connect(&metrics_path).unwrap(), "/metrics");
    let scrape = Scrape::parse(&body);
    assert_eq!(scrape.families.get("ferryd_busy_answer_seconds").and_then(|t| t.as_str()), Some("histogram"), "{body}");
    assert_eq!(scrape.must("ferryd_busy_answer_seconds_count", &[]), 3.0, "{body}");
    // Three small refusals on an idle reactor: each well under a second, even on a loaded host.
    assert_eq!(scrape.must("ferryd_busy_answer_seconds_bucket", &[("le", "0.8192")]), 3.0, "{body}");
    assert!(scrape.must("ferryd_busy_answer_seconds_sum", &[]) < 2.4, "{body}");
}

#[test]
fn metrics_scrape_parses_and_agrees_with_stats() {
    let dir = short_tempdir();
    let metrics_path = dir.path().join("m.sock");
    let listen = format!("unix:{}", metrics_path.display());
    let daemon = Daemon::start(&["--workers", "2", "--metrics-listen", &listen]);
    let mut client = daemon.connect();
    for id in 1..=3 {
        let body = request(id, "checksum", vec![("data", bin(&painted(10_000))), ("algorithms", strs(&["crc32c"]))]);
        client.call(&body).expect_ok();
    }
    client.call(&request(4, "resize", vec![("image", bin(b"not an image")), ("width", 8.into())])).expect_code(6);
    client.send_raw(&[0, 0, 0, 1, 0xc1]);
    client.recv().expect_code(1);
    let stats = client.call(&request(5, "stats", vec![])).expect_ok();

    let (status, body) = get(UnixStream::connect(&metrics_path).unwrap(), "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let scrape = Scrape::parse(&body);
    for (family, kind) in [
        ("ferryd_requests", "counter"),
        ("ferryd_job_queue_wait_seconds", "histogram"),
        ("ferryd_job_run_seconds", "histogram"),
        ("ferryd_jobs_queued", "gauge"),
        ("ferryd_memory_free_bytes", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_resident_memory_bytes", "gauge"),
    ] {
        assert_eq!(scrape.families.get(family).and_then(|t| t.as_str()), Some(kind), "{family} in\n{body}");
    }
    assert_eq!(scrape.must("ferryd_requests_total", &[("op", "checksum"), ("outcome", "ok")]), 3.0);
    assert_eq!(scrape.must("ferryd_requests_total", &[("op", "resize"), ("outcome", "bad_image")]), 1.0);
    assert_eq!(scrape.must("ferryd_requests_total", &[("op", "-"), ("outcome", "malformed")]), 1.0);
    assert_eq!(scrape.must("ferryd_job_run_seconds_count", &[("op", "checksum")]), 3.0);
    assert_eq!(scrape.must("ferryd_job_queue_wait_seconds_count", &[("op", "checksum")]), 3.0);
    // The bytes that are no image were refused from their header, before queueing: no sample.
    assert_eq!(scrape.value("ferryd_job_queue_wait_seconds_count", &[("op", "resize")]), None);
    assert!(scrape.must("ferryd_job_run_seconds_bucket", &[("op", "checksum"), ("le", "+Inf")]) == 3.0);
    // One source with `stats`: the counters the reply had (the stats request itself is counted
    // after its reply was built, so requests_total is one ahead in the scrape).
    assert_eq!(scrape.must("ferryd_errors_total", &[]), stats.uint("errors_total") as f64);
    assert_eq!(scrape.must("ferryd_busy_total", &[]), stats.uint("busy_total") as f64);
    assert_eq!(scrape.must("ferryd_workers", &[]), 2.0);
    assert_eq!(scrape.must("ferryd_connections", &[]), stats.uint("connections") as f64);
    assert_eq!(scrape.must("ferryd_jobs_running", &[]), 0.0);
    assert!(scrape.must("ferryd_received_bytes_total", &[]) > 30_000.0);
    assert!(scrape.must("ferryd_sent_bytes_total", &[]) > 0.0);
    assert!(scrape.must("process_resident_memory_bytes", &[]) > 1e6);
    assert!(scrape.must("process_open_fds", &[]) >= 3.0);
    assert_eq!(scrape.must("ferryd_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);

    let (status, _) = get(UnixStream::connect(&metrics_path).unwrap(), "/");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let mut stream = UnixStream::connect(&metrics_path).unwrap();
    stream.write_all(b"POST /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
}

#[test]
fn metrics_on_loopback_tcp_and_off_by_default() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    let daemon = Daemon::start(&["--metrics-listen", &address]);
    daemon.connect().call(&request(1, "hello", vec![("versions", Value::Array(vec![1.into()]))])).expect_ok();
    let (status, body) = get(std::net::TcpStream::connect(&address).unwrap(), "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(Scrape::parse(&body).must("ferryd_requests_total", &[("op", "hello"), ("outcome", "ok")]), 1.0);
    drop(daemon);
    let quiet = Daemon::start(&[]);
    assert!(!quiet.log().contains("metrics at"), "no listener unless asked:\n{}", quiet.log());
}

/// ferryd-metrics.socket's contract: a second passed socket named `metrics` (here loopback TCP,
/// created outside the daemon as systemd creates it) serves /metrics, the first serves clients.
#[test]
fn a_passed_socket_named_metrics_serves_metrics() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let dir = short_tempdir();
    let path = dir.path().join("c.sock");
    let clients = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = metrics.local_addr().unwrap();
    // Copies at 10 and up, so that placing them at 3 and 4 in the child cannot clobber either.
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on descriptors this test owns.
    let (a, b) = unsafe {
        (libc::fcntl(clients.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10), libc::fcntl(metrics.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10))
    };
    assert!(a >= 10 && b >= 10);
    let mut command = Command::new("sh");
    command
        .args(["-c", r#"LISTEN_PID=$$ exec "$0" "$@""#, crate::harness::FERRYD])
        .env("LISTEN_FDS", "2")
        .env("LISTEN_FDNAMES", "ferryd.socket:metrics");
    // SAFETY: only dup2, async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut daemon = Daemon::spawn(command, &path, dir.path(), &[]);
    daemon.wait_ready();
    daemon.connect().call(&request(1, "ping", vec![])).expect_ok();
    let (status, body) = get(std::net::TcpStream::connect(address).unwrap(), "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(Scrape::parse(&body).must("ferryd_requests_total", &[("op", "ping"), ("outcome", "ok")]), 1.0);
    assert!(daemon.log().contains("(from systemd)"), "{}", daemon.log());
    assert!(daemon.terminate().success());
    // SAFETY: closing the test's own copies.
    unsafe {
        libc::close(a);
        libc::close(b);
    }
}

#[test]
fn the_unix_metrics_socket_gets_the_main_sockets_mode() {
    use std::os::unix::fs::PermissionsExt;
    for mode in [0o660, 0o600, 0o666] {
        let dir = short_tempdir();
        let path = dir.path().join("m.sock");
        let listen = format!("unix:{}", path.display());
        let octal = format!("{mode:o}");
        let daemon = Daemon::start(&["--socket-mode", &octal, "--metrics-listen", &listen]);
        let metrics_mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let socket_mode = std::fs::metadata(&daemon.socket).unwrap().permissions().mode() & 0o777;
        assert_eq!((metrics_mode, socket_mode), (mode, mode), "--socket-mode {octal}");
        let (status, _) = get(UnixStream::connect(&path).unwrap(), "/metrics");
        assert!(status.contains("200"), "{status}");
    }
}
