//! A refinement pass's correction bits applied to a block's coefficients on AVX2 lanes (or
//! AVX-512's masked ones, where the CPU has them), all slots at once: where a bit is set for a
//! coefficient the IDCT reads, its magnitude grows by one step of the pass (libjpeg's
//! `decode_mcu_AC_refine`).
//!
//! Why: applied one set bit at a time, the loop runs a data-dependent number of times, and its
//! exit mispredicted at nearly every block of a refinement scan: an eighth of a quarter-scale
//! decode's time on the bench's photos. Here each slot finds its bit by a byte shuffle of the
//! zigzag mask ([`BlockLayout::lane_byte`], [`BlockLayout::lane_bit`]), without a branch.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
#[cfg(target_arch = "x86_64")]
use std::sync::OnceLock;

use super::progressive_ac::BlockLayout;

/// Whether this CPU has AVX-512's byte and word instructions on 256-bit lanes too (AVX512BW
/// and AVX512VL), for [`apply_masked`].
#[cfg(target_arch = "x86_64")]
pub fn masked_lanes() -> bool {
    static MASKED: OnceLock<bool> = OnceLock::new();
    *MASKED.get_or_init(|| is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vl"))
}

/// `block[slot] += sign(block[slot]) * plus` for every slot whose coefficient's zigzag bit is
/// set in `set` and that the IDCT reads, unless that bit of the magnitude is already set (as
/// libjpeg: a corrupt stream can set it twice).
///
/// # Safety
/// The CPU has AVX2; `block` holds `layout.slots` (32 or 64) coefficients.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn apply(block: &mut [i16], layout: &BlockLayout, set: u64, plus: i16) {
    debug_assert!(block.len() == layout.slots && layout.slots % 32 == 0);
    let bytes = _mm256_set1_epi64x(set as i64);
    let plus = _mm256_set1_epi16(plus);
    let zero = _mm256_setzero_si256();
    for chunk in 0..layout.slots / 32 {
        let (index, bit) = (layout.lane_byte[32 * chunk..].as_ptr(), layout.lane_bit[32 * chunk..].as_ptr());
        // Each 128-bit lane holds the mask's 8 bytes twice; byte i picks the byte holding its
        // slot's bit, then keeps that bit: zero where the slot gets nothing.
        let picked = _mm256_and_si256(_mm256_shuffle_epi8(bytes, _mm256_loadu_si256(index.cast())), _mm256_loadu_si256(bit.cast()));
        let untouched = _mm256_cmpeq_epi8(picked, zero);
        for half in 0..2 {
            let untouched = _mm256_cvtepi8_epi16(if half == 0 { _mm256_castsi256_si128(untouched) } else { _mm256_extracti128_si256::<1>(untouched) });
            let at = block.as_mut_ptr().add(32 * chunk + 16 * half).cast::<__m256i>();
            let coefficients = _mm256_loadu_si256(at);
            // One step away from zero, a coin toss which way: (plus ^ sign) - sign.
            let sign = _mm256_srai_epi16::<15>(coefficients);
            let step = _mm256_sub_epi16(_mm256_xor_si256(plus, sign), sign);
            let bit_clear = _mm256_cmpeq_epi16(_mm256_and_si256(coefficients, plus), zero);
            let add = _mm256_andnot_si256(untouched, _mm256_and_si256(bit_clear, step));
            _mm256_storeu_si256(at, _mm256_add_epi16(coefficients, add));
        }
    }
}

/// [`apply`] with AVX-512's masked lanes: the slots' bits as a mask register, one masked add
/// per 32 slots.
///
/// # Safety
/// The CPU has AVX2, AVX512F, AVX512BW and AVX512VL; `block` holds `layout.slots` (32 or 64)
/// coefficients.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn apply_masked(block: &mut [i16], layout: &BlockLayout, set: u64, plus: i16) {
    debug_assert!(block.len() == layout.slots && layout.slots % 32 == 0);
    let bytes = _mm256_set1_epi64x(set as i64);
    let plus = _mm512_set1_epi16(plus);
    for chunk in 0..layout.slots / 32 {
        let (index, bit) = (layout.lane_byte[32 * chunk..].as_ptr(), layout.lane_bit[32 * chunk..].as_ptr());
        let hits = _mm256_test_epi8_mask(_mm256_shuffle_epi8(bytes, _mm256_loadu_si256(index.cast())), _mm256_loadu_si256(bit.cast()));
        let at = block.as_mut_ptr().add(32 * chunk);
        let coefficients = _mm512_loadu_epi16(at);
        let bit_set = _mm512_test_epi16_mask(coefficients, plus);
        let sign = _mm512_srai_epi16::<15>(coefficients);
        let step = _mm512_sub_epi16(_mm512_xor_si512(plus, sign), sign);
        _mm512_storeu_epi16(at, _mm512_mask_add_epi16(coefficients, hits & !bit_set, coefficients, step));
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// On random blocks and masks, for both layouts: both kinds of lanes change exactly what
    /// the one-bit-at-a-time loop changes.
    #[test]
    fn the_lanes_apply_what_the_loop_applies() {
        if !is_x86_feature_detected!("avx2") {
            return;
        }
        let mut random = super::super::TestRandom(0x9E37_79B9_7F4A_7C15);
        let mut next = move || random.next();
        for size in [2, 4] {
            let layout = BlockLayout::for_idct(size);
            for _ in 0..20_000 {
                let plus = 1i16 << (next() % 14);
                let block: Vec<i16> = (0..layout.slots).map(|_| (next() % 512) as i16 - 256).collect();
                let set = next() & next();
                let mut expected = block.clone();
                let mut bits = set & layout.read;
                while bits != 0 {
                    let z = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let coefficient = &mut expected[usize::from(layout.slot_of[z])];
                    if *coefficient & plus == 0 {
                        *coefficient += if *coefficient < 0 { -plus } else { plus };
                    }
                }
                let mut got = block.clone();
                // SAFETY: AVX2 checked above; the block has the layout's slots.
                unsafe { apply(&mut got, layout, set, plus) };
                assert_eq!(got, expected, "size {size} set {set:#x} plus {plus}");
                if masked_lanes() {
                    let mut got = block;
                    // SAFETY: masked_lanes() found AVX-512's; the block has the layout's slots.
                    unsafe { apply_masked(&mut got, layout, set, plus) };
                    assert_eq!(got, expected, "masked: size {size} set {set:#x} plus {plus}");
                }
            }
        }
    }
}
