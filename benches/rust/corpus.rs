//! The thumbnail pipeline over a directory of photos, one at a time on one thread: fit into
//! 400x400, JPEG quality 80, Lanczos3 (the issue-4 workload). Prints per photo the input size,
//! the median of several runs in milliseconds, and the sum of the medians; then the same in
//! fast mode (`fast`, SPEC.md 5.3). Each row also gives the thumbnail's PSNR against the full
//! decode (libjpeg-turbo for JPEG, the `image` crate for PNG) resized with Lanczos3 (the `image`
//! crate's) straight to the output size, from one more run with PNG output and the ICC profile
//! kept, so that it measures the decode scale and the resize, not the encoder or the colour
//! conversion (the quality contract of SPEC.md 5.3).
//!
//! Run: `cargo bench --bench corpus` (photos from `FERRY_CORPUS`, default `../shared/corpus`
//! next to the repository; every `*.jpg`, `*.jpeg` and `*.png` in it). `FERRY_CORPUS_RUNS`
//! sets the runs per photo (default 7). Inputs are read into memory first: the figure is
//! bytes in, bytes out. `FERRY_DETAIL=dir` adds that directory's pictures to the two tables
//! (the detail corpus `make bench` paints with `--bench quality_reference`), not to the pool.
//!
//! Then the same jobs on a bare 2-thread rayon pool (no socket, no queue, no IPC), every photo
//! `FERRY_CORPUS_ROUNDS` times (default 3) in parallel: images per second, the ceiling against
//! which the daemon's throughput at concurrency 8 is judged. With `FERRY_BENCH_JSON=path` both
//! figures are also written there as JSON, for the bench harness (`make bench`) to quote.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

use ferryd::jobs::resize::resize;
use ferryd::jobs::{JobControl, Limits, Mode, ResizeParams};

mod reference;
use reference::reference;

fn main() {
    // The daemon's malloc settings, so that buffers are reused as they are in ferryd;
    // FERRY_BENCH_MALLOC_DEFAULTS=1 keeps glibc's, to weigh them against each other.
    if std::env::var_os("FERRY_BENCH_MALLOC_DEFAULTS").is_none() {
        ferryd::allocator::configure();
    }
    let dir = std::env::var_os("FERRY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let runs: usize = std::env::var("FERRY_CORPUS_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(7).max(1);
    let mut photos: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(), Some("jpg" | "jpeg" | "png")))
            .collect(),
        Err(e) => {
            eprintln!("corpus: cannot read {} ({e}); set FERRY_CORPUS to a directory of photos", dir.display());
            std::process::exit(2);
        }
    };
    photos.sort();
    let mut tabled = photos.clone();
    if let Some(detail) = std::env::var_os("FERRY_DETAIL").map(PathBuf::from) {
        let mut more: Vec<PathBuf> = std::fs::read_dir(&detail)
            .unwrap_or_else(|e| panic!("cannot read FERRY_DETAIL {}: {e}", detail.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(), Some("jpg" | "jpeg" | "png")))
            .collect();
        more.sort();
        tabled.extend(more);
    }
    let params = ResizeParams { width: 400, height: 400, mode: Mode::Fit, quality: 80, ..ResizeParams::default() };
    let limits = Limits::default();
    // FERRY_CORPUS_POOL_ONLY=1: the bare pool alone, which the bench harness runs in each of its
    // rounds right before the socket path's sweep, so the two are measured side by side.
    let pool_only = std::env::var_os("FERRY_CORPUS_POOL_ONLY").is_some();
    let mut total_ms = 0.0;
    let mut fast_ms = 0.0;
    if !pool_only {
        total_ms = single_thread(&tabled, &params, &limits, runs, &dir);
        fast_ms = single_thread(&tabled, &ResizeParams { fast: true, ..params.clone() }, &limits, runs, &dir);
    }
    bare_pool(&photos, &params, &limits, total_ms, fast_ms);
}

