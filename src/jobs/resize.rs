//! Decode, orient, convert to sRGB, resize, encode. (Interface fixed; body to be written.)

use super::{ImageFormat, JobControl, JobError, Limits, OutputFormat, ResizeParams};

/// A finished thumbnail.
#[derive(Clone, Debug)]
pub struct ResizeOutput {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: OutputFormat,
    /// Input size after orientation.
    pub source_width: u32,
    pub source_height: u32,
    pub source_format: ImageFormat,
}

/// Runs the whole pipeline on `input`. Validates `params` (box, quality) and `limits` first.
pub fn resize(input: &[u8], params: &ResizeParams, limits: &Limits, ctl: &JobControl) -> Result<ResizeOutput, JobError> {
    let _ = (input, params, limits, ctl);
    Err(JobError::Internal("resize not yet implemented".into()))
}
