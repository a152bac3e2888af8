//! Start-up and shutdown: the socket file (stale, live, not a socket, mode), SIGTERM while jobs
//! run, systemd readiness notification and socket activation, a peer that disappears.

use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{code, request, short_tempdir, slow_job, Client, Daemon, FERRYD, PATIENCE};

/// Waits until connecting fails: the daemon has stopped accepting.
fn wait_until_refused(daemon: &Daemon) {
    let deadline = Instant::now() + PATIENCE;
    while UnixStream::connect(&daemon.socket).is_ok() {
        assert!(Instant::now() < deadline, "the daemon kept accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigterm_while_busy_finishes_running_work_and_exits_cleanly() {
    let mut daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "8"]);
    let mut worker = daemon.connect();
    let mut idle = daemon.connect();
    worker.send(&slow_job(1, vec![]));
    worker.send(&slow_job(2, vec![]));
    daemon.wait_for_stats("one job running, one queued", |s| s.uint("jobs_running") == 1 && s.uint("jobs_queued") == 1);

    daemon.signal(libc::SIGTERM);
    wait_until_refused(&daemon);
    // A request read after shutdown began is refused.
    worker.send(&request(3, "ping", vec![]));
    let mut replies: Vec<(u64, Option<u64>)> = (0..3).map(|_| worker.recv()).map(|r| (r.id(), r.code())).collect();
    replies.sort_unstable();
    // The running job is answered normally; the queued one was not started.
    assert_eq!(replies, [(1, None), (2, Some(code::SHUTTING_DOWN)), (3, Some(code::SHUTTING_DOWN))]);
    worker.expect_eof();
    idle.expect_eof();
    let status = daemon.wait_exit();
    assert!(status.success(), "exit status {status}; log:\n{}", daemon.log());
    assert!(!daemon.socket.exists(), "socket file removed");
}

#[test]
fn sigint_on_an_idle_daemon_exits_zero_and_removes_the_socket() {
    let mut daemon = Daemon::start(&[]);
    daemon.connect().expect_alive(1);
    daemon.signal(libc::SIGINT);
    assert!(daemon.wait_exit().success());
    assert!(!daemon.socket.exists());
}

