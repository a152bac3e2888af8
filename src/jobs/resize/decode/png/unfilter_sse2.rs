//! The wavefront unfilter in SSE2 (baseline on x86_64): [`BAND_ROWS`] rows of 3- or 4-byte
//! pixels at once, row `i` running `i` pixels behind row `i - 1`.
//!
//! Why: Paeth, Sub and Average make each pixel wait for its left neighbour, so one row is a
//! single chain of dependent steps, and the png crate's loop for 3-byte pixels is bound by
//! that chain's instructions. Rows of a band are independent chains as soon as the row above
//! is one pixel ahead, so they fill the SIMD lanes and the pipeline instead.
//!
//! Layout: a register holds one pixel of each of four rows, four bytes per row (for 3-byte
//! pixels the fourth byte is the next pixel's first, computed and then overwritten), and
//! a band of eight rows takes two registers, rows 0-3 and rows 4-7 (a band of four, for
//! very wide rows, one). At step `t` row `i` does pixel `t - i`, so what it needs from the
//! row above (up: `(i - 1, t - i)`, upper-left: `(i - 1, t - i - 1)`) is what row `i - 1`
//! produced one and two steps ago: the register shifted by one row, and for row 4 the last
//! row of the first register, never a trip through memory. Every lane computes the Average
//! and Paeth predictions and masks made from each row's filter byte pick the right one.
//! The first and last `band - 1` pixels of rows, where the wavefront is ragged, are done
//! one at a time by the plain code.
//!
//! Why two registers: one step of a register is a chain of about fifteen dependent
//! instructions (Paeth), and with four rows the loop waited on that chain. The second
//! register's step depends only on its own previous step and on the first register's
//! previous one, so the two chains overlap: altai.png's thumbnail went from 57.3 to 51.7 ms
//! (medians of five alternated runs of the corpus bench).
//!
//! Byte lanes were measured against 16-bit lanes (two registers of two rows): the same
//! result, about 1 ms less on altai.png's 5120x2880 (60.4 -> 59.4 ms for the thumbnail).

use std::arch::x86_64::*;

use super::unfilter::{unfilter_pixel, AVERAGE, BAND_ROWS, PAETH, ROW_SLACK, SHORT_BAND_ROWS, SUB, UP};

/// See [`super::unfilter::unfilter_band`], whose arguments these are, with the band's
/// filter bytes (each at most 4, one per row: [`BAND_ROWS`] or [`SHORT_BAND_ROWS`]) in place
/// of its height; `bpp` is 3 or 4 and rows are at least as many pixels as the band has rows.
pub fn unfilter_band(filters: &[u8], bpp: usize, stride: usize, filtered: &[u8], rows: &mut [u8], pitch: usize) {
    let band = filters.len();
    let rowlen = stride + 1;
    let width = stride / bpp;
    // Checked once per band: every pointer offset below stays inside these bounds.
    assert!(band == BAND_ROWS || band == SHORT_BAND_ROWS);
    assert!(bpp == 3 || bpp == 4);
    assert!(width >= band && width * bpp == stride);
    assert!(filtered.len() >= band * rowlen);
    assert!(pitch >= stride + ROW_SLACK && rows.len() >= (band + 1) * pitch);
    assert!(filters.iter().all(|&f| f <= PAETH));
    let pixel = |rows: &mut [u8], i: usize, x: usize| {
        let (above, below) = rows.split_at_mut((i + 1) * pitch);
        let cur = &filtered[i * rowlen + 1..][..stride];
        unfilter_pixel(filters[i], bpp, x, &above[i * pitch..][..stride], cur, &mut below[..stride]);
    };
    // Head: row i's first band - 1 - i pixels, in row order (each needs the row above).
    for i in 0..band {
        for x in 0..band - 1 - i {
            pixel(rows, i, x);
        }
    }
    // SAFETY: the asserts above are what `interior` requires.
    unsafe {
        let (input, out) = (filtered.as_ptr(), rows.as_mut_ptr());
        match (bpp, band / LANES) {
            (3, 1) => by_filters::<3, 1>(filters, input, rowlen, out, pitch, width),
            (3, _) => by_filters::<3, 2>(filters, input, rowlen, out, pitch, width),
            (_, 1) => by_filters::<4, 1>(filters, input, rowlen, out, pitch, width),
            (_, _) => by_filters::<4, 2>(filters, input, rowlen, out, pitch, width),
        }
    }
    // Tail: row i's last i pixels, in row order.
    for i in 1..band {
        for x in width - i..width {
            pixel(rows, i, x);
        }
    }
}