/// PSNR in dB of the thumbnail `params` makes (as PNG, ICC kept) against [`reference`].
fn psnr_against_full_decode(input: &[u8], params: &ResizeParams, limits: &Limits) -> f64 {
    let lossless = ResizeParams { format: ferryd::jobs::OutputFormat::Png, keep_icc: true, ..params.clone() };
    let out = resize(input, &lossless, limits, &JobControl::unbounded()).expect("thumbnail");
    let got = image::load_from_memory(&out.bytes).expect("our PNG decodes").to_rgb8();
    let want = reference(input, out.width, out.height);
    let n = got.as_raw().len() as f64;
    let mse = got.as_raw().iter().zip(want.as_raw()).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum::<f64>() / n;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0 * 255.0 / mse).log10() }
}

/// Each photo on this thread, `runs` times; prints the table and returns the sum of medians.
fn single_thread(photos: &[PathBuf], params: &ResizeParams, limits: &Limits, runs: usize, dir: &std::path::Path) -> f64 {
    // The directory's own name only: reports carry no machine paths.
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mode = if params.fast { "fast mode" } else { "default" };
    println!("corpus {name}: fit 400x400, jpeg q80, lanczos3, {mode}, 1 thread, median of {runs} runs");
    println!("{:<16} {:>11} {:>10} {:>9} {:>9} {:>10} {:>8}", "photo", "input", "bytes", "output", "out bytes", "median ms", "PSNR dB");
    let mut total_ms = 0.0;
    for path in photos {
        let input = std::fs::read(path).expect("readable photo");
        let mut times = Vec::with_capacity(runs);
        let mut last = None;
        resize(&input, params, limits, &JobControl::unbounded()).expect("warm-up run"); // warm caches
        for _ in 0..runs {
            let started = Instant::now();
            let out = resize(&input, params, limits, &JobControl::unbounded()).expect("thumbnail");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            last = Some(out);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        total_ms += median;
        let out = last.expect("at least one run");
        println!(
            "{:<16} {:>11} {:>10} {:>9} {:>9} {:>10.2} {:>8.2}",
            path.file_name().unwrap().to_string_lossy(),
            format!("{}x{}", out.source_width, out.source_height),
            input.len(),
            format!("{}x{}", out.width, out.height),
            out.bytes.len(),
            median,
            psnr_against_full_decode(&input, params, limits)
        );
    }
    println!("{} photos, sum of medians: {total_ms:.1} ms", photos.len());
    total_ms
}

/// Every photo `FERRY_CORPUS_ROUNDS` times on a bare 2-thread rayon pool; prints images per
/// second and writes the figures to `FERRY_BENCH_JSON` when set.
fn bare_pool(photos: &[PathBuf], params: &ResizeParams, limits: &Limits, total_ms: f64, fast_ms: f64) {
    let rounds: usize = std::env::var("FERRY_CORPUS_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let inputs: Vec<Vec<u8>> = photos.iter().map(|p| std::fs::read(p).expect("readable photo")).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("rayon pool");
    let jobs: Vec<&Vec<u8>> = (0..rounds).flat_map(|_| inputs.iter()).collect();
    let started = Instant::now();
    pool.install(|| {
        jobs.par_iter().with_max_len(1).for_each(|input| {
            resize(input, params, limits, &JobControl::unbounded()).expect("thumbnail");
        })
    });
    let seconds = started.elapsed().as_secs_f64();
    let per_second = jobs.len() as f64 / seconds;
    println!("bare 2-thread rayon pool: {} thumbnails in {seconds:.2} s = {per_second:.2} images/s", jobs.len());

    if let Some(path) = std::env::var_os("FERRY_BENCH_JSON") {
        let report = serde_json::json!({
            "photos": photos.len(),
            "single_thread_sum_of_medians_ms": total_ms,
            "single_thread_sum_of_medians_fast_ms": fast_ms,
            "pool_threads": 2,
            "pool_images": jobs.len(),
            "pool_images_per_second": per_second,
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&report).expect("json")).expect("write FERRY_BENCH_JSON");
    }
}
