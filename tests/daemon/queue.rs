//! The queue bound (`busy`), deadlines and cancellation, with real slow jobs on a one-worker
//! pool.

use std::time::{Duration, Instant};

use rmpv::Value;

use crate::harness::{bin, code, painted, request, slow_job, slow_png, strs, Daemon};

fn small_checksum(id: u64, extra: Vec<(&str, Value)>) -> Vec<u8> {
    let mut fields = vec![("data", bin(b"hello")), ("algorithms", strs(&["crc32c"]))];
    fields.extend(extra);
    request(id, "checksum", fields)
}

#[test]
fn a_full_job_queue_answers_busy_at_once() {
    let daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "1"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    client.send(&small_checksum(2, vec![]));
    // The refusal comes first, while the slow job is still running.
    let busy = client.recv().expect_code(code::BUSY);
    assert_eq!(busy.id(), 2);
    assert_eq!(client.recv().expect_ok().id(), 1);
    // The slot is free again as soon as the reply is out.
    assert_eq!(client.call(&small_checksum(3, vec![])).expect_ok().id(), 3);
    let stats = client.call(&request(4, "stats", vec![]));
    assert_eq!(stats.uint("busy_total"), 1);
}

#[test]
fn a_full_byte_budget_answers_busy() {
    // Room for the slow job's input plus 1 KiB: 1025 more bytes do not fit beside it, 512 do,
    // whatever the job count.
    let budget = (slow_png().len() + 1024).to_string();
    let (over, under) = (1025, 512);
    // A queue wait long enough for the slow job on a loaded machine: this test is about bytes.
    let daemon = Daemon::start(&[
        "--workers", "1", "--queue-jobs", "8", "--queue-bytes", &budget, "--max-frame", &budget, "--max-queue-wait", "60",
    ]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    client.send(&request(2, "checksum", vec![("data", bin(&painted(over))), ("algorithms", strs(&["crc32c"]))]));
    client.send(&request(3, "checksum", vec![("data", bin(&painted(under))), ("algorithms", strs(&["crc32c"]))]));
    assert_eq!(client.recv().expect_code(code::BUSY).id(), 2);
    let mut ids = [client.recv().expect_ok().id(), client.recv().expect_ok().id()];
    ids.sort_unstable();
    assert_eq!(ids, [1, 3]);
}

#[test]
fn stats_is_answered_while_the_pool_is_saturated() {
    let daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "4", "--max-queue-wait", "60"]);
    let mut busy_client = daemon.connect();
    busy_client.send(&slow_job(1, vec![]));
    busy_client.send(&slow_job(2, vec![]));
    let stats = daemon.wait_for_stats("one job running and one queued", |s| {
        s.uint("jobs_running") == 1 && s.uint("jobs_queued") == 1
    });
    assert_eq!(stats.uint("queued_bytes"), 2 * slow_png().len() as u64);
    for _ in 0..2 {
        busy_client.recv().expect_ok();
    }
}