/// `if mask { yes } else { no }` per lane.
#[inline(always)]
unsafe fn select(mask: __m128i, yes: __m128i, no: __m128i) -> __m128i {
    _mm_or_si128(_mm_and_si128(mask, yes), _mm_andnot_si128(mask, no))
}

/// Rows per register: four rows of four byte lanes fill 128 bits.
const LANES: usize = 4;

/// Registers for the largest band, each [`LANES`] consecutive rows.
const MAX_REGS: usize = BAND_ROWS / LANES;

/// Per filter, all-ones bytes for the rows of one register that use it, four bytes per row.
struct Masks {
    sub: __m128i,
    up: __m128i,
    avg: __m128i,
    paeth: __m128i,
    /// Whether any row of the register uses Paeth: if not, it skips that prediction.
    any_paeth: bool,
    /// The same for Average.
    any_avg: bool,
}

impl Masks {
    /// The masks of register `reg`: band rows `reg * LANES..(reg + 1) * LANES`.
    fn new(filters: &[u8], reg: usize) -> Masks {
        let mask = |kind: u8| -> __m128i {
            let row = |i: usize| if filters[reg * LANES + i] == kind { -1 } else { 0 };
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { _mm_set_epi32(row(3), row(2), row(1), row(0)) }
        };
        let any = |kind: u8| filters[reg * LANES..][..LANES].contains(&kind);
        Masks { sub: mask(SUB), up: mask(UP), avg: mask(AVERAGE), paeth: mask(PAETH), any_paeth: any(PAETH), any_avg: any(AVERAGE) }
    }
}

/// `|x - y|` for unsigned bytes.
#[inline(always)]
unsafe fn absdiff8(x: __m128i, y: __m128i) -> __m128i {
    _mm_or_si128(_mm_subs_epu8(x, y), _mm_subs_epu8(y, x))
}

/// The Paeth prediction in unsigned bytes. pa = |up - ul| and pb = |left - ul| fit; pc =
/// |(up - ul) + (left - ul)| is pa + pb when the two differences have the same sign and
/// |pa - pb| otherwise; saturating pa + pb at 255 changes no comparison (it stays >= both).
#[inline(always)]
unsafe fn paeth_bytes(left: __m128i, up: __m128i, ul: __m128i) -> __m128i {
    let zero = _mm_setzero_si128();
    let (ul_up, up_ul) = (_mm_subs_epu8(ul, up), _mm_subs_epu8(up, ul));
    let (ul_left, left_ul) = (_mm_subs_epu8(ul, left), _mm_subs_epu8(left, ul));
    let pa = _mm_or_si128(ul_up, up_ul);
    let pb = _mm_or_si128(ul_left, left_ul);
    // Signs differ: exactly one of up, left is below ul (an equal one makes both forms agree).
    let differ = _mm_xor_si128(_mm_cmpeq_epi8(ul_up, zero), _mm_cmpeq_epi8(ul_left, zero));
    let pc = select(differ, absdiff8(pa, pb), _mm_adds_epu8(pa, pb));
    let min_bc = _mm_min_epu8(pb, pc);
    let up_or_ul = select(_mm_cmpeq_epi8(min_bc, pb), up, ul);
    let left_wins = _mm_cmpeq_epi8(_mm_min_epu8(pa, min_bc), pa);
    select(left_wins, left, up_or_ul)
}

