//! Decoding, in two steps so that planning can happen in between: [`open`] reads the header and
//! metadata (cheap, no pixel buffer), then [`Source::decode`] produces 8-bit pixels, for JPEG at
//! the DCT scale the plan chose.
//!
//! - JPEG: libjpeg-turbo's scanline API (DCT-domain scaling, SIMD, deadline checks per band),
//!   metadata from our own marker walk; progressive files at 1/8 and 1/4 through our own
//!   decoder of the scans that scale reads (`jpeg::own_decoder`), identical to libjpeg's output.
//! - PNG: the `png` crate row by row, so the deadline is checked per band of rows, and blocks of
//!   rows can be averaged as they arrive (shrink-on-load by a box filter).
//! - WebP, GIF (first frame): the `image` crate.
//! - HEIC/HEIF and AVIF: libheif, after our own reading of the boxes (`heif`).
//!
//! # Layout
//! - `jpeg/`: libjpeg through its C bridge, scan pruning, and the own progressive decoder.
//! - `png/`: the `png` crate, and the rows of plain images unfiltered by us.
//! - `image_rs`: WebP and GIF.
//! - `heif/`: HEIC and AVIF through libheif, after its own walk of the boxes checks the limits.
//! - `box_shrink`: blocks of pixels averaged as rows arrive, for any decoder that gives rows.
//!
//! Decoders are third-party code fed untrusted bytes. A panic inside one is caught here and
//! reported as `BadImage`: the input is what made it fail, and retrying cannot help.

mod box_shrink;
pub(super) mod heif;
mod image_rs;
mod jpeg;
mod png;

#[cfg(feature = "fuzzing")]
pub use jpeg::differential;

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::super::{ImageFormat, JobControl, JobError, Limits};
use super::metadata::Metadata;
use super::raster::Raster;

/// Decodes run on this thread, for tests that check a job decodes its input only once (a job
/// runs on the calling thread, so parallel tests do not disturb each other's count).
#[cfg(test)]
pub mod count {
    use std::cell::Cell;

    thread_local! {
        static DECODES: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn one() {
        DECODES.with(|n| n.set(n.get() + 1));
    }

    /// Decodes run on this thread so far.
    pub fn decodes() -> usize {
        DECODES.with(Cell::get)
    }
}

/// Rows decoded between two deadline checks, where the decoder lets us see rows at all.
pub const ROWS_PER_CHECK: usize = 64;

/// How a JPEG is decoded (benches compare them; the pixels are the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JpegScans {
    /// As the pipeline does: at 1/8 and 1/4 a progressive file through our own decoder of the
    /// scans that scale reads (`jpeg::own_decoder`), else as `Pruned`.
    Pipeline,
    /// libjpeg, given only the scans the DCT scale needs (`jpeg::scan_pruning`).
    Pruned,
    /// libjpeg, every scan.
    All,
}

/// An input whose header has been read and whose pixels have not.
pub struct Source<'a> {
    pub format: ImageFormat,
    /// Stored size (before EXIF orientation), as the header declares it.
    pub width: u32,
    pub height: u32,
    pub meta: Metadata,
    decoder: Decoder<'a>,
}

