//! The resize itself: fast_image_resize (SIMD convolution), one horizontal band of output rows
//! at a time so the deadline is checked as it goes.
//!
//! Banding is exact, not an approximation: each band is resized from a source crop box whose
//! top and height are the band's share of the region, and the resizer takes its filter support
//! from the whole source (the crop box only fixes the mapping), so the rows come out as they
//! would from one call.
//!
//! Alpha is premultiplied once before and divided out once after (fast_image_resize's MulDiv),
//! so a transparent pixel's colour, whatever it is, weighs nothing: no dark or coloured fringes.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, MulDiv, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::super::{Filter, JobControl, JobError};
use super::geometry::Region;
use super::raster::Raster;

/// Source rows each band should span at least. Every band recomputes the filter coefficients
/// (a few sines per output pixel and tap), so a band must carry enough work to make that
/// negligible: 1024 source rows is a few milliseconds of convolution even for narrow pictures,
/// while a 20-megapixel downscale still gets several deadline checks.
pub const MIN_SOURCE_ROWS_PER_BAND: f64 = 1024.0;
/// Fewest output rows in a band (when each output row spans many source rows).
pub const MIN_ROWS_PER_BAND: u32 = 16;

/// Resizes `region` of `src` (in `src`'s pixel coordinates) to `out_width x out_height`.
pub fn resize(src: Raster, region: Region, out_width: u32, out_height: u32, filter: Filter, ctl: &JobControl) -> Result<Raster, JobError> {
    let layout = src.layout;
    let pixel_type = match layout.channels() {
        1 => PixelType::U8,
        2 => PixelType::U8x2,
        3 => PixelType::U8x3,
        _ => PixelType::U8x4,
    };
    let (src_w, src_h) = (src.width, src.height);
    let mul_div = MulDiv::default();
    let mut src_data = src.data;
    if layout.has_alpha() {
        let mut view = Image::from_slice_u8(src_w, src_h, &mut src_data, pixel_type).map_err(internal)?;
        mul_div.multiply_alpha_inplace(&mut view).map_err(internal)?;
    }
    let src_image = ImageRef::new(src_w, src_h, &src_data, pixel_type).map_err(internal)?;

    // Clamp away floating-point fuzz at the far edges (the resizer refuses a box that pokes out).
    let left = region.x.clamp(0.0, f64::from(src_w) - 1.0);
    let width = region.width.min(f64::from(src_w) - left);
    let (left, width) = avoid_trimmed_first_bound(left, width, out_width);
    let top = region.y.clamp(0.0, f64::from(src_h) - 1.0);
    let height = region.height.min(f64::from(src_h) - top);
    let rows_per_output_row = height / f64::from(out_height);

    let algorithm = algorithm(filter);
    let stride = out_width as usize * layout.channels();
    let mut out = vec![0u8; stride * out_height as usize];
    let mut resizer = Resizer::new();
    let band_rows = ((MIN_SOURCE_ROWS_PER_BAND / rows_per_output_row).ceil() as u32).clamp(MIN_ROWS_PER_BAND, out_height.max(MIN_ROWS_PER_BAND));
    let mut y0 = 0;
    for band in out.chunks_mut(stride * band_rows as usize) {
        ctl.check("resize")?;
        let rows = (band.len() / stride) as u32;
        let band_top = top + f64::from(y0) * rows_per_output_row;
        let band_height = (f64::from(rows) * rows_per_output_row).min(f64::from(src_h) - band_top);
        let mut dst = Image::from_slice_u8(out_width, rows, band, pixel_type).map_err(internal)?;
        let options = ResizeOptions::new().resize_alg(algorithm).use_alpha(false).crop(left, band_top, width, band_height);
        resizer.resize(&src_image, &mut dst, &options).map_err(internal)?;
        y0 += rows;
    }
    if layout.has_alpha() {
        let mut view = Image::from_slice_u8(out_width, out_height, &mut out, pixel_type).map_err(internal)?;
        mul_div.divide_alpha_inplace(&mut view).map_err(internal)?;
    }
    Ok(Raster::new(out_width, out_height, layout, out))
}

/// Works around a fast_image_resize 6.1 bug (found by the `resize` fuzz target): when the first
/// (or last) output column's centre falls on a source pixel boundary, up to float error, the
/// kernel's zero weights at the start (end) of that column are trimmed, so the columns' source
/// spans stop being monotonic and the vertical-first pass computes `start - x_first` below zero:
/// an overflow panic with debug assertions, an out-of-bounds read (SIGSEGV) without. Moving the
/// crop box by [`NUDGE`] (and narrowing it as much, so it stays inside the picture) takes both
/// centres off the boundary by far more than float error; nothing visible changes.
fn avoid_trimmed_first_bound(left: f64, width: f64, out_width: u32) -> (f64, f64) {
    // The centres as the resizer computes them (`precompute_coefficients`).
    let centre = |left: f64, width: f64, column: u32| {
        let scale = (left + width - left) / f64::from(out_width);
        left + (f64::from(column) + 0.5) * scale - 0.5
    };
    let on_boundary = |c: f64| (c - c.round()).abs() < 1e-9;
    let risky = on_boundary(centre(left, width, 0)) || on_boundary(centre(left, width, out_width - 1));
    if risky && width > 4.0 * NUDGE {
        (left + NUDGE, width - NUDGE)
    } else {
        (left, width)
    }
}

