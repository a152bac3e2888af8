//! An upper bound on the memory one resize will allocate, from the image header alone, so the
//! server can admit or refuse the job against its memory budget before anything is decoded.
//!
//! With `P` the stored pixel count (header width x height), `D` the pixel count the decoder
//! produces (`P`, or less when the image is shrunk on load, below) and `O` the output pixel count
//! (the plan for the upright picture, taking the larger of the two orientations since EXIF is not
//! read here), the estimate in bytes is
//!
//! ```text
//! P x extra  +  D x (4 + 4)  +  O x out  +  copy  +  rows  +  1 MiB
//! ```
//!
//! - `D x 4`: the decoded 8-bit raster (at most 4 channels after expansion);
//! - `D x 4`: the resampler's working copy of it (alpha premultiplied);
//! - `D`: the plan's decode scale `e` in eighths (`geometry::decode_scale_eighths`, the largest
//!   over the outputs and both orientations) gives `ceil(W x e / 8) x ceil(H x e / 8)`, for
//!   - JPEG, scaled by libjpeg-turbo's DCT (lossless files, which it cannot scale: `P`);
//!   - PNG not interlaced and without alpha (no alpha channel, no `tRNS` before the first
//!     `IDAT`), averaged in blocks as rows arrive (`decode::box_shrink`; others: `P`);
//!   - WebP and GIF: `P`, always decoded at full size;
//! - `extra`, per stored pixel, what a decoder holds beside its output:
//!   - PNG interlaced: the whole frame at its native depth, `channels x bytes per sample`
//!     (16-bit RGBA: 8; a palette expands to RGB or RGBA first: 3 or 4);
//!   - PNG not interlaced: 0 (rows, below);
//!   - JPEG progressive: the DCT coefficients of every component, 2 bytes each, and 1 byte
//!     more (`components x 2 + 1`; libjpeg keeps them all until the last scan, at any scale;
//!     ferryd's own progressive decoder at 1/4 keeps as many plus a DC array and a nonzero
//!     mask per block, 10 bytes per 64 pixels and component, and its sample planes, under a
//!     byte per pixel in all); baseline: 0;
//!   - WebP and GIF: 8 (the `image` crate's own frame and colour buffers);
//!   - HEIC and AVIF: [`HEIF_EXTRA`] per coded pixel (the decoder's picture, libheif's copy
//!     of its planes, the RGB(A) conversion and the turned copy `irot` makes, the alpha
//!     plane), counted on the coded (`ispe`) size when `clap` crops it; HEIF is decoded at
//!     full size;
//! - `O x out`: the resized raster, its colour-converted copy, the encoder's buffer and the
//!   encoded output (4 bytes per pixel each: `out` = 16 for JPEG and PNG); WebP 32, for
//!   libwebp's YUV(A) planes and its lossless alpha coder; AVIF [`AVIF_OUT`], for libheif's
//!   copy, its YUV(A) planes and libaom's frame buffers;
//! - `copy`: a progressive JPEG decoded at 1/8 is decoded from a copy without the scans that
//!   scale never reads (`decode::jpeg::scan_pruning`), at most the input's size; otherwise 0;
//! - `rows`: a PNG not interlaced is decoded a band of rows at a time: [`PNG_ROWS_HELD`] rows of
//!   `W x channels x bytes per sample + 1` (a palette counted as 4 channels); otherwise 0;
//! - 1 MiB: codec state, colour transforms, rows, metadata.
//!
//! Several outputs from one decode ([`super::resize_several`]) hold the same decode-side terms
//! once (the decoded picture, and one working copy at a time: its colour conversion, its turn
//! upright or one resize's source) plus every output's `O x out`, since each output's encoded
//! bytes (and a larger output kept to make smaller ones from) live until the reply; `e` is then
//! the scale the largest output needs, as the decode uses.
//!
//! The input bytes are not included: they are the request frame, counted on their own.
//! `tests/memory_estimate.rs` measures the real peak of each image kind against this bound.

use super::super::{ImageFormat, JobError, Limits, OutputFormat, ResizeParams};
use super::decode::heif::header as heif;
use super::{geometry, jpeg_markers, sniff, validate};

/// Fixed allowance for codec state, transforms, rows and metadata.
const FIXED: u64 = 1 << 20;

