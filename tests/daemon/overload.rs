//! Overload and hostile load against other connections: pings stay fast while huge frames are
//! scanned, and under 10x more work than the workers can do an accepted job is answered in a
//! bounded time (the rest are refused `busy` at once).

use std::time::{Duration, Instant};

use rmpv::Value;

use crate::harness::{bin, code, flat_png, request, Daemon};

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1]
}

#[test]
#[ignore = "judges latency, so it runs alone: make test runs it after the parallel suite"]
fn pings_stay_fast_while_two_127_mib_hostile_frames_are_scanned() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let mut pinger = daemon.connect();
    pinger.expect_alive(1);
    // Two frames of valid but useless MessagePack: a map whose unknown key holds 127 MiB of
    // nils in an array, which the decoder must walk to the end.
    let count = (127 << 20) - 32;
    let mut body = vec![0x83, 0xa2, b'i', b'd', 0x01, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g', 0xa1, b'x', 0xdd];
    body.extend_from_slice(&(count as u32).to_be_bytes());
    body.resize(body.len() + count, 0xc0);
    let body = std::sync::Arc::new(body);
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let body = std::sync::Arc::clone(&body);
            let mut client = daemon.connect();
            std::thread::spawn(move || client.call(&body).expect_ok().id())
        })
        .collect();
    let mut latencies = Vec::new();
    let mut id = 2;
    while !senders.iter().all(|s| s.is_finished()) {
        let sent = Instant::now();
        pinger.expect_alive(id);
        latencies.push(sent.elapsed());
        id += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    for sender in senders {
        assert_eq!(sender.join().unwrap(), 1);
    }
    let p99 = percentile(latencies.clone(), 0.99);
    eprintln!("{} pings during the hostile frames: p99 {p99:?}, max {:?}", latencies.len(), latencies.iter().max());
    assert!(latencies.len() >= 20, "the frames went too fast to measure anything");
    assert!(p99 < Duration::from_millis(20), "ping p99 {p99:?} while huge frames were scanned");
}

#[test]
#[ignore = "judges latency, so it runs alone: make test runs it after the parallel suite"]
fn under_tenfold_overload_accepted_jobs_finish_within_three_times_the_unloaded_time() {
    // A job of some tens of milliseconds: long enough that the clients' own work is noise.
    let image = flat_png(4096);
    let job = |id: u64| request(id, "resize", vec![("image", bin(&image)), ("width", Value::from(256))]);
    // Unloaded: as many jobs at once as there are workers (so each worker is busy, as under
    // overload, but nothing queues), before and after the overload, on the same daemon: the
    // machine is shared, and its load changes what a job costs.
    let unloaded_on = |daemon: &Daemon| {
        let runners: Vec<_> = (0..2)
            .map(|_| {
                let mut client = daemon.connect();
                let body = job(1);
                std::thread::spawn(move || {
                    (0..6)
                        .map(|_| {
                            let sent = Instant::now();
                            client.call(&body).expect_ok();
                            sent.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        percentile(runners.into_iter().flat_map(|r| r.join().unwrap()).collect(), 0.5)
    };
    let before = unloaded_on(&Daemon::start(&["--workers", "2"]));

    // Admit no more than one job's time of queueing ahead of a new one.
    let max_wait = format!("{}ms", before.as_millis().max(1));
    let daemon = Daemon::start(&["--workers", "2", "--queue-jobs", "256", "--max-queue-wait", &max_wait]);
    unloaded_on(&daemon); // teaches the daemon what the job costs
                          // 20 closed-loop clients against 2 workers: ten times what they can serve.
    let until = Instant::now() + (before * 60).max(Duration::from_secs(3));
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let mut client = daemon.connect();
            let body = job(1);
            std::thread::spawn(move || {
                let (mut accepted, mut busy) = (Vec::new(), 0u32);
                while Instant::now() < until {
                    let sent = Instant::now();
                    let reply = client.call(&body);
                    match reply.code() {
                        None => accepted.push(sent.elapsed()),
                        Some(code::BUSY) => {
                            busy += 1;
                            std::thread::sleep(before / 2);
                        }
                        Some(other) => panic!("unexpected code {other}: {reply:?}"),
                    }
                }
                (accepted, busy)
            })
        })
        .collect();
    let (mut accepted, mut busy) = (Vec::new(), 0);
    for client in clients {
        let (a, b) = client.join().unwrap();
        accepted.extend(a);
        busy += b;
    }
    let unloaded = before.max(unloaded_on(&daemon));
    let p99 = percentile(accepted.clone(), 0.99);
    eprintln!(
        "unloaded {before:?} before, {unloaded:?} worst; overload: {} accepted, {busy} busy, accepted p99 {p99:?}",
        accepted.len()
    );
    assert!(busy > 0, "the overload was no overload");
    assert!(accepted.len() >= 10, "too few jobs accepted to measure");
    assert!(p99 <= unloaded * 3, "accepted p99 {p99:?} over 3x the unloaded {unloaded:?}");
}
