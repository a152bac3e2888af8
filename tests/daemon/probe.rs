//! `probe` (SPEC.md 5.8) and `enlarge` (5.3) through the socket: answers checked against the
//! `image` crate's reading of images made here, the memory against the estimate a resize is
//! admitted by, and a probe answered while every worker is busy.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::codecs::gif::GifEncoder;
use image::codecs::webp::WebPEncoder;
use image::{Delay, DynamicImage, Frame, ImageFormat, RgbImage, RgbaImage};
use rmpv::Value;

use crate::harness::{bin, code, photo, request, slow_job, Daemon, Reply};
use ferryd::jobs::resize::estimate_memory;
use ferryd::jobs::{Limits, Mode, ResizeParams};

fn probe(daemon: &Daemon, image: &[u8], extra: Vec<(&str, Value)>) -> Reply {
    let mut fields = vec![("image", bin(image))];
    fields.extend(extra);
    daemon.connect().call(&request(1, "probe", fields))
}

fn text<'a>(reply: &'a Reply, key: &str) -> &'a str {
    reply.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no {key}"))
}

fn flag(reply: &Reply, key: &str) -> bool {
    reply.get(key).and_then(Value::as_bool).unwrap_or_else(|| panic!("no {key}"))
}

/// (format, width, height, orientation, alpha, icc, progressive, frames) of a probe reply.
fn facts(reply: &Reply) -> (String, u64, u64, u64, bool, bool, bool, u64) {
    (
        text(reply, "format").to_string(),
        reply.uint("width"),
        reply.uint("height"),
        reply.uint("orientation"),
        flag(reply, "alpha"),
        flag(reply, "icc"),
        flag(reply, "progressive"),
        reply.uint("frames"),
    )
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A JPEG from the `image` crate with an EXIF orientation and an ICC profile inserted after SOI.
fn jpeg_with(width: u32, height: u32, orientation: u16, icc: bool) -> Vec<u8> {
    let jpeg = encode(&DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]))), ImageFormat::Jpeg);
    let segment = |marker: u8, payload: &[u8]| {
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(payload);
        out
    };
    // Big-endian TIFF, one IFD entry: 0x0112 SHORT 1 = orientation.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment(0xE1, &exif));
    if icc {
        out.extend(segment(0xE2, b"ICC_PROFILE\0\x01\x01not a real profile"));
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn probe_reads_the_header_of_each_kind() {
    let daemon = Daemon::start(&[]);
    // The sample photo, against the image crate's reading of it.
    let rocket = photo("rocket.jpg");
    let (w, h) = image::load_from_memory(&rocket).unwrap().into_rgb8().dimensions();
    let mut reference = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&rocket)).unwrap();
    let icc = image::ImageDecoder::icc_profile(&mut reference).unwrap().is_some();
    let reply = probe(&daemon, &rocket, vec![]).expect_ok();
    assert_eq!(facts(&reply), ("jpeg".into(), w.into(), h.into(), 1, false, icc, false, 1));

    // Orientation 6 swaps the sides; the profile is seen.
    let turned = jpeg_with(64, 48, 6, true);
    let reply = probe(&daemon, &turned, vec![]).expect_ok();
    assert_eq!(facts(&reply), ("jpeg".into(), 48, 64, 6, false, true, false, 1));
    // The resize reports the same upright size.
    let resized = daemon.connect().call(&request(2, "resize", vec![("image", bin(&turned)), ("width", 10.into())])).expect_ok();
    assert_eq!((resized.uint("source_width"), resized.uint("source_height")), (48, 64));

    // PNG with and without alpha.
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_fn(30, 20, |x, _| image::Rgba([1, 2, 3, x as u8])));
    let reply = probe(&daemon, &encode(&rgba, ImageFormat::Png), vec![]).expect_ok();
    assert_eq!(facts(&reply), ("png".into(), 30, 20, 1, true, false, false, 1));
    let rgb = DynamicImage::ImageRgb8(rgba.to_rgb8());
    let reply = probe(&daemon, &encode(&rgb, ImageFormat::Png), vec![]).expect_ok();
    assert_eq!(facts(&reply), ("png".into(), 30, 20, 1, false, false, false, 1));

    // Lossless WebP keeps its alpha bit.
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp).encode(rgba.as_bytes(), 30, 20, image::ExtendedColorType::Rgba8).unwrap();
    let reply = probe(&daemon, &webp, vec![]).expect_ok();
    assert_eq!(facts(&reply), ("webp".into(), 30, 20, 1, true, false, false, 1));

    // An animated GIF of three frames.
    let mut gif = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut gif);
        for n in 0..3u8 {
            let frame = RgbaImage::from_pixel(16, 12, image::Rgba([n * 80, 0, 0, 255]));
            encoder.encode_frame(Frame::from_parts(frame, 0, 0, Delay::from_numer_denom_ms(100, 1))).unwrap();
        }
    }
    let reply = probe(&daemon, &gif, vec![]).expect_ok();
    let (format, width, height, _, _, _, progressive, frames) = facts(&reply);
    assert_eq!((format.as_str(), width, height, progressive, frames), ("gif", 16, 12, false, 3));
}

