//! Criterion benches for the job kernels: decode, resize per filter, encode, the whole
//! thumbnail pipeline (fit 400x400, JPEG q80), and each checksum algorithm at 4 KiB, 1 MiB and
//! 16 MiB. Inputs are painted synthetic pictures (so the bench needs no files) plus the three
//! sample photos in tests/data/photos.
//!
//! Also: `probe` (the header read of SPEC.md 5.8) of a 12 MP JPEG, baseline and progressive,
//! against a ping-sized unit of work: it must stay well under a millisecond.
//!
//! Also: progressive JPEG thumbnails with and without scan pruning (plus the progressive photos
//! of `FERRY_CORPUS` when set), and how soon a cancelled 16 MP JPEG decode stops.
//!
//! Run: `cargo bench --bench kernels` (or `-- resize` to filter). Criterion prints a time per
//! iteration with a confidence interval, and throughput where it is set.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferryd::jobs::resize::stages::{self, JpegScans, Layout, Raster};
use ferryd::jobs::{checksum, probe, resize, Algorithm, Filter, JobControl, Limits, Mode, OutputFormat, ResizeParams};

/// A smooth RGB picture with some detail, painted rather than stored.
fn painted_rgb(width: u32, height: u32) -> Raster {
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let wave = ((x as f32 * 0.05).sin() * (y as f32 * 0.03).cos() * 0.5 + 0.5) * 255.0;
            data.extend([(x * 255 / width) as u8, (y * 255 / height) as u8, wave as u8]);
        }
    }
    Raster::new(width, height, Layout::Rgb, data)
}

/// The same picture with a soft-edged transparent hole, for the premultiplied-alpha path.
fn painted_rgba(width: u32, height: u32) -> Raster {
    let rgb = painted_rgb(width, height);
    let (cx, cy, r) = (width as f32 / 2.0, height as f32 / 2.0, height as f32 / 3.0);
    let mut data = Vec::with_capacity((width * height * 4) as usize);
    for (i, px) in rgb.data.chunks_exact(3).enumerate() {
        let (x, y) = ((i as u32 % width) as f32, (i as u32 / width) as f32);
        let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        let alpha = ((d - r) * 4.0).clamp(0.0, 255.0) as u8;
        data.extend([px[0], px[1], px[2], alpha]);
    }
    Raster::new(width, height, Layout::Rgba, data)
}

fn photo(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/photos/{name}", env!("CARGO_MANIFEST_DIR"))).expect("sample photo")
}

/// Synthetic encoded inputs: a 12-megapixel JPEG (4:2:0, q90, a typical camera photo's shape)
/// and a 3-megapixel PNG.
fn synthetic_jpeg() -> Vec<u8> {
    stages::encode(painted_rgb(4000, 3000), OutputFormat::Jpeg, 90).unwrap()
}

fn synthetic_png() -> Vec<u8> {
    stages::encode(painted_rgb(2000, 1500), OutputFormat::Png, 80).unwrap()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    let jpeg = synthetic_jpeg();
    for eighths in [8, 4, 3, 2, 1] {
        group.bench_with_input(BenchmarkId::new("jpeg_12mp_scale", format!("{eighths}/8")), &jpeg, |b, input| {
            b.iter(|| stages::decode(black_box(input), eighths).unwrap())
        });
    }
    group.bench_function("png_3mp", |b| {
        let png = synthetic_png();
        b.iter(|| stages::decode(black_box(&png), 8).unwrap())
    });
    for name in ["rocket.jpg", "astronaut.png", "coffee.png"] {
        let input = photo(name);
        group.bench_with_input(BenchmarkId::new("photo", name), &input, |b, input| b.iter(|| stages::decode(black_box(input), 8).unwrap()));
    }
    group.finish();
}

