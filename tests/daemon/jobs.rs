//! Job results through the socket, checked against references that do not come from this
//! crate: checksum digests from protocol/vectors/checksums.json (computed by independent
//! implementations), thumbnails decoded by the `image` crate and measured.

use rmpv::Value;

use crate::harness::{bin, painted, photo, request, strs, Daemon};

#[test]
fn checksums_match_the_published_vectors() {
    // 52 jobs (17 MB) pipelined at once: on a loaded machine one descheduled run can teach the
    // cost model a rate that puts the last of them past the default 2 s queue wait, and this
    // test is about digests, not admission.
    let daemon = Daemon::start(&["--workers", "2", "--max-queue-wait", "120"]);
    let file = crate::harness::vectors("checksums.json");
    let cases = file["checksums"].as_array().unwrap();
    let mut client = daemon.connect();
    // All pipelined, then matched by id.
    for (i, case) in cases.iter().enumerate() {
        let data = painted(case["length"].as_u64().unwrap() as usize);
        client.send(&request(
            i as u64 + 1,
            "checksum",
            vec![("data", bin(&data)), ("algorithms", strs(&[case["algorithm"].as_str().unwrap()]))],
        ));
    }
    for _ in cases {
        let reply = client.recv().expect_ok();
        let case = &cases[reply.id() as usize - 1];
        let algorithm = case["algorithm"].as_str().unwrap();
        let digests = reply.get("digests").and_then(Value::as_map).expect("digests map");
        assert_eq!(digests.len(), 1);
        assert_eq!(digests[0].0.as_str(), Some(algorithm));
        let digest = hex::encode(digests[0].1.as_slice().expect("a bin digest"));
        assert_eq!(digest, case["digest"].as_str().unwrap(), "{algorithm} of {} bytes", case["length"]);
    }
}

#[test]
fn several_algorithms_in_one_request_come_back_in_request_order() {
    let daemon = Daemon::start(&[]);
    let file = crate::harness::vectors("checksums.json");
    let want = |algorithm: &str| {
        let case = file["checksums"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["algorithm"] == algorithm && c["length"] == 65537)
            .unwrap();
        case["digest"].as_str().unwrap().to_string()
    };
    let order = ["blake3", "crc32c", "sha256", "xxh3_64"];
    let mut client = daemon.connect();
    let reply = client
        .call(&request(1, "checksum", vec![("data", bin(&painted(65537))), ("algorithms", strs(&order))]))
        .expect_ok();
    let digests = reply.get("digests").and_then(Value::as_map).unwrap();
    let got: Vec<(String, String)> =
        digests.iter().map(|(k, v)| (k.as_str().unwrap().to_string(), hex::encode(v.as_slice().unwrap()))).collect();
    let expected: Vec<(String, String)> = order.iter().map(|a| (a.to_string(), want(a))).collect();
    assert_eq!(got, expected);
}

/// Sends a resize and returns (reply, decoded output).
fn resize(daemon: &Daemon, image: &[u8], fields: Vec<(&str, Value)>) -> (crate::harness::Reply, image::DynamicImage) {
    let mut all = vec![("image", bin(image))];
    all.extend(fields);
    let reply = daemon.connect().call(&request(1, "resize", all)).expect_ok();
    let output = reply.get("image").and_then(Value::as_slice).expect("a bin image").to_vec();
    let decoded = image::load_from_memory(&output).expect("the output decodes");
    (reply, decoded)
}

fn text<'a>(reply: &'a crate::harness::Reply, key: &str) -> &'a str {
    reply.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn resize_photos_in_each_mode_and_format() {
    let daemon = Daemon::start(&["--workers", "2"]);

    // rocket.jpg is 640x427: fit into 100x100 keeps the aspect ratio (100 x round(66.7)).
    let (reply, out) = resize(&daemon, &photo("rocket.jpg"), vec![("width", 100.into()), ("height", 100.into())]);
    assert_eq!((reply.uint("width"), reply.uint("height")), (100, 67));
    assert_eq!((out.width(), out.height()), (100, 67));
    assert_eq!((text(&reply, "format"), text(&reply, "source_format")), ("jpeg", "jpeg"));
    assert_eq!((reply.uint("source_width"), reply.uint("source_height")), (640, 427));

    // astronaut.png 512x512 to a 64x40 PNG, exact.
    let (reply, out) = resize(
        &daemon,
        &photo("astronaut.png"),
        vec![("width", 64.into()), ("height", 40.into()), ("mode", "exact".into()), ("format", "png".into())],
    );
    assert_eq!((out.width(), out.height()), (64, 40));
    assert_eq!((text(&reply, "format"), text(&reply, "source_format")), ("png", "png"));

    // coffee.png 600x400 filled into 50x50 WebP, anchored top, catmull-rom.
    let (reply, out) = resize(
        &daemon,
        &photo("coffee.png"),
        vec![
            ("width", 50.into()),
            ("height", 50.into()),
            ("mode", "fill".into()),
            ("anchor", "top".into()),
            ("filter", "catmull_rom".into()),
            ("format", "webp".into()),
            ("quality", 70.into()),
        ],
    );
    assert_eq!((out.width(), out.height()), (50, 50));
    assert_eq!(text(&reply, "format"), "webp");
    assert_eq!((reply.uint("source_width"), reply.uint("source_height")), (600, 400));
}

#[test]
fn a_corrupt_image_is_bad_image_and_the_daemon_serves_on() {
    let daemon = Daemon::start(&[]);
    let mut jpeg = photo("rocket.jpg");
    jpeg.truncate(jpeg.len() / 3);
    let mut client = daemon.connect();
    let reply = client.call(&request(1, "resize", vec![("image", bin(&jpeg)), ("width", 50.into())]));
    assert_eq!(reply.code(), Some(6), "{reply:?}");
    client.expect_alive(2);
}
