//! Pixels at 1/8 and 1/4 scale from the coefficients [`progressive_scans`](super::progressive_scans)
//! decoded, with libjpeg-turbo's arithmetic throughout, so the picture is bit-identical to
//! libjpeg's own decode at that scale: its 1x1 inverse DCT (a block's dequantised DC over 8)
//! for components at full resolution at 1/8, its 2x2 inverse DCT for 4:2:0 chroma at 1/8 and
//! for the rest at 1/4, its 4x4 for 4:2:0 chroma at 1/4 ([`reduced_idct`](super::reduced_idct));
//! its sample replication for chroma subsampled on one axis only at 1/8 (where libjpeg does no
//! fancy upsampling) and its triangle filters for 4:2:2 and 4:4:0 chroma at 1/4; and its YCbCr
//! to RGB tables.

use super::prefetch;
use super::progressive_scans::{Grid, Plane};
use super::reduced_idct::{dequantise, descale, idct_2x2, idct_4x4, range_limit, LaneQuantisers, Wild};

/// How far ahead the 2x2 IDCT asks for its blocks ([`prefetch`]; 12 to 48 measured alike, 24
/// a little better than 12). The 4x4's (chroma, a quarter as many blocks) gained nothing.
const IDCT_PREFETCH_BLOCKS: usize = 24;

/// One component at 1/8 scale: `width x height` samples (those of the blocks the component
/// really has, not the MCU padding).
struct Samples {
    data: Vec<u8>,
    width: usize,
    height: usize,
}

/// The samples of `width x height` blocks: one per block from the DC alone, or 2x2 or 4x4 per
/// block when the plane holds whole blocks (out-of-range values of those noted in `wild`; the
/// 1x1 IDCT is C in libjpeg-turbo too, and its wrap is followed exactly).
fn samples(plane: &Plane, width: usize, height: usize, wild: &mut Wild) -> Samples {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { samples_with_avx2(plane, width, height, wild) };
    }
    samples_here::<false>(plane, width, height, wild)
}

/// [`samples`] compiled for AVX2: the IDCTs' column passes take eight lanes at once.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn samples_with_avx2(plane: &Plane, width: usize, height: usize, wild: &mut Wild) -> Samples {
    samples_here::<true>(plane, width, height, wild)
}

/// [`samples`] for whatever the caller was compiled for; `AVX2`: the IDCTs by
/// [`reduced_idct_avx2`](super::reduced_idct_avx2).
#[inline(always)]
fn samples_here<const AVX2: bool>(plane: &Plane, width: usize, height: usize, wild: &mut Wild) -> Samples {
    if plane.ac.is_empty() {
        // libjpeg's `jpeg_idct_1x1`: the dequantised DC over 8, rounded, range-limited (by a
        // table, as libjpeg does it).
        let quantiser = plane.quantisers[0];
        let mut data = Vec::with_capacity(width * height);
        for row in plane.dc.chunks_exact(plane.stride).take(height) {
            data.extend(row[..width].iter().map(|&c| range_limit(descale(dequantise(c, quantiser), 3))));
        }
        return Samples { data, width, height };
    }
    let size = plane.idct_size;
    let (out_width, out_height) = (width * size, height * size);
    let mut data = vec![0u8; out_width * out_height];
    let quantisers = LaneQuantisers::new(&plane.quantisers, size);
    let slots = plane.layout.slots;
    // A row of blocks at a time: its `size` rows of samples, each block's `size` samples in each.
    for (by, out) in data.chunks_exact_mut(out_width * size).enumerate() {
        let first = by * plane.stride;
        let blocks = plane.ac[first * slots..][..width * slots]
            .chunks_exact(slots)
            .zip(&plane.dc[first..][..width])
            .zip(&plane.nonzero[first..][..width]);
        if size == 2 {
            let (top, bottom) = out.split_at_mut(out_width);
            for (bx, (((block, &dc), &nonzero), (top, bottom))) in blocks.zip(top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2))).enumerate() {
                prefetch::line(&plane.ac, (first + bx + IDCT_PREFETCH_BLOCKS) * slots);
                let block = block.try_into().expect("32 slots");
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX2 is true only in `samples_with_avx2`, for a CPU with AVX2.
                let [a, b] = if AVX2 { unsafe { super::reduced_idct_avx2::idct_2x2(dc, block, nonzero, &quantisers, wild) } } else { idct_2x2(dc, block, nonzero, &quantisers, wild) };
                #[cfg(not(target_arch = "x86_64"))]
                let [a, b] = idct_2x2(dc, block, nonzero, &quantisers, wild);
                top.copy_from_slice(&a);
                bottom.copy_from_slice(&b);
            }
        } else {
            for (bx, ((block, &dc), &nonzero)) in blocks.enumerate() {
                let block = block.try_into().expect("64 slots");
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX2 is true only in `samples_with_avx2`, for a CPU with AVX2.
                let rows = if AVX2 { unsafe { super::reduced_idct_avx2::idct_4x4(dc, block, nonzero, &quantisers, wild) } } else { idct_4x4(dc, block, nonzero, &quantisers, wild) };
                #[cfg(not(target_arch = "x86_64"))]
                let rows = idct_4x4(dc, block, nonzero, &quantisers, wild);
                for (dy, row) in rows.iter().enumerate() {
                    out[dy * out_width + 4 * bx..][..4].copy_from_slice(row);
                }
            }
        }
    }
    Samples { data, width: out_width, height: out_height }
}

