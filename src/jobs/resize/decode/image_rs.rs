//! WebP and GIF (first frame) through the `image` crate, with its own limits set as a second
//! guard behind our header check.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::error::ImageError;
use image::{ColorType, ImageDecoder};

use super::super::super::{ImageFormat, JobError, Limits};
use super::super::exif;
use super::super::metadata::Metadata;
use super::super::raster::{Layout, Raster};
use super::narrow;

/// A WebP or GIF decoder that has read its header.
pub struct ImageRsSource<'a> {
    decoder: Box<dyn ImageDecoder + 'a>,
    format: ImageFormat,
}

/// Opens the decoder, sets limits, reads metadata.
pub fn open<'a>(input: &'a [u8], format: ImageFormat, limits: &Limits) -> Result<(Metadata, ImageRsSource<'a>), JobError> {
    let cursor = Cursor::new(input);
    let bad = |e| bad(format, e);
    let mut decoder: Box<dyn ImageDecoder> = match format {
        ImageFormat::WebP => Box::new(WebPDecoder::new(cursor).map_err(bad)?),
        ImageFormat::Gif => Box::new(GifDecoder::new(cursor).map_err(bad)?),
        other => return Err(JobError::Internal(format!("image-rs path asked to open {}", other.word()))),
    };
    decoder.set_limits(decoder_limits(limits)).map_err(bad)?;
    let meta = Metadata {
        icc: decoder.icc_profile().map_err(bad)?,
        exif: decoder.exif_metadata().map_err(bad)?.map(|e| exif::strip_prefix(&e).to_vec()),
        xmp: decoder.xmp_metadata().map_err(bad)?,
        adobe: false,
    };
    Ok((meta, ImageRsSource { decoder, format }))
}

/// Width, height and a byte budget for the largest picture the limits allow (16-bit RGBA, the
/// widest layout these decoders produce), plus room for their working buffers.
fn decoder_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_dimension);
    l.max_image_height = Some(limits.max_dimension);
    l.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    l
}

impl ImageRsSource<'_> {
    /// Size as the decoder reports it (GIF: the logical screen; WebP: the canvas).
    pub fn size(&self) -> (u32, u32) {
        self.decoder.dimensions()
    }

    /// Decodes the first frame into an 8-bit raster.
    pub fn decode(self) -> Result<Raster, JobError> {
        let format = self.format;
        let (width, height) = self.decoder.dimensions();
        let color = self.decoder.color_type();
        let size = usize::try_from(self.decoder.total_bytes()).map_err(|_| JobError::BadImage("image too large for memory".into()))?;
        let mut buf = vec![0u8; size];
        self.decoder.read_image_boxed(&mut buf).map_err(|e| bad(format, e))?;
        let pixels = width as usize * height as usize;
        let (layout, data) = match color {
            ColorType::L8 => (Layout::Gray, buf),
            ColorType::La8 => (Layout::GrayAlpha, buf),
            ColorType::Rgb8 => (Layout::Rgb, buf),
            ColorType::Rgba8 => (Layout::Rgba, buf),
            ColorType::L16 => (Layout::Gray, narrow_ne16(&buf)),
            ColorType::La16 => (Layout::GrayAlpha, narrow_ne16(&buf)),
            ColorType::Rgb16 => (Layout::Rgb, narrow_ne16(&buf)),
            ColorType::Rgba16 => (Layout::Rgba, narrow_ne16(&buf)),
            other => return Err(JobError::BadImage(format!("{}: unsupported sample type {other:?}", format.word()))),
        };
        if data.len() != pixels * layout.channels() {
            return Err(JobError::BadImage(format!("{}: decoder returned a short buffer", format.word())));
        }
        Ok(Raster::new(width, height, layout, data))
    }
}

/// 16-bit samples in native byte order (how `image` hands them out) to 8-bit.
fn narrow_ne16(wide: &[u8]) -> Vec<u8> {
    wide.chunks_exact(2).map(|p| narrow(u16::from_ne_bytes([p[0], p[1]]))).collect()
}

/// Every decoder error is a bad input, including a limit error from the second guard: the
/// header already passed our own check, so the data contradicts it (a GIF frame larger than
/// its screen, say).
fn bad(format: ImageFormat, e: ImageError) -> JobError {
    JobError::BadImage(format!("{}: {e}", format.word()))
}
