//! Tests of our PNG unfiltering (`plain_rows`, `unfilter`, `unfilter_sse2`) against the png
//! crate's `Reader`, which stays the reference: PNGs written here with a random filter per
//! row (filtered by hand from the spec, deflated with `fdeflate`, IDAT split at random; the
//! crate's encoder picks filters itself), every colour type at 8 and 16 bits over small and
//! odd sizes, the sample photos, and damaged files.

use std::io::Cursor;

use png::{ColorType, Decoder, Transformations};

use crate::jobs::{JobControl, JobError};
use crate::jobs::resize::tests::photos_with_extension;
use super::open;
use super::unfilter::{band_rows, paeth, unfilter_band, unfilter_row, BAND_ROWS, ROW_SLACK, SHORT_BAND_ROWS, WIDE_BAND_BYTES};
use super::super::ROWS_PER_CHECK;

/// xorshift64*: reproducible noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n
    }
}

/// Rows of test pixels, each of one kind: noise, flat, a ramp, or noise over a ramp (so
/// every predictor wins somewhere, ties included).
fn pixels(rng: &mut Rng, stride: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(stride * height);
    for _ in 0..height {
        let (kind, base) = (rng.below(4), rng.below(256));
        for i in 0..stride {
            out.push(match kind {
                0 => rng.next() as u8,
                1 => base as u8,
                2 => (base + i * 3) as u8,
                _ => (base + i + rng.below(9)) as u8,
            });
        }
    }
    out
}

