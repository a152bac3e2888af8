//! The rows of a plain PNG (8 or 16 bits, gray, gray+alpha, RGB or RGBA, no `tRNS`, not
//! interlaced, not animated) unfiltered by us rather than by `png::Reader`.
//!
//! Why: on large photos the crate's row unfiltering is as costly as inflating (its Paeth for
//! 3-byte pixels goes one pixel at a time), and unfiltering a band of rows together is
//! faster (`unfilter`: eight rows, four when rows are very wide, [`band_rows`]).
//! Everything else is still the crate's: a [`StreamingDecoder`] reads the chunks again from
//! the signature (checking order, CRCs and the zlib stream as `Reader` does) and inflates
//! the IDAT data into a buffer we own through [`UnfilterRegion`], the crate's own interface
//! for this. We only read from that buffer, so the inflater's 32 KiB look-back stays intact;
//! rows are unfiltered into row buffers of ours, one per row of a band plus the row above.
//! Memory: that buffer (look-back, 8 KiB of fresh output, up to a band and up to
//! [`SHIFT_AT`] of consumed bytes before they are shifted out) plus those rows.
//!
//! Against `Reader` on damaged input: rows handed out are identical, and one never succeeds
//! where the other fails; the number of rows before an error and sometimes the error differ
//! (`tests::damaged_files_agree_with_reader` lists how). When the image data stops
//! early we report "image data ends after {y} of {height} rows", as before.

use png::{chunk, Decoded, DecodingError, StreamingDecoder, UnfilterRegion};

use crate::jobs::{JobControl, JobError};
use super::{bad, data_ends};
use super::unfilter::{band_rows, unfilter_band, unfilter_row, PAETH, ROW_SLACK};
use super::super::ROWS_PER_CHECK;

/// Consumed bytes at the start of the inflate buffer that make us shift it left (the png
/// crate's figure: shifting less often costs memory, more often copies the look-back again).
const SHIFT_AT: usize = 128 * 1024;

/// Fresh room offered to the inflater per call (the crate inflates at most this much per
/// `update` anyway).
const GROWTH: usize = 8 * 1024;

/// The shape of the rows, from the header `open` already parsed.
pub struct RowShape {
    pub height: u32,
    /// Bytes per row, without the filter byte.
    pub stride: usize,
    /// Distance to the left neighbour used by the filters: bytes per pixel, at least 1.
    pub bpp: usize,
}

/// Hands every row, unfiltered, to `each` in order, checking the deadline every
/// [`ROWS_PER_CHECK`] rows or so (once per band that crosses a multiple).
pub fn for_each_row(input: &[u8], shape: &RowShape, ctl: &JobControl, mut each: impl FnMut(&[u8])) -> Result<(), JobError> {
    let RowShape { height, stride, bpp, .. } = *shape;
    let rowlen = stride + 1;
    let total = (rowlen as u64).checked_mul(u64::from(height)).ok_or_else(|| JobError::BadImage("png: image size overflows".into()))?;

    let mut decoder = StreamingDecoder::new();
    // Metadata came from `open`; here only the pixels matter.
    decoder.set_ignore_text_chunk(true);
    decoder.set_ignore_iccp_chunk(true);
    let mut pos = 0;
    loop {
        let (used, event) = decoder.update(&input[pos..], None).map_err(bad)?;
        pos += used;
        match event {
            Decoded::ChunkBegin(_, chunk::IDAT) => break,
            Decoded::ChunkComplete(chunk::IEND) => return Err(data_ends(0, height)),
            _ if pos == input.len() => return Err(eof()),
            _ => {}
        }
    }

    let pitch = stride + ROW_SLACK;
    let band = band_rows(stride);
    // Row 0 is the row above the next band (zeros above the image), rows 1.. the band.
    let mut rows = vec![0u8; (band + 1) * pitch];
    let mut buf: Vec<u8> = Vec::new();
    let mut region = UnfilterRegion::default();
    // Where the next row starts in `buf`, and the bytes shifted out of `buf` so far.
    let (mut start, mut shifted) = (0usize, 0u64);
    let (mut y, mut next_check) = (0usize, 0usize);
    let (mut flushed, mut at_eof) = (false, false);
    let height = height as usize;
    loop {
        let ready = (region.filled - start) / rowlen;
        if ready >= band && height - y >= band {
            if y >= next_check {
                ctl.check("decode")?;
                next_check += ROWS_PER_CHECK;
            }
            let filtered = &buf[start..start + band * rowlen];
            check_filters(filtered, rowlen, band)?;
            unfilter_band(band, bpp, stride, filtered, &mut rows, pitch);
            for i in 1..=band {
                each(&rows[i * pitch..][..stride]);
            }
            rows.copy_within(band * pitch..(band + 1) * pitch, 0);
            start += band * rowlen;
            y += band;
            continue;
        }
        // Rows one at a time: the last rows of the image, or whatever is left when the data
        // stops (as `Reader` does, which hands out every complete row before the error).
        if ready >= 1 && (height - y < band || flushed || at_eof) {
            if y >= next_check {
                ctl.check("decode")?;
                next_check += ROWS_PER_CHECK;
            }
            let row = &buf[start..start + rowlen];
            check_filters(row, rowlen, 1)?;
            let (above, below) = rows.split_at_mut(pitch);
            unfilter_row(row[0], bpp, &above[..stride], &row[1..], &mut below[..stride]);
            each(&below[..stride]);
            rows.copy_within(pitch..pitch + stride, 0);
            start += rowlen;
            y += 1;
            continue;
        }
        if y == height {
            return Ok(());
        }
        if flushed {
            return Err(data_ends(y, height));
        }
        if at_eof {
            return Err(eof());
        }

        // Make room: drop consumed bytes (never the look-back the inflater still needs, all
        // of which lies past `available`), then offer GROWTH fresh bytes, capped at what the
        // image still needs so the inflater stops at its end as it does for `Reader`.
        let drop = start.min(region.available);
        if drop >= SHIFT_AT {
            buf.copy_within(drop..region.filled, 0);
            region.available -= drop;
            region.filled -= drop;
            start -= drop;
            shifted += drop as u64;
        }
        let left = total - shifted - region.filled as u64;
        let len = (region.filled + GROWTH).max(buf.len()).min(region.filled + usize::try_from(left).unwrap_or(usize::MAX));
        buf.resize(len, 0);

        if pos == input.len() {
            at_eof = true;
            continue;
        }
        let (used, event) = decoder.update(&input[pos..], Some(&mut region.as_buf(&mut buf))).map_err(bad)?;
        pos += used;
        if let Decoded::ImageDataFlushed = event {
            flushed = true;
        }
    }
}

/// The filter bytes of `count` rows `rowlen` apart; a byte above 4 gets the png crate's
/// message for it (its error type cannot be built outside the crate).
fn check_filters(rows: &[u8], rowlen: usize, count: usize) -> Result<(), JobError> {
    for i in 0..count {
        let filter = rows[i * rowlen];
        if filter > PAETH {
            return Err(JobError::BadImage(format!("png: Unknown filter method {filter}.")));
        }
    }
    Ok(())
}

/// The input ends inside the image data: the png crate's error for it, as `Reader` gives it.
fn eof() -> JobError {
    bad(DecodingError::IoError(std::io::ErrorKind::UnexpectedEof.into()))
}
