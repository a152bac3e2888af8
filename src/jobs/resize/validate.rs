//! Checks the parameters' numbers before a single byte of the image is looked at, so a bad box
//! or quality costs nothing (SPEC.md 5.3: box sides, mode, quality). [`resize`] calls [`params`]
//! first; the wire decoder has already refused a quality outside `1..=100`, this checks again for
//! callers that build [`ResizeParams`] themselves (benches, tests).
//!
//! [`resize`]: crate::jobs::resize::resize

use super::super::{JobError, Limits, Mode, ResizeParams};

impl ResizeParams {
    /// Checks the numbers against SPEC.md 5.3 and `limits`: the box suits the mode, each side
    /// is within `max_dimension`, a fill or exact box is within `max_pixels`, the quality is
    /// `1..=100`. [`resize`](crate::jobs::resize::resize) does this first, so a caller needs it
    /// only to check parameters without running a job.
    pub fn validate(&self, limits: &Limits) -> Result<(), JobError> {
        params(self, limits)
    }
}

/// `Ok` when the box suits the mode, each side is within `max_dimension`, the box area of a
/// `fill` or `exact` request is within `max_pixels`, and the quality is `1..=100`.
pub fn params(params: &ResizeParams, limits: &Limits) -> Result<(), JobError> {
    let (width, height) = (params.width, params.height);
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(JobError::InvalidArgument(format!(
            "box {width}x{height}: each side must be at most max_dimension {}",
            limits.max_dimension
        )));
    }
    match params.mode {
        Mode::Fit if width == 0 && height == 0 => {
            return Err(JobError::InvalidArgument("fit needs a non-zero width or height".into()));
        }
        Mode::Fill | Mode::Exact if width == 0 || height == 0 => {
            return Err(JobError::InvalidArgument(format!(
                "{} needs both width and height, got {width}x{height}",
                params.mode.word()
            )));
        }
        _ => {}
    }
    // The output of fill and exact is the box itself: refuse one larger than any input may be,
    // before anything is allocated. (fit is checked once the input's size is known.)
    if params.mode != Mode::Fit {
        output_size(width, height, limits)?;
    }
    if !(1..=100).contains(&params.quality) {
        return Err(JobError::InvalidArgument(format!("quality {} is outside 1..=100", params.quality)));
    }
    Ok(())
}

/// Refuses an output larger than the daemon would accept as input (a side over
/// `max_dimension`, an area over `max_pixels`): enlarging is allowed, but not into a bomb.
pub fn output_size(width: u32, height: u32, limits: &Limits) -> Result<(), JobError> {
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(JobError::InvalidArgument(format!(
            "output {width}x{height} has a side over max_dimension {}",
            limits.max_dimension
        )));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(JobError::InvalidArgument(format!(
            "output {width}x{height} exceeds max_pixels {}",
            limits.max_pixels
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(width: u32, height: u32, mode: Mode, quality: u8) -> ResizeParams {
        ResizeParams { width, height, mode, quality, ..ResizeParams::default() }
    }

    fn invalid(p: &ResizeParams) -> bool {
        matches!(params(p, &Limits::default()), Err(JobError::InvalidArgument(_)))
    }

    #[test]
    fn fit_needs_one_side_fill_and_exact_need_both() {
        assert!(invalid(&with(0, 0, Mode::Fit, 80)));
        assert!(!invalid(&with(400, 0, Mode::Fit, 80)));
        assert!(!invalid(&with(0, 400, Mode::Fit, 80)));
        for mode in [Mode::Fill, Mode::Exact] {
            assert!(invalid(&with(400, 0, mode, 80)));
            assert!(invalid(&with(0, 400, mode, 80)));
            assert!(!invalid(&with(400, 300, mode, 80)));
        }
    }

    #[test]
    fn sides_quality_and_area_are_bounded() {
        let max = Limits::default().max_dimension;
        assert!(!invalid(&with(max, 1, Mode::Exact, 80)));
        assert!(invalid(&with(max + 1, 1, Mode::Fit, 80)));
        assert!(invalid(&with(1, max + 1, Mode::Fit, 80)));
        assert!(invalid(&with(100, 100, Mode::Fit, 0)));
        assert!(invalid(&with(100, 100, Mode::Fit, 101)));
        assert!(!invalid(&with(100, 100, Mode::Fit, 1)));
        assert!(!invalid(&with(100, 100, Mode::Fit, 100)));
        // 32768 x 32768 is a billion pixels: over the default max_pixels.
        assert!(invalid(&with(max, max, Mode::Exact, 80)));
    }
}
