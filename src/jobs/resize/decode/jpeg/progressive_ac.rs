//! One block of a progressive AC scan, first pass or refinement, decoded as libjpeg-turbo's
//! `decode_mcu_AC_first` and `decode_mcu_AC_refine` do (JPEG's G.1.2.2 and G.1.2.3), for the
//! components whose reduced inverse DCT reads AC coefficients; and which coefficients each
//! reduced IDCT reads (scan pruning, the IDCTs and the block layouts all ask here).

use super::bit_deposit::{nth_set_bit, spread};
#[cfg(target_arch = "x86_64")]
use super::correction_lanes;
use super::entropy::{extend, BitReader, HuffmanTable};

/// Zigzag index to position in the block (row * 8 + column), as libjpeg's
/// `jpeg_natural_order`, with the 16 extra entries libjpeg keeps so that a corrupt run past coefficient 63 lands on 63 instead of outside the block.
const NATURAL: [u8; 80] = {
    const ORDER: [u8; 64] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
        28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
        54, 47, 55, 62, 63,
    ];
    let mut table = [63u8; 80];
    let mut k = 0;
    while k < 64 {
        table[k] = ORDER[k];
        k += 1;
    }
    table
};

/// The rows and columns (0..8) libjpeg's reduced IDCT of `idct_size` samples per block reads
/// (`jidctred.c`): 1x1 the DC alone, 2x2 the odd terms and 0, 4x4 all but 4.
pub const fn lines_read(idct_size: usize) -> &'static [usize] {
    match idct_size {
        1 => &[0],
        2 => &TWO_BY_TWO_READS,
        4 => &[0, 1, 2, 3, 5, 6, 7],
        _ => &[0, 1, 2, 3, 4, 5, 6, 7],
    }
}

/// The coefficients that IDCT reads, as a mask of zigzag indices (bit 0, the DC, included).
pub const fn coefficients_read(idct_size: usize) -> u64 {
    let lines = lines_read(idct_size);
    let mut mask = 0u64;
    let mut k = 0;
    while k < 64 {
        let position = NATURAL[k] as usize;
        if index_in(lines, position / 8) < lines.len() && index_in(lines, position % 8) < lines.len() {
            mask |= 1 << k;
        }
        k += 1;
    }
    mask
}

/// The index of `line` in `lines`, or `lines.len()` when it is not there.
const fn index_in(lines: &[usize], line: usize) -> usize {
    let mut i = 0;
    while i < lines.len() && lines[i] != line {
        i += 1;
    }
    i
}

/// Where a block's AC coefficients are stored: a slot for each zigzag index (and for libjpeg's
/// 16 overflow entries, which land where index 63 does).
pub struct BlockLayout {
    /// Slots per block.
    pub slots: usize,
    pub slot_of: [u8; 80],
    /// The AC coefficients (zigzag indices) the IDCT reads. Refinement passes update only their
    /// values; of the others only whether they are nonzero matters, which the mask keeps.
    pub read: u64,
    /// Per slot, for the correction lanes ([`super::correction_lanes`]): the byte of a zigzag
    /// mask that holds the bit of the coefficient kept there, and that bit within the byte (0
    /// for a slot the IDCT does not read). Read on x86-64 only.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub lane_byte: [u8; 64],
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub lane_bit: [u8; 64],
}

impl BlockLayout {
    /// The layout of `slots` slots, `slot_of` as the field, `read` the coefficients kept.
    const fn new(slots: usize, slot_of: [u8; 80], read: u64) -> BlockLayout {
        let (mut lane_byte, mut lane_bit) = ([0u8; 64], [0u8; 64]);
        let mut k = 1;
        while k < 64 {
            if read >> k & 1 == 1 {
                let slot = slot_of[k] as usize;
                lane_byte[slot] = (k / 8) as u8;
                lane_bit[slot] = 1 << (k % 8);
            }
            k += 1;
        }
        BlockLayout { slots, slot_of, read, lane_byte, lane_bit }
    }

    /// The layout for a reduced IDCT of `idct_size` samples per block: 2x2 keeps only what
    /// it reads, 4x4 (which reads all but row and column 4) the natural order.
    pub const fn for_idct(idct_size: usize) -> &'static BlockLayout {
        match idct_size {
            2 => &TWO_BY_TWO,
            4 => &FOUR_BY_FOUR,
            _ => &DC_ONLY,
        }
    }
}

