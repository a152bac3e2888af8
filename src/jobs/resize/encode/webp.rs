//! Lossy WebP through libwebp (the `webp` crate), then, when metadata is kept, the file is
//! rewritten into the extended container: VP8X, ICCP, the image chunks, EXIF, XMP, in the
//! order the WebP container spec requires.

use webp::{Encoder, PixelLayout};

use super::super::super::JobError;
use super::super::raster::{Layout, Raster};
use super::Extras;

/// VP8X flag bits.
const ICC_FLAG: u8 = 0x20;
const ALPHA_FLAG: u8 = 0x10;
const EXIF_FLAG: u8 = 0x08;
const XMP_FLAG: u8 = 0x04;

/// Encodes lossy at `quality` (libwebp's 0..100 scale; ours is 1..=100). Gray is widened to RGB,
/// libwebp has no gray input.
pub fn encode(raster: Raster, quality: u8, extras: &Extras) -> Result<Vec<u8>, JobError> {
    let raster = raster.gray_to_rgb();
    let layout = match raster.layout {
        Layout::Rgb => PixelLayout::Rgb,
        Layout::Rgba => PixelLayout::Rgba,
        other => return Err(JobError::Internal(format!("webp encoder given {other:?} pixels"))),
    };
    let encoded = Encoder::new(&raster.data, layout, raster.width, raster.height)
        .encode_simple(false, f32::from(quality))
        .map_err(|e| JobError::Internal(format!("webp encode: {e:?}")))?;
    let plain = encoded.to_vec();
    if extras.icc.is_none() && extras.exif.is_none() && extras.xmp.is_none() {
        return Ok(plain);
    }
    extended(&plain, raster.width, raster.height, extras)
}

/// Rebuilds a simple (or already extended) WebP as VP8X with the metadata chunks.
fn extended(plain: &[u8], width: u32, height: u32, extras: &Extras) -> Result<Vec<u8>, JobError> {
    let image_chunks: Vec<_> = chunks(plain)?.into_iter().filter(|(fourcc, _)| fourcc != b"VP8X").collect();
    let mut flags = 0u8;
    // libwebp writes an ALPH chunk only when some pixel is not opaque.
    if image_chunks.iter().any(|(fourcc, _)| fourcc == b"ALPH") {
        flags |= ALPHA_FLAG;
    }
    let mut body = Vec::with_capacity(plain.len() + 1024);
    let mut vp8x = vec![0u8; 10];
    let w = (width - 1).to_le_bytes();
    let h = (height - 1).to_le_bytes();
    vp8x[4..7].copy_from_slice(&w[..3]);
    vp8x[7..10].copy_from_slice(&h[..3]);
    if let Some(icc) = &extras.icc {
        flags |= ICC_FLAG;
        push_chunk(&mut body, b"ICCP", icc);
    }
    for (fourcc, data) in image_chunks {
        push_chunk(&mut body, &fourcc, data);
    }
    if let Some(exif) = &extras.exif {
        flags |= EXIF_FLAG;
        push_chunk(&mut body, b"EXIF", exif);
    }
    if let Some(xmp) = &extras.xmp {
        flags |= XMP_FLAG;
        push_chunk(&mut body, b"XMP ", xmp);
    }
    vp8x[0] = flags;
    let mut file = Vec::with_capacity(body.len() + 30);
    file.extend_from_slice(b"RIFF");
    let riff_size = u32::try_from(4 + 18 + body.len()).map_err(|_| JobError::Internal("webp: file over 4 GiB".into()))?;
    file.extend(riff_size.to_le_bytes());
    file.extend_from_slice(b"WEBP");
    push_chunk(&mut file, b"VP8X", &vp8x);
    file.extend(body);
    Ok(file)
}

/// A RIFF chunk: its four-character code and its data.
type Chunk<'a> = ([u8; 4], &'a [u8]);

/// The chunks of a RIFF WebP file, as libwebp wrote it.
fn chunks(file: &[u8]) -> Result<Vec<Chunk<'_>>, JobError> {
    let broken = || JobError::Internal("webp: libwebp output is not a RIFF WebP file".into());
    if file.len() < 12 || &file[..4] != b"RIFF" || &file[8..12] != b"WEBP" {
        return Err(broken());
    }
    let mut out = Vec::new();
    let mut pos = 12;
    while pos + 8 <= file.len() {
        let fourcc: [u8; 4] = file[pos..pos + 4].try_into().map_err(|_| broken())?;
        let size = u32::from_le_bytes(file[pos + 4..pos + 8].try_into().map_err(|_| broken())?) as usize;
        let data = file.get(pos + 8..pos + 8 + size).ok_or_else(broken)?;
        out.push((fourcc, data));
        pos += 8 + size + (size & 1);
    }
    Ok(out)
}

/// Appends one chunk, padded to an even length.
fn push_chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(fourcc);
    out.extend((data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::decode;
    use super::super::super::exif;
    use super::super::super::super::{ImageFormat, JobControl, Limits};
    use super::*;

    #[test]
    fn metadata_survives_and_the_image_still_decodes() {
        let data: Vec<u8> = (0..20 * 10).flat_map(|i| [(i % 256) as u8, 100, 200, if i % 3 == 0 { 0 } else { 255 }]).collect();
        let raster = Raster::new(20, 10, Layout::Rgba, data);
        let extras = Extras {
            icc: Some(b"odd-length icc".to_vec()),
            exif: Some(exif::tiff_with_orientation(1, true)),
            xmp: Some(b"<x:xmpmeta/>".to_vec()),
        };
        let webp = encode(raster, 90, &extras).unwrap();
        let source = decode::open(&webp, ImageFormat::WebP, (20, 10), &Limits::default(), true).unwrap();
        assert_eq!(source.meta.icc, extras.icc);
        assert_eq!(source.meta.exif, extras.exif);
        assert_eq!(source.meta.xmp, extras.xmp);
        let decoded = source.decode(8, &JobControl::unbounded()).unwrap();
        assert_eq!((decoded.width, decoded.height, decoded.layout), (20, 10, Layout::Rgba));
    }
}
