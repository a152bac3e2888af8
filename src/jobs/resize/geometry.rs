//! Output size and source region, exactly as SPEC.md 5.3 (Geometry) defines them, plus the
//! choice of decode scale (shrink-on-load: JPEG's DCT scale, PNG's box).
//!
//! Sizes are computed in integers (products of u32 in u64), never from a floating-point scale,
//! so "round half up" and "never exceeds the box" hold exactly: 640x427 into 400x400 is
//! 400x267 (266.875 rounds up), not an accident of `0.625 * 427`.

use super::super::{Anchor, Filter, ImageFormat, JobError, Limits, Mode, ResizeParams};
use super::validate;

/// A rectangle of the source picture in pixel units; may be fractional (`fill` crops a
/// `W/s x H/s` region, which is rarely whole pixels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// What to resize into what: the region of the upright source, and the output size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    pub region: Region,
    pub width: u32,
    pub height: u32,
}

/// The plan for an upright source of `w x h` (both non-zero). Params are already validated.
pub fn plan(w: u32, h: u32, params: &ResizeParams, limits: &Limits) -> Result<Plan, JobError> {
    let whole = Region { x: 0.0, y: 0.0, width: w.into(), height: h.into() };
    let (bw, bh) = (u64::from(params.width), u64::from(params.height));
    let (w64, h64) = (u64::from(w), u64::from(h));
    let plan = match params.mode {
        Mode::Fit => {
            // s = min(W/w, H/h) over the non-zero sides; the constraining side is exact and
            // the other is round(side * s), round half up, at least 1.
            let width_constrains = bh == 0 || (bw != 0 && bw * h64 <= bh * w64);
            // s > 1 exactly when the constraining box side is longer than the input's: without
            // `enlarge` the scale is then 1, the input's own size (libvips' `size=down`).
            let enlarges = if width_constrains { bw > w64 } else { bh > h64 };
            let (width, height) = if enlarges && !params.enlarge {
                (w64, h64)
            } else if width_constrains {
                (bw, round_ratio(h64 * bw, w64))
            } else {
                (round_ratio(w64 * bh, h64), bh)
            };
            let (width, height) = (width.max(1) as u32, height.max(1) as u32);
            validate::output_size(width, height, limits)?;
            Plan { region: whole, width, height }
        }
        Mode::Fill => {
            // s = max(W/w, H/h): one side of the region is the whole source side, the other
            // is box_side / s, placed by the anchor.
            let (rw, rh) = if bw * h64 >= bh * w64 {
                (f64::from(w), (bh as f64) * (w as f64) / (bw as f64))
            } else {
                ((bw as f64) * (h as f64) / (bh as f64), f64::from(h))
            };
            let (ax, ay) = anchor_fractions(params.anchor);
            let region = Region { x: (f64::from(w) - rw) * ax, y: (f64::from(h) - rh) * ay, width: rw, height: rh };
            let (width, height) = if params.enlarge { (params.width, params.height) } else { fill_down(w64, h64, bw, bh) };
            Plan { region, width, height }
        }
        Mode::Exact if !params.enlarge => Plan { region: whole, width: params.width.min(w), height: params.height.min(h) },
        Mode::Exact => Plan { region: whole, width: params.width, height: params.height },
    };
    Ok(plan)
}

/// `fill`'s output size without `enlarge`: the box itself when the input covers it (`s <= 1`),
/// else the largest size of the box's aspect that the input holds, which is the crop region
/// itself (`W/s x H/s`, rounded half up, at least 1), so the kept pixels are not scaled up and
/// the thumbnail keeps the shape asked for (a square avatar stays square). imgproxy calls this
/// `fill-down`; libvips' `size=down` would instead crop the box out of an unscaled input, whose
/// output then changes shape with the input.
fn fill_down(w: u64, h: u64, bw: u64, bh: u64) -> (u32, u32) {
    if bw <= w && bh <= h {
        return (bw as u32, bh as u32);
    }
    // t = 1/s = min(w/W, h/H): the axis that constrains keeps the input's whole side.
    let (width, height) = if w * bh <= h * bw { (w, round_ratio(bh * w, bw)) } else { (round_ratio(bw * h, bh), h) };
    (width.max(1) as u32, height.max(1) as u32)
}

