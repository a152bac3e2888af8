//! PNG through the `png` crate, row by row: palettes and low bit depths are expanded to 8 bits,
//! `tRNS` becomes an alpha channel, 16-bit samples are rounded to 8, and the deadline is checked
//! every [`ROWS_PER_CHECK`] rows (large PNGs are the slowest inputs to decode). Interlaced
//! images, whose passes cover the whole picture, are decoded in one call. Rows may be shrunk on
//! load by averaging blocks (`box_shrink`), as the plan asks. Plain 8- and 16-bit images are
//! unfiltered by us (`plain_rows`), faster than the crate; the rest go through `png::Reader`.
//!
//! # Layout
//! - `plain_rows`: the rows of a plain image, inflated by the crate and unfiltered by us.
//! - `unfilter`: PNG's row filters undone, a row at a time or a band of rows together.
//! - `unfilter_sse2`: the band of rows in SSE2 lanes on x86_64 (a wavefront).

mod plain_rows;
mod unfilter;
#[cfg(target_arch = "x86_64")]
mod unfilter_sse2;

#[cfg(test)]
mod tests;

use std::io::Cursor;

use ::png::{BitDepth, ColorType, Decoder, Reader, Transformations};

use super::super::super::{JobControl, JobError};
use super::super::exif;
use super::super::metadata::Metadata;
use super::super::raster::{Layout, Raster};
use super::box_shrink::BoxShrinker;
use super::{narrow_be16, ROWS_PER_CHECK};
use plain_rows::RowShape;

/// The iTXt keyword under which XMP is stored.
const XMP_KEYWORD: &str = "XML:com.adobe.xmp";

/// A PNG whose chunks up to the first IDAT have been read.
pub struct PngSource<'a> {
    reader: Reader<Cursor<&'a [u8]>>,
    /// The whole file: `plain_rows` reads it again from the start with its own decoder.
    input: &'a [u8],
}

/// Reads the header chunks; `want_text` also keeps text chunks (for XMP).
pub fn open(input: &[u8], want_text: bool) -> Result<(Metadata, PngSource<'_>), JobError> {
    let mut decoder = Decoder::new(Cursor::new(input));
    decoder.set_transformations(Transformations::EXPAND);
    decoder.set_ignore_text_chunk(!want_text);
    let reader = decoder.read_info().map_err(bad)?;
    let info = reader.info();
    let meta = Metadata {
        icc: info.icc_profile.as_ref().map(|p| p.to_vec()),
        exif: info.exif_metadata.as_ref().map(|e| exif::strip_prefix(e).to_vec()),
        // Only uncompressed XMP is copied: inflating a compressed chunk has no size bound in
        // the png crate, and a tiny chunk could expand to gigabytes.
        xmp: info
            .utf8_text
            .iter()
            .find(|t| t.keyword == XMP_KEYWORD && !t.compressed)
            .and_then(|t| t.get_text().ok())
            .map(String::into_bytes),
        adobe: false,
    };
    Ok((meta, PngSource { reader, input }))
}

impl PngSource<'_> {
    /// Size from IHDR, as the png crate parsed it.
    pub fn size(&self) -> (u32, u32) {
        self.reader.info().size()
    }

    /// Decodes every row into an 8-bit raster, shrunk on load by `shrink` (1, 2, 4 or 8) on
    /// both axes when that is more than 1, the image is not interlaced and has no alpha (see
    /// [`BoxShrinker`]); otherwise at full size.
    pub fn decode(mut self, shrink: u32, ctl: &JobControl) -> Result<Raster, JobError> {
        let (width, height) = self.size();
        let (color, depth) = self.reader.output_color_type();
        let layout = match color {
            ColorType::Grayscale => Layout::Gray,
            ColorType::GrayscaleAlpha => Layout::GrayAlpha,
            ColorType::Rgb => Layout::Rgb,
            ColorType::Rgba => Layout::Rgba,
            ColorType::Indexed => return Err(JobError::BadImage("png: palette image without a palette".into())),
        };
        let wide = depth == BitDepth::Sixteen;
        let stride = width as usize * layout.channels();
        let interlaced = self.reader.info().interlaced;
        if shrink > 1 && !interlaced && !layout.has_alpha() {
            return self.decode_shrunk(layout, wide, shrink, ctl);
        }
        let mut data = vec![0u8; stride * height as usize];
        if interlaced {
            let size = self.reader.output_buffer_size().ok_or_else(|| JobError::BadImage("png: size overflows".into()))?;
            let mut frame = vec![0u8; size];
            self.reader.next_frame(&mut frame).map_err(bad)?;
            store(&frame, &mut data, wide);
        } else {
            let mut rows = data.chunks_exact_mut(stride);
            self.for_each_row(ctl, |row| {
                if let Some(out) = rows.next() {
                    store(row, out, wide);
                }
            })?;
        }
        Ok(Raster::new(width, height, layout, data))
    }
}

