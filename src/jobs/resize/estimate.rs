//! An upper bound on the memory one resize will allocate, from the image header alone, so the
//! server can admit or refuse the job against its memory budget before anything is decoded.
//!
//! With `P` the stored pixel count (header width x height) and `O` the output pixel count (the
//! plan for the upright picture, taking the larger of the two orientations since EXIF is not
//! read here), the estimate in bytes is
//!
//! ```text
//! P x (4 + 4 + extra)  +  O x out  +  1 MiB
//! ```
//!
//! - `P x 4`: the decoded 8-bit raster (at most 4 channels after expansion);
//! - `P x 4`: the resampler's working copy of the source (alpha premultiplied);
//! - `extra`, per pixel, what a decoder holds beside its output:
//!   - PNG interlaced: the whole frame at its native depth, `channels x bytes per sample`
//!     (16-bit RGBA: 8; a palette expands to RGB or RGBA first: 3 or 4);
//!   - PNG not interlaced: 0 (one row, inside the 1 MiB);
//!   - JPEG progressive: the DCT coefficients of every component, 2 bytes each
//!     (`components x 2`; libjpeg keeps them all until the last scan); baseline: 0;
//!   - WebP and GIF: 8 (the `image` crate's own frame and colour buffers);
//! - `O x out`: the resized raster, its colour-converted copy, the encoder's buffer and the
//!   encoded output (4 bytes per pixel each: `out` = 16 for JPEG and PNG); WebP 32, for
//!   libwebp's YUV(A) planes and its lossless alpha coder;
//! - 1 MiB: codec state, colour transforms, rows, metadata.
//!
//! Several outputs from one decode ([`super::resize_several`]) hold the same decode-side terms
//! once (the decoded picture, and one working copy at a time: its colour conversion, its turn
//! upright or one resize's source) plus every output's `O x out`, since each output's encoded
//! bytes (and a larger output kept to make smaller ones from) live until the reply:
//!
//! ```text
//! P x (4 + 4 + extra)  +  sum of O_i x out_i  +  1 MiB
//! ```
//!
//! The input bytes are not included: they are the request frame, counted on their own.
//! `tests/memory_estimate.rs` measures the real peak of each image kind against this bound.

use super::super::{ImageFormat, JobError, Limits, OutputFormat, ResizeParams};
use super::{geometry, jpeg_markers, sniff, validate};

/// Fixed allowance for codec state, transforms, rows and metadata.
const FIXED: u64 = 1 << 20;

/// The estimate described in the module docs. Errors are the ones [`super::resize`] would
/// return for the same input before decoding (bad parameters, unreadable header, over the
/// limits), so a job refused here would have been refused by the job too.
pub fn estimate_memory(input: &[u8], params: &ResizeParams, limits: &Limits) -> Result<u64, JobError> {
    estimate_memory_several(input, std::slice::from_ref(params), limits)
}

/// The estimate for [`super::resize_several`]: one decode, every output (module docs). Errors
/// as [`estimate_memory`], plus `InvalidArgument` for no outputs at all.
pub fn estimate_memory_several(input: &[u8], outputs: &[ResizeParams], limits: &Limits) -> Result<u64, JobError> {
    // A fault-injection input is no image: admit it with the fixed allowance so it reaches the
    // job, which panics on purpose (tests only; the feature is off in every shipped build).
    #[cfg(feature = "fault-injection")]
    if input.starts_with(super::super::fault::PANIC_MAGIC) {
        return Ok(FIXED);
    }
    if outputs.is_empty() {
        return Err(JobError::InvalidArgument("no outputs requested".into()));
    }
    for params in outputs {
        validate::params(params, limits)?;
    }
    let format = sniff::format(input)?;
    let (w, h) = sniff::dimensions(input, format)?;
    sniff::check_limits(w, h, limits)?;
    let pixels = u64::from(w) * u64::from(h);
    let extra = match format {
        ImageFormat::Png => png_extra(input),
        ImageFormat::Jpeg => jpeg_extra(input)?,
        ImageFormat::WebP | ImageFormat::Gif => 8,
    };
    let mut out = 0;
    for params in outputs {
        let pixels = [(w, h), (h, w)]
            .into_iter()
            .filter_map(|(uw, uh)| geometry::plan(uw, uh, params, limits).ok())
            .map(|plan| u64::from(plan.width) * u64::from(plan.height))
            .max()
            .ok_or_else(|| JobError::InvalidArgument("no output size fits the limits".into()))?;
        out += pixels * output_bytes_per_pixel(params.format);
    }
    Ok(pixels * (8 + extra) + out + FIXED)
}

