//! Crafted progressive JPEGs on which the own decoder once answered with pixels libjpeg does
//! not produce (issue 20), each made at test time with the libjpeg encoder the tests link plus
//! a little byte surgery: the pipeline's picture must equal libjpeg's at 1/8 and 1/4, whether
//! the own decoder takes the file (exact) or leaves it to libjpeg (refused).

use super::own_decoder::decode_to_ycc;
use super::decode_every_scan;
use super::stream;
use super::tests::{compare_at, encode_progressive, encode_progressive_as_rgb, frame_size, rocket_rgb, Scan};
use crate::jobs::JobControl;

/// DC of every component in one scan, then each component's AC in one scan, no refinement.
const ONE_AC_SCAN_EACH: [Scan; 4] = [(&[0, 1, 2], 0, 0, 0, 0), (&[0], 1, 63, 0, 0), (&[1], 1, 63, 0, 0), (&[2], 1, 63, 0, 0)];

/// A JFIF APP0 segment (version 1.01, no thumbnail).
const JFIF_APP0: [u8; 18] = [0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];

/// Where scan `n` (0-based) starts and where its data starts.
pub(super) fn scan_at(jpeg: &[u8], n: usize) -> (usize, usize) {
    let stream = stream::split(jpeg).unwrap();
    let piece = stream.pieces.iter().filter(|p| p.scan.is_some()).nth(n).unwrap();
    (piece.range.start, piece.scan.as_ref().unwrap().data_start)
}

/// `jpeg` with scan `n`'s successive-approximation low bit (Al) set to `al`: the same symbols,
/// each value shifted further (libjpeg decodes Al up to 13, its encoder writes up to 10).
fn with_al(jpeg: &[u8], n: usize, al: u8) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    // The SOS header ends with Ss, Se, then Ah << 4 | Al, just before the data.
    let (_, data_start) = scan_at(jpeg, n);
    out[data_start - 1] = (out[data_start - 1] & 0xF0) | al;
    out
}

/// The first `width x height` pixels of RGB rows `width_of` wide.
pub(super) fn crop(rgb: &[u8], width_of: u32, width: u32, height: u32) -> Vec<u8> {
    rgb.chunks_exact(width_of as usize * 3).take(height as usize).flat_map(|row| &row[..width as usize * 3]).copied().collect()
}

/// The pipeline's picture equals libjpeg's (every scan) at 1/8 and at 1/4; returns whether the
/// own decoder took the file at each.
fn exact_or_refused(name: &str, jpeg: &[u8]) -> [bool; 2] {
    [1, 2].map(|eighths| {
        let got = compare_at(name, jpeg, eighths);
        assert!(got.identical, "{name} at {eighths}/8: the pipeline's picture differs from libjpeg's");
        got.own_decoder
    })
}

/// (1) An RGB file (Adobe transform 0) with a JFIF APP0 after its first scan: libjpeg fixed the
/// colour space (RGB) at that scan, and the marker after it changes nothing.
#[test]
fn rgb_with_a_jfif_marker_after_the_first_scan_stays_rgb() {
    let (rgb, width, height) = rocket_rgb();
    let plain = encode_progressive_as_rgb(&rgb, width, height, &ONE_AC_SCAN_EACH);
    let (second_scan, _) = scan_at(&plain, 1);
    let mut crafted = plain.clone();
    crafted.splice(second_scan..second_scan, JFIF_APP0);
    let ctl = JobControl::unbounded();
    for eighths in [1, 2] {
        let size = frame_size(&crafted);
        // The vector is what it claims: libjpeg reads both files the same, as RGB.
        let reference = decode_every_scan(&crafted, size, eighths, false, &ctl).unwrap();
        assert!(reference.data == decode_every_scan(&plain, size, eighths, false, &ctl).unwrap().data);
        assert!(decode_to_ycc(&crafted, size, eighths).is_none(), "taken as YCbCr at {eighths}/8");
    }
    exact_or_refused("RGB, JFIF after the first scan", &crafted);
    // A JFIF marker before the first scan makes libjpeg read YCbCr (the marker wins over the
    // Adobe one): the own decoder takes that, exactly.
    let mut jfif_first = plain;
    jfif_first.splice(2..2, JFIF_APP0);
    assert_eq!(exact_or_refused("RGB samples, JFIF first", &jfif_first), [true, true]);
}

