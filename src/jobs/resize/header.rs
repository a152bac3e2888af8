//! What an input's header says, for `probe` (SPEC.md 5.8), read by the same path a resize's
//! admission and decode take (sniff the format, read the declared size, check it against the
//! limits, [`decode::open`] for the metadata), so that every format the pipeline opens is probed
//! the same way; plus a few facts read from the header bytes that no stage of the resize needs
//! as such: whether alpha is declared, whether the file is progressive or interlaced, and how
//! many frames it holds. No pixel is decoded.
//!
//! A format with no reader of those facts here reports no alpha, not progressive and one frame
//! (its size, orientation and profile still come from the shared path).

use super::super::{ImageFormat, JobError, Limits};
use super::{decode, estimate, jpeg_markers, sniff};

/// The header of an input, as `probe` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The sniffed format.
    pub format: ImageFormat,
    /// The stored size, before EXIF orientation.
    pub stored_width: u32,
    pub stored_height: u32,
    /// The EXIF orientation, 1 to 8 (1 when absent or unreadable), as the resize reads it.
    pub orientation: u8,
    /// An ICC profile the resize would read (JPEG: its chunks reassemble).
    pub icc: bool,
    /// The header declares alpha or transparency (the pixels may still all be opaque).
    pub alpha: bool,
    /// A progressive JPEG, an interlaced PNG, a GIF whose first frame is interlaced.
    pub progressive: bool,
    /// Frames in the file (the resize reads the first).
    pub frames: u64,
}

/// Reads `input`'s header: `BadImage` when it is no supported image or its header is broken,
/// `ImageTooLarge` over `limits`, exactly as a resize of it would be refused before decoding.
pub fn read(input: &[u8], limits: &Limits) -> Result<Header, JobError> {
    let format = sniff::format(input)?;
    let (stored_width, stored_height) = sniff::dimensions(input, format)?;
    sniff::check_limits(stored_width, stored_height, limits)?;
    let source = decode::open(input, format, (stored_width, stored_height), limits, false)?;
    let facts = facts(input, format)?;
    Ok(Header {
        format,
        stored_width,
        stored_height,
        orientation: source.meta.orientation(),
        icc: source.meta.icc.is_some(),
        alpha: facts.alpha,
        progressive: facts.progressive,
        frames: facts.frames,
    })
}

/// The facts of [`Header`] that come from the bytes rather than the decoder.
struct Facts {
    alpha: bool,
    progressive: bool,
    frames: u64,
}

impl Default for Facts {
    fn default() -> Self {
        Facts { alpha: false, progressive: false, frames: 1 }
    }
}

fn facts(input: &[u8], format: ImageFormat) -> Result<Facts, JobError> {
    Ok(match format {
        ImageFormat::Jpeg => jpeg(input)?,
        ImageFormat::Png => png(input),
        ImageFormat::Gif => gif(input),
        ImageFormat::WebP => webp(input),
        // The box walk that admission already ran: an alpha auxiliary image; one still picture
        // (image sequences are not read), never progressive.
        ImageFormat::Heic | ImageFormat::Avif => Facts { alpha: decode::heif::header::read(input, format)?.alpha, ..Facts::default() },
    })
}

/// Progressive from the frame marker (SOF2, SOF6, SOF10, SOF14); JPEG has no alpha.
fn jpeg(input: &[u8]) -> Result<Facts, JobError> {
    let segments = jpeg_markers::header_segments(input)?;
    let progressive = segments
        .iter()
        .find(|s| matches!(s.marker, 0xC0..=0xCF) && !matches!(s.marker, 0xC4 | 0xC8 | 0xCC))
        .is_some_and(|sof| matches!(sof.marker, 0xC2 | 0xC6 | 0xCA | 0xCE));
    Ok(Facts { progressive, ..Facts::default() })
}

/// IHDR's colour type (offset 25: 4 and 6 carry alpha) and interlace method (offset 28), a
/// `tRNS` chunk before the first `IDAT` (where the decoder reads it), and an APNG's `acTL`
/// frame count, taken as declared.
fn png(input: &[u8]) -> Facts {
    let colour = input.get(25).copied().unwrap_or(0);
    let progressive = input.get(28) == Some(&1);
    let alpha = matches!(colour, 4 | 6) || estimate::has_trns(input);
    let frames = png_actl_frames(input).filter(|&n| n > 0).unwrap_or(1);
    Facts { alpha, progressive, frames }
}

