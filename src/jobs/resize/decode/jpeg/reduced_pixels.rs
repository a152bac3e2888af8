//! Pixels at 1/8 and 1/4 scale from the coefficients [`progressive_scans`](super::progressive_scans)
//! decoded, with libjpeg-turbo's arithmetic throughout, so the picture is bit-identical to
//! libjpeg's own decode at that scale: its 1x1 inverse DCT (a block's dequantised DC over 8)
//! for components at full resolution at 1/8, its 2x2 inverse DCT for 4:2:0 chroma at 1/8 and
//! for the rest at 1/4, its 4x4 for 4:2:0 chroma at 1/4; its sample replication for chroma
//! subsampled on one axis only at 1/8 (where libjpeg does no fancy upsampling) and its
//! triangle filters for 4:2:2 and 4:4:0 chroma at 1/4; and its YCbCr to RGB tables.
//!
//! Exact or refused: libjpeg-turbo computes its 2x2 and 4x4 IDCTs with SIMD where the CPU has
//! it (SSE2 on every x86-64) and in C elsewhere, and the two agree only while the numbers stay
//! in range (see [`Wild`]). Real 8-bit data stays far inside; a crafted file (coefficients
//! shifted by a successive-approximation bit position of 13) does not, and is then left to
//! libjpeg rather than decoded here to pixels libjpeg would not produce.

use super::progressive_ac::{coefficients_read, TWO_BY_TWO_READS};
use super::progressive_scans::{Grid, Plane};

/// libjpeg's post-IDCT range limit, as its table (`prepare_range_limit_table`) is indexed:
/// `value & 1023` clamps to 0..=255 over what real data produces and wraps beyond. A table,
/// as libjpeg's: which arm a sample takes (darker or brighter than mid-grey) is data, and a
/// branch on it mispredicts.
#[inline]
fn range_limit(value: i64) -> u8 {
    RANGE_LIMIT[(value as i32 & 1023) as usize]
}

const RANGE_LIMIT: [u8; 1024] = {
    let mut table = [0u8; 1024];
    let mut i = 0;
    while i < 1024 {
        table[i] = match i {
            0..=127 => (i + 128) as u8,
            128..=511 => 255,
            512..=895 => 0,
            _ => (i - 896) as u8,
        };
        i += 1;
    }
    table
};

/// Whether any number of a reduced IDCT left the range where libjpeg-turbo's SIMD and C IDCTs,
/// and this file, compute the same samples. The SIMD IDCTs (`jidctred-sse2.asm`) keep
/// dequantised coefficients (a 16-bit `pmullw`) and the workspace between the passes
/// (`packssdw`) in 16 bits, sum in 32, and clamp the result (`packsswb`); the C ones
/// (`jidctred.c`) multiply and sum in 32 or 64 bits and range-limit by `value & 1023` into
/// their table, which equals a clamp only for results in -512..=511. So: every dequantised
/// coefficient read and every workspace value within +-2^14 (16-bit, and no 32-bit sum of a
/// pass can overflow: at most 2^14 * 52991 + 2^14 << 15, about 1.4e9), every result within
/// -512..=511. A flag ORed per value, not a branch: real data never sets it.
#[derive(Default)]
pub struct Wild(bool);

impl Wild {
    /// A dequantised coefficient or a workspace value.
    #[inline]
    fn operand(&mut self, value: i64) {
        const LIMIT: i64 = 1 << 14;
        self.0 |= (value + LIMIT) as u64 >= (2 * LIMIT) as u64;
    }

    /// A result before the range limit.
    #[inline]
    fn result(&mut self, value: i64) {
        self.0 |= (value + 512) as u64 >= 1024;
    }

    /// Whether some value was out of range.
    pub fn seen(&self) -> bool {
        self.0
    }
}

/// A coefficient times its quantiser as libjpeg's SIMD build multiplies them (quantisers kept
/// as 16-bit multipliers).
fn dequantise(coefficient: i16, quantiser: u16) -> i64 {
    i64::from(i32::from(coefficient) * i32::from(quantiser as i16))
}

/// JPEG's DESCALE: divide by 2^n, rounding half up.
fn descale(value: i64, n: u32) -> i64 {
    (value + (1 << (n - 1))) >> n
}

/// The AC coefficients `jpeg_idct_2x2` reads (rows and columns 0, 1, 3, 5 and 7, but (0, 0)),
/// as a mask of zigzag indices.
const READ_AC_ZIGZAG: u64 = coefficients_read(2) & !1;

