//! HEIC and AVIF over the real socket: files made at test time by heif-enc and avifenc (Debian's
//! libheif-examples and libavif-bin, which scripts/setup.sh installs) from a sample photo, AVIF
//! written by the daemon read back by avifdec, and a size bomb refused by its header.

use std::process::{Command, Stdio};

use rmpv::Value;

use crate::harness::{bin, photo, request, Daemon};

/// `input` (a JPEG or PNG) converted by `tool` into a file ending in `ext`, or `tool` itself
/// run as `tool input output` when `ext` is `png` (avifdec).
fn converted(tool: &str, args: &[&str], input: &[u8], in_ext: &str, out_ext: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join(format!("in.{in_ext}")), dir.path().join(format!("out.{out_ext}")));
    std::fs::write(&src, input).unwrap();
    let mut command = Command::new(tool);
    command.args(args);
    if tool == "heif-enc" {
        command.arg("-o").arg(&out).arg(&src);
    } else {
        command.arg(&src).arg(&out);
    }
    let status = command.stdout(Stdio::null()).status().unwrap_or_else(|e| panic!("{tool} not runnable ({e}): scripts/setup.sh installs it"));
    assert!(status.success(), "{tool} failed");
    std::fs::read(out).unwrap()
}

fn text<'a>(reply: &'a crate::harness::Reply, key: &str) -> &'a str {
    reply.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn heic_and_avif_photos_become_avif_thumbnails_that_avifdec_reads() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let jpeg = photo("rocket.jpg"); // 640x427
    let hello = daemon.connect().call(&request(1, "hello", vec![("versions", Value::Array(vec![1.into()]))])).expect_ok();
    let formats = |key| hello.get(key).and_then(Value::as_array).unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(formats("input_formats").contains(&"heic".into()) && formats("input_formats").contains(&"avif".into()));
    assert!(formats("output_formats").contains(&"avif".into()));
    let reference = image::load_from_memory(&jpeg).unwrap().resize_exact(200, 133, image::imageops::FilterType::Lanczos3).to_rgb8();
    for (format, input) in [
        ("heic", converted("heif-enc", &["-q", "85"], &jpeg, "jpg", "heic")),
        ("avif", converted("avifenc", &["-s", "8"], &jpeg, "jpg", "avif")),
    ] {
        let fields = vec![("image", bin(&input)), ("width", 200.into()), ("format", "avif".into()), ("quality", 80.into())];
        let reply = daemon.connect().call(&request(2, "resize", fields)).expect_ok();
        assert_eq!((text(&reply, "source_format"), text(&reply, "format")), (format, "avif"));
        assert_eq!((reply.uint("source_width"), reply.uint("source_height")), (640, 427));
        assert_eq!((reply.uint("width"), reply.uint("height")), (200, 133));
        let avif = reply.get("image").and_then(Value::as_slice).unwrap();
        let png = converted("avifdec", &[], avif, "avif", "png");
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (200, 133));
        let mse = back.as_raw().iter().zip(reference.as_raw()).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum::<f64>() / back.as_raw().len() as f64;
        let db = 10.0 * (255.0f64 * 255.0 / mse).log10();
        eprintln!("{format} -> avif: {} bytes, PSNR {db:.1} dB against image-rs' resize of the JPEG", avif.len());
        assert!(db > 25.0, "{format}: PSNR {db:.1}");
    }
}

#[test]
fn a_heif_declaring_a_huge_size_is_refused_by_its_header_and_the_daemon_serves_on() {
    let daemon = Daemon::start(&[]);
    let mut avif = converted("avifenc", &["-s", "9"], &photo("rocket.jpg"), "jpg", "avif");
    // the ispe property: 4 bytes of version and flags, then width and height
    let at = avif.windows(4).position(|w| w == b"ispe").expect("an ispe box") + 8;
    avif[at..at + 8].copy_from_slice(&[0, 0, 0x9C, 0x40, 0, 0, 0x75, 0x30]); // 40000 x 30000
    let mut client = daemon.connect();
    let reply = client.call(&request(1, "resize", vec![("image", bin(&avif)), ("width", 50.into())]));
    assert_eq!(reply.code(), Some(7), "image_too_large: {reply:?}");
    client.expect_alive(2);
}

/// `probe` reads HEIC and AVIF from their boxes as resize's admission does: format, upright
/// size, alpha (an auxiliary alpha image) and one frame.
#[test]
fn heic_and_avif_are_probed_from_their_boxes() {
    let daemon = Daemon::start(&[]);
    let rgba = image::RgbaImage::from_fn(64, 48, |x, y| image::Rgba([(x * 4) as u8, (y * 5) as u8, 90, (x * 3 + y) as u8]));
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(rgba).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let jpeg = photo("rocket.jpg"); // 640x427, opaque
    for (format, input, size, alpha) in [
        ("heic", converted("heif-enc", &["-q", "60"], &jpeg, "jpg", "heic"), (640, 427), false),
        ("avif", converted("avifenc", &["-s", "9"], &jpeg, "jpg", "avif"), (640, 427), false),
        ("avif", converted("avifenc", &["-s", "9"], &png, "png", "avif"), (64, 48), true),
    ] {
        let reply = daemon.connect().call(&request(1, "probe", vec![("image", bin(&input))])).expect_ok();
        assert_eq!(text(&reply, "format"), format);
        assert_eq!((reply.uint("width"), reply.uint("height")), size, "{format}");
        assert_eq!(reply.get("alpha").and_then(Value::as_bool), Some(alpha), "{format} alpha");
        assert_eq!(reply.uint("frames"), 1);
        assert!(reply.uint("memory") > 0);
    }
}
