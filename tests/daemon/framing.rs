//! Frames at the edges: split across writes, empty, exactly at and just over `max_frame`,
//! truncated by end of stream, and end of stream with requests still in flight.

use crate::harness::{bin, code, painted, request, slow_job, strs, Daemon};

#[test]
fn a_frame_written_byte_by_byte_is_read_whole() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    let body = request(9, "ping", vec![]);
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend(&body);
    for byte in frame {
        client.send_raw(&[byte]);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(client.recv().expect_ok().id(), 9);
}

#[test]
fn empty_frames_are_malformed_and_the_connection_stays() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    client.send_raw(&[0, 0, 0, 0, 0, 0, 0, 0]);
    for _ in 0..2 {
        let reply = client.recv().expect_code(code::MALFORMED);
        assert_eq!(reply.id(), 0);
    }
    client.expect_alive(3);
}

#[test]
fn max_frame_is_inclusive_and_one_more_byte_closes() {
    let max = 64 * 1024;
    let daemon = Daemon::start(&["--max-frame", &max.to_string(), "--queue-bytes", "1MiB"]);
    // A checksum request padded to exactly max_frame bytes.
    let overhead =
        request(1, "checksum", vec![("data", bin(&painted(60_000))), ("algorithms", strs(&["crc32c"]))]).len() - 60_000;
    let body = request(1, "checksum", vec![("data", bin(&painted(max - overhead))), ("algorithms", strs(&["crc32c"]))]);
    assert_eq!(body.len(), max);
    let mut client = daemon.connect();
    assert_eq!(client.call(&body).expect_ok().id(), 1);
    // One byte over: answered from the prefix alone (no body is sent), id 0, then closed.
    client.send_raw(&((max as u32) + 1).to_be_bytes());
    let reply = client.recv().expect_code(code::FRAME_TOO_LARGE);
    assert_eq!(reply.id(), 0);
    client.expect_eof();
    daemon.connect().expect_alive(2);
}

#[test]
fn a_frame_cut_short_by_end_of_stream_is_discarded() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    client.send(&request(1, "ping", vec![]));
    // A prefix promising 100 bytes, then only 10 of them, then end of stream.
    client.send_raw(&[0, 0, 0, 100]);
    client.send_raw(&request(2, "ping", vec![])[..10]);
    client.shutdown_write();
    assert_eq!(client.recv().expect_ok().id(), 1);
    client.expect_eof();
    daemon.connect().expect_alive(3);
}

#[test]
fn end_of_stream_still_answers_requests_in_flight() {
    // The checksum waits behind the slow job: a queue wait long enough for a loaded machine.
    let daemon = Daemon::start(&["--workers", "1", "--max-queue-wait", "60"]);
    let mut client = daemon.connect();
    client.send(&slow_job(1, vec![]));
    client.send(&request(2, "checksum", vec![("data", bin(b"abc")), ("algorithms", strs(&["crc32c"]))]));
    client.shutdown_write();
    let mut ids: Vec<u64> = (0..2).map(|_| client.recv().expect_ok().id()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
    client.expect_eof();
}
