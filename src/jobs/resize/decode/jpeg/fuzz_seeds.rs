//! Writes the seeds of the `jpeg_differential` fuzz target (fuzz/seeds/jpeg_differential): small
//! progressive JPEGs made by libjpeg (the encoder the tests link) with every scan script and
//! chroma sampling the tests use, odd sizes, restart markers, gray and stored-RGB files, so that
//! the fuzzer starts from inputs the own decoder takes rather than from ones it passes on.
//! Run by `cargo test --release --locked --lib write_jpeg_differential_seeds -- --ignored`.

use super::tests::{encode_progressive, encode_progressive_as_rgb, encode_progressive_with_restarts, rocket_rgb, SAMPLINGS, SCRIPTS};

/// The top-left `width x height` of RGB rows `width_of` wide.
fn crop(rgb: &[u8], width_of: u32, (width, height): (u32, u32)) -> Vec<u8> {
    rgb.chunks_exact(width_of as usize * 3).take(height as usize).flat_map(|row| &row[..width as usize * 3]).copied().collect()
}

#[test]
#[ignore = "writes fuzz/seeds/jpeg_differential; run by hand when the seeds should change"]
fn write_jpeg_differential_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/jpeg_differential");
    std::fs::create_dir_all(&dir).unwrap();
    let (rgb, width, _) = rocket_rgb();
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    // Sides: whole MCUs, partial MCUs on both edges, and one 4:2:0 MCU.
    for size in [(48, 32), (37, 19), (16, 16)] {
        let pixels = crop(&rgb, width, size);
        for (sampling_name, sampling) in SAMPLINGS {
            for (script_name, script) in SCRIPTS {
                let name = format!("{}x{} {sampling_name} {script_name}", size.0, size.1);
                seeds.push((name, encode_progressive(&pixels, size.0, size.1, 3, sampling, script)));
            }
        }
    }
    let pixels = crop(&rgb, width, (40, 24));
    for (interval, sampling) in [(1, (2, 2)), (3, (1, 1))] {
        let name = format!("40x24 restart every {interval} sampling {}x{}", sampling.0, sampling.1);
        seeds.push((name, encode_progressive_with_restarts(&pixels, 40, 24, 3, sampling, &SCRIPTS[3].1, interval)));
    }
    let gray: Vec<u8> = pixels.chunks_exact(3).map(|p| p[1]).collect();
    seeds.push(("40x24 gray".into(), encode_progressive(&gray, 40, 24, 1, (1, 1), &[])));
    seeds.push(("40x24 stored rgb".into(), encode_progressive_as_rgb(&pixels, 40, 24, &[])));
    for (name, bytes) in seeds {
        let file = name.replace([' ', ':', ','], "-");
        std::fs::write(dir.join(file), bytes).unwrap();
    }
}