/// All 64 positions in natural order (row * 8 + column), for the 4x4 IDCT.
const FOUR_BY_FOUR: BlockLayout = BlockLayout::new(64, NATURAL, coefficients_read(4) & !1);

/// For components whose IDCT reads no AC coefficient (they keep none).
const DC_ONLY: BlockLayout = BlockLayout::new(64, NATURAL, 0);

/// The rows and columns libjpeg's 2x2 IDCT reads, in this order.
pub const TWO_BY_TWO_READS: [usize; 5] = [0, 1, 3, 5, 7];

/// What libjpeg's 2x2 IDCT reads, rows and columns 0, 1, 3, 5, 7: 5 x 5 slots (`row' * 5 +
/// column'`, the index of each in [`TWO_BY_TWO_READS`]), padded to 32, a cache line per block
/// instead of two. Every other coefficient is written to slot 0, the place of the DC, which is
/// kept apart: of those only whether they are zero matters, and the nonzero mask keeps that.
const TWO_BY_TWO: BlockLayout = {
    let mut slot_of = [0u8; 80];
    let mut k = 0;
    while k < 80 {
        let position = NATURAL[k] as usize;
        let (row, column) = (index_in(&TWO_BY_TWO_READS, position / 8), index_in(&TWO_BY_TWO_READS, position % 8));
        if row < 5 && column < 5 {
            slot_of[k] = (row * 5 + column) as u8;
        }
        k += 1;
    }
    BlockLayout::new(32, slot_of, coefficients_read(2) & !1)
};

/// A scan's band and bit position, and the run of blocks its last end-of-band code still
/// covers.
pub struct AcBand<'t> {
    pub table: &'t HuffmanTable,
    pub ss: usize,
    pub se: usize,
    pub al: u8,
    pub layout: &'static BlockLayout,
    pub end_of_band_run: u32,
}

impl AcBand<'_> {
    /// A first pass over the band: coefficients `value << al`.
    /// `nonzero` is the block's mask of nonzero AC coefficients, kept up to date.
    pub fn first(&mut self, reader: &mut BitReader, block: &mut [i16], nonzero: &mut u64) -> Result<(), &'static str> {
        if self.end_of_band_run > 0 {
            self.end_of_band_run -= 1;
            return Ok(());
        }
        let mut k = self.ss;
        while k <= self.se {
            reader.load_32();
            if let Some((run, value)) = reader.loaded_short_coefficient(self.table) {
                k += run;
                self.put(block, nonzero, k, value);
                k += 1;
                continue;
            }
            let symbol = reader.loaded_symbol(self.table)?;
            let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
            if size != 0 {
                k += run;
                self.put(block, nonzero, k, extend(reader.loaded_bits(size), size));
            } else if run == 15 {
                k += 15;
            } else {
                self.end_of_band_run = self.run_length(reader, run as u32) - 1;
                break;
            }
            k += 1;
        }
        Ok(())
    }

    /// A first pass's coefficient `value << al` at zigzag index `k` (past 63 when a corrupt run
    /// overran the block: libjpeg's extra entries put it where 63 goes).
    #[inline(always)]
    fn put(&self, block: &mut [i16], nonzero: &mut u64, k: usize, value: i32) {
        let coefficient = ((value as u32) << self.al) as i32 as i16;
        block[usize::from(self.layout.slot_of[k])] = coefficient;
        // Exact either way: a corrupt run past 63 may overwrite position 63.
        if coefficient != 0 {
            *nonzero |= 1 << k.min(63);
        } else {
            *nonzero &= !(1 << k.min(63));
        }
    }

    /// A refinement pass: one more bit of every coefficient already nonzero in the band, and
    /// coefficients newly nonzero at +-1 << al. `Err` for a new coefficient of size other than
    /// 1, which libjpeg warns about.
    /// `PDEP`: whether the bit manipulations may use BMI2's PDEP ([`super::bit_deposit`]) and
    /// the corrections AVX2's lanes ([`super::correction_lanes`]); `MASKED`: AVX-512's masked
    /// lanes for those.
    #[inline(always)]
    pub fn refine<const PDEP: bool, const MASKED: bool>(&mut self, reader: &mut BitReader, block: &mut [i16], nonzero: &mut u64) -> Result<(), &'static str> {
        let plus = 1i16 << self.al;
        let mut k = self.ss;
        if self.end_of_band_run == 0 {
            while k <= self.se {
                reader.load_32();
                let symbol = reader.loaded_symbol(self.table)?;
                let (run, size) = (u32::from(symbol >> 4), symbol & 15);
                let mut new_value = 0i16;
                if size != 0 {
                    if size != 1 {
                        return Err("refinement coefficient of size other than 1");
                    }
                    // plus for a 1 bit, minus for a 0, without a branch on a coin toss.
                    let negative = reader.loaded_bits(1) as i16 - 1;
                    new_value = (plus ^ negative) - negative;
                } else if run != 15 {
                    self.end_of_band_run = self.run_length(reader, run);
                    break;
                }
                // Past the nonzero coefficients (each gets its correction bit) and `run` zero
                // ones, to the next zero, where the new coefficient goes (or past the band).
                // The mask finds both without looking at each coefficient.
                let rest = band(k, self.se);
                let past_band = 1u64.checked_shl(self.se as u32 + 1).unwrap_or(0);
                let target = nth_set_bit::<PDEP>(!*nonzero & rest, run, past_band);
                let below_target = target.wrapping_sub(1) & !target;
                correct_all::<PDEP, MASKED>(block, self.layout, *nonzero & rest & below_target, reader, plus);
                k = target.trailing_zeros() as usize;
                if new_value != 0 {
                    block[usize::from(self.layout.slot_of[k])] = new_value;
                    *nonzero |= 1 << k.min(63);
                }
                k += 1;
            }
        }
        if self.end_of_band_run > 0 {
            // The rest of the band: a correction bit per nonzero coefficient, found by the
            // mask instead of looking at every zero (most of a block, in most blocks).
            correct_all::<PDEP, MASKED>(block, self.layout, *nonzero & band(k, self.se), reader, plus);
            self.end_of_band_run -= 1;
        }
        Ok(())
    }

    /// An end-of-band run: 2^r blocks plus r more bits' worth.
    /// Read right after the symbol, so its bits are loaded.
    fn run_length(&self, reader: &mut BitReader, r: u32) -> u32 {
        (1 << r) + reader.loaded_bits(r)
    }
}

