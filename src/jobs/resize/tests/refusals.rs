//! Refusals: decompression bombs, inputs that are no image, bad parameters, deadlines and
//! cancellation.

use std::time::{Duration, Instant};

use super::*;

/// A real, valid 20000 x 20000 (400-megapixel) 1-bit PNG, all black: about 50 KB.
fn giant_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 20_000, 20_000);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&vec![0u8; 2_500 * 20_000]).unwrap();
    writer.finish().unwrap();
    out
}

fn assert_refused_quickly(input: &[u8], what: &str) {
    let started = Instant::now();
    let got = run(input, &params(Mode::Fit, 100, 100));
    let elapsed = started.elapsed();
    assert!(matches!(got, Err(JobError::ImageTooLarge { .. })), "{what}: {got:?}");
    // Refusing from the header takes microseconds; decoding 400 megapixels would take seconds
    // and gigabytes. The bound is loose on purpose: this is not a benchmark.
    assert!(elapsed < Duration::from_millis(500), "{what}: took {elapsed:?}");
}

#[test]
fn bombs_are_refused_from_the_header() {
    let png = giant_png();
    assert!(png.len() < 400_000, "the giant PNG is small: {} bytes", png.len());
    assert_refused_quickly(&png, "400 MP png");

    // A JPEG header declaring 60000 x 60000 (over max_dimension too).
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, 0xEA, 0x60, 0xEA, 0x60, 3];
    jpeg.extend([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
    jpeg.extend([0xFF, 0xDA, 0x00, 0x02]);
    assert_refused_quickly(&jpeg, "60000x60000 jpeg");

    // A GIF whose logical screen is 65535 x 65535.
    assert_refused_quickly(b"GIF89a\xff\xff\xff\xff\x00\x00\x00;", "gif");

    // A WebP canvas of 16384 x 16384 (268 MP).
    let mut webp = b"RIFF\x20\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
    webp.extend([0xFF, 0x3F, 0x00, 0xFF, 0x3F, 0x00]);
    assert_refused_quickly(&webp, "webp");
}

#[test]
fn limits_are_the_callers() {
    let input = photo("rocket.jpg"); // 640 x 427
    let tight = Limits { max_pixels: 640 * 427 - 1, max_dimension: 32768 };
    let got = resize(&input, &params(Mode::Fit, 100, 100), &tight, &JobControl::unbounded());
    assert!(matches!(got, Err(JobError::ImageTooLarge { width: 640, height: 427, .. })), "{got:?}");
    let narrow = Limits { max_pixels: 100_000_000, max_dimension: 639 };
    let got = resize(&input, &params(Mode::Fit, 100, 100), &narrow, &JobControl::unbounded());
    assert!(matches!(got, Err(JobError::ImageTooLarge { .. })), "{got:?}");
}

#[test]
fn things_that_are_not_images_are_bad_images() {
    let rocket = photo("rocket.jpg");
    let cases: [(&str, Vec<u8>); 6] = [
        ("empty", Vec::new()),
        ("text", b"hello, this is not an image".to_vec()),
        ("bmp", b"BM\x3e\0\0\0\0\0\0\0".to_vec()),
        ("jpeg magic only", vec![0xFF, 0xD8, 0xFF]),
        ("truncated jpeg", rocket[..rocket.len() / 2].to_vec()),
        ("png signature only", b"\x89PNG\r\n\x1a\n".to_vec()),
    ];
    for (what, input) in cases {
        let got = run(&input, &params(Mode::Fit, 100, 100));
        assert!(matches!(got, Err(JobError::BadImage(_))), "{what}: {got:?}");
    }
}

#[test]
fn bad_params_are_refused_before_the_image_is_read() {
    // Garbage input: if the parameters were not checked first, this would be BadImage.
    let garbage = b"not an image";
    let mut bad_quality = params(Mode::Fit, 100, 100);
    bad_quality.quality = 0;
    for p in [params(Mode::Fit, 0, 0), params(Mode::Fill, 100, 0), params(Mode::Exact, 0, 5), params(Mode::Fit, 40_000, 10), bad_quality] {
        assert!(matches!(run(garbage, &p), Err(JobError::InvalidArgument(_))), "{p:?}");
    }
}

#[test]
fn outputs_beyond_the_format_are_refused() {
    // WebP stores at most 16383 per side; the box is within max_dimension.
    let mut p = params(Mode::Exact, 20_000, 10);
    p.format = OutputFormat::WebP;
    assert!(matches!(run(&photo("rocket.jpg"), &p), Err(JobError::InvalidArgument(_))));
}

#[test]
fn an_expired_deadline_or_a_cancel_stops_before_decoding() {
    let input = photo("astronaut.png");
    let expired = JobControl::new(Some(Instant::now() - Duration::from_millis(1)));
    let got = resize(&input, &params(Mode::Fit, 100, 100), &Limits::default(), &expired);
    assert!(matches!(got, Err(JobError::DeadlineExceeded { stage: "decode" })), "{got:?}");
    let cancelled = JobControl::unbounded();
    cancelled.cancel();
    let got = resize(&input, &params(Mode::Fit, 100, 100), &Limits::default(), &cancelled);
    assert!(matches!(got, Err(JobError::Cancelled { stage: "decode" })), "{got:?}");
}

#[test]
fn a_cancel_during_a_long_job_stops_it() {
    // A 4000 x 3000 noisy PNG takes far longer than 30 ms to decode and resize; cancelled
    // 30 ms in, the job must stop with Cancelled instead of finishing.
    let noisy = image::RgbImage::from_fn(4000, 3000, |x, y| {
        let h = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)).wrapping_mul(2246822519);
        image::Rgb([(h >> 8) as u8, (h >> 16) as u8, (h >> 24) as u8])
    });
    let mut input = Vec::new();
    let mut encoder = png::Encoder::new(&mut input, 4000, 3000);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_compression(png::Compression::Fastest);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(noisy.as_raw()).unwrap();
    writer.finish().unwrap();

    let ctl = JobControl::unbounded();
    let canceller = ctl.clone();
    let timer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        canceller.cancel();
    });
    let started = Instant::now();
    let got = resize(&input, &params(Mode::Fit, 3000, 3000), &Limits::default(), &ctl);
    timer.join().unwrap();
    assert!(matches!(got, Err(JobError::Cancelled { .. })), "finished after {:?} with {got:?}", started.elapsed());
}

