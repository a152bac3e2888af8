//! Tests of the JPEG decode: scan pruning against the decode of every scan (generated
//! progressive files with the scan scripts real encoders write, the sample photos, and the
//! corpus when `FERRY_CORPUS` names it), the fallbacks, and deadlines inside the decode.

use std::ffi::{c_int, c_uint, c_ulong};
use std::time::{Duration, Instant};

use crate::jobs::{Filter, JobControl, JobError};
use crate::jobs::resize::geometry::{Region, FAST_DC_ONLY_MARGIN};
use crate::jobs::resize::raster::{Layout, Raster};
use crate::jobs::resize::resample;
use crate::jobs::resize::tests::{photo, photos_with_extension};
use super::bit_deposit::without_pdep;
use super::own_decoder::decode_to_ycc;
use super::{decode, decode_every_scan, decode_every_scan_to_ycc, decode_with_libjpeg};
use super::stream;
use super::scan_pruning::for_eighth_scale;

extern "C" {
    fn ferry_test_encode(
        pixels: *const u8,
        width: c_uint,
        height: c_uint,
        components: c_int,
        quality: c_int,
        h0: c_int,
        v0: c_int,
        script: *const c_int,
        nscans: c_int,
        restart_interval: c_uint,
        rgb: c_int,
        out: *mut *mut u8,
        out_len: *mut c_ulong,
    ) -> c_int;
    fn ferry_test_free(buf: *mut u8);
}