/// Zigzag indices `k..=se` as a mask (empty when `k > se`).
fn band(k: usize, se: usize) -> u64 {
    if k > se {
        0
    } else {
        (u64::MAX >> (63 - se)) & (u64::MAX << k)
    }
}

/// Correction bits for the already-nonzero coefficients in `mask`, one bit each in zigzag
/// order: where a bit is set (and not already there), the coefficient's magnitude grows by one
/// step of this pass. Every bit is read, but only coefficients in `read` are touched: the bits
/// are first spread onto their coefficients' positions without a branch per bit
/// ([`spread`]), then only set bits of coefficients the IDCT reads (`layout.read`) are applied.
#[inline(always)]
fn correct_all<const PDEP: bool, const MASKED: bool>(block: &mut [i16], layout: &BlockLayout, mut mask: u64, reader: &mut BitReader, plus: i16) {
    while mask != 0 {
        let n = mask.count_ones().min(56);
        let (set, covered) = spread::<PDEP>(reader.wide_bits(n), n, mask);
        mask ^= covered;
        #[cfg(target_arch = "x86_64")]
        if PDEP {
            // SAFETY: PDEP is true only where `fast_pdep()` found AVX2, MASKED only where
            // `masked_lanes()` found AVX-512's; the block has the layout's slots.
            unsafe {
                if MASKED {
                    correction_lanes::apply_masked(block, layout, set, plus);
                } else {
                    correction_lanes::apply(block, layout, set, plus);
                }
            }
            continue;
        }
        let mut apply = set & layout.read;
        while apply != 0 {
            let z = apply.trailing_zeros() as usize;
            apply &= apply - 1;
            let coefficient = &mut block[usize::from(layout.slot_of[z])];
            // One step away from zero (a coin toss which way), unless that bit is already set.
            let negative = *coefficient >> 15;
            let step = (plus ^ negative) - negative;
            if *coefficient & plus == 0 {
                *coefficient = coefficient.wrapping_add(step);
            }
        }
    }
}

/// The block position (row * 8 + column) of zigzag index `k`.
pub const fn natural(k: usize) -> usize {
    NATURAL[k] as usize
}