#[test]
fn timeout_zero_is_expired_without_running() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    let started = Instant::now();
    let reply = client.call(&slow_job(1, vec![("timeout_ms", 0.into())]));
    assert_eq!(reply.expect_code(code::DEADLINE_EXCEEDED).id(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    let stats = client.call(&request(2, "stats", vec![]));
    assert_eq!(stats.uint("jobs_running") + stats.uint("jobs_queued"), 0);
}

#[test]
fn a_job_whose_deadline_passes_in_the_queue_never_starts() {
    let daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "4"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    client.send(&small_checksum(2, vec![("timeout_ms", 1.into())]));
    // Job 2 waits behind job 1 on the only worker, far longer than its 1 ms: when the worker
    // reaches it, it is answered without being started.
    assert_eq!(client.recv().expect_ok().id(), 1);
    let expired = client.recv().expect_code(code::DEADLINE_EXCEEDED);
    assert_eq!(expired.id(), 2);
    let message = expired.get("message").and_then(Value::as_str).unwrap();
    assert!(message.contains("start"), "noticed before starting: {message}");
}

#[test]
fn a_running_job_stops_at_its_deadline() {
    let daemon = Daemon::start(&["--workers", "1"]);
    let mut client = daemon.connect();
    let reply = client.call(&slow_job(1, vec![("timeout_ms", 5.into())]));
    assert_eq!(reply.expect_code(code::DEADLINE_EXCEEDED).id(), 1);
}

#[test]
fn cancel_stops_a_running_job_and_it_is_answered_cancelled() {
    let daemon = Daemon::start(&["--workers", "1"]);
    let mut client = daemon.connect();
    client.send(&slow_job(7, vec![]));
    daemon.wait_for_stats("the job running", |s| s.uint("jobs_running") == 1);
    client.send(&request(7, "cancel", vec![]));
    let reply = client.recv().expect_code(code::CANCELLED);
    assert_eq!(reply.id(), 7);
    // cancel has no reply of its own: the next reply is the ping's.
    client.expect_alive(8);
}

#[test]
fn cancel_of_a_queued_job_and_of_nothing() {
    let daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "4"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    client.send(&slow_job(2, vec![]));
    client.send(&request(2, "cancel", vec![]));
    client.send(&request(99, "cancel", vec![])); // nothing in flight with that id
    let mut replies: Vec<(u64, Option<u64>)> = (0..2).map(|_| client.recv()).map(|r| (r.id(), r.code())).collect();
    replies.sort_unstable();
    assert_eq!(replies, [(1, None), (2, Some(code::CANCELLED))]);
    client.expect_alive(3);
}

#[test]
fn cancel_of_a_queued_job_answers_it_at_once_and_frees_its_place() {
    let daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "2", "--max-queue-wait", "60"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    client.send(&slow_job(2, vec![]));
    daemon.wait_for_stats("one running, one queued", |s| s.uint("jobs_running") == 1 && s.uint("jobs_queued") == 1);
    client.send(&request(2, "cancel", vec![]));
    // Answered before the running job finishes: the first reply is the cancelled one.
    let reply = client.recv().expect_code(code::CANCELLED);
    assert_eq!(reply.id(), 2);
    let stats = client.call(&request(3, "stats", vec![])).expect_ok();
    assert_eq!((stats.uint("jobs_running"), stats.uint("jobs_queued")), (1, 0));
    assert_eq!(stats.uint("queued_bytes"), slow_png().len() as u64, "the cancelled job's bytes are free");
    // Its slot too: with the queue bound at 2, another job is admitted beside the running one.
    client.send(&small_checksum(4, vec![]));
    let mut ids = [client.recv().expect_ok().id(), client.recv().expect_ok().id()];
    ids.sort_unstable();
    assert_eq!(ids, [1, 4]);
}

#[test]
fn a_cancel_is_never_answered_nor_in_flight() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    // A cancel of nothing, with extra fields of any type: no reply.
    client.send(&request(9, "cancel", vec![("timeout_ms", Value::from("soon")), ("x", Value::Nil)]));
    // A request reusing the cancel's id is not a duplicate: the cancel never was in flight.
    assert_eq!(client.call(&small_checksum(9, vec![])).expect_ok().id(), 9);
    // An id answered early by a cancel can be used again at once.
    client.send(&slow_job(5, vec![]));
    client.send(&request(5, "cancel", vec![]));
    let first = client.recv();
    assert_eq!((first.id(), first.code()), (5, Some(code::CANCELLED)));
    client.expect_alive(6);
}

