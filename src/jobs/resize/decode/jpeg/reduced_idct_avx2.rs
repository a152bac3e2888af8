//! libjpeg's 2x2 and 4x4 inverse DCTs ([`idct_2x2`](super::reduced_idct::idct_2x2),
//! [`idct_4x4`](super::reduced_idct::idct_4x4)) written out in AVX2 instructions: the same
//! arithmetic on the same lanes, for the luma (2x2) and the 4:2:0 chroma (4x4) of every
//! quarter-scale decode, where the compiler's own vectorisation of the portable forms left much
//! of them scalar (loads a lane at a time, the row passes' sums and range limits one sample at
//! a time). Held to the portable forms on random blocks, which are held to a 64-bit
//! transcription of libjpeg's.

use std::arch::x86_64::*;

use super::reduced_idct::{dc_only_sample, descale32, range_limit, LaneQuantisers, Wild, READ_AC_4X4_ZIGZAG, READ_AC_ZIGZAG};

/// [`super::reduced_idct::idct_2x2`], the same samples and the same [`Wild`].
///
/// # Safety
/// The CPU has AVX2.
#[inline(always)]
pub unsafe fn idct_2x2(dc: i16, ac: &[i16; 32], nonzero: u64, q: &LaneQuantisers, wild: &mut Wild) -> [[u8; 2]; 2] {
    if nonzero & READ_AC_ZIGZAG == 0 {
        let dc = dc_only_sample(dc, q.dc, wild);
        return [[dc, dc], [dc, dc]];
    }
    // Row r of the 5 x 5 layout, dequantised: lanes 0..5 its columns (5..8 the next row's
    // slots, times a quantiser of 0). Slot 27 is the last read, inside the 32.
    let row = |r: usize| {
        let coefficients = _mm256_cvtepi16_epi32(_mm_loadu_si128(ac.as_ptr().add(5 * r).cast()));
        _mm256_mullo_epi32(coefficients, _mm256_loadu_si256(q.rows[r].as_ptr().cast()))
    };
    let dc = _mm256_set1_epi32(i32::from(dc).wrapping_mul(q.rows[0][0]));
    let v0 = _mm256_blend_epi32::<1>(row(0), dc);
    let (v1, v3, v5, v7) = (row(1), row(2), row(3), row(4));
    // Wild's operand test on every lane: (value + 2^14) >> 15 is 0 inside +-2^14.
    let limit = _mm256_set1_epi32(1 << 14);
    let outside = |x: __m256i| _mm256_srli_epi32::<15>(_mm256_add_epi32(x, limit));
    let mut flags = _mm256_or_si256(_mm256_or_si256(outside(v0), outside(v1)), _mm256_or_si256(outside(v3), _mm256_or_si256(outside(v5), outside(v7))));
    let times = |x: __m256i, c: i32| _mm256_mullo_epi32(x, _mm256_set1_epi32(c));
    let odd = _mm256_add_epi32(_mm256_add_epi32(times(v7, -5906), times(v5, 6967)), _mm256_add_epi32(times(v3, -10426), times(v1, 29692)));
    let even = _mm256_slli_epi32::<15>(v0);
    let round = _mm256_set1_epi32(1 << 12);
    let w0 = _mm256_srai_epi32::<13>(_mm256_add_epi32(_mm256_add_epi32(even, odd), round));
    let w1 = _mm256_srai_epi32::<13>(_mm256_add_epi32(_mm256_sub_epi32(even, odd), round));
    flags = _mm256_or_si256(flags, _mm256_or_si256(outside(w0), outside(w1)));
    wild.0 |= _mm256_testz_si256(flags, flags) == 0;
    // The row pass's odd parts: each work row's lanes 1..=4 times the odd constants, summed
    // across lanes (lanes 0 and 5..8 times 0).
    let constants = _mm256_setr_epi32(0, 29692, -10426, 6967, -5906, 0, 0, 0);
    let sums = _mm256_hadd_epi32(_mm256_mullo_epi32(w0, constants), _mm256_mullo_epi32(w1, constants));
    let sums = _mm256_hadd_epi32(sums, sums);
    let sums = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256::<1>(sums));
    let (odd0, odd1) = (_mm_cvtsi128_si32(sums), _mm_extract_epi32::<1>(sums));
    let (even0, even1) = (_mm256_cvtsi256_si32(w0).wrapping_shl(15), _mm256_cvtsi256_si32(w1).wrapping_shl(15));
    let mut out = [[0u8; 2]; 2];
    for (row, (even, odd)) in out.iter_mut().zip([(even0, odd0), (even1, odd1)]) {
        let (left, right) = (descale32(even.wrapping_add(odd), 20), descale32(even.wrapping_sub(odd), 20));
        wild.result(left);
        wild.result(right);
        *row = [range_limit(left.into()), range_limit(right.into())];
    }
    out
}

