//! JPEG through libjpeg-turbo, with DCT-domain scaling: at 1/8 the decoder skips most of the
//! inverse DCT and writes a 64th of the pixels, which is where most of a thumbnail's time went.
//!
//! The TurboJPEG API decodes a whole image in one call, so the deadline is checked before and
//! after it, not inside; with shrink-on-load even a 20-megapixel photo takes tens of
//! milliseconds.

use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor};

use super::super::super::JobError;
use super::super::jpeg_markers;
use super::super::metadata::Metadata;
use super::super::raster::{Layout, Raster};

/// Most progressive scans a JPEG may have. Real encoders write about ten; thousands of tiny
/// scans are a known way to make a small file cost minutes of CPU (libjpeg-turbo's advice is
/// to cap them).
const MAX_SCANS: u32 = 100;

/// EXIF, XMP, ICC and the Adobe flag, from the marker segments before the first scan.
pub fn metadata(input: &[u8]) -> Result<Metadata, JobError> {
    Ok(Metadata::from_jpeg(&jpeg_markers::header_segments(input)?))
}

/// Decodes at `eighths`/8 of the stored size (lossless JPEGs, which cannot be scaled, at full
/// size). Gray stays gray; CMYK and YCCK come out as CMYK for the colour stage.
pub fn decode(input: &[u8], (width, height): (u32, u32), eighths: u32, adobe: bool) -> Result<Raster, JobError> {
    let mut decompressor = Decompressor::new().map_err(|e| JobError::Internal(format!("turbojpeg init: {e}")))?;
    decompressor.set_scan_limit(MAX_SCANS).map_err(bad)?;
    let header = decompressor.read_header(input).map_err(bad)?;
    if (header.width, header.height) != (width as usize, height as usize) {
        return Err(JobError::BadImage(format!(
            "jpeg: libjpeg-turbo reads {}x{}, the header walk {width}x{height}",
            header.width, header.height
        )));
    }
    let factor = if header.is_lossless { ScalingFactor::ONE } else { ScalingFactor::new(eighths as usize, 8) };
    decompressor.set_scaling_factor(factor).map_err(bad)?;
    let scaled = header.scaled(factor);
    let (format, layout) = match header.colorspace {
        Colorspace::Gray => (PixelFormat::GRAY, Layout::Gray),
        Colorspace::CMYK | Colorspace::YCCK => (PixelFormat::CMYK, Layout::Cmyk { inverted: adobe }),
        Colorspace::RGB | Colorspace::YCbCr => (PixelFormat::RGB, Layout::Rgb),
    };
    let pitch = scaled.width * format.size();
    let mut pixels = vec![0u8; pitch * scaled.height];
    let image = Image { pixels: &mut pixels[..], width: scaled.width, pitch, height: scaled.height, format };
    match decompressor.decompress(input, image) {
        Ok(()) => {}
        Err(e) if is_harmless(&e, input) => {}
        Err(e) => return Err(bad(e)),
    }
    Ok(Raster::new(scaled.width as u32, scaled.height as u32, layout, pixels))
}

/// libjpeg warnings that leave a complete, correct picture behind. TurboJPEG reports any
/// warning as a failure, but decodes to the end regardless; these are common in real files
/// (stray bytes before a marker, mostly before EOI) and every browser shows such images.
const HARMLESS_WARNINGS: [&str; 4] =
    ["extraneous bytes before marker", "unknown JFIF revision", "Unknown Adobe color transform", "bad ICC marker"];

/// Whether a TurboJPEG failure is only a harmless warning. libjpeg reports the first warning
/// of an image, so a harmless one could mask a later "premature end of file": the image data
/// must also reach an EOI marker, which a truncated file lacks. (Inside entropy-coded data a
/// 0xFF byte is always followed by 0x00 or a restart marker, so FF D9 after the scan header
/// can only be the end of the image.)
fn is_harmless(e: &turbojpeg::Error, input: &[u8]) -> bool {
    let turbojpeg::Error::TurboJpegError(message) = e else { return false };
    let Ok(start) = jpeg_markers::scan_start(input) else { return false };
    HARMLESS_WARNINGS.iter().any(|w| message.contains(w)) && input[start..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

/// libjpeg-turbo reports corrupt and truncated data (including "premature end of data", which
/// it would otherwise paper over with grey) as errors: all of them mean a bad input.
fn bad(e: turbojpeg::Error) -> JobError {
    JobError::BadImage(format!("jpeg: {e}"))
}
