//! Files by descriptor (SPEC.md 5.7): `checksum_file` and `resize_file` with a real `sendmsg`
//! carrying `SCM_RIGHTS`; each descriptor bound to the frame whose bytes it came with (split
//! frames, pipelined frames, descriptors on the wrong frame), `bad_file`, the limit on waiting
//! descriptors, and no descriptor left open in the daemon afterwards.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use rmpv::Value;

use crate::harness::{bin, code, painted, photo, request, short_tempdir, strs, Daemon, Reply, PATIENCE};

const ALL: [&str; 4] = ["crc32c", "xxh3_64", "sha256", "blake3"];

fn temp_file(bytes: &[u8]) -> (tempfile::TempDir, File) {
    let dir = short_tempdir();
    let path = dir.path().join("input");
    File::create(&path).unwrap().write_all(bytes).unwrap();
    (dir, File::open(&path).unwrap())
}

/// Descriptors the daemon holds when idle: counted once the readiness probe's connection is
/// surely closed (it is accepted and closed asynchronously).
fn baseline_fds(daemon: &Daemon) -> usize {
    std::thread::sleep(Duration::from_millis(300));
    open_fds(daemon)
}

/// Descriptors the daemon has open now.
fn open_fds(daemon: &Daemon) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", daemon.pid())).unwrap().count()
}

/// Waits until the daemon has `want` descriptors open (closing follows a reply or a hang-up
/// by a moment), failing the test after [`PATIENCE`].
fn wait_open_fds(daemon: &Daemon, want: usize) {
    let start = Instant::now();
    loop {
        let now = open_fds(daemon);
        if now == want {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "the daemon has {now} descriptors open, expected {want}: a leak");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn digests(reply: &crate::harness::Reply) -> Value {
    reply.get("digests").cloned().expect("a digests map")
}

#[test]
fn checksum_file_equals_checksum_of_the_same_bytes_and_each_request_takes_its_own_file() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let mut client = daemon.connect();
    // Two files, the first many read chunks long, sent back to back: FIFO order.
    let first = painted(9 * 1024 * 1024 + 17);
    let second = b"a small second file".to_vec();
    let (_d1, f1) = temp_file(&first);
    let (_d2, f2) = temp_file(&second);
    client.send_with_fds(&request(1, "checksum_file", vec![("algorithms", strs(&ALL))]), &[f1.as_raw_fd()]);
    client.send_with_fds(&request(2, "checksum_file", vec![("algorithms", strs(&ALL))]), &[f2.as_raw_fd()]);
    let mut replies = [client.recv().expect_ok(), client.recv().expect_ok()];
    replies.sort_by_key(|r| r.id());
    for (reply, bytes) in replies.iter().zip([&first, &second]) {
        let want = client
            .call(&request(10 + reply.id(), "checksum", vec![("data", bin(bytes)), ("algorithms", strs(&ALL))]))
            .expect_ok();
        assert_eq!(digests(reply), digests(&want), "file {} digests", reply.id());
    }
    // The client's own descriptor is untouched: its offset did not move.
    assert_eq!(nix_offset(&f1), 0);
}

fn nix_offset(file: &File) -> u64 {
    use std::io::Seek;
    let mut file = file;
    file.stream_position().unwrap()
}

#[test]
fn resize_file_equals_resize_of_the_same_bytes() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let mut client = daemon.connect();
    let jpeg = photo("rocket.jpg");
    let (_dir, file) = temp_file(&jpeg);
    let fields = || vec![("width", Value::from(120)), ("height", Value::from(90)), ("mode", Value::from("fill"))];
    client.send_with_fds(&request(1, "resize_file", fields()), &[file.as_raw_fd()]);
    let by_file = client.recv().expect_ok();
    let mut with_image = fields();
    with_image.insert(0, ("image", bin(&jpeg)));
    let by_bytes = client.call(&request(2, "resize", with_image)).expect_ok();
    for key in ["image", "width", "height", "format", "source_width", "source_height", "source_format"] {
        assert_eq!(by_file.get(key), by_bytes.get(key), "{key}");
    }
}

