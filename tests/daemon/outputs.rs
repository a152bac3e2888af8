//! `resize` with `outputs` (SPEC.md 5.3.1) through the socket: several thumbnails of a real
//! photo from one request, each decoded by the `image` crate and measured; the refusals typed.

use rmpv::Value;

use crate::harness::{bin, photo, request, Daemon, Reply};

/// An `outputs` element from (key, value) pairs.
fn output(fields: &[(&str, Value)]) -> Value {
    Value::Map(fields.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect())
}

fn outputs_request(id: u64, image: &[u8], outputs: Vec<Value>, extra: Vec<(&str, Value)>) -> Vec<u8> {
    let mut fields = vec![("image", bin(image)), ("outputs", Value::Array(outputs))];
    fields.extend(extra);
    request(id, "resize", fields)
}

/// One element of a reply's `outputs`.
struct GotOutput {
    /// Its keys, in order.
    keys: Vec<String>,
    image: Vec<u8>,
    width: u64,
    height: u64,
    format: String,
}

/// The reply's outputs, in order.
fn outputs_of(reply: &Reply) -> Vec<GotOutput> {
    let items = reply.get("outputs").and_then(Value::as_array).expect("an outputs array");
    items
        .iter()
        .map(|item| {
            let map = item.as_map().expect("each output is a map");
            let keys = map.iter().map(|(k, _)| k.as_str().unwrap().to_string()).collect();
            let field = |key: &str| map.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v).unwrap();
            GotOutput {
                keys,
                image: field("image").as_slice().expect("a bin image").to_vec(),
                width: field("width").as_u64().unwrap(),
                height: field("height").as_u64().unwrap(),
                format: field("format").as_str().unwrap().to_string(),
            }
        })
        .collect()
}

#[test]
fn three_outputs_of_different_formats_from_one_photo() {
    let daemon = Daemon::start(&["--workers", "2"]);
    // rocket.jpg is 640x427.
    let outputs = vec![
        output(&[("width", 400.into()), ("height", 400.into())]),
        output(&[
            ("width", 120.into()),
            ("height", 120.into()),
            ("mode", "fill".into()),
            ("anchor", "top".into()),
            ("format", "webp".into()),
            ("quality", 70.into()),
        ]),
        output(&[("width", 64.into()), ("height", 40.into()), ("mode", "exact".into()), ("format", "png".into())]),
    ];
    let mut client = daemon.connect();
    let reply = client.call(&outputs_request(3, &photo("rocket.jpg"), outputs, vec![])).expect_ok();
    for absent in ["image", "width", "height", "format"] {
        assert!(reply.get(absent).is_none(), "a reply with outputs has no top-level {absent}: {reply:?}");
    }
    assert_eq!((reply.uint("source_width"), reply.uint("source_height")), (640, 427));
    assert_eq!(reply.get("source_format").and_then(Value::as_str), Some("jpeg"));
    let got = outputs_of(&reply);
    let want = [(400, 267, "jpeg", image::ImageFormat::Jpeg), (120, 120, "webp", image::ImageFormat::WebP), (64, 40, "png", image::ImageFormat::Png)];
    assert_eq!(got.len(), want.len());
    for (out, (w, h, f, kind)) in got.iter().zip(want) {
        assert_eq!(out.keys, ["image", "width", "height", "format"]);
        assert_eq!((out.width, out.height, out.format.as_str()), (w, h, f));
        assert_eq!(image::guess_format(&out.image).unwrap(), kind, "{f} output");
        let decoded = image::load_from_memory(&out.image).expect("the output decodes");
        assert_eq!((u64::from(decoded.width()), u64::from(decoded.height())), (w, h));
    }
    client.expect_alive(4);
}

#[test]
fn outputs_of_a_png_share_the_top_level_flags() {
    let daemon = Daemon::start(&[]);
    // coffee.png is 600x400.
    let outputs = vec![output(&[("width", 300.into())]), output(&[("height", 50.into()), ("format", "webp".into())])];
    let extra = vec![("auto_orient", false.into()), ("keep_metadata", true.into()), ("timeout_ms", 60_000.into())];
    let reply = daemon.connect().call(&outputs_request(1, &photo("coffee.png"), outputs, extra)).expect_ok();
    let got: Vec<_> = outputs_of(&reply).into_iter().map(|o| (o.width, o.height, o.format)).collect();
    assert_eq!(got, [(300, 200, "jpeg".to_string()), (75, 50, "webp".to_string())]);
    assert_eq!(reply.get("source_format").and_then(Value::as_str), Some("png"));
}

#[test]
fn refusals_are_typed_and_the_connection_serves_on() {
    let daemon = Daemon::start(&[]);
    let rocket = photo("rocket.jpg");
    let fit = |side: u64| output(&[("width", side.into())]);
    let mut client = daemon.connect();
    // invalid_argument: nine outputs, outputs beside a top-level box, a box the format cannot
    // store, an output without a box.
    let nine = (0..9).map(|_| fit(10)).collect();
    client.call(&outputs_request(1, &rocket, nine, vec![])).expect_code(4);
    client.call(&outputs_request(2, &rocket, vec![fit(10)], vec![("format", "png".into())])).expect_code(4);
    let too_wide = output(&[("width", 20_000.into()), ("height", 10.into()), ("mode", "exact".into()), ("format", "webp".into())]);
    client.call(&outputs_request(3, &rocket, vec![fit(10), too_wide], vec![])).expect_code(4);
    client.call(&outputs_request(4, &rocket, vec![fit(10), output(&[])], vec![])).expect_code(4);
    // malformed: an output that is not a map, a repeated key in one.
    client.call(&outputs_request(5, &rocket, vec![fit(10), Value::from(7)], vec![])).expect_code(1);
    let repeated = Value::Map(vec![("width".into(), 10.into()), ("width".into(), 20.into())]);
    client.call(&outputs_request(6, &rocket, vec![repeated], vec![])).expect_code(1);
    // bad_image: the whole request fails once, whatever the outputs.
    let mut broken = rocket.clone();
    broken.truncate(broken.len() / 3);
    client.call(&outputs_request(7, &broken, vec![fit(10), fit(20)], vec![])).expect_code(6);
    client.expect_alive(8);
}

#[test]
fn the_memory_estimate_counts_every_output() {
    // coffee.png (600x400) into 4000x4000 JPEGs: about 257 MB of estimate per output. One fits a
    // 600 MiB budget, three cannot ever: too_large_for_budget.
    let daemon = Daemon::start(&["--memory-budget", "600MiB"]);
    let coffee = photo("coffee.png");
    let big = || output(&[("width", 4000.into()), ("height", 4000.into()), ("mode", "exact".into()), ("quality", 10.into())]);
    let mut client = daemon.connect();
    let one = client.call(&outputs_request(1, &coffee, vec![big()], vec![])).expect_ok();
    assert_eq!(outputs_of(&one).len(), 1);
    client.call(&outputs_request(2, &coffee, vec![big(), big(), big()], vec![])).expect_code(13);
}

#[test]
fn hello_offers_eight_outputs() {
    let daemon = Daemon::start(&[]);
    let hello = daemon.connect().call(&request(1, "hello", vec![("versions", Value::Array(vec![1.into()]))])).expect_ok();
    assert_eq!(hello.uint("max_outputs"), 8);
    let keys: Vec<&str> = hello.0.as_map().unwrap().iter().map(|(k, _)| k.as_str().unwrap()).collect();
    assert_eq!(&keys[keys.len() - 2..], ["max_queue_wait_ms", "max_outputs"]);
}
