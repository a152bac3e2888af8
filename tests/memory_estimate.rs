//! `jobs::resize::estimate_memory` is an upper bound on what a resize really allocates: for each
//! image kind, the peak of live heap bytes during the job (a counting global allocator, this
//! test binary only) stays under the estimate made from the header.
//!
//! The counting allocator sees Rust allocations only: libjpeg-turbo, libwebp and Little CMS
//! allocate through C `malloc` (JPEG coefficient buffers, WebP encoder state). The second test
//! covers them: each kind goes to a fresh real daemon, whose peak resident memory (VmHWM, reset
//! just before the request) must stay under the estimate plus the request frame it holds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferryd::jobs::resize::{estimate_memory, estimate_memory_several, resize, resize_several};
use ferryd::jobs::{JobControl, Limits, Mode, OutputFormat, ResizeParams};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The two tests take turns: the counting allocator is global, so a test allocating beside
/// another would show up in its peak.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Counted as the new block arriving before the old one leaves: realloc may copy.
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

const W: u32 = 1600;
const H: u32 = 1200;

/// Pixels painted so that no codec finds them trivial.
fn painted(channels: usize, bytes_per_sample: usize) -> Vec<u8> {
    let n = W as usize * H as usize * channels * bytes_per_sample;
    (0..n).map(|i| ((i * 7 + i / 4093) % 251) as u8).collect()
}

fn png(colour: png::ColorType, depth: png::BitDepth, data: &[u8], palette: Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, W, H);
    encoder.set_color(colour);
    encoder.set_depth(depth);
    if let Some(palette) = palette {
        encoder.set_palette(palette);
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    out
}

/// An Adam7-interlaced 16-bit RGBA PNG, written by hand (the png crate encodes progressive
/// rows only): each pass's rows with filter 0, in stored deflate blocks.
fn interlaced_rgba16() -> Vec<u8> {
    let pixels = painted(4, 2);
    let bpp = 8;
    let mut raw = Vec::new();
    for (x0, y0, dx, dy) in
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    {
        if x0 >= W as usize || y0 >= H as usize {
            continue;
        }
        for y in (y0..H as usize).step_by(dy) {
            raw.push(0);
            for x in (x0..W as usize).step_by(dx) {
                let at = (y * W as usize + x) * bpp;
                raw.extend_from_slice(&pixels[at..at + bpp]);
            }
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65535).peekable();
    while let Some(block) = blocks.next() {
        zlib.push(u8::from(blocks.peek().is_none()));
        zlib.extend_from_slice(&(block.len() as u16).to_le_bytes());
        zlib.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&W.to_be_bytes());
    ihdr.extend_from_slice(&H.to_be_bytes());
    ihdr.extend_from_slice(&[16, 6, 0, 0, 1]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &zlib[..]), (b"IEND", &[][..])] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn jpeg(progressive: bool) -> Vec<u8> {
    jpeg_sampled(progressive, turbojpeg::Subsamp::Sub2x2)
}

fn jpeg_sampled(progressive: bool, subsamp: turbojpeg::Subsamp) -> Vec<u8> {
    let pixels = painted(3, 1);
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(90).unwrap();
    compressor.set_progressive(progressive).unwrap();
    compressor.set_subsamp(subsamp).unwrap();
    let image = turbojpeg::Image {
        pixels: &pixels[..],
        width: W as usize,
        pitch: W as usize * 3,
        height: H as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    compressor.compress_to_vec(image).unwrap()
}

fn gif() -> Vec<u8> {
    let rgba = image::RgbaImage::from_raw(W, H, painted(4, 1)).unwrap();
    let mut out = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 30);
        encoder.encode_frame(image::Frame::new(rgba)).unwrap();
    }
    out
}

#[test]
fn the_estimate_bounds_every_image_kinds_real_peak() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let kinds = kinds();
    let limits = Limits::default();
    for format in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::WebP] {
        // 100 decodes JPEG at 1/8 (progressive ones pruned through a copy), 200 JPEG and PNG at
        // 1/4, 1600 everything at full size.
        for box_side in [100, 200, 1600] {
            let params = ResizeParams { width: box_side, height: box_side, format, ..ResizeParams::default() };
            for (name, input) in &kinds {
                let estimate = estimate_memory(input, &params, &limits).unwrap();
                let before = LIVE.load(Ordering::Relaxed);
                PEAK.store(before, Ordering::Relaxed);
                let out =
                    resize(input, &params, &limits, &JobControl::unbounded()).unwrap_or_else(|e| panic!("{name}: {e}"));
                let peak = PEAK.load(Ordering::Relaxed) - before;
                drop(out);
                eprintln!("{name} -> {format:?} in {box_side}: peak {peak} <= estimate {estimate}");
                assert!(
                    peak as u64 <= estimate,
                    "{name} -> {format:?} {box_side}: peak {peak} over estimate {estimate}"
                );
            }
        }
    }
}

