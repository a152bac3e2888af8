//! Reading a JPEG scan's entropy-coded data: Huffman tables as DHT defines them, and a bit
//! reader that undoes byte stuffing and stops at markers. Serves the DC-scan decoder
//! ([`progressive_scans`](super::progressive_scans)); anything this cannot read exactly as libjpeg would is an
//! `Err`, and the caller hands the file to libjpeg instead.

/// Bits looked up at once; longer codes take the slow path (rare: photos' DC codes are short).
const FAST_BITS: u32 = 9;

/// Bits looked up at once for an AC coefficient's code and value together.
const SHORT_COEFFICIENT_BITS: u32 = 10;

/// A Huffman table from a DHT segment, for decoding.
pub struct HuffmanTable {
    /// Indexed by the next `FAST_BITS` bits: code length << 8 | symbol, or 0 when the code is
    /// longer than `FAST_BITS`.
    fast: Vec<u16>,
    /// Indexed by the next `SHORT_COEFFICIENT_BITS` bits: where they hold a whole coefficient
    /// (an AC code of size above 0, or any DC code, and its value bits), the value << 16 | run
    /// << 8 | bits used; else 0. Most coefficients of a first pass are this short, and one
    /// lookup saves reading the value bits after the code, a step of the chain every symbol
    /// waits on.
    short_coefficients: Vec<u32>,
    /// Per code length 1..=16: the largest code of that length (-1 when there is none), and
    /// the index into `symbols` of its first code minus that code.
    max_code: [i32; 17],
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl HuffmanTable {
    /// Builds the canonical code from `counts` (codes of each length 1..=16) and `symbols`,
    /// refusing what libjpeg refuses: more than 256 symbols, codes that overflow their length,
    /// and (for DC tables) symbols above 15.
    pub fn new(counts: &[u8; 16], symbols: &[u8], dc: bool) -> Result<HuffmanTable, &'static str> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || total != symbols.len() {
            return Err("bad Huffman table size");
        }
        if dc && symbols.iter().any(|&s| s > 15) {
            return Err("DC Huffman symbol above 15");
        }
        let mut fast = vec![0u16; 1 << FAST_BITS];
        let (mut max_code, mut offset) = ([-1i32; 17], [0i32; 17]);
        let (mut code, mut index) = (0i32, 0usize);
        for length in 1..=16u32 {
            let count = usize::from(counts[length as usize - 1]);
            if count > 0 {
                offset[length as usize] = index as i32 - code;
                for &symbol in &symbols[index..index + count] {
                    if length <= FAST_BITS && code < 1 << length {
                        let spread = FAST_BITS - length;
                        let first = (code as usize) << spread;
                        fast[first..first + (1 << spread)].fill((length as u16) << 8 | u16::from(symbol));
                    }
                    code += 1;
                }
                index += count;
                max_code[length as usize] = code - 1;
                // As libjpeg: the codes must fit their length, and none may be all ones.
                if code >= 1 << length {
                    return Err("Huffman codes overflow their length");
                }
            }
            code <<= 1;
        }
        let short_coefficients = short_coefficients(&fast, dc);
        Ok(HuffmanTable { fast, max_code, offset, symbols: symbols.to_vec(), short_coefficients })
    }
}

/// The `short_coefficients` table of a table whose `fast` table is given. A DC symbol is a size
/// alone (0 a difference of 0); an AC symbol of size 0 is a run or the end of a band, which the
/// caller reads apart.
fn short_coefficients(fast: &[u16], dc: bool) -> Vec<u32> {
    (0..1u32 << SHORT_COEFFICIENT_BITS)
        .map(|index| {
            let entry = fast[(index >> (SHORT_COEFFICIENT_BITS - FAST_BITS)) as usize];
            let (length, symbol) = (u32::from(entry >> 8), entry as u8);
            let (run, size) = if dc { (0, u32::from(symbol)) } else { (u32::from(symbol >> 4), u32::from(symbol & 15)) };
            if entry == 0 || (size == 0 && !dc) || length + size > SHORT_COEFFICIENT_BITS {
                return 0;
            }
            let raw = (index >> (SHORT_COEFFICIENT_BITS - length - size)) & ((1 << size) - 1);
            (extend(raw, size) as u32) << 16 | run << 8 | (length + size)
        })
        .collect()
}

