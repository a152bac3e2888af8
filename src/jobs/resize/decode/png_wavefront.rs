//! The wavefront unfilter in SSE2 (baseline on x86_64): [`BAND_ROWS`] rows of 3- or 4-byte
//! pixels at once, row `i` running `i` pixels behind row `i - 1`.
//!
//! Why: Paeth, Sub and Average make each pixel wait for its left neighbour, so one row is a
//! single chain of dependent steps, and the png crate's loop for 3-byte pixels is bound by
//! that chain's instructions. Rows of a band are independent chains as soon as the row above
//! is one pixel ahead, so they fill the SIMD lanes and the pipeline instead.
//!
//! Layout: one register holds one pixel of each of the four rows, four bytes per row (for
//! 3-byte pixels the fourth byte is the next pixel's first, computed and then overwritten).
//! At step `t` row `i` does pixel `t - i`, so what it needs from the row above (up:
//! `(i - 1, t - i)`, upper-left: `(i - 1, t - i - 1)`) is what row `i - 1` produced one and
//! two steps ago: the register shifted by one row, never a trip through memory. Every lane
//! computes the Average and Paeth predictions and masks made from each row's filter byte
//! pick the right one. The first and last three pixels of rows, where the wavefront is
//! ragged, are done one at a time by the plain code.
//!
//! Byte lanes were measured against 16-bit lanes (two registers of two rows): the same
//! result, about 1 ms less on altai.png's 5120x2880 (60.4 -> 59.4 ms for the thumbnail).

use std::arch::x86_64::*;

use super::png_unfilter::{unfilter_pixel, AVERAGE, BAND_ROWS, PAETH, ROW_SLACK, SUB, UP};

