//! `probe` (SPEC.md 5.8): what an image is, from its header alone, and the memory the daemon
//! would reserve to make a thumbnail of it. Built on the header path a resize's admission takes
//! ([`resize::header::read`], then [`resize::estimate_memory`]), so a probe refuses exactly the
//! inputs a resize would refuse before decoding, with the same errors, and a format the
//! pipeline learns to open is probed with it.
//!
//! No pixel is decoded and nothing is allocated in proportion to the image: the server answers
//! it without a worker (SPEC.md 5.8).

use super::resize::{self, header};
use super::{ImageFormat, JobError, Limits, Mode, ResizeParams};

/// What `probe` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeInfo {
    /// The sniffed format.
    pub format: ImageFormat,
    /// Width after EXIF orientation (a 90° orientation swaps the stored sides).
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
    /// The EXIF orientation, 1 to 8; 1 when absent or unreadable.
    pub orientation: u8,
    /// The header declares alpha or transparency.
    pub alpha: bool,
    /// An ICC profile is embedded (and readable).
    pub icc: bool,
    /// Progressive JPEG, interlaced PNG or GIF.
    pub progressive: bool,
    /// Frames in the file (a resize reads the first).
    pub frames: u64,
    /// What a `resize` of it into the box would reserve from the memory budget (SPEC.md 6.1).
    pub memory: u64,
}

/// The thumbnail box a probe's `memory` is the estimate for: a `fit` into `width x height`
/// (0 leaves a side unconstrained), the other `resize` fields at their defaults. `None`, or
/// both sides 0, is the input's own upright size.
pub type ProbeBox = Option<(u32, u32)>;

/// Reads `input`'s header. Errors are those a `resize` of it would meet before decoding:
/// `BadImage`, `ImageTooLarge`, and `InvalidArgument` for a box side over `max_dimension`.
pub fn probe(input: &[u8], thumbnail: ProbeBox, limits: &Limits) -> Result<ProbeInfo, JobError> {
    // The box first, before any image byte, as a resize checks its own.
    if let Some((w, h)) = thumbnail {
        if w > limits.max_dimension || h > limits.max_dimension {
            return Err(JobError::InvalidArgument(format!(
                "box {w}x{h}: each side must be at most max_dimension {}",
                limits.max_dimension
            )));
        }
    }
    let head = header::read(input, limits)?;
    let (width, height) = if matches!(head.orientation, 5..=8) {
        (head.stored_height, head.stored_width)
    } else {
        (head.stored_width, head.stored_height)
    };
    let (box_w, box_h) = match thumbnail {
        Some((0, 0)) | None => (width, height),
        Some(sides) => sides,
    };
    let params = ResizeParams { width: box_w, height: box_h, mode: Mode::Fit, ..ResizeParams::default() };
    let memory = resize::estimate_memory(input, &params, limits)?;
    Ok(ProbeInfo {
        format: head.format,
        width,
        height,
        orientation: head.orientation,
        alpha: head.alpha,
        icc: head.icc,
        progressive: head.progressive,
        frames: head.frames,
        memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_the_resize_ones() {
        let limits = Limits::default();
        assert!(matches!(probe(b"hello, world", None, &limits), Err(JobError::BadImage(_))));
        assert!(matches!(probe(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], None, &limits), Err(JobError::BadImage(_))));
        let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bomb.extend_from_slice(&20_000u32.to_be_bytes());
        bomb.extend_from_slice(&20_000u32.to_be_bytes());
        bomb.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(probe(&bomb, None, &limits), Err(JobError::ImageTooLarge { .. })));
    }
}