#[test]
fn resize_file_with_several_outputs_equals_resize_with_them() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let mut client = daemon.connect();
    let jpeg = photo("rocket.jpg");
    let (_dir, file) = temp_file(&jpeg);
    let box_of = |side: u32, format: &str| {
        Value::Map(vec![("width".into(), side.into()), ("height".into(), side.into()), ("format".into(), format.into())])
    };
    let outputs = || Value::Array(vec![box_of(320, "jpeg"), box_of(160, "webp"), box_of(48, "png")]);
    client.send_with_fds(&request(1, "resize_file", vec![("outputs", outputs())]), &[file.as_raw_fd()]);
    let by_file = client.recv().expect_ok();
    let by_bytes = client.call(&request(2, "resize", vec![("image", bin(&jpeg)), ("outputs", outputs())])).expect_ok();
    for key in ["outputs", "source_width", "source_height", "source_format"] {
        assert_eq!(by_file.get(key), by_bytes.get(key), "{key}");
    }
    assert_eq!(by_file.get("outputs").and_then(Value::as_array).map(Vec::len), Some(3));
}

#[test]
fn resize_file_over_max_frame_is_image_too_large() {
    let daemon = Daemon::start(&["--workers", "1", "--max-frame", "1048576"]);
    let mut client = daemon.connect();
    let (_dir, file) = temp_file(&vec![0xff; 1024 * 1024 + 1]);
    client.send_with_fds(&request(3, "resize_file", vec![("width", 10.into())]), &[file.as_raw_fd()]);
    client.recv().expect_code(7);
    client.expect_alive(4);
}

#[test]
fn a_pipe_a_directory_a_socket_or_no_descriptor_is_bad_file_and_the_connection_stays_open() {
    let daemon = Daemon::start(&["--workers", "1"]);
    let fds_before = baseline_fds(&daemon);
    let mut client = daemon.connect();
    let (pipe_read, _pipe_write) = std::io::pipe().unwrap();
    let dir = File::open(std::env::temp_dir()).unwrap();
    let (socket, _other) = std::os::unix::net::UnixStream::pair().unwrap();
    let body = |id| request(id, "checksum_file", vec![("algorithms", strs(&["blake3"]))]);
    for (id, fd) in [(1, pipe_read.as_raw_fd()), (2, dir.as_raw_fd()), (3, socket.as_raw_fd())] {
        client.send_with_fds(&body(id), &[fd]);
        let reply = client.recv().expect_code(15);
        assert_eq!(reply.id(), id);
    }
    let reply = client.call(&body(4)).expect_code(15);
    assert_eq!(reply.id(), 4);
    let resize = client.call(&request(5, "resize_file", vec![("width", 10.into())])).expect_code(15);
    assert_eq!(resize.id(), 5);
    client.expect_alive(6);
    drop(client);
    wait_open_fds(&daemon, fds_before);
}

#[test]
fn descriptors_on_frames_that_take_none_are_refused_and_never_reach_the_next_file_frame() {
    let daemon = Daemon::start(&["--workers", "1"]);
    let fds_before = baseline_fds(&daemon);
    let (_dir, file) = temp_file(b"the wrong file");
    let mut client = daemon.connect();
    let file_frame = |id| request(id, "checksum_file", vec![("algorithms", strs(&["blake3"]))]);
    // A *_file frame whose id cannot be read: malformed, id 0; its descriptor is closed with it.
    let mut unreadable = Vec::new();
    let pairs = vec![("id".into(), "x".into()), ("op".into(), "checksum_file".into()), ("algorithms".into(), strs(&["blake3"]))];
    rmpv::encode::write_value(&mut unreadable, &Value::Map(pairs)).unwrap();
    client.send_with_fds(&unreadable, &[file.as_raw_fd()]);
    let reply = client.recv();
    assert_eq!((reply.id(), reply.code()), (0, Some(code::MALFORMED)), "{reply:?}");
    assert_eq!(client.call(&file_frame(2)).expect_code(code::BAD_FILE).id(), 2, "not the earlier frame's file");
    // A ping with a descriptor: bad_file with the ping's id, and the next file frame has none.
    client.send_with_fds(&request(3, "ping", vec![]), &[file.as_raw_fd()]);
    assert_eq!(client.recv().expect_code(code::BAD_FILE).id(), 3);
    assert_eq!(client.call(&file_frame(4)).expect_code(code::BAD_FILE).id(), 4);
    // Nine pings each with a descriptor: each refused on its own, the connection stays open.
    for id in 10..19 {
        client.send_with_fds(&request(id, "ping", vec![]), &[file.as_raw_fd()]);
        assert_eq!(client.recv().expect_code(code::BAD_FILE).id(), id);
    }
    // A cancel with a descriptor: closed, never answered.
    client.send_with_fds(&request(20, "cancel", vec![]), &[file.as_raw_fd()]);
    client.expect_alive(21);
    // Two descriptors in one SCM_RIGHTS message for one file frame: refused, both closed.
    client.send_with_fds(&file_frame(22), &[file.as_raw_fd(), file.as_raw_fd()]);
    let message = client.recv().expect_code(code::BAD_FILE);
    assert_eq!(message.id(), 22);
    assert!(message.get("message").and_then(Value::as_str).unwrap().contains("2 descriptors"), "{message:?}");
    // Two descriptors on one frame in two writes (the prefix with one, the body with another).
    let body = file_frame(23);
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    client.send_raw_with_fds(&frame[..4], &[file.as_raw_fd()]);
    std::thread::sleep(Duration::from_millis(20));
    client.send_raw_with_fds(&frame[4..], &[file.as_raw_fd()]);
    assert_eq!(client.recv().expect_code(code::BAD_FILE).id(), 23);
    client.expect_alive(24);
    drop(client);
    wait_open_fds(&daemon, fds_before);
}

