//! The picture size the coded stream itself declares, read from the codec configuration before
//! any decoder runs: HEVC's sequence parameter set (in `hvcC`), AV1's sequence header (in
//! `av1C`, or at the start of the item's data). A file whose `ispe` says 64x64 while its stream
//! declares 16000x16000 would make the decoder allocate the larger picture before libheif
//! notices; [`super::header`] compares the two and refuses such a file by its header.

/// Reads bits most significant first, from a byte slice (RBSP: emulation prevention removed).
struct Bits<'a> {
    data: &'a [u8],
    bit: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.bit / 8)?;
        let v = (byte >> (7 - self.bit % 8)) & 1;
        self.bit += 1;
        Some(v.into())
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some(acc << 1 | self.bit()?))
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.bit += n;
        (self.bit <= self.data.len() * 8).then_some(())
    }

    /// Unsigned exp-Golomb (HEVC's `ue(v)`), up to 31 leading zeros.
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + u64::from(self.bits(zeros)?)).min(u64::from(u32::MAX)) as u32)
    }
}

/// The size after the conformance window, from the first SPS in an `hvcC` payload.
pub fn hevc(hvcc: &[u8]) -> Option<(u32, u32)> {
    // 22 bytes of configuration, then arrays: type byte, NAL count, each NAL length-prefixed.
    let mut at = 22;
    let arrays = *hvcc.get(at)?;
    at += 1;
    for _ in 0..arrays {
        let nal_type = hvcc.get(at)? & 0x3F;
        let count = u16::from_be_bytes([*hvcc.get(at + 1)?, *hvcc.get(at + 2)?]);
        at += 3;
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([*hvcc.get(at)?, *hvcc.get(at + 1)?]));
            let nal = hvcc.get(at + 2..at + 2 + len)?;
            at += 2 + len;
            if nal_type == 33 {
                return sps_size(&unescape(nal.get(2..)?));
            }
        }
    }
    None
}

