//! libjpeg's 2x2 inverse DCT ([`idct_2x2`](super::reduced_idct::idct_2x2)) written out in AVX2
//! instructions: the same arithmetic on the same lanes, for the luma of every quarter-scale
//! decode, where the compiler's own vectorisation of the portable form left much of it scalar
//! (loads a lane at a time, the row pass's sums unrolled). Held to the portable form on random
//! blocks, which is held to a 64-bit transcription of libjpeg's.

use std::arch::x86_64::*;

use super::reduced_idct::{dc_only_sample, descale32, range_limit, LaneQuantisers, Wild, READ_AC_ZIGZAG};

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Random blocks of every range through both forms: the same samples, the same verdict.
    #[test]
    fn the_avx2_2x2_equals_the_portable_one() {
        if !is_x86_feature_detected!("avx2") {
            return;
        }
        let mut random = super::super::TestRandom(0x0DDB_1A5E_5BAD_5EED);
        let mut next = move || random.next();
        for round in 0..200_000u64 {
            let scale = [3, 6, 9, 12, 15][(round % 5) as usize];
            let mut quantisers = [0u16; 64];
            quantisers.iter_mut().for_each(|q| *q = 1 + (next() % [2, 16, 255, 65535][(round / 5 % 4) as usize]) as u16);
            let ac: [i16; 32] = std::array::from_fn(|_| if next() % 3 == 0 { ((next() % (1 << scale)) as i64 - (1 << (scale - 1))) as i16 } else { 0 });
            let dc = ((next() % (1 << scale)) as i64 - (1 << (scale - 1))) as i16;
            let nonzero = if next() % 8 == 0 { 0 } else { next() };
            let q = LaneQuantisers::new(&quantisers, 2);
            let (mut wild, mut portable_wild) = (Wild::default(), Wild::default());
            // SAFETY: AVX2 checked above.
            let got = unsafe { idct_2x2(dc, &ac, nonzero, &q, &mut wild) };
            let expected = super::super::reduced_idct::idct_2x2(dc, &ac, nonzero, &q, &mut portable_wild);
            assert_eq!(wild.seen(), portable_wild.seen(), "round {round}");
            if !wild.seen() {
                assert_eq!(got, expected, "round {round}");
            }
        }
    }
}