#[test]
fn more_than_eight_descriptors_waiting_for_one_frame_close_the_connection() {
    let daemon = Daemon::start(&["--workers", "1"]);
    let fds_before = baseline_fds(&daemon);
    let (_dir, file) = temp_file(b"x");
    let mut client = daemon.connect();
    // A frame whose body trickles in one byte per write, each write with a descriptor: the
    // ninth waiting descriptor breaks the rules before the frame completes.
    let body = request(1, "checksum_file", vec![("algorithms", strs(&["blake3"]))]);
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    client.send_raw(&frame[..4]);
    for byte in &frame[4..13] {
        client.send_raw_with_fds(std::slice::from_ref(byte), &[file.as_raw_fd()]);
        std::thread::sleep(Duration::from_millis(5));
    }
    let reply = client.recv();
    assert_eq!((reply.id(), reply.code()), (0, Some(code::MALFORMED)), "{reply:?}");
    client.expect_eof();
    daemon.connect().expect_alive(100);
    wait_open_fds(&daemon, fds_before);
}

#[test]
fn truncated_control_data_refuses_its_frame_and_the_connection_serves_on() {
    let daemon = Daemon::start(&["--workers", "1"]);
    let fds_before = baseline_fds(&daemon);
    let (_dir, file) = temp_file(b"x");
    let mut client = daemon.connect();
    // 40 descriptors in one message: more than the daemon's control buffer holds (MSG_CTRUNC).
    let fds = vec![file.as_raw_fd(); 40];
    client.send_with_fds(&request(1, "checksum_file", vec![("algorithms", strs(&["blake3"]))]), &fds);
    let reply = client.recv().expect_code(code::BAD_FILE);
    assert_eq!(reply.id(), 1);
    client.expect_alive(2);
    drop(client);
    wait_open_fds(&daemon, fds_before);
}

/// What a split descriptor frame's reply said.
#[derive(Debug, PartialEq)]
enum Outcome {
    OwnFile,
    OtherFile,
    Error(u64),
}

