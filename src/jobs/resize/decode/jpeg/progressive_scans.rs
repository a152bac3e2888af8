//! Decodes the scans of a progressive JPEG that a 1/8-scale picture needs, and only those:
//! every block's DC coefficient, for each component, and the AC coefficients of components
//! whose reduced inverse DCT reads them (4:2:0 chroma, whose 2x2 IDCT does). At 1/8 each luma
//! block becomes one pixel, its average, so the luma AC scans, most of a progressive file, are
//! never read, and a luma block costs two bytes instead of the 128 libjpeg's coefficient
//! buffers keep for it.
//!
//! The coefficients are bit-identical to libjpeg's: same Huffman codes, same predictors, same
//! successive-approximation arithmetic. Whatever this does not read exactly as libjpeg would
//! (a missing or bad table, a bad code, data that runs short or long, a restart marker out of
//! place) is an `Err`, and the caller decodes the file with libjpeg instead.

use crate::jobs::{JobControl, JobError};
use super::progressive_ac::{natural, AcBand, BlockLayout};
#[cfg(target_arch = "x86_64")]
use super::bit_deposit::fast_pdep;
#[cfg(target_arch = "x86_64")]
use super::correction_lanes::masked_lanes;
use super::entropy::{BitReader, HuffmanTable};
use super::stream::{Frame, ScanHeader, Stream};

const DHT: u8 = 0xC4;
const DQT: u8 = 0xDB;
const SOS: u8 = 0xDA;

/// One component's coefficients, blocks row-major over the component's blocks padded to whole
/// MCUs: the DC of every block, and for components whose IDCT reads them, the AC coefficients
/// too. DCs are kept apart, two bytes a block, so the DC passes stay in cache.
pub struct Plane {
    pub dc: Vec<i16>,
    /// `layout.slots` per block (position 0 unused by the IDCT), or empty.
    pub ac: Vec<i16>,
    pub layout: &'static BlockLayout,
    /// For whole blocks, one mask per block of its nonzero AC coefficients (bit k: zigzag
    /// index k), so refinement passes and the IDCT skip the zeros; empty otherwise.
    pub nonzero: Vec<u64>,
    /// Samples per block on each axis: libjpeg's reduced IDCT size for this component (1, 2 or
    /// 4); above 1 the AC coefficients are kept.
    pub idct_size: usize,
    /// Blocks per row.
    pub stride: usize,
    /// The component's quantisers in natural order, as libjpeg latched them at the component's
    /// first scan.
    pub quantisers: [u16; 64],
}

/// Why the DC scans were not decoded: the file is left to libjpeg, or the job was stopped.
pub enum Declined {
    Libjpeg(&'static str),
    Stopped(JobError),
}

impl From<&'static str> for Declined {
    fn from(why: &'static str) -> Self {
        Declined::Libjpeg(why)
    }
}

/// Block grid of the frame: MCU counts and each component's padded plane size.
pub struct Grid {
    pub mcus_across: usize,
    pub mcus_down: usize,
    pub max_h: usize,
    pub max_v: usize,
}

impl Grid {
    pub fn new(frame: &Frame) -> Grid {
        let max_h = usize::from(frame.components.iter().map(|c| c.h).max().unwrap_or(1));
        let max_v = usize::from(frame.components.iter().map(|c| c.v).max().unwrap_or(1));
        Grid {
            mcus_across: usize::from(frame.width).div_ceil(8 * max_h),
            mcus_down: usize::from(frame.height).div_ceil(8 * max_v),
            max_h,
            max_v,
        }
    }
}

