//! Job parameters: what a resize needs besides its input, and the input limits. The word
//! enums they use live in [`crate::vocabulary`]; the server builds a [`ResizeParams`] from a
//! decoded wire request (`server::dispatch`), and [`crate::jobs::resize::resize`] validates the
//! numbers ([`ResizeParams::validate`]) before reading any image byte.

use crate::vocabulary::{Anchor, Filter, Mode, OutputFormat};

/// Everything a resize needs besides the input bytes. Built by the server from a request after
/// the words have been parsed; [`ResizeParams::validate`] checks the numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResizeParams {
    pub width: u32,
    pub height: u32,
    pub mode: Mode,
    pub anchor: Anchor,
    pub filter: Filter,
    pub format: OutputFormat,
    /// 1..=100.
    pub quality: u8,
    pub auto_orient: bool,
    pub keep_icc: bool,
    pub keep_metadata: bool,
    /// Trade quality for speed in shrink-on-load (a JPEG decoded at 1/8 with a smaller margin
    /// over the output; SPEC.md 5.3).
    pub fast: bool,
    /// Whether the output may be larger than the input on either axis (SPEC.md 5.3, `enlarge`):
    /// `false` keeps `fit` at the input's size, shrinks `fill`'s box to the largest of its
    /// aspect the input holds, and caps each of `exact`'s sides at the input's.
    pub enlarge: bool,
}

impl Default for ResizeParams {
    fn default() -> Self {
        Self {
            width: 0,
            height: 0,
            mode: Mode::Fit,
            anchor: Anchor::Center,
            filter: Filter::Lanczos3,
            format: OutputFormat::Jpeg,
            quality: 80,
            auto_orient: true,
            keep_icc: false,
            keep_metadata: false,
            fast: false,
            enlarge: true,
        }
    }
}

/// Input limits, checked from the image header before any pixel buffer is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width x height of an input image.
    pub max_pixels: u64,
    /// Largest input width or height, and largest requested box side.
    pub max_dimension: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_pixels: 100_000_000, max_dimension: 32768 }
    }
}
