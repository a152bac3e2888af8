//! Splits a whole JPEG into its pieces without decoding anything: marker segments, and scans
//! (an SOS segment plus the entropy-coded data after it). Entropy-coded data ends at the first
//! marker that is neither a stuffed 0xFF00 nor a restart marker, so a byte search finds it.
//!
//! Strict on purpose: it serves [`scan_pruning`](super::scan_pruning), which only touches
//! files it fully understands. Anything else (a second frame, hierarchical or DNL markers, a
//! restart marker outside a scan, a file that does not reach EOI) is an `Err` naming what was
//! not understood, and the caller decodes the file as it came.

use std::ops::Range;

use memchr::memchr;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DNL: u8 = 0xDC;
const DRI: u8 = 0xDD;
const DHP: u8 = 0xDE;
const EXP: u8 = 0xDF;

/// A JPEG cut into contiguous pieces, from just after SOI up to and including EOI.
#[derive(Debug)]
pub struct Stream {
    pub frame: Frame,
    pub pieces: Vec<Piece>,
}

/// Bytes of the input and what they hold.
#[derive(Debug)]
pub struct Piece {
    pub range: Range<usize>,
    /// `Some` for a scan (SOS segment and its entropy-coded data).
    pub scan: Option<ScanHeader>,
}

/// The start-of-frame segment.
#[derive(Debug)]
pub struct Frame {
    /// SOF marker byte: 0xC0 baseline, 0xC2 progressive Huffman, and so on.
    pub marker: u8,
    /// Bits per sample.
    pub precision: u8,
    pub width: u16,
    pub height: u16,
    pub components: Vec<Component>,
}

/// One frame component, its sampling factors and its quantisation table.
#[derive(Clone, Copy, Debug)]
pub struct Component {
    pub id: u8,
    pub h: u8,
    pub v: u8,
    pub quant_table: u8,
}

/// An SOS header, with component selectors resolved to indices into the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanHeader {
    pub components: Vec<usize>,
    /// Spectral selection: first and last zigzag coefficient.
    pub ss: u8,
    pub se: u8,
    /// Successive approximation: bit position of the previous pass (0 on the first) and of
    /// this one.
    pub ah: u8,
    pub al: u8,
    /// The restart interval in force (DRI), and whether restart markers appear in the data.
    pub restart_interval: u16,
    pub has_restarts: bool,
    /// Where the entropy-coded data starts (it ends where the scan's piece does).
    pub data_start: usize,
}

/// Cuts `jpeg` into pieces, or says what it did not understand.
pub fn split(jpeg: &[u8]) -> Result<Stream, &'static str> {
    if jpeg.len() < 4 || jpeg[0] != 0xFF || jpeg[1] != SOI {
        return Err("no SOI");
    }
    let mut frame = None;
    let mut pieces = Vec::new();
    let mut restart_interval = 0u16;
    let mut pos = 2;
    loop {
        let start = pos;
        if jpeg.get(pos) != Some(&0xFF) {
            return Err("expected a marker");
        }
        while jpeg.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *jpeg.get(pos).ok_or("ends inside a marker")?;
        pos += 1;
        match marker {
            EOI => {
                pieces.push(Piece { range: start..pos, scan: None });
                let frame = frame.ok_or("no frame")?;
                return Ok(Stream { frame, pieces });
            }
            0x00 | 0x01 | 0xD0..=0xD7 | SOI => return Err("standalone marker outside a scan"),
            DNL | DHP | EXP => return Err("DNL or hierarchical marker"),
            // What libjpeg reads besides frames and scans: DHT, DQT, DRI, APPn, COM. It refuses
            // the whole file at any other marker, even one after the scans a reduced scale
            // reads, so such a file must go to it. DAC (arithmetic conditioning) too: libjpeg
            // checks its values even in a Huffman file, and no Huffman file needs one.
            0xC4 | 0xDB | 0xDD | 0xE0..=0xEF | 0xFE | SOS => {}
            _ if is_start_of_frame(marker) => {}
            _ => return Err("a marker libjpeg does not know"),
        }
        let length = jpeg.get(pos..pos + 2).ok_or("ends inside a segment length")?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        let payload = jpeg.get(pos + 2..pos + length).filter(|_| length >= 2).ok_or("bad segment length")?;
        pos += length;
        let mut scan = None;
        if is_start_of_frame(marker) {
            if frame.is_some() {
                return Err("more than one frame");
            }
            frame = Some(parse_frame(marker, payload)?);
        } else if marker == DRI {
            let interval = payload.get(..2).filter(|_| payload.len() == 2).ok_or("bad DRI segment")?;
            restart_interval = u16::from_be_bytes([interval[0], interval[1]]);
        } else if marker == SOS {
            let frame = frame.as_ref().ok_or("scan before the frame")?;
            let (end, has_restarts) = entropy_coded_end(jpeg, pos)?;
            scan = Some(parse_scan(frame, payload, restart_interval, has_restarts, pos)?);
            pos = end;
        }
        pieces.push(Piece { range: start..pos, scan });
    }
}

/// Where the entropy-coded data starting at `pos` ends (the 0xFF of the next marker), and
/// whether restart markers appeared in it.
fn entropy_coded_end(jpeg: &[u8], mut pos: usize) -> Result<(usize, bool), &'static str> {
    let mut has_restarts = false;
    loop {
        let ff = pos + memchr(0xFF, &jpeg[pos..]).ok_or("scan data runs to the end of the file")?;
        let mut next = ff + 1;
        while jpeg.get(next) == Some(&0xFF) {
            next += 1;
        }
        match jpeg.get(next) {
            None => return Err("scan data runs to the end of the file"),
            Some(0x00) => {}
            Some(0xD0..=0xD7) => has_restarts = true,
            Some(_) => return Ok((ff, has_restarts)),
        }
        pos = next + 1;
    }
}

/// SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
fn is_start_of_frame(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// precision, height, width, count, then per component: id, H<<4|V, quantisation table.
fn parse_frame(marker: u8, p: &[u8]) -> Result<Frame, &'static str> {
    let count = usize::from(*p.get(5).ok_or("short frame header")?);
    if !(1..=4).contains(&count) || p.len() != 6 + 3 * count {
        return Err("bad frame header");
    }
    let mut components: Vec<Component> = Vec::with_capacity(count);
    for c in p[6..].chunks_exact(3) {
        let (id, h, v) = (c[0], c[1] >> 4, c[1] & 15);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || components.iter().any(|o| o.id == id) {
            return Err("bad frame component");
        }
        components.push(Component { id, h, v, quant_table: c[2] });
    }
    let height = u16::from_be_bytes([p[1], p[2]]);
    let width = u16::from_be_bytes([p[3], p[4]]);
    Ok(Frame { marker, precision: p[0], width, height, components })
}

/// count, then per component: selector, tables; then Ss, Se, Ah<<4|Al.
fn parse_scan(frame: &Frame, p: &[u8], restart_interval: u16, has_restarts: bool, data_start: usize) -> Result<ScanHeader, &'static str> {
    let count = usize::from(*p.first().ok_or("short scan header")?);
    if !(1..=4).contains(&count) || p.len() != 4 + 2 * count {
        return Err("bad scan header");
    }
    let mut components = Vec::with_capacity(count);
    for selector in p[1..1 + 2 * count].chunks_exact(2) {
        let index = frame.components.iter().position(|c| c.id == selector[0]).ok_or("scan names an unknown component")?;
        if components.contains(&index) {
            return Err("scan names a component twice");
        }
        // The standard orders a scan's components as the frame does; libjpeg-turbo refuses some
        // other orders and not others (its search skips frame slots at or before the scan's
        // position), so any other order goes to it.
        if components.last().is_some_and(|&previous| previous > index) {
            return Err("scan components out of the frame's order");
        }
        components.push(index);
    }
    let tail = &p[1 + 2 * count..];
    Ok(ScanHeader {
        components,
        ss: tail[0],
        se: tail[1],
        ah: tail[2] >> 4,
        al: tail[2] & 15,
        restart_interval,
        has_restarts,
        data_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, SOF2 (two components, the first 2x2), DHT, DC scan over both, an AC scan with a
    /// stuffed byte, a fill byte and a restart marker in its data, EOI.
    fn small_stream() -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend([0xFF, 0xC2, 0, 14, 8, 0, 16, 0, 16, 2, 1, 0x22, 0, 2, 0x11, 1]);
        j.extend([0xFF, 0xC4, 0, 4, 0xAA, 0xBB]);
        j.extend([0xFF, 0xDA, 0, 10, 2, 1, 0, 2, 0, 0, 0, 0x00]);
        j.extend([0x12, 0x34, 0xFF, 0x00, 0x56]);
        j.extend([0xFF, 0xDA, 0, 8, 1, 2, 0, 1, 63, 0x00]);
        j.extend([0x78, 0xFF, 0xFF, 0xD3, 0x9A, 0xFF, 0x00]);
        j.extend([0xFF, 0xD9]);
        j
    }

    #[test]
    fn splits_segments_and_scans_at_their_markers() {
        let j = small_stream();
        let stream = split(&j).unwrap();
        assert_eq!(stream.frame.marker, 0xC2);
        assert_eq!(stream.frame.components.len(), 2);
        assert_eq!((stream.frame.components[0].h, stream.frame.components[0].v), (2, 2));
        let ranges: Vec<_> = stream.pieces.iter().map(|p| p.range.clone()).collect();
        assert_eq!(ranges, [2..18, 18..24, 24..41, 41..58, 58..60]);
        let scans: Vec<_> = stream.pieces.iter().filter_map(|p| p.scan.as_ref()).collect();
        assert_eq!(scans[0].components, [0, 1]);
        assert_eq!((scans[0].ss, scans[0].se, scans[0].has_restarts, scans[0].data_start), (0, 0, false, 36));
        assert_eq!((stream.frame.width, stream.frame.height, stream.frame.components[1].quant_table), (16, 16, 1));
        assert_eq!(scans[1].components, [1]);
        assert_eq!((scans[1].ss, scans[1].se, scans[1].ah, scans[1].al, scans[1].has_restarts), (1, 63, 0, 0, true));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        let j = small_stream();
        // Every truncation: no EOI.
        for len in 0..j.len() - 1 {
            assert!(split(&j[..len]).is_err(), "length {len}");
        }
        // A restart marker between segments.
        let mut stray = j.clone();
        stray.splice(18..18, [0xFF, 0xD0]);
        assert!(split(&stray).is_err());
        // A second frame.
        let mut twice = j.clone();
        twice.splice(18..18, j[2..18].iter().copied());
        assert_eq!(split(&twice).unwrap_err(), "more than one frame");
        // A scan naming a component the frame lacks.
        let mut unknown = j;
        unknown[29] = 9;
        assert_eq!(split(&unknown).unwrap_err(), "scan names an unknown component");
    }
}