/// (2) A 4:2:0 file whose last scan, Cr AC 1-63, has Al 13 (and 12, 10, ...): coefficients of
/// 2^13 times their quantiser overflow the 16 bits libjpeg's SIMD IDCTs multiply in.
#[test]
fn a_last_chroma_scan_with_a_large_al_is_exact_or_refused() {
    let (rgb, width, height) = rocket_rgb();
    let jpeg = encode_progressive(&rgb, width, height, 3, (2, 2), &ONE_AC_SCAN_EACH);
    let mut refused = 0;
    for al in [1, 4, 8, 10, 12, 13] {
        let crafted = with_al(&jpeg, 3, al);
        let taken = exact_or_refused(&format!("4:2:0, Cr AC at Al {al}"), &crafted);
        refused += taken.iter().filter(|&&t| !t).count();
        if al == 13 {
            assert_eq!(taken, [false, false], "Al 13 taken");
        }
    }
    eprintln!("Cr AC with a large Al: {refused} of 12 decodes left to libjpeg");
}

/// (3) A 129x65 4:4:4 file with only an interleaved DC scan at Al 10, then EOI: at 1/4 the
/// 2x2 IDCTs see coefficients far out of range (refused); at 1/8 the 1x1 IDCT, C in libjpeg
/// too, wraps through its range-limit table as the own decoder does (exact).
#[test]
fn a_dc_only_file_at_a_large_al_is_exact_or_refused() {
    let (rgb, width, _) = rocket_rgb();
    let (w, h) = (129, 65);
    let small = crop(&rgb, width, w, h);
    let jpeg = encode_progressive(&small, w, h, 3, (1, 1), &[(&[0, 1, 2], 0, 0, 0, 0)]);
    for al in [0, 2, 6, 10, 13] {
        let crafted = with_al(&jpeg, 0, al);
        let taken = exact_or_refused(&format!("129x65 4:4:4, DC only at Al {al}"), &crafted);
        assert!(taken[0], "Al {al}: the 1x1 path declined");
        if al == 10 {
            assert!(!taken[1], "Al 10 taken at 1/4");
        }
    }
}

/// Kinds (2) and (3) generalised, a bounded differential run: every first-pass scan of scripts
/// without refinement given a random Al from 0 to 13 (the symbols stay, each value shifts by up
/// to 13 bits), over every chroma sampling, at 1/8 and 1/4: exact or refused, every time.
#[test]
fn random_large_als_are_exact_or_refused() {
    const EVERY_BAND_APART: [Scan; 7] =
        [(&[0, 1, 2], 0, 0, 0, 0), (&[0], 1, 5, 0, 0), (&[1], 1, 5, 0, 0), (&[2], 1, 5, 0, 0), (&[0], 6, 63, 0, 0), (&[1], 6, 63, 0, 0), (&[2], 6, 63, 0, 0)];
    let (rgb, width, _) = rocket_rgb();
    let (w, h) = (200, 136);
    let small = crop(&rgb, width, w, h);
    let mut state = 0x9E37_79B9_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let (mut taken, mut refused) = (0, 0);
    for sampling in [(2, 2), (1, 1), (2, 1), (1, 2)] {
        for script in [&ONE_AC_SCAN_EACH[..], &EVERY_BAND_APART[..]] {
            let jpeg = encode_progressive(&small, w, h, 3, sampling, script);
            for round in 0..6 {
                let mut crafted = jpeg.clone();
                for n in 0..script.len() {
                    crafted = with_al(&crafted, n, (next() % 14) as u8);
                }
                let name = format!("sampling {sampling:?}, {} scans, round {round}", script.len());
                for own in exact_or_refused(&name, &crafted) {
                    if own {
                        taken += 1;
                    } else {
                        refused += 1;
                    }
                }
            }
        }
    }
    eprintln!("random Al: {taken} decodes exact by the own decoder, {refused} left to libjpeg");
    assert!(taken > 0 && refused > 0, "taken {taken}, refused {refused}");
}