/// The picture at `eighths`/8 of `frame_size` (1/8 or 1/4): gray for one component, RGB (from
/// YCbCr) for three with the first component the most sampled. Returns the samples, row-major,
/// or `None` when a value left the range where libjpeg's IDCTs agree (see [`Wild`]).
pub fn pixels(planes: &[Plane], sampling: &[(u8, u8)], frame_size: (u16, u16), grid: &Grid, eighths: usize) -> Option<Vec<u8>> {
    Some(match planes_at_scale(planes, sampling, frame_size, grid, eighths)? {
        Planes::Gray(y) => y,
        Planes::Ycc(y, cb, cr) => ycc_to_rgb(&y, &cb, &cr),
    })
}

/// The components at the output size, before colour conversion.
pub enum Planes {
    Gray(Vec<u8>),
    Ycc(Vec<u8>, Vec<u8>, Vec<u8>),
}

/// [`pixels`] before the colour conversion.
pub fn planes_at_scale(planes: &[Plane], sampling: &[(u8, u8)], frame_size: (u16, u16), grid: &Grid, eighths: usize) -> Option<Planes> {
    let (image_width, image_height) = (usize::from(frame_size.0), usize::from(frame_size.1));
    let (out_width, out_height) = ((image_width * eighths).div_ceil(8), (image_height * eighths).div_ceil(8));
    // Each component's samples, upsampled on an axis where they are fewer than the output's
    // pixels (chroma subsampled on one axis only).
    let mut wild = Wild::default();
    let mut component = |c: usize| {
        let (h, v) = (usize::from(sampling[c].0), usize::from(sampling[c].1));
        let width = (image_width * h).div_ceil(grid.max_h).div_ceil(8);
        let height = (image_height * v).div_ceil(grid.max_v).div_ceil(8);
        let s = samples(&planes[c], width, height, &mut wild);
        let size = planes[c].idct_size;
        // The samples libjpeg upsamples (`downsampled_width`): those of the picture, not of
        // the blocks' padding.
        let downsampled_width = (image_width * h * size).div_ceil(grid.max_h * 8);
        let downsampled_height = (image_height * v * size).div_ceil(grid.max_v * 8);
        match (eighths * grid.max_h / h / size, eighths * grid.max_v / v / size) {
            (1, 1) => crop(&s, out_width, out_height),
            // Above 1/8 libjpeg upsamples 4:2:2 chroma with its triangle filter
            // (`do_fancy_upsampling`, on unless the smallest IDCT is 1x1), where a row has
            // more than two samples; and 4:4:0 chroma with the same filter across rows.
            (2, 1) if eighths > 1 && downsampled_width > 2 => fancy_h2v1(&s, downsampled_width, out_width, out_height),
            (1, 2) if eighths > 1 => fancy_h1v2(&s, downsampled_height, out_width, out_height),
            (h_factor, v_factor) => replicate(&s, h_factor, v_factor, out_width, out_height),
        }
    };
    let planes = if planes.len() == 1 { Planes::Gray(component(0)) } else { Planes::Ycc(component(0), component(1), component(2)) };
    (!wild.seen()).then_some(planes)
}

