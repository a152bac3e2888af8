//! Many requests in flight on one connection: every id answered exactly once, replies in
//! completion order rather than request order, results routed to the right id.

use std::collections::HashMap;

use rmpv::Value;

use crate::harness::{bin, code, painted, request, slow_job, strs, vectors, Daemon};

#[test]
fn hundreds_of_pipelined_requests_each_get_their_own_reply() {
    // A queue deep enough for all of them, and a queue wait long enough on a loaded machine:
    // this test is about routing, not `busy`.
    let daemon = Daemon::start(&["--workers", "2", "--queue-jobs", "1000", "--max-queue-wait", "120"]);
    let file = vectors("checksums.json");
    let cases = file["checksums"].as_array().unwrap();
    let mut client = daemon.connect();
    // id 1: a long job first. Then 150 checksums (each a published vector, so a reply routed to
    // the wrong id shows up as a wrong digest) interleaved with 150 pings, all in one write.
    let mut bytes = Vec::new();
    let mut frame = |body: Vec<u8>| {
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
        bytes.extend(body);
    };
    frame(slow_job(1, vec![]));
    let mut expected_digest = HashMap::new();
    for n in 0..150u64 {
        let case = &cases[n as usize % cases.len()];
        let id = 1000 + n;
        let data = painted(case["length"].as_u64().unwrap() as usize);
        frame(request(
            id,
            "checksum",
            vec![("data", bin(&data)), ("algorithms", strs(&[case["algorithm"].as_str().unwrap()]))],
        ));
        expected_digest.insert(id, case["digest"].as_str().unwrap().to_string());
        frame(request(5000 + n, "ping", vec![]));
    }
    client.send_raw(&bytes);

    let mut order = Vec::new();
    for _ in 0..301 {
        let reply = client.recv().expect_ok();
        let id = reply.id();
        if let Some(want) = expected_digest.get(&id) {
            let digests = reply.get("digests").and_then(Value::as_map).unwrap();
            assert_eq!(&hex::encode(digests[0].1.as_slice().unwrap()), want, "digest for id {id}");
        }
        order.push(id);
    }
    let mut sorted = order.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 301, "every id exactly once");
    // The long job was sent first and answered last: replies follow completion, not requests.
    assert_eq!(*order.last().unwrap(), 1, "id 1 (the long job) should finish last; order: {order:?}");
    client.expect_alive(9);
}

#[test]
fn an_id_already_in_flight_is_refused_and_the_first_is_unaffected() {
    let daemon = Daemon::start(&["--workers", "1"]);
    let mut client = daemon.connect();
    client.send(&slow_job(5, vec![]));
    client.send(&request(5, "checksum", vec![("data", bin(b"x")), ("algorithms", strs(&["crc32c"]))]));
    client.send(&request(5, "ping", vec![]));
    let first = client.recv().expect_code(code::INVALID_ARGUMENT);
    let second = client.recv().expect_code(code::INVALID_ARGUMENT);
    assert_eq!((first.id(), second.id()), (5, 5));
    let original = client.recv().expect_ok();
    assert_eq!(original.id(), 5);
    assert_eq!(original.uint("width"), 64, "the first request's own result");
    // Once answered, the id is free again.
    assert_eq!(client.call(&request(5, "ping", vec![])).expect_ok().id(), 5);
}

#[test]
fn connections_are_independent() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let mut bad = daemon.connect();
    let mut good = daemon.connect();
    good.send(&slow_job(1, vec![]));
    bad.send_raw(&[0xff, 0xff, 0xff, 0xff]);
    bad.recv().expect_code(code::FRAME_TOO_LARGE);
    bad.expect_eof();
    assert_eq!(good.recv().expect_ok().id(), 1);
    good.expect_alive(2);
}