/// How far [`avoid_trimmed_first_bound`] moves a crop box, in source pixels: at least
/// `NUDGE / (2 * out_width)` (over 1e-9 for any allowed width) for each centre.
const NUDGE: f64 = 1e-4;

/// The spec's filter words to the resizer's kernels (all convolutions except nearest).
fn algorithm(filter: Filter) -> ResizeAlg {
    match filter {
        Filter::Nearest => ResizeAlg::Nearest,
        Filter::Bilinear => ResizeAlg::Convolution(FilterType::Bilinear),
        Filter::CatmullRom => ResizeAlg::Convolution(FilterType::CatmullRom),
        Filter::Lanczos3 => ResizeAlg::Convolution(FilterType::Lanczos3),
    }
}

/// The resizer only fails on inconsistent sizes, which would be our bug.
fn internal(e: impl std::fmt::Display) -> JobError {
    JobError::Internal(format!("resize: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::raster::Layout;
    use super::*;

    fn painted(width: u32, height: u32) -> Raster {
        let data = (0..height).flat_map(|y| (0..width).flat_map(move |x| [(x * 7 + y) as u8, (y * 3) as u8, (x ^ y) as u8])).collect();
        Raster::new(width, height, Layout::Rgb, data)
    }

    #[test]
    fn banded_output_equals_one_call() {
        // 4800 source rows into 300: 16 per output row, so bands of 64 output rows, the last
        // one partial.
        let src = painted(300, 5000);
        let whole = Region { x: 3.5, y: 10.25, width: 280.0, height: 4800.0 };
        let (out_w, out_h) = (120, 300);
        let banded = resize(src.clone(), whole, out_w, out_h, Filter::Lanczos3, &JobControl::unbounded()).unwrap();
        let src_image = ImageRef::new(300, 5000, &src.data, PixelType::U8x3).unwrap();
        let mut one = Image::new(out_w, out_h, PixelType::U8x3);
        let options = ResizeOptions::new().crop(whole.x, whole.y, whole.width, whole.height);
        Resizer::new().resize(&src_image, &mut one, &options).unwrap();
        let max_diff = banded.data.iter().zip(one.buffer()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(max_diff <= 1, "banded and single-call outputs differ by up to {max_diff}");
    }

    #[test]
    fn transparent_neighbours_leave_no_fringe() {
        // Left half opaque white, right half fully transparent *black*: a straight-alpha resize
        // would drag the black into the edge pixels.
        let (w, h) = (64u32, 8u32);
        let data = (0..h).flat_map(|_| (0..w).flat_map(|x| if x < w / 2 { [255, 255, 255, 255] } else { [0, 0, 0, 0] })).collect();
        let src = Raster::new(w, h, Layout::Rgba, data);
        let region = Region { x: 0.0, y: 0.0, width: w.into(), height: h.into() };
        let out = resize(src, region, 24, 3, Filter::Lanczos3, &JobControl::unbounded()).unwrap();
        for px in out.data.chunks_exact(4) {
            if px[3] > 8 {
                assert!(px[..3].iter().all(|&c| c >= 250), "fringe pixel {px:?}");
            }
        }
    }

    #[test]
    fn a_crop_whose_first_column_centre_is_on_a_pixel_boundary_does_not_crash() {
        // The `resize` fuzz target's crash (fuzz/regressions/resize/webp-fill-upscale-crop):
        // fill 48x32 into 19x64 crops 9.5 columns at 19.25, so column 0's centre is at 19.0.
        // Before the fix this read out of bounds (SIGSEGV) with every convolution filter.
        let data: Vec<u8> = (0..48 * 32).flat_map(|i| [(i % 251) as u8, 7, 9, 200]).collect();
        let region = Region { x: 19.25, y: 0.0, width: 9.5, height: 32.0 };
        for filter in [Filter::Bilinear, Filter::CatmullRom, Filter::Lanczos3] {
            let src = Raster::new(48, 32, Layout::Rgba, data.clone());
            let out = resize(src, region, 19, 64, filter, &JobControl::unbounded()).unwrap();
            assert_eq!((out.width, out.height), (19, 64));
        }
        assert_eq!(avoid_trimmed_first_bound(19.25, 9.5, 19), (19.25 + NUDGE, 9.5 - NUDGE));
        assert_eq!(avoid_trimmed_first_bound(19.3, 9.5, 19), (19.3, 9.5));
        // The second crash: 16x12 filled into 40x36 crops 13.33 columns at 1.33; column 0's
        // centre is 1.0 only up to float error.
        let (left, width) = ((16.0 - 40.0 / 3.0) / 2.0, 40.0 / 3.0);
        assert_eq!(avoid_trimmed_first_bound(left, width, 40), (left + NUDGE, width - NUDGE));
        let region = Region { x: left, y: 0.0, width, height: 12.0 };
        for filter in [Filter::Bilinear, Filter::CatmullRom, Filter::Lanczos3] {
            let out = resize(painted(16, 12), region, 40, 36, filter, &JobControl::unbounded()).unwrap();
            assert_eq!((out.width, out.height), (40, 36));
        }
    }

    #[test]
    fn a_cancel_stops_between_bands() {
        let ctl = JobControl::unbounded();
        ctl.cancel();
        let region = Region { x: 0.0, y: 0.0, width: 100.0, height: 100.0 };
        let got = resize(painted(100, 100), region, 50, 50, Filter::Bilinear, &ctl);
        assert!(matches!(got, Err(JobError::Cancelled { stage: "resize" })), "{got:?}");
    }
}
