//! Fuzz-ish: truncated and bit-flipped versions of real inputs must give `Ok` or a `JobError`
//! from the job and from its memory estimate, never a panic, not even one caught inside the pipeline (decoder panics are turned into
//! `BadImage` as a safety net, so the test counts panics on its own thread with a hook).

use std::cell::Cell;
use std::sync::Once;

use image::{DynamicImage, Rgba, RgbaImage};

use super::*;
use super::random::TestRandom;

thread_local! {
    static PANICS_ON_THIS_THREAD: Cell<usize> = const { Cell::new(0) };
}

/// Installs (once) a panic hook that counts panics per thread, then defers to the usual hook.
fn count_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS_ON_THIS_THREAD.with(|n| n.set(n.get() + 1));
            previous(info);
        }));
    });
}

/// The damaged variants of `input`: truncations at spread-out lengths (denser in the header),
/// and copies with a few random bits flipped (half of them within the first 2 KB, where the
/// headers live).
fn damaged(input: &[u8], seed: u64) -> Vec<Vec<u8>> {
    let mut variants = Vec::new();
    let n = input.len();
    for len in [0, 1, 2, 3, 4, 8, 12, 16, 24, 33, 64, 100, 200, 500, 1000, 2000] {
        if len < n {
            variants.push(input[..len].to_vec());
        }
    }
    for k in 1..12 {
        variants.push(input[..n * k / 12].to_vec());
    }
    let mut rng = TestRandom(seed); // seeded, so failures reproduce
    for i in 0..24 {
        let mut copy = input.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = if i % 2 == 0 { rng.below(n.min(2048)) } else { rng.below(n) };
            copy[at] ^= 1 << rng.below(8);
        }
        variants.push(copy);
    }
    variants
}

fn small_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let rgba = RgbaImage::from_fn(48, 32, |x, y| Rgba([(x * 5) as u8, (y * 7) as u8, 90, if x > 40 { 0 } else { 255 }]));
    let mut gif = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut gif).encode_frame(image::Frame::new(rgba.clone())).unwrap();
    let webp = webp::Encoder::from_rgba(rgba.as_raw(), 48, 32).encode(80.0).to_vec();
    let png_alpha = png_of(&DynamicImage::ImageRgba8(rgba));
    vec![("gif", gif), ("webp", webp), ("png rgba", png_alpha)]
}

#[test]
fn damaged_inputs_never_panic() {
    count_panics();
    let mut inputs = small_inputs();
    inputs.push(("rocket.jpg", photo("rocket.jpg")));
    inputs.push(("coffee.png", photo("coffee.png")));
    let mut outcomes = [0usize; 2];
    for (seed, (name, input)) in inputs.iter().enumerate() {
        for (i, variant) in damaged(input, 0x9E37_79B9_7F4A_7C15 ^ seed as u64).iter().enumerate() {
            for format in [OutputFormat::Jpeg, OutputFormat::Png] {
                let mut p = params(Mode::Fit, 64, 64);
                p.format = format;
                p.keep_metadata = true;
                // Admission reads the same untrusted header first (and walks PNG chunks).
                let estimate = std::panic::catch_unwind(|| super::super::estimate_memory(variant, &p, &Limits::default()))
                    .unwrap_or_else(|_| panic!("{name} variant {i}: the memory estimate panicked"));
                let result = std::panic::catch_unwind(|| run(variant, &p));
                let outcome = result.unwrap_or_else(|_| panic!("{name} variant {i} escaped as a panic"));
                if let Err(refusal) = &estimate {
                    assert!(outcome.is_err(), "{name} variant {i}: admission refuses ({refusal:?}) what the job accepts");
                }
                match outcome {
                    Ok(out) => {
                        assert!(out.width <= 64 && out.height <= 64);
                        outcomes[0] += 1;
                    }
                    Err(JobError::BadImage(_) | JobError::ImageTooLarge { .. } | JobError::InvalidArgument(_)) => outcomes[1] += 1,
                    Err(other) => panic!("{name} variant {i}: unexpected {other:?}"),
                }
            }
        }
    }
    let panics = PANICS_ON_THIS_THREAD.with(Cell::get);
    assert_eq!(panics, 0, "decoders panicked {panics} times (caught, but they should not)");
    // Both kinds of outcome happen: damaged data is not all refused, nor all accepted.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "ok / refused: {outcomes:?}");
}