/// libjpeg's `jpeg_idct_2x2` (`jidctred.c`): the 2x2 samples of a block from its coefficients
/// in rows and columns 0, 1, 3, 5 and 7 (`ac` in the 5 x 5 layout the decoder keeps for it,
/// [`TWO_BY_TWO_READS`]), in its fixed-point arithmetic (13 fraction bits, 2 more kept between
/// the passes).
/// Values out of range are noted in `wild`.
pub fn idct_2x2(dc: i16, ac: &[i16], nonzero: u64, quantisers: &[u16; 64], wild: &mut Wild) -> [[u8; 2]; 2] {
    const CONST_BITS: u32 = 13;
    const PASS1_BITS: u32 = 2;
    // FIX(x) = x * 2^13 rounded: sqrt(2) times sums of the odd cosines.
    let odd = |v1: i64, v3: i64, v5: i64, v7: i64| v7 * -5906 + v5 * 6967 + v3 * -10426 + v1 * 29692;
    // Most chroma blocks have no AC coefficient the 2x2 reads (`nonzero` says which are set):
    // both passes then keep the DC.
    if nonzero & READ_AC_ZIGZAG == 0 {
        let dc = dc_only_sample(dc, quantisers[0], wild);
        return [[dc, dc], [dc, dc]];
    }
    // Columns, then rows, without libjpeg's zero-column and zero-row shortcuts: a zero odd
    // part descales the even part to the same number the shortcut gives, and a branch on
    // the data mispredicts more than the arithmetic costs. `work[r][slot]`: row r of the
    // columns read, in the order of TWO_BY_TWO_READS.
    let mut work = [[0i64; 5]; 2];
    for (column_slot, column) in TWO_BY_TWO_READS.into_iter().enumerate() {
        let value = |row_slot: usize| {
            let coefficient = if row_slot == 0 && column_slot == 0 { dc } else { ac[row_slot * 5 + column_slot] };
            dequantise(coefficient, quantisers[TWO_BY_TWO_READS[row_slot] * 8 + column])
        };
        let v = [value(0), value(1), value(2), value(3), value(4)];
        v.iter().for_each(|&v| wild.operand(v));
        let even = v[0] << (CONST_BITS + 2);
        let odd = odd(v[1], v[2], v[3], v[4]);
        // libjpeg keeps the column pass in an int workspace.
        work[0][column_slot] = i64::from(descale(even + odd, CONST_BITS - PASS1_BITS + 2) as i32);
        work[1][column_slot] = i64::from(descale(even - odd, CONST_BITS - PASS1_BITS + 2) as i32);
        wild.operand(work[0][column_slot]);
        wild.operand(work[1][column_slot]);
    }
    let shift = CONST_BITS + PASS1_BITS + 3 + 2;
    let mut out = [[0u8; 2]; 2];
    for (row, w) in out.iter_mut().zip(&work) {
        let even = w[0] << (CONST_BITS + 2);
        let odd = odd(w[1], w[2], w[3], w[4]);
        let (left, right) = (descale(even + odd, shift), descale(even - odd, shift));
        wild.result(left);
        wild.result(right);
        *row = [range_limit(left), range_limit(right)];
    }
    out
}

/// The one sample value of a block whose read AC coefficients are all zero, as both reduced
/// IDCTs compute it (their column pass keeps the DC shifted by PASS1_BITS = 2 in an int, the
/// row pass descales it by PASS1_BITS + 3), with its values noted in `wild`.
#[inline(always)]
fn dc_only_sample(dc: i16, quantiser: u16, wild: &mut Wild) -> u8 {
    const PASS1_BITS: u32 = 2;
    let dequantised = dequantise(dc, quantiser);
    wild.operand(dequantised);
    let dc = ((dequantised as i32 as u32) << PASS1_BITS) as i32;
    wild.operand(i64::from(dc));
    let dc = descale(i64::from(dc), PASS1_BITS + 3);
    wild.result(dc);
    range_limit(dc)
}

/// The AC coefficients `jpeg_idct_4x4` reads (rows and columns other than 4, but (0, 0)), as
/// a mask of zigzag indices.
const READ_AC_4X4_ZIGZAG: u64 = coefficients_read(4) & !1;