/// `round(num / den)`, halves rounded up.
fn round_ratio(num: u64, den: u64) -> u64 {
    (2 * num + den) / (2 * den)
}

/// Where the kept region sits along each axis: 0 = start, 0.5 = middle, 1 = end.
fn anchor_fractions(anchor: Anchor) -> (f64, f64) {
    match anchor {
        Anchor::Center => (0.5, 0.5),
        Anchor::Top => (0.5, 0.0),
        Anchor::Bottom => (0.5, 1.0),
        Anchor::Left => (0.0, 0.5),
        Anchor::Right => (1.0, 0.5),
        Anchor::TopLeft => (0.0, 0.0),
        Anchor::TopRight => (1.0, 0.0),
        Anchor::BottomLeft => (0.0, 1.0),
        Anchor::BottomRight => (1.0, 1.0),
    }
}

/// How much larger than the output a DCT-scaled (or box-shrunk) decode stays on both axes, so
/// the resampler still has detail to filter (DCT scaling is close to a box filter, which lets
/// fine detail alias): twice, as libvips' `thumbnail` keeps (its `find_jpegshrink` takes 1/8
/// from a shrink of 16, 1/4 from 8, 1/2 from 4). The quality contract of SPEC.md 5.3 (no
/// thumbnail more than 0.5 dB below libvips') rests on it: with the same decode scale and a
/// Lanczos3 reduction after it, the output is libvips' to within the resamplers' differences.
pub const SHRINK_ON_LOAD_MARGIN: f64 = 2.0;

/// The margin for 1/8 in fast mode (`fast` in the request; it was every request's before issue
/// 20): 1/8 is cheaper in kind, since libjpeg-turbo reads only each block's DC coefficient and a
/// progressive file's AC scans need not be decoded at all (`decode::jpeg::scan_pruning`), so a
/// 12-16 MP photo decodes in a third to a fifth of its 1/4 time. The price is an 8x8 block
/// average in place of a Lanczos reduction of the 1/4 image, which on fine detail (text,
/// stripes, fabric) aliases: 1.7 to 7.3 dB below libvips against a full decode, and a text page
/// at 28 dB against 35.6 (issue 20).
pub const FAST_DC_ONLY_MARGIN: f64 = 1.25;

/// The JPEG decode scale, in eighths (1, 2, 4 or 8): the smallest of 1/8, 1/4 and 1/2 that
/// keeps [`SHRINK_ON_LOAD_MARGIN`] on both axes, else full size; in `fast` mode 1/8 already
/// from [`FAST_DC_ONLY_MARGIN`].
///
/// The odd eighths are never used: libjpeg-turbo has SIMD inverse DCTs only for 1/8, 1/4, 1/2
/// and 1. Measured on a 12 MP JPEG (`cargo bench --bench kernels -- decode`), 3/8 decoded slower
/// than 1/2 (23.4 against 22.1 ms), which the smaller resample after it does not repay.
pub fn jpeg_scale_eighths(region: Region, out_width: u32, out_height: u32, fast: bool) -> u32 {
    let ratio = (f64::from(out_width) / region.width).max(f64::from(out_height) / region.height);
    if fast && 1.0 / 8.0 >= FAST_DC_ONLY_MARGIN * ratio {
        return 1;
    }
    [1u32, 2, 4].into_iter().find(|&eighths| f64::from(eighths) / 8.0 >= SHRINK_ON_LOAD_MARGIN * ratio).unwrap_or(8)
}

