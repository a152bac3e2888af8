//! Progressive JPEG scan pruning for decodes at 1/8 scale.
//!
//! At 1/8, libjpeg-turbo turns each block into very few pixels with a reduced inverse DCT, and
//! a reduced IDCT reads only some of a block's 64 coefficients. libjpeg still Huffman-decodes
//! every scan of a progressive file, most of them carrying coefficients nobody reads (the AC
//! scans of luma, usually most of the file). Here the scans the chosen scale needs are picked
//! from their headers and the rest are cut out of the byte stream before libjpeg sees it.
//!
//! Which coefficients each component's IDCT reads follows libjpeg-turbo exactly:
//! - `jpeg_calc_output_dimensions` gives each component an IDCT size: 1 at 1/8, doubled while
//!   the component is subsampled by a further power of two on both axes (4:2:0 chroma: 2;
//!   4:2:2 and 4:4:4 chroma: 1, upsampled afterwards).
//! - size 1 (`jpeg_idct_1x1`) reads the DC coefficient only; size 2 (`jpeg_idct_2x2`) reads
//!   rows and columns 0, 1, 3, 5 and 7 (it skips the even frequencies above 0, not the high
//!   ones: a 4:2:0 chroma AC scan over 1..=63 is needed whole); size 4 skips row and column 4.
//!
//! A scan is kept when it carries a coefficient a kept IDCT reads, or refines (or is refined
//! by) a kept scan of the same component: refinement bits are decoded against the history of
//! the coefficients they refine, so a band's whole chain of scans stays. DC scans always stay.
//! The result decodes to the same pixels as the whole file (with block smoothing off on both:
//! smoothing would invent AC coefficients for the missing scans).
//!
//! Anything unusual is left alone (the caller decodes the original): not progressive Huffman,
//! not 8-bit, several frames, a scan script that breaks the progression rules, restart markers
//! without a restart interval, too many scans, or nothing to drop.

use super::progressive_ac;
use super::MAX_SCANS;
use super::stream::{self, Frame, ScanHeader, Stream};

/// SOF2: progressive DCT, Huffman coding.
const PROGRESSIVE_HUFFMAN: u8 = 0xC2;

/// The input with the scans a 1/8-scale decode never reads cut out, or `None` when the input
/// should be decoded as it is (see the module docs).
pub fn for_eighth_scale(jpeg: &[u8]) -> Option<Vec<u8>> {
    let stream = stream::split(jpeg).ok()?;
    let keep = scans_to_keep(&stream).ok()?;
    if keep.iter().all(|&k| k) {
        return None;
    }
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&jpeg[..2]);
    let mut scans = keep.iter();
    for piece in &stream.pieces {
        let kept = piece.scan.is_none() || scans.next() == Some(&true);
        if kept {
            out.extend_from_slice(&jpeg[piece.range.clone()]);
        }
    }
    Some(out)
}

/// One flag per scan, in file order: whether a 1/8-scale decode needs it. `Err` when the file
/// is outside what pruning handles.
fn scans_to_keep(stream: &Stream) -> Result<Vec<bool>, &'static str> {
    let frame = &stream.frame;
    if frame.marker != PROGRESSIVE_HUFFMAN || frame.precision != 8 {
        return Err("not an 8-bit progressive Huffman file");
    }
    let scans: Vec<&ScanHeader> = stream.pieces.iter().filter_map(|p| p.scan.as_ref()).collect();
    if scans.is_empty() || scans.len() > MAX_SCANS as usize {
        return Err("no scans, or more than the decoder accepts");
    }
    check_progression(frame, &scans)?;
    let mut needed: Vec<u64> = (0..frame.components.len()).map(|c| coefficients_read(frame, c)).collect();
    let mut keep: Vec<bool> = scans.iter().map(|s| s.ss == 0).collect();
    // Grow each component's set by the bands of the scans kept for it until nothing changes:
    // a kept scan needs every earlier scan that touched its band (refinements decode against
    // them), and the set only grows, so this ends within 64 rounds per component.
    loop {
        let mut changed = false;
        for (scan, kept) in scans.iter().zip(keep.iter_mut()) {
            let c = scan.components[0];
            let band = band_mask(scan.ss, scan.se);
            if !*kept && band & needed[c] != 0 {
                *kept = true;
                needed[c] |= band;
                changed = true;
            }
        }
        if !changed {
            return Ok(keep);
        }
    }
}