#[test]
fn a_second_signal_closes_connections_without_waiting() {
    let mut daemon = Daemon::start(&["--workers", "1", "--shutdown-grace", "600"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    daemon.wait_for_stats("the job running", |s| s.uint("jobs_running") == 1);
    daemon.signal(libc::SIGTERM);
    wait_until_refused(&daemon);
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit().success());
    assert!(!daemon.socket.exists());
    // The running job was stopped and answered, then the connection closed.
    assert_eq!(client.recv().expect_code(code::SHUTTING_DOWN).id(), 1);
    client.expect_eof();
    assert!(daemon.log().contains("second signal"), "{}", daemon.log());
}

#[test]
fn when_the_grace_period_runs_out_every_request_in_flight_is_answered_shutting_down() {
    let mut daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "8", "--shutdown-grace", "0.2"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    client.send(&slow_job(2, vec![]));
    daemon.wait_for_stats("one job running, one queued", |s| s.uint("jobs_running") == 1 && s.uint("jobs_queued") == 1);
    let signalled = Instant::now();
    daemon.signal(libc::SIGTERM);
    // The queued job is answered at once, when draining begins; the running one when the
    // grace period runs out, not with end of stream.
    assert_eq!((client.recv().id(), client.recv().id()), (2, 1), "queued first, then running");
    assert!(signalled.elapsed() < crate::harness::SLOW_JOB, "answered before the job could finish");
    client.expect_eof();
    assert!(daemon.wait_exit().success());
    assert!(!daemon.socket.exists());
    assert!(daemon.log().contains("grace period over"), "{}", daemon.log());
}

#[test]
fn the_socket_file_is_removed_before_draining() {
    let mut daemon = Daemon::start(&["--workers", "1", "--shutdown-grace", "600"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    daemon.wait_for_stats("the job running", |s| s.uint("jobs_running") == 1);
    daemon.signal(libc::SIGTERM);
    let deadline = Instant::now() + PATIENCE;
    while daemon.socket.exists() {
        assert!(Instant::now() < deadline, "socket file still there during the drain");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The file is gone while the job still runs: its reply is still to come.
    assert_eq!(client.recv().expect_ok().id(), 1);
    client.expect_eof();
    assert!(daemon.wait_exit().success());
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = short_tempdir();
    let path = dir.path().join("f.sock");
    drop(UnixListener::bind(&path).unwrap()); // the file stays, nobody listens
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    let mut daemon = Daemon::spawn(Command::new(FERRYD), &path, dir.path(), &[]);
    daemon.wait_ready();
    Client::connect(&path).expect_alive(1);
    assert!(daemon.log().contains("stale socket"), "log says what happened:\n{}", daemon.log());
    assert!(daemon.terminate().success());
}

#[test]
fn a_live_daemon_socket_is_never_stolen() {
    let first = Daemon::start(&[]);
    let dir = short_tempdir();
    let mut second = Daemon::spawn(Command::new(FERRYD), &first.socket, dir.path(), &[]);
    let status = second.wait_exit();
    assert!(!status.success(), "the second daemon must fail");
    let log = second.log();
    assert!(log.contains("in use by a running daemon"), "clear error:\n{log}");
    first.connect().expect_alive(1);
}

#[test]
fn a_path_that_is_not_a_socket_is_left_alone() {
    let dir = short_tempdir();
    let path = dir.path().join("f.sock");
    std::fs::write(&path, b"precious").unwrap();
    let mut daemon = Daemon::spawn(Command::new(FERRYD), &path, dir.path(), &[]);
    assert!(!daemon.wait_exit().success());
    assert!(daemon.log().contains("is not a socket"), "{}", daemon.log());
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[test]
fn socket_mode_defaults_to_0660_and_follows_the_flag() {
    let daemon = Daemon::start(&[]);
    let mode = std::fs::metadata(&daemon.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "mode {mode:o}");
    let daemon = Daemon::start(&["--socket-mode", "0600"]);
    let mode = std::fs::metadata(&daemon.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
}

#[test]
fn bad_flags_fail_fast_with_the_flag_named() {
    let output = Command::new(FERRYD).args(["--socket", "/tmp/x.sock", "--queue-bytes", "1MiB"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--queue-bytes") && stderr.contains("--max-frame"), "{stderr}");
    let output = Command::new(FERRYD).args(["--socket", "/tmp/x.sock", "--log-level", "ferryd=loud"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid log filter"));
}

#[test]
fn systemd_hears_ready_and_stopping() {
    let dir = short_tempdir();
    let notify_path = dir.path().join("n.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(PATIENCE)).unwrap();
    let socket = dir.path().join("f.sock");
    let mut command = Command::new(FERRYD);
    command.env("NOTIFY_SOCKET", &notify_path);
    let mut daemon = Daemon::spawn(command, &socket, dir.path(), &[]);
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).expect("READY from ferryd");
    let ready = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    // Ready means listening: no retry needed.
    Client::connect(&socket).expect_alive(1);
    daemon.signal(libc::SIGTERM);
    let n = notify.recv(&mut buf).expect("STOPPING from ferryd");
    assert!(String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "STOPPING=1"));
    assert!(daemon.wait_exit().success());
}

#[test]
fn socket_activation_serves_the_inherited_socket_and_leaves_its_file() {
    let dir = short_tempdir();
    let path = dir.path().join("act.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let fd = listener.as_raw_fd();
    // systemd's contract: the socket at fd 3, LISTEN_FDS=1, LISTEN_PID = the daemon's pid. The
    // shell learns its own pid ($$) and execs ferryd, which keeps it.
    let mut command = Command::new("sh");
    command.args(["-c", r#"LISTEN_PID=$$ exec "$0" "$@""#, FERRYD]).env("LISTEN_FDS", "1");
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // --socket names the same path: were activation ignored, binding it would fail ("in use"),
    // since the socket is live.
    let mut daemon = Daemon::spawn(command, &path, dir.path(), &[]);
    drop(listener);
    daemon.wait_ready();
    Client::connect(&path).expect_alive(1);
    assert!(daemon.log().contains("from systemd"), "{}", daemon.log());
    assert!(daemon.terminate().success());
    assert!(path.exists(), "the socket file belongs to systemd and stays");
}

#[test]
fn a_peer_that_disappears_has_its_jobs_cancelled() {
    let daemon = Daemon::start(&["--workers", "1", "--log-level", "ferryd=debug"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    daemon.wait_for_stats("the job running", |s| s.uint("jobs_running") == 1);
    drop(client);
    let deadline = Instant::now() + PATIENCE;
    while !daemon.log().contains("abandoning in-flight requests") {
        assert!(Instant::now() < deadline, "no cancellation logged:\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    daemon.wait_for_stats("the pool idle", |s| s.uint("jobs_running") + s.uint("jobs_queued") == 0);
    daemon.connect().expect_alive(2);
}