/// See [`super::png_unfilter::unfilter_band`], whose arguments these are, plus the band's
/// filter bytes (each at most 4); `bpp` is 3 or 4 and rows are at least `BAND_ROWS` pixels.
pub fn unfilter_band(filters: &[u8; BAND_ROWS], bpp: usize, stride: usize, filtered: &[u8], rows: &mut [u8], pitch: usize) {
    let rowlen = stride + 1;
    let width = stride / bpp;
    // Checked once per band: every pointer offset below stays inside these bounds.
    assert!(bpp == 3 || bpp == 4);
    assert!(width >= BAND_ROWS && width * bpp == stride);
    assert!(filtered.len() >= BAND_ROWS * rowlen);
    assert!(pitch >= stride + ROW_SLACK && rows.len() >= (BAND_ROWS + 1) * pitch);
    assert!(filters.iter().all(|&f| f <= PAETH));
    let pixel = |rows: &mut [u8], i: usize, x: usize| {
        let (above, below) = rows.split_at_mut((i + 1) * pitch);
        let cur = &filtered[i * rowlen + 1..][..stride];
        unfilter_pixel(filters[i], bpp, x, &above[i * pitch..][..stride], cur, &mut below[..stride]);
    };
    // Head: row i's first BAND_ROWS - 1 - i pixels, in row order (each needs the row above).
    for i in 0..BAND_ROWS {
        for x in 0..BAND_ROWS - 1 - i {
            pixel(rows, i, x);
        }
    }
    // SAFETY: the asserts above are what `interior` requires.
    unsafe {
        if bpp == 3 {
            by_filters::<3>(filters, filtered.as_ptr(), rowlen, rows.as_mut_ptr(), pitch, width);
        } else {
            by_filters::<4>(filters, filtered.as_ptr(), rowlen, rows.as_mut_ptr(), pitch, width);
        }
    }
    // Tail: row i's last i pixels, in row order.
    for i in 1..BAND_ROWS {
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

/// Per filter, all-ones bytes for the rows that use it, four bytes per row (byte lanes).
struct Masks {
    sub: __m128i,
    up: __m128i,
    avg: __m128i,
    paeth: __m128i,
}

impl Masks {
    fn new(filters: &[u8; BAND_ROWS]) -> Masks {
        let mask = |kind: u8| -> __m128i {
            let row = |i: usize| if filters[i] == kind { -1 } else { 0 };
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { _mm_set_epi32(row(3), row(2), row(1), row(0)) }
        };
        Masks { sub: mask(SUB), up: mask(UP), avg: mask(AVERAGE), paeth: mask(PAETH) }
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

/// The steps where every row of the band is inside its row: `t` from 3 to `width - 1`, row
/// `i` doing pixel `t - i`.
///
/// `WITH_PAETH` and `WITH_AVG`: whether to compute those predictions at all; `MASKED`: pick each row's
/// prediction by mask, else every row uses the same one (Paeth if `WITH_PAETH`, Average if `WITH_AVG`,
/// else Sub). Filters come in runs, so a band often has one filter, and the loop is bound by
/// instruction throughput: each prediction skipped is time saved (altai.png: 70 -> 61 ms).
///
/// # Safety
/// `filtered` holds 4 rows of `rowlen = width * BPP + 1` bytes (filter byte first); `rows`
/// holds 5 rows `pitch >= width * BPP + ROW_SLACK` bytes apart, the first `3 - i` pixels
/// of band row `i` already unfiltered; `width >= 4`. Reads: row `i`'s input at pixel
/// `x <= width - 1 - i`, 4 bytes from `x * BPP`, so at most one byte past its data (the
/// next row's filter byte; the last row stops 3 pixels earlier); the row above at pixel
/// `x <= width - 1`, into its slack. Writes: 4 bytes per pixel, at most one byte into a
/// row's slack.
unsafe fn interior<const BPP: usize, const WITH_PAETH: bool, const WITH_AVG: bool, const MASKED: bool>(
    m: &Masks,
    filtered: *const u8,
    rowlen: usize,
    rows: *mut u8,
    pitch: usize,
    width: usize,
) {
    const { assert!(BAND_ROWS == 4) };
    let input: [*const u8; 4] = std::array::from_fn(|i| filtered.add(i * rowlen + 1));
    let out: [*mut u8; 4] = std::array::from_fn(|i| rows.add((i + 1) * pitch));
    let above = rows.cast_const();
    let t0 = 3isize;
    let word = |ptr: *const u8, x: isize| -> __m128i {
        if x < 0 {
            _mm_setzero_si128()
        } else {
            _mm_cvtsi32_si128(ptr.add(x as usize * BPP).cast::<i32>().read_unaligned())
        }
    };
    let four = |w: [__m128i; 4]| _mm_unpacklo_epi64(_mm_unpacklo_epi32(w[0], w[1]), _mm_unpacklo_epi32(w[2], w[3]));
    let mut a = four(std::array::from_fn(|i| word(out[i], t0 - 1 - i as isize)));
    let mut bp = four(std::array::from_fn(|i| word(if i == 0 { above } else { out[i - 1].cast_const() }, t0 - 1 - i as isize)));
    let low_bit = _mm_set1_epi8(1);
    for t in t0 as usize..width {
        let b = _mm_or_si128(_mm_slli_si128::<4>(a), word(above, t as isize));
        let x = four(std::array::from_fn(|i| word(input[i], (t - i) as isize)));
        let (left, up, ul) = (a, b, bp);
        let paeth = if WITH_PAETH { paeth_bytes(left, up, ul) } else { left };
        let avg = if WITH_AVG {
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
        a = v;
        bp = b;
        out[0].add(t * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(v));
        out[1].add((t - 1) * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(_mm_srli_si128::<4>(v)));
        out[2].add((t - 2) * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(_mm_srli_si128::<8>(v)));
        out[3].add((t - 3) * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(_mm_srli_si128::<12>(v)));
    }
}

/// [`interior`] compiled for the predictions this band needs.
///
/// # Safety
/// As for [`interior`].
unsafe fn by_filters<const BPP: usize>(filters: &[u8; BAND_ROWS], filtered: *const u8, rowlen: usize, rows: *mut u8, pitch: usize, width: usize) {
    let m = Masks::new(filters);
    let run = match filters {
        f if f.iter().all(|&f| f == PAETH) => interior::<BPP, true, false, false>,
        f if f.iter().all(|&f| f == AVERAGE) => interior::<BPP, false, true, false>,
        f if f.iter().all(|&f| f == SUB) => interior::<BPP, false, false, false>,
        f => match (f.contains(&PAETH), f.contains(&AVERAGE)) {
            (true, true) => interior::<BPP, true, true, true>,
            (true, false) => interior::<BPP, true, false, true>,
            (false, true) => interior::<BPP, false, true, true>,
            (false, false) => interior::<BPP, false, false, true>,
        },
    };
    run(&m, filtered, rowlen, rows, pitch, width);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::resize::decode::png_unfilter::paeth;

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
