//! The one EXIF field the pipeline acts on: the orientation tag (0x0112) of IFD0. Reads it, and
//! resets it to 1 in a copy of the EXIF block when the pixels have been turned upright, so a
//! viewer does not rotate them a second time. Everything is bounds-checked: a corrupt EXIF block
//! reads as "no orientation", never as an error or a panic.

/// The TIFF tag number of Orientation.
const ORIENTATION_TAG: u16 = 0x0112;
/// TIFF type SHORT.
const SHORT: u16 = 3;

/// Prefix of an EXIF APP1 segment in JPEG (and sometimes of a WebP EXIF chunk).
pub const JPEG_PREFIX: &[u8] = b"Exif\0\0";

/// The TIFF block itself, with a JPEG-style `Exif\0\0` prefix removed if present.
pub fn strip_prefix(exif: &[u8]) -> &[u8] {
    exif.strip_prefix(JPEG_PREFIX).unwrap_or(exif)
}

/// The orientation value (1..=8), or `None` when absent, malformed or out of range.
pub fn orientation(tiff: &[u8]) -> Option<u8> {
    let offset = orientation_value_offset(tiff)?;
    let little = tiff[0] == b'I';
    let value = read_u16(tiff, offset, little)?;
    (1..=8).contains(&value).then_some(value as u8)
}

/// Sets the orientation to 1 (upright) in place, if the tag is there.
pub fn reset_orientation(tiff: &mut [u8]) {
    if let Some(offset) = orientation_value_offset(tiff) {
        let bytes = if tiff[0] == b'I' { 1u16.to_le_bytes() } else { 1u16.to_be_bytes() };
        tiff[offset..offset + 2].copy_from_slice(&bytes);
    }
}

/// Where the 2-byte orientation value lives inside `tiff` (it fits in the entry's value field).
fn orientation_value_offset(tiff: &[u8]) -> Option<usize> {
    let little = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    if read_u16(tiff, 2, little)? != 42 {
        return None;
    }
    let ifd = read_u32(tiff, 4, little)? as usize;
    let count = usize::from(read_u16(tiff, ifd, little)?);
    for i in 0..count {
        let entry = ifd.checked_add(2 + 12 * i)?;
        if read_u16(tiff, entry, little)? == ORIENTATION_TAG {
            let kind = read_u16(tiff, entry + 2, little)?;
            let n = read_u32(tiff, entry + 4, little)?;
            let offset = entry + 8;
            return (kind == SHORT && n == 1 && offset + 2 <= tiff.len()).then_some(offset);
        }
    }
    None
}

fn read_u16(b: &[u8], at: usize, little: bool) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(if little { u16::from_le_bytes([s[0], s[1]]) } else { u16::from_be_bytes([s[0], s[1]]) })
}

fn read_u32(b: &[u8], at: usize, little: bool) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let a = [s[0], s[1], s[2], s[3]];
    Some(if little { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
}

/// A minimal TIFF block with only an orientation entry (tests here and elsewhere build inputs
/// with it).
#[cfg(test)]
pub fn tiff_with_orientation(value: u16, little: bool) -> Vec<u8> {
    let u16b = |v: u16| if little { v.to_le_bytes() } else { v.to_be_bytes() };
    let u32b = |v: u32| if little { v.to_le_bytes() } else { v.to_be_bytes() };
    let mut t = Vec::new();
    t.extend(if little { b"II" } else { b"MM" });
    t.extend(u16b(42));
    t.extend(u32b(8));
    t.extend(u16b(1)); // one entry
    t.extend(u16b(ORIENTATION_TAG));
    t.extend(u16b(SHORT));
    t.extend(u32b(1));
    t.extend(u16b(value));
    t.extend([0, 0]);
    t.extend(u32b(0)); // no next IFD
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_resets_orientation_in_both_byte_orders() {
        for little in [true, false] {
            for value in 1..=8 {
                let mut t = tiff_with_orientation(value, little);
                assert_eq!(orientation(&t), Some(value as u8));
                reset_orientation(&mut t);
                assert_eq!(orientation(&t), Some(1));
            }
            assert_eq!(orientation(&tiff_with_orientation(9, little)), None);
        }
    }

    #[test]
    fn truncated_or_garbage_reads_as_none() {
        let t = tiff_with_orientation(6, false);
        for len in 0..t.len() - 4 {
            let got = orientation(&t[..len]);
            assert!(got.is_none() || len >= 20, "length {len}: {got:?}");
        }
        assert_eq!(orientation(b"XX\0\x2a\0\0\0\x08"), None);
        let mut huge_offset = t.clone();
        huge_offset[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(orientation(&huge_offset), None);
        assert_eq!(strip_prefix(b"Exif\0\0MM"), b"MM");
    }
}
