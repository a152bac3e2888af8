//! ICC profiles converted or kept; EXIF and XMP stripped or kept. Outputs are inspected with
//! the `image` crate's decoders (zune-jpeg, png, image-webp), not with our reader.

use std::io::Cursor;

use image::metadata::Orientation as ImageOrientation;
use image::{DynamicImage, ImageDecoder, RgbImage};

use super::*;

/// What the `image` crate reads from an encoded picture.
#[derive(Debug)]
struct Seen {
    icc: Option<Vec<u8>>,
    exif: Option<Vec<u8>>,
    xmp: Option<Vec<u8>>,
    orientation: ImageOrientation,
}

fn seen(bytes: &[u8]) -> Seen {
    let mut decoder: Box<dyn ImageDecoder> = match image::guess_format(bytes).unwrap() {
        image::ImageFormat::Jpeg => Box::new(image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes)).unwrap()),
        image::ImageFormat::Png => Box::new(image::codecs::png::PngDecoder::new(Cursor::new(bytes)).unwrap()),
        image::ImageFormat::WebP => Box::new(image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)).unwrap()),
        other => panic!("unexpected output format {other:?}"),
    };
    Seen {
        icc: decoder.icc_profile().unwrap(),
        exif: decoder.exif_metadata().unwrap(),
        xmp: decoder.xmp_metadata().unwrap(),
        orientation: decoder.orientation().unwrap(),
    }
}

const XMP: &[u8] = b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF/></x:xmpmeta>";

/// rocket.jpg (which carries an Adobe RGB profile) plus EXIF orientation 6 and an XMP packet.
fn rocket_with_metadata() -> Vec<u8> {
    let mut xmp_payload = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp_payload.extend(XMP);
    let with_xmp = with_app_segment(&photo("rocket.jpg"), 0xE1, &xmp_payload);
    with_app_segment(&with_xmp, 0xE1, &exif_orientation_payload(6))
}

fn all_formats() -> [OutputFormat; 3] {
    [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::WebP]
}

#[test]
fn by_default_icc_exif_and_xmp_are_stripped() {
    let input = rocket_with_metadata();
    let before = seen(&input);
    assert!(before.icc.is_some() && before.exif.is_some() && before.xmp.is_some(), "the test input carries all three");
    for format in all_formats() {
        let mut p = params(Mode::Fit, 100, 100);
        p.format = format;
        let out = run(&input, &p).unwrap();
        let after = seen(&out.bytes);
        assert_eq!((after.icc, after.exif, after.xmp), (None, None, None), "{format:?}");
        assert_eq!((out.width, out.height), (67, 100), "{format:?}: orientation 6 applied");
    }
}

#[test]
fn keep_metadata_copies_exif_and_xmp_with_the_orientation_reset() {
    let input = rocket_with_metadata();
    for format in all_formats() {
        let mut p = params(Mode::Fit, 100, 100);
        p.format = format;
        p.keep_metadata = true;
        let after = seen(&run(&input, &p).unwrap().bytes);
        assert!(after.exif.is_some(), "{format:?}: EXIF kept");
        assert_eq!(after.orientation, ImageOrientation::NoTransforms, "{format:?}: pixels are upright, tag says so");
        let xmp = after.xmp.unwrap_or_else(|| panic!("{format:?}: XMP kept"));
        assert_eq!(String::from_utf8_lossy(&xmp).trim_end_matches('\0'), String::from_utf8_lossy(XMP), "{format:?}");
        assert!(after.icc.is_none(), "{format:?}: ICC still converted away without keep_icc");
    }
    // Without auto_orient the pixels stay as stored, and so does the tag.
    let mut p = params(Mode::Fit, 100, 100);
    p.format = OutputFormat::Jpeg;
    p.keep_metadata = true;
    p.auto_orient = false;
    let out = run(&input, &p).unwrap();
    assert_eq!((out.width, out.height), (100, 67));
    assert_eq!(seen(&out.bytes).orientation, ImageOrientation::Rotate90);
}

#[test]
fn keep_icc_embeds_the_profile_and_leaves_the_pixels() {
    let input = photo("rocket.jpg");
    let profile = seen(&input).icc.expect("rocket.jpg has a profile");
    for format in all_formats() {
        let mut p = params(Mode::Fit, 200, 200);
        p.format = format;
        p.keep_icc = true;
        let after = seen(&run(&input, &p).unwrap().bytes);
        assert_eq!(after.icc.as_ref(), Some(&profile), "{format:?}");
    }
}

/// Adobe RGB (1998) to sRGB by the published matrices (D65, no chromatic adaptation needed),
/// written out independently of Little CMS.
fn adobe_to_srgb(img: &RgbImage) -> RgbImage {
    const TO_XYZ: [[f64; 3]; 3] = [[0.5767309, 0.1855540, 0.1881852], [0.2973769, 0.6273491, 0.0752741], [0.0270343, 0.0706872, 0.9911085]];
    const TO_SRGB: [[f64; 3]; 3] = [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]];
    let mul = |m: &[[f64; 3]; 3], v: [f64; 3]| [0, 1, 2].map(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2]);
    let encode = |c: f64| {
        let c = c.clamp(0.0, 1.0);
        let v = if c <= 0.0031308 { 12.92 * c } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
        (v * 255.0).round() as u8
    };
    let mut out = img.clone();
    for px in out.pixels_mut() {
        let linear = px.0.map(|c| (f64::from(c) / 255.0).powf(563.0 / 256.0));
        px.0 = mul(&TO_SRGB, mul(&TO_XYZ, linear)).map(encode);
    }
    out
}

#[test]
fn an_adobe_rgb_jpeg_is_converted_to_srgb() {
    let input = photo("rocket.jpg");
    let converted = run(&input, &params(Mode::Fit, 400, 400)).unwrap();
    let reference = reference_resize(&DynamicImage::ImageRgb8(adobe_to_srgb(&decode(&input).to_rgb8())), 400, 267);
    assert_close_to_reference(&converted, &reference, 40.0, "Adobe RGB to sRGB");
    // And the conversion is not a no-op on this photo: the unconverted pixels are further off.
    let mut p = params(Mode::Fit, 400, 400);
    p.keep_icc = true;
    let unconverted = decode(&run(&input, &p).unwrap().bytes).to_rgb8();
    let unconverted_db = psnr(&unconverted, &reference);
    let converted_db = psnr(&decode(&converted.bytes).to_rgb8(), &reference);
    assert!(converted_db > unconverted_db + 3.0, "converted {converted_db:.1} dB, unconverted {unconverted_db:.1} dB");
}
