//! What the bench harness (`make bench`) measures thumbnail quality with, written as files:
//!
//! - `FERRY_DETAIL_OUT=dir`: the detail corpus of the quality test
//!   (src/jobs/resize/tests/detail_corpus.rs: text, stripes, fabric, checkerboards, line art,
//!   foliage), painted at a 12 MP phone's 4032x3024 and encoded as libjpeg-turbo writes them
//!   (4:2:0, quality 90): every picture progressive, the text page and the stripes baseline too.
//!   At that size a 400 box is a shrink of about 10, where the default and fast modes decode at
//!   different scales (1/4 and 1/8), the case issue 20 measured.
//! - `FERRY_REFERENCE_OUT=dir`: for every photo of `FERRY_CORPUS` and of the detail corpus, the
//!   reference its thumbnails are held to: the full decode resized with Lanczos3 straight to the
//!   size ferryd's fit into 400x400 makes ([`reference`]), as `<photo file name>.png`.
//!
//! Run: `FERRY_CORPUS=../shared/corpus FERRY_DETAIL_OUT=out/bench/detail
//! FERRY_REFERENCE_OUT=out/bench/reference cargo bench --locked --bench quality_reference`.
//! The pictures are painted from fixed seeds: every run writes the same bytes.

use std::path::{Path, PathBuf};

use ferryd::jobs::resize::resize;
use ferryd::jobs::{JobControl, Limits, Mode, OutputFormat, ResizeParams};

#[allow(dead_code)] // the quality test uses more of it than the pictures
#[path = "../../src/jobs/resize/tests/detail_corpus.rs"]
mod detail_corpus;
mod reference;

/// The phone-sized canvas the detail pictures are painted on.
const SIZE: (u32, u32) = (4032, 3024);

/// The pictures also written as baseline JPEGs (every picture is written progressive).
const BASELINE_TOO: [&str; 2] = ["text", "stripes"];

fn main() {
    let mut photos = Vec::new();
    if let Some(dir) = std::env::var_os("FERRY_CORPUS").map(PathBuf::from) {
        photos.extend(photos_in(&dir));
    }
    if let Some(dir) = std::env::var_os("FERRY_DETAIL_OUT").map(PathBuf::from) {
        std::fs::create_dir_all(&dir).expect("FERRY_DETAIL_OUT can be created");
        for detail in detail_corpus::corpus(SIZE.0, SIZE.1) {
            let name = detail.name.replace(' ', "-");
            for progressive in [true, false] {
                if !progressive && !BASELINE_TOO.contains(&detail.name) {
                    continue;
                }
                let kind = if progressive { "progressive" } else { "baseline" };
                let path = dir.join(format!("detail-{name}-{kind}.jpg"));
                std::fs::write(&path, jpeg_420(&detail.pixels, progressive)).expect("detail picture written");
                println!("painted {}", path.file_name().unwrap().to_string_lossy());
            }
        }
        photos.extend(photos_in(&dir));
    }
    let Some(out) = std::env::var_os("FERRY_REFERENCE_OUT").map(PathBuf::from) else { return };
    std::fs::create_dir_all(&out).expect("FERRY_REFERENCE_OUT can be created");
    // The size ferryd makes: fit into 400x400 (a PNG, so nothing but the size matters here).
    let params = ResizeParams { width: 400, height: 400, mode: Mode::Fit, format: OutputFormat::Png, ..ResizeParams::default() };
    for path in photos {
        let input = std::fs::read(&path).expect("readable photo");
        let made = resize(&input, &params, &Limits::default(), &JobControl::unbounded()).expect("ferryd makes the thumbnail");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        reference::reference(&input, made.width, made.height)
            .save_with_format(out.join(format!("{name}.png")), image::ImageFormat::Png)
            .expect("reference written");
        println!("reference {name} {}x{}", made.width, made.height);
    }
}

/// Every `*.jpg`, `*.jpeg` and `*.png` of `dir`, sorted.
fn photos_in(dir: &Path) -> Vec<PathBuf> {
    let mut photos: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(), Some("jpg" | "jpeg" | "png")))
        .collect();
    photos.sort();
    photos
}

/// `img` as a 4:2:0 JPEG at quality 90, baseline or progressive (as the quality test writes it).
fn jpeg_420(img: &image::RgbImage, progressive: bool) -> Vec<u8> {
    let mut compressor = turbojpeg::Compressor::new().expect("compressor");
    compressor.set_quality(90).expect("quality");
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).expect("subsampling");
    compressor.set_progressive(progressive).expect("progressive");
    let (width, height) = (img.width() as usize, img.height() as usize);
    let image = turbojpeg::Image { pixels: img.as_raw().as_slice(), width, pitch: width * 3, height, format: turbojpeg::PixelFormat::RGB };
    compressor.compress_to_vec(image).expect("encoded")
}
