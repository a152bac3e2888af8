//! Every kind of pixel an input can bring: gray, gray+alpha, palette (with and without
//! transparency), RGBA, 16-bit, GIF, WebP, and CMYK JPEG. Each input is made here.

use image::{DynamicImage, GrayImage, Rgb, RgbImage, Rgba, RgbaImage};

use super::*;
use crate::jobs::ImageFormat;

fn luma(img: &RgbImage) -> GrayImage {
    DynamicImage::ImageRgb8(img.clone()).to_luma8()
}

#[test]
fn gray_jpeg_and_png_stay_gray_and_resize_closely() {
    let gray = luma(&painted(480, 320));
    let jpeg = turbojpeg::compress(
        turbojpeg::Image { pixels: gray.as_raw().as_slice(), width: 480, pitch: 480, height: 320, format: turbojpeg::PixelFormat::GRAY },
        95,
        turbojpeg::Subsamp::Gray,
    )
    .unwrap()
    .to_vec();
    let png_bytes = png_of(&DynamicImage::ImageLuma8(gray));
    for (name, input, format) in [("gray jpeg", jpeg, OutputFormat::Jpeg), ("gray png", png_bytes, OutputFormat::Png)] {
        let mut p = params(Mode::Fit, 120, 120);
        p.format = format;
        let out = run(&input, &p).unwrap();
        assert_eq!((out.width, out.height), (120, 80), "{name}");
        let decoded = decode(&out.bytes);
        assert_eq!(decoded.color(), image::ColorType::L8, "{name}: output stays gray");
        assert_close_to_reference(&out, &reference_resize(&decode(&input), 120, 80), 40.0, name);
    }
}

/// An indexed PNG written with the png crate: four 16-pixel stripes, one palette entry each;
/// with `transparent`, the last entry is fully transparent.
fn palette_png(transparent: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 64, 16);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Four); // sub-byte indices: expansion is exercised too
    encoder.set_palette(vec![200, 30, 30, 30, 200, 30, 30, 30, 200, 240, 240, 40]);
    if transparent {
        encoder.set_trns(vec![255, 255, 255, 0]);
    }
    let mut writer = encoder.write_header().unwrap();
    // 64 pixels per row at 4 bits = 32 bytes; stripe i is index i.
    let row: Vec<u8> = (0..32).map(|b| {
        let index = (b * 2 / 16) as u8;
        (index << 4) | index
    }).collect();
    writer.write_image_data(&row.repeat(16)).unwrap();
    writer.finish().unwrap();
    out
}

#[test]
fn palette_inputs_are_expanded_to_their_colours() {
    let out = run(&palette_png(false), &params(Mode::Fit, 32, 8)).unwrap();
    let img = decode(&out.bytes).to_rgb8();
    for (stripe, want) in [[200, 30, 30], [30, 200, 30], [30, 30, 200], [240, 240, 40]].iter().enumerate() {
        let px = img.get_pixel(stripe as u32 * 8 + 4, 4).0;
        let close = px.iter().zip(want).all(|(a, b)| a.abs_diff(*b) <= 3);
        assert!(close, "stripe {stripe}: {px:?} vs {want:?}");
    }
}

#[test]
fn palette_transparency_becomes_alpha() {
    let out = run(&palette_png(true), &params(Mode::Fit, 32, 8)).unwrap();
    let img = decode(&out.bytes).to_rgba8();
    assert_eq!(img.get_pixel(4, 4).0[3], 255);
    assert_eq!(img.get_pixel(28, 4).0[3], 0, "the tRNS entry is transparent");
}

/// Left half opaque red, right half fully transparent *green*: any green or dark in the
/// visible result is a halo from resizing without premultiplication.
fn red_beside_transparent_green() -> RgbaImage {
    RgbaImage::from_fn(96, 48, |x, _| if x < 48 { Rgba([255, 0, 0, 255]) } else { Rgba([0, 255, 0, 0]) })
}

#[test]
fn alpha_edges_have_no_colour_halo() {
    let input = png_of(&DynamicImage::ImageRgba8(red_beside_transparent_green()));
    for filter in FILTERS {
        let mut p = params(Mode::Fit, 40, 40);
        p.filter = filter;
        let img = decode(&run(&input, &p).unwrap().bytes).to_rgba8();
        assert_eq!(img.dimensions(), (40, 20));
        for px in img.pixels() {
            let [r, g, b, a] = px.0;
            if a >= 16 {
                assert!(r >= 250 && g <= 4 && b <= 4, "{filter:?}: visible pixel {:?} is not red", px.0);
            }
        }
        assert_eq!(img.get_pixel(39, 10).0[3], 0, "{filter:?}: the transparent side stays transparent");
    }
}

#[test]
fn alpha_is_composited_over_white_for_jpeg() {
    let input = png_of(&DynamicImage::ImageRgba8(red_beside_transparent_green()));
    let mut p = params(Mode::Fit, 40, 40);
    p.format = OutputFormat::Jpeg;
    p.quality = 95;
    let img = decode(&run(&input, &p).unwrap().bytes).to_rgb8();
    let far_right = img.get_pixel(38, 10).0;
    assert!(far_right.iter().all(|&c| c >= 245), "transparent area should be white, got {far_right:?}");
    for px in img.pixels() {
        // Between red and white, green and blue move together and red stays high; a halo
        // would show as dark or green pixels.
        let [r, g, b] = px.0;
        assert!(r >= 230 && g.abs_diff(b) <= 12, "pixel {:?} is neither red, white nor between", px.0);
    }
}

