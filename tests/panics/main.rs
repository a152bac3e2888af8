//! Panic isolation, proven on the real daemon: 1,000 jobs that panic on purpose (the
//! `fault-injection` feature: an input starting with the magic string) interleaved with normal
//! jobs over several connections. Every panic is answered `internal`, every normal job's reply
//! is checked against references that do not come from this crate (digests from
//! protocol/vectors/checksums.json, thumbnails decoded by the `image` crate), and the process
//! that served them all is the one that was started.
//!
//! Built only with `cargo test --release --locked --features fault-injection --test panics`
//! (`required-features` keeps it out of a plain `cargo test`).

#[allow(dead_code)]
#[path = "../daemon/harness.rs"]
mod harness;

use std::collections::HashMap;
use std::io::Cursor;

use harness::{bin, painted, photo, request, strs, Client, Daemon, Reply};
use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use rmpv::Value;

/// What `jobs::fault::PANIC_MAGIC` is (written out, so that a change on either side shows up).
const PANIC_MAGIC: &[u8] = b"FERRY-FAULT:panic";
const INTERNAL: u64 = 12;
const CONNECTIONS: usize = 4;
const PANICS_PER_CONNECTION: usize = 250;
/// Requests a connection keeps in flight; all connections together stay under the default
/// queue bound (64 jobs), so no reply may be `busy`.
const WINDOW: usize = 8;

/// A request and what its reply must be.
#[derive(Clone, Debug)]
enum Job {
    /// Input starting with the magic: must be answered `internal`.
    Panic { op: &'static str, body_len: usize },
    /// A checksum with its published digest.
    Checksum { length: usize, algorithm: String, digest: String },
    /// A resize in mode `exact`: the output must decode as `format` at exactly `width x height`.
    Resize { input: usize, width: u32, height: u32, format: &'static str },
}

/// The inputs normal resize jobs use: small generated images in each decoded format, and a photo.
fn resize_inputs() -> Vec<Vec<u8>> {
    let painted = RgbaImage::from_fn(64, 48, |x, y| Rgba([(x * 4) as u8, (y * 5) as u8, ((x + y) * 3) as u8, 255]));
    let encode = |image: DynamicImage, format: ImageFormat| {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).expect("encode a test input");
        out.into_inner()
    };
    vec![
        encode(DynamicImage::ImageRgba8(painted.clone()), ImageFormat::Png),
        encode(DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(painted.clone()).to_rgb8()), ImageFormat::Jpeg),
        encode(DynamicImage::ImageRgba8(painted.clone()), ImageFormat::WebP),
        encode(DynamicImage::ImageRgba8(painted), ImageFormat::Gif),
        photo("rocket.jpg"),
    ]
}