/// The PNG shrink-on-load scale, in eighths (1, 2, 4 or 8): the smallest of 1/8, 1/4 and 1/2
/// that keeps [`SHRINK_ON_LOAD_MARGIN`] on both axes, else full size. The decoder averages
/// blocks of pixels as rows arrive (`decode::box_shrink`), as libvips' `resize` shrinks by an
/// integer box before its Lanczos reduction (with the same gap of 2). `nearest` is promised
/// original pixels for every input but a JPEG, so it always decodes at full size.
pub fn box_scale_eighths(region: Region, out_width: u32, out_height: u32, filter: Filter) -> u32 {
    if filter == Filter::Nearest {
        return 8;
    }
    let ratio = (f64::from(out_width) / region.width).max(f64::from(out_height) / region.height);
    [1u32, 2, 4].into_iter().find(|&eighths| f64::from(eighths) / 8.0 >= SHRINK_ON_LOAD_MARGIN * ratio).unwrap_or(8)
}

/// The scale `format` is decoded at for one output, in eighths: [`jpeg_scale_eighths`] for
/// JPEG (`fast` as the request asks), [`box_scale_eighths`] for PNG, full size (8) for the rest.
pub fn decode_scale_eighths(format: ImageFormat, region: Region, out_width: u32, out_height: u32, filter: Filter, fast: bool) -> u32 {
    match format {
        ImageFormat::Jpeg => jpeg_scale_eighths(region, out_width, out_height, fast),
        ImageFormat::Png => box_scale_eighths(region, out_width, out_height, filter),
        ImageFormat::WebP | ImageFormat::Gif | ImageFormat::Heic | ImageFormat::Avif => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(width: u32, height: u32, mode: Mode, anchor: Anchor) -> ResizeParams {
        ResizeParams { width, height, mode, anchor, ..ResizeParams::default() }
    }

    fn fit(w: u32, h: u32, bw: u32, bh: u32) -> (u32, u32) {
        let unlimited = Limits { max_pixels: u64::MAX, max_dimension: u32::MAX };
        let plan = plan(w, h, &p(bw, bh, Mode::Fit, Anchor::Center), &unlimited).unwrap();
        assert_eq!(plan.region, Region { x: 0.0, y: 0.0, width: w.into(), height: h.into() });
        (plan.width, plan.height)
    }

    #[test]
    fn fit_rounds_half_up_touches_the_box_and_never_exceeds_it() {
        assert_eq!(fit(640, 427, 400, 400), (400, 267)); // 266.875
        assert_eq!(fit(427, 640, 400, 400), (267, 400));
        assert_eq!(fit(640, 427, 400, 0), (400, 267));
        assert_eq!(fit(640, 427, 0, 100), (150, 100)); // 149.88
        assert_eq!(fit(3, 1, 2, 0), (2, 1)); // 0.667 -> 1
        assert_eq!(fit(4, 1, 2, 0), (2, 1)); // 0.5 rounds up to 1
        assert_eq!(fit(5, 1, 2, 0), (2, 1)); // 0.4 -> 0 -> at least 1
        assert_eq!(fit(100, 100, 400, 300), (300, 300)); // enlarges
        assert_eq!(fit(600, 400, 300, 200), (300, 200)); // same aspect: both sides exact
        for (w, h) in [(1, 1000), (1000, 1), (333, 777), (4000, 3000), (7, 5)] {
            for (bw, bh) in [(400, 400), (1, 1), (50, 900), (1000, 0), (0, 3)] {
                let (ow, oh) = fit(w, h, bw, bh);
                assert!(ow >= 1 && oh >= 1);
                assert!(bw == 0 || ow <= bw, "{w}x{h} in {bw}x{bh} gave {ow}x{oh}");
                assert!(bh == 0 || oh <= bh, "{w}x{h} in {bw}x{bh} gave {ow}x{oh}");
                assert!(ow == bw || oh == bh, "{w}x{h} in {bw}x{bh} gave {ow}x{oh}: touches neither side");
            }
        }
    }

    #[test]
    fn fill_crops_the_box_aspect_at_the_anchor() {
        let limits = Limits::default();
        let plan_at = |anchor| plan(600, 400, &p(200, 200, Mode::Fill, anchor), &limits).unwrap();
        let center = plan_at(Anchor::Center);
        assert_eq!((center.width, center.height), (200, 200));
        assert_eq!(center.region, Region { x: 100.0, y: 0.0, width: 400.0, height: 400.0 });
        assert_eq!(plan_at(Anchor::Left).region.x, 0.0);
        assert_eq!(plan_at(Anchor::TopLeft).region.x, 0.0);
        assert_eq!(plan_at(Anchor::Right).region.x, 200.0);
        assert_eq!(plan_at(Anchor::BottomRight).region.x, 200.0);
        // A wide box over a tall crop: the full width survives, the height is cut.
        let wide = plan(600, 400, &p(300, 100, Mode::Fill, Anchor::Bottom), &limits).unwrap();
        assert_eq!(wide.region, Region { x: 0.0, y: 200.0, width: 600.0, height: 200.0 });
        let top = plan(600, 400, &p(300, 100, Mode::Fill, Anchor::Top), &limits).unwrap();
        assert_eq!(top.region.y, 0.0);
        // Fractional regions are kept fractional: 640x427 to 100x100 keeps 427x427 at x=106.5.
        let frac = plan(640, 427, &p(100, 100, Mode::Fill, Anchor::Center), &limits).unwrap();
        assert_eq!(frac.region, Region { x: 106.5, y: 0.0, width: 427.0, height: 427.0 });
    }

    #[test]
    fn exact_is_the_box_over_the_whole_source() {
        let plan = plan(640, 427, &p(100, 300, Mode::Exact, Anchor::Center), &Limits::default()).unwrap();
        assert_eq!((plan.width, plan.height), (100, 300));
        assert_eq!(plan.region, Region { x: 0.0, y: 0.0, width: 640.0, height: 427.0 });
    }

    #[test]
    fn without_enlarge_no_output_is_larger_than_its_input() {
        let limits = Limits::default();
        let down = |w: u32, h: u32, bw: u32, bh: u32, mode: Mode, anchor: Anchor| {
            plan(w, h, &ResizeParams { enlarge: false, ..p(bw, bh, mode, anchor) }, &limits).unwrap()
        };
        let size = |plan: Plan| (plan.width, plan.height);
        // fit: the 640x427 into a 1200 box stays 640x427; a shrinking fit is unchanged.
        assert_eq!(size(down(640, 427, 1200, 1200, Mode::Fit, Anchor::Center)), (640, 427));
        assert_eq!(size(down(640, 427, 0, 500, Mode::Fit, Anchor::Center)), (640, 427));
        assert_eq!(size(down(640, 427, 640, 0, Mode::Fit, Anchor::Center)), (640, 427)); // s = 1
        assert_eq!(size(down(640, 427, 400, 400, Mode::Fit, Anchor::Center)), (400, 267));
        assert_eq!(size(down(640, 427, 400, 2000, Mode::Fit, Anchor::Center)), (400, 267));
        // fill: the box when the input covers it, else the box's aspect at the input's size,
        // over the same region the enlarging fill crops.
        assert_eq!(size(down(600, 400, 200, 200, Mode::Fill, Anchor::Center)), (200, 200));
        let square = down(640, 427, 1000, 1000, Mode::Fill, Anchor::Center);
        assert_eq!(size(square), (427, 427));
        assert_eq!(square.region, Region { x: 106.5, y: 0.0, width: 427.0, height: 427.0 });
        let wide = down(600, 400, 1200, 300, Mode::Fill, Anchor::Top);
        assert_eq!((size(wide), wide.region), ((600, 150), Region { x: 0.0, y: 0.0, width: 600.0, height: 150.0 }));
        let tall = down(600, 400, 100, 800, Mode::Fill, Anchor::Right);
        assert_eq!((size(tall), tall.region.x), ((50, 400), 550.0));
        // One side over, the other under: still the box's aspect (3:1 out of 600x400 is 600x200).
        assert_eq!(size(down(600, 400, 900, 300, Mode::Fill, Anchor::Center)), (600, 200));
        // exact: each side capped at the input's.
        assert_eq!(size(down(640, 427, 1000, 100, Mode::Exact, Anchor::Center)), (640, 100));
        assert_eq!(size(down(640, 427, 300, 200, Mode::Exact, Anchor::Center)), (300, 200));
        for (w, h) in [(1, 1000), (1000, 1), (333, 777), (7, 5), (4000, 3000)] {
            for (bw, bh) in [(400, 400), (1, 1), (50, 900), (5000, 5000), (9000, 3)] {
                for mode in [Mode::Fit, Mode::Fill, Mode::Exact] {
                    let got = down(w, h, bw, bh, mode, Anchor::Center);
                    assert!(got.width <= w && got.height <= h, "{mode:?} {w}x{h} in {bw}x{bh}: {got:?}");
                    assert!(got.width >= 1 && got.height >= 1);
                    let enlarging = plan(w, h, &p(bw, bh, mode, Anchor::Center), &Limits { max_pixels: u64::MAX, max_dimension: u32::MAX }).unwrap();
                    if enlarging.width <= w && enlarging.height <= h {
                        assert_eq!(size(got), size(enlarging), "{mode:?} {w}x{h} in {bw}x{bh}: no enlargement, no change");
                    }
                }
            }
        }
    }

    #[test]
    fn fit_that_would_enlarge_past_max_pixels_is_refused() {
        let limits = Limits { max_pixels: 1_000_000, max_dimension: 32768 };
        let got = plan(1, 1, &p(30000, 30000, Mode::Fit, Anchor::Center), &limits);
        assert!(matches!(got, Err(JobError::InvalidArgument(_))), "{got:?}");
    }

    #[test]
    fn jpeg_scale_keeps_its_margins() {
        let whole = |w: u32, h: u32| Region { x: 0.0, y: 0.0, width: w.into(), height: h.into() };
        let both = |region, w, h| (jpeg_scale_eighths(region, w, h, false), jpeg_scale_eighths(region, w, h, true));
        assert_eq!(both(whole(8000, 6000), 400, 300), (1, 1)); // 1000 >= 2*400
        assert_eq!(both(whole(6400, 4800), 400, 300), (1, 1)); // 800 = 2*400
        assert_eq!(both(whole(6392, 4794), 400, 300), (2, 1)); // 799 < 800; fast: 799 >= 1.25*400
        assert_eq!(both(whole(4272, 2848), 400, 267), (2, 1)); // 534 >= 500 (sunset.jpg)
        assert_eq!(both(whole(4032, 3024), 400, 300), (2, 1)); // a 12 MP phone photo
        assert_eq!(both(whole(4000, 3000), 400, 300), (2, 1)); // 500 = 1.25*400
        assert_eq!(both(whole(3264, 2448), 400, 300), (2, 2)); // 408 < 500; 1/4 = 816 >= 800 (picos.jpg)
        assert_eq!(both(whole(3200, 2400), 401, 301), (4, 4)); // 1/4 = 800 < 802
        assert_eq!(both(whole(1600, 1200), 400, 300), (4, 4)); // 1/2 = 800 = 2*400
        assert_eq!(both(whole(1600, 1200), 401, 300), (8, 8)); // 1/2 = 800 < 802
        assert_eq!(both(whole(1000, 800), 400, 320), (8, 8));
        assert_eq!(both(whole(2560, 1920), 400, 300), (4, 4)); // 3/8 would do, 1/2 is faster
        assert_eq!(both(whole(640, 427), 400, 267), (8, 8));
        assert_eq!(both(whole(400, 400), 800, 800), (8, 8)); // enlarging
        // The tighter axis decides: a tall output from a wide region.
        assert_eq!(both(whole(8000, 1000), 50, 50), (1, 1)); // 1/8 = 1000 x 125
        assert_eq!(both(whole(8000, 1000), 100, 100), (2, 1)); // 125 < 200; 1/4 = 250 >= 200
        assert_eq!(both(whole(8000, 1000), 100, 110), (2, 2)); // 125 < 137.5; 1/4 = 250 >= 220
    }
}
