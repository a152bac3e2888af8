//! The kinds of file the differential fuzz target (fuzz/fuzz_targets/jpeg_differential.rs)
//! found, each made at test time with the libjpeg encoder the tests link plus byte surgery on
//! a scan that the 1/8 scale skips (4:2:0 luma AC: its 1x1 IDCT reads only DC). The fuzz
//! inputs themselves are replayed from fuzz/regressions by `differential`'s own test.

use super::crafted_tests::{crop, scan_at};
use super::differential::{compare, Verdict};
use super::stream;
use super::tests::{encode_progressive, rocket_rgb, Scan};
use super::decode_every_scan_as_libjpeg_would;

/// DC of every component in one scan, then each component's AC in one scan, no refinement.
const ONE_AC_SCAN_EACH: [Scan; 4] = [(&[0, 1, 2], 0, 0, 0, 0), (&[0], 1, 63, 0, 0), (&[1], 1, 63, 0, 0), (&[2], 1, 63, 0, 0)];

/// A 4:2:0 progressive file of a crop of the sample photo; scan 1 is luma's AC.
fn four_two_zero() -> Vec<u8> {
    let (rgb, width, _) = rocket_rgb();
    let (w, h) = (96, 64);
    encode_progressive(&crop(&rgb, width, w, h), w, h, 3, (2, 2), &ONE_AC_SCAN_EACH)
}

/// A marker libjpeg does not know (0xFFA4, with a length) before a scan 1/8 skips: libjpeg
/// refuses the whole file, so the own decoder must leave it to libjpeg at both scales.
#[test]
fn an_unknown_marker_after_the_scans_a_scale_reads_goes_to_libjpeg() {
    let jpeg = four_two_zero();
    let (sos, _) = scan_at(&jpeg, 1);
    let mut crafted = jpeg.clone();
    crafted.splice(sos..sos, [0xFF, 0xA4, 0x00, 0x04, 0x12, 0x34]);
    assert!(decode_every_scan_as_libjpeg_would(&crafted, (96, 64), 1, false).is_err(), "libjpeg took the unknown marker");
    for eighths in [1, 2] {
        assert_eq!(compare(&crafted, eighths), Verdict::Declined, "at {eighths}/8");
    }
    assert_eq!(compare(&jpeg, 1), Verdict::Same, "the file without the marker");
}

/// A skipped scan naming an AC Huffman table never defined: libjpeg refuses the file.
#[test]
fn a_skipped_scan_naming_an_undefined_table_goes_to_libjpeg() {
    let jpeg = four_two_zero();
    let (_, data) = scan_at(&jpeg, 1);
    let mut crafted = jpeg.clone();
    // One component: ..., selector, Td << 4 | Ta, Ss, Se, Ah << 4 | Al, then the data.
    crafted[data - 4] = 0x03;
    assert!(decode_every_scan_as_libjpeg_would(&crafted, (96, 64), 1, false).is_err(), "libjpeg took table 3");
    for eighths in [1, 2] {
        assert_eq!(compare(&crafted, eighths), Verdict::Declined, "at {eighths}/8");
    }
}

/// A scan 1/8 skips cut short (its data ends long before its last block): libjpeg decodes past
/// it with a warning and its 1/8 picture is unchanged; the own decoder, which never reads that
/// scan, gives the same picture. At 1/4 the scan is read: libjpeg's picture, or left to libjpeg.
#[test]
fn a_damaged_scan_that_the_scale_skips_leaves_the_picture_as_libjpeg_makes_it() {
    let jpeg = four_two_zero();
    let (_, data) = scan_at(&jpeg, 1);
    let stream = stream::split(&jpeg).unwrap();
    let data_end = stream.pieces.iter().filter(|p| p.scan.is_some()).nth(1).unwrap().range.end;
    let mut crafted = jpeg.clone();
    crafted.drain(data + 16..data_end);
    let (_, warning) = decode_every_scan_as_libjpeg_would(&crafted, (96, 64), 1, false).unwrap();
    assert!(warning.is_some(), "libjpeg saw nothing wrong");
    assert_eq!(compare(&crafted, 1), Verdict::Same);
    assert!(matches!(compare(&crafted, 2), Verdict::Same | Verdict::Declined), "at 1/4: {:?}", compare(&crafted, 2));
}

/// A DAC segment (arithmetic conditioning) with a bogus value in a Huffman file: libjpeg
/// checks it anyway and refuses the file.
#[test]
fn a_bogus_dac_segment_goes_to_libjpeg() {
    let jpeg = four_two_zero();
    let (sos, _) = scan_at(&jpeg, 1);
    let mut crafted = jpeg.clone();
    // Table class/index 0x22 (no such table), then a value.
    crafted.splice(sos..sos, [0xFF, 0xCC, 0x00, 0x04, 0x22, 0x01]);
    assert!(decode_every_scan_as_libjpeg_would(&crafted, (96, 64), 1, false).is_err(), "libjpeg took the DAC");
    for eighths in [1, 2] {
        assert_eq!(compare(&crafted, eighths), Verdict::Declined, "at {eighths}/8");
    }
}

/// A scan naming the frame's components out of order (1, 3, 2): libjpeg-turbo refuses this
/// order (and accepts some others), so the own decoder leaves every other order to it.
#[test]
fn a_scan_with_components_out_of_the_frames_order_goes_to_libjpeg() {
    let jpeg = four_two_zero();
    let (_, data) = scan_at(&jpeg, 0);
    let mut crafted = jpeg.clone();
    // Three (selector, tables) pairs, then Ss, Se, Ah << 4 | Al: swap the second and third pairs.
    let pairs = data - 3 - 6;
    crafted[pairs + 2..pairs + 6].rotate_left(2);
    assert!(decode_every_scan_as_libjpeg_would(&crafted, (96, 64), 1, false).is_err(), "libjpeg took the order");
    for eighths in [1, 2] {
        assert_eq!(compare(&crafted, eighths), Verdict::Declined, "at {eighths}/8");
    }
}