/// The steps where every row of the band (`REGS` registers, `ROWS = REGS * LANES` rows) is
/// inside its row: `t` from `ROWS - 1` to `width - 1`, row `i` doing pixel `t - i`.
///
/// `WITH_PAETH` and `WITH_AVG`: whether to compute those predictions at all; `MASKED`: pick each row's
/// prediction by mask, else every row uses the same one (Paeth if `WITH_PAETH`, Average if `WITH_AVG`,
/// else Sub). Filters come in runs, so a band often has one filter, and each prediction
/// skipped is time saved (altai.png with four-row bands: 70 -> 61 ms). With `MASKED`, a
/// register none of whose rows uses Paeth (Average) skips it too, on a branch that goes the
/// same way for the whole band (altai.png: about 1 ms).
///
/// # Safety
/// `masks` has `REGS` entries, `REGS` is 1 or 2; `filtered` holds `ROWS` rows of `rowlen =
/// width * BPP + 1` bytes (filter byte first); `rows` holds `ROWS + 1` rows `pitch >= width
/// * BPP + ROW_SLACK` bytes apart, the first `ROWS - 1 - i` pixels of band row `i` already
/// unfiltered; `width >= ROWS`. Reads: row `i`'s input at pixel `x <= width - 1 - i`, 4
/// bytes from `x * BPP`, so at most one byte past its data (the next row's filter byte; the
/// last row stops `ROWS - 1` pixels earlier); the row above at pixel `x <= width - 1`, into
/// its slack; band rows, before the loop, at pixels `x <= ROWS - 2 - i` already unfiltered.
/// Writes: 4 bytes per pixel, at most one byte into a row's slack.
unsafe fn interior<const BPP: usize, const REGS: usize, const WITH_PAETH: bool, const WITH_AVG: bool, const MASKED: bool>(
    masks: &[Masks],
    filtered: *const u8,
    rowlen: usize,
    rows: *mut u8,
    pitch: usize,
    width: usize,
) {
    const { assert!(REGS >= 1 && REGS <= MAX_REGS) };
    let rows_n = REGS * LANES;
    // Lets the compiler drop the bounds checks on `masks[r]` below.
    assert!(masks.len() == REGS);
    // Arrays sized for the largest band; entries past `rows_n` are never used.
    let input: [*const u8; BAND_ROWS] = std::array::from_fn(|i| if i < rows_n { filtered.add(i * rowlen + 1) } else { std::ptr::null() });
    let out: [*mut u8; BAND_ROWS] = std::array::from_fn(|i| if i < rows_n { rows.add((i + 1) * pitch) } else { std::ptr::null_mut() });
    let above = rows.cast_const();
    let t0 = rows_n as isize - 1;
    // Pixel `x`'s four bytes in a register's low lane; before the row's start, zeros.
    let load = |ptr: *const u8, x: usize| _mm_cvtsi32_si128(ptr.add(x * BPP).cast::<i32>().read_unaligned());
    let word = |ptr: *const u8, x: isize| if x < 0 { _mm_setzero_si128() } else { load(ptr, x as usize) };
    // One word per row of a register (from its first row on) into that register.
    let four = |w: [__m128i; LANES]| _mm_unpacklo_epi64(_mm_unpacklo_epi32(w[0], w[1]), _mm_unpacklo_epi32(w[2], w[3]));
    // Left (each row's previous pixel) and upper-left, per register, for step t0.
    let mut a: [__m128i; MAX_REGS] = [_mm_setzero_si128(); MAX_REGS];
    let mut bp = a;
    for r in 0..REGS {
        a[r] = four(std::array::from_fn(|j| {
            let i = r * LANES + j;
            word(out[i], t0 - 1 - i as isize)
        }));
        bp[r] = four(std::array::from_fn(|j| {
            let i = r * LANES + j;
            word(if i == 0 { above } else { out[i - 1].cast_const() }, t0 - 1 - i as isize)
        }));
    }
    let low_bit = _mm_set1_epi8(1);
    for t in t0 as usize..width {
        // Up: each row's upper neighbour is the row above's value of the previous step; the
        // first row of a register takes it from the last row of the register before.
        let mut b = a;
        for r in 0..REGS {
            let first = if r == 0 { load(above, t) } else { _mm_srli_si128::<12>(a[r - 1]) };
            b[r] = _mm_or_si128(_mm_slli_si128::<4>(a[r]), first);
        }
        for r in 0..REGS {
            let i = r * LANES;
            let x = four(std::array::from_fn(|j| load(input[i + j], t - i - j)));
            let (left, up, ul) = (a[r], b[r], bp[r]);
            let m = &masks[r];
            let paeth = if WITH_PAETH && (!MASKED || m.any_paeth) { paeth_bytes(left, up, ul) } else { left };
            let avg = if WITH_AVG && (!MASKED || m.any_avg) {
                _mm_sub_epi8(_mm_avg_epu8(left, up), _mm_and_si128(_mm_xor_si128(left, up), low_bit))
            } else {
                left
            };
            let pred = if MASKED {
                let mut pred = _mm_or_si128(_mm_and_si128(m.sub, left), _mm_and_si128(m.up, up));
                if WITH_AVG {
                    pred = _mm_or_si128(pred, _mm_and_si128(m.avg, avg));
                }
                if WITH_PAETH {
                    pred = _mm_or_si128(pred, _mm_and_si128(m.paeth, paeth));
                }
                pred
            } else if WITH_PAETH {
                paeth
            } else {
                avg
            };
            let v = _mm_add_epi8(x, pred);
            a[r] = v;
            bp[r] = b[r];
            out[i].add((t - i) * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(v));
            out[i + 1].add((t - i - 1) * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(_mm_srli_si128::<4>(v)));
            out[i + 2].add((t - i - 2) * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(_mm_srli_si128::<8>(v)));
            out[i + 3].add((t - i - 3) * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(_mm_srli_si128::<12>(v)));
        }
    }
}

