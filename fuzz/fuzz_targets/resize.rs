//! The whole resize pipeline from untrusted bytes: sniff, header checks, decode, resize, colour,
//! orient, encode. Never a panic (not even one a decoder guard would catch: libFuzzer aborts on
//! any panic), and every refusal a typed [`JobError`] a client can act on.
//!
//! Input: the image itself, so any image file is a seed as it is. The request's parameters are
//! derived from the input's length and last bytes, so mutations vary them too. Boxes stay at
//! most 64 x 64 and inputs at most 1 MP, which keeps each run in milliseconds.
//!
//! `probe` (SPEC.md 5.8) reads the same bytes first: it must never refuse an input the resize
//! accepts, and must report the size and format the resize reports.

#![no_main]

use ferryd::jobs::probe::probe;
use ferryd::jobs::resize::resize;
use ferryd::jobs::{Anchor, Filter, JobControl, JobError, Limits, Mode, OutputFormat, ResizeParams};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits { max_pixels: 1 << 20, max_dimension: 4096 };

fuzz_target!(|data: &[u8]| {
    let params = params_for(data);
    let probed = probe(data, None, &LIMITS);
    match resize(data, &params, &LIMITS, &JobControl::unbounded()) {
        Ok(out) => {
            let info = probed.unwrap_or_else(|e| panic!("probe refused ({e}) what the resize accepted"));
            assert_eq!(info.format, out.source_format);
            if params.auto_orient {
                assert_eq!((info.width, info.height), (out.source_width, out.source_height));
            }
            if !params.enlarge {
                assert!(out.width <= out.source_width && out.height <= out.source_height, "enlarged {}x{} to {}x{}", out.source_width, out.source_height, out.width, out.height);
            }
            assert!(!out.bytes.is_empty(), "empty output");
            assert!(out.width >= 1 && out.height >= 1, "output {}x{}", out.width, out.height);
            if params.width > 0 {
                assert!(out.width <= params.width, "width {} over the box {:?}", out.width, params);
            }
            if params.height > 0 {
                assert!(out.height <= params.height, "height {} over the box {:?}", out.height, params);
            }
        }
        Err(JobError::BadImage(_) | JobError::ImageTooLarge { .. } | JobError::InvalidArgument(_)) => {}
        Err(other) => panic!("unexpected {other:?} for {params:?}"),
    }
});

/// Parameters from a hash of the input's length and last 8 bytes.
fn params_for(data: &[u8]) -> ResizeParams {
    let tail = &data[data.len().saturating_sub(8)..];
    let mut h = data.len() as u64 ^ 0x9E37_79B9_7F4A_7C15;
    for &b in tail {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
    }
    let pick = |shift: u32, n: u64| ((h >> shift) % n) as usize;
    ResizeParams {
        width: pick(0, 65) as u32,
        height: pick(8, 65) as u32,
        mode: [Mode::Fit, Mode::Fill, Mode::Exact][pick(16, 3)],
        anchor: [Anchor::Center, Anchor::TopLeft, Anchor::BottomRight, Anchor::Top][pick(18, 4)],
        filter: [Filter::Nearest, Filter::Bilinear, Filter::CatmullRom, Filter::Lanczos3][pick(20, 4)],
        format: [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::WebP][pick(22, 3)],
        quality: 1 + pick(24, 100) as u8,
        auto_orient: h >> 32 & 1 == 1,
        keep_icc: h >> 33 & 1 == 1,
        keep_metadata: h >> 34 & 1 == 1,
        fast: h >> 35 & 1 == 1,
        enlarge: h >> 36 & 1 == 1,
    }
}
