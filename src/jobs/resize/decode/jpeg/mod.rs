//! JPEG through libjpeg-turbo's scanline API, with DCT-domain scaling: at 1/8 the decoder skips
//! most of the inverse DCT and writes a 64th of the pixels, which is where most of a thumbnail's
//! time went.
//!
//! The deadline and cancel flag are checked between bands of rows and, through libjpeg's
//! progress hook, once per row of blocks while a progressive file's scans are absorbed, so a
//! stopped job leaves the decoder within milliseconds even on a large photo.
//!
//! Block smoothing is off: libjpeg would otherwise invent AC coefficients for blocks whose scans
//! it has not seen, which only matters for incomplete files and would make a pruned decode
//! (see [`scan_pruning`]) differ from the full one.
//!
//! # Layout
//! Through libjpeg:
//! - `libjpeg`: a safe handle on libjpeg's decompressor, through the C bridge beside it
//!   (`libjpeg_bridge.c`; `libjpeg_test_encoder.c` is the encoder the tests make files with).
//! - `stream`: a whole file split into marker segments and scans, decoding nothing.
//! - `scan_pruning`: at 1/8, the scans nobody reads cut out before libjpeg sees the file.
//!
//! The own decoder of progressive files at 1/8 and 1/4, pixels identical to libjpeg's or the
//! file refused, in the order the data walks:
//! - `own_decoder`: which files it takes, and the stages below driven in turn.
//! - `entropy`: Huffman tables and the bit reader of entropy-coded data.
//! - `progressive_scans`: the DC scans, and the AC scans a reduced IDCT reads, into planes of
//!   coefficients.
//! - `progressive_ac`: one block of an AC scan, first pass or refinement; which coefficients
//!   each reduced IDCT reads.
//! - `bit_deposit`: the refinement passes' bit tricks, by BMI2's PDEP where it is fast.
//! - `correction_lanes`: the refinement passes' corrections on AVX2 or AVX-512 lanes, on the
//!   same CPUs.
//! - `reduced_idct`: libjpeg's reduced IDCTs (2x2, 4x4) on 32-bit lanes; `reduced_idct_avx2`
//!   both in AVX2 instructions.
//! - `prefetch`: asking for the 2x2 IDCT's blocks before it reads them.
//! - `reduced_pixels`: samples per component (the 1x1 IDCT too), upsampling and YCbCr to RGB.

mod bit_deposit;
#[cfg(target_arch = "x86_64")]
mod correction_lanes;
#[cfg(any(test, feature = "fuzzing"))]
pub mod differential;
mod entropy;
mod libjpeg;
mod own_decoder;
mod prefetch;
mod progressive_ac;
mod progressive_scans;
mod reduced_idct;
#[cfg(target_arch = "x86_64")]
mod reduced_idct_avx2;
mod reduced_pixels;
mod scan_pruning;
mod stream;

#[cfg(test)]
use crate::jobs::resize::tests::random::TestRandom;

#[cfg(test)]
mod crafted_tests;
#[cfg(test)]
mod fuzz_finding_tests;
#[cfg(test)]
mod fuzz_seeds;
#[cfg(test)]
mod tests;

use super::super::super::{JobControl, JobError};
use super::super::jpeg_markers;
use super::super::metadata::Metadata;
use super::super::raster::{Layout, Raster};
use super::ROWS_PER_CHECK;
use libjpeg::{Decompressor, Failure, FileColorSpace};

/// Most progressive scans a JPEG may have. Real encoders write about ten; thousands of tiny
/// scans are a known way to make a small file cost minutes of CPU (libjpeg-turbo's advice is
/// to cap them).
pub const MAX_SCANS: u32 = 100;

/// EXIF, XMP, ICC and the Adobe flag, from the marker segments before the first scan.
pub fn metadata(input: &[u8]) -> Result<Metadata, JobError> {
    Ok(Metadata::from_jpeg(&jpeg_markers::header_segments(input)?))
}

/// Decodes at `eighths`/8 of the stored size (lossless JPEGs, which cannot be scaled, at full
/// size). Gray stays gray; CMYK and YCCK come out as CMYK for the colour stage. At 1/8 and
/// 1/4 a progressive file is decoded without libjpeg, from only the scans it needs, where
/// [`own_decoder`] takes it; else (at 1/8) pruned of the scans that scale never reads and
/// given to libjpeg.
pub fn decode(
    input: &[u8],
    (width, height): (u32, u32),
    eighths: u32,
    adobe: bool,
    ctl: &JobControl,
) -> Result<Raster, JobError> {
    if let Some(raster) = own_decoder::decode(input, (width, height), eighths, ctl)? {
        return Ok(raster);
    }
    decode_with_libjpeg(input, (width, height), eighths, adobe, ctl)
}

/// [`decode`] through libjpeg only: at 1/8 pruned of the scans that scale never reads.
pub fn decode_with_libjpeg(
    input: &[u8],
    (width, height): (u32, u32),
    eighths: u32,
    adobe: bool,
    ctl: &JobControl,
) -> Result<Raster, JobError> {
    let pruned = if eighths == 1 { scan_pruning::for_eighth_scale(input) } else { None };
    decode_stream(pruned.as_deref().unwrap_or(input), input, (width, height), eighths, adobe, false, ctl)
}