/// JPEG's EXTEND: `size` (0..=16) raw bits to a signed value. Without a branch: the sign
/// of a coefficient is a coin toss, so a branch on it would mispredict half the time.
#[inline]
pub fn extend(raw: u32, size: u32) -> i32 {
    let raw = raw as i32;
    let half = (1i32 << size) >> 1; // 0 when size is 0
    let negative = (raw - half) >> 31; // all ones when raw < half
    raw + (negative & ((-1i32 << size) + 1))
}

/// Whether any byte of `word` is 0xFF (a zero byte of its complement, the classic test).
#[inline]
fn has_ff_byte(word: u64) -> bool {
    let inverted = !word;
    inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080 != 0
}

/// Bits of one scan's entropy-coded data, most significant first.
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load.
    pos: usize,
    /// Loaded bits, left-aligned.
    bits: u64,
    count: u32,
    /// Set once `pos` reached a marker (or the end): zero bits are loaded from then on.
    at_marker: bool,
    /// Zero bits loaded past the data; reading into them means the data ran short.
    padding: u32,
}

impl<'a> BitReader<'a> {
    /// Reads `data`: a scan's entropy-coded bytes, up to (not including) the marker that ends
    /// it; restart markers may appear inside.
    pub fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader { data, pos: 0, bits: 0, count: 0, at_marker: false, padding: 0 }
    }

    #[inline(never)]
    fn refill(&mut self) {
        // Most of the time the next 8 bytes hold no 0xFF (neither a stuffed byte nor a
        // marker): as many whole bytes as fit then load with one shift. An 0xFF anywhere in
        // them sends this refill down the byte-by-byte path below.
        if !self.at_marker && self.count <= 56 {
            if let Some(next) = self.data.get(self.pos..self.pos + 8) {
                let word = u64::from_be_bytes(next.try_into().expect("8 bytes"));
                if !has_ff_byte(word) {
                    // The same bytes the loop below would load: whole ones until over 56 bits.
                    let take = (64 - self.count) / 8;
                    let whole = word & (u64::MAX << (64 - 8 * take));
                    self.bits |= whole >> self.count;
                    self.pos += take as usize;
                    self.count += 8 * take;
                    return;
                }
            }
        }
        while self.count <= 56 {
            let byte = if self.at_marker {
                self.padding += 8;
                0
            } else {
                match self.data.get(self.pos) {
                    Some(&0xFF) if self.data.get(self.pos + 1) == Some(&0x00) => {
                        self.pos += 2;
                        0xFF
                    }
                    Some(&0xFF) | None => {
                        self.at_marker = true;
                        continue;
                    }
                    Some(&byte) => {
                        self.pos += 1;
                        byte
                    }
                }
            };
            self.bits |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// The next `n` bits (0..=56: a refill leaves at least 57 loaded) as a number.
    #[inline]
    pub fn wide_bits(&mut self, n: u32) -> u64 {
        if self.count < n {
            self.refill();
        }
        self.take(n)
    }

    /// Loads at least 32 bits, so that a Huffman code (at most 16 bits) and the value bits
    /// after it (at most 16) can be read with [`Self::loaded_symbol`] and
    /// [`Self::loaded_bits`] without a check each.
    #[inline]
    pub fn load_32(&mut self) {
        if self.count < 32 {
            self.refill();
        }
    }

    /// The next `n` bits (0..=16), at least that many being loaded ([`Self::load_32`]).
    #[inline]
    pub fn loaded_bits(&mut self, n: u32) -> u32 {
        debug_assert!(n <= 16 && n <= self.count);
        self.take(n) as u32
    }

    /// The next `n` (0..=63) loaded bits; `n` = 0 gives 0 without a branch.
    #[inline]
    fn take(&mut self, n: u32) -> u64 {
        let value = (self.bits >> 1) >> (63 - n);
        self.bits <<= n;
        self.count -= n;
        value
    }

    /// The next Huffman-coded symbol, or `Err` for a code the table lacks.
    #[cfg(test)]
    pub fn symbol(&mut self, table: &HuffmanTable) -> Result<u8, &'static str> {
        if self.count < 16 {
            self.refill();
        }
        self.loaded_symbol(table)
    }

    /// [`Self::symbol`] when at least 16 bits are loaded ([`Self::load_32`]).
    #[inline]
    pub fn loaded_symbol(&mut self, table: &HuffmanTable) -> Result<u8, &'static str> {
        debug_assert!(self.count >= 16);
        let entry = table.fast[(self.bits >> (64 - FAST_BITS)) as usize];
        if entry != 0 {
            let length = u32::from(entry >> 8);
            self.bits <<= length;
            self.count -= length;
            return Ok(entry as u8);
        }
        for length in FAST_BITS + 1..=16 {
            let code = (self.bits >> (64 - length)) as i32;
            if code <= table.max_code[length as usize] {
                self.bits <<= length;
                self.count -= length;
                let index = (table.offset[length as usize] + code) as usize;
                return table.symbols.get(index).copied().ok_or("bad Huffman code");
            }
        }
        Err("bad Huffman code")
    }

    /// A coefficient of a first AC pass (or a DC difference, run 0) whose code and value bits
    /// fit `SHORT_COEFFICIENT_BITS`, read at once: its run of zeros and its value; `None`
    /// (nothing read) for any other symbol. At least 16 bits must be loaded ([`Self::load_32`]).
    #[inline]
    pub fn loaded_short_coefficient(&mut self, table: &HuffmanTable) -> Option<(usize, i32)> {
        debug_assert!(self.count >= 16);
        let entry = table.short_coefficients[(self.bits >> (64 - SHORT_COEFFICIENT_BITS)) as usize];
        if entry == 0 {
            return None;
        }
        let length = entry & 0xFF;
        self.bits <<= length;
        self.count -= length;
        Some((((entry >> 8) & 0xFF) as usize, entry as i32 >> 16))
    }

    /// A DC difference: a magnitude category from `table`, then that many bits, sign-extended
    /// (JPEG's EXTEND).
    #[inline]
    pub fn dc_difference(&mut self, table: &HuffmanTable) -> Result<i32, &'static str> {
        self.load_32();
        if let Some((_, difference)) = self.loaded_short_coefficient(table) {
            return Ok(difference);
        }
        // DC tables hold no symbol above 15 (`HuffmanTable::new`).
        let size = u32::from(self.loaded_symbol(table)?);
        Ok(extend(self.loaded_bits(size), size))
    }

    /// Whether every bit read so far was in the data (none from past its end).
    pub fn in_bounds(&self) -> bool {
        self.padding <= self.count
    }

    /// Bits loaded from the data but not read, beyond those that complete the current byte.
    fn whole_bytes_unread(&self) -> bool {
        self.count.saturating_sub(self.padding) >= 8
    }

    /// Ends a restart interval: the rest of the current byte is fill, and restart marker
    /// `RST(n % 8)` must come next. `Err` for anything else (extra bytes, another marker,
    /// data that ran short), which libjpeg would warn about or resynchronise over.
    pub fn restart(&mut self, n: u32) -> Result<(), &'static str> {
        if !self.in_bounds() || self.whole_bytes_unread() {
            return Err("data before a restart marker is not as long as its blocks");
        }
        if !self.at_marker {
            self.refill();
        }
        let expected = 0xD0 + (n % 8) as u8;
        if self.data.get(self.pos..self.pos + 2) != Some(&[0xFF, expected]) || self.whole_bytes_unread() {
            return Err("restart marker missing or out of order");
        }
        *self = BitReader { data: self.data, pos: self.pos + 2, bits: 0, count: 0, at_marker: false, padding: 0 };
        Ok(())
    }

    /// Ends the scan: its blocks used exactly the data there was, up to the fill bits of the
    /// last byte.
    pub fn finish(&mut self) -> Result<(), &'static str> {
        if !self.in_bounds() {
            return Err("scan data ends before its blocks");
        }
        if !self.at_marker {
            self.refill();
        }
        if self.whole_bytes_unread() || self.pos < self.data.len() {
            return Err("extra bytes after the scan's blocks");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Symbol 0 as 00, 1..=5 as 010 to 110, then one code each of lengths 4 to 12: symbol 6
    /// as 1110, ..., symbol 14 as 1111 1111 1110.
    fn table() -> HuffmanTable {
        let mut counts = [0u8; 16];
        counts[1] = 1;
        counts[2] = 5;
        counts[3..12].fill(1);
        let symbols: Vec<u8> = (0..=14).collect();
        HuffmanTable::new(&counts, &symbols, true).unwrap()
    }

    #[test]
    fn decodes_short_and_long_codes_through_stuffed_bytes() {
        // 00 | 010 | 1111 1111 1110 (symbol 14, 12 bits, across a stuffed FF) | 011 | fill.
        // Bits: 0001 0111 | 1111 1111 | 0011 1111 -> 0x17 0xFF(00) 0x3F.
        let data = [0x17, 0xFF, 0x00, 0x3F];
        let t = table();
        let mut r = BitReader::new(&data);
        assert_eq!(r.symbol(&t), Ok(0));
        assert_eq!(r.symbol(&t), Ok(1));
        assert_eq!(r.symbol(&t), Ok(14));
        assert_eq!(r.symbol(&t), Ok(2));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn dc_differences_extend_their_sign() {
        // Category 3 (symbol 3, code 100), bits 010: 2 - 8 + 1 = -5; category 3, bits 110: 6.
        let data = [0b1000_1010, 0b0110_1111];
        let t = table();
        let mut r = BitReader::new(&data);
        assert_eq!(r.dc_difference(&t), Ok(-5));
        assert_eq!(r.dc_difference(&t), Ok(6));
        assert!(r.in_bounds());
    }

    #[test]
    fn reading_past_the_data_is_noticed() {
        let t = table();
        let mut r = BitReader::new(&[0x00]);
        assert_eq!(r.symbol(&t), Ok(0));
        assert_eq!(r.symbol(&t), Ok(0));
        assert_eq!(r.symbol(&t), Ok(0));
        assert_eq!(r.symbol(&t), Ok(0));
        assert!(r.in_bounds());
        assert_eq!(r.symbol(&t), Ok(0));
        assert!(!r.in_bounds());
        assert!(r.finish().is_err());
    }

    #[test]
    fn restarts_need_the_right_marker_right_after_the_interval() {
        let t = table();
        // One symbol (00, then fill) per interval, RST0 then RST1.
        let data = [0x3F, 0xFF, 0xD0, 0x3F, 0xFF, 0xD1, 0x3F];
        let mut r = BitReader::new(&data);
        for n in 0..2 {
            assert_eq!(r.symbol(&t), Ok(0));
            assert_eq!(r.restart(n), Ok(()));
        }
        assert_eq!(r.symbol(&t), Ok(0));
        assert_eq!(r.finish(), Ok(()));
        // Out of order.
        let mut r = BitReader::new(&data);
        r.symbol(&t).unwrap();
        assert!(r.restart(1).is_err());
        // A byte too many before the marker.
        let data = [0x3F, 0x3F, 0xFF, 0xD0];
        let mut r = BitReader::new(&data);
        r.symbol(&t).unwrap();
        assert!(r.restart(0).is_err());
        // Trailing bytes at the end of a scan.
        let mut r = BitReader::new(&[0x3F, 0x00]);
        r.symbol(&t).unwrap();
        assert!(r.finish().is_err());
    }

    #[test]
    fn extend_is_jpegs_extend_for_every_size_and_value() {
        for size in 0..=16u32 {
            for raw in 0..1u32 << size {
                let expected = if size > 0 && raw < 1 << (size - 1) { raw as i32 - (1 << size) + 1 } else { raw as i32 };
                assert_eq!(extend(raw, size), expected, "size {size} raw {raw}");
            }
        }
    }

    #[test]
    fn loaded_bits_read_zero_bits_as_zero() {
        let mut r = BitReader::new(&[0xA5, 0x5A, 0x0F, 0xF0, 0x12]);
        r.load_32();
        assert_eq!(r.loaded_bits(0), 0);
        assert_eq!(r.loaded_bits(4), 0xA);
        assert_eq!(r.loaded_bits(0), 0);
        assert_eq!(r.loaded_bits(12), 0x55A);
        assert_eq!(r.loaded_bits(16), 0x0FF0);
    }

    /// An AC table of libjpeg's usual shape: many short codes, some long ones.
    fn ac_table() -> HuffmanTable {
        let counts = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d - 37];
        // Runs 0..=15 of sizes 1..=7 and 0 (the last codes), all different.
        let symbols: Vec<u8> = (0..0x7du8).map(|i| (i % 16) << 4 | (i / 16 + 1) % 8).collect();
        HuffmanTable::new(&counts, &symbols, false).unwrap()
    }

    #[test]
    fn a_short_coefficient_reads_as_its_code_and_value_bits_read_apart() {
        let table = ac_table();
        let mut random = super::super::TestRandom(0x1234_5678_9ABC_DEF1);
        let (mut short, mut long) = (0, 0);
        for _ in 0..50_000 {
            let data: Vec<u8> = random.next().to_be_bytes().iter().map(|&b| if b == 0xFF { 0xFE } else { b }).collect();
            let (mut a, mut b) = (BitReader::new(&data), BitReader::new(&data));
            a.load_32();
            b.load_32();
            let Some((run, value)) = a.loaded_short_coefficient(&table) else {
                long += 1;
                continue;
            };
            short += 1;
            let symbol = b.loaded_symbol(&table).unwrap();
            let size = u32::from(symbol & 15);
            assert!(size > 0);
            assert_eq!((run, value), (usize::from(symbol >> 4), extend(b.loaded_bits(size), size)));
            assert_eq!((a.bits, a.count), (b.bits, b.count));
        }
        assert!(short > 10_000 && long > 500, "{short} short, {long} not");
    }

    #[test]
    fn a_dc_difference_reads_the_same_by_the_short_table_or_apart() {
        let table = table();
        let mut random = super::super::TestRandom(0x0F1E_2D3C_4B5A_6978);
        for _ in 0..50_000 {
            let data: Vec<u8> = random.next().to_be_bytes().iter().map(|&b| if b == 0xFF { 0xFE } else { b }).collect();
            let (mut a, mut b) = (BitReader::new(&data), BitReader::new(&data));
            let difference = a.dc_difference(&table);
            let size = u32::from(b.symbol(&table).unwrap());
            assert_eq!(difference, Ok(extend(b.loaded_bits(size), size)));
            assert_eq!((a.bits, a.count), (b.bits, b.count));
        }
    }

    #[test]
    fn refuses_tables_libjpeg_refuses() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes
        assert!(HuffmanTable::new(&counts, &[0, 1, 2], true).is_err());
        counts[0] = 2; // 0 and 1: the second is all ones
        assert!(HuffmanTable::new(&counts, &[0, 1], true).is_err());
        counts[0] = 1;
        assert!(HuffmanTable::new(&counts, &[16], true).is_err());
        assert!(HuffmanTable::new(&counts, &[16], false).is_ok());
        assert!(HuffmanTable::new(&counts, &[1, 2], true).is_err());
    }
}