/// Several outputs from one decode (`resize_several`): the same bound, with one decode and every
/// output counted. Two sets: sizes that chain (each made from the one above it) and crops that
/// cannot, so every output is resized from a copy of the decoded picture.
#[test]
fn the_several_outputs_estimate_bounds_every_image_kinds_real_peak() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let limits = Limits::default();
    let fit = |side, format| ResizeParams { width: side, height: side, format, ..ResizeParams::default() };
    let cut = |width, height, mode, format| ResizeParams { width, height, mode, format, ..ResizeParams::default() };
    let sets = [
        ("chained", vec![fit(1600, OutputFormat::Jpeg), fit(800, OutputFormat::WebP), fit(200, OutputFormat::Png)]),
        (
            "crops",
            vec![
                cut(1600, 300, Mode::Fill, OutputFormat::WebP),
                cut(300, 1600, Mode::Fill, OutputFormat::Jpeg),
                cut(1000, 1000, Mode::Exact, OutputFormat::Png),
            ],
        ),
    ];
    for (set, outputs) in &sets {
        for (name, input) in &kinds() {
            let estimate = estimate_memory_several(input, outputs, &limits).unwrap();
            let before = LIVE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let out = resize_several(input, outputs, &limits, &JobControl::unbounded())
                .unwrap_or_else(|e| panic!("{name}, {set}: {e}"));
            let peak = PEAK.load(Ordering::Relaxed) - before;
            drop(out);
            eprintln!("{name} -> {set}: peak {peak} <= estimate {estimate}");
            assert!(peak as u64 <= estimate, "{name} -> {set}: peak {peak} over estimate {estimate}");
        }
    }
}

/// Every image kind the estimate distinguishes, 1600x1200, painted.
fn kinds() -> Vec<(&'static str, Vec<u8>)> {
    let rgb8 = painted(3, 1);
    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, 255 - i, i / 2]).collect();
    let indices: Vec<u8> = painted(1, 1);
    let kinds: Vec<(&str, Vec<u8>)> = vec![
        ("jpeg baseline", jpeg(false)),
        ("jpeg progressive", jpeg(true)),
        // 4:4:4: at 1/4 ferryd's own decoder keeps whole blocks of all three components.
        ("jpeg progressive 4:4:4", jpeg_sampled(true, turbojpeg::Subsamp::None)),
        ("png 8-bit rgb", png(png::ColorType::Rgb, png::BitDepth::Eight, &rgb8, None)),
        ("png 16-bit rgba", png(png::ColorType::Rgba, png::BitDepth::Sixteen, &painted(4, 2), None)),
        ("png palette", png(png::ColorType::Indexed, png::BitDepth::Eight, &indices, Some(palette))),
        ("png interlaced 16-bit rgba", interlaced_rgba16()),
        ("webp", webp::Encoder::from_rgb(&rgb8, W, H).encode(80.0).to_vec()),
        ("gif", gif()),
        ("heic", reference_encoded("heif-enc", &["-q", "80"], &png(png::ColorType::Rgb, png::BitDepth::Eight, &rgb8, None), "heic")),
        ("avif", reference_encoded("avifenc", &["-s", "8"], &png(png::ColorType::Rgb, png::BitDepth::Eight, &rgb8, None), "avif")),
        // 10-bit 4:4:4 with alpha: the widest planes libheif holds
        ("avif 10-bit 4:4:4 rgba", reference_encoded("avifenc", &["-s", "9", "-d", "10", "-y", "444"], &png(png::ColorType::Rgba, png::BitDepth::Eight, &painted(4, 1), None), "avif")),
    ];
    kinds
}

/// `png` encoded by `tool` (heif-enc or avifenc, Debian's libheif-examples and libavif-bin,
/// which scripts/setup.sh installs) with `args`.
fn reference_encoded(tool: &str, args: &[&str], png: &[u8], ext: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.png"), png).unwrap();
    let out = format!("out.{ext}");
    let mut all: Vec<&str> = args.to_vec();
    if tool == "heif-enc" {
        all.extend(["-o", &out, "in.png"]);
    } else {
        all.extend(["in.png", &out]);
    }
    let status = std::process::Command::new(tool)
        .args(&all)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{tool} not runnable ({e}): scripts/setup.sh installs it"));
    assert!(status.success(), "{tool} failed");
    std::fs::read(dir.path().join(out)).unwrap()
}

