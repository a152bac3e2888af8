//! PNG row unfiltering (PNG spec section 9), not in place: filtered bytes are read from the
//! inflate buffer, which must stay untouched because the inflater copies from its last 32 KiB,
//! and written to rows we own.
//!
//! Two ways with the same result. [`unfilter_row`] is the plain one, a row at a time, and the
//! reference the tests hold the other to; it serves every pixel size. [`unfilter_band`] takes
//! [`BAND_ROWS`] rows at once (fewer when rows are very wide, [`band_rows`]): a byte depends
//! only on its left, upper and upper-left neighbours, so row `i` of the band can run `i`
//! pixels behind row `i - 1` and all rows advance together, each its own dependency chain
//! (a wavefront). On x86_64 with 3- or 4-byte pixels that runs in SSE2 lanes
//! (`unfilter_sse2`); elsewhere it is the plain path row after row.

/// Rows unfiltered together by [`unfilter_band`]: two 128-bit registers of four rows of four
/// bytes each in `unfilter_sse2`, two chains of dependent steps that overlap (altai.png's
/// thumbnail: 57.3 -> 51.7 ms against four rows).
pub const BAND_ROWS: usize = 8;

/// The band for rows wider than [`WIDE_BAND_BYTES`] allows: one register of four rows.
pub const SHORT_BAND_ROWS: usize = 4;

/// The most bytes per row for bands of [`BAND_ROWS`] (8-bit RGB up to 10922 pixels wide,
/// RGBA up to 8192). A band is held twice, filtered in the inflate buffer and unfiltered in
/// our rows (the memory estimate counts `PNG_ROWS_HELD` rows); wider rows take bands of
/// [`SHORT_BAND_ROWS`], so that a very wide row's band stays a few MiB at most.
pub const WIDE_BAND_BYTES: usize = 32 * 1024;

/// The band's height for rows of `stride` bytes (without the filter byte).
pub fn band_rows(stride: usize) -> usize {
    if stride <= WIDE_BAND_BYTES {
        BAND_ROWS
    } else {
        SHORT_BAND_ROWS
    }
}

/// Bytes a row buffer needs past its `stride` bytes: the SSE2 path stores whole 4-byte
/// groups for 3-byte pixels, one byte past a row's end, and reads the row above the same way.
pub const ROW_SLACK: usize = 8;

/// The five filter types, from the byte that starts every filtered row.
pub const NONE: u8 = 0;
pub const SUB: u8 = 1;
pub const UP: u8 = 2;
pub const AVERAGE: u8 = 3;
pub const PAETH: u8 = 4;

/// Unfilters one row: `cur` holds its filtered bytes (without the filter byte), `prev` the
/// row above already unfiltered (zeros for the first row), `out` receives the row. `bpp` is
/// the distance to the left neighbour in bytes (bytes per pixel, at least 1). `filter` must
/// be at most [`PAETH`]: the caller rejects other values, as the png crate does.
pub fn unfilter_row(filter: u8, bpp: usize, prev: &[u8], cur: &[u8], out: &mut [u8]) {
    let n = out.len();
    let (prev, cur) = (&prev[..n], &cur[..n]);
    let head = bpp.min(n);
    match filter {
        NONE => out.copy_from_slice(cur),
        SUB => {
            out[..head].copy_from_slice(&cur[..head]);
            for i in head..n {
                out[i] = cur[i].wrapping_add(out[i - bpp]);
            }
        }
        UP => {
            for ((o, &x), &b) in out.iter_mut().zip(cur).zip(prev) {
                *o = x.wrapping_add(b);
            }
        }
        AVERAGE => {
            for i in 0..head {
                out[i] = cur[i].wrapping_add(prev[i] >> 1);
            }
            for i in head..n {
                let sum = u16::from(out[i - bpp]) + u16::from(prev[i]);
                out[i] = cur[i].wrapping_add((sum >> 1) as u8);
            }
        }
        PAETH => {
            for i in 0..head {
                out[i] = cur[i].wrapping_add(prev[i]);
            }
            for i in head..n {
                out[i] = cur[i].wrapping_add(paeth(out[i - bpp], prev[i], prev[i - bpp]));
            }
        }
        _ => unreachable!("filter type {filter} is rejected before unfiltering"),
    }
}

/// The Paeth predictor as the spec writes it: of left, up and upper-left, the one nearest to
/// `left + up - upper_left`, ties going in that order.
pub fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let p = ia + ib - ic;
    let (pa, pb, pc) = ((p - ia).abs(), (p - ib).abs(), (p - ic).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Unfilters one pixel, `x`, of a row: the edges of the wavefront, where some rows of the
/// band have not started or have already finished. Same arguments as [`unfilter_row`]. Only the
/// x86_64 wavefront has edges; elsewhere every row goes through [`unfilter_row`].
#[cfg(target_arch = "x86_64")]
pub fn unfilter_pixel(filter: u8, bpp: usize, x: usize, prev: &[u8], cur: &[u8], out: &mut [u8]) {
    for i in x * bpp..(x + 1) * bpp {
        let (a, c) = if i >= bpp { (out[i - bpp], prev[i - bpp]) } else { (0, 0) };
        let b = prev[i];
        let pred = match filter {
            NONE => 0,
            SUB => a,
            UP => b,
            AVERAGE => ((u16::from(a) + u16::from(b)) >> 1) as u8,
            PAETH => paeth(a, b, c),
            _ => unreachable!("filter type {filter} is rejected before unfiltering"),
        };
        out[i] = cur[i].wrapping_add(pred);
    }
}

/// Unfilters `band` consecutive rows, [`BAND_ROWS`] or [`SHORT_BAND_ROWS`].
///
/// `filtered` holds them as they come out of the inflater: each row is its filter byte
/// followed by `stride` bytes (so `filtered.len() >= band * (stride + 1)`), and every
/// filter byte is at most [`PAETH`]. `rows` holds `band + 1` rows `pitch` bytes apart
/// (`pitch >= stride + ROW_SLACK`): the first is the row above the band (unfiltered, or
/// zeros), the others receive the band.
pub fn unfilter_band(band: usize, bpp: usize, stride: usize, filtered: &[u8], rows: &mut [u8], pitch: usize) {
    let rowlen = stride + 1;
    assert!(band == BAND_ROWS || band == SHORT_BAND_ROWS);
    assert!(filtered.len() >= band * rowlen && pitch >= stride + ROW_SLACK);
    assert!(rows.len() >= (band + 1) * pitch);
    let all: [u8; BAND_ROWS] = std::array::from_fn(|i| if i < band { filtered[i * rowlen] } else { NONE });
    let filters = &all[..band];
    // Rows that use only the row above have no chain along the row: one at a time is
    // faster (the compiler vectorises Up).
    #[cfg(target_arch = "x86_64")]
    let chained = filters.iter().any(|&f| f == SUB || f == AVERAGE || f == PAETH);
    #[cfg(target_arch = "x86_64")]
    if chained && (bpp == 3 || bpp == 4) && stride / bpp >= band {
        super::unfilter_sse2::unfilter_band(filters, bpp, stride, filtered, rows, pitch);
        return;
    }
    for (i, &filter) in filters.iter().enumerate() {
        let (above, below) = rows.split_at_mut((i + 1) * pitch);
        let prev = &above[i * pitch..][..stride];
        let cur = &filtered[i * rowlen + 1..][..stride];
        unfilter_row(filter, bpp, prev, cur, &mut below[..stride]);
    }
}