/// The progression rules libjpeg enforces (it only warns, and decodes garbage, when they are
/// broken): DC scans cover coefficient 0 only, AC scans one component and a band within
/// 1..=63 of it after its DC; each pass over a coefficient refines the previous one by exactly
/// one bit. Restart markers need a restart interval.
pub(super) fn check_progression(frame: &Frame, scans: &[&ScanHeader]) -> Result<(), &'static str> {
    // Per component and coefficient: the bit position of the last pass, or -1 before the first.
    let mut bits = vec![[-1i8; 64]; frame.components.len()];
    for scan in scans {
        if scan.has_restarts && scan.restart_interval == 0 {
            return Err("restart markers without a restart interval");
        }
        let (ss, se, ah, al) = (scan.ss, scan.se, scan.ah, scan.al);
        let shape_ok = if ss == 0 { se == 0 } else { scan.components.len() == 1 && ss <= se && se <= 63 };
        if !shape_ok || al > 13 || (ah != 0 && al + 1 != ah) {
            return Err("scan breaks the progression rules");
        }
        for &c in &scan.components {
            if ss > 0 && bits[c][0] < 0 {
                return Err("AC scan before the component's DC");
            }
            for k in usize::from(ss)..=usize::from(se) {
                let expected = if ah == 0 { -1 } else { ah as i8 };
                if bits[c][k] != expected {
                    return Err("scan does not continue the previous pass");
                }
                bits[c][k] = al as i8;
            }
        }
    }
    Ok(())
}

/// The zigzag positions component `c`'s reduced IDCT reads at 1/8 scale, as a bit mask.
fn coefficients_read(frame: &Frame, c: usize) -> u64 {
    let max_h = frame.components.iter().map(|c| c.h).max().unwrap_or(1);
    let max_v = frame.components.iter().map(|c| c.v).max().unwrap_or(1);
    let (h, v) = (frame.components[c].h, frame.components[c].v);
    // jpeg_calc_output_dimensions, with the smallest IDCT size 1 (scale 1/8).
    let mut size = 1u8;
    while size < 8 && max_h % (h * size * 2) == 0 && max_v % (v * size * 2) == 0 {
        size *= 2;
    }
    progressive_ac::coefficients_read(usize::from(size))
}

/// Zigzag positions `ss..=se` as a bit mask.
fn band_mask(ss: u8, se: u8) -> u64 {
    (u32::from(ss)..=u32::from(se.min(63))).fold(0, |m, k| m | 1 << k)
}

#[cfg(test)]
mod tests {
    use super::super::stream::{Component, Piece};
    use super::*;

    fn frame(sampling: &[(u8, u8)]) -> Frame {
        let components = sampling.iter().enumerate().map(|(i, &(h, v))| Component { id: i as u8 + 1, h, v, quant_table: 0 }).collect();
        Frame { marker: PROGRESSIVE_HUFFMAN, precision: 8, width: 64, height: 64, components }
    }

    /// (components, Ss, Se, Ah, Al) per scan.
    fn stream(frame: Frame, script: &[(&[usize], u8, u8, u8, u8)]) -> Stream {
        let pieces = script
            .iter()
            .map(|&(components, ss, se, ah, al)| Piece {
                range: 0..0,
                scan: Some(ScanHeader {
                    components: components.to_vec(),
                    ss,
                    se,
                    ah,
                    al,
                    restart_interval: 0,
                    has_restarts: false,
                    data_start: 0,
                }),
            })
            .collect();
        Stream { frame, pieces }
    }

    /// libjpeg's default script for three components (jpeg_simple_progression).
    const LIBJPEG_DEFAULT: [(&[usize], u8, u8, u8, u8); 10] = [
        (&[0, 1, 2], 0, 0, 0, 1),
        (&[0], 1, 5, 0, 2),
        (&[2], 1, 63, 0, 1),
        (&[1], 1, 63, 0, 1),
        (&[0], 6, 63, 0, 2),
        (&[0], 1, 63, 2, 1),
        (&[0, 1, 2], 0, 0, 1, 0),
        (&[2], 1, 63, 1, 0),
        (&[1], 1, 63, 1, 0),
        (&[0], 1, 63, 1, 0),
    ];