/// [`decode`] without scan pruning: every scan is decoded (the reference pruning is held to).
pub fn decode_every_scan(
    input: &[u8],
    (width, height): (u32, u32),
    eighths: u32,
    adobe: bool,
    ctl: &JobControl,
) -> Result<Raster, JobError> {
    decode_stream(input, input, (width, height), eighths, adobe, false, ctl)
}

/// [`decode_every_scan`] with YCbCr files left in YCbCr (in an `Rgb` raster): tests compare
/// luma.
#[cfg(test)]
pub fn decode_every_scan_to_ycc(input: &[u8], (width, height): (u32, u32), eighths: u32) -> Result<Raster, JobError> {
    decode_stream(input, input, (width, height), eighths, false, true, &JobControl::unbounded())
}

/// [`decode_every_scan`] with libjpeg's warnings (corrupt data it decodes past) tolerated, as
/// libvips does by default: the picture libjpeg makes of the file, and its first warning. The
/// differential fuzz target holds the own decoder to it.
#[cfg(any(test, feature = "fuzzing"))]
pub fn decode_every_scan_as_libjpeg_would(
    input: &[u8],
    (width, height): (u32, u32),
    eighths: u32,
    adobe: bool,
) -> Result<(Raster, Option<String>), JobError> {
    decode_stream_with_warning(input, (width, height), eighths, adobe, false, &JobControl::unbounded())
}

/// Decodes `stream` (the input, or a pruned copy of it) at `eighths`/8; `input` is the
/// original, which warnings are judged against.
#[allow(clippy::too_many_arguments)]
fn decode_stream(
    stream: &[u8],
    input: &[u8],
    (width, height): (u32, u32),
    eighths: u32,
    adobe: bool,
    keep_ycc: bool,
    ctl: &JobControl,
) -> Result<Raster, JobError> {
    let (raster, warning) = decode_stream_with_warning(stream, (width, height), eighths, adobe, keep_ycc, ctl)?;
    if let Some(warning) = warning {
        if !is_harmless(&warning, input) {
            return Err(JobError::BadImage(format!("jpeg: {warning}")));
        }
    }
    Ok(raster)
}

/// Decodes `stream` at `eighths`/8, returning libjpeg's first warning with the picture.
fn decode_stream_with_warning(
    stream: &[u8],
    (width, height): (u32, u32),
    eighths: u32,
    adobe: bool,
    keep_ycc: bool,
    ctl: &JobControl,
) -> Result<(Raster, Option<String>), JobError> {
    let mut decompressor = Decompressor::new(ctl, MAX_SCANS)?;
    let started = decompressor.start(stream, eighths, keep_ycc).map_err(failed)?;
    if (started.image_width, started.image_height) != (width, height) {
        return Err(JobError::BadImage(format!(
            "jpeg: libjpeg reads {}x{}, the header walk {width}x{height}",
            started.image_width, started.image_height
        )));
    }
    let layout = match (started.color_space, started.components) {
        (FileColorSpace::Gray, 1) => Layout::Gray,
        (FileColorSpace::Cmyk | FileColorSpace::Ycck, 4) => Layout::Cmyk { inverted: adobe },
        (FileColorSpace::Rgb | FileColorSpace::YCbCr | FileColorSpace::Other(_), 3) => Layout::Rgb,
        (space, n) => return Err(JobError::BadImage(format!("jpeg: {space:?} decoded to {n} components"))),
    };
    let stride = started.width as usize * started.components;
    let mut pixels = vec![0u8; stride * started.height as usize];
    // A decoded row at a smaller scale stands for more stored rows: keep the stored rows per
    // check about the same.
    let rows_per_band = (ROWS_PER_CHECK * eighths as usize / 8).max(8);
    for band in pixels.chunks_mut((stride * rows_per_band).max(1)) {
        ctl.check("decode")?;
        decompressor.read_rows(band, stride).map_err(failed)?;
    }
    decompressor.finish().map_err(failed)?;
    Ok((Raster::new(started.width, started.height, layout, pixels), decompressor.warning()))
}

/// libjpeg warnings that leave a complete, correct picture behind. libjpeg decodes to the end
/// after any warning; these are common in real files (stray bytes before a marker, mostly
/// before EOI) and every browser shows such images. Any other warning (corrupt data, premature
/// end) means a bad input.
const HARMLESS_WARNINGS: [&str; 4] =
    ["extraneous bytes before marker", "unknown JFIF revision", "Unknown Adobe color transform", "bad ICC marker"];

/// Whether a warning is harmless. libjpeg reports the first warning of an image, so a harmless
/// one could mask a later "premature end of file": the image data must also reach an EOI
/// marker, which a truncated file lacks. (Inside entropy-coded data a 0xFF byte is always
/// followed by 0x00 or a restart marker, so FF D9 after the scan header can only be the end of
/// the image.)
fn is_harmless(warning: &str, input: &[u8]) -> bool {
    let Ok(start) = jpeg_markers::scan_start(input) else { return false };
    HARMLESS_WARNINGS.iter().any(|w| warning.contains(w)) && input[start..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

/// libjpeg's errors (corrupt, truncated, unsupported data) are bad inputs; a stop is the job's
/// own deadline or cancel.
fn failed(failure: Failure) -> JobError {
    match failure {
        Failure::Libjpeg(message) => JobError::BadImage(format!("jpeg: {message}")),
        Failure::Stopped(reason) => reason,
    }
}
