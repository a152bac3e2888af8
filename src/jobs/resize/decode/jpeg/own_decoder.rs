//! Progressive JPEGs at 1/8 and 1/4 scale without libjpeg, reading only the scans the scale
//! needs.
//!
//! At 1/8 each 8x8 luma block becomes one pixel, its average: the DC coefficient. Scan pruning
//! ([`scan_pruning`](super::scan_pruning)) already spares libjpeg the AC scans of luma, but
//! libjpeg still allocates, zeroes and walks 64 coefficients per block for the whole picture
//! (48 MiB for a 16 MP photo, a third of the pruned decode's time, and more after an idle
//! moment, when those pages have gone cold). Here the DC scans, and the AC scans of 4:2:0
//! chroma (whose 2x2 inverse DCT reads them), are decoded into two bytes per luma block
//! ([`progressive_scans`](super::progressive_scans)) and turned into pixels with libjpeg's own
//! arithmetic ([`reduced_pixels`](super::reduced_pixels)): the picture is identical to libjpeg's
//! 1/8 decode.
//!
//! At 1/4 every scan is needed (the 2x2 and 4x4 reduced IDCTs read coefficients up to the
//! last), and the gain is in the decoding itself: libjpeg spends most of a progressive decode
//! in its refinement passes, walking every coefficient of every block for correction bits;
//! here a per-block mask of nonzero coefficients finds them directly (picos.jpg at 1/4: 85 ms
//! in libjpeg, 75 ms here). The picture is again identical to libjpeg's.
//!
//! Taken only for what it fully understands: 8-bit progressive Huffman, gray or YCbCr (as
//! libjpeg would judge the colour space), luma sampled 1 or 2 on each axis and chroma 1x1, a
//! scan script that follows the progression rules. Anything else, and any surprise inside the
//! data, returns `None`: the caller decodes the file with libjpeg as before.

use crate::jobs::{JobControl, JobError};
use crate::jobs::resize::jpeg_markers;
use crate::jobs::resize::raster::{Layout, Raster};
use super::reduced_pixels;
use super::progressive_scans::{self, Declined, Grid, Plane};
use super::MAX_SCANS;
use super::stream::{self, Frame, Stream};
use super::scan_pruning::check_progression;

/// SOF2: progressive DCT, Huffman coding.
const PROGRESSIVE_HUFFMAN: u8 = 0xC2;
const APP0: u8 = 0xE0;
const APP14: u8 = 0xEE;

/// The picture at `eighths`/8 of `(width, height)` (which the caller's header read found), or
/// `None` when this decoder does not take the file or the scale (1/8 and 1/4 only). `Err` only
/// when the job was stopped.
pub fn decode(jpeg: &[u8], (width, height): (u32, u32), eighths: u32, ctl: &JobControl) -> Result<Option<Raster>, JobError> {
    let Some((stream, planes)) = decode_planes(jpeg, (width, height), eighths, ctl)? else { return Ok(None) };
    let frame = &stream.frame;
    let sampling: Vec<(u8, u8)> = frame.components.iter().map(|c| (c.h, c.v)).collect();
    let Some(pixels) = reduced_pixels::pixels(&planes, &sampling, (frame.width, frame.height), &Grid::new(frame), eighths as usize) else {
        return Ok(declined("values out of the range where libjpeg's SIMD and C IDCTs agree"));
    };
    let layout = if planes.len() == 1 { Layout::Gray } else { Layout::Rgb };
    Ok(Some(Raster::new((width * eighths).div_ceil(8), (height * eighths).div_ceil(8), layout, pixels)))
}

/// [`decode`] without the colour conversion: YCbCr samples in an `Rgb` raster (tests compare
/// them with libjpeg's).
#[cfg(test)]
pub fn decode_to_ycc(jpeg: &[u8], (width, height): (u32, u32), eighths: u32) -> Option<Raster> {
    let (stream, planes) = decode_planes(jpeg, (width, height), eighths, &JobControl::unbounded()).ok()??;
    let frame = &stream.frame;
    let sampling: Vec<(u8, u8)> = frame.components.iter().map(|c| (c.h, c.v)).collect();
    let (layout, data) = match reduced_pixels::planes_at_scale(&planes, &sampling, (frame.width, frame.height), &Grid::new(frame), eighths as usize)? {
        reduced_pixels::Planes::Gray(y) => (Layout::Gray, y),
        reduced_pixels::Planes::Ycc(y, cb, cr) => (Layout::Rgb, y.iter().zip(&cb).zip(&cr).flat_map(|((&y, &cb), &cr)| [y, cb, cr]).collect()),
    };
    Some(Raster::new((width * eighths).div_ceil(8), (height * eighths).div_ceil(8), layout, data))
}

