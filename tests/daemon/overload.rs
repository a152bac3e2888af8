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

/// What closed-loop clients saw: each accepted job's and each `busy` answer's time from send to
/// reply (`busy` at admission and `busy` for not starting in time apart).
#[derive(Debug, Default)]
struct Load {
    accepted: Vec<Duration>,
    busy: Vec<Duration>,
    /// Accepted jobs sent after the first second, once the daemon has run history.
    accepted_warm: Vec<Duration>,
    /// `busy` answers for jobs admitted but not reached within `--max-queue-wait`.
    late: Vec<Duration>,
    /// How many of those were sent after the first second.
    late_warm: usize,
}

/// A setting for ad-hoc runs of the overload measurement, from `FERRY_OVERLOAD_<NAME>`.
fn knob(name: &str, default: u64) -> u64 {
    std::env::var(format!("FERRY_OVERLOAD_{name}")).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `clients` connections, each keeping `depth` copies of `job` in flight until `until`: every
/// reply is answered by sending the job again (after `backoff` when it was `busy`).
fn closed_loop(daemon: &Daemon, clients: usize, depth: u64, job: &[u8], backoff: Duration, until: Instant) -> Load {
    let began = Instant::now();
    let warm_up = Duration::from_secs(knob("WARM_SECS", 1));
    let runners: Vec<_> = (0..clients)
        .map(|_| {
            let mut client = daemon.connect();
            let job = job.to_vec();
            std::thread::spawn(move || {
                let mut load = Load::default();
                let mut sent = std::collections::HashMap::new();
                let mut next_id = 1u64;
                let send = |client: &mut crate::harness::Client, next_id: &mut u64, sent: &mut std::collections::HashMap<u64, Instant>| {
                    // The id is the body's first field: rewrite it in place (fixint 1 -> uint64).
                    let mut body = vec![0u8; 0];
                    body.extend_from_slice(&job[..4]);
                    body.push(0xcf);
                    body.extend_from_slice(&next_id.to_be_bytes());
                    body.extend_from_slice(&job[5..]);
                    sent.insert(*next_id, Instant::now());
                    client.send(&body);
                    *next_id += 1;
                };
                for _ in 0..depth {
                    send(&mut client, &mut next_id, &mut sent);
                }
                while !sent.is_empty() {
                    let reply = client.recv();
                    let at = sent.remove(&reply.id()).expect("a reply to a request in flight");
                    let took = at.elapsed();
                    match reply.code() {
                        None if at - began > warm_up => {
                            load.accepted.push(took);
                            load.accepted_warm.push(took);
                        }
                        None => load.accepted.push(took),
                        Some(code::BUSY) if reply.get("message").and_then(Value::as_str).is_some_and(|m| m.starts_with("not started")) => {
                            if at - began > warm_up {
                                load.late_warm += 1;
                            }
                            load.late.push(took);
                            std::thread::sleep(backoff);
                        }
                        Some(code::BUSY) => {
                            load.busy.push(took);
                            std::thread::sleep(backoff);
                        }
                        Some(other) => panic!("unexpected code {other}: {reply:?}"),
                    }
                    if Instant::now() < until {
                        send(&mut client, &mut next_id, &mut sent);
                    }
                }
                load
            })
        })
        .collect();
    let mut all = Load::default();
    for runner in runners {
        let load = runner.join().unwrap();
        all.accepted.extend(load.accepted);
        all.busy.extend(load.busy);
        all.accepted_warm.extend(load.accepted_warm);
        all.late.extend(load.late);
        all.late_warm += load.late_warm;
    }
    all
}

/// Under ten times the work the workers can do, from the daemon's first second (no run history
/// yet): `busy` comes back within milliseconds, and an accepted job is answered within
/// `--max-queue-wait` plus its own run time (p99; that run time, slower under this load, taken
/// as four times the unloaded one), and few admitted jobs miss their start.
/// FERRY_OVERLOAD_BUDGET sets `--memory-budget`, FERRY_OVERLOAD_METRICS `--metrics-listen`. FERRY_OVERLOAD_{CLIENTS,DEPTH,SECS,WAIT_MS,SIDE,BACKOFF_MS} change the load for
/// ad-hoc measurement.
#[test]
#[ignore = "judges latency, so it runs alone: make test runs it after the parallel suite"]
fn under_tenfold_overload_busy_is_prompt_and_accepted_jobs_start_within_the_queue_wait() {
    let side = knob("SIDE", 2048) as u32;
    let image = flat_png(side);
    let job = request(1, "resize", vec![("image", bin(&image)), ("width", Value::from(256))]);
    assert_eq!(job[4], 0x01, "the id is the body's first value, a fixint");
    let depth = knob("DEPTH", 1);
    // Refused clients retry after 5 ms, as a client with a backoff would.
    let backoff = Duration::from_millis(knob("BACKOFF_MS", 5));
    // Unloaded: one job per worker at a time, on a daemon of its own.
    let unloaded = {
        let daemon = Daemon::start(&["--workers", "2"]);
        let load = closed_loop(&daemon, 2, 1, &job, Duration::ZERO, Instant::now() + Duration::from_millis(600));
        percentile(load.accepted, 0.5)
    };
    // A queue wait of ten jobs (at least 250 ms): the queue holds about twice as many jobs as
    // the wait is long in job times (two workers).
    let wait = match knob("WAIT_MS", 0) {
        0 => (unloaded * 10).max(Duration::from_millis(250)),
        ms => Duration::from_millis(ms),
    };
    // Half again as many jobs in flight as the queue may hold (two workers, each a job's time).
    let holds = (2.0 * wait.as_secs_f64() / unloaded.as_secs_f64()).ceil() as usize;
    let clients = match knob("CLIENTS", 0) {
        0 => 20.max(3 * holds / 2 / depth as usize),
        n => n as usize,
    };
    let metrics = std::env::var("FERRY_OVERLOAD_METRICS").ok();
    let mut args = vec!["--workers", "2", "--queue-jobs", "256", "--max-queue-wait"];
    let wait_arg = format!("{}ms", wait.as_millis());
    args.push(&wait_arg);
    if let Some(address) = &metrics {
        args.extend(["--metrics-listen", address.as_str()]);
    }
    let budget = std::env::var("FERRY_OVERLOAD_BUDGET").ok();
    if let Some(budget) = &budget {
        args.extend(["--memory-budget", budget.as_str()]);
    }
    let daemon = Daemon::start(&args);
    let until = Instant::now() + Duration::from_secs(knob("SECS", 3));
    let load = closed_loop(&daemon, clients, depth, &job, backoff, until);
    let (accepted, busy) = (load.accepted.len(), load.busy.len());
    assert!(busy > 0, "the overload was no overload");
    assert!(accepted >= 10, "too few jobs accepted to measure");
    let (busy_p50, busy_p99) = (percentile(load.busy.clone(), 0.5), percentile(load.busy.clone(), 0.99));
    let ok_p50 = percentile(load.accepted.clone(), 0.5);
    let (ok_p99, ok_max) = (percentile(load.accepted.clone(), 0.99), percentile(load.accepted, 1.0));
    let warm_max = load.accepted_warm.iter().max().copied().unwrap_or_default();
    let late = load.late.len();
    eprintln!(
        "{side}x{side} PNG -> 256 px, unloaded {unloaded:?}; {clients} clients x {depth} in flight, --max-queue-wait {wait:?}: \
         {accepted} accepted (p50 {ok_p50:?}, p99 {ok_p99:?}, max {ok_max:?}; sent after the warm-up: max {warm_max:?}), \
         {busy} busy at admission (p50 {busy_p50:?}, p99 {busy_p99:?}), {late} busy for not starting in time ({} after the warm-up)", load.late_warm
    );
    if let Some(address) = &metrics {
        let _ = std::process::Command::new("curl").args(["-s", &format!("http://{address}/metrics"), "-o", "/tmp/ferry-overload-metrics.txt"]).status();
    }
    assert!(busy_p99 <= Duration::from_millis(50), "busy p99 {busy_p99:?}");
    // The wait is enforced (a job not started in time is answered busy); what the clients see
    // beyond it is the job's own run, slower under this load than unloaded: bounded generously.
    let bound = wait + unloaded * 4;
    assert!(ok_p99 <= bound, "accepted p99 {ok_p99:?}, over --max-queue-wait {wait:?} + 4 x {unloaded:?}");
    // Jobs admitted in the first burst, before any had run, may start late (and are answered
    // busy then); once run times are known, admission keeps that to a few percent on a quiet
    // machine (a shared one slows jobs down under the estimates: up to ~10% seen).
    let (late_warm, accepted_warm) = (load.late_warm, load.accepted_warm.len());
    assert!(
        late_warm * 4 <= accepted_warm,
        "{late_warm} jobs not started in time for {accepted_warm} accepted after the warm-up: admission overfills the queue"
    );
}

/// Issue 21's "16 KB request with 8 outputs of 3600x3600 from a small PNG": eight lossless-quality
/// WebP outputs of noise (about a second of encoding each on the 2-core VM) stop at the run-time
/// limit, overrun by at most one output's unchecked encode, while the other worker answers.
/// FERRY_OVERLOAD_{JOB_TIME,OUT_SIDE,OUTPUTS,IN_SIDE} change it for ad-hoc measurement.
#[test]
#[ignore = "judges latency, so it runs alone: make test runs it after the parallel suite"]
fn eight_large_outputs_of_a_small_png_stop_at_the_run_time_limit() {
    let limit = Duration::from_secs(knob("JOB_TIME", 1));
    let daemon = Daemon::start(&["--workers", "2", "--max-job-time", &format!("{}s", limit.as_secs())]);
    let side = knob("OUT_SIDE", 3600);
    let output = Value::Map(vec![
        (Value::from("width"), Value::from(side)),
        (Value::from("height"), Value::from(side)),
        (Value::from("format"), Value::from("webp")),
        (Value::from("quality"), Value::from(100)),
    ]);
    let image = noise_png(knob("IN_SIDE", 64) as u32);
    let outputs = Value::Array(vec![output; knob("OUTPUTS", 8) as usize]);
    let body = request(1, "resize", vec![("image", bin(&image)), ("outputs", outputs)]);
    let mut client = daemon.connect();
    let sent = Instant::now();
    client.send(&body);
    let mut other = daemon.connect();
    other.expect_alive(2);
    other.call(&request(3, "checksum", vec![("data", bin(b"abc")), ("algorithms", Value::Array(vec![Value::from("crc32c")]))])).expect_ok();
    let reply = client.recv().expect_code(code::DEADLINE_EXCEEDED);
    let took = sent.elapsed();
    let message = reply.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    eprintln!("{} byte request, 8 outputs of {side}x{side}: deadline_exceeded after {took:?}: {message}", body.len());
    assert!(message.contains(&format!("max_job_time of {}s", limit.as_secs())), "{message}");
    assert!(took >= limit && took < limit + Duration::from_secs(3), "stopped after {took:?} for a {limit:?} limit");
}

/// A `side` x `side` RGB PNG of noise (compresses badly, so a small file holds many pixels).
fn noise_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    let mut state = 0x9e37_79b9u32;
    let pixels: Vec<u8> = (0..side * side * 3)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}