/// One scan: component indices, Ss, Se, Ah, Al.
pub(super) type Scan = (&'static [i32], i32, i32, i32, i32);

/// Encodes `pixels` (gray or RGB rows) as a progressive JPEG with `script` (empty: libjpeg's
/// default script), the first component sampled `h0 x v0`.
pub(super) fn encode_progressive(pixels: &[u8], width: u32, height: u32, components: i32, sampling: (i32, i32), script: &[Scan]) -> Vec<u8> {
    encode_progressive_with_restarts(pixels, width, height, components, sampling, script, 0)
}

/// [`encode_progressive`] with a restart marker every `restart_interval` MCUs.
pub(super) fn encode_progressive_with_restarts(
    pixels: &[u8],
    width: u32,
    height: u32,
    components: i32,
    sampling: (i32, i32),
    script: &[Scan],
    restart_interval: u32,
) -> Vec<u8> {
    encode_with(pixels, width, height, components, sampling, script, restart_interval, false)
}

/// [`encode_progressive`] of RGB pixels stored as RGB (an Adobe marker with transform 0, no
/// JFIF marker, as `cjpeg -rgb` writes), not YCbCr.
pub(super) fn encode_progressive_as_rgb(pixels: &[u8], width: u32, height: u32, script: &[Scan]) -> Vec<u8> {
    encode_with(pixels, width, height, 3, (1, 1), script, 0, true)
}

#[allow(clippy::too_many_arguments)]
fn encode_with(
    pixels: &[u8],
    width: u32,
    height: u32,
    components: i32,
    (h0, v0): (i32, i32),
    script: &[Scan],
    restart_interval: u32,
    rgb: bool,
) -> Vec<u8> {
    assert_eq!(pixels.len(), (width * height) as usize * components as usize);
    let flat: Vec<c_int> = script
        .iter()
        .flat_map(|&(comps, ss, se, ah, al)| {
            let mut ids = [0; 4];
            ids[..comps.len()].copy_from_slice(comps);
            [comps.len() as c_int, ids[0], ids[1], ids[2], ids[3], ss, se, ah * 16 + al]
        })
        .collect();
    let (mut out, mut len) = (std::ptr::null_mut(), 0);
    // SAFETY: pixels holds width*height*components bytes; flat holds 8 ints per scan; out and
    // len are out-pointers; the buffer is copied and then freed by the C side's free.
    unsafe {
        let status = ferry_test_encode(
            pixels.as_ptr(),
            width,
            height,
            components,
            90,
            h0,
            v0,
            flat.as_ptr(),
            script.len() as c_int,
            restart_interval,
            c_int::from(rgb),
            &mut out,
            &mut len,
        );
        assert_eq!(status, 0, "libjpeg refused the scan script {script:?}");
        let jpeg = std::slice::from_raw_parts(out, len as usize).to_vec();
        ferry_test_free(out);
        jpeg
    }
}

/// A mozjpeg-style script (its max-compression profile): unrefined DC, low luma and chroma
/// bands first, luma refined in two steps, chroma's high band last.
const MOZJPEG_STYLE: [Scan; 9] = [
    (&[0, 1, 2], 0, 0, 0, 0),
    (&[0], 1, 8, 0, 2),
    (&[1], 1, 8, 0, 0),
    (&[2], 1, 8, 0, 0),
    (&[0], 9, 63, 0, 2),
    (&[0], 1, 63, 2, 1),
    (&[0], 1, 63, 1, 0),
    (&[1], 9, 63, 0, 0),
    (&[2], 9, 63, 0, 0),
];

/// One scan per component for DC, then one per component for all of AC.
const ONE_SCAN_PER_COMPONENT: [Scan; 6] =
    [(&[0], 0, 0, 0, 0), (&[1], 0, 0, 0, 0), (&[2], 0, 0, 0, 0), (&[0], 1, 63, 0, 0), (&[1], 1, 63, 0, 0), (&[2], 1, 63, 0, 0)];

/// Successive approximation everywhere, DC included, chroma split into bands.
const SPLIT_CHROMA_REFINED: [Scan; 10] = [
    (&[0, 1, 2], 0, 0, 0, 1),
    (&[0], 1, 5, 0, 1),
    (&[1], 1, 2, 0, 1),
    (&[2], 1, 2, 0, 1),
    (&[1], 3, 63, 0, 1),
    (&[2], 3, 63, 0, 1),
    (&[0], 6, 63, 0, 1),
    (&[0, 1, 2], 0, 0, 1, 0),
    (&[1], 1, 63, 1, 0),
    (&[0], 1, 63, 1, 0),
];

/// The scan scripts every scale is tested with (empty: libjpeg's default).
pub(super) const SCRIPTS: [(&str, &[Scan]); 4] = [
    ("libjpeg default", &[]),
    ("mozjpeg-style", &MOZJPEG_STYLE),
    ("one scan per component", &ONE_SCAN_PER_COMPONENT),
    ("split chroma, refined", &SPLIT_CHROMA_REFINED),
];

/// Chroma samplings, as the first component's sampling factors.
pub(super) const SAMPLINGS: [(&str, (i32, i32)); 4] = [("4:2:0", (2, 2)), ("4:2:2", (2, 1)), ("4:4:4", (1, 1)), ("4:4:0", (1, 2))];

/// The 640x427 sample photo as RGB rows.
pub(super) fn rocket_rgb() -> (Vec<u8>, u32, u32) {
    let jpeg = photo("rocket.jpg");
    let image = turbojpeg::decompress(&jpeg, turbojpeg::PixelFormat::RGB).unwrap();
    (image.pixels, image.width as u32, image.height as u32)
}

pub(super) fn frame_size(jpeg: &[u8]) -> (u32, u32) {
    let segments = crate::jobs::resize::jpeg_markers::header_segments(jpeg).unwrap();
    crate::jobs::resize::jpeg_markers::frame_size(&segments).unwrap()
}

fn scan_count(jpeg: &[u8]) -> usize {
    stream::split(jpeg).unwrap().pieces.iter().filter(|p| p.scan.is_some()).count()
}

/// A Lanczos3 thumbnail whose longer side is `side`.
fn thumbnail_of_side(raster: Raster, side: u32) -> Raster {
    let scale = f64::from(side) / f64::from(raster.width.max(raster.height));
    let (w, h) = (((f64::from(raster.width) * scale).round() as u32).max(1), ((f64::from(raster.height) * scale).round() as u32).max(1));
    let region = Region { x: 0.0, y: 0.0, width: raster.width.into(), height: raster.height.into() };
    resample::resize(raster, region, w, h, Filter::Lanczos3, &JobControl::unbounded()).unwrap()
}

pub(super) fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>() / a.len() as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0 * 255.0 / mse).log10() }
}