/// Rows a PNG's row-by-row decode holds at once, at most: a band of eight filtered in the
/// inflate buffer and nine unfiltered (`decode::png::unfilter`, `BAND_ROWS + 1`), the box
/// shrink's column sums (two bytes a sample: up to two rows) and a narrowed 16-bit row, or the
/// png crate's own rows on its path; 24 covers them with room.
const PNG_ROWS_HELD: u64 = 24;

/// What libheif holds per coded pixel beside our copy of its output (module docs): up to 6
/// bytes of YCbCr in the decoder and as many in libheif's image (10-bit 4:4:4), the 4-byte
/// RGBA conversion and a turned copy of it, and the alpha plane's own decode. Measured by the
/// daemon-level test (tests/memory_estimate.rs).
const HEIF_EXTRA: u64 = 24;

/// What an AVIF output holds per output pixel: measured by the daemon-level test at up to
/// about 40 bytes (libaom keeps several frame buffers of the picture), so 48.
const AVIF_OUT: u64 = 48;

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
    let decoder = match format {
        ImageFormat::Png => png_decoder(input, w),
        ImageFormat::Jpeg => jpeg_decoder(input)?,
        ImageFormat::WebP | ImageFormat::Gif => DecoderFacts { extra: 8, shrinks: false, progressive: false, rows: 0 },
        ImageFormat::Heic | ImageFormat::Avif => {
            let header = heif::read(input, format)?;
            // per shown pixel, covering the coded ones a crop drops
            let coded = u64::from(header.coded.0) * u64::from(header.coded.1);
            DecoderFacts { extra: HEIF_EXTRA * coded.div_ceil(pixels.max(1)), shrinks: false, progressive: false, rows: 0 }
        }
    };
    let mut out = 0;
    let mut eighths = 1;
    for params in outputs {
        let plans: Vec<_> =
            [(w, h), (h, w)].into_iter().filter_map(|(uw, uh)| geometry::plan(uw, uh, params, limits).ok()).collect();
        let pixels = plans
            .iter()
            .map(|plan| u64::from(plan.width) * u64::from(plan.height))
            .max()
            .ok_or_else(|| JobError::InvalidArgument("no output size fits the limits".into()))?;
        out += pixels * output_bytes_per_pixel(params.format);
        // The scale reads only the ratio of output to region, which turning the picture
        // upright does not change; the larger of the two orientations' scales is kept.
        for plan in &plans {
            eighths = eighths.max(geometry::decode_scale_eighths(format, plan.region, plan.width, plan.height, params.filter, params.fast));
        }
    }
    let decoded = if decoder.shrinks { scaled(w, eighths) * scaled(h, eighths) } else { pixels };
    let copy = if decoder.progressive && eighths == 1 { input.len() as u64 } else { 0 };
    Ok(pixels * decoder.extra + decoded * 8 + out + copy + decoder.rows + FIXED)
}

/// What the estimate needs to know of a decoder, from the header.
struct DecoderFacts {
    /// Bytes it holds per stored pixel beside its output (module docs).
    extra: u64,
    /// Whether it decodes at the plan's scale (else at full size).
    shrinks: bool,
    /// A progressive JPEG, pruned through a copy at 1/8.
    progressive: bool,
    /// Bytes of rows held while decoding row by row (module docs).
    rows: u64,
}

/// One axis of `side` pixels decoded at `eighths`/8, rounded up as libjpeg-turbo and the box
/// shrink both do.
fn scaled(side: u32, eighths: u32) -> u64 {
    (u64::from(side) * u64::from(eighths)).div_ceil(8)
}

/// What the output side holds per output pixel: the resized raster, its converted copy, the
/// encoder's input and the encoded bytes (4 each); libwebp's encoder also keeps its YUV(A)
/// planes and, for alpha, a lossless-coded alpha plane with its own working buffers: measured by
/// the daemon-level test at up to about 30 bytes per output pixel, so WebP gets 32.
fn output_bytes_per_pixel(format: OutputFormat) -> u64 {
    match format {
        OutputFormat::WebP => 32,
        OutputFormat::Avif => AVIF_OUT,
        OutputFormat::Jpeg | OutputFormat::Png => 16,
    }
}

