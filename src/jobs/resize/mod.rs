//! Decode, orient, convert to sRGB, resize, encode (protocol/SPEC.md section 5.3).
//!
//! The order of work differs from the order of meaning, for speed: geometry is decided on the
//! upright picture (what the caller's box refers to), then mapped back into the picture as
//! stored, so that decoding can shrink JPEGs in the DCT domain, the resize runs on the stored
//! pixels, and orientation and colour conversion touch only the small output.
//!
//! ```text
//! validate params ─ sniff format ─ header size vs limits ─ open (metadata)
//!   ─ plan (upright) ─ decode (JPEG: DCT scale) ─ resize (bands) ─ to sRGB ─ orient ─ encode
//! ```
//!
//! The deadline and cancel flag are checked between stages and per band of rows inside the
//! PNG decode, the resize and the colour conversion.
//!
//! # Layout
//! - `validate`: the request's numbers, before any image byte is read.
//! - `sniff`: format from magic bytes, header size, limits (decompression bombs).
//! - `jpeg_markers`, `exif`, `metadata`: what an input says about itself.
//! - `decode`: pixels out of JPEG (libjpeg-turbo), PNG, WebP, GIF.
//! - `geometry`: output size and source region per mode; JPEG shrink-on-load scale.
//! - `orient`: EXIF orientation, for regions and for pixels.
//! - `resample`: fast_image_resize in bands, alpha premultiplied.
//! - `colour`, `transform_cache`: ICC (and CMYK) to sRGB with Little CMS.
//! - `encode`: JPEG, PNG, WebP, with the metadata the request keeps.
//! - `raster`: the picture type passed between stages.
//! - `estimate`: [`estimate_memory`], the memory bound a job is admitted by, from the header.
//! - `header`: what `probe` reports of an input, read by the same path ([`header::read`]).
//! - `several`: several outputs (sizes, formats) from one decode.

mod colour;
mod decode;
mod encode;
mod estimate;
mod exif;
mod geometry;
pub mod header;
mod jpeg_markers;
mod metadata;
mod orient;
mod raster;
mod resample;
mod several;
mod sniff;
mod transform_cache;
mod validate;

#[cfg(test)]
mod tests;

pub use estimate::{estimate_memory, estimate_memory_several};
/// The own JPEG decoder against libjpeg, for the differential fuzz target only.
#[cfg(feature = "fuzzing")]
pub use decode::differential as jpeg_differential;

use super::{ImageFormat, JobControl, JobError, Limits, OutputFormat, ResizeParams};
pub use several::{decode_for, outputs_from, resize_several, Decoded};
use encode::Extras;
use geometry::Region;
use orient::Orientation;

/// A finished thumbnail.
#[derive(Clone, Debug)]
pub struct ResizeOutput {
    /// The encoded output.
    pub bytes: Vec<u8>,
    /// Output width in pixels.
    pub width: u32,
    /// Output height in pixels.
    pub height: u32,
    /// Output format, as requested.
    pub format: OutputFormat,
    /// Input width after orientation.
    pub source_width: u32,
    /// Input height after orientation.
    pub source_height: u32,
    /// Detected input format.
    pub source_format: ImageFormat,
}