/// Decodes the scans of `stream` (a split of `jpeg`) a 1/8 picture needs into one plane per
/// component; `idct_sizes[c]` is component `c`'s reduced IDCT size (above 1 its AC coefficients
/// are needed). The caller
/// has checked the frame (8-bit progressive Huffman, a sane scan script).
pub fn decode(jpeg: &[u8], stream: &Stream, idct_sizes: &[usize], ctl: &JobControl) -> Result<Vec<Plane>, Declined> {
    let frame = &stream.frame;
    let grid = Grid::new(frame);
    let mut planes: Vec<Plane> = frame
        .components
        .iter()
        .zip(idct_sizes)
        .map(|(c, &idct_size)| {
            let full = idct_size > 1;
            let stride = grid.mcus_across * usize::from(c.h);
            let blocks = stride * grid.mcus_down * usize::from(c.v);
            let layout = BlockLayout::for_idct(idct_size);
            let (ac, nonzero) = if full { (vec![0; blocks * layout.slots], vec![0; blocks]) } else { (Vec::new(), Vec::new()) };
            Plane { dc: vec![0; blocks], ac, layout, nonzero, idct_size, stride, quantisers: [0; 64] }
        })
        .collect();
    let mut latched = vec![false; planes.len()];
    let mut quantisers: [Option<[u16; 64]>; 4] = [None; 4];
    let mut dc_tables: [Option<HuffmanTable>; 4] = [None, None, None, None];
    let mut ac_tables: [Option<HuffmanTable>; 4] = [None, None, None, None];
    for piece in &stream.pieces {
        let (marker, payload) = segment(jpeg, piece.range.start)?;
        match (marker, &piece.scan) {
            (DQT, _) => read_dqt(payload, &mut quantisers)?,
            (DHT, _) => read_dht(payload, &mut dc_tables, &mut ac_tables)?,
            (SOS, Some(scan)) => {
                for &c in &scan.components {
                    if !latched[c] {
                        let table = usize::from(frame.components[c].quant_table);
                        planes[c].quantisers = quantisers.get(table).copied().flatten().ok_or("quantisation table not defined")?;
                        latched[c] = true;
                    }
                }
                let data = &jpeg[scan.data_start..piece.range.end];
                if scan.ss == 0 {
                    let tables = table_per_component(jpeg, scan, &dc_tables, 4)?;
                    decode_dc_scan(frame, &grid, scan, data, &tables, &mut planes, ctl)?;
                } else {
                    // A scan this scale skips still needs its table: libjpeg refuses the whole
                    // file when one names a table never defined, so its picture must go there.
                    let table = table_per_component(jpeg, scan, &ac_tables, 0)?[0].ok_or("AC Huffman table not defined")?;
                    if !planes[scan.components[0]].ac.is_empty() {
                        decode_ac_scan(frame, &grid, scan, data, table, &mut planes[scan.components[0]], ctl)?;
                    }
                }
            }
            _ => {}
        }
    }
    if latched.iter().any(|&l| !l) {
        return Err("a component has no scan".into());
    }
    Ok(planes)
}

/// The marker and payload of the segment starting at `start` (fill bytes allowed before it).
fn segment(jpeg: &[u8], start: usize) -> Result<(u8, &[u8]), &'static str> {
    let mut pos = start;
    while jpeg.get(pos) == Some(&0xFF) {
        pos += 1;
    }
    let marker = *jpeg.get(pos).ok_or("truncated marker")?;
    if marker == 0xD9 {
        return Ok((marker, &[]));
    }
    let length = jpeg.get(pos + 1..pos + 3).ok_or("truncated segment")?;
    let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
    Ok((marker, jpeg.get(pos + 3..pos + 1 + length).ok_or("truncated segment")?))
}

/// DQT: tables in natural order.
fn read_dqt(mut p: &[u8], quantisers: &mut [Option<[u16; 64]>; 4]) -> Result<(), &'static str> {
    while let Some(&spec) = p.first() {
        let (precision, id) = (spec >> 4, usize::from(spec & 15));
        let size = match precision {
            0 => 64,
            1 => 128,
            _ => return Err("bad DQT precision"),
        };
        let values = p.get(1..1 + size).filter(|_| id < 4).ok_or("bad DQT segment")?;
        let mut table = [0u16; 64];
        for k in 0..64 {
            table[natural(k)] = if precision == 0 { u16::from(values[k]) } else { u16::from_be_bytes([values[2 * k], values[2 * k + 1]]) };
        }
        quantisers[id] = Some(table);
        p = &p[1 + size..];
    }
    Ok(())
}