#[test]
fn gray_alpha_input_keeps_its_alpha() {
    let ga = image::GrayAlphaImage::from_fn(64, 32, |x, _| image::LumaA([if x < 32 { 40 } else { 220 }, if x < 16 { 0 } else { 255 }]));
    let out = run(&png_of(&DynamicImage::ImageLumaA8(ga)), &params(Mode::Fit, 32, 32)).unwrap();
    let img = decode(&out.bytes);
    assert_eq!(img.color(), image::ColorType::La8);
    let img = img.to_luma_alpha8();
    assert_eq!(img.get_pixel(2, 8).0[1], 0);
    assert_eq!(img.get_pixel(12, 8).0, [40, 255]);
    assert_eq!(img.get_pixel(28, 8).0, [220, 255]);
}

#[test]
fn sixteen_bit_png_is_reduced_to_eight_bits() {
    let wide = image::ImageBuffer::<Rgb<u16>, Vec<u16>>::from_fn(300, 200, |x, y| {
        Rgb([(x * 218) as u16, (y * 327) as u16, ((x + y) * 131) as u16])
    });
    let input = png_of(&DynamicImage::ImageRgb16(wide));
    let out = run(&input, &params(Mode::Fit, 150, 150)).unwrap();
    assert_eq!((out.width, out.height), (150, 100));
    assert_eq!(decode(&out.bytes).color(), image::ColorType::Rgb8);
    assert_close_to_reference(&out, &reference_resize(&decode(&input), 150, 100), 45.0, "16-bit png");
    // And an exact-size pass-through keeps each sample within rounding of value / 257.
    let same = decode(&run(&input, &params(Mode::Fit, 300, 200)).unwrap().bytes).to_rgb8();
    let px = same.get_pixel(299, 199).0;
    let want = [299 * 218, 199 * 327, 498 * 131].map(|v: u32| ((v as f64) / 257.0).round() as u8);
    assert_eq!(px, want);
}

#[test]
fn gif_uses_the_first_frame() {
    let first = RgbaImage::from_fn(40, 30, |x, _| if x < 20 { Rgba([255, 0, 0, 255]) } else { Rgba([0, 0, 255, 255]) });
    let second = RgbaImage::from_pixel(40, 30, Rgba([0, 255, 0, 255]));
    let mut gif = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
        encoder.encode_frame(image::Frame::new(first)).unwrap();
        encoder.encode_frame(image::Frame::new(second)).unwrap();
    }
    let out = run(&gif, &params(Mode::Fit, 20, 20)).unwrap();
    assert_eq!(out.source_format, ImageFormat::Gif);
    assert_eq!((out.width, out.height), (20, 15));
    let img = decode(&out.bytes).to_rgb8();
    assert_eq!(img.get_pixel(2, 7).0, [255, 0, 0]);
    assert_eq!(img.get_pixel(17, 7).0, [0, 0, 255]);
}

#[test]
fn webp_inputs_lossy_and_lossless_with_alpha() {
    let rgb = painted(320, 240);
    let lossy = webp::Encoder::from_rgb(rgb.as_raw(), 320, 240).encode(90.0).to_vec();
    let out = run(&lossy, &params(Mode::Fit, 160, 160)).unwrap();
    assert_eq!((out.source_format, out.width, out.height), (ImageFormat::WebP, 160, 120));
    assert_close_to_reference(&out, &reference_resize(&decode(&lossy), 160, 120), 45.0, "lossy webp");

    let rgba = red_beside_transparent_green();
    let mut lossless = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut lossless)
        .encode(rgba.as_raw(), 96, 48, image::ExtendedColorType::Rgba8)
        .unwrap();
    let img = decode(&run(&lossless, &params(Mode::Fit, 48, 48)).unwrap().bytes).to_rgba8();
    assert_eq!(img.dimensions(), (48, 24));
    assert_eq!(img.get_pixel(4, 4).0, [255, 0, 0, 255]);
    assert_eq!(img.get_pixel(44, 4).0[3], 0);
}

#[test]
fn cmyk_jpeg_decodes_to_plausible_srgb() {
    // Five 16-pixel patches, in libjpeg-turbo's (Adobe's) inverted convention, 255 = no ink:
    // cyan, magenta, yellow, black, paper.
    let patches: [[u8; 4]; 5] = [[0, 255, 255, 255], [255, 0, 255, 255], [255, 255, 0, 255], [255, 255, 255, 0], [255; 4]];
    let want: [[u8; 3]; 5] = [[0, 255, 255], [255, 0, 255], [255, 255, 0], [0, 0, 0], [255, 255, 255]];
    let (w, h) = (80usize, 16usize);
    let pixels: Vec<u8> = (0..h).flat_map(|_| (0..w).flat_map(|x| patches[x / 16])).collect();
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(95).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::None).unwrap();
    let jpeg = compressor
        .compress_to_vec(turbojpeg::Image { pixels: &pixels[..], width: w, pitch: w * 4, height: h, format: turbojpeg::PixelFormat::CMYK })
        .unwrap();
    let header = turbojpeg::read_header(&jpeg).unwrap();
    assert!(matches!(header.colorspace, turbojpeg::Colorspace::YCCK | turbojpeg::Colorspace::CMYK));
    let out = run(&jpeg, &params(Mode::Fit, 40, 40)).unwrap();
    assert_eq!((out.width, out.height), (40, 8));
    let img = decode(&out.bytes).to_rgb8();
    for (i, want) in want.iter().enumerate() {
        let px = img.get_pixel(i as u32 * 8 + 4, 4).0;
        assert!(px.iter().zip(want).all(|(a, b)| a.abs_diff(*b) <= 12), "patch {i}: {px:?} vs {want:?}");
    }
}