/// The whole daemon, C allocations included: a fresh ferryd per kind and size (one worker), its
/// VmHWM reset to its resident size once it is idle, then one resize: to 1600x1600 WebP (the
/// largest output and the heaviest encoder) and to 100x100 JPEG (shrunk on load, where the
/// estimate is smallest). The rise of its peak must stay under the estimate plus the
/// request frame (the budget counts the frame on its own) plus 8 MiB for what a first request
/// touches beyond the job (thread stacks, the reply buffer, allocator arenas).
#[test]
fn the_estimate_bounds_the_daemons_peak_memory_for_every_image_kind() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    const SLACK: u64 = 8 << 20;
    let limits = Limits::default();
    for (name, input) in kinds() {
        // AVIF out (libaom's buffers) for two kinds: an encode of 1600x1200 takes a second
        let avif: &[_] = if matches!(name, "png 8-bit rgb" | "avif 10-bit 4:4:4 rgba") { &[(1600, OutputFormat::Avif)] } else { &[] };
        for &(side, format) in [(1600, OutputFormat::WebP), (100, OutputFormat::Jpeg)].iter().chain(avif) {
            let params = ResizeParams { width: side, height: side, format, ..ResizeParams::default() };
            let estimate = estimate_memory(&input, &params, &limits).unwrap();
            let daemon = daemon::Daemon::start();
            let frame = daemon::resize_frame(&input, side, format.word());
            daemon.reset_peak();
            let baseline = daemon.status_kib("VmRSS:") << 10;
            daemon.call(&frame);
            let peak = (daemon.status_kib("VmHWM:") << 10).saturating_sub(baseline);
            let bound = estimate + frame.len() as u64 + SLACK;
            eprintln!("{name} in {side}: daemon peak rise {peak} <= estimate {estimate} + frame {} + slack", frame.len());
            assert!(peak <= bound, "{name} in {side}: the daemon's peak rose {peak} bytes, over {bound}");
        }
    }
}

/// Just enough of a client for the test above: start, one request, /proc figures.
mod daemon {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    pub struct Daemon {
        child: Child,
        stream: UnixStream,
        _dir: tempfile::TempDir,
    }

    impl Daemon {
        pub fn start() -> Daemon {
            let dir = tempfile::Builder::new().prefix("fm").tempdir_in("/tmp").unwrap();
            let socket = dir.path().join("d.sock");
            let child = Command::new(env!("CARGO_BIN_EXE_ferryd"))
                .args(["--workers", "1", "--log-level", "warn", "--socket"])
                .arg(&socket)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            let stream = loop {
                match UnixStream::connect(&socket) {
                    Ok(stream) => break stream,
                    Err(_) if started.elapsed() < Duration::from_secs(20) => std::thread::sleep(Duration::from_millis(10)),
                    Err(e) => panic!("ferryd did not start: {e}"),
                }
            };
            stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            Daemon { child, stream, _dir: dir }
        }

        /// Resets VmHWM to the current resident size (Linux: `5` to clear_refs).
        pub fn reset_peak(&self) {
            std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").unwrap();
        }

        pub fn status_kib(&self, key: &str) -> u64 {
            let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
            let line = status.lines().find(|l| l.starts_with(key)).unwrap();
            line[key.len()..].trim().trim_end_matches(" kB").trim().parse().unwrap()
        }

        /// Sends one frame and waits for its reply, which must be a success.
        pub fn call(&self, frame: &[u8]) {
            let mut stream = &self.stream;
            stream.write_all(frame).unwrap();
            let mut len = [0u8; 4];
            stream.read_exact(&mut len).unwrap();
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            stream.read_exact(&mut body).unwrap();
            let reply = rmpv::decode::read_value(&mut &body[..]).unwrap();
            let ok = reply.as_map().unwrap().iter().any(|(k, v)| k.as_str() == Some("ok") && v.as_bool() == Some(true));
            assert!(ok, "{reply}");
        }
    }

    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A resize request frame: fit in a `side` square, as `format`.
    pub fn resize_frame(image: &[u8], side: u32, format: &str) -> Vec<u8> {
        use rmpv::Value;
        let body = Value::Map(vec![
            ("id".into(), 1.into()),
            ("op".into(), "resize".into()),
            ("image".into(), Value::Binary(image.to_vec())),
            ("width".into(), side.into()),
            ("height".into(), side.into()),
            ("format".into(), format.into()),
        ]);
        let mut encoded = Vec::new();
        rmpv::encode::write_value(&mut encoded, &body).unwrap();
        let mut frame = (encoded.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&encoded);
        frame
    }
}
