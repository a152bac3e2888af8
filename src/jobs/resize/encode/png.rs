//! PNG output through the `png` crate. Fast deflate: thumbnails are small, and the reply is
//! usually consumed once; a slower level would save a few percent at several times the cost.

use std::borrow::Cow;

use ::png::{BitDepth, ColorType, Compression, Encoder, Info};

use super::super::super::JobError;
use super::super::raster::{Layout, Raster};
use super::Extras;

/// The iTXt keyword XMP is stored under.
const XMP_KEYWORD: &str = "XML:com.adobe.xmp";

/// Encodes 8-bit gray, gray+alpha, RGB or RGBA.
pub fn encode(raster: Raster, extras: &Extras) -> Result<Vec<u8>, JobError> {
    let color = match raster.layout {
        Layout::Gray => ColorType::Grayscale,
        Layout::GrayAlpha => ColorType::GrayscaleAlpha,
        Layout::Rgb => ColorType::Rgb,
        Layout::Rgba => ColorType::Rgba,
        other => return Err(JobError::Internal(format!("png encoder given {other:?} pixels"))),
    };
    let failed = |e: ::png::EncodingError| JobError::Internal(format!("png encode: {e}"));
    let mut info = Info::with_size(raster.width, raster.height);
    info.color_type = color;
    info.bit_depth = BitDepth::Eight;
    info.icc_profile = extras.icc.as_deref().map(Cow::Borrowed);
    info.exif_metadata = extras.exif.as_deref().map(Cow::Borrowed);
    let mut out = Vec::with_capacity(raster.data.len() / 2 + 1024);
    let mut encoder = Encoder::with_info(&mut out, info).map_err(failed)?;
    encoder.set_compression(Compression::Fast);
    if let Some(xmp) = &extras.xmp {
        encoder.add_itxt_chunk(XMP_KEYWORD.to_string(), String::from_utf8_lossy(xmp).into_owned()).map_err(failed)?;
    }
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(&raster.data).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::super::decode;
    use super::super::super::exif;
    use super::super::super::super::{ImageFormat, JobControl, Limits};
    use super::*;

    #[test]
    fn pixels_and_metadata_round_trip_through_our_decoder() {
        let data: Vec<u8> = (0..6 * 4 * 2).map(|i| (i * 5) as u8).collect();
        let raster = Raster::new(6, 4, Layout::GrayAlpha, data);
        let extras = Extras {
            icc: Some(b"pretend profile".to_vec()),
            exif: Some(exif::tiff_with_orientation(3, true)),
            xmp: Some(b"<x:xmpmeta>\xc3\xa9</x:xmpmeta>".to_vec()),
        };
        let png = encode(raster.clone(), &extras).unwrap();
        let source = decode::open(&png, ImageFormat::Png, (6, 4), &Limits::default(), true).unwrap();
        assert_eq!(source.meta.icc, extras.icc);
        assert_eq!(source.meta.exif, extras.exif);
        assert_eq!(source.meta.xmp, extras.xmp);
        assert_eq!(source.decode(8, &JobControl::unbounded()).unwrap(), raster);
    }
}