/// Published digests of painted inputs up to 64 KiB + 1, as (length, algorithm, hex digest).
fn checksum_cases() -> Vec<(usize, String, String)> {
    let file = harness::vectors("checksums.json");
    let cases: Vec<(usize, String, String)> = file["checksums"]
        .as_array()
        .expect("checksums array")
        .iter()
        .map(|c| {
            (
                c["length"].as_u64().unwrap() as usize,
                c["algorithm"].as_str().unwrap().to_string(),
                c["digest"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(length, _, _)| *length <= 65537)
        .collect();
    assert!(cases.len() >= 8, "too few checksum vectors: {cases:?}");
    cases
}

/// The jobs of connection `conn`: panics and normal jobs alternating, the panics alternating
/// between resize and checksum.
fn schedule(conn: usize, inputs: usize, checksums: &[(usize, String, String)]) -> Vec<Job> {
    let boxes = [(32, 24, "png"), (17, 9, "jpeg"), (40, 40, "webp"), (1, 1, "png"), (64, 7, "jpeg")];
    let mut jobs = Vec::new();
    for i in 0..PANICS_PER_CONNECTION {
        let k = conn * PANICS_PER_CONNECTION + i;
        let op = if k % 2 == 0 { "resize" } else { "checksum" };
        jobs.push(Job::Panic { op, body_len: PANIC_MAGIC.len() + k % 300 });
        jobs.push(if k % 3 == 0 {
            let (width, height, format) = boxes[k % boxes.len()];
            Job::Resize { input: k % inputs, width, height, format }
        } else {
            let (length, algorithm, digest) = checksums[k % checksums.len()].clone();
            Job::Checksum { length, algorithm, digest }
        });
    }
    jobs
}

fn encode(id: u64, job: &Job, inputs: &[Vec<u8>]) -> Vec<u8> {
    match job {
        Job::Panic { op, body_len } => {
            let mut payload = PANIC_MAGIC.to_vec();
            payload.extend(painted(body_len - PANIC_MAGIC.len()));
            match *op {
                "resize" => request(id, "resize", vec![("image", bin(&payload)), ("width", Value::from(16))]),
                _ => request(id, "checksum", vec![("data", bin(&payload)), ("algorithms", strs(&["crc32c"]))]),
            }
        }
        Job::Checksum { length, algorithm, .. } => {
            request(id, "checksum", vec![("data", bin(&painted(*length))), ("algorithms", strs(&[algorithm]))])
        }
        Job::Resize { input, width, height, format } => request(
            id,
            "resize",
            vec![
                ("image", bin(&inputs[*input])),
                ("width", Value::from(*width)),
                ("height", Value::from(*height)),
                ("mode", Value::from("exact")),
                ("format", Value::from(*format)),
            ],
        ),
    }
}

/// Fails the test unless `reply` is what `job` must get.
fn check(job: &Job, reply: &Reply) {
    match job {
        Job::Panic { op, .. } => {
            assert_eq!(reply.code(), Some(INTERNAL), "injected {op} panic: {reply:?}");
        }
        Job::Checksum { length, algorithm, digest } => {
            assert!(reply.ok(), "checksum {algorithm} of {length} bytes: {reply:?}");
            let digests = reply.get("digests").and_then(Value::as_map).expect("digests map");
            assert_eq!(digests.len(), 1);
            assert_eq!(digests[0].0.as_str(), Some(algorithm.as_str()));
            assert_eq!(&hex::encode(digests[0].1.as_slice().expect("a bin digest")), digest, "{algorithm} of {length}");
        }
        Job::Resize { input, width, height, format } => {
            assert!(reply.ok(), "resize of input {input} to {width}x{height} {format}: {reply:?}");
            assert_eq!((reply.uint("width"), reply.uint("height")), (u64::from(*width), u64::from(*height)));
            let bytes = reply.get("image").and_then(Value::as_slice).expect("a bin image");
            let kind = image::guess_format(bytes).expect("a known output format");
            let expected_kind = match *format {
                "png" => ImageFormat::Png,
                "jpeg" => ImageFormat::Jpeg,
                _ => ImageFormat::WebP,
            };
            assert_eq!(kind, expected_kind);
            let decoded = image::load_from_memory(bytes).expect("the output decodes");
            assert_eq!((decoded.width(), decoded.height()), (*width, *height), "decoded size of input {input}");
        }
    }
}

/// Runs `jobs` on `client`, at most [`WINDOW`] in flight, checking every reply; returns how
/// many replies were checked.
fn run(client: &mut Client, jobs: &[Job], inputs: &[Vec<u8>]) -> usize {
    let mut in_flight: HashMap<u64, &Job> = HashMap::new();
    let mut next = 0;
    let mut checked = 0;
    while checked < jobs.len() {
        while next < jobs.len() && in_flight.len() < WINDOW {
            let id = next as u64 + 1;
            client.send(&encode(id, &jobs[next], inputs));
            in_flight.insert(id, &jobs[next]);
            next += 1;
        }
        let reply = client.recv();
        let job = in_flight.remove(&reply.id()).unwrap_or_else(|| panic!("reply to no request in flight: {reply:?}"));
        check(job, &reply);
        checked += 1;
    }
    checked
}

/// The process's state letter from /proc/PID/stat (`R`, `S`, ...; `Z` once it has died).
fn proc_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}: the daemon process is gone"));
    // The command name in parentheses may hold spaces; the state follows the last ')'.
    stat[stat.rfind(')').expect("stat has a comm field") + 1..].trim_start().chars().next().unwrap()
}

#[test]
fn a_thousand_panics_leave_the_daemon_serving_and_every_other_job_correct() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let pid = daemon.pid();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("the daemon's executable");

    // Without the feature, the magic is only a bad image: say so rather than fail obscurely.
    let first = daemon.connect().call(&encode(1, &Job::Panic { op: "resize", body_len: 40 }, &[]));
    assert_eq!(
        first.code(),
        Some(INTERNAL),
        "the magic input did not panic ({first:?}); was ferryd built with --features fault-injection?"
    );

    let inputs = resize_inputs();
    let checksums = checksum_cases();
    let checked: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|conn| {
                let (inputs, checksums, daemon) = (&inputs, &checksums, &daemon);
                scope.spawn(move || {
                    let jobs = schedule(conn, inputs.len(), checksums);
                    run(&mut daemon.connect(), &jobs, inputs)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a connection's checks failed")).sum()
    });
    assert_eq!(checked, CONNECTIONS * PANICS_PER_CONNECTION * 2);

    // The same process, alive and not a zombie, still serves a new connection.
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "/proc/{pid} is gone");
    assert_ne!(proc_state(pid), 'Z', "the daemon exited");
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(), exe);
    let mut client = daemon.connect();
    client.expect_alive(1);
    let stats = client.call(&request(2, "stats", vec![]));
    let panics = (CONNECTIONS * PANICS_PER_CONNECTION + 1) as u64;
    assert!(stats.uint("errors_total") >= panics, "errors_total below the panics sent: {stats:?}");
    // Every panic went through the daemon's panic hook (one `ferryd::panic` log line), no more.
    let log = daemon.log();
    let logged = log.lines().filter(|l| l.contains("ferryd::panic") && l.contains("fault injection")).count();
    assert_eq!(logged as u64, panics, "panic lines in the log");
}