/// `num_frames` of an `acTL` chunk before the first `IDAT`, if there is one.
fn png_actl_frames(input: &[u8]) -> Option<u64> {
    let mut at = 8usize;
    while let Some(header) = input.get(at..at.checked_add(8)?) {
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"acTL" => {
                let n = input.get(at + 8..at + 12)?;
                return Some(u64::from(u32::from_be_bytes([n[0], n[1], n[2], n[3]])));
            }
            b"IDAT" | b"IEND" => return None,
            _ => at = at.checked_add(length)?.checked_add(12)?,
        }
    }
    None
}

/// The first chunk: `VP8 ` (lossy, no alpha), `VP8L` (its header's alpha bit, bit 28 of the
/// four bytes after the signature), `VP8X` (flags: alpha 0x10, animation 0x02; an animation's
/// frames are its `ANMF` chunks, counted by walking the chunk headers).
fn webp(input: &[u8]) -> Facts {
    let data = input.get(20..).unwrap_or(&[]);
    match input.get(12..16) {
        Some(b"VP8L") => {
            let alpha = data.get(1..5).is_some_and(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & (1 << 28) != 0);
            Facts { alpha, ..Facts::default() }
        }
        Some(b"VP8X") => {
            let flags = data.first().copied().unwrap_or(0);
            let frames = if flags & 0x02 != 0 { webp_frames(input).max(1) } else { 1 };
            Facts { alpha: flags & 0x10 != 0, progressive: false, frames }
        }
        _ => Facts::default(),
    }
}

/// `ANMF` chunks among the RIFF chunks after the `WEBP` tag (sizes little-endian, data padded
/// to an even length); the walk stops at the first chunk that runs past the end.
fn webp_frames(input: &[u8]) -> u64 {
    let mut frames = 0;
    let mut at = 12usize;
    while let Some(header) = input.get(at..at.saturating_add(8)) {
        let length = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"ANMF" {
            frames += 1;
        }
        let Some(next) = at.checked_add(8).and_then(|n| n.checked_add(length + (length & 1))) else { break };
        at = next;
    }
    frames
}

/// Walks a GIF's blocks without decompressing any: image descriptors are counted, extensions
/// and image data skipped sub-block by sub-block. The first frame's descriptor gives
/// interlacing, the graphic control extension before it transparency (which the decoder turns
/// into alpha). The walk stops at the trailer or at the first block it cannot read, so a file
/// whose later frames are damaged reports the frames before the damage.
fn gif(input: &[u8]) -> Facts {
    let mut facts = Facts { frames: 0, ..Facts::default() };
    let mut transparent = false;
    let Some(&screen) = input.get(10) else { return Facts::default() };
    let mut at = 13 + colour_table_len(screen);
    loop {
        match input.get(at) {
            Some(0x21) => {
                let Some(&label) = input.get(at + 1) else { break };
                if label == 0xF9 {
                    // Block size 4, then packed fields whose bit 0 is the transparency flag.
                    transparent = input.get(at + 3).is_some_and(|packed| packed & 1 != 0);
                }
                let Some(next) = skip_sub_blocks(input, at + 2) else { break };
                at = next;
            }
            Some(0x2C) => {
                let Some(&packed) = input.get(at + 9) else { break };
                if facts.frames == 0 {
                    facts.progressive = packed & 0x40 != 0;
                    facts.alpha = transparent;
                }
                facts.frames += 1;
                // Descriptor (10 bytes), local colour table, LZW minimum code size, data.
                let data = at + 10 + colour_table_len(packed) + 1;
                let Some(next) = skip_sub_blocks(input, data) else { break };
                at = next;
            }
            _ => break, // the trailer (0x3B), or bytes that are no block
        }
    }
    facts.frames = facts.frames.max(1);
    facts
}

/// Bytes of the colour table a GIF packed field declares (flag 0x80, size 2^(n+1) entries).
fn colour_table_len(packed: u8) -> usize {
    if packed & 0x80 == 0 {
        0
    } else {
        3 << ((packed & 7) + 1)
    }
}