/// Filters `row` (below `prev`, zeros for the first row) with `filter`: the encoder's side,
/// from the spec, appended to `out` after the filter byte.
fn filter_row(filter: u8, bpp: usize, prev: &[u8], row: &[u8], out: &mut Vec<u8>) {
    out.push(filter);
    for i in 0..row.len() {
        let (a, c) = if i >= bpp { (row[i - bpp], prev[i - bpp]) } else { (0, 0) };
        let b = prev[i];
        let pred = match filter {
            0 => 0,
            1 => a,
            2 => b,
            3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
            _ => paeth(a, b, c),
        };
        out.push(row[i].wrapping_sub(pred));
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG from a filtered stream (filter byte + row, row after row), its zlib stream cut into
/// IDAT chunks of `idat` bytes.
fn write_png(width: u32, height: u32, color: ColorType, bits: u8, stream: &[u8], idat: usize) -> Vec<u8> {
    write_zlib_png(width, height, color, bits, &fdeflate::compress_to_vec(stream), idat)
}

/// A PNG around a zlib stream given as is.
fn write_zlib_png(width: u32, height: u32, color: ColorType, bits: u8, zlib: &[u8], idat: usize) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bits, color as u8, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    for part in zlib.chunks(idat.max(1)) {
        chunk(&mut out, b"IDAT", part);
    }
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The filtered stream of a random picture, a random filter on every row.
fn mixed_stream(rng: &mut Rng, width: usize, height: usize, bpp: usize) -> Vec<u8> {
    let stride = width * bpp;
    let picture = pixels(rng, stride, height);
    let zeros = vec![0u8; stride];
    let mut stream = Vec::new();
    for y in 0..height {
        let prev = if y == 0 { &zeros[..] } else { &picture[(y - 1) * stride..][..stride] };
        filter_row(rng.below(5) as u8, bpp, prev, &picture[y * stride..][..stride], &mut stream);
    }
    stream
}

/// Rows and outcome, as `Reader` gives them (the transformations `open` asks for).
fn reader_rows(file: &[u8]) -> (Vec<Vec<u8>>, Result<(), String>) {
    let mut decoder = Decoder::new(Cursor::new(file));
    decoder.set_transformations(Transformations::EXPAND);
    let mut reader = match decoder.read_info() {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(format!("png: {e}"))),
    };
    let (width, height) = reader.info().size();
    let mut row = vec![0u8; reader.output_line_size(width).unwrap()];
    let mut rows = Vec::new();
    for y in 0..height {
        match reader.read_row(&mut row) {
            Ok(Some(_)) => rows.push(row.clone()),
            Ok(None) => return (rows, Err(format!("png: image data ends after {y} of {height} rows"))),
            Err(e) => return (rows, Err(format!("png: {e}"))),
        }
    }
    (rows, Ok(()))
}

/// Rows and outcome through `PngSource`, which takes our path when `plain` says it should.
fn our_rows(file: &[u8]) -> (Vec<Vec<u8>>, Result<(), String>, bool) {
    let mut rows = Vec::new();
    let mut source = match open(file, false) {
        Ok((_, source)) => source,
        Err(e) => return (rows, Err(e.to_string()), false),
    };
    let plain = source.plain_shape().is_some();
    let result = source.for_each_row(&JobControl::unbounded(), |row| rows.push(row.to_vec()));
    (rows, result.map_err(|e| e.to_string()), plain)
}

/// Our rows equal the crate's: identical wherever both produced a row, and all of them as
/// soon as either succeeds. Returns both outcomes for the caller to look at.
fn agree(file: &[u8], what: &str) -> (Result<(), String>, Result<(), String>) {
    let (ours, ours_result, _) = our_rows(file);
    let (theirs, theirs_result) = reader_rows(file);
    for (y, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!(a == b, "{what}: row {y} differs");
    }
    if ours_result.is_ok() || theirs_result.is_ok() {
        assert_eq!(ours_result, theirs_result, "{what}: one path fails");
        assert_eq!(ours.len(), theirs.len(), "{what}: row count");
    }
    (ours_result, theirs_result)
}

/// Widths and heights around the band's size (`BAND_ROWS` = 8: narrower rows take the plain
/// path, rows of a height not a multiple of 8 end one at a time).
const WIDTHS: [usize; 10] = [1, 2, 3, 5, 7, 8, 9, 17, 64, 333];
const HEIGHTS: [usize; 11] = [1, 2, 3, 4, 5, 7, 8, 9, 15, 17, 64];
const COLORS: [ColorType; 4] = [ColorType::Grayscale, ColorType::GrayscaleAlpha, ColorType::Rgb, ColorType::Rgba];

/// Both band heights, for every pixel size, against [`unfilter_row`] row after row.
#[test]
fn band_matches_row_by_row() {
    let mut rng = Rng(0x5eed_0001);
    for band in [BAND_ROWS, SHORT_BAND_ROWS] {
        for bpp in [1, 2, 3, 4, 6, 8] {
            for width in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 64, 333] {
                for round in 0..32 {
                    let stride = width * bpp;
                    let pitch = stride + ROW_SLACK;
                    // Rounds 0-4: every row the same filter (each kernel variant); 5-15: two
                    // runs of filters, as files have them; then a random filter per row.
                    let (first, second, split) = (rng.below(5) as u8, rng.below(5) as u8, rng.below(band));
                    let filters: Vec<u8> = (0..band)
                        .map(|i| match round {
                            0..5 => round as u8,
                            5..16 if i < split => first,
                            5..16 => second,
                            _ => rng.below(5) as u8,
                        })
                        .collect();
                    let mut filtered = Vec::new();
                    for &f in &filters {
                        filtered.push(f);
                        filtered.extend(pixels(&mut rng, stride, 1));
                    }
                    let mut rows = vec![0u8; (band + 1) * pitch];
                    rows[..stride].copy_from_slice(&pixels(&mut rng, stride, 1));
                    let mut expect = rows.clone();
                    unfilter_band(band, bpp, stride, &filtered, &mut rows, pitch);
                    for i in 0..band {
                        let (above, below) = expect.split_at_mut((i + 1) * pitch);
                        let cur = &filtered[i * (stride + 1) + 1..][..stride];
                        unfilter_row(filters[i], bpp, &above[i * pitch..][..stride], cur, &mut below[..stride]);
                        let row = (i + 1) * pitch;
                        let what = format!("band {band} bpp {bpp} width {width} filters {filters:?} row {i}");
                        assert!(rows[row..row + stride] == expect[row..row + stride], "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn mixed_filters_match_reader() {
    let mut rng = Rng(0x5eed_0002);
    for color in COLORS {
        for bits in [8u8, 16] {
            let bpp = color.samples() * usize::from(bits / 8);
            for width in WIDTHS {
                for height in HEIGHTS {
                    let stream = mixed_stream(&mut rng, width, height, bpp);
                    // Many small IDATs (down to 1 byte), or one.
                    let idat = if rng.below(3) == 0 { usize::MAX } else { 1 + rng.below(300) };
                    let file = write_png(width as u32, height as u32, color, bits, &stream, idat);
                    let what = format!("{color:?} {bits}-bit {width}x{height} IDAT {idat}");
                    let (ours, result, plain) = our_rows(&file);
                    assert!(plain, "{what}: not on our path");
                    assert_eq!(result, Ok(()), "{what}");
                    let (theirs, _) = reader_rows(&file);
                    assert!(ours == theirs, "{what}: rows differ");
                }
            }
        }
    }
}

/// Large pictures, so that rows outrun the inflater's 32 KiB look-back and the buffer is
/// shifted many times; the last two have rows too wide for bands of eight.
#[test]
fn large_pictures_match_reader() {
    let mut rng = Rng(0x5eed_0003);
    for (color, width, height, idat) in [
        (ColorType::Rgb, 1500, 90, 8192),
        (ColorType::Rgb, 777, 41, 65536),
        (ColorType::Rgb, WIDE_BAND_BYTES / 3 + 1, 11, 65536),
        (ColorType::Rgba, WIDE_BAND_BYTES / 4 + 1, 13, 65536),
    ] {
        let bpp = color.samples();
        let band = band_rows(width * bpp);
        assert_eq!(band, if width * bpp > WIDE_BAND_BYTES { SHORT_BAND_ROWS } else { BAND_ROWS });
        let stream = mixed_stream(&mut rng, width, height, bpp);
        let file = write_png(width as u32, height as u32, color, 8, &stream, idat);
        let (ours, result, plain) = our_rows(&file);
        assert!(plain && result.is_ok());
        assert!(ours == reader_rows(&file).0, "{color:?} {width}x{height}");
    }
}

#[test]
fn photos_match_reader() {
    let photos = photos_with_extension(&["png"]);
    for (name, file) in &photos {
        let (ours, result, plain) = our_rows(file);
        // Both photos are 8-bit RGB, not interlaced: our path, not the fallback.
        assert!(plain, "{name} did not take our path");
        assert_eq!(result, Ok(()), "{name}");
        assert!(ours == reader_rows(file).0, "{name}");
    }
    assert!(photos.len() >= 2, "expected the PNG photos in tests/data/photos");
}

/// Small damaged files; each must decode without a panic and agree with `Reader` (see
/// [`agree`]): here one path never succeeds where the other fails, and rows both hand out
/// are identical. How they fail differently (seen in this test):
/// - the number of rows handed out before the error, either way: we take rows as soon as
///   they are inflated (`Reader` once the inflater is 32 KiB past them, or at the end), so
///   before a CRC or deflate error we give more; and we check a band's eight filter bytes
///   before unfiltering it, so before a bad filter byte we may give up to seven fewer;
/// - the error: a corrupt byte in an IDAT can be a filter byte above 4 that we read before
///   the chunk's CRC is checked, so we report "Unknown filter method" where `Reader`
///   reports the CRC error;
/// - when the image data stops before the last row we say "image data ends after {y} of
///   {height} rows" where the crate says "IDAT or fDAT chunk does not have enough data".
///
/// Every other error is the crate's own, with its message.
#[test]
fn damaged_files_agree_with_reader() {
    let mut rng = Rng(0x5eed_0004);
    let mut bases = Vec::new();
    for (color, bits, width, height, idat) in [
        (ColorType::Rgb, 8u8, 40, 24, 300),
        (ColorType::Rgba, 8, 33, 9, 64),
        (ColorType::Grayscale, 16, 17, 7, 50),
        (ColorType::Rgb, 8, 300, 40, 4000),
    ] {
        let bpp = color.samples() * usize::from(bits / 8);
        let stream = mixed_stream(&mut rng, width, height, bpp);
        bases.push((write_png(width as u32, height as u32, color, bits, &stream, idat), stream, color, bits, width, height));
    }
    let mut failures = 0;
    for (file, stream, color, bits, width, height) in &bases {
        // Truncated at every offset.
        for cut in 0..file.len() {
            failures += agree(&file[..cut], &format!("cut at {cut}")).0.is_err() as usize;
        }
        // One bit flipped, CRCs left as they are (the chunk's CRC catches it).
        for at in (0..file.len()).step_by(3) {
            let mut bad = file.clone();
            bad[at] ^= 1 << (at % 8);
            let _ = agree(&bad, &format!("bit flip at {at}"));
        }
        // One bit flipped inside the zlib stream with CRCs fixed: the inflater sees it.
        let zlib = fdeflate::compress_to_vec(stream);
        for at in (0..zlib.len()).step_by(7) {
            let mut bad = zlib.clone();
            bad[at] ^= 1 << (at % 8);
            let out = write_zlib_png(*width as u32, *height as u32, *color, *bits, &bad, 97);
            let _ = agree(&out, &format!("zlib bit flip at {at}"));
        }
        // A filter byte above 4 on one row.
        let rowlen = stream.len() / height;
        for value in [5u8, 0x80, 0xff] {
            let row = rng.below(*height);
            let mut bad = stream.clone();
            bad[row * rowlen] = value;
            let file = write_png(*width as u32, *height as u32, *color, *bits, &bad, 100);
            let (ours, theirs) = agree(&file, &format!("filter {value} on row {row}"));
            assert_eq!(ours, Err(format!("png: Unknown filter method {value}.")));
            assert_eq!(ours, theirs);
        }
    }
    assert!(failures > 0);
}

/// Image data that stops early: our message, with the rows before it.
#[test]
fn short_data_says_where_it_ends() {
    let mut rng = Rng(0x5eed_0005);
    let (width, height) = (50, 12);
    let stream = mixed_stream(&mut rng, width, height, 3);
    let short = &stream[..(width * 3 + 1) * 9 + 20];
    let file = write_png(width as u32, height as u32, ColorType::Rgb, 8, short, 200);
    let (ours, result, plain) = our_rows(&file);
    assert!(plain);
    assert_eq!(result, Err("png: image data ends after 9 of 12 rows".to_string()));
    let (theirs, theirs_result) = reader_rows(&file);
    assert!(theirs_result.is_err());
    assert!(ours[..theirs.len()] == theirs[..] || theirs[..ours.len()] == ours[..]);
    assert_eq!(ours.len(), 9);
}

/// The deadline is still checked per band of rows on our path: a cancel stops the decode at
/// the next multiple of `ROWS_PER_CHECK` rows.
#[test]
fn a_cancel_stops_at_the_next_band() {
    let mut rng = Rng(0x5eed_0006);
    let (width, height) = (40, 200);
    let stream = mixed_stream(&mut rng, width, height, 3);
    let file = write_png(width as u32, height as u32, ColorType::Rgb, 8, &stream, 500);
    let (_, mut source) = open(&file, false).unwrap();
    assert!(source.plain_shape().is_some());
    let ctl = JobControl::unbounded();
    let mut rows = 0;
    let result = source.for_each_row(&ctl, |_| {
        rows += 1;
        if rows == 10 {
            ctl.cancel();
        }
    });
    assert!(matches!(result, Err(JobError::Cancelled { stage: "decode" })), "{result:?}");
    assert_eq!(rows, ROWS_PER_CHECK);
}
