//! Output sizes per mode, and similarity to `image::imageops` Lanczos3 of the same input.
//!
//! rocket.jpg carries an Adobe RGB profile, which the reference ignores; these tests keep the
//! profile (`keep_icc`) so they compare the resize alone. The conversion has its own test in
//! `metadata`.

use image::DynamicImage;

use super::*;
use crate::jobs::{Anchor, Filter, ImageFormat, Limits};

fn keep_icc(mut p: ResizeParams) -> ResizeParams {
    p.keep_icc = true;
    p
}

#[test]
fn fit_sizes_and_similarity_on_the_sample_photos() {
    let cases = [
        ("rocket.jpg", (400, 400), (400, 267)),
        ("rocket.jpg", (0, 100), (150, 100)),
        ("astronaut.png", (300, 0), (300, 300)),
        ("coffee.png", (250, 250), (250, 167)),
        ("coffee.png", (1200, 1200), (1200, 800)), // enlarges
    ];
    for (name, (bw, bh), (ow, oh)) in cases {
        let input = photo(name);
        let out = run(&input, &keep_icc(params(Mode::Fit, bw, bh))).unwrap();
        let what = format!("{name} fit {bw}x{bh}");
        assert_eq!((out.width, out.height), (ow, oh), "{what}");
        assert_eq!(out.format, OutputFormat::Png);
        let reference = reference_resize(&decode(&input), ow, oh);
        assert_close_to_reference(&out, &reference, 40.0, &what);
    }
}

#[test]
fn fill_crops_at_the_anchor_like_a_reference_crop_then_resize() {
    // (photo, box, anchor, the region a reference crops: x, y, w, h)
    let cases = [
        ("rocket.jpg", (200, 200), Anchor::Left, (0, 0, 427, 427)),
        ("astronaut.png", (256, 128), Anchor::Top, (0, 0, 512, 256)),
        ("astronaut.png", (256, 128), Anchor::Bottom, (0, 256, 512, 256)),
        ("coffee.png", (300, 300), Anchor::Right, (200, 0, 400, 400)),
        ("coffee.png", (300, 300), Anchor::Center, (100, 0, 400, 400)),
    ];
    for (name, (bw, bh), anchor, (x, y, w, h)) in cases {
        let input = photo(name);
        let mut p = keep_icc(params(Mode::Fill, bw, bh));
        p.anchor = anchor;
        let out = run(&input, &p).unwrap();
        let what = format!("{name} fill {bw}x{bh} {anchor:?}");
        assert_eq!((out.width, out.height), (bw, bh), "{what}");
        let cropped = DynamicImage::ImageRgb8(image::imageops::crop_imm(&decode(&input).to_rgb8(), x, y, w, h).to_image());
        assert_close_to_reference(&out, &reference_resize(&cropped, bw, bh), 40.0, &what);
    }
}

#[test]
fn fill_keeps_the_anchored_part() {
    // Three vertical bands, red | green | blue, each 100 wide: a square fill keeps one band.
    let bands = image::RgbImage::from_fn(300, 100, |x, _| match x / 100 {
        0 => image::Rgb([255, 0, 0]),
        1 => image::Rgb([0, 255, 0]),
        _ => image::Rgb([0, 0, 255]),
    });
    let input = png_of(&DynamicImage::ImageRgb8(bands));
    for (anchor, want) in [(Anchor::Left, [255, 0, 0]), (Anchor::Center, [0, 255, 0]), (Anchor::Right, [0, 0, 255])] {
        let mut p = params(Mode::Fill, 50, 50);
        p.anchor = anchor;
        let out = decode(&run(&input, &p).unwrap().bytes).to_rgb8();
        let centre = out.get_pixel(25, 25).0;
        assert_eq!(centre, want, "{anchor:?}");
    }
}

#[test]
fn exact_ignores_the_aspect_ratio() {
    let input = photo("rocket.jpg");
    for (w, h) in [(300, 100), (50, 400)] {
        let out = run(&input, &keep_icc(params(Mode::Exact, w, h))).unwrap();
        assert_eq!((out.width, out.height), (w, h));
        assert_eq!((out.source_width, out.source_height, out.source_format), (640, 427, ImageFormat::Jpeg));
        assert_close_to_reference(&out, &reference_resize(&decode(&input), w, h), 40.0, &format!("exact {w}x{h}"));
    }
}

#[test]
fn every_filter_resizes_a_smooth_picture_closely() {
    let input = png_of(&DynamicImage::ImageRgb8(painted(800, 600)));
    let reference = reference_resize(&decode(&input), 200, 150);
    for filter in FILTERS {
        let mut p = params(Mode::Fit, 200, 200);
        p.filter = filter;
        let out = run(&input, &p).unwrap();
        assert_close_to_reference(&out, &reference, 40.0, &format!("{filter:?}"));
    }
}