/// [`interior`] compiled for the band's height and the predictions it needs.
///
/// # Safety
/// As for [`interior`], with `filters.len() == REGS * LANES`.
unsafe fn by_filters<const BPP: usize, const REGS: usize>(filters: &[u8], filtered: *const u8, rowlen: usize, rows: *mut u8, pitch: usize, width: usize) {
    let masks: [Masks; REGS] = std::array::from_fn(|r| Masks::new(filters, r));
    let run = match filters {
        f if f.iter().all(|&f| f == PAETH) => interior::<BPP, REGS, true, false, false>,
        f if f.iter().all(|&f| f == AVERAGE) => interior::<BPP, REGS, false, true, false>,
        f if f.iter().all(|&f| f == SUB) => interior::<BPP, REGS, false, false, false>,
        f => match (f.contains(&PAETH), f.contains(&AVERAGE)) {
            (true, true) => interior::<BPP, REGS, true, true, true>,
            (true, false) => interior::<BPP, REGS, true, false, true>,
            (false, true) => interior::<BPP, REGS, false, true, true>,
            (false, false) => interior::<BPP, REGS, false, false, true>,
        },
    };
    run(&masks, filtered, rowlen, rows, pitch, width);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::resize::decode::png::unfilter::paeth;

    /// The byte-lane Paeth (with its saturated pc) against the spec's, for every
    /// (left, up, upper-left).
    #[test]
    fn paeth_in_bytes_is_the_spec_for_every_input() {
        for ul in 0..=255u8 {
            for up in 0..=255u8 {
                let left: [u8; 16] = std::array::from_fn(|i| i as u8);
                for base in (0..256).step_by(16) {
                    let left = left.map(|l| l + base as u8);
                    // SAFETY: SSE2 is part of the x86_64 baseline; the loads and stores are
                    // of 16-byte arrays.
                    let got: [u8; 16] = unsafe {
                        let v = paeth_bytes(_mm_loadu_si128(left.as_ptr().cast()), _mm_set1_epi8(up as i8), _mm_set1_epi8(ul as i8));
                        std::mem::transmute(v)
                    };
                    for i in 0..16 {
                        assert_eq!(got[i], paeth(left[i], up, ul), "left {} up {up} ul {ul}", left[i]);
                    }
                }
            }
        }
    }
}