#[test]
fn stray_bytes_before_eoi_are_tolerated_but_truncation_is_not() {
    // libjpeg warns "N extraneous bytes before marker 0xd9" and still decodes every pixel;
    // browsers show such files, so the pipeline does too.
    let clean = jpeg_of(&painted(64, 48), 90);
    assert_eq!(&clean[clean.len() - 2..], &[0xFF, 0xD9]);
    let mut stray = clean[..clean.len() - 2].to_vec();
    // A few stray bytes vanish into the decoder's bit buffer unnoticed; a few hundred do not.
    stray.extend((0..300).map(|i| (i % 200) as u8));
    stray.extend([0xFF, 0xD9]);
    let plain = turbojpeg::decompress(&stray, turbojpeg::PixelFormat::RGB).unwrap_err().to_string();
    assert!(plain.contains("extraneous bytes"), "TurboJPEG itself reports: {plain}");
    let out = run(&stray, &params(Mode::Fit, 32, 32)).unwrap();
    let reference = run(&clean, &params(Mode::Fit, 32, 32)).unwrap();
    assert_eq!(decode(&out.bytes).to_rgb8(), decode(&reference.bytes).to_rgb8());
    // The same stray bytes with the end cut off: premature end, refused.
    let cut = &stray[..stray.len() * 3 / 4];
    assert!(matches!(run(cut, &params(Mode::Fit, 32, 32)), Err(JobError::BadImage(_))));
}
