//! JPEG output through libjpeg-turbo (SIMD colour conversion and DCT, the fastest encoder we
//! have), then metadata spliced in as APP segments after the JFIF header.

use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

use super::super::super::JobError;
use super::super::exif;
use super::super::metadata::XMP_PREFIX;
use super::super::raster::{Layout, Raster};
use super::Extras;

/// Payload bytes one APP segment can hold (the 16-bit length counts itself).
const MAX_SEGMENT_PAYLOAD: usize = 65_533;
const ICC_PREFIX: &[u8] = b"ICC_PROFILE\0";

/// Encodes at `quality`, compositing any alpha over white. Chroma is subsampled 4:2:0 below
/// quality 90 and kept whole from 90 up (the usual encoder default, and libvips').
pub fn encode(raster: Raster, quality: u8, extras: &Extras) -> Result<Vec<u8>, JobError> {
    let raster = raster.over_white();
    let (format, subsamp) = match raster.layout {
        Layout::Gray => (PixelFormat::GRAY, Subsamp::Gray),
        Layout::Rgb if quality >= 90 => (PixelFormat::RGB, Subsamp::None),
        Layout::Rgb => (PixelFormat::RGB, Subsamp::Sub2x2),
        other => return Err(JobError::Internal(format!("jpeg encoder given {other:?} pixels"))),
    };
    let failed = |e: turbojpeg::Error| JobError::Internal(format!("jpeg encode: {e}"));
    let mut compressor = Compressor::new().map_err(failed)?;
    compressor.set_quality(i32::from(quality)).map_err(failed)?;
    compressor.set_subsamp(subsamp).map_err(failed)?;
    let image = Image {
        pixels: &raster.data[..],
        width: raster.width as usize,
        pitch: raster.stride(),
        height: raster.height as usize,
        format,
    };
    let jpeg = compressor.compress_to_vec(image).map_err(failed)?;
    Ok(with_segments(jpeg, &segments(extras)))
}

/// The APP segments for `extras`, complete with marker and length. Metadata too large for
/// one segment (EXIF, standard XMP) is left out rather than written invalid; ICC profiles are
/// split across as many APP2 segments as they need, as the ICC spec allows.
fn segments(extras: &Extras) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(exif_block) = &extras.exif {
        let payload = [exif::JPEG_PREFIX, exif_block].concat();
        if payload.len() <= MAX_SEGMENT_PAYLOAD {
            out.push(segment(0xE1, &payload));
        }
    }
    if let Some(xmp) = &extras.xmp {
        let payload = [XMP_PREFIX, xmp].concat();
        if payload.len() <= MAX_SEGMENT_PAYLOAD {
            out.push(segment(0xE1, &payload));
        }
    }
    if let Some(icc) = &extras.icc {
        let per_chunk = MAX_SEGMENT_PAYLOAD - ICC_PREFIX.len() - 2;
        let chunks: Vec<&[u8]> = icc.chunks(per_chunk).collect();
        if !chunks.is_empty() && chunks.len() <= 255 {
            for (i, chunk) in chunks.iter().enumerate() {
                let payload = [ICC_PREFIX, &[(i + 1) as u8, chunks.len() as u8], chunk].concat();
                out.push(segment(0xE2, &payload));
            }
        }
    }
    out
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() + 2) as u16;
    let mut s = vec![0xFF, marker];
    s.extend(length.to_be_bytes());
    s.extend(payload);
    s
}

/// Inserts segments after SOI and the JFIF APP0 libjpeg-turbo writes first.
fn with_segments(jpeg: Vec<u8>, segments: &[Vec<u8>]) -> Vec<u8> {
    if segments.is_empty() {
        return jpeg;
    }
    let mut at = 2;
    if jpeg.get(2..4) == Some(&[0xFF, 0xE0]) {
        if let Some(len) = jpeg.get(4..6) {
            at = 4 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        }
    }
    let extra: usize = segments.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(jpeg.len() + extra);
    out.extend_from_slice(&jpeg[..at]);
    for s in segments {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(&jpeg[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::jpeg_markers::header_segments;
    use super::super::super::metadata::Metadata;
    use super::*;

    #[test]
    fn metadata_round_trips_through_our_own_reader() {
        let raster = Raster::new(8, 8, Layout::Rgb, vec![90; 8 * 8 * 3]);
        // A 150 KB "profile" needs three APP2 segments.
        let icc: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
        let extras = Extras {
            icc: Some(icc.clone()),
            exif: Some(exif::tiff_with_orientation(1, false)),
            xmp: Some(b"<x:xmpmeta/>".to_vec()),
        };
        let jpeg = encode(raster, 80, &extras).unwrap();
        let segs = header_segments(&jpeg).unwrap();
        assert_eq!(segs[0].marker, 0xE0, "JFIF stays first");
        assert_eq!(segs.iter().filter(|s| s.marker == 0xE2).count(), 3);
        let meta = Metadata::from_jpeg(&segs);
        assert_eq!(meta.icc, extras.icc);
        assert_eq!(meta.exif, extras.exif);
        assert_eq!(meta.xmp, extras.xmp);
        // And libjpeg-turbo still decodes it.
        let decoded = turbojpeg::decompress(&jpeg, PixelFormat::RGB).unwrap();
        assert_eq!((decoded.width, decoded.height), (8, 8));
    }
}