/// The offset after the sub-blocks starting at `at` (each a length byte and that many bytes,
/// ended by a zero length), or `None` when they run past the end.
fn skip_sub_blocks(input: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let length = usize::from(*input.get(at)?);
        at += 1;
        if length == 0 {
            return Some(at);
        }
        at += length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GIF of `frames` 1x1 frames, the first interlaced and transparent when asked.
    fn gif_file(frames: usize, interlaced: bool, transparent: bool) -> Vec<u8> {
        let mut out = b"GIF89a\x01\x00\x01\x00\x80\x00\x00".to_vec();
        out.extend_from_slice(&[0, 0, 0, 255, 255, 255]); // global colour table of 2
        for n in 0..frames {
            let flags = if n == 0 && transparent { 1 } else { 0 };
            out.extend_from_slice(&[0x21, 0xF9, 4, flags, 0, 0, 0, 0]);
            out.extend_from_slice(&[0x21, 0xFE, 3, b'h', b'i', b'!', 0]); // a comment
            let packed = if n == 0 && interlaced { 0x40 } else { 0 };
            out.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, packed, 2, 2, 0x44, 0x01, 0]);
        }
        out.push(0x3B);
        out
    }

    #[test]
    fn gif_frames_are_counted_without_decoding() {
        let one = gif(&gif_file(1, false, false));
        assert_eq!((one.frames, one.alpha, one.progressive), (1, false, false));
        let many = gif(&gif_file(5, true, true));
        assert_eq!((many.frames, many.alpha, many.progressive), (5, true, true));
        // Damage inside the fourth frame's data: the walk reports the frames it reached.
        let mut cut = gif_file(5, false, false);
        cut.truncate(13 + 6 + 3 * 30 + 15 + 12);
        assert_eq!(gif(&cut).frames, 4);
        let file = gif_file(2, false, false);
        assert_eq!(read(&file, &Limits::default()).unwrap().frames, 2);
    }

    #[test]
    fn webp_flags_and_frames() {
        let riff = |fourcc: &[u8], payload: &[u8], rest: &[u8]| {
            let mut out = b"RIFF\0\0\0\0WEBP".to_vec();
            out.extend_from_slice(fourcc);
            out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            out.extend_from_slice(payload);
            out.extend_from_slice(rest);
            out
        };
        let anmf = |n: u8| {
            let mut c = b"ANMF".to_vec();
            c.extend_from_slice(&3u32.to_le_bytes());
            c.extend_from_slice(&[n, n, n, 0]); // odd length: one pad byte
            c
        };
        let frames: Vec<u8> = (0..3).flat_map(anmf).collect();
        let animated = webp(&riff(b"VP8X", &[0x12, 0, 0, 0, 9, 0, 0, 9, 0, 0], &frames));
        assert_eq!((animated.alpha, animated.frames), (true, 3));
        let still = webp(&riff(b"VP8X", &[0x00, 0, 0, 0, 9, 0, 0, 9, 0, 0], &frames));
        assert_eq!((still.alpha, still.frames), (false, 1));
        let lossless = webp(&riff(b"VP8L", &[0x2F, 0, 0, 0, 0x10], &[]));
        assert!(lossless.alpha);
        let opaque = webp(&riff(b"VP8L", &[0x2F, 0, 0, 0, 0x00], &[]));
        assert!(!opaque.alpha);
    }

    #[test]
    fn png_alpha_interlace_and_apng_frames() {
        let chunk = |kind: &[u8; 4], data: &[u8]| {
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&[0; 4]);
            out
        };
        let file = |colour: u8, interlace: u8, chunks: &[Vec<u8>]| {
            let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
            out.extend(chunk(b"IHDR", &[0, 0, 0, 4, 0, 0, 0, 4, 8, colour, 0, 0, interlace]));
            for c in chunks {
                out.extend_from_slice(c);
            }
            out
        };
        let idat = chunk(b"IDAT", &[0; 4]);
        let rgb = png(&file(2, 0, &[idat.clone()]));
        assert_eq!((rgb.alpha, rgb.progressive, rgb.frames), (false, false, 1));
        let rgba = png(&file(6, 1, &[idat.clone()]));
        assert_eq!((rgba.alpha, rgba.progressive), (true, true));
        let trns = png(&file(2, 0, &[chunk(b"tRNS", &[0; 6]), idat.clone()]));
        assert!(trns.alpha);
        let apng = png(&file(2, 0, &[chunk(b"acTL", &[0, 0, 0, 12, 0, 0, 0, 0]), idat]));
        assert_eq!(apng.frames, 12);
    }
}