/// [`super::reduced_idct::idct_4x4`], the same samples and the same [`Wild`]. The row pass is
/// four dot products per row of the workspace (each output is a fixed sum of the row's terms
/// times constants), which wrap exactly as the portable form's sums do: 32-bit addition is the
/// same in any order.
///
/// # Safety
/// The CPU has AVX2.
#[inline(always)]
pub unsafe fn idct_4x4(dc: i16, ac: &[i16; 64], nonzero: u64, q: &LaneQuantisers, wild: &mut Wild) -> [[u8; 4]; 4] {
    if nonzero & READ_AC_4X4_ZIGZAG == 0 {
        let dc = dc_only_sample(dc, q.dc, wild);
        return [[dc; 4]; 4];
    }
    // Row r of the block in natural order, dequantised: lane c its column c (column 4, and
    // row 4, which the IDCT does not read, times a quantiser of 0).
    let row = |r: usize| {
        let coefficients = _mm256_cvtepi16_epi32(_mm_loadu_si128(ac.as_ptr().add(8 * r).cast()));
        _mm256_mullo_epi32(coefficients, _mm256_loadu_si256(q.rows[r].as_ptr().cast()))
    };
    let v0 = _mm256_blend_epi32::<1>(row(0), _mm256_set1_epi32(i32::from(dc).wrapping_mul(q.rows[0][0])));
    let (v1, v2, v3, v5, v6, v7) = (row(1), row(2), row(3), row(5), row(6), row(7));
    let limit = _mm256_set1_epi32(1 << 14);
    let outside = |x: __m256i| _mm256_srli_epi32::<15>(_mm256_add_epi32(x, limit));
    let or = _mm256_or_si256;
    let mut flags = or(or(or(outside(v0), outside(v1)), or(outside(v2), outside(v3))), or(or(outside(v5), outside(v6)), outside(v7)));
    // The column pass on every column at once (`pass_4x4`), descaled by CONST_BITS - PASS1_BITS + 1.
    let times = |x: __m256i, c: i32| _mm256_mullo_epi32(x, _mm256_set1_epi32(c));
    let add = _mm256_add_epi32;
    let sub = _mm256_sub_epi32;
    let tmp0 = _mm256_slli_epi32::<14>(v0);
    let tmp2 = add(times(v2, 15137), times(v6, -6270));
    let (tmp10, tmp12) = (add(tmp0, tmp2), sub(tmp0, tmp2));
    let odd0 = add(add(times(v7, -1730), times(v5, 11893)), add(times(v3, -17799), times(v1, 8697)));
    let odd2 = add(add(times(v7, -4176), times(v5, -4926)), add(times(v3, 7373), times(v1, 20995)));
    let round = _mm256_set1_epi32(1 << 11);
    let descale = |x: __m256i| _mm256_srai_epi32::<12>(add(x, round));
    let work = [descale(add(tmp10, odd2)), descale(add(tmp12, odd0)), descale(sub(tmp12, odd0)), descale(sub(tmp10, odd2))];
    flags = or(flags, or(or(outside(work[0]), outside(work[1])), or(outside(work[2]), outside(work[3]))));
    wild.0 |= _mm256_testz_si256(flags, flags) == 0;
    // The row pass: output j of a row is its terms (lanes 0..8, lane 4 unread) times
    // `outputs[j]`, summed: `pass_4x4`'s tmp10 + odd2, tmp12 + odd0, tmp12 - odd0, tmp10 - odd2
    // multiplied out.
    let outputs = [
        _mm256_setr_epi32(16384, 20995, 15137, 7373, 0, -4926, -6270, -4176),
        _mm256_setr_epi32(16384, 8697, -15137, -17799, 0, 11893, 6270, -1730),
        _mm256_setr_epi32(16384, -8697, -15137, 17799, 0, -11893, 6270, 1730),
        _mm256_setr_epi32(16384, -20995, 15137, -7373, 0, 4926, -6270, 4176),
    ];
    let final_round = _mm_set1_epi32(1 << 18);
    let result_limit = _mm_set1_epi32(512);
    let mut result_flags = _mm_setzero_si128();
    let samples_of = |w: __m256i, result_flags: &mut __m128i| {
        let products = |j: usize| _mm256_mullo_epi32(w, outputs[j]);
        // Lanes 0..4: the sums of lanes 0..4 of products 0..4; lanes 4..8, of lanes 4..8.
        let halves = _mm256_hadd_epi32(_mm256_hadd_epi32(products(0), products(1)), _mm256_hadd_epi32(products(2), products(3)));
        let sums = _mm_add_epi32(_mm256_castsi256_si128(halves), _mm256_extracti128_si256::<1>(halves));
        // Descaled by CONST_BITS + PASS1_BITS + 3 + 1; a result outside -512..=511 is wild.
        let results = _mm_srai_epi32::<19>(_mm_add_epi32(sums, final_round));
        *result_flags = _mm_or_si128(*result_flags, _mm_srli_epi32::<10>(_mm_add_epi32(results, result_limit)));
        results
    };
    // Called one by one: through `array::map`, compiled without AVX2, the intrinsics became calls.
    let rows = [samples_of(work[0], &mut result_flags), samples_of(work[1], &mut result_flags), samples_of(work[2], &mut result_flags), samples_of(work[3], &mut result_flags)];
    wild.0 |= _mm_testz_si128(result_flags, result_flags) == 0;
    // libjpeg's range limit is a clamp of value + 128 to 0..=255 for results in -512..=511,
    // which is what saturating packs do (the others are wild).
    let centre = _mm_set1_epi16(128);
    let top = _mm_add_epi16(_mm_packs_epi32(rows[0], rows[1]), centre);
    let bottom = _mm_add_epi16(_mm_packs_epi32(rows[2], rows[3]), centre);
    let mut out = [[0u8; 4]; 4];
    _mm_storeu_si128(out.as_mut_ptr().cast(), _mm_packus_epi16(top, bottom));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random block for an IDCT of `idct_size` (`SLOTS` coefficients, a third of them nonzero)
    /// at a scale and with quantisers that change with `round`, from small numbers to numbers
    /// far out of range: its DC, AC slots, nonzero mask (sometimes empty) and quantisers.
    fn random_block<const SLOTS: usize>(next: &mut impl FnMut() -> u64, round: u64, idct_size: usize) -> (i16, [i16; SLOTS], u64, LaneQuantisers) {
        let scale = [3, 6, 9, 12, 15][(round % 5) as usize];
        let mut quantisers = [0u16; 64];
        quantisers.iter_mut().for_each(|q| *q = 1 + (next() % [2, 16, 255, 65535][(round / 5 % 4) as usize]) as u16);
        let value = |next: &mut dyn FnMut() -> u64| ((next() % (1 << scale)) as i64 - (1 << (scale - 1))) as i16;
        let ac: [i16; SLOTS] = std::array::from_fn(|_| if next() % 3 == 0 { value(next) } else { 0 });
        let dc = value(next);
        let nonzero = if next() % 8 == 0 { 0 } else { next() };
        (dc, ac, nonzero, LaneQuantisers::new(&quantisers, idct_size))
    }

    /// Random blocks of every range through both forms of the 2x2 and of the 4x4 (natural
    /// order, row and column 4 included: not read): the same samples, the same verdict.
    #[test]
    fn the_avx2_idcts_equal_the_portable_ones() {
        if !is_x86_feature_detected!("avx2") {
            return;
        }
        let mut random = super::super::TestRandom(0x0DDB_1A5E_5BAD_5EED);
        let mut next = move || random.next();
        let (mut agreed, mut refused) = ([0; 2], [0; 2]);
        for round in 0..200_000u64 {
            let (mut wild, mut portable_wild) = (Wild::default(), Wild::default());
            let (dc, ac, nonzero, q) = random_block::<32>(&mut next, round, 2);
            // SAFETY: AVX2 checked above.
            let got = unsafe { idct_2x2(dc, &ac, nonzero, &q, &mut wild) };
            let expected = super::super::reduced_idct::idct_2x2(dc, &ac, nonzero, &q, &mut portable_wild);
            assert_eq!(wild.seen(), portable_wild.seen(), "2x2, round {round}");
            let same = !wild.seen() && { assert_eq!(got, expected, "2x2, round {round}"); true };
            agreed[0] += usize::from(same);
            refused[0] += usize::from(!same);

            let (mut wild, mut portable_wild) = (Wild::default(), Wild::default());
            let (dc, ac, nonzero, q) = random_block::<64>(&mut next, round, 4);
            // SAFETY: AVX2 checked above.
            let got = unsafe { idct_4x4(dc, &ac, nonzero, &q, &mut wild) };
            let expected = super::super::reduced_idct::idct_4x4(dc, &ac, nonzero, &q, &mut portable_wild);
            assert_eq!(wild.seen(), portable_wild.seen(), "4x4, round {round}");
            let same = !wild.seen() && { assert_eq!(got, expected, "4x4, round {round}"); true };
            agreed[1] += usize::from(same);
            refused[1] += usize::from(!same);
        }
        // Both verdicts are exercised for both IDCTs.
        for i in 0..2 {
            assert!(agreed[i] > 50_000 && refused[i] > 10_000, "{} in range, {} refused", agreed[i], refused[i]);
        }
    }
}