/// The first `width x height` samples of `s`.
fn crop(s: &Samples, width: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * height);
    for row in s.data.chunks_exact(s.width).take(height) {
        out.extend_from_slice(&row[..width]);
    }
    out
}

/// Each sample repeated over `h x v` output pixels (libjpeg's `h2v1_upsample` and
/// `int_upsample`), cut to `width x height`. A row is made once and copied for the other
/// rows it covers.
fn replicate(s: &Samples, h: usize, v: usize, width: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * height);
    let mut row = Vec::with_capacity(width);
    for y in 0..height {
        if y % v == 0 || y / v >= s.height {
            let samples = &s.data[(y / v).min(s.height - 1) * s.width..][..s.width];
            row.clear();
            row.extend((0..width).map(|x| samples[(x / h).min(s.width - 1)]));
        }
        out.extend_from_slice(&row);
    }
    out
}

/// libjpeg's `h2v1_fancy_upsample` (and its SIMD twins, which compute the same): each of the
/// first `downsampled_width` samples of a row becomes two, 3/4 of it plus 1/4 of its neighbour
/// on that side (the sample itself at the row's ends), rounded with a bias of 1 on the left and
/// 2 on the right; cut to `width x height`.
fn fancy_h2v1(s: &Samples, downsampled_width: usize, width: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * height);
    let mut row = vec![0u8; 2 * downsampled_width];
    for samples in s.data.chunks_exact(s.width).take(height) {
        let samples = &samples[..downsampled_width];
        for (i, pair) in row.chunks_exact_mut(2).enumerate() {
            let here = 3 * u16::from(samples[i]);
            let left = u16::from(samples[i.saturating_sub(1)]);
            let right = u16::from(samples[(i + 1).min(downsampled_width - 1)]);
            pair[0] = ((here + left + 1) >> 2) as u8;
            pair[1] = ((here + right + 2) >> 2) as u8;
        }
        out.extend_from_slice(&row[..width]);
    }
    out
}

/// libjpeg's `h1v2_fancy_upsample` (C on x86): each of the first `downsampled_height` rows
/// becomes two, 3/4 of it plus 1/4 of the row on that side, rounded with a bias of 1 above and
/// 2 below; above the first row and below the last real one libjpeg's main buffer repeats that
/// row (`make_funny_pointers`, `set_bottom_pointers`). Cut to `width x height`.
fn fancy_h1v2(s: &Samples, downsampled_height: usize, width: usize, height: usize) -> Vec<u8> {
    let row = |i: usize| &s.data[i.min(downsampled_height - 1) * s.width..][..width];
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        let i = y / 2;
        let (other, bias) = if y % 2 == 0 { (row(i.saturating_sub(1)), 1) } else { (row(i + 1), 2) };
        out.extend(row(i).iter().zip(other).map(|(&here, &other)| ((3 * u16::from(here) + u16::from(other) + bias) >> 2) as u8));
    }
    out
}

