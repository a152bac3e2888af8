//! ping, hello, stats: answered from the connection's task, with the values the flags set.

use rmpv::Value;

use crate::harness::{code, request, strs, vectors, Daemon};

fn message_frame(name: &str) -> Vec<u8> {
    let file = vectors("messages.json");
    let msg = file["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"));
    hex::decode(msg["canonical"].as_str().unwrap()).unwrap()
}

#[test]
fn ping_vector_gets_the_canonical_reply_bytes() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    client.send_raw(&message_frame("ping_request"));
    assert_eq!(client.recv_frame().unwrap(), message_frame("ping_reply"));
    // The largest id and timeout the protocol allows.
    client.send_raw(&message_frame("ping_request_large_id"));
    assert_eq!(client.recv().expect_ok().id(), u64::MAX);
}

#[test]
fn hello_reports_the_limits_in_force() {
    let daemon = Daemon::start(&[
        "--workers",
        "3",
        "--queue-jobs",
        "17",
        "--queue-bytes",
        "5MiB",
        "--max-frame",
        "4MiB",
        "--max-pixels",
        "1000000",
        "--max-dimension",
        "2000",
    ]);
    let mut client = daemon.connect();
    client.send_raw(&message_frame("hello_request"));
    let hello = client.recv().expect_ok();
    assert_eq!(hello.id(), 1);
    assert_eq!(hello.uint("version"), 1);
    assert_eq!(hello.get("server").and_then(Value::as_str), Some(concat!("ferryd ", env!("CARGO_PKG_VERSION"))));
    assert_eq!(hello.uint("max_frame"), 4 << 20);
    assert_eq!(hello.uint("max_pixels"), 1_000_000);
    assert_eq!(hello.uint("max_dimension"), 2000);
    assert_eq!(hello.uint("workers"), 3);
    assert_eq!(hello.uint("queue_jobs"), 17);
    assert_eq!(hello.uint("queue_bytes"), 5 << 20);
    let list = |key: &str| -> Vec<String> {
        hello.get(key).and_then(Value::as_array).unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(list("ops"), ["hello", "ping", "resize", "checksum", "stats", "cancel", "checksum_file", "resize_file", "probe"]);
    assert_eq!(list("input_formats"), ["jpeg", "png", "webp", "gif", "heic", "avif"]);
    assert_eq!(list("output_formats"), ["jpeg", "png", "webp", "avif"]);
    assert_eq!(list("modes"), ["fit", "fill", "exact"]);
    assert_eq!(list("filters"), ["nearest", "bilinear", "catmull_rom", "lanczos3"]);
    assert_eq!(list("algorithms"), ["crc32c", "xxh3_64", "sha256", "blake3"]);
    // A client that also speaks a future version gets the common one.
    let reply =
        client.call(&request(2, "hello", vec![("versions", Value::Array(vec![Value::from(7), Value::from(1)]))]));
    assert_eq!(reply.expect_ok().uint("version"), 1);
    // No common version: unsupported_version, the connection stays usable.
    let reply = client.call(&request(3, "hello", vec![("versions", Value::Array(vec![Value::from(2)]))]));
    assert_eq!(reply.expect_code(code::UNSUPPORTED_VERSION).id(), 3);
    client.expect_alive(4);
}

#[test]
fn requests_are_served_without_hello() {
    let daemon = Daemon::start(&[]);
    let mut client = daemon.connect();
    let reply = client.call(&request(
        5,
        "checksum",
        vec![("data", crate::harness::bin(b"123456789")), ("algorithms", strs(&["crc32c"]))],
    ));
    assert_eq!(reply.expect_ok().id(), 5);
}

#[test]
fn stats_counts_what_happened() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let mut first = daemon.connect();
    let _second = daemon.connect();
    for id in 1..=3 {
        first.call(&request(id, "ping", vec![])).expect_ok();
    }
    first.call(&request(4, "transmogrify", vec![])).expect_code(code::UNKNOWN_OP);
    first
        .call(&request(5, "checksum", vec![("data", crate::harness::bin(b"x")), ("algorithms", strs(&["md5"]))]))
        .expect_code(code::INVALID_ARGUMENT);
    first
        .call(&request(6, "checksum", vec![("data", crate::harness::bin(b"x")), ("algorithms", strs(&["sha256"]))]))
        .expect_ok();
    first.send_raw(&[0, 0, 0, 0]); // malformed, no id
    first.recv().expect_code(code::MALFORMED);
    // Until the start-up probe's connection is reaped there are three (every ask is a request,
    // counted below).
    let (stats, asks) = first.stats_once_connections_are(7, 2);
    let stats = stats.expect_ok();
    assert_eq!(stats.id(), 7);
    assert_eq!(stats.get("server").and_then(Value::as_str), Some(concat!("ferryd ", env!("CARGO_PKG_VERSION"))));
    assert_eq!(stats.uint("connections"), 2);
    assert_eq!(stats.uint("requests_total"), 6 + asks);
    assert_eq!(stats.uint("errors_total"), 3);
    assert_eq!(stats.uint("busy_total"), 0);
    assert_eq!(stats.uint("jobs_running"), 0);
    assert_eq!(stats.uint("jobs_queued"), 0);
    assert_eq!(stats.uint("queued_bytes"), 0);
    assert_eq!(stats.uint("workers"), 2);
    let by_op: Vec<(String, u64)> = stats
        .get("requests_by_op")
        .and_then(Value::as_map)
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.as_u64().unwrap()))
        .collect();
    let mut want = vec![("ping".to_string(), 3), ("checksum".to_string(), 2)];
    if asks > 1 {
        want.push(("stats".to_string(), asks - 1)); // the asks answered before this one
    }
    assert_eq!(by_op, want);
    let uptime = stats.uint("uptime_ms");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(first.call(&request(8, "stats", vec![])).uint("uptime_ms") >= uptime + 20);
}
