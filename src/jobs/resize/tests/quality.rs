//! The quality contract of SPEC.md 5.3: by default no thumbnail is more than 0.5 dB below
//! libvips' thumbnail of the same input, both measured as PSNR against a full decode resized
//! with Lanczos3 straight to the output size.
//!
//! libvips is not linked into the tests, so its thumbnail is rebuilt here from what it does,
//! with decoding code the pipeline does not use: libjpeg-turbo's DCT scaling through the
//! `turbojpeg` crate at the scale `vips_thumbnail` picks (1/8 from a shrink of 16, 1/4 from 8,
//! 1/2 from 4), or for other formats a full decode by the `image` crate; then `vips_resize`'s
//! box shrink by `floor(shrink / 2)` (its default gap of 2), and the Lanczos3 of the pipeline's
//! own resampler. The same resampler on both sides makes the test measure the shrink-on-load
//! rule alone: two implementations of Lanczos3 differ by themselves (fast_image_resize's and
//! the `image` crate's by up to 0.7 dB against the reference on the line art here), which is
//! not what the contract is about. The reference is the full decode (libjpeg-turbo for JPEG)
//! resized by the `image` crate's Lanczos3, shared with neither.
//!
//! The corpus: the detail pictures of `detail_corpus` (baseline and progressive JPEG, and the
//! text page at a phone's 4032x3024, the size issue 20 measured) and the sample photos. Fast
//! mode is measured too and must show the loss the default avoids somewhere (else the corpus
//! would not be testing anything).

use image::{DynamicImage, RgbImage};

use super::super::geometry::Region;
use super::super::raster::{Layout, Raster};
use super::super::resample;
use super::detail_corpus::{corpus, text_page};
use super::*;

/// How far below libvips' PSNR the default may be, in dB.
const CONTRACT_DB: f64 = 0.5;

/// One measured thumbnail.
pub struct Measured {
    pub default_db: f64,
    pub fast_db: f64,
    pub vips_like_db: f64,
    pub width: u32,
    pub height: u32,
}

/// Encodes `img` as a 4:2:0 JPEG at quality 90, baseline or progressive, as cameras and sites
/// write them.
pub fn jpeg_420(img: &RgbImage, progressive: bool) -> Vec<u8> {
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(90).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    compressor.set_progressive(progressive).unwrap();
    let image = turbojpeg::Image { pixels: img.as_raw().as_slice(), width: img.width() as usize, pitch: img.width() as usize * 3, height: img.height() as usize, format: turbojpeg::PixelFormat::RGB };
    compressor.compress_to_vec(image).unwrap()
}

/// The full decode: libjpeg-turbo for JPEG (what libvips decodes with), else the `image` crate.
fn full_decode(input: &[u8]) -> RgbImage {
    if input.starts_with(&[0xFF, 0xD8]) {
        let image = turbojpeg::decompress(input, turbojpeg::PixelFormat::RGB).unwrap();
        return RgbImage::from_raw(image.width as u32, image.height as u32, image.pixels).unwrap();
    }
    decode(input).to_rgb8()
}

/// libvips' thumbnail of `input` at `width x height`, rebuilt (see the module comment).
fn vips_like(input: &[u8], full: &RgbImage, width: u32, height: u32) -> RgbImage {
    let shrink = (f64::from(full.width()) / f64::from(width)).min(f64::from(full.height()) / f64::from(height));
    let mut denom = 1u32;
    let loaded = if input.starts_with(&[0xFF, 0xD8]) {
        denom = match shrink {
            s if s >= 16.0 => 8,
            s if s >= 8.0 => 4,
            s if s >= 4.0 => 2,
            _ => 1,
        };
        let mut decompressor = turbojpeg::Decompressor::new().unwrap();
        let factor = turbojpeg::ScalingFactor::new(1, denom as usize);
        decompressor.set_scaling_factor(factor).unwrap();
        let header = decompressor.read_header(input).unwrap().scaled(factor);
        let mut pixels = vec![0u8; header.width * header.height * 3];
        let image = turbojpeg::Image { pixels: &mut pixels[..], width: header.width, pitch: header.width * 3, height: header.height, format: turbojpeg::PixelFormat::RGB };
        decompressor.decompress(input, image).unwrap();
        RgbImage::from_raw(header.width as u32, header.height as u32, pixels).unwrap()
    } else {
        full.clone()
    };
    let residual = shrink / f64::from(denom);
    let k = (residual / 2.0).floor().max(1.0) as u32;
    let boxed = box_shrink(&loaded, k);
    // The stored picture's extent in the shrunk one: DCT scaling and the box round sizes up.
    let scale = f64::from(denom * k);
    let region = Region { x: 0.0, y: 0.0, width: f64::from(full.width()) / scale, height: f64::from(full.height()) / scale };
    let raster = Raster::new(boxed.width(), boxed.height(), Layout::Rgb, boxed.into_raw());
    let out = resample::resize(raster, region, width, height, Filter::Lanczos3, &JobControl::unbounded()).unwrap();
    RgbImage::from_raw(width, height, out.data).unwrap()
}

/// Averages `k x k` blocks (the last block of a row or column averages what it has), as
/// `vips_shrink` does for an integer factor.
fn box_shrink(img: &RgbImage, k: u32) -> RgbImage {
    if k == 1 {
        return img.clone();
    }
    let (w, h) = (img.width().div_ceil(k), img.height().div_ceil(k));
    RgbImage::from_fn(w, h, |bx, by| {
        let mut sum = [0u32; 3];
        let mut n = 0;
        for y in by * k..((by + 1) * k).min(img.height()) {
            for x in bx * k..((bx + 1) * k).min(img.width()) {
                let p = img.get_pixel(x, y);
                for c in 0..3 {
                    sum[c] += u32::from(p[c]);
                }
                n += 1;
            }
        }
        image::Rgb(sum.map(|s| ((s + n / 2) / n) as u8))
    })
}