/// What pruning and the own decoder did to one file, for the assertions and the log.
pub(super) struct Compared {
    pruned: bool,
    scans: (usize, usize),
    /// Whether the own decoder (`own_decoder`) took the file (else the pipeline used libjpeg,
    /// pruned).
    pub(super) own_decoder: bool,
    /// Whether the pipeline's 1/8 picture equals libjpeg's full decode sample for sample.
    pub(super) identical: bool,
    thumbnail_psnr: f64,
}

/// Every third sample from the first: luma of a YCbCr raster.
fn luma(raster: &Raster) -> Vec<u8> {
    raster.data.iter().step_by(raster.layout.channels()).copied().collect()
}

/// Decodes `jpeg` at 1/8 three ways: libjpeg reading every scan (the reference), libjpeg pruned
/// (must be identical: pruning drops only coefficients the 1/8 IDCTs never read), and the
/// pipeline's own decode (`own_decoder` where it takes the file): luma identical to the
/// reference (compared in YCbCr), the RGB picture reported, and its thumbnail within 40 dB PSNR
/// (callers assert identity where it must hold).
fn compare_at_eighth(name: &str, jpeg: &[u8]) -> Compared {
    compare_at(name, jpeg, 1)
}

/// [`compare_at_eighth`] at `eighths`/8 (1/8 or 1/4; pruning applies at 1/8 only).
pub(super) fn compare_at(name: &str, jpeg: &[u8], eighths: u32) -> Compared {
    let size = frame_size(jpeg);
    let ctl = JobControl::unbounded();
    let full = decode_every_scan(jpeg, size, eighths, false, &ctl).unwrap();
    let pruned_decode = decode_with_libjpeg(jpeg, size, eighths, false, &ctl).unwrap();
    assert_eq!((full.width, full.height, full.layout), (pruned_decode.width, pruned_decode.height, pruned_decode.layout), "{name}");
    assert!(full.data == pruned_decode.data, "{name}: pruned decode differs (luma or chroma), PSNR {:.1} dB", psnr(&full.data, &pruned_decode.data));
    let ours = decode(jpeg, size, eighths, false, &ctl).unwrap();
    assert_eq!((full.width, full.height, full.layout), (ours.width, ours.height, ours.layout), "{name}");
    let own_decoder = match decode_to_ycc(jpeg, size, eighths) {
        Some(ycc) => {
            let reference = decode_every_scan_to_ycc(jpeg, size, eighths).unwrap();
            assert!(luma(&ycc) == luma(&reference), "{name}: own decoder's luma differs, PSNR {:.1} dB", psnr(&luma(&ycc), &luma(&reference)));
            true
        }
        None => false,
    };
    let identical = full.data == ours.data;
    // The largest thumbnail the pipeline makes from a 1/8 decode (fast mode keeps
    // FAST_DC_ONLY_MARGIN over the output), at most 200 px: a thumbnail reduces.
    let side = ((f64::from(full.width.max(full.height)) / FAST_DC_ONLY_MARGIN) as u32).min(200);
    let thumbnail_psnr = psnr(&thumbnail_of_side(full, side).data, &thumbnail_of_side(ours, side).data);
    assert!(thumbnail_psnr >= 40.0, "{name}: thumbnail PSNR {thumbnail_psnr:.1} dB");
    let pruned = if eighths == 1 { for_eighth_scale(jpeg) } else { None };
    let scans = (pruned.as_deref().map_or(scan_count(jpeg), scan_count), scan_count(jpeg));
    Compared { pruned: pruned.is_some(), scans, own_decoder, identical, thumbnail_psnr }
}

#[test]
fn quarter_scale_decodes_identically_where_taken() {
    check_quarter_scale_decodes_identically_where_taken();
    // The refinement passes' other way of manipulating bits (see bit_deposit).
    without_pdep(check_quarter_scale_decodes_identically_where_taken);
}

