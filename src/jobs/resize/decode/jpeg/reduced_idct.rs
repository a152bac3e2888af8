//! libjpeg-turbo's reduced inverse DCTs (`jidctred.c`): 2x2 and 4x4 samples from a block's
//! coefficients, and the one sample of a block whose read AC coefficients are zero, bit for bit.
//!
//! The column pass runs on eight 32-bit lanes, one per column of the block, so that the
//! compiler turns it into vector instructions (eight lanes at once where the caller is compiled
//! for AVX2): most of a quarter-scale decode's pixel time was these passes in scalar 64-bit
//! arithmetic. 32 bits are exact wherever the result is kept: [`Wild`] refuses every block whose
//! numbers leave the range where they could overflow.
//!
//! Exact or refused: libjpeg-turbo computes its 2x2 and 4x4 IDCTs with SIMD where the CPU has
//! it (SSE2 on every x86-64) and in C elsewhere, and the two agree only while the numbers stay
//! in range (see [`Wild`]). Real 8-bit data stays far inside; a crafted file (coefficients
//! shifted by a successive-approximation bit position of 13) does not, and is then left to
//! libjpeg rather than decoded here to pixels libjpeg would not produce.

use super::progressive_ac::{coefficients_read, TWO_BY_TWO_READS};

/// libjpeg's post-IDCT range limit, as its table (`prepare_range_limit_table`) is indexed:
/// `value & 1023` clamps to 0..=255 over what real data produces and wraps beyond. A table,
/// as libjpeg's: which arm a sample takes (darker or brighter than mid-grey) is data, and a
/// branch on it mispredicts.
#[inline(always)]
pub fn range_limit(value: i64) -> u8 {
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
pub struct Wild(pub(super) bool);

impl Wild {
    /// A dequantised coefficient or a workspace value.
    #[inline(always)]
    fn operand(&mut self, value: i64) {
        self.0 |= operand_bits(value as i32) != 0 || value != i64::from(value as i32);
    }

    /// A result before the range limit.
    #[inline(always)]
    pub(super) fn result(&mut self, value: i32) {
        self.0 |= (value.wrapping_add(512) as u32) >= 1024;
    }

    /// Whether some value was out of range.
    pub fn seen(&self) -> bool {
        self.0
    }
}

/// Nonzero when a dequantised coefficient or workspace value is outside +-2^14 ([`Wild`]), else
/// 0 (the bits of `value + 2^14` above the lowest 15): ORed over lanes without a branch.
#[inline(always)]
fn operand_bits(value: i32) -> u32 {
    const LIMIT: i32 = 1 << 14;
    value.wrapping_add(LIMIT) as u32 >> 15
}

/// A coefficient times its quantiser as libjpeg's SIMD build multiplies them (quantisers kept
/// as 16-bit multipliers).
#[inline(always)]
pub fn dequantise(coefficient: i16, quantiser: u16) -> i64 {
    i64::from(i32::from(coefficient) * i32::from(quantiser as i16))
}

/// JPEG's DESCALE: divide by 2^n, rounding half up.
#[inline(always)]
pub fn descale(value: i64, n: u32) -> i64 {
    (value + (1 << (n - 1))) >> n
}

/// [`descale`] in 32 bits (exact while [`Wild`] is quiet; wrapping otherwise, and refused).
#[inline(always)]
pub(super) fn descale32(value: i32, n: u32) -> i32 {
    value.wrapping_add(1 << (n - 1)) >> n
}

/// A component's quantisers laid out as its IDCT reads the block: eight lanes per row of
/// coefficients, the lanes of coefficients the IDCT does not read set to 0 (so they dequantise
/// to 0 whatever the block holds there), as 16-bit multipliers widened ([`dequantise`]).
pub struct LaneQuantisers {
    pub(super) rows: [[i32; 8]; 8],
    pub(super) dc: u16,
}

impl LaneQuantisers {
    /// For the IDCT of `idct_size` (2: the 5 x 5 layout of rows and columns
    /// [`TWO_BY_TWO_READS`]; 4: natural order, row and column 4 unread).
    pub fn new(quantisers: &[u16; 64], idct_size: usize) -> LaneQuantisers {
        let mut rows = [[0i32; 8]; 8];
        let read: &[usize] = if idct_size == 2 { &TWO_BY_TWO_READS } else { &[0, 1, 2, 3, 5, 6, 7] };
        for (r, &row) in read.iter().enumerate() {
            for (c, &column) in read.iter().enumerate() {
                let (lane_row, lane) = if idct_size == 2 { (r, c) } else { (row, column) };
                rows[lane_row][lane] = i32::from(quantisers[row * 8 + column] as i16);
            }
        }
        LaneQuantisers { rows, dc: quantisers[0] }
    }
}

/// `ROWS` rows of a block's coefficients dequantised on eight lanes, row r from `ac[STRIDE *
/// r..]` and the DC in lane 0 of row 0 (slot 0 is not read), and each lane's out-of-range bits
/// ([`operand_bits`]), ORed together by the caller at the end: a branch-free vector OR.
#[inline(always)]
fn dequantised_rows<const ROWS: usize, const STRIDE: usize, const SLOTS: usize>(dc: i16, ac: &[i16; SLOTS], q: &LaneQuantisers) -> ([[i32; 8]; ROWS], [u32; 8]) {
    let mut v = [[0i32; 8]; ROWS];
    for (r, row) in v.iter_mut().enumerate() {
        for (c, value) in row.iter_mut().enumerate() {
            *value = i32::from(ac[STRIDE * r + c]).wrapping_mul(q.rows[r][c]);
        }
    }
    v[0][0] = i32::from(dc).wrapping_mul(q.rows[0][0]);
    let mut out_of_range = [0u32; 8];
    for row in &v {
        for (flag, &value) in out_of_range.iter_mut().zip(row) {
            *flag |= operand_bits(value);
        }
    }
    (v, out_of_range)
}

/// The AC coefficients `jpeg_idct_2x2` reads (rows and columns 0, 1, 3, 5 and 7, but (0, 0)),
/// as a mask of zigzag indices.
pub(super) const READ_AC_ZIGZAG: u64 = coefficients_read(2) & !1;

/// The odd part of `jpeg_idct_2x2`'s passes: FIX(x) = x * 2^13 rounded, sqrt(2) times sums of
/// the odd cosines, on the terms of rows (or columns) 1, 3, 5 and 7.
#[inline(always)]
fn odd_2x2(v1: i32, v3: i32, v5: i32, v7: i32) -> i32 {
    v7.wrapping_mul(-5906).wrapping_add(v5.wrapping_mul(6967)).wrapping_add(v3.wrapping_mul(-10426)).wrapping_add(v1.wrapping_mul(29692))
}

/// libjpeg's `jpeg_idct_2x2`: the 2x2 samples of a block from its coefficients in rows and
/// columns 0, 1, 3, 5 and 7 (`ac` in the 5 x 5 layout the decoder keeps for it,
/// [`TWO_BY_TWO_READS`], padded to 32 slots; slot 0 is not read: `dc` is), in its fixed-point
/// arithmetic (13 fraction bits, 2 more kept between the passes). Values out of range are
/// noted in `wild`.
#[inline(always)]
pub fn idct_2x2(dc: i16, ac: &[i16; 32], nonzero: u64, q: &LaneQuantisers, wild: &mut Wild) -> [[u8; 2]; 2] {
    const CONST_BITS: u32 = 13;
    const PASS1_BITS: u32 = 2;
    // Most chroma blocks have no AC coefficient the 2x2 reads (`nonzero` says which are set):
    // both passes then keep the DC.
    if nonzero & READ_AC_ZIGZAG == 0 {
        let dc = dc_only_sample(dc, q.dc, wild);
        return [[dc, dc], [dc, dc]];
    }
    // Lane c of row r: the coefficient in row r, column c of the 5 x 5 layout (lanes 5 to 7
    // read the next row's slots, times a quantiser of 0).
    let (v, mut out_of_range) = dequantised_rows::<5, 5, 32>(dc, ac, q);
    // Columns, then rows, without libjpeg's zero-column and zero-row shortcuts: a zero odd
    // part descales the even part to the same number the shortcut gives, and a branch on
    // the data mispredicts more than the arithmetic costs. libjpeg keeps the column pass in an
    // int workspace: `work[r][c]`, row r of column c.
    let mut work = [[0i32; 8]; 2];
    for c in 0..8 {
        let even = v[0][c].wrapping_shl(CONST_BITS + 2);
        let odd = odd_2x2(v[1][c], v[2][c], v[3][c], v[4][c]);
        work[0][c] = descale32(even.wrapping_add(odd), CONST_BITS - PASS1_BITS + 2);
        work[1][c] = descale32(even.wrapping_sub(odd), CONST_BITS - PASS1_BITS + 2);
        out_of_range[c] |= operand_bits(work[0][c]) | operand_bits(work[1][c]);
    }
    wild.0 |= out_of_range.iter().fold(0, |all, &flag| all | flag) != 0;
    let shift = CONST_BITS + PASS1_BITS + 3 + 2;
    let mut out = [[0u8; 2]; 2];
    for (row, w) in out.iter_mut().zip(&work) {
        let even = w[0].wrapping_shl(CONST_BITS + 2);
        let odd = odd_2x2(w[1], w[2], w[3], w[4]);
        let (left, right) = (descale32(even.wrapping_add(odd), shift), descale32(even.wrapping_sub(odd), shift));
        wild.result(left);
        wild.result(right);
        *row = [range_limit(left.into()), range_limit(right.into())];
    }
    out
}

/// The one sample value of a block whose read AC coefficients are all zero, as both reduced
/// IDCTs compute it (their column pass keeps the DC shifted by PASS1_BITS = 2 in an int, the
/// row pass descales it by PASS1_BITS + 3), with its values noted in `wild`.
#[inline(always)]
pub(super) fn dc_only_sample(dc: i16, quantiser: u16, wild: &mut Wild) -> u8 {
    const PASS1_BITS: u32 = 2;
    let dequantised = dequantise(dc, quantiser);
    wild.operand(dequantised);
    let dc = ((dequantised as i32 as u32) << PASS1_BITS) as i32;
    wild.operand(i64::from(dc));
    let dc = descale(i64::from(dc), PASS1_BITS + 3);
    wild.result(dc as i32);
    range_limit(dc)
}

/// The AC coefficients `jpeg_idct_4x4` reads (rows and columns other than 4, but (0, 0)), as
/// a mask of zigzag indices.
pub(super) const READ_AC_4X4_ZIGZAG: u64 = coefficients_read(4) & !1;

/// One 4-point pass of `jpeg_idct_4x4` over the terms of rows (or columns) 0, 1, 2, 3, 5, 6
/// and 7: its four outputs before descaling.
#[inline(always)]
fn pass_4x4(v0: i32, v1: i32, v2: i32, v3: i32, v5: i32, v6: i32, v7: i32) -> [i32; 4] {
    let tmp0 = v0.wrapping_shl(13 + 1);
    let tmp2 = v2.wrapping_mul(15137).wrapping_add(v6.wrapping_mul(-6270));
    let (tmp10, tmp12) = (tmp0.wrapping_add(tmp2), tmp0.wrapping_sub(tmp2));
    let (z1, z2, z3, z4) = (v7, v5, v3, v1);
    let odd0 = z1.wrapping_mul(-1730).wrapping_add(z2.wrapping_mul(11893)).wrapping_add(z3.wrapping_mul(-17799)).wrapping_add(z4.wrapping_mul(8697));
    let odd2 = z1.wrapping_mul(-4176).wrapping_add(z2.wrapping_mul(-4926)).wrapping_add(z3.wrapping_mul(7373)).wrapping_add(z4.wrapping_mul(20995));
    [tmp10.wrapping_add(odd2), tmp12.wrapping_add(odd0), tmp12.wrapping_sub(odd0), tmp10.wrapping_sub(odd2)]
}

/// libjpeg's `jpeg_idct_4x4`: the 4x4 samples of a block from its coefficients in rows and
/// columns other than 4 (`ac` in natural order; slot 0 is not read: `dc` is), in its
/// fixed-point arithmetic (as [`idct_2x2`]). Values out of range are noted in `wild`.
#[inline(always)]
pub fn idct_4x4(dc: i16, ac: &[i16; 64], nonzero: u64, q: &LaneQuantisers, wild: &mut Wild) -> [[u8; 4]; 4] {
    const CONST_BITS: u32 = 13;
    const PASS1_BITS: u32 = 2;
    if nonzero & READ_AC_4X4_ZIGZAG == 0 {
        let dc = dc_only_sample(dc, q.dc, wild);
        return [[dc; 4]; 4];
    }
    // Lane c of row r: the coefficient in row r, column c (row and column 4 times 0).
    let (v, mut out_of_range) = dequantised_rows::<8, 8, 64>(dc, ac, q);
    // Without libjpeg's zero-column and zero-row shortcuts, as in `idct_2x2`; `work[r][c]`.
    let mut work = [[0i32; 8]; 4];
    for c in 0..8 {
        let column = pass_4x4(v[0][c], v[1][c], v[2][c], v[3][c], v[5][c], v[6][c], v[7][c]);
        for (row, value) in column.into_iter().enumerate() {
            work[row][c] = descale32(value, CONST_BITS - PASS1_BITS + 1);
            out_of_range[c] |= operand_bits(work[row][c]);
        }
    }
    wild.0 |= out_of_range.iter().fold(0, |all, &flag| all | flag) != 0;
    let mut out = [[0u8; 4]; 4];
    for (row, w) in out.iter_mut().zip(work) {
        for (sample, value) in row.iter_mut().zip(pass_4x4(w[0], w[1], w[2], w[3], w[5], w[6], w[7])) {
            let value = descale32(value, CONST_BITS + PASS1_BITS + 3 + 1);
            wild.result(value);
            *sample = range_limit(value.into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::progressive_ac::BlockLayout;

    #[test]
    fn a_2x2_idct_of_a_flat_block_is_flat_and_of_a_gradient_is_not() {
        let q = LaneQuantisers::new(&[2u16; 64], 2);
        let mut ac = [0i16; 32];
        let dc = 40; // 80 dequantised: 10 above mid-grey
        assert_eq!(idct_2x2(dc, &ac, 0, &q, &mut Wild::default()), [[138, 138], [138, 138]]);
        ac[1] = 20; // a horizontal cosine (row 0, column 1; zigzag index 1): left brighter than right
        let [[left, right], [left2, right2]] = idct_2x2(dc, &ac, 1 << 1, &q, &mut Wild::default());
        assert!(left > 138 && right < 138 && (left, right) == (left2, right2), "{left} {right}");
    }

    /// Random blocks, from small coefficients to ones far out of range, through both IDCTs and
    /// through a plain 64-bit transcription of `jidctred.c` (below): the same samples whenever
    /// the 64-bit one stays in range, and `Wild` exactly when it does not.
    #[test]
    fn the_lane_idcts_equal_libjpegs_arithmetic_in_64_bits() {
        let mut random = super::super::TestRandom(0x2545_F491_4F6C_DD1D);
        for round in 0..200_000 {
            let scale = [3, 6, 9, 12, 15][round % 5];
            let mut natural = [0i16; 64];
            let mut quantisers = [0u16; 64];
            let mut nonzero = 0u64;
            for k in 0..64 {
                let position = super::super::progressive_ac::natural(k);
                if random.next() % 3 == 0 {
                    natural[position] = ((random.next() % (1 << scale)) as i64 - (1 << (scale - 1))) as i16;
                }
                if k > 0 && natural[position] != 0 {
                    nonzero |= 1 << k;
                }
                quantisers[position] = 1 + (random.next() % [2, 16, 100, 255, 65535][round / 5 % 5]) as u16;
            }
            let dc = natural[0];
            for size in [2, 4] {
                let layout = BlockLayout::for_idct(size);
                let mut ac = vec![0i16; layout.slots];
                for k in 1..64 {
                    if layout.slot_of[k] != 0 || size == 4 {
                        ac[usize::from(layout.slot_of[k])] = natural[super::super::progressive_ac::natural(k)];
                    }
                }
                ac[0] = 0x5A5A; // not read
                let q = LaneQuantisers::new(&quantisers, size);
                let (mut wild, mut reference_wild) = (Wild::default(), Wild::default());
                let (got, expected): (Vec<u8>, Vec<u8>) = if size == 2 {
                    (
                        idct_2x2(dc, ac[..].try_into().unwrap(), nonzero, &q, &mut wild).concat(),
                        reference::idct_2x2(&natural, nonzero, &quantisers, &mut reference_wild).concat(),
                    )
                } else {
                    (
                        idct_4x4(dc, ac[..].try_into().unwrap(), nonzero, &q, &mut wild).concat(),
                        reference::idct_4x4(&natural, nonzero, &quantisers, &mut reference_wild).concat(),
                    )
                };
                assert_eq!(wild.seen(), reference_wild.seen(), "round {round} size {size}");
                if !wild.seen() {
                    assert_eq!(got, expected, "round {round} size {size}");
                }
            }
        }
    }

    /// `jidctred.c`'s 2x2 and 4x4 in 64-bit arithmetic from a block in natural order: the
    /// transcription the decoder used before its lanes, kept as their yardstick.
    mod reference {
        use super::super::*;

        fn value(natural: &[i16; 64], quantisers: &[u16; 64], row: usize, column: usize, wild: &mut Wild) -> i64 {
            let v = dequantise(natural[row * 8 + column], quantisers[row * 8 + column]);
            wild.operand(v);
            v
        }

        fn result(value: i64, wild: &mut Wild) -> u8 {
            wild.0 |= (value + 512) as u64 >= 1024;
            range_limit(value)
        }

        pub fn idct_2x2(natural: &[i16; 64], nonzero: u64, quantisers: &[u16; 64], wild: &mut Wild) -> [[u8; 2]; 2] {
            if nonzero & READ_AC_ZIGZAG == 0 {
                let dc = dc_only_sample(natural[0], quantisers[0], wild);
                return [[dc, dc], [dc, dc]];
            }
            let odd = |v1: i64, v3: i64, v5: i64, v7: i64| v7 * -5906 + v5 * 6967 + v3 * -10426 + v1 * 29692;
            let mut work = [[0i64; 5]; 2];
            for (slot, column) in TWO_BY_TWO_READS.into_iter().enumerate() {
                let v: Vec<i64> = TWO_BY_TWO_READS.iter().map(|&row| value(natural, quantisers, row, column, wild)).collect();
                let even = v[0] << 15;
                let odd = odd(v[1], v[2], v[3], v[4]);
                work[0][slot] = i64::from(descale(even + odd, 13) as i32);
                work[1][slot] = i64::from(descale(even - odd, 13) as i32);
                wild.operand(work[0][slot]);
                wild.operand(work[1][slot]);
            }
            let mut out = [[0u8; 2]; 2];
            for (row, w) in out.iter_mut().zip(&work) {
                let even = w[0] << 15;
                let odd = odd(w[1], w[2], w[3], w[4]);
                *row = [result(descale(even + odd, 20), wild), result(descale(even - odd, 20), wild)];
            }
            out
        }

        pub fn idct_4x4(natural: &[i16; 64], nonzero: u64, quantisers: &[u16; 64], wild: &mut Wild) -> [[u8; 4]; 4] {
            if nonzero & READ_AC_4X4_ZIGZAG == 0 {
                let dc = dc_only_sample(natural[0], quantisers[0], wild);
                return [[dc; 4]; 4];
            }
            let pass = |v: [i64; 8]| {
                let tmp0 = v[0] << 14;
                let tmp2 = v[2] * 15137 + v[6] * -6270;
                let (tmp10, tmp12) = (tmp0 + tmp2, tmp0 - tmp2);
                let (z1, z2, z3, z4) = (v[7], v[5], v[3], v[1]);
                let odd0 = z1 * -1730 + z2 * 11893 + z3 * -17799 + z4 * 8697;
                let odd2 = z1 * -4176 + z2 * -4926 + z3 * 7373 + z4 * 20995;
                [tmp10 + odd2, tmp12 + odd0, tmp12 - odd0, tmp10 - odd2]
            };
            let mut work = [[0i64; 8]; 4];
            for column in [0, 1, 2, 3, 5, 6, 7] {
                let mut v = [0i64; 8];
                for row in [0, 1, 2, 3, 5, 6, 7] {
                    v[row] = value(natural, quantisers, row, column, wild);
                }
                for (row, value) in pass(v).into_iter().enumerate() {
                    work[row][column] = i64::from(descale(value, 12) as i32);
                    wild.operand(work[row][column]);
                }
            }
            let mut out = [[0u8; 4]; 4];
            for (row, w) in out.iter_mut().zip(work) {
                for (sample, value) in row.iter_mut().zip(pass(w)) {
                    *sample = result(descale(value, 19), wild);
                }
            }
            out
        }
    }
}
