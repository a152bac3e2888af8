//! Which format an input is (from its magic bytes) and how big its header says it is, checked
//! against the limits before any decoder runs. This is the first line of defence against
//! decompression bombs: a 1 KB PNG declaring 20000 x 20000 is refused here, in microseconds,
//! having allocated nothing. (Each decoder is also given the limits, as a second guard.)

use super::super::{ImageFormat, JobError, Limits};
use super::decode::heif::header as heif;
use super::jpeg_markers;

/// The input's format, from its first bytes.
pub fn format(input: &[u8]) -> Result<ImageFormat, JobError> {
    if input.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(ImageFormat::Jpeg)
    } else if input.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(ImageFormat::Png)
    } else if input.starts_with(b"GIF87a") || input.starts_with(b"GIF89a") {
        Ok(ImageFormat::Gif)
    } else if input.len() >= 12 && &input[..4] == b"RIFF" && &input[8..12] == b"WEBP" {
        Ok(ImageFormat::WebP)
    } else if let Some(format) = heif::format(input) {
        Ok(format)
    } else {
        Err(JobError::BadImage("not a JPEG, PNG, WebP, GIF, HEIC or AVIF image".into()))
    }
}

/// Width and height as the header declares them (before any EXIF orientation).
pub fn dimensions(input: &[u8], format: ImageFormat) -> Result<(u32, u32), JobError> {
    let (width, height) = match format {
        ImageFormat::Jpeg => jpeg_markers::frame_size(&jpeg_markers::header_segments(input)?)?,
        ImageFormat::Png => png_dimensions(input)?,
        ImageFormat::Gif => gif_dimensions(input)?,
        ImageFormat::WebP => webp_dimensions(input)?,
        // after the transforms libheif applies; grids, tiles, alpha and thumbnails checked
        ImageFormat::Heic | ImageFormat::Avif => {
            let header = heif::read(input, format)?;
            (header.width, header.height)
        }
    };
    if width == 0 || height == 0 {
        return Err(JobError::BadImage(format!("{}: header declares {width}x{height}", format.word())));
    }
    Ok((width, height))
}

/// `ImageTooLarge` when a side exceeds `max_dimension` or the area exceeds `max_pixels`.
pub fn check_limits(width: u32, height: u32, limits: &Limits) -> Result<(), JobError> {
    let too_large = |limit: String| JobError::ImageTooLarge { width: width.into(), height: height.into(), limit };
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(too_large(format!("max_dimension {}", limits.max_dimension)));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(too_large(format!("max_pixels {}", limits.max_pixels)));
    }
    Ok(())
}

/// IHDR must be the first chunk: 8-byte signature, length, "IHDR", width, height (big-endian).
fn png_dimensions(input: &[u8]) -> Result<(u32, u32), JobError> {
    let ihdr = input.get(8..24).ok_or_else(|| JobError::BadImage("png: truncated before IHDR".into()))?;
    if &ihdr[4..8] != b"IHDR" {
        return Err(JobError::BadImage("png: first chunk is not IHDR".into()));
    }
    Ok((be32(&ihdr[8..12]), be32(&ihdr[12..16])))
}

/// The logical screen size, little-endian, right after the 6-byte signature.
fn gif_dimensions(input: &[u8]) -> Result<(u32, u32), JobError> {
    let screen = input.get(6..10).ok_or_else(|| JobError::BadImage("gif: truncated header".into()))?;
    Ok((u32::from(u16::from_le_bytes([screen[0], screen[1]])), u32::from(u16::from_le_bytes([screen[2], screen[3]]))))
}

/// The first chunk after "RIFF....WEBP" is VP8 (lossy), VP8L (lossless) or VP8X (extended).
fn webp_dimensions(input: &[u8]) -> Result<(u32, u32), JobError> {
    let truncated = || JobError::BadImage("webp: truncated header".into());
    let fourcc = input.get(12..16).ok_or_else(truncated)?;
    let data = input.get(20..).ok_or_else(truncated)?;
    match fourcc {
        b"VP8 " => {
            // 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height.
            let h = data.get(..10).ok_or_else(truncated)?;
            if h[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(JobError::BadImage("webp: bad VP8 start code".into()));
            }
            let width = u32::from(u16::from_le_bytes([h[6], h[7]]) & 0x3FFF);
            let height = u32::from(u16::from_le_bytes([h[8], h[9]]) & 0x3FFF);
            Ok((width, height))
        }
        b"VP8L" => {
            // Signature 0x2f, then 14 bits width-1 and 14 bits height-1, little-endian bits.
            let h = data.get(..5).ok_or_else(truncated)?;
            if h[0] != 0x2F {
                return Err(JobError::BadImage("webp: bad VP8L signature".into()));
            }
            let bits = u32::from_le_bytes([h[1], h[2], h[3], h[4]]);
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            // Flags and reserved (4 bytes), then 24-bit canvas width-1 and height-1.
            let h = data.get(..10).ok_or_else(truncated)?;
            let width = u32::from_le_bytes([h[4], h[5], h[6], 0]) + 1;
            let height = u32::from_le_bytes([h[7], h[8], h[9], 0]) + 1;
            Ok((width, height))
        }
        _ => Err(JobError::BadImage("webp: unknown first chunk".into())),
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_magic_and_refuses_the_rest() {
        assert_eq!(format(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), ImageFormat::Jpeg);
        assert_eq!(format(b"\x89PNG\r\n\x1a\n....").unwrap(), ImageFormat::Png);
        assert_eq!(format(b"GIF89a......").unwrap(), ImageFormat::Gif);
        assert_eq!(format(b"RIFF\0\0\0\0WEBPVP8 ").unwrap(), ImageFormat::WebP);
        for junk in [&b""[..], b"BM....", b"RIFF\0\0\0\0WAVE", b"\xFF\xD8", b"%PDF-1.4"] {
            assert!(matches!(format(junk), Err(JobError::BadImage(_))), "{junk:?}");
        }
    }

    #[test]
    fn limits_refuse_long_sides_and_large_areas() {
        let limits = Limits { max_pixels: 1_000_000, max_dimension: 2000 };
        assert!(check_limits(2000, 500, &limits).is_ok());
        assert!(matches!(check_limits(2001, 10, &limits), Err(JobError::ImageTooLarge { width: 2001, .. })));
        assert!(matches!(check_limits(10, 2001, &limits), Err(JobError::ImageTooLarge { .. })));
        assert!(matches!(check_limits(1001, 1000, &limits), Err(JobError::ImageTooLarge { .. })));
    }

    #[test]
    fn reads_webp_sizes_from_each_first_chunk() {
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
        vp8x.extend([0x10, 0, 0, 0, 0x1F, 0x4E, 0x00, 0x0F, 0x27, 0x00]); // 20000 x 10000
        assert_eq!(dimensions(&vp8x, ImageFormat::WebP).unwrap(), (20000, 10000));
        let mut vp8l = b"RIFF\0\0\0\0WEBPVP8L\x05\0\0\0".to_vec();
        let bits: u32 = (640 - 1) | ((480 - 1) << 14);
        vp8l.push(0x2F);
        vp8l.extend(bits.to_le_bytes());
        assert_eq!(dimensions(&vp8l, ImageFormat::WebP).unwrap(), (640, 480));
    }
}