/// Runs the whole pipeline on `input`. Validates `params` (box, quality) and `limits` first.
///
/// Errors: `InvalidArgument` (box, quality, or an output larger than the limits or the output
/// format allow), `BadImage` (unsupported, corrupt or truncated input), `ImageTooLarge` (the
/// header declares more than `limits`), `DeadlineExceeded` / `Cancelled` (from `ctl`), and
/// `Internal` only for an encoder failing on valid pixels.
pub fn resize(input: &[u8], params: &ResizeParams, limits: &Limits, ctl: &JobControl) -> Result<ResizeOutput, JobError> {
    #[cfg(feature = "fault-injection")]
    super::fault::panic_on_magic(input, "resize");
    validate::params(params, limits)?;
    let format = sniff::format(input)?;
    let (stored_w, stored_h) = sniff::dimensions(input, format)?;
    sniff::check_limits(stored_w, stored_h, limits)?;

    ctl.check("decode")?;
    let mut source = decode::open(input, format, (stored_w, stored_h), limits, params.keep_metadata)?;
    let orientation = if params.auto_orient { Orientation::from_exif(source.meta.orientation()) } else { Orientation::default() };
    let (source_width, source_height) = orientation.upright_size(stored_w, stored_h);
    let plan = geometry::plan(source_width, source_height, params, limits)?;
    let max_side = encode::max_side(params.format);
    if plan.width > max_side || plan.height > max_side {
        return Err(JobError::InvalidArgument(format!(
            "output {}x{} exceeds what {} can store ({max_side} per side)",
            plan.width,
            plan.height,
            params.format.word()
        )));
    }
    // From here on, work in the stored orientation.
    let region = orientation.region_to_stored(plan.region, stored_w, stored_h);
    let (out_w, out_h) = orientation.upright_size(plan.width, plan.height);
    let eighths = geometry::decode_scale_eighths(format, region, out_w, out_h, params.filter, params.fast);
    let icc = source.meta.icc.take();
    let mut exif = source.meta.exif.take().filter(|_| params.keep_metadata);
    let xmp = source.meta.xmp.take().filter(|_| params.keep_metadata);
    let decoded = source.decode(eighths, ctl)?;

    ctl.check("resize")?;
    let region = decoded_region(region, (stored_w, stored_h), (decoded.width, decoded.height), eighths);
    let resized = resample::resize(decoded, region, out_w, out_h, params.filter, ctl)?;

    ctl.check("convert")?;
    let converted = colour::to_srgb(resized, icc.as_deref(), params.keep_icc, ctl)?;

    ctl.check("orient")?;
    let upright = orientation.apply(converted.raster);

    ctl.check("encode")?;
    if params.auto_orient {
        // The pixels are upright now; a copied tag must not make a viewer turn them again.
        if let Some(block) = exif.as_mut() {
            exif::reset_orientation(block);
        }
    }
    let extras = Extras { icc: converted.icc_to_embed, exif, xmp };
    let bytes = encode::encode(upright, params.format, params.quality, &extras)?;
    Ok(ResizeOutput {
        bytes,
        width: plan.width,
        height: plan.height,
        format: params.format,
        source_width,
        source_height,
        source_format: format,
    })
}

/// Maps a region of the stored picture into the decoded one. A DCT-scaled axis shrank by
/// exactly `eighths / 8` (libjpeg-turbo rounds the size up, so its last pixel covers a partial
/// block); an axis decoded at full size did not shrink.
fn decoded_region(region: Region, (stored_w, stored_h): (u32, u32), (dec_w, dec_h): (u32, u32), eighths: u32) -> Region {
    let scale = f64::from(eighths) / 8.0;
    let fx = if dec_w == stored_w { 1.0 } else { scale };
    let fy = if dec_h == stored_h { 1.0 } else { scale };
    Region { x: region.x * fx, y: region.y * fy, width: region.width * fx, height: region.height * fy }
}

/// Stage-by-stage entry points for the kernel benches (benches/rust/kernels.rs), so decode,
/// resize and encode can be timed apart. Not part of the interface the server uses.
#[doc(hidden)]
pub mod stages {
    pub use super::decode::JpegScans;
    pub use super::raster::{Layout, Raster};
    use super::{decode, encode, resample, sniff};
    use crate::jobs::{Filter, ImageFormat, JobControl, JobError, Limits, OutputFormat};

    /// Sniffs and decodes `input` (JPEG at `jpeg_eighths`/8 of its size), default limits.
    pub fn decode(input: &[u8], jpeg_eighths: u32) -> Result<Raster, JobError> {
        let limits = Limits::default();
        let format = sniff::format(input)?;
        let size = sniff::dimensions(input, format)?;
        sniff::check_limits(size.0, size.1, &limits)?;
        decode::open(input, format, size, &limits, false)?.decode(jpeg_eighths, &JobControl::unbounded())
    }

    /// [`decode`] of a JPEG the way `scans` says (the pipeline's, libjpeg given the scans the
    /// DCT scale reads, libjpeg given every scan).
    pub fn decode_jpeg(input: &[u8], jpeg_eighths: u32, scans: JpegScans) -> Result<Raster, JobError> {
        let limits = Limits::default();
        let size = sniff::dimensions(input, ImageFormat::Jpeg)?;
        decode::open(input, ImageFormat::Jpeg, size, &limits, false)?.decode_with(jpeg_eighths, scans, &JobControl::unbounded())
    }

    /// Resizes the whole of `src` to `width x height`.
    pub fn resize(src: Raster, width: u32, height: u32, filter: Filter) -> Result<Raster, JobError> {
        let region = super::Region { x: 0.0, y: 0.0, width: src.width.into(), height: src.height.into() };
        resample::resize(src, region, width, height, filter, &JobControl::unbounded())
    }

    /// Encodes without metadata.
    pub fn encode(raster: Raster, format: OutputFormat, quality: u8) -> Result<Vec<u8>, JobError> {
        encode::encode(raster, format, quality, &encode::Extras::default())
    }
}