#[test]
fn probe_memory_is_the_resize_admission_estimate() {
    let daemon = Daemon::start(&[]);
    let rocket = photo("rocket.jpg");
    let limits = Limits::default();
    let reply = probe(&daemon, &rocket, vec![("width", 400.into()), ("height", 400.into())]).expect_ok();
    let boxed = ResizeParams { width: 400, height: 400, mode: Mode::Fit, ..ResizeParams::default() };
    assert_eq!(reply.uint("memory"), estimate_memory(&rocket, &boxed, &limits).unwrap());
    // No box: the input's own size, the most a non-enlarging fit makes.
    let (w, h) = (reply.uint("width") as u32, reply.uint("height") as u32);
    let whole = ResizeParams { width: w, height: h, ..boxed };
    let reply = probe(&daemon, &rocket, vec![]).expect_ok();
    assert_eq!(reply.uint("memory"), estimate_memory(&rocket, &whole, &limits).unwrap());
    // A box side over max_dimension is refused before the image is read.
    probe(&daemon, b"not an image", vec![("width", 40_000.into())]).expect_code(code::INVALID_ARGUMENT);
}

#[test]
fn probe_is_answered_while_every_worker_is_busy() {
    // The queued job must not be answered busy on a slow machine: it only has to be waiting.
    let daemon = Daemon::start(&["--workers", "1", "--max-queue-wait", "60"]);
    let mut busy = daemon.connect();
    busy.send(&slow_job(1, vec![]));
    busy.send(&slow_job(2, vec![]));
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let reply = probe(&daemon, &photo("rocket.jpg"), vec![]).expect_ok();
    let took = started.elapsed();
    assert_eq!(text(&reply, "format"), "jpeg");
    // Both slow jobs are still running or queued: the probe did not wait for a worker.
    let stats = daemon.connect().call(&request(3, "stats", vec![])).expect_ok();
    assert_eq!(stats.uint("jobs_running") + stats.uint("jobs_queued"), 2, "probe answered in {took:?}");
    busy.recv().expect_ok();
    busy.recv().expect_ok();
}

/// Output size of a resize of `image` with `fields`.
fn resized(daemon: &Daemon, image: &[u8], fields: Vec<(&str, Value)>) -> (u64, u64) {
    let mut all = vec![("image", bin(image))];
    all.extend(fields);
    let reply = daemon.connect().call(&request(1, "resize", all)).expect_ok();
    let out = image::load_from_memory(reply.get("image").and_then(Value::as_slice).unwrap()).unwrap();
    assert_eq!((u64::from(out.width()), u64::from(out.height())), (reply.uint("width"), reply.uint("height")));
    (reply.uint("width"), reply.uint("height"))
}

#[test]
fn enlarge_false_never_makes_an_output_larger_than_its_input() {
    let daemon = Daemon::start(&[]);
    let small = encode(&DynamicImage::ImageRgb8(RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 0]))), ImageFormat::Png);
    let no = || ("enlarge", Value::from(false));
    let sq = |side: u32| vec![("width", Value::from(side)), ("height", Value::from(side))];
    // The default enlarges, as version 1 always did.
    assert_eq!(resized(&daemon, &small, sq(1200)), (1200, 900));
    let mut fit = sq(1200);
    fit.push(no());
    assert_eq!(resized(&daemon, &small, fit), (64, 48));
    let mut fill = sq(100);
    fill.extend([("mode", Value::from("fill")), no()]);
    assert_eq!(resized(&daemon, &small, fill), (48, 48));
    let exact = vec![("width", Value::from(100)), ("height", Value::from(30)), ("mode", Value::from("exact")), no()];
    assert_eq!(resized(&daemon, &small, exact), (64, 30));
    // A shrinking request is unchanged.
    let mut down = sq(32);
    down.push(no());
    assert_eq!(resized(&daemon, &small, down), (32, 24));
    // Per output, beside outputs that may enlarge.
    let output = |side: u32, enlarge: bool| {
        Value::Map(vec![("width".into(), side.into()), ("height".into(), side.into()), ("enlarge".into(), enlarge.into())])
    };
    let reply = daemon
        .connect()
        .call(&request(2, "resize", vec![("image", bin(&small)), ("outputs", Value::Array(vec![output(400, false), output(400, true), output(16, false)]))]))
        .expect_ok();
    let sizes: Vec<(u64, u64)> = reply
        .get("outputs")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|o| {
            let get = |k: &str| o.as_map().unwrap().iter().find(|(key, _)| key.as_str() == Some(k)).unwrap().1.as_u64().unwrap();
            (get("width"), get("height"))
        })
        .collect();
    assert_eq!(sizes, [(64, 48), (400, 300), (16, 12)]);
}