/// What the output side holds per output pixel: the resized raster, its converted copy, the
/// encoder's input and the encoded bytes (4 each); libwebp's encoder also keeps its YUV(A)
/// planes and, for alpha, a lossless-coded alpha plane with its own working buffers: measured by
/// the daemon-level test at up to about 30 bytes per output pixel, so WebP gets 32.
fn output_bytes_per_pixel(format: OutputFormat) -> u64 {
    match format {
        OutputFormat::WebP => 32,
        OutputFormat::Jpeg | OutputFormat::Png => 16,
    }
}

/// Bytes per pixel an interlaced PNG's native frame holds (0 when not interlaced), from IHDR:
/// bit depth at offset 24, colour type at 25, interlace method at 28.
fn png_extra(input: &[u8]) -> u64 {
    let (Some(&depth), Some(&colour), Some(&interlace)) = (input.get(24), input.get(25), input.get(28)) else {
        return 8;
    };
    if interlace == 0 {
        return 0;
    }
    let channels = match colour {
        0 => 1,
        2 => 3,
        3 => 4, // palette, expanded to RGB or RGBA
        4 => 2,
        _ => 4,
    };
    let bytes = if depth == 16 { 2 } else { 1 };
    channels * bytes
}

/// Coefficient bytes per pixel of a progressive JPEG (0 for a sequential one).
fn jpeg_extra(input: &[u8]) -> Result<u64, JobError> {
    let segments = jpeg_markers::header_segments(input)?;
    let Some(sof) =
        segments.iter().find(|s| matches!(s.marker, 0xC0..=0xCF) && !matches!(s.marker, 0xC4 | 0xC8 | 0xCC))
    else {
        return Ok(0);
    };
    // SOF2, SOF6, SOF10, SOF14 are progressive.
    let progressive = matches!(sof.marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
    let components = sof.payload.get(5).copied().map_or(4, u64::from).min(4);
    Ok(if progressive { components * 2 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::Mode;

    fn png_header(width: u32, height: u32, depth: u8, colour: u8, interlace: u8) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&[depth, colour, 0, 0, interlace]);
        out
    }

    #[test]
    fn the_formula_for_a_100_megapixel_interlaced_16_bit_png() {
        let params = ResizeParams { width: 400, mode: Mode::Fit, ..ResizeParams::default() };
        let input = png_header(10_000, 10_000, 16, 6, 1);
        let p = 100_000_000u64;
        // 400 x 400 out
        assert_eq!(estimate_memory(&input, &params, &Limits::default()), Ok(p * 16 + 160_000 * 16 + FIXED));
        let plain = png_header(10_000, 10_000, 8, 2, 0);
        assert_eq!(estimate_memory(&plain, &params, &Limits::default()), Ok(p * 8 + 160_000 * 16 + FIXED));
    }

    #[test]
    fn several_outputs_count_the_decode_once_and_every_output() {
        let input = png_header(4000, 3000, 8, 2, 0);
        let fit = |side, format| ResizeParams { width: side, height: side, format, ..ResizeParams::default() };
        let outputs = [fit(1600, OutputFormat::Jpeg), fit(800, OutputFormat::WebP), fit(200, OutputFormat::Png)];
        let p = 12_000_000u64;
        // 1600x1200, 800x600, 200x150
        let want = p * 8 + 1_920_000 * 16 + 480_000 * 32 + 30_000 * 16 + FIXED;
        assert_eq!(estimate_memory_several(&input, &outputs, &Limits::default()), Ok(want));
        let alone = estimate_memory(&input, &outputs[0], &Limits::default()).unwrap();
        assert_eq!(alone, p * 8 + 1_920_000 * 16 + FIXED);
        assert!(matches!(estimate_memory_several(&input, &[], &Limits::default()), Err(JobError::InvalidArgument(_))));
        let no_box = ResizeParams::default();
        let got = estimate_memory_several(&input, &[outputs[0].clone(), no_box], &Limits::default());
        assert!(matches!(got, Err(JobError::InvalidArgument(_))));
    }

    #[test]
    fn refusals_match_the_job() {
        let params = ResizeParams { width: 400, ..ResizeParams::default() };
        let huge = png_header(20_000, 20_000, 8, 2, 0);
        assert!(matches!(estimate_memory(&huge, &params, &Limits::default()), Err(JobError::ImageTooLarge { .. })));
        assert!(matches!(estimate_memory(b"nope", &params, &Limits::default()), Err(JobError::BadImage(_))));
    }
}
