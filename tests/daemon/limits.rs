//! Bounds a hostile peer meets: frames that cost at most a small multiple of their size, the
//! memory budget, the connection limit, and the frame, idle and reply timeouts.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rmpv::Value;

use crate::harness::{code, request, slow_job, slow_png, Daemon, PATIENCE};

/// Peak resident memory of a process (`VmHWM`), in bytes.
fn peak_rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// A frame body: a map of `id`, `op`, `fields` given as raw MessagePack, then an array32 of
/// `count` copies of `element` under `key`.
fn body_with_array(id: u8, op: &str, fields: &[u8], key: &str, element: u8, count: usize) -> Vec<u8> {
    let mut body = vec![0x83 + (!fields.is_empty()) as u8, 0xa2, b'i', b'd', id, 0xa2, b'o', b'p'];
    body.push(0xa0 + op.len() as u8);
    body.extend_from_slice(op.as_bytes());
    body.extend_from_slice(fields);
    body.push(0xa0 + key.len() as u8);
    body.extend_from_slice(key.as_bytes());
    body.push(0xdd);
    body.extend_from_slice(&(count as u32).to_be_bytes());
    body.resize(body.len() + count, element);
    body
}

#[test]
fn a_127_mib_hello_or_checksum_frame_costs_less_than_twice_its_size() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    let frame = 127 << 20;
    let before = peak_rss(daemon.pid());
    // versions = [1] x N: refused from the array header (more than 16), once the scan is done
    let hello = body_with_array(1, "hello", &[], "versions", 0x01, frame - 20);
    let reply = client.call(&hello).expect_code(code::INVALID_ARGUMENT);
    assert_eq!(reply.id(), 1);
    drop(hello);
    // algorithms = [nil] x N: refused the same way
    let checksum = body_with_array(2, "checksum", b"\xa4data\xc4\x01x", "algorithms", 0xc0, frame - 40);
    let reply = client.call(&checksum).expect_code(code::INVALID_ARGUMENT);
    assert_eq!(reply.id(), 2);
    client.expect_alive(3);
    let peak = peak_rss(daemon.pid());
    eprintln!("daemon peak RSS {} MiB (before: {} MiB) for two {} MiB frames", peak >> 20, before >> 20, frame >> 20);
    assert!(peak < 2 * frame as u64, "peak RSS {peak} is not under twice the frame of {frame} bytes");
    assert!(!daemon.log().contains("[1, 1, 1"), "no array in the log");
}