/// libjpeg's YCbCr to RGB conversion (`jdcolor.c`): fixed point with 16 fraction bits, the
/// chroma terms rounded as its tables round them, clamped. Its tables' entries computed in
/// place (the same integers), so that the loop has no lookups and compiles to vector code.
fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8]) -> Vec<u8> {
    const ONE_HALF: i32 = 1 << 15;
    const fn fix(v: f64) -> i32 {
        (v * 65536.0 + 0.5) as i32
    }
    const CR_R: i32 = fix(1.40200);
    const CB_B: i32 = fix(1.77200);
    const CR_G: i32 = fix(0.71414);
    const CB_G: i32 = fix(0.34414);
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    let mut out = vec![0u8; y.len() * 3];
    for (((rgb, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
        let red = (CR_R * cr + ONE_HALF) >> 16;
        let blue = (CB_B * cb + ONE_HALF) >> 16;
        let green = (-CB_G * cb + ONE_HALF - CR_G * cr) >> 16;
        rgb.copy_from_slice(&[clamp(y + red), clamp(y + green), clamp(y + blue)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::resize::decode::jpeg::progressive_ac::BlockLayout;

    /// One block's sample at 1/8 from its DC, as `samples` computes it.
    fn idct_1x1(coefficient: i16, quantiser: u16) -> u8 {
        let mut quantisers = [0; 64];
        quantisers[0] = quantiser;
        let plane = Plane { dc: vec![coefficient], ac: Vec::new(), layout: BlockLayout::for_idct(1), nonzero: Vec::new(), idct_size: 1, stride: 1, quantisers };
        samples(&plane, 1, 1, &mut Wild::default()).data[0]
    }

    #[test]
    fn the_1x1_idct_follows_libjpegs_range_limit_table() {
        assert_eq!(idct_1x1(0, 16), 128);
        assert_eq!(idct_1x1(-64, 16), 0); // -128
        assert_eq!(idct_1x1(63, 16), 254); // 126
        assert_eq!(idct_1x1(4, 1), 129); // 0.5 rounds up
        assert_eq!(idct_1x1(-4, 1), 128); // -0.5 rounds up too
        assert_eq!(idct_1x1(200, 16), 255); // 400: clamped
        assert_eq!(idct_1x1(-200, 16), 0);
        // Far outside what real data gives, libjpeg's table wraps (value & 1023).
        assert_eq!(idct_1x1(1000, 16), 80); // 2000 & 1023 = 976
        assert_eq!(idct_1x1(i16::MAX, 255), idct_1x1_by_table((i64::from(i16::MAX) * 255 + 4) >> 3));
    }

    /// The table libjpeg builds (`prepare_range_limit_table`), indexed as `jpeg_idct_1x1` does.
    fn idct_1x1_by_table(value: i64) -> u8 {
        let mut table = vec![0u8; 1024];
        for (i, t) in table.iter_mut().enumerate() {
            *t = match i {
                0..=127 => i as u8 + 128,
                128..=511 => 255,
                512..=895 => 0,
                _ => (i - 896) as u8,
            };
        }
        table[(value as i32 & 1023) as usize]
    }

    #[test]
    fn replication_repeats_samples_on_the_subsampled_axis() {
        let s = Samples { data: vec![0, 160], width: 2, height: 1 };
        assert_eq!(replicate(&s, 2, 1, 3, 2), [0, 0, 160, 0, 0, 160]);
    }

    #[test]
    fn fancy_upsampling_weighs_the_nearer_sample_three_times() {
        // Padding past the third sample is not read: the row ends repeat their own sample.
        let s = Samples { data: vec![0, 100, 40, 255], width: 4, height: 1 };
        // 0, (0*3+100+2)/4, (300+0+1)/4, (300+40+2)/4, (120+100+1)/4, 40.
        assert_eq!(fancy_h2v1(&s, 3, 6, 1), [0, 25, 75, 85, 55, 40]);
        assert_eq!(fancy_h2v1(&s, 3, 5, 1), [0, 25, 75, 85, 55]);
    }

    #[test]
    fn fancy_upsampling_across_rows_repeats_the_edge_rows() {
        // Three real rows of one sample (a fourth, padding, is not read).
        let s = Samples { data: vec![0, 100, 40, 255], width: 1, height: 4 };
        assert_eq!(fancy_h1v2(&s, 3, 1, 6), [0, 25, 75, 85, 55, 40]);
    }

    #[test]
    fn gray_chroma_gives_gray_rgb() {
        assert_eq!(ycc_to_rgb(&[0, 77, 255], &[128; 3], &[128; 3]), [0, 0, 0, 77, 77, 77, 255, 255, 255]);
        // Pure red in JFIF's YCbCr: Y 76, Cb 85, Cr 255.
        assert_eq!(ycc_to_rgb(&[76], &[85], &[255]), [254, 0, 0]);
    }
}
