//! systemd's watchdog: `WATCHDOG=1` arrives on NOTIFY_SOCKET while the daemon makes progress,
//! and stops while its only worker is held by a job that does not finish (the pool's no-op
//! probe cannot run and nothing completes), then resumes.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{short_tempdir, slow_job, Daemon, SLOW_JOB};

/// Counts `WATCHDOG=1` datagrams arriving within `window`.
fn pings_within(socket: &UnixDatagram, window: Duration) -> usize {
    let end = Instant::now() + window;
    let mut pings = 0;
    let mut buf = [0u8; 512];
    while let Some(left) = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        socket.set_read_timeout(Some(left)).unwrap();
        match socket.recv(&mut buf) {
            Ok(n) => pings += String::from_utf8_lossy(&buf[..n]).lines().filter(|l| *l == "WATCHDOG=1").count(),
            Err(_) => break,
        }
    }
    pings
}

#[test]
fn watchdog_pings_follow_the_pool_making_progress() {
    let job = slow_job(1, vec![]); // calibrated before the watched daemon starts
    let dir = short_tempdir();
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    let mut command = Command::new(crate::harness::FERRYD);
    // A 200 ms watchdog: the daemon checks every 50 ms.
    command.env("NOTIFY_SOCKET", &notify_path).env("WATCHDOG_USEC", "200000");
    let mut daemon = Daemon::spawn(command, &dir.path().join("f.sock"), dir.path(), &["--workers", "1"]);
    daemon.wait_ready();
    assert!(pings_within(&notify, Duration::from_millis(400)) >= 3, "an idle daemon pings");

    let mut client = daemon.connect();
    client.send(&job);
    // The worker has started the job; then one check interval (50 ms) more, so that a probe the
    // pool ran just before the job took the worker has been reported and is drained below.
    let started = Instant::now();
    daemon.wait_for_stats("the job running", |s| s.uint("jobs_running") == 1);
    std::thread::sleep(Duration::from_millis(120));
    while notify.set_nonblocking(true).is_ok() && notify.recv(&mut [0u8; 512]).is_ok() {}
    notify.set_nonblocking(false).unwrap();
    // Three check intervals with no ping prove the stop; kept well inside the job's calibrated
    // length (SLOW_JOB), which a quieter machine can shorten, so the job cannot end within it.
    let window = Duration::from_millis(150).min(SLOW_JOB.saturating_sub(started.elapsed()));
    let held = pings_within(&notify, window);
    client.recv().expect_ok();
    assert_eq!(held, 0, "pinged while the only worker was held and nothing finished");
    assert!(pings_within(&notify, Duration::from_millis(400)) >= 2, "pings resume once the pool is free");
    assert!(daemon.log().contains("watchdog: no progress"), "{}", daemon.log());
    assert!(daemon.terminate().success());
}