#[test]
fn a_job_over_the_whole_budget_is_too_large_for_it_and_a_full_budget_is_busy() {
    // The slow job's estimate is some hundred MiB; a budget a little above one of them.
    let png = slow_png();
    let side = u32::from_be_bytes(png[16..20].try_into().unwrap()) as u64;
    let one_job = side * side * 8 + 64 * 64 * 16 + (1 << 20);
    let budget = (one_job + (one_job / 2) + (2 << 20)).to_string();
    let daemon =
        Daemon::start(&["--workers", "2", "--memory-budget", &budget, "--max-frame", "2MiB", "--queue-bytes", "4MiB"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    // The second does not fit beside the first: busy, and says why.
    let busy = client.call(&slow_job(2, vec![])).expect_code(code::BUSY);
    assert_eq!(busy.id(), 2);
    let message = busy.get("message").and_then(Value::as_str).unwrap();
    assert!(message.contains("memory budget"), "{message}");
    let stats = client.call(&request(3, "stats", vec![])).expect_ok();
    assert!(stats.uint("memory_used") >= one_job, "{stats:?}");
    assert_eq!(stats.uint("memory_budget").to_string(), budget);
    assert_eq!(client.recv().expect_ok().id(), 1);
    // A header declaring 100 MP of interlaced 16-bit RGBA could never fit.
    let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bomb.extend_from_slice(&10_000u32.to_be_bytes());
    bomb.extend_from_slice(&10_000u32.to_be_bytes());
    bomb.extend_from_slice(&[16, 6, 0, 0, 1]);
    let reply = client
        .call(&request(4, "resize", vec![("image", Value::Binary(bomb)), ("width", Value::from(100))]))
        .expect_code(code::TOO_LARGE_FOR_BUDGET);
    assert_eq!(reply.id(), 4);
    let hello = client.call(&request(5, "hello", vec![("versions", Value::Array(vec![Value::from(1)]))]));
    assert_eq!(hello.expect_ok().uint("memory_budget").to_string(), budget);
}

#[test]
fn connections_over_the_limit_are_answered_busy_and_closed() {
    let daemon = Daemon::start(&["--max-connections", "2"]);
    let mut first = daemon.connect();
    first.expect_alive(1);
    // Until the start-up probe's connection is reaped, the second would be refused in its place.
    first.stats_once_connections_are(9, 1);
    let mut second = daemon.connect();
    second.expect_alive(1);
    let mut third = daemon.connect();
    let refused = third.recv().expect_code(code::BUSY);
    assert_eq!(refused.id(), 0);
    third.expect_eof();
    drop(second);
    // Asked on `first`: a new connection could itself be refused while the second one's close
    // is still being processed.
    let (stats, _) = first.stats_once_connections_are(10, 1);
    assert_eq!(stats.uint("connections"), 1, "the second connection is gone");
    assert_eq!(stats.uint("connections_refused"), 1);
    first.expect_alive(2);
    let hello = first.call(&request(3, "hello", vec![("versions", Value::Array(vec![Value::from(1)]))]));
    assert_eq!(hello.expect_ok().uint("max_connections"), 2);
}

#[test]
fn a_frame_not_finished_in_time_and_an_idle_connection_are_closed() {
    let daemon = Daemon::start(&["--frame-timeout", "0.3", "--idle-timeout", "0.6"]);
    let mut stalled = daemon.connect();
    let mut idle = daemon.connect();
    let started = Instant::now();
    stalled.send_raw(&[0, 0]);
    stalled.expect_eof();
    let stalled_after = started.elapsed();
    assert!(stalled_after >= Duration::from_millis(300) && stalled_after < PATIENCE, "{stalled_after:?}");
    idle.expect_eof();
    assert!(started.elapsed() >= Duration::from_millis(600));
    // A connection that keeps talking is not idle.
    let mut busy = daemon.connect();
    for id in 1..=4 {
        busy.expect_alive(id);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(daemon.log().contains("frame not complete in time"), "{}", daemon.log());
    assert!(daemon.log().contains("idle connection closed"), "{}", daemon.log());
}

#[test]
fn a_peer_that_reads_no_replies_is_cut_off_and_others_are_served() {
    let daemon = Daemon::start(&["--reply-timeout", "0.5", "--max-frame", "1MiB", "--queue-bytes", "1MiB"]);
    let mut deaf = UnixStream::connect(&daemon.socket).unwrap();
    deaf.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    // Pings without end, never reading a reply: the daemon's replies fill the socket, then its
    // allowance for unread replies (one max frame), then it stops reading and cuts the peer off.
    let ping = request(1, "ping", vec![]);
    let mut frame = (ping.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&ping);
    let burst: Vec<u8> = frame.iter().copied().cycle().take(frame.len() * 10_000).collect();
    let deadline = Instant::now() + PATIENCE;
    while deaf.write_all(&burst).is_ok() {
        assert!(Instant::now() < deadline, "the daemon kept reading from a peer that reads nothing");
    }
    let deadline = Instant::now() + PATIENCE;
    while !daemon.log().contains("peer reads no replies") {
        assert!(Instant::now() < deadline, "no log line:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon.connect().expect_alive(2);
    let stats = daemon.wait_for_stats("the deaf peer's replies released", |s| s.uint("connections") == 1);
    assert!(stats.uint("memory_used") < 1 << 20, "{stats:?}");
}

#[test]
fn out_of_file_descriptors_the_daemon_backs_off_and_serves_a_healthy_client_later() {
    let dir = crate::harness::short_tempdir();
    let socket = dir.path().join("f.sock");
    let mut command = std::process::Command::new(crate::harness::FERRYD);
    // SAFETY: only setrlimit, which is async-signal-safe, between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut daemon = Daemon::spawn(command, &socket, dir.path(), &["--idle-timeout", "1", "--frame-timeout", "1"]);
    daemon.wait_ready();
    // More silent connections than the daemon has descriptors for.
    let silent: Vec<UnixStream> = (0..100).map(|_| UnixStream::connect(&socket).unwrap()).collect();
    let deadline = Instant::now() + PATIENCE;
    while !daemon.log().contains("accept failed") {
        assert!(Instant::now() < deadline, "accept never ran out of descriptors:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The idle ones time out, descriptors come back, and a healthy client is served.
    let started = Instant::now();
    let mut healthy = crate::harness::Client::connect(&socket);
    healthy.expect_alive(1);
    eprintln!("healthy client served {:?} after the descriptors ran out", started.elapsed());
    drop(silent);
    assert!(daemon.terminate().success());
}