fn resize_filters(c: &mut Criterion) {
    let mut group = c.benchmark_group("resize_12mp_to_400x300");
    group.sample_size(10);
    let rgb = painted_rgb(4000, 3000);
    for filter in [Filter::Nearest, Filter::Bilinear, Filter::CatmullRom, Filter::Lanczos3] {
        group.bench_function(BenchmarkId::new("rgb", filter.word()), |b| {
            b.iter_batched(|| rgb.clone(), |src| stages::resize(src, 400, 300, filter).unwrap(), criterion::BatchSize::LargeInput)
        });
    }
    let rgba = painted_rgba(4000, 3000);
    group.bench_function(BenchmarkId::new("rgba_premultiplied", "lanczos3"), |b| {
        b.iter_batched(|| rgba.clone(), |src| stages::resize(src, 400, 300, Filter::Lanczos3).unwrap(), criterion::BatchSize::LargeInput)
    });
    group.finish();

    // The usual thumbnail step after a 1/8 DCT-scaled decode: 1000x750 to 400x300.
    let mut group = c.benchmark_group("resize_1000x750_to_400x300");
    let small = painted_rgb(1000, 750);
    for filter in [Filter::Nearest, Filter::Bilinear, Filter::CatmullRom, Filter::Lanczos3] {
        group.bench_function(filter.word(), |b| {
            b.iter_batched(|| small.clone(), |src| stages::resize(src, 400, 300, filter).unwrap(), criterion::BatchSize::LargeInput)
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_400x267");
    let thumb = painted_rgb(400, 267);
    for (format, quality) in [(OutputFormat::Jpeg, 80), (OutputFormat::Png, 80), (OutputFormat::WebP, 80)] {
        group.bench_function(format.word(), |b| {
            b.iter_batched(|| thumb.clone(), |r| stages::encode(r, format, quality).unwrap(), criterion::BatchSize::SmallInput)
        });
    }
    group.finish();
}

fn thumbnail(c: &mut Criterion) {
    let mut group = c.benchmark_group("thumbnail_fit_400_jpeg_q80");
    group.sample_size(10);
    let params = ResizeParams { width: 400, height: 400, mode: Mode::Fit, quality: 80, ..ResizeParams::default() };
    let limits = Limits::default();
    let mut inputs = vec![("synthetic_12mp.jpg".to_string(), synthetic_jpeg()), ("synthetic_3mp.png".to_string(), synthetic_png())];
    for name in ["rocket.jpg", "astronaut.png", "coffee.png"] {
        inputs.push((name.to_string(), photo(name)));
    }
    for (name, input) in &inputs {
        group.bench_with_input(BenchmarkId::from_parameter(name), input, |b, input| {
            b.iter(|| resize::resize(black_box(input), &params, &limits, &JobControl::unbounded()).unwrap())
        });
    }
    group.finish();
}

fn checksums(c: &mut Criterion) {
    let mut group = c.benchmark_group("checksum");
    for size in [4 << 10, 1 << 20, 16 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        group.throughput(Throughput::Bytes(size as u64));
        if size >= 1 << 20 {
            group.sample_size(20);
        }
        let label = if size >= 1 << 20 { format!("{}MiB", size >> 20) } else { format!("{}KiB", size >> 10) };
        for algorithm in [Algorithm::Crc32c, Algorithm::Xxh3_64, Algorithm::Sha256, Algorithm::Blake3] {
            group.bench_with_input(BenchmarkId::new(algorithm.word(), &label), &data, |b, data| {
                b.iter(|| checksum::checksum(black_box(data), &[algorithm], &JobControl::unbounded()).unwrap())
            });
        }
        let all = [Algorithm::Crc32c, Algorithm::Xxh3_64, Algorithm::Sha256, Algorithm::Blake3];
        group.bench_with_input(BenchmarkId::new("all_four_one_pass", &label), &data, |b, data| {
            b.iter(|| checksum::checksum(black_box(data), &all, &JobControl::unbounded()).unwrap())
        });
    }
    group.finish();
}

/// A progressive JPEG of a painted picture with grain (TurboJPEG's progressive option writes
/// libjpeg's default scan script), 4:2:0.
fn progressive_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut raster = painted_rgb(width, height);
    let mut state = 0x2545_F491_u32;
    for v in &mut raster.data {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *v = v.saturating_add((state & 15) as u8);
    }
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(90).unwrap();
    compressor.set_progressive(true).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    let image = turbojpeg::Image { pixels: &raster.data[..], width: width as usize, pitch: width as usize * 3, height: height as usize, format: turbojpeg::PixelFormat::RGB };
    compressor.compress_to_vec(image).unwrap()
}

/// Progressive JPEGs: the 200 px thumbnail's decode (at 1/8) plus resize and JPEG q80, as the
/// pipeline decodes (our decoder of the scans 1/8 reads), libjpeg given those scans only (scan
/// pruning), libjpeg given every scan, and TurboJPEG's one-shot decode (the decoder before the
/// scanline API). The synthetic 12 MP file, plus the
/// progressive photos of `FERRY_CORPUS` when it is set.
fn jpeg_scans(c: &mut Criterion) {
    let mut group = c.benchmark_group("progressive_thumbnail_200_at_1_8");
    group.sample_size(10);
    let mut inputs = vec![("synthetic_12mp".to_string(), progressive_jpeg(4000, 3000))];
    if let Some(dir) = std::env::var_os("FERRY_CORPUS") {
        let mut paths: Vec<_> = std::fs::read_dir(dir).expect("FERRY_CORPUS is a directory").map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            let progressive = path.extension().is_some_and(|e| e == "jpg") && turbojpeg::read_header(&bytes).is_ok_and(|h| h.is_progressive);
            if progressive {
                inputs.push((path.file_name().unwrap().to_string_lossy().into_owned(), bytes));
            }
        }
    }
    let thumb = |decoded: Raster| {
        let scale = 200.0 / f64::from(decoded.width.max(decoded.height));
        let (w, h) = ((f64::from(decoded.width) * scale).round() as u32, (f64::from(decoded.height) * scale).round() as u32);
        let resized = stages::resize(decoded, w.max(1), h.max(1), Filter::Lanczos3).unwrap();
        stages::encode(resized, OutputFormat::Jpeg, 80).unwrap()
    };
    for (name, input) in &inputs {
        for (label, scans) in [("pipeline", JpegScans::Pipeline), ("libjpeg_pruned", JpegScans::Pruned), ("libjpeg_all_scans", JpegScans::All)] {
            group.bench_with_input(BenchmarkId::new(label, name), input, |b, input| {
                b.iter(|| thumb(stages::decode_jpeg(black_box(input), 1, scans).unwrap()))
            });
        }
        group.bench_with_input(BenchmarkId::new("turbojpeg_one_shot", name), input, |b, input| {
            b.iter(|| {
                let mut decompressor = turbojpeg::Decompressor::new().unwrap();
                let header = decompressor.read_header(black_box(input)).unwrap();
                let factor = turbojpeg::ScalingFactor::ONE_EIGHTH;
                decompressor.set_scaling_factor(factor).unwrap();
                let scaled = header.scaled(factor);
                let mut pixels = vec![0u8; scaled.width * scaled.height * 3];
                let image = turbojpeg::Image { pixels: &mut pixels[..], width: scaled.width, pitch: scaled.width * 3, height: scaled.height, format: turbojpeg::PixelFormat::RGB };
                decompressor.decompress(input, image).unwrap();
                thumb(Raster::new(scaled.width as u32, scaled.height as u32, Layout::Rgb, pixels))
            })
        });
    }
    group.finish();
}

/// How long a full-size decode of a 16 MP JPEG (baseline and progressive) runs on after its
/// job is cancelled from another thread: the time reported is from `cancel()` to the pipeline
/// returning `Cancelled`, not the iteration's wall time.
fn jpeg_stop_latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("jpeg_16mp_stop_latency_after_cancel");
    group.sample_size(10).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    let (width, height) = (4608, 3456);
    let params = ResizeParams { width, height, mode: Mode::Fit, quality: 80, ..ResizeParams::default() };
    for (name, input) in [("baseline", stages::encode(painted_rgb(width, height), OutputFormat::Jpeg, 92).unwrap()), ("progressive", progressive_jpeg(width, height))] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    let ctl = JobControl::unbounded();
                    let canceller = ctl.clone();
                    let timer = std::thread::spawn(move || {
                        std::thread::sleep(std::time::Duration::from_millis(15));
                        canceller.cancel();
                        std::time::Instant::now()
                    });
                    let got = resize::resize(&input, &params, &Limits::default(), &ctl);
                    let returned = std::time::Instant::now();
                    assert!(got.is_err(), "the decode finished before the cancel: lower the sleep");
                    total += returned.saturating_duration_since(timer.join().unwrap());
                }
                total
            })
        });
    }
    group.finish();
}

