//! Walks the marker segments of a JPEG up to its first scan, without decoding anything. Used to
//! read the frame size (limits are checked before libjpeg-turbo allocates) and the APP segments
//! that carry EXIF, XMP, ICC profiles and Adobe's colour-transform flag.

use super::super::JobError;

/// Start of scan: entropy-coded data follows, so the header walk stops here.
const SOS: u8 = 0xDA;
/// End of image.
const EOI: u8 = 0xD9;

/// One marker segment: the marker byte (the `xx` of `FF xx`) and its payload, without the
/// two length bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub marker: u8,
    pub payload: &'a [u8],
}

/// The segments between SOI and the first SOS, in file order. A file that ends (or breaks its
/// own lengths) before the first scan is `BadImage`.
pub fn header_segments(jpeg: &[u8]) -> Result<Vec<Segment<'_>>, JobError> {
    walk(jpeg).map(|(segments, _)| segments)
}

/// Where the entropy-coded data of the first scan starts.
pub fn scan_start(jpeg: &[u8]) -> Result<usize, JobError> {
    walk(jpeg).map(|(_, end)| end)
}

/// The header segments and the offset just past the first SOS segment.
fn walk(jpeg: &[u8]) -> Result<(Vec<Segment<'_>>, usize), JobError> {
    if jpeg.len() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
        return Err(bad("missing the SOI marker"));
    }
    let mut segments = Vec::new();
    let mut pos = 2;
    loop {
        // Any number of 0xFF fill bytes may precede a marker.
        if jpeg.get(pos) != Some(&0xFF) {
            return Err(bad("expected a marker"));
        }
        while jpeg.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *jpeg.get(pos).ok_or_else(|| bad("truncated in the header"))?;
        pos += 1;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            EOI => return Err(bad("ends before the first scan")),
            0x00 => return Err(bad("stray 0xFF00 in the header")),
            _ => {}
        }
        let length_bytes = jpeg.get(pos..pos + 2).ok_or_else(|| bad("truncated segment length"))?;
        let length = usize::from(u16::from_be_bytes([length_bytes[0], length_bytes[1]]));
        if length < 2 {
            return Err(bad("segment length below 2"));
        }
        let payload = jpeg.get(pos + 2..pos + length).ok_or_else(|| bad("truncated segment"))?;
        segments.push(Segment { marker, payload });
        pos += length;
        if marker == SOS {
            return Ok((segments, pos));
        }
    }
}

/// Width and height from the first start-of-frame segment.
pub fn frame_size(segments: &[Segment<'_>]) -> Result<(u32, u32), JobError> {
    let sof = segments
        .iter()
        .find(|s| is_start_of_frame(s.marker))
        .ok_or_else(|| bad("no start-of-frame segment before the first scan"))?;
    // precision (1), height (2), width (2), component count (1)
    let p = sof.payload;
    if p.len() < 6 {
        return Err(bad("start-of-frame segment too short"));
    }
    let height = u32::from(u16::from_be_bytes([p[1], p[2]]));
    let width = u32::from(u16::from_be_bytes([p[3], p[4]]));
    if width == 0 || height == 0 {
        // Height 0 defers the size to a DNL marker after the scan: not supported, and the
        // limits could not be checked up front.
        return Err(bad("frame declares a zero width or height"));
    }
    Ok((width, height))
}

/// SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
pub fn is_start_of_frame(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

fn bad(what: &str) -> JobError {
    JobError::BadImage(format!("jpeg: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, an APP0 with 3 payload bytes, fill bytes, a restart marker, SOF0 for 300x200, SOS.
    fn tiny_header() -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend([0xFF, 0xE0, 0x00, 0x05, b'a', b'b', b'c']);
        j.extend([0xFF, 0xFF, 0xD0]);
        j.extend([0xFF, 0xC0, 0x00, 0x09, 8, 0x00, 200, 0x01, 0x2C, 1, 0]);
        j.extend([0xFF, 0xDA, 0x00, 0x02]);
        j
    }

    #[test]
    fn walks_to_the_first_scan_and_reads_the_frame_size() {
        let j = tiny_header();
        let segments = header_segments(&j).unwrap();
        let markers: Vec<u8> = segments.iter().map(|s| s.marker).collect();
        assert_eq!(markers, [0xE0, 0xC0, 0xDA]);
        assert_eq!(segments[0].payload, b"abc");
        assert_eq!(frame_size(&segments).unwrap(), (300, 200));
        assert_eq!(scan_start(&j).unwrap(), j.len());
    }

    #[test]
    fn every_truncation_is_bad_image() {
        let j = tiny_header();
        for len in 0..j.len() {
            assert!(matches!(header_segments(&j[..len]), Err(JobError::BadImage(_))), "length {len}");
        }
    }
}
