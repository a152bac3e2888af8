//! End-to-end tests of [`super::resize`]. Inputs are the three sample photos and pictures the
//! tests paint and encode themselves; outputs are checked with independent code wherever it
//! exists: the `image` crate decodes them and `image::imageops` provides the reference resize
//! (PSNR against it), `image`'s own orientation and EXIF handling are the reference for
//! rotation.
//!
//! - `modes`: output sizes and similarity for fit, fill, exact, every filter, JPEG shrink-on-load.
//! - `orientation`: EXIF orientations 1..8 on a JPEG the test writes.
//! - `pixel_kinds`: gray, palette, alpha (no halos), 16-bit, GIF, WebP, CMYK inputs.
//! - `metadata`: ICC conversion or embedding, EXIF/XMP stripped or kept.
//! - `refusals`: bombs, bad input, deadlines and cancellation.
//! - `fuzz`: truncated and bit-flipped inputs never panic.
//! - `random`: the seeded generator these tests and the decoders' own share.
//! - `quality`: the quality contract (within 0.5 dB of libvips against a full decode) on the
//!   pictures of fine detail `detail_corpus` paints and on the sample photos.

pub mod detail_corpus;
mod fuzz;
mod heif;
mod metadata;
mod modes;
mod orientation;
mod pixel_kinds;
mod quality;
pub mod random;
mod refusals;

use image::{DynamicImage, RgbImage};

use super::super::{Filter, JobControl, JobError, Limits, Mode, OutputFormat, ResizeParams};
use super::{resize, ResizeOutput};

/// A sample photo from tests/data/photos.
pub fn photo(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/photos/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Every sample photo whose extension is one of `extensions` (any case), by name, in name order.
pub fn photos_with_extension(extensions: &[&str]) -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/tests/data/photos", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.rsplit_once('.').is_some_and(|(_, ext)| extensions.iter().any(|e| e.eq_ignore_ascii_case(ext))))
        .collect();
    names.sort();
    names.into_iter().map(|name| (name.clone(), photo(&name))).collect()
}

/// Params for `mode` into `width x height`, PNG out (lossless, so comparisons measure only
/// the resize), Lanczos3.
pub fn params(mode: Mode, width: u32, height: u32) -> ResizeParams {
    ResizeParams { width, height, mode, format: OutputFormat::Png, ..ResizeParams::default() }
}

/// Runs the pipeline with default limits and no deadline.
pub fn run(input: &[u8], params: &ResizeParams) -> Result<ResizeOutput, JobError> {
    resize(input, params, &Limits::default(), &JobControl::unbounded())
}

/// Decodes any output (or input) with the `image` crate, which shares no code with our path.
pub fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).expect("the image crate decodes it")
}

/// Peak signal-to-noise ratio of two same-sized RGB pictures, in dB.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "PSNR of differently sized pictures");
    let n = a.as_raw().len() as f64;
    let mse = a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>() / n;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0 * 255.0 / mse).log10() }
}

/// `image::imageops` Lanczos3 of `img` to `width x height`: the independent reference.
pub fn reference_resize(img: &DynamicImage, width: u32, height: u32) -> RgbImage {
    image::imageops::resize(&img.to_rgb8(), width, height, image::imageops::FilterType::Lanczos3)
}

/// A smooth painted RGB picture (gradients and a slow wave): resizes of it are well defined,
/// so references agree closely.
pub fn painted(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (f64::from(x) / f64::from(width), f64::from(y) / f64::from(height));
        let wave = ((fx * 6.0).sin() * (fy * 4.0).cos() * 0.5 + 0.5) * 255.0;
        image::Rgb([(fx * 255.0) as u8, (fy * 255.0) as u8, wave as u8])
    })
}

/// Encodes RGB pixels as JPEG with libjpeg-turbo at `quality`, 4:4:4 (so colours stay crisp).
pub fn jpeg_of(img: &RgbImage, quality: i32) -> Vec<u8> {
    let image = turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: img.width() as usize,
        pitch: img.width() as usize * 3,
        height: img.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(image, quality, turbojpeg::Subsamp::None).unwrap().to_vec()
}

/// Encodes any `image` picture as PNG with the `image` crate.
pub fn png_of(img: &DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Inserts an APP segment right after SOI, bytes written out by hand (independent of the
/// pipeline's own segment writer).
pub fn with_app_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).unwrap();
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, marker]);
    out.extend(length.to_be_bytes());
    out.extend(payload);
    out.extend(&jpeg[2..]);
    out
}

/// An EXIF APP1 payload holding only an orientation, big-endian TIFF, bytes written by hand.
pub fn exif_orientation_payload(value: u8) -> Vec<u8> {
    let mut p = b"Exif\0\0".to_vec();
    p.extend(b"MM\x00\x2a\x00\x00\x00\x08"); // TIFF header, IFD0 at 8
    p.extend([0x00, 0x01]); // one entry
    p.extend([0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, value, 0x00, 0x00]);
    p.extend([0, 0, 0, 0]); // no next IFD
    p
}

/// Asserts a mode's size and that the output looks like the reference resize of `input`.
pub fn assert_close_to_reference(out: &ResizeOutput, reference: &RgbImage, min_psnr: f64, what: &str) {
    let got = decode(&out.bytes).to_rgb8();
    assert_eq!(got.dimensions(), reference.dimensions(), "{what}: size");
    let db = psnr(&got, reference);
    eprintln!("PSNR {what}: {db:.1}");
    assert!(db > min_psnr, "{what}: PSNR {db:.1} dB against the reference, want > {min_psnr}");
}

/// Every filter the spec lists.
pub const FILTERS: [Filter; 4] = [Filter::Nearest, Filter::Bilinear, Filter::CatmullRom, Filter::Lanczos3];