/// Sends `count` `checksum_file` frames on one connection, alternating two files, each frame
/// split at a random point (its first part carries the descriptor) with a random pause before
/// the rest (none when not `pauses`: then the rest is often queued before the daemon reads the
/// first part, which stalled half of them before issue 18), in pipelined batches of one to four;
/// returns each frame's outcome (a missing reply fails the test after [`PATIENCE`]).
fn split_descriptor_frames(daemon: &Daemon, count: u64, seed: u64, pauses: bool) -> Vec<Outcome> {
    let contents = [painted(20_000), painted(20_001)];
    let files: Vec<(tempfile::TempDir, File)> = contents.iter().map(|c| temp_file(c)).collect();
    let mut client = daemon.connect();
    let want: Vec<Value> = contents
        .iter()
        .map(|c| digests(&client.call(&request(1, "checksum", vec![("data", bin(c)), ("algorithms", strs(&["crc32c"]))]))))
        .collect();
    let mut rng = seed;
    let mut next = move |below: u64| {
        // xorshift64*: reproducible from the seed, no dependency.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % below
    };
    let mut outcomes = Vec::new();
    let mut id = 0;
    while id < count {
        let batch = (1 + next(4)).min(count - id);
        let mut sent = std::collections::HashMap::new();
        for _ in 0..batch {
            id += 1;
            let which = (id % 2) as usize;
            let body = request(id, "checksum_file", vec![("algorithms", strs(&["crc32c"]))]);
            let mut frame = (body.len() as u32).to_be_bytes().to_vec();
            frame.extend_from_slice(&body);
            let split = 1 + next(frame.len() as u64 - 1) as usize;
            client.send_raw_with_fds(&frame[..split], &[files[which].1.as_raw_fd()]);
            match next(4) {
                _ if !pauses => {}
                0 => {}
                1 => std::thread::yield_now(),
                2 => std::thread::sleep(Duration::from_micros(next(2000))),
                _ => std::thread::sleep(Duration::from_millis(next(15))),
            }
            client.send_raw(&frame[split..]);
            sent.insert(id, which);
        }
        for _ in 0..batch {
            let reply: Reply = client.recv();
            let which = sent.remove(&reply.id()).unwrap_or_else(|| panic!("a reply to no frame: {reply:?}"));
            outcomes.push(match reply.code() {
                Some(code) => Outcome::Error(code),
                None if digests(&reply) == want[which] => Outcome::OwnFile,
                None => Outcome::OtherFile,
            });
        }
    }
    outcomes
}

/// The bounded version of `make soak`'s 1,000 (scripts/soak-limits.py, case splitfd).
#[test]
fn descriptor_frames_split_at_random_points_are_all_answered_with_their_own_file() {
    let daemon = Daemon::start(&["--workers", "1"]);
    let fds_before = baseline_fds(&daemon);
    for pauses in [true, false] {
        let outcomes = split_descriptor_frames(&daemon, 100, 18, pauses);
        let own = outcomes.iter().filter(|o| **o == Outcome::OwnFile).count();
        let others: Vec<_> = outcomes.iter().filter(|o| **o != Outcome::OwnFile).collect();
        assert_eq!(own, 100, "pauses {pauses}: not all answered with their own file: {others:?}");
    }
    wait_open_fds(&daemon, fds_before);
}

#[test]
fn no_descriptor_is_left_open_after_requests_are_answered_or_connections_close() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let fds_before = baseline_fds(&daemon);
    let (_d1, data) = temp_file(&painted(3 * 1024 * 1024));
    let (_d2, jpeg) = temp_file(&photo("rocket.jpg"));
    let (_d3, junk) = temp_file(b"not an image");
    let mut client = daemon.connect();
    for id in 1..=5 {
        client.send_with_fds(&request(id, "checksum_file", vec![("algorithms", strs(&ALL))]), &[data.as_raw_fd()]);
        client.recv().expect_ok();
    }
    client.send_with_fds(&request(6, "resize_file", vec![("width", 32.into())]), &[jpeg.as_raw_fd()]);
    client.recv().expect_ok();
    client.send_with_fds(&request(7, "resize_file", vec![("width", 32.into())]), &[junk.as_raw_fd()]);
    client.recv().expect_code(6);
    // An invalid algorithm (refused before the job) and an expired deadline still close theirs.
    client.send_with_fds(&request(8, "checksum_file", vec![("algorithms", strs(&["md5"]))]), &[data.as_raw_fd()]);
    client.recv().expect_code(4);
    let expired = vec![("timeout_ms", 0.into()), ("algorithms", strs(&["blake3"]))];
    client.send_with_fds(&request(9, "checksum_file", expired), &[data.as_raw_fd()]);
    client.recv().expect_code(8);
    // The connection is still one descriptor; the files are all closed already.
    wait_open_fds(&daemon, fds_before + 1);
    // Descriptors on frames that take none are closed with their refusal.
    let mut other = daemon.connect();
    for id in 1..=3 {
        other.send_with_fds(&request(id, "ping", vec![]), &[data.as_raw_fd()]);
        other.recv().expect_code(code::BAD_FILE);
    }
    drop(other);
    drop(client);
    wait_open_fds(&daemon, fds_before);
}