fn check_quarter_scale_decodes_identically_where_taken() {
    let (rgb, width, height) = rocket_rgb();
    for (sampling_name, sampling) in SAMPLINGS {
        for (script_name, script) in SCRIPTS {
            for interval in [0, 3] {
                let name = format!("{script_name}, {sampling_name}, restart every {interval}, at 1/4");
                let jpeg = encode_progressive_with_restarts(&rgb, width, height, 3, sampling, script, interval);
                let got = compare_at(&name, &jpeg, 2);
                assert!(got.identical, "{name}: differs from libjpeg");
                assert!(got.own_decoder, "{name}: left to libjpeg");
            }
        }
    }
    let gray: Vec<u8> = rgb.chunks_exact(3).map(|p| p[1]).collect();
    let jpeg = encode_progressive(&gray, width, height, 1, (1, 1), &[]);
    let got = compare_at("gray at 1/4", &jpeg, 2);
    assert!(got.own_decoder && got.identical);
}

#[test]
fn pruned_decodes_equal_full_decodes_for_every_scan_script_and_sampling() {
    check_pruned_decodes_equal_full_decodes_for_every_scan_script_and_sampling();
    // The refinement passes' other way of manipulating bits (see bit_deposit).
    without_pdep(check_pruned_decodes_equal_full_decodes_for_every_scan_script_and_sampling);
}

fn check_pruned_decodes_equal_full_decodes_for_every_scan_script_and_sampling() {
    let (rgb, width, height) = rocket_rgb();
    let gray: Vec<u8> = rgb.chunks_exact(3).map(|p| ((u32::from(p[0]) * 77 + u32::from(p[1]) * 150 + u32::from(p[2]) * 29) >> 8) as u8).collect();
    for (sampling_name, sampling) in SAMPLINGS {
        for (script_name, script) in SCRIPTS {
            let name = format!("{script_name}, {sampling_name}");
            let jpeg = encode_progressive(&rgb, width, height, 3, sampling, script);
            let got = compare_at_eighth(&name, &jpeg);
            assert!(got.pruned && got.scans.0 < got.scans.1, "{name}: nothing pruned ({:?} scans)", got.scans);
            assert!(got.own_decoder, "{name}: the own decoder declined");
            assert!(got.identical, "{name}: the picture differs from libjpeg's");
            eprintln!("{name}: libjpeg would keep {} of {} scans, thumbnail PSNR {:.1} dB", got.scans.0, got.scans.1, got.thumbnail_psnr);
        }
    }
    let jpeg = encode_progressive(&gray, width, height, 1, (1, 1), &[]);
    let got = compare_at_eighth("gray, libjpeg default", &jpeg);
    assert!(got.pruned && got.scans.0 < got.scans.1 && got.own_decoder && got.identical);
    // TurboJPEG's own progressive output (libjpeg's default script through another door).
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_progressive(true).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    let image = turbojpeg::Image { pixels: &rgb[..], width: width as usize, pitch: width as usize * 3, height: height as usize, format: turbojpeg::PixelFormat::RGB };
    let jpeg = compressor.compress_to_vec(image).unwrap();
    assert!(compare_at_eighth("turbojpeg progressive", &jpeg).pruned);
}

