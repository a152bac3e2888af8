//! Encoding the finished picture, with whatever metadata the request keeps.
//!
//! - JPEG: libjpeg-turbo, alpha composited over white, ICC/EXIF/XMP as APP segments.
//! - PNG: the `png` crate (fast deflate), ICC as iCCP, EXIF as eXIf, XMP as iTXt.
//! - WebP: libwebp lossy at the requested quality; metadata in an extended (VP8X) container.
//! - AVIF: libaom through libheif at the requested quality, alpha kept, ICC/EXIF/XMP as HEIF
//!   boxes and items.

mod avif;
mod jpeg;
mod png;
mod webp;

use super::super::{JobError, OutputFormat};
use super::raster::Raster;

/// What travels to the output besides pixels. Each is `None` unless the request keeps it.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    pub icc: Option<Vec<u8>>,
    /// The EXIF TIFF block (orientation already reset if the pixels were turned upright).
    pub exif: Option<Vec<u8>>,
    pub xmp: Option<Vec<u8>>,
}

/// Largest side each format can store.
pub fn max_side(format: OutputFormat) -> u32 {
    match format {
        OutputFormat::Jpeg => 65_535,
        OutputFormat::Png => u32::MAX >> 1,
        OutputFormat::WebP => 16_383,
        // libheif's own limit on a picture side (larger ones would need a grid)
        OutputFormat::Avif => avif::MAX_SIDE,
    }
}

/// Encodes `raster` (straight alpha, 8-bit, not CMYK) as `format`.
pub fn encode(raster: Raster, format: OutputFormat, quality: u8, extras: &Extras) -> Result<Vec<u8>, JobError> {
    match format {
        OutputFormat::Jpeg => jpeg::encode(raster, quality, extras),
        OutputFormat::Png => png::encode(raster, extras),
        OutputFormat::WebP => webp::encode(raster, quality, extras),
        OutputFormat::Avif => avif::encode(raster, quality, extras),
    }
}