/// Three outputs (fit 1600, 800 and 200, JPEG q80) from one decode against the largest alone
/// through the single-output pipeline: the bar is at most 1.4x.
fn several_outputs(c: &mut Criterion) {
    let mut group = c.benchmark_group("three_sizes_vs_largest_alone");
    group.sample_size(10);
    let fit = |side| ResizeParams { width: side, height: side, mode: Mode::Fit, quality: 80, ..ResizeParams::default() };
    let three = [fit(1600), fit(800), fit(200)];
    let limits = Limits::default();
    let mut inputs = vec![("synthetic_12mp.jpg".to_string(), synthetic_jpeg())];
    if let Some(dir) = std::env::var_os("FERRY_CORPUS") {
        let mut paths: Vec<_> = std::fs::read_dir(dir).expect("FERRY_CORPUS is a directory").map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "jpg")) {
            inputs.push((path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()));
        }
    }
    for (name, input) in &inputs {
        group.bench_with_input(BenchmarkId::new("largest_alone_1600", name), input, |b, input| {
            b.iter(|| resize::resize(black_box(input), &three[0], &limits, &JobControl::unbounded()).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("three_sizes_1600_800_200", name), input, |b, input| {
            b.iter(|| resize::resize_several(black_box(input), &three, &limits, &JobControl::unbounded()).unwrap())
        });
    }
    group.finish();
}

/// `probe` of a 12 MP JPEG (baseline, as a camera writes it, and progressive) and of the sample
/// photos: the header read and the memory estimate, no pixel decoded.
fn probe_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("probe");
    let limits = Limits::default();
    let inputs = [
        ("jpeg_12mp_baseline".to_string(), synthetic_jpeg()),
        ("jpeg_12mp_progressive".to_string(), progressive_jpeg(4000, 3000)),
        ("png_3mp".to_string(), synthetic_png()),
    ]
    .into_iter()
    .chain(["rocket.jpg", "astronaut.png", "coffee.png"].map(|n| (n.to_string(), photo(n))));
    for (name, input) in inputs {
        group.bench_with_input(BenchmarkId::from_parameter(&name), &input, |b, input| {
            b.iter(|| probe::probe(black_box(input), Some((400, 400)), &limits).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, probe_header, decode, resize_filters, encode, thumbnail, checksums, jpeg_scans, jpeg_stop_latency, several_outputs);
criterion_main!(benches);