/// DHT: DC and AC tables, after the checks libjpeg makes.
fn read_dht(mut p: &[u8], dc_tables: &mut [Option<HuffmanTable>; 4], ac_tables: &mut [Option<HuffmanTable>; 4]) -> Result<(), &'static str> {
    while let Some(&spec) = p.first() {
        let (class, id) = (spec >> 4, usize::from(spec & 15));
        let counts: &[u8; 16] = p.get(1..17).and_then(|c| c.try_into().ok()).ok_or("bad DHT segment")?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = p.get(17..17 + total).filter(|_| total <= 256 && id < 4 && class <= 1).ok_or("bad DHT segment")?;
        let table = HuffmanTable::new(counts, symbols, class == 0)?;
        if class == 0 {
            dc_tables[id] = Some(table);
        } else {
            ac_tables[id] = Some(table);
        }
        p = &p[17 + total..];
    }
    Ok(())
}

/// The table each of the scan's components names, from the SOS selectors (`Td` in the high
/// nibble for DC, `Ta` in the low one for AC: `shift` 4 or 0). A refinement of DC reads raw
/// bits and needs none.
fn table_per_component<'t>(
    jpeg: &[u8],
    scan: &ScanHeader,
    tables: &'t [Option<HuffmanTable>; 4],
    shift: u8,
) -> Result<Vec<Option<&'t HuffmanTable>>, &'static str> {
    // The SOS payload sits just before the data: count, then (selector, Td<<4|Ta) per
    // component, then Ss, Se, Ah<<4|Al.
    let n = scan.components.len();
    let selectors = jpeg.get(scan.data_start - 3 - 2 * n..scan.data_start - 3).ok_or("bad scan header")?;
    selectors
        .chunks_exact(2)
        .map(|pair| {
            if scan.ss == 0 && scan.ah != 0 {
                return Ok(None);
            }
            let id = usize::from((pair[1] >> shift) & 15);
            tables.get(id).and_then(Option::as_ref).map(Some).ok_or("Huffman table not defined")
        })
        .collect()
}

/// One AC scan (a single component, a block per MCU), first pass or refinement.
fn decode_ac_scan(
    frame: &Frame,
    grid: &Grid,
    scan: &ScanHeader,
    data: &[u8],
    table: &HuffmanTable,
    plane: &mut Plane,
    ctl: &JobControl,
) -> Result<(), Declined> {
    #[cfg(target_arch = "x86_64")]
    if scan.ah != 0 && fast_pdep() {
        // SAFETY: fast_pdep() found BMI2, POPCNT and AVX2; masked_lanes() AVX-512's.
        return unsafe {
            if masked_lanes() {
                refine_scan_with_masked_lanes(frame, grid, scan, data, table, plane, ctl)
            } else {
                refine_scan_with_pdep(frame, grid, scan, data, table, plane, ctl)
            }
        };
    }
    ac_scan::<false, false>(frame, grid, scan, data, table, plane, ctl)
}

/// [`ac_scan`] compiled for BMI2, POPCNT and AVX2: a refinement's bit manipulations by PDEP,
/// its corrections on vector lanes.
///
/// # Safety
/// The CPU has BMI2, POPCNT and AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2,popcnt,avx2")]
unsafe fn refine_scan_with_pdep(
    frame: &Frame,
    grid: &Grid,
    scan: &ScanHeader,
    data: &[u8],
    table: &HuffmanTable,
    plane: &mut Plane,
    ctl: &JobControl,
) -> Result<(), Declined> {
    ac_scan::<true, false>(frame, grid, scan, data, table, plane, ctl)
}

/// [`refine_scan_with_pdep`] with the corrections on AVX-512's masked lanes.
///
/// # Safety
/// The CPU has BMI2, POPCNT, AVX2, AVX512F, AVX512BW and AVX512VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2,popcnt,avx2,avx512f,avx512bw,avx512vl")]
unsafe fn refine_scan_with_masked_lanes(
    frame: &Frame,
    grid: &Grid,
    scan: &ScanHeader,
    data: &[u8],
    table: &HuffmanTable,
    plane: &mut Plane,
    ctl: &JobControl,
) -> Result<(), Declined> {
    ac_scan::<true, true>(frame, grid, scan, data, table, plane, ctl)
}

