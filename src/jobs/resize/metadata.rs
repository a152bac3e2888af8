//! What an input says about itself besides its pixels: EXIF orientation, ICC profile, the EXIF
//! and XMP blocks (copied to the output only with `keep_metadata`), and for JPEG Adobe's
//! colour-transform flag (which tells inverted CMYK apart). Each decoder fills one in; JPEG's
//! comes from the marker segments, read here.

use super::exif;
use super::jpeg_markers::Segment;

const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP14: u8 = 0xEE;
const ICC_PREFIX: &[u8] = b"ICC_PROFILE\0";
/// Standard (not extended) XMP packet in JPEG APP1.
pub const XMP_PREFIX: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// Everything besides pixels that the pipeline reads from an input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// ICC profile bytes, reassembled if the file split them.
    pub icc: Option<Vec<u8>>,
    /// The EXIF TIFF block, without any `Exif\0\0` prefix.
    pub exif: Option<Vec<u8>>,
    /// The XMP packet (XML text).
    pub xmp: Option<Vec<u8>>,
    /// JPEG only: an Adobe APP14 segment was present (its transform byte is not needed: the
    /// decoder reads it; its presence alone marks CMYK as inverted).
    pub adobe: bool,
}

impl Metadata {
    /// The EXIF orientation (1..=8), 1 when absent or unreadable.
    pub fn orientation(&self) -> u8 {
        self.exif.as_deref().and_then(exif::orientation).unwrap_or(1)
    }

    /// Reads the APP segments of a JPEG header.
    pub fn from_jpeg(segments: &[Segment<'_>]) -> Metadata {
        let mut meta = Metadata::default();
        let mut icc_chunks: Vec<(u8, u8, &[u8])> = Vec::new();
        for segment in segments {
            let p = segment.payload;
            match segment.marker {
                APP1 if meta.exif.is_none() && p.starts_with(exif::JPEG_PREFIX) => {
                    meta.exif = Some(exif::strip_prefix(p).to_vec());
                }
                APP1 if meta.xmp.is_none() && p.starts_with(XMP_PREFIX) => {
                    meta.xmp = Some(p[XMP_PREFIX.len()..].to_vec());
                }
                APP2 if p.starts_with(ICC_PREFIX) && p.len() >= ICC_PREFIX.len() + 2 => {
                    let n = ICC_PREFIX.len();
                    icc_chunks.push((p[n], p[n + 1], &p[n + 2..]));
                }
                APP14 if p.starts_with(b"Adobe") => meta.adobe = true,
                _ => {}
            }
        }
        meta.icc = assemble_icc(icc_chunks);
        meta
    }
}

/// Joins ICC chunks (sequence number from 1, total count) in order. Anything inconsistent (a
/// missing or repeated chunk, counts that disagree) drops the profile: the pixels are then
/// treated as sRGB, which is what browsers do with a broken profile.
fn assemble_icc(mut chunks: Vec<(u8, u8, &[u8])>) -> Option<Vec<u8>> {
    let count = chunks.first()?.1;
    if count == 0 || chunks.len() != usize::from(count) || chunks.iter().any(|c| c.1 != count) {
        return None;
    }
    chunks.sort_by_key(|c| c.0);
    if chunks.iter().enumerate().any(|(i, c)| usize::from(c.0) != i + 1) {
        return None;
    }
    Some(chunks.iter().flat_map(|c| c.2.iter().copied()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn icc_segment(seq: u8, count: u8, data: &[u8]) -> Vec<u8> {
        let mut p = ICC_PREFIX.to_vec();
        p.extend([seq, count]);
        p.extend(data);
        p
    }

    #[test]
    fn reassembles_chunked_icc_in_sequence_order() {
        let (a, b) = (icc_segment(2, 2, b"world"), icc_segment(1, 2, b"hello "));
        let segments = [Segment { marker: APP2, payload: &a }, Segment { marker: APP2, payload: &b }];
        assert_eq!(Metadata::from_jpeg(&segments).icc.as_deref(), Some(&b"hello world"[..]));
    }

    #[test]
    fn inconsistent_icc_chunks_drop_the_profile() {
        let (a, b) = (icc_segment(1, 3, b"x"), icc_segment(2, 3, b"y"));
        let missing = [Segment { marker: APP2, payload: &a }, Segment { marker: APP2, payload: &b }];
        assert_eq!(Metadata::from_jpeg(&missing).icc, None);
        let twice = [Segment { marker: APP2, payload: &a }, Segment { marker: APP2, payload: &a }];
        assert_eq!(Metadata::from_jpeg(&twice).icc, None);
    }

    #[test]
    fn reads_exif_xmp_and_adobe() {
        let mut exif_payload = exif::JPEG_PREFIX.to_vec();
        exif_payload.extend(exif::tiff_with_orientation(6, true));
        let mut xmp_payload = XMP_PREFIX.to_vec();
        xmp_payload.extend(b"<x:xmpmeta/>");
        let adobe = b"Adobe\x00\x64\x00\x00\x00\x00\x02".to_vec();
        let segments = [
            Segment { marker: APP1, payload: &exif_payload },
            Segment { marker: APP1, payload: &xmp_payload },
            Segment { marker: APP14, payload: &adobe },
        ];
        let meta = Metadata::from_jpeg(&segments);
        assert_eq!(meta.orientation(), 6);
        assert_eq!(meta.xmp.as_deref(), Some(&b"<x:xmpmeta/>"[..]));
        assert!(meta.adobe);
        assert_eq!(Metadata::default().orientation(), 1);
    }
}