/// Removes emulation prevention bytes (`00 00 03` -> `00 00`).
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// H.265 7.3.2.2: up to the picture size and conformance window.
fn sps_size(rbsp: &[u8]) -> Option<(u32, u32)> {
    let mut r = Bits { data: rbsp, bit: 0 };
    r.skip(4)?; // sps_video_parameter_set_id
    let sub_layers = r.bits(3)? as usize; // sps_max_sub_layers_minus1
    r.skip(1)?;
    // profile_tier_level: 88 bits of general profile, 8 of level, then per sub-layer flags.
    r.skip(96)?;
    let mut present = Vec::new();
    for _ in 0..sub_layers {
        present.push((r.bit()?, r.bit()?));
    }
    if sub_layers > 0 {
        r.skip(2 * (8 - sub_layers))?;
    }
    for (profile, level) in present {
        r.skip(88 * profile as usize + 8 * level as usize)?;
    }
    r.ue()?; // sps_seq_parameter_set_id
    let chroma = r.ue()?;
    if chroma == 3 {
        r.skip(1)?; // separate_colour_plane_flag
    }
    let (width, height) = (r.ue()?, r.ue()?);
    let (sub_w, sub_h) = match chroma {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    if r.bit()? == 1 {
        let (left, right, top, bottom) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        let w = width.checked_sub(left.checked_add(right)?.checked_mul(sub_w)?)?;
        let h = height.checked_sub(top.checked_add(bottom)?.checked_mul(sub_h)?)?;
        return Some((w, h));
    }
    Some((width, height))
}

/// The largest frame size of the first sequence header among `obus` (an `av1C` payload after
/// its 4 bytes, or the start of an item's data).
pub fn av1(obus: &[u8]) -> Option<(u32, u32)> {
    let mut at = 0;
    while at < obus.len() {
        let header = *obus.get(at)?;
        let kind = (header >> 3) & 15;
        let extension = header & 4 != 0;
        let has_size = header & 2 != 0;
        at += 1 + usize::from(extension);
        let size = if has_size {
            let (size, used) = leb128(obus.get(at..)?)?;
            at += used;
            size
        } else {
            // The rest, if the header bytes left any (a truncated header is no sequence).
            obus.len().checked_sub(at)?
        };
        let payload = obus.get(at..at.checked_add(size)?)?;
        if kind == 1 {
            return sequence_header_size(payload);
        }
        at += size;
    }
    None
}

fn leb128(data: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, &b) in data.iter().take(8).enumerate() {
        value |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// AV1 5.5.1, up to `max_frame_width_minus_1` and `max_frame_height_minus_1`.
fn sequence_header_size(payload: &[u8]) -> Option<(u32, u32)> {
    let mut r = Bits { data: payload, bit: 0 };
    r.skip(3)?; // seq_profile
    r.skip(1)?; // still_picture
    if r.bit()? == 1 {
        r.skip(5)?; // reduced_still_picture_header: seq_level_idx[0]
    } else {
        let mut decoder_model = false;
        let mut delay_length = 0;
        if r.bit()? == 1 {
            // timing_info
            r.skip(64)?;
            if r.bit()? == 1 {
                // num_ticks_per_picture_minus_1: uvlc
                let mut zeros = 0;
                while r.bit()? == 0 {
                    zeros += 1;
                    if zeros >= 32 {
                        return None;
                    }
                }
                r.skip(zeros)?;
            }
            decoder_model = r.bit()? == 1;
            if decoder_model {
                delay_length = r.bits(5)? as usize + 1;
                r.skip(32 + 5 + 5)?;
            }
        }
        let display_delay = r.bit()? == 1;
        let points = r.bits(5)? + 1;
        for _ in 0..points {
            r.skip(12)?; // operating_point_idc
            if r.bits(5)? > 7 {
                r.skip(1)?; // seq_tier
            }
            if decoder_model && r.bit()? == 1 {
                r.skip(2 * delay_length + 1)?;
            }
            if display_delay && r.bit()? == 1 {
                r.skip(4)?;
            }
        }
    }
    let width_bits = r.bits(4)? + 1;
    let height_bits = r.bits(4)? + 1;
    let width = r.bits(width_bits)?.checked_add(1)?;
    let height = r.bits(height_bits)?.checked_add(1)?;
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_and_emulation_prevention() {
        // 1 -> 0; 010 -> 1; 011 -> 2; 00100 -> 3
        let mut r = Bits { data: &[0b1010_0110, 0b0100_0000], bit: 0 };
        assert_eq!((r.ue(), r.ue(), r.ue(), r.ue()), (Some(0), Some(1), Some(2), Some(3)));
        assert_eq!(unescape(&[0, 0, 3, 1, 0, 0, 3]), [0, 0, 1, 0, 0]);
    }

    #[test]
    fn a_reduced_still_picture_header() {
        // 3 bits profile, still 1, reduced 1, level 5 bits, then 4+4 bits of field widths
        // (11 bits each: 1023 -> 1024 wide), width-1 = 1023 and height-1 = 767.
        let mut bits = String::from("000" /* profile */);
        bits += "1"; // still
        bits += "1"; // reduced
        bits += "00000"; // level
        bits += "1010"; // width bits - 1 = 10
        bits += "1010";
        bits += &format!("{:011b}", 1023);
        bits += &format!("{:011b}", 767);
        while bits.len() % 8 != 0 {
            bits.push('0');
        }
        let payload: Vec<u8> = bits.as_bytes().chunks(8).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap()).collect();
        let mut obus = vec![0x12, 0x00]; // temporal delimiter with size 0
        obus.push(0x0A); // sequence header, has size
        obus.push(payload.len() as u8);
        obus.extend(&payload);
        assert_eq!(av1(&obus), Some((1024, 768)));
    }

    #[test]
    fn an_obu_header_cut_short_is_no_sequence() {
        // A sequence header OBU (kind 1) with the extension flag and no size field, as the
        // last byte: its extension byte lies past the end (fuzz/regressions/resize/
        // avif-obu-header-past-the-end). The rest's length was `len - at`, which underflowed.
        assert_eq!(av1(&[0x0C]), None);
        assert_eq!(av1(&[0x12, 0x00, 0x0C]), None);
    }
}