enum Decoder<'a> {
    Jpeg(&'a [u8]),
    // Boxed: the png reader is large, the other variants are a pointer or two.
    Png(Box<png::PngSource<'a>>),
    ImageRs(image_rs::ImageRsSource<'a>),
    Heif(Box<heif::HeifSource<'a>>),
}

/// Reads the header and metadata of an input already sniffed as `format` and measured at
/// `width x height` (within `limits`). `want_text` asks PNG for its text chunks (XMP), only
/// needed to copy metadata.
pub fn open<'a>(
    input: &'a [u8],
    format: ImageFormat,
    (width, height): (u32, u32),
    limits: &Limits,
    want_text: bool,
) -> Result<Source<'a>, JobError> {
    let opened = guard(format, || match format {
        ImageFormat::Jpeg => Ok((jpeg::metadata(input)?, Decoder::Jpeg(input))),
        ImageFormat::Png => {
            let (meta, source) = png::open(input, want_text)?;
            Ok((meta, Decoder::Png(Box::new(source))))
        }
        ImageFormat::WebP | ImageFormat::Gif => {
            let (meta, source) = image_rs::open(input, format, limits)?;
            Ok((meta, Decoder::ImageRs(source)))
        }
        ImageFormat::Heic | ImageFormat::Avif => {
            let (meta, source) = heif::open(input, format)?;
            Ok((meta, Decoder::Heif(Box::new(source))))
        }
    })?;
    let (meta, decoder) = opened;
    let source = Source { format, width, height, meta, decoder };
    let (w, h) = source.decoder_size();
    if (w, h) != (width, height) {
        return Err(JobError::BadImage(format!(
            "{}: header says {width}x{height} but the decoder sees {w}x{h}",
            format.word()
        )));
    }
    Ok(source)
}

impl Source<'_> {
    /// Size as the decoder itself reports it (cross-checked against our header read).
    fn decoder_size(&self) -> (u32, u32) {
        match &self.decoder {
            Decoder::Jpeg(_) => (self.width, self.height),
            Decoder::Png(source) => source.size(),
            Decoder::ImageRs(source) => source.size(),
            Decoder::Heif(source) => source.size(),
        }
    }

    /// Decodes the pixels. `eighths` (1 to 8; the plan uses 1, 2, 4, 8) is the DCT scale for
    /// JPEG and the box shrink (8 / eighths) for PNG without alpha, interlacing or an odd scale;
    /// other inputs decode at full size, so callers read the decoded size from the raster.
    /// Alpha that is opaque everywhere is dropped.
    pub fn decode(self, eighths: u32, ctl: &JobControl) -> Result<Raster, JobError> {
        self.decode_with(eighths, JpegScans::Pipeline, ctl)
    }

    /// [`Source::decode`], choosing how a progressive JPEG at 1/8 is decoded (benches compare
    /// the ways).
    pub fn decode_with(self, eighths: u32, scans: JpegScans, ctl: &JobControl) -> Result<Raster, JobError> {
        #[cfg(test)]
        count::one();
        let format = self.format;
        let (width, height) = (self.width, self.height);
        let raster = guard(format, || match self.decoder {
            Decoder::Jpeg(input) => match scans {
                JpegScans::Pipeline => jpeg::decode(input, (width, height), eighths, self.meta.adobe, ctl),
                JpegScans::Pruned => jpeg::decode_with_libjpeg(input, (width, height), eighths, self.meta.adobe, ctl),
                JpegScans::All => jpeg::decode_every_scan(input, (width, height), eighths, self.meta.adobe, ctl),
            },
            Decoder::Png(source) => source.decode(box_factor(eighths), ctl),
            Decoder::ImageRs(source) => source.decode(),
            Decoder::Heif(source) => source.decode(),
        })?;
        Ok(raster.drop_opaque_alpha())
    }
}

/// The box shrink for a scale in eighths: 1/2, 1/4 and 1/8 only (others decode at full size).
fn box_factor(eighths: u32) -> u32 {
    match eighths {
        1 | 2 | 4 => 8 / eighths,
        _ => 1,
    }
}

/// Runs decoder code, turning a panic into `BadImage`.
fn guard<T>(format: ImageFormat, f: impl FnOnce() -> Result<T, JobError>) -> Result<T, JobError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(JobError::BadImage(format!("{}: the decoder failed on malformed data", format.word())))
    })
}

/// 16-bit samples (big-endian, as PNG stores them) to 8-bit, rounded to nearest.
pub fn narrow_be16(wide: &[u8], out: &mut [u8]) {
    for (pair, o) in wide.chunks_exact(2).zip(out.iter_mut()) {
        *o = narrow(u16::from_be_bytes([pair[0], pair[1]]));
    }
}

/// One 16-bit sample to 8 bits, rounded: v * 255 / 65535.
pub fn narrow(v: u16) -> u8 {
    ((u32::from(v) * 255 + 32767) / 65535) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_bit_samples_round_to_nearest() {
        assert_eq!(narrow(0), 0);
        assert_eq!(narrow(65535), 255);
        assert_eq!(narrow(257 * 100), 100);
        assert_eq!(narrow(257 * 100 + 128), 100); // just below the midpoint
        assert_eq!(narrow(257 * 100 + 129), 101);
        let mut out = [0u8; 2];
        narrow_be16(&[0xFF, 0xFF, 0x80, 0x00], &mut out);
        assert_eq!(out, [255, 128]);
    }
}