#[test]
fn restart_markers_and_odd_sizes_decode_identically() {
    let (rgb, width, height) = rocket_rgb();
    // A crop whose sides are not multiples of 16 (partial MCUs on both edges).
    let (w, h) = (width - 13, height - 7);
    let crop: Vec<u8> = rgb.chunks_exact(width as usize * 3).take(h as usize).flat_map(|row| &row[..w as usize * 3]).copied().collect();
    for (interval, sampling) in [(1, (2, 2)), (7, (2, 2)), (5, (2, 1)), (3, (1, 1)), (4, (1, 2))] {
        for (script_name, script) in [("libjpeg default", &[][..]), ("split chroma, refined", &SPLIT_CHROMA_REFINED[..])] {
            let name = format!("{script_name}, restart every {interval}, sampling {sampling:?}");
            let jpeg = encode_progressive_with_restarts(&crop, w, h, 3, sampling, script, interval);
            let got = compare_at_eighth(&name, &jpeg);
            assert!(got.own_decoder && got.identical, "{name}");
            let got = compare_at(&format!("{name}, at 1/4"), &jpeg, 2);
            assert!(got.own_decoder && got.identical, "{name}, at 1/4");
        }
    }
    // 4:2:2 at 1/4 whose chroma rows have 1, 2 (replicated by libjpeg) and 3 samples (its
    // triangle filter), each with a partial block at the right edge; 4:4:0 likewise in columns.
    for side in [5, 13, 17, 23] {
        let narrow: Vec<u8> = rgb.chunks_exact(width as usize * 3).take(h as usize).flat_map(|row| &row[..side as usize * 3]).copied().collect();
        let name = format!("4:2:2, {side}x{h}, at 1/4");
        let jpeg = encode_progressive_with_restarts(&narrow, side, h, 3, (2, 1), &SPLIT_CHROMA_REFINED, 0);
        let got = compare_at(&name, &jpeg, 2);
        assert!(got.own_decoder && got.identical, "{name}");
        let name = format!("4:4:0, {w}x{side}, at 1/4");
        let jpeg = encode_progressive_with_restarts(&crop[..(w * side * 3) as usize], w, side, 3, (1, 2), &SPLIT_CHROMA_REFINED, 0);
        let got = compare_at(&name, &jpeg, 2);
        assert!(got.own_decoder && got.identical, "{name}");
    }
}

/// Damaged progressive files, at 1/8 and 1/4: whenever our decoder takes one, libjpeg (pruned, as before)
/// accepts it too and gives the same picture; what it cannot read exactly goes to libjpeg;
/// never a panic. Restart markers included.
#[test]
fn damaged_progressive_files_decode_as_libjpeg_does_or_go_to_it() {
    let (rgb, width, height) = rocket_rgb();
    let mut random = super::TestRandom(0x2545_F491);
    let mut next = move |n: usize| random.below(n);
    let (mut taken, mut declined) = (0, 0);
    for (interval, script) in [(0, &[][..]), (4, &SPLIT_CHROMA_REFINED[..]), (0, &MOZJPEG_STYLE[..])] {
        let jpeg = encode_progressive_with_restarts(&rgb, width, height, 3, (2, 2), script, interval);
        let ctl = JobControl::unbounded();
        for round in 0..300 {
            let mut copy = jpeg.clone();
            for _ in 0..1 + round % 3 {
                let at = next(copy.len());
                copy[at] ^= 1 << next(8);
            }
            if round % 10 == 0 {
                copy.truncate(next(copy.len()));
            }
            let size = (width, height);
            let eighths = 1 + (round % 2) as u32;
            let ours = std::panic::catch_unwind(|| decode_to_ycc(&copy, size, eighths)).expect("the own decoder panicked");
            let by_loops = without_pdep(|| std::panic::catch_unwind(|| decode_to_ycc(&copy, size, eighths))).expect("the own decoder panicked");
            assert!(ours == by_loops, "round {round}: the two ways of manipulating refinement bits disagree");
            let Some(ours) = ours else {
                declined += 1;
                continue;
            };
            taken += 1;
            let pipeline = decode(&copy, size, eighths, false, &ctl).expect("taken, so decoded");
            let reference = decode_with_libjpeg(&copy, size, eighths, false, &ctl)
                .unwrap_or_else(|e| panic!("round {round}: decoded here, refused by libjpeg: {e:?}"));
            assert!(pipeline.data == reference.data, "round {round}: libjpeg decodes the damaged file differently");
            assert_eq!((ours.width, ours.height), (pipeline.width, pipeline.height));
        }
    }
    eprintln!("damaged progressive files: {taken} decoded without libjpeg, {declined} left to it");
    assert!(taken > 0 && declined > 0, "taken {taken}, declined {declined}");
}

#[test]
fn the_sample_photos_decode_identically_pruned() {
    let photos = photos_with_extension(&["jpg"]);
    for (name, jpeg) in &photos {
        compare_at_eighth(name, jpeg);
    }
    assert!(!photos.is_empty(), "no JPEG in tests/data/photos");
}