    #[test]
    fn each_idct_size_reads_what_libjpeg_turbo_reads() {
        let f = frame(&[(2, 2), (1, 1), (1, 1)]);
        assert_eq!(coefficients_read(&f, 0), 1, "luma at 1/8: DC only");
        let chroma = coefficients_read(&f, 1);
        // 2x2 IDCT: (0,1) and (1,0) are zigzag 1 and 2, (0,2) at zigzag 5 is skipped, (7,7)
        // at 63 is read.
        assert!(chroma & 0b111 == 0b111 && chroma & 1 << 5 == 0 && chroma & 1 << 63 != 0);
        assert_eq!(chroma.count_ones(), 25);
        // 4:2:2 and 4:4:4 chroma get the 1x1 IDCT and an upsampler.
        assert_eq!(coefficients_read(&frame(&[(2, 1), (1, 1), (1, 1)]), 1), 1);
        assert_eq!(coefficients_read(&frame(&[(1, 1), (1, 1), (1, 1)]), 2), 1);
        // 4:1:0-like chroma (4x4 IDCT): everything but row and column 4.
        assert_eq!(coefficients_read(&frame(&[(4, 4), (1, 1), (1, 1)]), 1).count_ones(), 49);
    }

    #[test]
    fn the_default_script_keeps_dc_and_chroma_at_4_2_0_and_only_dc_at_4_4_4() {
        let keep = scans_to_keep(&stream(frame(&[(2, 2), (1, 1), (1, 1)]), &LIBJPEG_DEFAULT)).unwrap();
        assert_eq!(keep, [true, false, true, true, false, false, true, true, true, false]);
        let keep = scans_to_keep(&stream(frame(&[(1, 1), (1, 1), (1, 1)]), &LIBJPEG_DEFAULT)).unwrap();
        assert_eq!(keep, [true, false, false, false, false, false, true, false, false, false]);
    }

    #[test]
    fn a_kept_band_keeps_every_scan_it_refines_or_that_refines_it() {
        // Zigzag 5, (0,2), is never read by the 2x2 IDCT. Cr's lone pass over it is refined by
        // a kept 1..=63 pass, which decodes against its history, so it stays; Cb's is never
        // refined and goes, as does luma's AC.
        let script: [(&[usize], u8, u8, u8, u8); 9] = [
            (&[0, 1, 2], 0, 0, 0, 0),
            (&[2], 1, 4, 0, 1),
            (&[2], 5, 5, 0, 1),
            (&[2], 6, 63, 0, 1),
            (&[2], 1, 63, 1, 0),
            (&[1], 1, 4, 0, 0),
            (&[1], 5, 5, 0, 0),
            (&[1], 6, 63, 0, 0),
            (&[0], 1, 63, 0, 0),
        ];
        let keep = scans_to_keep(&stream(frame(&[(2, 2), (1, 1), (1, 1)]), &script)).unwrap();
        assert_eq!(keep, [true, true, true, true, true, true, false, true, false]);
    }

    #[test]
    fn broken_progressions_and_other_frames_are_left_alone() {
        let f = || frame(&[(2, 2), (1, 1), (1, 1)]);
        let refine_unseen: [(&[usize], u8, u8, u8, u8); 2] = [(&[0, 1, 2], 0, 0, 0, 0), (&[0], 1, 63, 1, 0)];
        assert!(scans_to_keep(&stream(f(), &refine_unseen)).is_err());
        let ac_first: [(&[usize], u8, u8, u8, u8); 2] = [(&[0], 1, 63, 0, 0), (&[0, 1, 2], 0, 0, 0, 0)];
        assert!(scans_to_keep(&stream(f(), &ac_first)).is_err());
        let interleaved_ac: [(&[usize], u8, u8, u8, u8); 2] = [(&[0, 1, 2], 0, 0, 0, 0), (&[1, 2], 1, 63, 0, 0)];
        assert!(scans_to_keep(&stream(f(), &interleaved_ac)).is_err());
        let mut baseline = stream(f(), &LIBJPEG_DEFAULT);
        baseline.frame.marker = 0xC0;
        assert!(scans_to_keep(&baseline).is_err());
        let mut twelve_bit = stream(f(), &LIBJPEG_DEFAULT);
        twelve_bit.frame.precision = 12;
        assert!(scans_to_keep(&twelve_bit).is_err());
        let mut restarts = stream(f(), &LIBJPEG_DEFAULT);
        if let Some(scan) = restarts.pieces[3].scan.as_mut() {
            scan.has_restarts = true;
        }
        assert!(scans_to_keep(&restarts).is_err());
    }
}
