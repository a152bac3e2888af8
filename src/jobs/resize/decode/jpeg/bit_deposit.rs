//! Two bit manipulations of a progressive JPEG's refinement passes, by BMI2's PDEP where it
//! is fast, else by loops: finding the zero coefficient a code's run of zeros ends at, and
//! spreading correction bits onto the nonzero coefficients they belong to.
//!
//! Why: both loops run a data-dependent number of times, a branch mispredicted at nearly every
//! code of a refinement scan; PDEP does either in one instruction.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::_pdep_u64;
#[cfg(target_arch = "x86_64")]
use std::sync::OnceLock;

/// Whether this CPU has BMI2, POPCNT and AVX2 and runs PDEP in hardware: AMD cores before Zen 3
/// (family 0x19) have it in microcode, hundreds of cycles an instruction, slower than the loops.
/// Other architectures have no PDEP and always take the loops, which the tests run everywhere.
#[cfg(target_arch = "x86_64")]
pub fn fast_pdep() -> bool {
    #[cfg(test)]
    if LOOPS_ONLY.get() {
        return false;
    }
    static FAST: OnceLock<bool> = OnceLock::new();
    *FAST.get_or_init(detect)
}

#[cfg(test)]
thread_local! {
    static LOOPS_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on this thread as on a CPU without fast PDEP, so that tests cover both ways
/// whatever machine they run on.
#[cfg(test)]
pub fn without_pdep<T>(f: impl FnOnce() -> T) -> T {
    LOOPS_ONLY.set(true);
    let result = f();
    LOOPS_ONLY.set(false);
    result
}

#[cfg(target_arch = "x86_64")]
fn detect() -> bool {
    use std::arch::x86_64::__cpuid;
    // AVX2 too: the same compiled path applies correction bits on vector lanes
    // ([`super::correction_lanes`]); every CPU with a fast PDEP has it.
    if !is_x86_feature_detected!("bmi2") || !is_x86_feature_detected!("popcnt") || !is_x86_feature_detected!("avx2") {
        return false;
    }
    // CPUID leaves 0 and 1 exist on every x86_64 CPU.
    let (vendor, signature) = (__cpuid(0), __cpuid(1).eax);
    let amd = (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6E65, 0x444D_4163); // "AuthenticAMD"
    let family = ((signature >> 8) & 0xF) + ((signature >> 20) & 0xFF);
    !amd || family >= 0x19
}

/// Set bit number `n` (from 0, lowest first) of `bits`, or `past` (the bit after the band, 0
/// for none) when `bits` has no more: a mask whose lowest set bit is that place (none: 64).
/// A mask, not a position, so that the bits below it come without counting zeros first
/// (`(t - 1) & !t`), a step less on the chain every refinement symbol waits on.
#[inline(always)]
pub fn nth_set_bit<const PDEP: bool>(bits: u64, n: u32, past: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if PDEP {
        // SAFETY: PDEP is true only where `fast_pdep()` found BMI2.
        return unsafe { _pdep_u64(1 << n, bits) } | past;
    }
    let mut bits = bits;
    for _ in 0..n {
        bits &= bits.wrapping_sub(1);
    }
    if bits == 0 { past } else { bits }
}

/// `read` holds `n` (1..=56) bits, the first read as its highest: they are placed, in that
/// order, on the `n` lowest set positions of `mask`. Returns the positions that got a 1, and
/// the positions covered.
#[inline(always)]
pub fn spread<const PDEP: bool>(read: u64, n: u32, mask: u64) -> (u64, u64) {
    debug_assert!((1..=56).contains(&n) && n <= mask.count_ones());
    #[cfg(target_arch = "x86_64")]
    if PDEP {
        // PDEP places the lowest bit first: reversed, the first bit read is the lowest.
        let reversed = read.reverse_bits() >> (64 - n);
        // SAFETY: PDEP is true only where `fast_pdep()` found BMI2.
        return unsafe { (_pdep_u64(reversed, mask), _pdep_u64(u64::MAX >> (64 - n), mask)) };
    }
    // Without a branch per bit: about half are set, at random.
    let (mut rest, mut set) = (mask, 0u64);
    for i in (0..n).rev() {
        let lowest = rest & rest.wrapping_neg();
        rest ^= lowest;
        set |= lowest & ((read >> i) & 1).wrapping_neg();
    }
    (set, mask ^ rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the PDEP forms can run here (never off x86_64, where only the loops exist).
    fn pdep_here() -> bool {
        #[cfg(target_arch = "x86_64")]
        return super::fast_pdep();
        #[cfg(not(target_arch = "x86_64"))]
        return false;
    }

    /// Both ways agree, on random masks and bits (where this CPU has PDEP; the loops otherwise
    /// against a plain reference).
    #[test]
    fn pdep_and_the_loops_agree() {
        let mut random = super::super::TestRandom(0x9E37_79B9_7F4A_7C15);
        let mut next = move || random.next();
        for _ in 0..100_000 {
            let mask = next() & next(); // about 16 bits set
            let bits = next();
            // The bit after the band: above all of mask's, or none.
            let above = 64 - mask.leading_zeros();
            let past = if above == 64 || next() & 1 == 0 { 0 } else { 1u64 << (above + (next() % u64::from(64 - above)) as u32) };
            let n = (next() % 17) as u32;
            let reference = {
                let set: Vec<u32> = (0..64).filter(|&b| mask >> b & 1 == 1).collect();
                set.get(n as usize).map(|&b| b as usize).unwrap_or(past.trailing_zeros() as usize)
            };
            assert_eq!(nth_set_bit::<false>(mask, n, past).trailing_zeros() as usize, reference);
            if pdep_here() {
                assert_eq!(nth_set_bit::<true>(mask, n, past).trailing_zeros() as usize, reference);
            }
            let count = mask.count_ones().min(56);
            if count == 0 {
                continue;
            }
            let take = 1 + (next() % u64::from(count)) as u32;
            let read = bits >> (64 - take);
            let positions: Vec<u32> = (0..64).filter(|&b| mask >> b & 1 == 1).take(take as usize).collect();
            let covered = positions.iter().fold(0u64, |m, &b| m | 1 << b);
            let set = positions.iter().enumerate().fold(0u64, |m, (i, &b)| m | ((read >> (take - 1 - i as u32)) & 1) << b);
            assert_eq!(spread::<false>(read, take, mask), (set, covered));
            if pdep_here() {
                assert_eq!(spread::<true>(read, take, mask), (set, covered));
            }
        }
    }
}