/// libjpeg's `jpeg_idct_4x4` (`jidctred.c`): the 4x4 samples of a block from its coefficients
/// in rows and columns other than 4, in its fixed-point arithmetic (as [`idct_2x2`]). Values
/// out of range are noted in `wild`.
pub fn idct_4x4(dc: i16, ac: &[i16], nonzero: u64, quantisers: &[u16; 64], wild: &mut Wild) -> [[u8; 4]; 4] {
    const CONST_BITS: u32 = 13;
    const PASS1_BITS: u32 = 2;
    if nonzero & READ_AC_4X4_ZIGZAG == 0 {
        let dc = dc_only_sample(dc, quantisers[0], wild);
        return [[dc; 4]; 4];
    }
    // One 4-point pass over v[0..8] (v[4] unused): [out0, out1, out2, out3] before descaling.
    let pass = |v: [i64; 8], even_shift: u32| {
        let tmp0 = v[0] << even_shift;
        let tmp2 = v[2] * 15137 + v[6] * -6270;
        let (tmp10, tmp12) = (tmp0 + tmp2, tmp0 - tmp2);
        let (z1, z2, z3, z4) = (v[7], v[5], v[3], v[1]);
        let odd0 = z1 * -1730 + z2 * 11893 + z3 * -17799 + z4 * 8697;
        let odd2 = z1 * -4176 + z2 * -4926 + z3 * 7373 + z4 * 20995;
        [tmp10 + odd2, tmp12 + odd0, tmp12 - odd0, tmp10 - odd2]
    };
    // Without libjpeg's zero-column and zero-row shortcuts, as in `idct_2x2`.
    let mut work = [[0i64; 8]; 4];
    for column in [0, 1, 2, 3, 5, 6, 7] {
        let mut v = [0i64; 8];
        for row in [0, 1, 2, 3, 5, 6, 7] {
            let coefficient = if row == 0 && column == 0 { dc } else { ac[row * 8 + column] };
            v[row] = dequantise(coefficient, quantisers[row * 8 + column]);
            wild.operand(v[row]);
        }
        for (row, value) in pass(v, CONST_BITS + 1).into_iter().enumerate() {
            // libjpeg keeps the column pass in an int workspace.
            work[row][column] = i64::from(descale(value, CONST_BITS - PASS1_BITS + 1) as i32);
            wild.operand(work[row][column]);
        }
    }
    let mut out = [[0u8; 4]; 4];
    for (row, w) in out.iter_mut().zip(work) {
        for (sample, value) in row.iter_mut().zip(pass(w, CONST_BITS + 1)) {
            let value = descale(value, CONST_BITS + PASS1_BITS + 3 + 1);
            wild.result(value);
            *sample = range_limit(value);
        }
    }
    out
}

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
    let mut put = |by: usize, bx: usize, rows: &[&[u8]]| {
        for (dy, row) in rows.iter().enumerate() {
            let at = (size * by + dy) * out_width + size * bx;
            data[at..at + size].copy_from_slice(row);
        }
    };
    for by in 0..height {
        for bx in 0..width {
            let index = by * plane.stride + bx;
            let slots = plane.layout.slots;
            let (dc, ac, nonzero) = (plane.dc[index], &plane.ac[index * slots..][..slots], plane.nonzero[index]);
            if size == 2 {
                let [a, b] = idct_2x2(dc, ac, nonzero, &plane.quantisers, wild);
                put(by, bx, &[&a, &b]);
            } else {
                let [a, b, c, d] = idct_4x4(dc, ac, nonzero, &plane.quantisers, wild);
                put(by, bx, &[&a, &b, &c, &d]);
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
/// chroma terms rounded as its tables round them, clamped.
fn ycc_to_rgb(y: &[u8], cb: &[u8], cr: &[u8]) -> Vec<u8> {
    const ONE_HALF: i32 = 1 << 15;
    let fix = |v: f64| (v * 65536.0 + 0.5) as i32;
    let mut cr_r = [0i32; 256];
    let mut cb_b = [0i32; 256];
    let mut cr_g = [0i32; 256];
    let mut cb_g = [0i32; 256];
    for i in 0..256 {
        let x = i as i32 - 128;
        cr_r[i] = (fix(1.40200) * x + ONE_HALF) >> 16;
        cb_b[i] = (fix(1.77200) * x + ONE_HALF) >> 16;
        cr_g[i] = -fix(0.71414) * x;
        cb_g[i] = -fix(0.34414) * x + ONE_HALF;
    }
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    let mut out = vec![0u8; y.len() * 3];
    for (((rgb, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        let (y, cb, cr) = (i32::from(y), usize::from(cb), usize::from(cr));
        rgb.copy_from_slice(&[clamp(y + cr_r[cr]), clamp(y + ((cb_g[cb] + cr_g[cr]) >> 16)), clamp(y + cb_b[cb])]);
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
    fn a_2x2_idct_of_a_flat_block_is_flat_and_of_a_gradient_is_not() {
        let quantisers = [2u16; 64];
        let mut ac = [0i16; 32];
        let dc = 40; // 80 dequantised: 10 above mid-grey
        assert_eq!(idct_2x2(dc, &ac, 0, &quantisers, &mut Wild::default()), [[138, 138], [138, 138]]);
        ac[1] = 20; // a horizontal cosine (row 0, column 1; zigzag index 1): left brighter than right
        let [[left, right], [left2, right2]] = idct_2x2(dc, &ac, 1 << 1, &quantisers, &mut Wild::default());
        assert!(left > 138 && right < 138 && (left, right) == (left2, right2), "{left} {right}");
    }

    #[test]
    fn gray_chroma_gives_gray_rgb() {
        assert_eq!(ycc_to_rgb(&[0, 77, 255], &[128; 3], &[128; 3]), [0, 0, 0, 77, 77, 77, 255, 255, 255]);
        // Pure red in JFIF's YCbCr: Y 76, Cb 85, Cr 255.
        assert_eq!(ycc_to_rgb(&[76], &[85], &[255]), [254, 0, 0]);
    }
}