/// A thumbnail into `side x side`, PNG, the input's ICC profile kept rather than applied (the
/// reference does not apply it: the comparison is of the resize alone).
fn thumbnail(side: u32, fast: bool) -> ResizeParams {
    ResizeParams { fast, keep_icc: true, ..params(Mode::Fit, side, side) }
}

/// ferryd's default and fast thumbnails of `input` fitted into `side x side`, and libvips'
/// (rebuilt), each as PSNR against the full decode resized with Lanczos3.
pub fn measure(input: &[u8], side: u32) -> Measured {
    let full = full_decode(input);
    let default = run(input, &thumbnail(side, false)).unwrap();
    let fast = run(input, &thumbnail(side, true)).unwrap();
    let (width, height) = (default.width, default.height);
    let reference = image::imageops::resize(&full, width, height, image::imageops::FilterType::Lanczos3);
    let db = |out: &ResizeOutput| psnr(&decode(&out.bytes).to_rgb8(), &reference);
    Measured { default_db: db(&default), fast_db: db(&fast), vips_like_db: psnr(&vips_like(input, &full, width, height), &reference), width, height }
}

/// Checks the contract on one input and reports it; returns the measurement.
fn check(name: &str, input: &[u8], side: u32) -> Measured {
    let m = measure(input, side);
    eprintln!(
        "{name} -> {}x{}: default {:.2} dB, fast {:.2} dB, libvips (rebuilt) {:.2} dB",
        m.width, m.height, m.default_db, m.fast_db, m.vips_like_db
    );
    assert!(
        m.default_db >= m.vips_like_db - CONTRACT_DB,
        "{name}: default {:.2} dB is more than {CONTRACT_DB} dB below libvips' {:.2} dB",
        m.default_db,
        m.vips_like_db
    );
    m
}

/// Detail pictures at 2016x1512 into a 200 box (a shrink of 10.08, as a 4032-wide phone photo
/// into 400: fast mode decodes at 1/8, the default at 1/4) and into a 120 box (a shrink of 16.8:
/// both at 1/8), baseline and progressive; the text page also at 4032x3024 into 400.
#[test]
fn default_thumbnails_keep_within_half_a_db_of_libvips_on_fine_detail() {
    let mut fast_losses = Vec::new();
    for detail in corpus(2016, 1512) {
        for progressive in [false, true] {
            let jpeg = jpeg_420(&detail.pixels, progressive);
            let kind = if progressive { "progressive" } else { "baseline" };
            for side in [200, 120] {
                let m = check(&format!("{} ({kind}), box {side}", detail.name), &jpeg, side);
                fast_losses.push(m.vips_like_db - m.fast_db);
            }
        }
        // The same picture as PNG (box shrink on load).
        let png = png_of(&DynamicImage::ImageRgb8(detail.pixels));
        check(&format!("{} (png), box 200", detail.name), &png, 200);
    }
    let page = jpeg_420(&text_page(4032, 3024), true);
    let m = check("text 4032x3024 (progressive), box 400", &page, 400);
    fast_losses.push(m.vips_like_db - m.fast_db);
    // Fast mode keeps 1/8 where the default does not: on this corpus it must lose clearly
    // somewhere, or the corpus does not see what the contract is about.
    let worst = fast_losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    eprintln!("fast mode: at worst {worst:.2} dB below libvips (rebuilt)");
    assert!(worst > 2.0, "fast mode never lost more than {worst:.2} dB: the detail corpus has no detail");
}

/// The sample photos, into boxes that make each decode scale: rocket.jpg (640x427) into 40
/// (1/8 in both modes), 64 (1/8 fast, 1/4 default) and 150 (1/2); the PNGs into 64 and 150.
#[test]
fn default_thumbnails_keep_within_half_a_db_of_libvips_on_the_sample_photos() {
    for (name, input) in photos_with_extension(&["jpg", "png"]) {
        for side in [40, 64, 150] {
            check(&format!("{name}, box {side}"), &input, side);
        }
    }
}

/// Every JPEG and PNG in `FERRY_CORPUS` into a 400 box (as issue 20 measured): PSNR of the
/// default, fast and rebuilt-libvips thumbnails against the full decode resized with Lanczos3,
/// and the pipeline's time per thumbnail in each mode (best of 5, one thread; PNG output, so
/// the encode is the same small cost in both). `FERRY_CORPUS=/work/shared/corpus cargo test
/// --release --locked --lib corpus_photos_quality -- --ignored --nocapture`.
#[test]
#[ignore = "reads the photo corpus named by FERRY_CORPUS"]
fn corpus_photos_quality_and_speed() {
    let dir = std::env::var("FERRY_CORPUS").expect("set FERRY_CORPUS to a directory of photos");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let best_of = |input: &[u8], p: &ResizeParams| {
        (0..5)
            .map(|_| {
                let started = std::time::Instant::now();
                run(input, p).unwrap();
                started.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut seen = 0;
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| ["jpg", "jpeg", "png"].iter().any(|x| e.eq_ignore_ascii_case(x)))) {
        let input = std::fs::read(path).unwrap();
        let m = check(&path.file_name().unwrap().to_string_lossy(), &input, 400);
        let default_ms = best_of(&input, &thumbnail(400, false));
        let fast_ms = best_of(&input, &thumbnail(400, true));
        eprintln!("  time: default {default_ms:.1} ms, fast {fast_ms:.1} ms ({:.2} dB, {:.2} dB)", m.default_db, m.fast_db);
        seen += 1;
    }
    assert!(seen > 0, "no photo in {dir}");
}