impl PngSource<'_> {
    /// Rows straight into a [`BoxShrinker`]: the full-size picture is never held.
    fn decode_shrunk(mut self, layout: Layout, wide: bool, shrink: u32, ctl: &JobControl) -> Result<Raster, JobError> {
        let (width, height) = self.size();
        let mut shrinker = BoxShrinker::new(width, height, layout.channels(), shrink);
        let mut narrowed = if wide { vec![0u8; width as usize * layout.channels()] } else { Vec::new() };
        self.for_each_row(ctl, |row| {
            if wide {
                narrow_be16(row, &mut narrowed);
                shrinker.push_row(&narrowed);
            } else {
                shrinker.push_row(row);
            }
        })?;
        let out_width = shrinker.out_width();
        let data = shrinker.finish();
        let out_height = (data.len() / (out_width as usize * layout.channels())) as u32;
        Ok(Raster::new(out_width, out_height, layout, data))
    }

    /// Hands every row of a non-interlaced image, as decoded (16-bit samples still wide), to
    /// `each` in order, checking the deadline every [`ROWS_PER_CHECK`] rows.
    pub(super) fn for_each_row(&mut self, ctl: &JobControl, mut each: impl FnMut(&[u8])) -> Result<(), JobError> {
        if let Some(shape) = self.plain_shape() {
            return plain_rows::for_each_row(self.input, &shape, ctl, each);
        }
        let (width, height) = self.size();
        let line = self.reader.output_line_size(width).ok_or_else(|| JobError::BadImage("png: row size overflows".into()))?;
        let mut row = vec![0u8; line];
        for y in 0..height as usize {
            if y % ROWS_PER_CHECK == 0 {
                ctl.check("decode")?;
            }
            if self.reader.read_row(&mut row).map_err(bad)?.is_none() {
                return Err(data_ends(y, height));
            }
            each(&row);
        }
        Ok(())
    }
}

impl PngSource<'_> {
    /// The row shape when `plain_rows` can serve the image: rows as stored are rows as
    /// `Reader` would return them with our transformations (8 or 16 bits, no palette, no
    /// `tRNS` to expand), one frame of IHDR's size, not interlaced.
    pub(super) fn plain_shape(&self) -> Option<RowShape> {
        let info = self.reader.info();
        let plain_color = matches!(info.color_type, ColorType::Grayscale | ColorType::GrayscaleAlpha | ColorType::Rgb | ColorType::Rgba);
        let plain_depth = matches!(info.bit_depth, BitDepth::Eight | BitDepth::Sixteen);
        if !plain_color || !plain_depth || info.interlaced || info.trns.is_some() || info.animation_control.is_some() || info.frame_control.is_some() {
            return None;
        }
        let bpp = info.color_type.samples() * if info.bit_depth == BitDepth::Sixteen { 2 } else { 1 };
        let stride = self.reader.output_line_size(info.width)?;
        Some(RowShape { height: info.height, stride, bpp })
    }
}

/// Copies decoded samples, narrowing 16-bit ones.
fn store(decoded: &[u8], out: &mut [u8], wide: bool) {
    if wide {
        narrow_be16(decoded, out);
    } else {
        out.copy_from_slice(&decoded[..out.len()]);
    }
}

/// The image data stopped after `y` complete rows (`Reader` and `plain_rows` alike).
pub(super) fn data_ends(y: usize, height: impl std::fmt::Display) -> JobError {
    JobError::BadImage(format!("png: image data ends after {y} of {height} rows"))
}

pub(super) fn bad(e: ::png::DecodingError) -> JobError {
    match e {
        ::png::DecodingError::LimitsExceeded => JobError::BadImage("png: a chunk exceeds the decoder's memory limit".into()),
        other => JobError::BadImage(format!("png: {other}")),
    }
}