/// [`decode_ac_scan`]; `PDEP` and `MASKED` as for [`AcBand::refine`].
#[inline(always)]
fn ac_scan<const PDEP: bool, const MASKED: bool>(
    frame: &Frame,
    grid: &Grid,
    scan: &ScanHeader,
    data: &[u8],
    table: &HuffmanTable,
    plane: &mut Plane,
    ctl: &JobControl,
) -> Result<(), Declined> {
    let mut reader = BitReader::new(data);
    let mut band = AcBand {
        table,
        ss: usize::from(scan.ss),
        se: usize::from(scan.se),
        al: scan.al,
        layout: plane.layout,
        end_of_band_run: 0,
    };
    let mut restarts = Restarts::new(scan.restart_interval);
    let (across, down) = component_blocks(frame, grid, scan.components[0]);
    for row in 0..down {
        if row % 16 == 0 {
            ctl.check("decode").map_err(Declined::Stopped)?;
        }
        for column in 0..across {
            if restarts.before_mcu(&mut reader)? {
                band.end_of_band_run = 0;
            }
            let index = row * plane.stride + column;
            let slots = plane.layout.slots;
            let block = plane.ac.get_mut(index * slots..index * slots + slots).ok_or("block outside the plane")?;
            let nonzero = &mut plane.nonzero[index];
            if scan.ah == 0 {
                band.first(&mut reader, block, nonzero)?;
            } else {
                band.refine::<PDEP, MASKED>(&mut reader, block, nonzero)?;
            }
        }
    }
    reader.finish()?;
    Ok(())
}

/// Blocks across and down of one component alone (a non-interleaved scan's MCUs).
fn component_blocks(frame: &Frame, grid: &Grid, c: usize) -> (usize, usize) {
    let comp = &frame.components[c];
    let width = (usize::from(frame.width) * usize::from(comp.h)).div_ceil(grid.max_h);
    let height = (usize::from(frame.height) * usize::from(comp.v)).div_ceil(grid.max_v);
    (width.div_ceil(8), height.div_ceil(8))
}

/// One DC scan, first pass or refinement, into `planes`.
fn decode_dc_scan(
    frame: &Frame,
    grid: &Grid,
    scan: &ScanHeader,
    data: &[u8],
    tables: &[Option<&HuffmanTable>],
    planes: &mut [Plane],
    ctl: &JobControl,
) -> Result<(), Declined> {
    let mut reader = BitReader::new(data);
    let mut predictions = [0i32; 4];
    let mut restarts = Restarts::new(scan.restart_interval);
    // One block per MCU for a single-component scan, over that component's own blocks; an
    // interleaved scan's MCU holds h x v blocks of each of its components.
    let (across, down) = if let [c] = scan.components[..] {
        component_blocks(frame, grid, c)
    } else {
        (grid.mcus_across, grid.mcus_down)
    };
    let mcu = mcu_blocks(frame, scan)?;
    let refinement = scan.ah != 0;
    // A first pass names a table for each component (`table_per_component`); a refinement
    // reads raw bits.
    let tables: Vec<&HuffmanTable> = if refinement {
        Vec::new()
    } else {
        tables.iter().map(|t| t.ok_or("DC Huffman table not defined")).collect::<Result<_, _>>()?
    };
    for row in 0..down {
        if row % 16 == 0 {
            ctl.check("decode").map_err(Declined::Stopped)?;
        }
        for column in 0..across {
            if restarts.before_mcu(&mut reader)? {
                predictions = [0; 4];
            }
            if refinement {
                // One bit per block, ORed in without a branch on it (a coin toss); an MCU has
                // at most 10 blocks, so one load covers it.
                reader.load_32();
                for block in &mcu {
                    let plane = &mut planes[block.component];
                    let coefficient = &mut plane.dc[(row * block.v + block.y) * plane.stride + column * block.h + block.x];
                    *coefficient |= (reader.loaded_bits(1) as i16) << scan.al;
                }
                continue;
            }
            for block in &mcu {
                let value = predictions[block.slot].checked_add(reader.dc_difference(tables[block.slot])?).ok_or("DC value overflows")?;
                predictions[block.slot] = value;
                let plane = &mut planes[block.component];
                // libjpeg stores (value << Al) into a 16-bit coefficient.
                plane.dc[(row * block.v + block.y) * plane.stride + column * block.h + block.x] = ((value as u32) << scan.al) as i32 as i16;
            }
        }
    }
    reader.finish()?;
    Ok(())
}