/// A PNG's decoder, from IHDR (bit depth at offset 24, colour type at 25, interlace method at
/// 28) and the chunks before the first IDAT: an interlaced frame holds its native depth whole;
/// a non-interlaced image without alpha is shrunk on load and holds only rows, `width` pixels
/// each.
fn png_decoder(input: &[u8], width: u32) -> DecoderFacts {
    let (Some(&depth), Some(&colour), Some(&interlace)) = (input.get(24), input.get(25), input.get(28)) else {
        return DecoderFacts { extra: 8, shrinks: false, progressive: false, rows: 0 };
    };
    let channels = match colour {
        0 => 1,
        2 => 3,
        3 => 4, // palette, expanded to RGB or RGBA
        4 => 2,
        _ => 4,
    };
    let bytes = if depth == 16 { 2 } else { 1 };
    if interlace == 0 {
        // Gray, RGB or palette: alpha only through tRNS.
        let shrinks = matches!(colour, 0 | 2 | 3) && !has_trns(input);
        let rows = PNG_ROWS_HELD * (u64::from(width) * channels * bytes + 1);
        return DecoderFacts { extra: 0, shrinks, progressive: false, rows };
    }
    DecoderFacts { extra: channels * bytes, shrinks: false, progressive: false, rows: 0 }
}

/// Whether a tRNS chunk comes before the first IDAT (where the png crate reads it). A chunk
/// list that cannot be walked to an IDAT answers yes: full size is the safe guess.
pub(super) fn has_trns(input: &[u8]) -> bool {
    let mut at = 8;
    while let Some(header) = input.get(at..at + 8) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"tRNS" => return true,
            b"IDAT" | b"IEND" => return false,
            _ => at = at.saturating_add(length).saturating_add(12),
        }
    }
    true
}