/// Every JPEG in `FERRY_CORPUS` (e.g. `FERRY_CORPUS=/work/shared/corpus cargo test --release
/// --locked --lib corpus_photos -- --ignored --nocapture`), with what pruning kept and how long
/// each decode took (one run each: the bench has the careful figures).
#[test]
#[ignore = "reads the photo corpus named by FERRY_CORPUS"]
fn corpus_photos_decode_identically_pruned() {
    let dir = std::env::var("FERRY_CORPUS").expect("set FERRY_CORPUS to a directory of photos");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut seen = 0;
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))) {
        let jpeg = std::fs::read(path).unwrap();
        let size = frame_size(&jpeg);
        let ctl = JobControl::unbounded();
        let started = Instant::now();
        decode_every_scan(&jpeg, size, 1, false, &ctl).unwrap();
        let full = started.elapsed();
        let started = Instant::now();
        decode(&jpeg, size, 1, false, &ctl).unwrap();
        let pruned = started.elapsed();
        let got = compare_at_eighth(&path.display().to_string(), &jpeg);
        eprintln!(
            "{}: libjpeg keeps {} of {} scans, own decoder {}, identical {}, thumbnail PSNR {:.1} dB, decode at 1/8 {:.1} ms all scans, {:.1} ms as the pipeline does",
            path.file_name().unwrap().to_string_lossy(),
            got.scans.0,
            got.scans.1,
            got.own_decoder,
            got.identical,
            got.thumbnail_psnr,
            full.as_secs_f64() * 1e3,
            pruned.as_secs_f64() * 1e3
        );
        let quarter = compare_at(&path.display().to_string(), &jpeg, 2);
        let started = Instant::now();
        decode_every_scan(&jpeg, size, 2, false, &ctl).unwrap();
        let libjpeg_quarter = started.elapsed();
        let started = Instant::now();
        decode(&jpeg, size, 2, false, &ctl).unwrap();
        let pipeline_quarter = started.elapsed();
        eprintln!(
            "  at 1/4: own decoder {}, identical {}, {:.1} ms libjpeg, {:.1} ms as the pipeline does",
            quarter.own_decoder,
            quarter.identical,
            libjpeg_quarter.as_secs_f64() * 1e3,
            pipeline_quarter.as_secs_f64() * 1e3
        );
        assert!(quarter.identical);
        if got.pruned {
            // The pipeline plans a 400 px thumbnail of these photos at 1/4 (it keeps a 2x
            // margin over the output); what a 1/8 pruned decode would give instead.
            let started = Instant::now();
            let quarter = thumbnail_of_side(decode_every_scan(&jpeg, size, 2, false, &ctl).unwrap(), 400);
            let at_quarter = started.elapsed();
            let started = Instant::now();
            let eighth = thumbnail_of_side(decode(&jpeg, size, 1, false, &ctl).unwrap(), 400);
            let at_eighth = started.elapsed();
            if (quarter.width, quarter.height) == (eighth.width, eighth.height) {
                eprintln!(
                    "  400 px thumbnail: 1/4 all scans {:.1} ms, 1/8 pruned {:.1} ms, PSNR between them {:.1} dB",
                    at_quarter.as_secs_f64() * 1e3,
                    at_eighth.as_secs_f64() * 1e3,
                    psnr(&quarter.data, &eighth.data)
                );
            }
        }
        seen += 1;
    }
    assert!(seen > 0, "no JPEG in {dir}");
}

