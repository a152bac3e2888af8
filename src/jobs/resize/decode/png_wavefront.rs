//! The wavefront unfilter in SSE2 (baseline on x86_64): [`BAND_ROWS`] rows of 3- or 4-byte
//! pixels at once, row `i` running `i` pixels behind row `i - 1`.
//!
//! Why: Paeth, Sub and Average make each pixel wait for its left neighbour, so one row is a
//! single chain of dependent steps, and the png crate's loop for 3-byte pixels is bound by
//! that chain's instructions. Rows of a band are independent chains as soon as the row above
//! is one pixel ahead, so they fill the SIMD lanes and the pipeline instead.
//!
//! Layout: a register holds one pixel of each of two rows as eight 16-bit lanes (lanes 0-3
//! row `2j`, lanes 4-7 row `2j + 1`; for 3-byte pixels lane 3 carries the next pixel's first
//! byte, computed and then overwritten). At step `t` row `i` does pixel `t - i`, so what it
//! needs from the row above (up: `(i - 1, t - i)`, upper-left: `(i - 1, t - i - 1)`) is what
//! row `i - 1` produced one and two steps ago: it never goes through memory. Every lane
//! computes the Average and Paeth predictions and masks made from each row's filter byte pick
//! the right one. The first and last `BAND_ROWS - 1` pixels of rows, where the wavefront is
//! ragged, are done one at a time by the plain code.

use std::arch::x86_64::*;

use super::png_unfilter::{unfilter_pixel, AVERAGE, BAND_ROWS, PAETH, ROW_SLACK, SUB, UP};

/// Registers of two rows each.
const REGS: usize = BAND_ROWS / 2;

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
    let masks = Masks::new(filters);
    // SAFETY: the asserts above are what `interior` requires.
    unsafe {
        if bpp == 3 {
            by_filters::<3>(filters, &masks, filtered.as_ptr(), rowlen, rows.as_mut_ptr(), pitch, width);
        } else {
            by_filters::<4>(filters, &masks, filtered.as_ptr(), rowlen, rows.as_mut_ptr(), pitch, width);
        }
    }
    // Tail: row i's last i pixels, in row order.
    for i in 1..BAND_ROWS {
        for x in width - i..width {
            pixel(rows, i, x);
        }
    }
}

/// Per register, all-ones lanes for the rows that use each filter (None: no mask set).
struct Masks {
    sub: [__m128i; REGS],
    up: [__m128i; REGS],
    avg: [__m128i; REGS],
    paeth: [__m128i; REGS],
}

impl Masks {
    fn new(filters: &[u8; BAND_ROWS]) -> Masks {
        let mask = |kind: u8| -> [__m128i; REGS] {
            std::array::from_fn(|j| {
                let lo: i64 = if filters[2 * j] == kind { -1 } else { 0 };
                let hi: i64 = if filters[2 * j + 1] == kind { -1 } else { 0 };
                // SAFETY: SSE2 is part of the x86_64 baseline.
                unsafe { _mm_set_epi64x(hi, lo) }
            })
        };
        Masks { sub: mask(SUB), up: mask(UP), avg: mask(AVERAGE), paeth: mask(PAETH) }
    }
}

/// One pixel (`BPP` bytes, read as 4) at `ptr + x * BPP` as 16-bit lanes 0-3; zeros for
/// `x < 0` (left of the row's start).
///
/// # Safety
/// When `x >= 0`, `ptr + x * BPP .. + 4` must be readable.
#[inline(always)]
unsafe fn load<const BPP: usize>(ptr: *const u8, x: isize) -> __m128i {
    if x < 0 {
        return _mm_setzero_si128();
    }
    let v = ptr.add(x as usize * BPP).cast::<i32>().read_unaligned();
    _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), _mm_setzero_si128())
}

/// Two rows' pixels as one register: `lo` in lanes 0-3, `hi` in lanes 4-7.
#[inline(always)]
unsafe fn pair<const BPP: usize>(lo: *const u8, xlo: isize, hi: *const u8, xhi: isize) -> __m128i {
    _mm_unpacklo_epi64(load::<BPP>(lo, xlo), load::<BPP>(hi, xhi))
}

/// `|v|` for 16-bit lanes (SSE2 has no `pabsw`).
#[inline(always)]
unsafe fn abs16(v: __m128i) -> __m128i {
    _mm_max_epi16(v, _mm_sub_epi16(_mm_setzero_si128(), v))
}

/// The Paeth prediction per lane: pa = |up - ul|, pb = |left - ul|, pc = |left + up - 2 ul|,
/// left if pa is smallest, else up if pb <= pc, else upper-left.
#[inline(always)]
unsafe fn paeth16(left: __m128i, up: __m128i, ul: __m128i) -> __m128i {
    let du = _mm_sub_epi16(up, ul);
    let dl = _mm_sub_epi16(left, ul);
    let pa = abs16(du);
    let pb = abs16(dl);
    let pc = abs16(_mm_add_epi16(du, dl));
    let up_or_ul = select(_mm_cmpgt_epi16(pb, pc), ul, up);
    let not_left = _mm_cmpgt_epi16(pa, _mm_min_epi16(pb, pc));
    select(not_left, up_or_ul, left)
}

/// `if mask { yes } else { no }` per lane.
#[inline(always)]
unsafe fn select(mask: __m128i, yes: __m128i, no: __m128i) -> __m128i {
    _mm_or_si128(_mm_and_si128(mask, yes), _mm_andnot_si128(mask, no))
}