#[test]
fn jpeg_shrink_on_load_stays_close_to_a_full_decode() {
    // Big enough that the pipeline decodes at 1/8 (1600 -> 200 for a 100 box; in fast mode
    // already for a 160 box), at 1/4 (1024 -> 256 for a 120 box: 1/8 = 128 is short of 2x and
    // of fast mode's 1.25x) and at 1/2 (1280 -> 640 for a 200 box). Default and fast eighths.
    let astronaut = decode(&photo("astronaut.png"));
    let big = image::imageops::resize(&astronaut.to_rgb8(), 1024, 1024, image::imageops::FilterType::Triangle);
    let cases = [
        ("astronaut x2", big, 120, (2, 2)),
        ("painted", painted(1600, 1200), 160, (2, 1)),
        ("painted 1/8", painted(1600, 1200), 100, (1, 1)),
        ("painted 1/2", painted(1280, 960), 200, (4, 4)),
    ];
    for (name, img, box_side, eighths) in cases {
        let input = jpeg_of(&img, 95);
        let region = super::super::geometry::Region { x: 0.0, y: 0.0, width: img.width().into(), height: img.height().into() };
        for (fast, eighths) in [(false, eighths.0), (true, eighths.1)] {
            let out = run(&input, &ResizeParams { fast, ..params(Mode::Fit, box_side, box_side) }).unwrap();
            assert_eq!(super::super::geometry::jpeg_scale_eighths(region, out.width, out.height, fast), eighths, "{name}, fast {fast}");
            let reference = reference_resize(&decode(&input), out.width, out.height);
            assert_close_to_reference(&out, &reference, 40.0, name);
        }
    }
}

#[test]
fn png_shrink_on_load_stays_close_to_a_full_decode() {
    // A box of 8 (1600 -> 200 for a 100 box), 4 (1024 -> 256 for a 120 box) and 2 (1280 -> 640
    // for a 200 fill: the 960 x 960 region), with gray and 16-bit rows, in fit and in an off-centre fill whose region
    // is fractional; nearest always decodes at full size, and so does alpha.
    let astronaut = decode(&photo("astronaut.png"));
    let big = DynamicImage::ImageRgb8(image::imageops::resize(&astronaut.to_rgb8(), 1024, 1024, image::imageops::FilterType::Triangle));
    let cases = [
        ("painted 1/8", DynamicImage::ImageRgb8(painted(1600, 1200)), Mode::Fit, 100, 1),
        ("astronaut x2", big.clone(), Mode::Fit, 120, 2),
        ("gray 16-bit", DynamicImage::ImageLuma16(big.to_luma16()), Mode::Fit, 120, 2),
        ("painted 1/2 fill", DynamicImage::ImageRgb8(painted(1280, 960)), Mode::Fill, 200, 4),
    ];
    for (name, img, mode, box_side, eighths) in cases {
        let input = png_of(&img);
        let mut p = params(mode, box_side, box_side);
        p.anchor = Anchor::TopLeft;
        let out = run(&input, &p).unwrap();
        let plan = super::super::geometry::plan(img.width(), img.height(), &p, &Limits::default()).unwrap();
        assert_eq!(super::super::geometry::box_scale_eighths(plan.region, out.width, out.height, p.filter), eighths, "{name}");
        assert_eq!(super::super::geometry::box_scale_eighths(plan.region, out.width, out.height, Filter::Nearest), 8);
        let reference = match mode {
            Mode::Fit => reference_resize(&decode(&input), out.width, out.height),
            _ => {
                let side = img.width().min(img.height());
                reference_resize(&decode(&input).crop_imm(0, 0, side, side), out.width, out.height)
            }
        };
        assert_close_to_reference(&out, &reference, 40.0, name);
    }
}

#[test]
fn jpeg_and_webp_outputs_decode_and_resemble_the_reference() {
    let input = photo("coffee.png");
    let reference = reference_resize(&decode(&input), 320, 213);
    for (format, quality, min_db) in [(OutputFormat::Jpeg, 90, 30.0), (OutputFormat::WebP, 90, 30.0), (OutputFormat::Jpeg, 20, 24.0)] {
        let mut p = params(Mode::Fit, 320, 320);
        p.format = format;
        p.quality = quality;
        let out = run(&input, &p).unwrap();
        assert_eq!(out.format, format);
        let sniffed = image::guess_format(&out.bytes).unwrap();
        let want = if format == OutputFormat::Jpeg { image::ImageFormat::Jpeg } else { image::ImageFormat::WebP };
        assert_eq!(sniffed, want);
        assert_close_to_reference(&out, &reference, min_db, &format!("{format:?} q{quality}"));
    }
}

#[test]
fn lower_quality_gives_a_smaller_jpeg() {
    let input = photo("coffee.png");
    let size_at = |quality| {
        let mut p = params(Mode::Fit, 400, 400);
        p.format = OutputFormat::Jpeg;
        p.quality = quality;
        run(&input, &p).unwrap().bytes.len()
    };
    assert!(size_at(30) < size_at(90));
}
