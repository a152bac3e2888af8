//! EXIF orientation, on JPEGs the tests write: a 64x32 picture with a red top-left corner,
//! tagged with each orientation by a hand-written APP1 segment.

use image::{DynamicImage, Rgb, RgbImage};

use super::*;

/// 64x32, blue-gray gradient, with a red 12x12 square at the stored top-left.
fn cornered() -> RgbImage {
    RgbImage::from_fn(64, 32, |x, y| if x < 12 && y < 12 { Rgb([230, 20, 20]) } else { Rgb([40, (y * 4) as u8, 200]) })
}

fn tagged(value: u8) -> Vec<u8> {
    with_app_segment(&jpeg_of(&cornered(), 95), 0xE1, &exif_orientation_payload(value))
}

fn is_red(px: Rgb<u8>) -> bool {
    px[0] > 180 && px[1] < 80 && px[2] < 80
}

#[test]
fn orientation_6_swaps_the_size_and_turns_the_corner_to_the_top_right() {
    let out = run(&tagged(6), &params(Mode::Fit, 32, 64)).unwrap();
    assert_eq!((out.source_width, out.source_height), (32, 64));
    assert_eq!((out.width, out.height), (32, 64));
    let img = decode(&out.bytes).to_rgb8();
    // Rotating 90 degrees clockwise takes the stored top-left to the upright top-right.
    assert!(is_red(*img.get_pixel(28, 3)), "top-right is {:?}", img.get_pixel(28, 3));
    assert!(!is_red(*img.get_pixel(3, 3)), "top-left is {:?}", img.get_pixel(3, 3));
    assert!(!is_red(*img.get_pixel(28, 60)));
}

#[test]
fn all_eight_orientations_match_image_rs_turning_the_same_decode() {
    for value in 1..=8u8 {
        let input = tagged(value);
        let mut reference = decode(&input);
        reference.apply_orientation(image::metadata::Orientation::from_exif(value).unwrap());
        // Same-size "fit" of the upright picture: no resampling, just decode + turn.
        let (w, h) = (reference.width(), reference.height());
        let out = run(&input, &params(Mode::Fit, w, h)).unwrap();
        assert_eq!((out.width, out.height), (w, h), "orientation {value}");
        assert_close_to_reference(&out, &reference.to_rgb8(), 50.0, &format!("orientation {value}"));
        // And downscaled, into a box that only fits the upright shape one way.
        let small = run(&input, &params(Mode::Fit, 16, 16)).unwrap();
        let want = if value >= 5 { (8, 16) } else { (16, 8) };
        assert_eq!((small.width, small.height), want, "orientation {value}");
        let small_ref = reference_resize(&reference, want.0, want.1);
        assert_close_to_reference(&small, &small_ref, 40.0, &format!("orientation {value}, downscaled"));
    }
}

#[test]
fn fill_anchors_refer_to_the_upright_picture() {
    // Upright (orientation 6) the picture is 32x64 with red at the top-right; a 32x32 fill
    // anchored at the top keeps the red, at the bottom does not.
    let input = tagged(6);
    for (anchor, red_expected) in [(crate::jobs::Anchor::Top, true), (crate::jobs::Anchor::Bottom, false)] {
        let mut p = params(Mode::Fill, 32, 32);
        p.anchor = anchor;
        let img = decode(&run(&input, &p).unwrap().bytes).to_rgb8();
        assert_eq!(is_red(*img.get_pixel(28, 3)), red_expected, "{anchor:?}");
    }
}

#[test]
fn auto_orient_false_leaves_the_stored_pixels() {
    let mut p = params(Mode::Fit, 64, 64);
    p.auto_orient = false;
    let out = run(&tagged(6), &p).unwrap();
    assert_eq!((out.source_width, out.source_height, out.width, out.height), (64, 32, 64, 32));
    assert!(is_red(*decode(&out.bytes).to_rgb8().get_pixel(3, 3)));
}

#[test]
fn orientation_in_a_png_exif_chunk_is_applied_too() {
    // PNG carries EXIF in an eXIf chunk (raw TIFF, no "Exif\0\0" prefix).
    let mut png_bytes = Vec::new();
    let img = cornered();
    let mut info = png::Info::with_size(64, 32);
    info.color_type = png::ColorType::Rgb;
    info.bit_depth = png::BitDepth::Eight;
    let tiff = exif_orientation_payload(8)[6..].to_vec();
    info.exif_metadata = Some(tiff.into());
    let mut writer = png::Encoder::with_info(&mut png_bytes, info).unwrap().write_header().unwrap();
    writer.write_image_data(img.as_raw()).unwrap();
    writer.finish().unwrap();
    let out = run(&png_bytes, &params(Mode::Fit, 32, 64)).unwrap();
    assert_eq!((out.width, out.height), (32, 64));
    let mut reference = DynamicImage::ImageRgb8(img);
    reference.apply_orientation(image::metadata::Orientation::Rotate270);
    assert_close_to_reference(&out, &reference.to_rgb8(), 45.0, "png orientation 8");
}