/// The stream and its coefficient planes, or `None` when the file is left to libjpeg.
fn decode_planes(jpeg: &[u8], (width, height): (u32, u32), eighths: u32, ctl: &JobControl) -> Result<Option<(Stream, Vec<Plane>)>, JobError> {
    if !matches!(eighths, 1 | 2) {
        return Ok(None);
    }
    // A file whose header names another frame type goes to libjpeg before its scans are
    // walked: `split` reads every byte of the entropy-coded data, milliseconds for a large
    // baseline photo.
    if let Ok(segments) = jpeg_markers::header_segments(jpeg) {
        if segments.iter().find(|s| jpeg_markers::is_start_of_frame(s.marker)).is_some_and(|sof| sof.marker != PROGRESSIVE_HUFFMAN) {
            return Ok(None);
        }
    }
    let Ok(stream) = stream::split(jpeg) else { return Ok(None) };
    if stream.frame.marker != PROGRESSIVE_HUFFMAN {
        return Ok(None); // baseline and the rest: nothing to say
    }
    if let Err(why) = takes(jpeg, &stream, (width, height)) {
        return Ok(declined(why));
    }
    let Some(idct_sizes) = idct_sizes(&stream.frame, eighths as usize) else {
        return Ok(declined("a sampling ratio other than 1 or 2"));
    };
    match progressive_scans::decode(jpeg, &stream, &idct_sizes, ctl) {
        Ok(planes) => Ok(Some((stream, planes))),
        Err(Declined::Libjpeg(why)) => Ok(declined(why)),
        Err(Declined::Stopped(reason)) => Err(reason),
    }
}

/// Each component's reduced IDCT size at `eighths`/8, as `jpeg_calc_output_dimensions` picks
/// it: the scale, doubled for a component subsampled by 2 on both axes (4:2:0 chroma: 2x2 at
/// 1/8, 4x4 at 1/4), kept for one subsampled on one axis only (4:2:2 and 4:4:0 chroma, which
/// libjpeg then upsamples: see `reduced_pixels`). `None` for any other ratio, which [`takes`]
/// has already refused.
fn idct_sizes(frame: &Frame, eighths: usize) -> Option<Vec<usize>> {
    let grid = Grid::new(frame);
    frame
        .components
        .iter()
        .map(|c| match (grid.max_h / usize::from(c.h), grid.max_v / usize::from(c.v)) {
            (2, 2) => Some(2 * eighths),
            (1, 1) | (2, 1) | (1, 2) => Some(eighths),
            _ => None,
        })
        .collect()
}

/// Notes why a progressive file went to libjpeg instead (for operators looking into a slow
/// thumbnail).
fn declined<T>(why: &'static str) -> Option<T> {
    tracing::debug!(why, "progressive JPEG left to libjpeg");
    None
}

/// Whether this decoder takes the file, or why not.
fn takes(jpeg: &[u8], stream: &Stream, (width, height): (u32, u32)) -> Result<(), &'static str> {
    let frame = &stream.frame;
    if frame.marker != PROGRESSIVE_HUFFMAN || frame.precision != 8 {
        return Err("not an 8-bit progressive Huffman file");
    }
    if (u32::from(frame.width), u32::from(frame.height)) != (width, height) || width == 0 || height == 0 {
        return Err("frame size differs from the header read");
    }
    let luma_sampling_ok = matches!((frame.components[0].h, frame.components[0].v), (1 | 2, 1 | 2));
    let chroma_sampling_ok = frame.components[1..].iter().all(|c| (c.h, c.v) == (1, 1));
    match frame.components.len() {
        1 => {}
        3 if luma_sampling_ok && chroma_sampling_ok && is_ycbcr(jpeg, stream) => {}
        _ => return Err("not gray or YCbCr with sampling this decoder handles"),
    }
    let scans: Vec<_> = stream.pieces.iter().filter_map(|p| p.scan.as_ref()).collect();
    if scans.is_empty() || scans.len() > MAX_SCANS as usize {
        return Err("no scans, or more than the decoder accepts");
    }
    check_progression(frame, &scans)
}

/// Whether libjpeg would read three components as YCbCr (`default_decompress_parms`): a JFIF
/// marker says so; without one, an Adobe marker or components named R, G, B say otherwise (an
/// Adobe marker's own YCbCr flag is left to libjpeg: rare in progressive files). libjpeg
/// decides once, when it reaches the first scan: markers between scans (a JFIF APP0 after an
/// RGB file's first scan) no longer change the colour space, so only those before it count.
fn is_ycbcr(jpeg: &[u8], stream: &Stream) -> bool {
    let mut jfif = false;
    let mut adobe = false;
    for piece in stream.pieces.iter().take_while(|p| p.scan.is_none()) {
        let bytes = &jpeg[piece.range.clone()];
        let Some(at) = bytes.iter().position(|&b| b != 0xFF) else { continue };
        let payload = bytes.get(at + 3..).unwrap_or_default();
        match bytes[at] {
            APP0 if payload.len() >= 14 && payload.starts_with(b"JFIF\0") => jfif = true,
            APP14 if payload.starts_with(b"Adobe") => adobe = true,
            _ => {}
        }
    }
    let ids: Vec<u8> = stream.frame.components.iter().map(|c| c.id).collect();
    jfif || (!adobe && ids != [b'R', b'G', b'B'])
}