#[test]
fn unusual_files_are_decoded_whole() {
    let (rgb, width, height) = rocket_rgb();
    let image = turbojpeg::Image { pixels: &rgb[..], width: width as usize, pitch: width as usize * 3, height: height as usize, format: turbojpeg::PixelFormat::RGB };
    // Arithmetic-coded progressive: not pruned, still decoded.
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_progressive(true).unwrap();
    compressor.set_arithmetic(true).unwrap();
    let arithmetic = compressor.compress_to_vec(image).unwrap();
    assert!(for_eighth_scale(&arithmetic).is_none());
    let decoded = decode(&arithmetic, (width, height), 1, false, &JobControl::unbounded()).unwrap();
    assert_eq!((decoded.width, decoded.height, decoded.layout), (80, 54, Layout::Rgb));
    // Truncated progressive: not pruned (no EOI), and the whole decode refuses it.
    let progressive = encode_progressive(&rgb, width, height, 3, (2, 2), &[]);
    let cut = &progressive[..progressive.len() * 2 / 3];
    assert!(for_eighth_scale(cut).is_none());
    assert!(matches!(decode(cut, (width, height), 1, false, &JobControl::unbounded()), Err(JobError::BadImage(_))));
    // A scan that refines coefficients no earlier scan sent: libjpeg would only warn.
    let bogus: [Scan; 2] = [(&[0, 1, 2], 0, 0, 0, 0), (&[0], 1, 63, 0, 0)];
    let mut jpeg = encode_progressive(&rgb, width, height, 3, (2, 2), &bogus);
    let ac_scan = stream::split(&jpeg).unwrap().pieces.iter().filter(|p| p.scan.is_some()).nth(1).unwrap().range.start;
    // FF DA, length, one component (count, selector, tables), Ss, Se, then Ah<<4|Al.
    assert_eq!(jpeg[ac_scan + 7..ac_scan + 10], [1, 63, 0]);
    jpeg[ac_scan + 9] = 0x10;
    assert!(for_eighth_scale(&jpeg).is_none());
}

/// A 16-megapixel photo-like JPEG (noise over gradients, so entropy decoding takes a while),
/// baseline or progressive.
fn large_jpeg(progressive: bool) -> (Vec<u8>, (u32, u32)) {
    let (width, height) = (4608u32, 3456u32);
    let mut state = 0x2545_F491_u32;
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state & 63) as u32;
            rgb.extend([(x * 191 / width + noise) as u8, (y * 191 / height + noise) as u8, ((x + y) % 192 + noise) as u8]);
        }
    }
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(92).unwrap();
    compressor.set_progressive(progressive).unwrap();
    let image = turbojpeg::Image { pixels: &rgb[..], width: width as usize, pitch: width as usize * 3, height: height as usize, format: turbojpeg::PixelFormat::RGB };
    (compressor.compress_to_vec(image).unwrap(), (width, height))
}

/// Starts a full-size decode of `jpeg`, stops it from another thread after 40 ms, and returns
/// the decode's result and how long after the stop it returned.
fn decode_and_stop(jpeg: &[u8], size: (u32, u32), ctl: JobControl, stop: impl FnOnce(&JobControl) + Send + 'static) -> (Result<Raster, JobError>, Duration) {
    let other = ctl.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(40));
        stop(&other);
        Instant::now()
    });
    let got = decode(jpeg, size, 8, false, &ctl);
    let returned = Instant::now();
    let stopped_at = stopper.join().unwrap();
    (got, returned.saturating_duration_since(stopped_at))
}

#[test]
fn a_cancel_or_deadline_stops_a_large_decode_inside_it() {
    for progressive in [false, true] {
        let (jpeg, size) = large_jpeg(progressive);
        let (got, latency) = decode_and_stop(&jpeg, size, JobControl::unbounded(), JobControl::cancel);
        assert!(matches!(got, Err(JobError::Cancelled { stage: "decode" })), "progressive {progressive}: {got:?}");
        eprintln!("progressive {progressive}: stopped {:.1} ms after the cancel", latency.as_secs_f64() * 1e3);
        // Generous: a loaded machine can deschedule the decoding thread, but a decode that ran
        // to its end would take hundreds of milliseconds more.
        assert!(latency < Duration::from_millis(500), "stopped {latency:?} after the cancel");
        let ctl = JobControl::new(Some(Instant::now() + Duration::from_millis(40)));
        let got = decode(&jpeg, size, 8, false, &ctl);
        assert!(matches!(got, Err(JobError::DeadlineExceeded { stage: "decode" })), "progressive {progressive}: {got:?}");
    }
}