/// A JPEG's decoder: a progressive one holds 2 bytes of coefficient per component and stored
/// pixel, and a byte of bookkeeping; every one but a lossless one is scaled by the DCT.
fn jpeg_decoder(input: &[u8]) -> Result<DecoderFacts, JobError> {
    let segments = jpeg_markers::header_segments(input)?;
    let Some(sof) =
        segments.iter().find(|s| matches!(s.marker, 0xC0..=0xCF) && !matches!(s.marker, 0xC4 | 0xC8 | 0xCC))
    else {
        return Ok(DecoderFacts { extra: 0, shrinks: false, progressive: false, rows: 0 });
    };
    // SOF2, SOF6, SOF10, SOF14 are progressive; SOF3, SOF7, SOF11, SOF15 lossless.
    let progressive = matches!(sof.marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
    let lossless = matches!(sof.marker, 0xC3 | 0xC7 | 0xCB | 0xCF);
    let components = sof.payload.get(5).copied().map_or(4, u64::from).min(4);
    Ok(DecoderFacts { extra: if progressive { components * 2 + 1 } else { 0 }, shrinks: !lossless, progressive, rows: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{Filter, Mode};

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
        // Not interlaced, no alpha: averaged in 8x8 blocks as it decodes (400 / 10000 leaves
        // twice the output at 1/8), 1250 x 1250 pixels held instead of 10000 x 10000.
        let mut plain = png_header(10_000, 10_000, 8, 2, 0);
        plain.extend_from_slice(&[0; 4]); // IHDR's CRC
        plain.extend_from_slice(&chunk(b"IDAT", &[0; 16]));
        let rows = PNG_ROWS_HELD * (10_000 * 3 + 1);
        assert_eq!(estimate_memory(&plain, &params, &Limits::default()), Ok(1250 * 1250 * 8 + 160_000 * 16 + rows + FIXED));
    }

    /// A PNG chunk: length, kind, data, and a CRC the estimate does not read.
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&[0; 4]);
        out
    }

    #[test]
    fn a_png_is_counted_shrunk_only_where_the_decoder_shrinks_it() {
        let limits = Limits::default();
        let fit = |side, filter| ResizeParams { width: side, height: side, filter, ..ResizeParams::default() };
        let with = |colour: u8, chunks: &[Vec<u8>]| {
            let mut png = png_header(4000, 3000, 8, colour, 0);
            png.extend_from_slice(&[0; 4]); // IHDR's CRC
            for c in chunks {
                png.extend_from_slice(c);
            }
            png
        };
        let idat = chunk(b"IDAT", &[0; 16]);
        let gama = chunk(b"gAMA", &[0, 0, 0xb1, 0x8f]);
        let trns = chunk(b"tRNS", &[0, 1, 0, 2, 0, 3]);
        // Rows of 4000 pixels held while decoding: RGB, or 4 channels (RGBA, a palette).
        let (rgb_rows, rgba_rows) = (PNG_ROWS_HELD * (4000 * 3 + 1), PNG_ROWS_HELD * (4000 * 4 + 1));
        let full = 12_000_000u64 * 8;
        let out = |w: u64, h: u64| w * h * 16 + FIXED;
        // 4000x3000 into 500: 1/4 keeps twice the output (1000x750).
        let rgb = with(2, &[gama.clone(), idat.clone()]);
        assert_eq!(estimate_memory(&rgb, &fit(500, Filter::Lanczos3), &limits), Ok(1000 * 750 * 8 + rgb_rows + out(500, 375)));
        // 1/2 for 1000 (2000x1500); nothing smaller than full size for 1500.
        assert_eq!(estimate_memory(&rgb, &fit(1000, Filter::Lanczos3), &limits), Ok(2000 * 1500 * 8 + rgb_rows + out(1000, 750)));
        assert_eq!(estimate_memory(&rgb, &fit(1500, Filter::Lanczos3), &limits), Ok(full + rgb_rows + out(1500, 1125)));
        // nearest keeps original pixels; tRNS before IDAT is an alpha channel; RGBA has one;
        // a chunk list that runs off the end is not trusted.
        assert_eq!(estimate_memory(&rgb, &fit(500, Filter::Nearest), &limits), Ok(full + rgb_rows + out(500, 375)));
        let transparent = with(2, &[gama.clone(), trns.clone(), idat.clone()]);
        assert_eq!(estimate_memory(&transparent, &fit(500, Filter::Lanczos3), &limits), Ok(full + rgb_rows + out(500, 375)));
        assert_eq!(estimate_memory(&with(6, &[idat.clone()]), &fit(500, Filter::Lanczos3), &limits), Ok(full + rgba_rows + out(500, 375)));
        assert_eq!(estimate_memory(&with(2, &[]), &fit(500, Filter::Lanczos3), &limits), Ok(full + rgb_rows + out(500, 375)));
        // tRNS after the image data is not read, as the decoder does not.
        let late = with(3, &[chunk(b"PLTE", &[0; 6]), idat, trns]);
        assert_eq!(estimate_memory(&late, &fit(500, Filter::Lanczos3), &limits), Ok(1000 * 750 * 8 + rgba_rows + out(500, 375)));
    }

    #[test]
    fn several_outputs_are_counted_at_the_scale_of_the_largest() {
        let mut rgb = png_header(4000, 3000, 8, 2, 0);
        rgb.extend_from_slice(&[0; 4]);
        rgb.extend_from_slice(&chunk(b"IDAT", &[0; 16]));
        let fit = |side| ResizeParams { width: side, height: side, ..ResizeParams::default() };
        let got = estimate_memory_several(&rgb, &[fit(200), fit(1000)], &Limits::default());
        // 1/2 for 1000: 2000x1500 decoded; 200x150 and 1000x750 out.
        assert_eq!(got, Ok(2000 * 1500 * 8 + (30_000 + 750_000) * 16 + PNG_ROWS_HELD * (4000 * 3 + 1) + FIXED));
    }

    #[test]
    fn several_outputs_count_the_decode_once_and_every_output() {
        let input = png_header(4000, 3000, 8, 2, 0);
        let fit = |side, format| ResizeParams { width: side, height: side, format, ..ResizeParams::default() };
        let outputs = [fit(1600, OutputFormat::Jpeg), fit(800, OutputFormat::WebP), fit(200, OutputFormat::Png)];
        let p = 12_000_000u64;
        // 1600x1200, 800x600, 200x150
        let rows = PNG_ROWS_HELD * (4000 * 3 + 1);
        let want = p * 8 + 1_920_000 * 16 + 480_000 * 32 + 30_000 * 16 + rows + FIXED;
        assert_eq!(estimate_memory_several(&input, &outputs, &Limits::default()), Ok(want));
        let alone = estimate_memory(&input, &outputs[0], &Limits::default()).unwrap();
        assert_eq!(alone, p * 8 + 1_920_000 * 16 + rows + FIXED);
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
