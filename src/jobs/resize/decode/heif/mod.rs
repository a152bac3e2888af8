//! HEIC/HEIF and AVIF: the boxes are read by us (`boxes`, `header`, `codec_size`), which is where
//! sizes, grids, tiles, alpha and auxiliary images are checked before anything is decoded; the
//! pixels come from libheif (`libheif`), with libde265 for HEVC and dav1d for AV1.
//!
//! A HEIF picture's `clap`, `irot` and `imir` boxes are part of the picture, not advice like
//! EXIF's orientation: libheif applies them while decoding, the size the pipeline plans with is
//! the size after them, and the EXIF orientation tag is set to 1 on reading (a copied block must
//! not make a viewer turn the picture again, and the pipeline must not turn it twice).

mod boxes;
mod codec_size;
pub mod header;
pub mod libheif;

use super::super::super::{ImageFormat, JobError};
use super::super::exif;
use super::super::metadata::Metadata;
use super::super::raster::Raster;
use header::Header;
use libheif::{Context, Handle};

/// A HEIF file whose boxes libheif has parsed; nothing decoded yet.
pub struct HeifSource<'a> {
    // The handle is dropped before the context.
    handle: Handle<'a>,
    _context: Context<'a>,
    format: ImageFormat,
}

/// Reads the header (ours, checked, then libheif's) and the metadata of a file sniffed as
/// `format`.
pub fn open(input: &[u8], format: ImageFormat) -> Result<(Metadata, HeifSource<'_>), JobError> {
    let Header { icc, .. } = header::read(input, format)?;
    let bad = libheif::bad_input(format.word());
    let context = Context::read(input).map_err(&bad)?;
    let handle = context.primary().map_err(&bad)?;
    let (mut exif_block, xmp) = header::metadata(input);
    if let Some(block) = exif_block.as_mut() {
        exif::reset_orientation(block);
    }
    let meta = Metadata { icc, exif: exif_block, xmp, adobe: false };
    Ok((meta, HeifSource { handle, _context: context, format }))
}

impl HeifSource<'_> {
    /// The size libheif will decode (after its transforms).
    pub fn size(&self) -> (u32, u32) {
        self.handle.size()
    }

    /// Decodes the primary picture at full size, 8-bit RGB or RGBA.
    pub fn decode(self) -> Result<Raster, JobError> {
        self.handle.decode().map_err(libheif::bad_input(self.format.word()))
    }
}