/// [`interior`] compiled for the predictions this band needs.
///
/// # Safety
/// As for [`interior`].
unsafe fn by_filters<const BPP: usize>(filters: &[u8; BAND_ROWS], m: &Masks, filtered: *const u8, rowlen: usize, rows: *mut u8, pitch: usize, width: usize) {
    let args = (m, filtered, rowlen, rows, pitch, width);
    let run = match filters {
        f if f.iter().all(|&f| f == PAETH) => interior::<BPP, true, false, false>,
        f if f.iter().all(|&f| f == AVERAGE) => interior::<BPP, false, true, false>,
        // Average with AVG off is Sub: `avg` falls back to `left`.
        f if f.iter().all(|&f| f == SUB) => interior::<BPP, false, false, false>,
        f => match (f.contains(&PAETH), f.contains(&AVERAGE)) {
            (true, true) => interior::<BPP, true, true, true>,
            (true, false) => interior::<BPP, true, false, true>,
            (false, true) => interior::<BPP, false, true, true>,
            (false, false) => interior::<BPP, false, false, true>,
        },
    };
    run(args.0, args.1, args.2, args.3, args.4, args.5);
}

/// The steps where every row of the band is inside its row: `t` from `BAND_ROWS - 1` to
/// `width - 1`, row `i` doing pixel `t - i`.
///
/// # Safety
/// `filtered` holds `BAND_ROWS` rows of `rowlen = width * BPP + 1` bytes (filter byte first);
/// `rows` holds `BAND_ROWS + 1` rows `pitch >= width * BPP + ROW_SLACK` bytes apart, the
/// first `BAND_ROWS - 1 - i` pixels of band row `i` already unfiltered; `width >= BAND_ROWS`.
/// Reads: row `i`'s input at pixel `x <= width - 1 - i`, 4 bytes from `x * BPP`, so at most
/// one byte past its data (the next row's filter byte; the last row stops `BAND_ROWS - 1`
/// pixels earlier); the row above at pixel `x <= width - 1`, into its slack. Writes: 4 bytes
/// per pixel, at most one byte into a row's slack.
///
/// `PAETH` and `AVG`: whether to compute those predictions at all; `MASKED`: pick each row's
/// prediction by mask, else every row uses the same one (Paeth if `PAETH`, Average if `AVG`,
/// else Sub). Filters come in runs, so a band often has one filter, and the loop is bound by
/// instruction throughput: each prediction skipped is time saved (see `by_filters`).
unsafe fn interior<const BPP: usize, const PAETH: bool, const AVG: bool, const MASKED: bool>(
    m: &Masks,
    filtered: *const u8,
    rowlen: usize,
    rows: *mut u8,
    pitch: usize,
    width: usize,
) {
    let input: [*const u8; BAND_ROWS] = std::array::from_fn(|i| filtered.add(i * rowlen + 1));
    let out: [*mut u8; BAND_ROWS] = std::array::from_fn(|i| rows.add((i + 1) * pitch));
    let above = rows.cast_const();
    let t0 = (BAND_ROWS - 1) as isize;
    // State entering step t0: `a` = each row's output one step before (its left neighbour),
    // `bp` = what each row had above one step before (its upper-left neighbour now).
    let mut a: [__m128i; REGS] = std::array::from_fn(|j| {
        let (r0, r1) = (2 * j, 2 * j + 1);
        pair::<BPP>(out[r0], t0 - 1 - r0 as isize, out[r1], t0 - 1 - r1 as isize)
    });
    let mut bp: [__m128i; REGS] = std::array::from_fn(|j| {
        let (r0, r1) = (2 * j, 2 * j + 1);
        let up0 = if r0 == 0 { above } else { out[r0 - 1].cast_const() };
        pair::<BPP>(up0, t0 - 1 - r0 as isize, out[r1 - 1], t0 - 1 - r1 as isize)
    });
    let low_byte = _mm_set1_epi16(0xff);
    for t in t0 as usize..width {
        // Up for each row: the row above's output of the last step (row 0: the row above).
        let mut b = [_mm_setzero_si128(); REGS];
        b[0] = _mm_unpacklo_epi64(load::<BPP>(above, t as isize), a[0]);
        for j in 1..REGS {
            b[j] = _mm_castpd_si128(_mm_shuffle_pd::<0b01>(_mm_castsi128_pd(a[j - 1]), _mm_castsi128_pd(a[j])));
        }
        for j in 0..REGS {
            let (r0, r1) = (2 * j, 2 * j + 1);
            let (x0, x1) = (t - r0, t - r1);
            let x = pair::<BPP>(input[r0], x0 as isize, input[r1], x1 as isize);
            let (left, up, ul) = (a[j], b[j], bp[j]);
            let paeth = if PAETH { paeth16(left, up, ul) } else { left };
            let avg = if AVG { _mm_srli_epi16::<1>(_mm_add_epi16(left, up)) } else { left };
            let pred = if MASKED {
                let mut pred = _mm_or_si128(_mm_and_si128(m.sub[j], left), _mm_and_si128(m.up[j], up));
                if AVG {
                    pred = _mm_or_si128(pred, _mm_and_si128(m.avg[j], avg));
                }
                if PAETH {
                    pred = _mm_or_si128(pred, _mm_and_si128(m.paeth[j], paeth));
                }
                pred
            } else if PAETH {
                paeth
            } else {
                avg
            };
            let v = _mm_and_si128(_mm_add_epi16(x, pred), low_byte);
            a[j] = v;
            let bytes = _mm_packus_epi16(v, v);
            out[r0].add(x0 * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(bytes));
            out[r1].add(x1 * BPP).cast::<i32>().write_unaligned(_mm_cvtsi128_si32(_mm_srli_si128::<4>(bytes)));
        }
        bp = b;
    }
}