/// Writes the small generated seeds of the `resize` fuzz target (fuzz/seeds/resize): one input
/// per decoder path, a few hundred bytes each. Run by hand when the set should change:
/// `cargo test --release --locked --lib write_fuzz_seeds -- --ignored`.
#[test]
#[ignore = "writes fuzz/seeds/resize; run by hand"]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/resize");
    std::fs::create_dir_all(&dir).unwrap();
    let small = painted(16, 12);
    let rgba = RgbaImage::from_fn(12, 9, |x, y| Rgba([(x * 20) as u8, (y * 25) as u8, 90, (x * 21) as u8]));
    let mut seeds = small_inputs();
    seeds.push(("jpeg", jpeg_of(&small, 80)));
    seeds.push(("jpeg exif orientation 6", with_app_segment(&jpeg_of(&small, 60), 0xE1, &exif_orientation_payload(6))));
    seeds.push(("png gray", png_of(&DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(small.clone()).to_luma8()))));
    seeds.push(("png rgb16", png_of(&DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(small).to_rgb16()))));
    seeds.push(("webp lossless alpha", webp::Encoder::from_rgba(rgba.as_raw(), 12, 9).encode_lossless().to_vec()));
    for (name, bytes) in seeds {
        assert!(run(&bytes, &params(Mode::Fit, 8, 8)).is_ok(), "seed {name} does not resize");
        std::fs::write(dir.join(name.replace(' ', "-")), bytes).unwrap();
    }
}

/// Inputs the `resize` fuzz target crashed on (fuzz/regressions/resize), with the parameters it
/// derived from them; each must now give a result or a typed refusal.
#[test]
fn fuzz_regressions_resize() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions/resize");
    // webp-fill-upscale-crop: fast_image_resize read out of bounds (SIGSEGV) on the crop box.
    let mut p = params(Mode::Fill, 19, 64);
    (p.filter, p.format, p.quality, p.auto_orient) = (Filter::CatmullRom, OutputFormat::WebP, 10, false);
    let bytes = std::fs::read(format!("{dir}/webp-fill-upscale-crop")).unwrap();
    let out = run(&bytes, &p).expect("the crash input is a valid 48x32 WebP");
    assert_eq!((out.width, out.height), (19, 64));
    // png16-fill-upscale-crop: the same, with column 0's centre on a boundary up to float error.
    let mut p = params(Mode::Fill, 40, 36);
    (p.filter, p.format, p.quality, p.keep_metadata) = (Filter::CatmullRom, OutputFormat::WebP, 24, true);
    let bytes = std::fs::read(format!("{dir}/png16-fill-upscale-crop")).unwrap();
    match run(&bytes, &p) {
        Ok(out) => assert_eq!((out.width, out.height), (40, 36)),
        Err(error) => assert!(matches!(error, JobError::BadImage(_)), "{error:?}"),
    }
    // avif-obu-header-past-the-end (the resize target, 2026-12-06): an av1C whose last OBU
    // header promised an extension byte past the end; the header walk's length underflowed (a
    // panic with overflow checks, as the fuzz build has them).
    let bytes = std::fs::read(format!("{dir}/avif-obu-header-past-the-end")).unwrap();
    match run(&bytes, &params(Mode::Fit, 64, 64)) {
        Ok(out) => assert!(out.width <= 64 && out.height <= 64),
        Err(error) => assert!(matches!(error, JobError::BadImage(_) | JobError::ImageTooLarge { .. }), "{error:?}"),
    }
}