/// A `checksum_file` of a 1 TiB sparse file (reads as zeros, takes minutes to hash) with no
/// `timeout_ms`, on each of two workers: both stop at the daemon's `--max-job-time` and answer
/// `deadline_exceeded` naming it, while a ping is answered at once and a small checksum queued
/// behind them runs as soon as they stop.
#[test]
fn jobs_without_a_deadline_stop_at_the_run_time_limit() {
    let limit = Duration::from_secs(1);
    let daemon = Daemon::start(&["--workers", "2", "--max-job-time", "1"]);
    let dir = crate::harness::short_tempdir();
    let path = dir.path().join("sparse");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(1 << 40).unwrap();
    let big = |id| request(id, "checksum_file", vec![("algorithms", strs(&["blake3"]))]);
    let started = Instant::now();
    let mut holders: Vec<_> = (1..=2)
        .map(|id| {
            let mut client = daemon.connect();
            let file = std::fs::File::open(&path).unwrap();
            client.send_with_fds(&big(id), &[std::os::fd::AsRawFd::as_raw_fd(&file)]);
            (client, file)
        })
        .collect();
    daemon.wait_for_stats("both workers on the big files", |s| s.uint("jobs_running") == 2);
    let mut other = daemon.connect();
    let pinged = Instant::now();
    other.expect_alive(10);
    assert!(pinged.elapsed() < Duration::from_millis(500), "ping took {:?} beside two held workers", pinged.elapsed());
    other.send(&small_checksum(11, vec![]));
    for (id, (client, _file)) in (1..=2).zip(&mut holders) {
        let reply = client.recv().expect_code(code::DEADLINE_EXCEEDED);
        assert_eq!(reply.id(), id);
        let message = reply.get("message").and_then(Value::as_str).unwrap();
        assert!(message.contains("max_job_time of 1s"), "the message names the limit: {message}");
    }
    let stopped = started.elapsed();
    eprintln!("two checksum_file of a 1 TiB sparse file, --max-job-time {limit:?}: deadline_exceeded after {stopped:?}");
    assert!(stopped >= limit, "stopped after {stopped:?}, before the limit");
    assert!(stopped < limit * 5, "stopped after {stopped:?}, long past the {limit:?} limit");
    assert_eq!(other.recv().expect_ok().id(), 11, "the queued checksum ran once the workers were free");
}

/// A `resize` with eight outputs is expected to cost about eight single outputs: while one is
/// running, a request whose deadline is three single outputs away is refused `busy` at once
/// instead of being queued to miss it; behind a single output the same request is admitted.
#[test]
fn every_output_of_a_request_counts_in_the_expected_wait() {
    let daemon = Daemon::start(&["--workers", "1", "--queue-jobs", "8"]);
    let image = crate::harness::flat_png(1500);
    let output = || Value::Map(vec![(Value::from("width"), Value::from(1200))]);
    let single = |id| request(id, "resize", vec![("image", bin(&image)), ("width", Value::from(1200))]);
    let eight = request(3, "resize", vec![("image", bin(&image)), ("outputs", Value::Array((0..8).map(|_| output()).collect()))]);
    let mut client = daemon.connect();
    // Teach the daemon what one output costs (the slowest of three runs, as seen from here).
    let one = (0..3)
        .map(|_| {
            let sent = Instant::now();
            client.call(&single(1)).expect_ok();
            sent.elapsed()
        })
        .max()
        .unwrap();
    let in_three = |id| {
        let ms = (one * 3).as_millis() as u64;
        request(id, "checksum", vec![("data", bin(b"x")), ("algorithms", strs(&["crc32c"])), ("timeout_ms", ms.into())])
    };
    // Behind one output: admitted (and run in time, or at worst expired; never refused).
    client.send(&single(2));
    client.send(&in_three(4));
    let mut replies: Vec<(u64, Option<u64>)> = (0..2).map(|_| client.recv()).map(|r| (r.id(), r.code())).collect();
    replies.sort_unstable();
    assert_eq!(replies[0], (2, None));
    assert_ne!(replies[1], (4, Some(code::BUSY)), "refused behind a single output ({one:?})");
    // Behind eight outputs: refused at once, before the eight are done.
    client.send(&eight);
    client.send(&in_three(5));
    let refused = client.recv();
    assert_eq!((refused.id(), refused.code()), (5, Some(code::BUSY)), "admitted behind eight outputs ({one:?} each)");
    assert_eq!(client.recv().expect_ok().id(), 3);
}