/// One block of an MCU: its component (and the component's place in the scan), the block's
/// position in the MCU's share of that component, and that share's size in blocks.
#[derive(Debug)]
struct McuBlock {
    slot: usize,
    component: usize,
    x: usize,
    y: usize,
    h: usize,
    v: usize,
}

/// The blocks of one MCU of a DC scan, in the order the scan codes them; `Err` beyond
/// libjpeg's limit of 10 blocks (which it refuses too, and which one bit load per MCU covers).
fn mcu_blocks(frame: &Frame, scan: &ScanHeader) -> Result<Vec<McuBlock>, &'static str> {
    let single = scan.components.len() == 1;
    let mut blocks = Vec::new();
    for (slot, &component) in scan.components.iter().enumerate() {
        let comp = &frame.components[component];
        let (h, v) = if single { (1, 1) } else { (usize::from(comp.h), usize::from(comp.v)) };
        for y in 0..v {
            for x in 0..h {
                blocks.push(McuBlock { slot, component, x, y, h, v });
            }
        }
    }
    if blocks.len() > 10 {
        return Err("more than 10 blocks in an MCU");
    }
    Ok(blocks)
}

/// A scan's restart intervals: every `interval` MCUs (none when 0) the restart marker that must
/// come next is taken, and the caller resets what a restart resets.
struct Restarts {
    interval: usize,
    mcus_done: usize,
    taken: u32,
}

impl Restarts {
    fn new(interval: u16) -> Restarts {
        Restarts { interval: usize::from(interval), mcus_done: 0, taken: 0 }
    }

    /// Before each MCU: whether a restart marker was taken here.
    fn before_mcu(&mut self, reader: &mut BitReader) -> Result<bool, &'static str> {
        let due = self.interval > 0 && self.mcus_done > 0 && self.mcus_done % self.interval == 0;
        if due {
            reader.restart(self.taken)?;
            self.taken += 1;
        }
        self.mcus_done += 1;
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::resize::decode::jpeg::stream::Component;

    fn frame(luma: (u8, u8)) -> Frame {
        let component = |id, (h, v)| Component { id, h, v, quant_table: 0 };
        Frame { marker: 0xC2, precision: 8, width: 64, height: 64, components: vec![component(1, luma), component(2, (1, 1)), component(3, (1, 1))] }
    }

    fn scan(components: Vec<usize>) -> ScanHeader {
        ScanHeader { components, ss: 0, se: 0, ah: 1, al: 0, restart_interval: 0, has_restarts: false, data_start: 0 }
    }

    #[test]
    fn an_mcu_lists_its_blocks_in_coding_order_up_to_libjpegs_limit() {
        let order: Vec<_> = mcu_blocks(&frame((2, 2)), &scan(vec![0, 1, 2])).unwrap().iter().map(|b| (b.component, b.x, b.y)).collect();
        assert_eq!(order, [(0, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 1), (1, 0, 0), (2, 0, 0)]);
        // A component alone: one block per MCU, whatever its sampling.
        assert_eq!(mcu_blocks(&frame((2, 2)), &scan(vec![0])).unwrap().len(), 1);
        // 4x2 luma and two chroma blocks: 10, libjpeg's limit; 4x4 luma is past it.
        assert_eq!(mcu_blocks(&frame((4, 2)), &scan(vec![0, 1, 2])).unwrap().len(), 10);
        assert!(mcu_blocks(&frame((4, 4)), &scan(vec![0, 1, 2])).is_err());
    }
}
