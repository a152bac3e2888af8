//! HEIC and AVIF in, AVIF out, against the reference tools: inputs are made at test time by
//! `heif-enc` (libheif's) and `avifenc` (libavif's) from PNGs the tests paint, AVIF output is
//! read back by `avifdec`. Both tool sets come from Debian (libheif-examples, libavif-bin), which
//! scripts/setup.sh installs; a missing tool fails the test with the package to install.
//!
//! Bombs are files whose boxes the tests write by hand (`heif_file`): a grid of thousands of
//! tiny tiles, an `ispe` smaller than the coded stream, a thumbnail larger than the picture.

use std::path::Path;
use std::process::Command;

use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};

use super::*;
use crate::jobs::resize::estimate_memory;
use crate::jobs::ImageFormat;

/// Runs `tool args...` in `dir`, which must write `output`; returns its bytes.
fn reference_tool(dir: &Path, tool: &str, args: &[&str], output: &str) -> Vec<u8> {
    let package = if tool.starts_with("heif") { "libheif-examples" } else { "libavif-bin" };
    let status = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{tool} not runnable ({e}): apt-get install {package} (scripts/setup.sh does)"));
    assert!(status.success(), "{tool} {args:?} failed: {status}");
    std::fs::read(dir.join(output)).unwrap()
}

/// `img` encoded by `tool` (heif-enc or avifenc) with `args` before the file names.
fn encoded_by(tool: &str, args: &[&str], img: &DynamicImage, ext: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.png"), png_of(img)).unwrap();
    let out = format!("out.{ext}");
    let mut all: Vec<&str> = args.to_vec();
    match tool {
        "heif-enc" => all.extend(["-o", &out, "in.png"]),
        _ => all.extend(["in.png", &out]),
    }
    reference_tool(dir.path(), tool, &all, &out)
}

fn heic_of(img: &DynamicImage) -> Vec<u8> {
    encoded_by("heif-enc", &["-q", "95"], img, "heic")
}

fn avif_of(img: &DynamicImage, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["--min", "0", "--max", "8", "-s", "8"];
    args.extend(extra);
    encoded_by("avifenc", &args, img, "avif")
}

/// An exact box of the picture's own size, PNG out: decode, colour and orientation only.
fn same_size(input: &[u8], w: u32, h: u32) -> (ResizeOutput, DynamicImage) {
    let out = run(input, &params(Mode::Exact, w, h)).unwrap();
    let img = decode(&out.bytes);
    (out, img)
}

#[test]
fn heic_and_avif_decode_at_their_size_with_their_colours() {
    let source = painted(160, 96);
    let img = DynamicImage::ImageRgb8(source.clone());
    for (name, file, format, min_db) in [
        ("heic", heic_of(&img), ImageFormat::Heic, 35.0),
        ("avif 8-bit", avif_of(&img, &[]), ImageFormat::Avif, 35.0),
        ("avif 10-bit 4:2:0", avif_of(&img, &["-d", "10", "-y", "420"]), ImageFormat::Avif, 35.0),
    ] {
        let (out, got) = same_size(&file, 160, 96);
        assert_eq!((out.source_width, out.source_height, out.source_format), (160, 96, format), "{name}");
        let db = psnr(&got.to_rgb8(), &source);
        eprintln!("{name}: {} bytes, PSNR {db:.1} dB against the painted source", file.len());
        assert!(db > min_db, "{name}: PSNR {db:.1} dB, want > {min_db}");
    }
}

#[test]
fn avif_alpha_survives_decode_and_encode() {
    let rgba = RgbaImage::from_fn(96, 64, |x, y| Rgba([(x * 2) as u8, (y * 3) as u8, 90, if x < 48 { 255 } else { (y * 4) as u8 }]));
    let file = avif_of(&DynamicImage::ImageRgba8(rgba.clone()), &["--minalpha", "0", "--maxalpha", "0"]);
    let (_, got) = same_size(&file, 96, 64);
    let got = got.to_rgba8();
    let alpha_error = got.pixels().zip(rgba.pixels()).map(|(a, b)| a[3].abs_diff(b[3])).max().unwrap();
    assert!(alpha_error <= 2, "alpha off by {alpha_error}");
    // and out again as AVIF, read back by avifdec
    let params = ResizeParams { width: 96, height: 64, mode: Mode::Exact, format: OutputFormat::Avif, quality: 90, ..ResizeParams::default() };
    let out = run(&file, &params).unwrap();
    let back = avifdec(&out.bytes).to_rgba8();
    let alpha_error = back.pixels().zip(rgba.pixels()).map(|(a, b)| a[3].abs_diff(b[3])).max().unwrap();
    assert!(alpha_error <= 24, "alpha after an AVIF round trip off by {alpha_error}");
    assert!(back.get_pixel(70, 0)[3] < 20 && back.get_pixel(10, 10)[3] > 240);
}

/// `avifdec` of `avif`, as the `image` crate reads its PNG.
fn avifdec(avif: &[u8]) -> DynamicImage {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.avif"), avif).unwrap();
    decode(&reference_tool(dir.path(), "avifdec", &["in.avif", "out.png"], "out.png"))
}

/// The PSNR SPEC.md states for AVIF output at quality 80 of a smooth picture, read back by
/// avifdec against the same resize written as PNG.
const AVIF_Q80_MIN_PSNR: f64 = 32.0;

#[test]
fn avif_output_reads_back_in_avifdec_within_the_stated_psnr() {
    let input = png_of(&DynamicImage::ImageRgb8(painted(640, 400)));
    let png = run(&input, &params(Mode::Fit, 320, 200)).unwrap();
    let reference = decode(&png.bytes).to_rgb8();
    for quality in [50, 80, 95] {
        let avif = ResizeParams { format: OutputFormat::Avif, quality, ..params(Mode::Fit, 320, 200) };
        let out = run(&input, &avif).unwrap();
        assert_eq!((out.width, out.height, out.format), (320, 200, OutputFormat::Avif));
        assert_eq!(crate::jobs::resize::sniff::format(&out.bytes).unwrap(), ImageFormat::Avif);
        let back = avifdec(&out.bytes).to_rgb8();
        let db = psnr(&back, &reference);
        eprintln!("avif q{quality}: {} bytes (PNG {}), PSNR {db:.1} dB", out.bytes.len(), png.bytes.len());
        if quality >= 80 {
            assert!(db > AVIF_Q80_MIN_PSNR, "q{quality}: PSNR {db:.1} dB, want > {AVIF_Q80_MIN_PSNR}");
        }
        // and our own decoder reads what we wrote
        let (again, _) = same_size(&out.bytes, 320, 200);
        assert_eq!(again.source_format, ImageFormat::Avif);
    }
}

/// 64x32 with a red 12x12 square at the stored top-left.
fn cornered() -> RgbImage {
    RgbImage::from_fn(64, 32, |x, y| if x < 12 && y < 12 { Rgb([230, 20, 20]) } else { Rgb([40, (y * 4) as u8, 200]) })
}

fn is_red(px: Rgba<u8>) -> bool {
    px[0] > 170 && px[1] < 90 && px[2] < 90
}

#[test]
fn irot_turns_the_picture_once_and_exif_orientation_is_not_applied_again() {
    let img = DynamicImage::ImageRgb8(cornered());
    let dir = tempfile::tempdir().unwrap();
    // An EXIF block that says "turn 90 clockwise" (6): HEIF readers ignore it for irot.
    std::fs::write(dir.path().join("exif.bin"), &exif_orientation_payload(6)[6..]).unwrap();
    let exif = dir.path().join("exif.bin");
    for (name, args) in [("irot", vec!["--irot", "1"]), ("irot with EXIF 6", vec!["--irot", "1", "--exif", exif.to_str().unwrap()])] {
        let file = avif_of(&img, &args);
        let (out, got) = same_size(&file, 32, 64);
        assert_eq!((out.source_width, out.source_height), (32, 64), "{name}");
        // a quarter turn anticlockwise takes the top-left corner to the bottom-left
        let got = got.to_rgba8();
        assert!(is_red(*got.get_pixel(3, 60)), "{name}: bottom-left is {:?}", got.get_pixel(3, 60));
        assert!(!is_red(*got.get_pixel(3, 3)) && !is_red(*got.get_pixel(28, 3)), "{name}");
    }
    // avifenc turns an EXIF orientation into irot/imir and keeps the tag, as phones write
    // HEIC: the picture is turned once (as a JPEG tagged 6 is), never twice, and the tag
    // copied to the output says 1
    let file = avif_of(&img, &["--exif", exif.to_str().unwrap()]);
    let keep = ResizeParams { keep_metadata: true, ..params(Mode::Exact, 32, 64) };
    let out = run(&file, &keep).unwrap();
    assert_eq!((out.source_width, out.source_height), (32, 64));
    let got = decode(&out.bytes).to_rgba8();
    assert!(is_red(*got.get_pixel(28, 3)), "top-right is {:?}", got.get_pixel(28, 3));
    let copied = decode_exif_orientation(&out.bytes);
    assert_eq!(copied, Some(1), "the EXIF block copied to the output says upright");
}

/// The orientation in a PNG's eXIf chunk, by hand.
fn decode_exif_orientation(png: &[u8]) -> Option<u8> {
    let at = png.windows(4).position(|w| w == b"eXIf")?;
    let len = u32::from_be_bytes(png[at - 4..at].try_into().unwrap()) as usize;
    crate::jobs::resize::exif::orientation(&png[at + 4..at + 4 + len])
}

#[test]
fn odd_sizes_from_heif_enc_decode_at_their_size() {
    // heif-enc writes a picture of odd height as a 1x1 grid of one tile a row taller
    let source = painted(97, 63);
    let file = heic_of(&DynamicImage::ImageRgb8(source.clone()));
    let (out, got) = same_size(&file, 97, 63);
    assert_eq!((out.source_width, out.source_height), (97, 63));
    let db = psnr(&got.to_rgb8(), &source);
    assert!(db > 33.0, "PSNR {db:.1}");
}

#[test]
fn imir_keeps_the_size_and_mirrors() {
    let file = avif_of(&DynamicImage::ImageRgb8(cornered()), &["--imir", "1"]);
    let (out, got) = same_size(&file, 64, 32);
    assert_eq!((out.source_width, out.source_height), (64, 32));
    let got = got.to_rgba8();
    // mirrored one way or the other, the corner has left the top-left
    assert!(!is_red(*got.get_pixel(3, 3)));
    assert!(is_red(*got.get_pixel(60, 3)) || is_red(*got.get_pixel(3, 28)));
}

#[test]
fn a_heic_grid_decodes_and_its_header_checks_pass() {
    // four tiles: the same 64x48 HEVC picture, as a 2x2 grid of 128x96
    let tile = DynamicImage::ImageRgb8(painted(64, 48));
    let heic = heic_of(&tile);
    let parts = heif_file::Parts::from_heic(&heic);
    let grid = heif_file::grid(&parts, 2, 2, (128, 96), (64, 48));
    let (out, got) = same_size(&grid, 128, 96);
    assert_eq!((out.source_width, out.source_height, out.source_format), (128, 96, ImageFormat::Heic));
    let got = got.to_rgb8();
    let quarter = image::imageops::crop_imm(&got, 64, 48, 64, 48).to_image();
    let db = psnr(&quarter, &tile.to_rgb8());
    assert!(db > 30.0, "bottom-right tile PSNR {db:.1}");
    assert!(estimate_memory(&grid, &params(Mode::Fit, 64, 64), &Limits::default()).is_ok());
}

#[test]
fn bombs_are_refused_by_their_header() {
    // 64x64: x265 codes whole 64x64 blocks, and heif-enc crops other sizes with a clap box
    // that these hand-written files leave out
    let heic = heic_of(&DynamicImage::ImageRgb8(painted(64, 64)));
    let parts = heif_file::Parts::from_heic(&heic);
    let fit = params(Mode::Fit, 64, 64);
    let limits = Limits::default();
    let refused = |file: &[u8], what: &str| {
        let job = run(file, &fit).unwrap_err();
        let estimate = estimate_memory(file, &fit, &limits).expect_err(what);
        eprintln!("{what}: {job}");
        (job, estimate)
    };
    // 200x200 tiles of 1x1 declaring 200x200: 40000 decoder set-ups
    let (job, estimate) = refused(&heif_file::grid(&parts, 200, 200, (200, 200), (1, 1)), "tiny tiles");
    assert!(matches!(job, JobError::ImageTooLarge { .. }) && matches!(estimate, JobError::ImageTooLarge { .. }), "{job}");
    // 30x30 tiles of 16x16: few enough, but each under 64x64 pixels
    let (job, _) = refused(&heif_file::grid(&parts, 30, 30, (480, 480), (16, 16)), "small tiles");
    assert!(matches!(job, JobError::ImageTooLarge { .. }), "{job}");
    // ispe 64x48 over a 256x192 stream: the size lies (by more than a codec's padding)
    let big = heif_file::Parts::from_heic(&heic_of(&DynamicImage::ImageRgb8(painted(256, 192))));
    let (job, estimate) = refused(&heif_file::single(&big, (64, 48), None), "ispe lies");
    assert!(matches!(job, JobError::BadImage(ref m) if m.contains("stream is 256x192")), "{job}");
    assert!(matches!(estimate, JobError::BadImage(_)));
    // a grid whose tiles do not cover what it declares
    let (job, _) = refused(&heif_file::grid(&parts, 2, 2, (300, 128), (64, 64)), "uncovered grid");
    assert!(matches!(job, JobError::BadImage(_)), "{job}");
    // a thumbnail larger than the picture
    let (job, _) = refused(&heif_file::single(&parts, (64, 64), Some((4000, 3000))), "thumbnail");
    assert!(matches!(job, JobError::BadImage(ref m) if m.contains("larger than")), "{job}");
    // over the limits by its header alone: 40000x30000 declared (the stream check comes after)
    let (job, estimate) = refused(&heif_file::single(&parts, (40_000, 30_000), None), "huge ispe");
    assert!(matches!(job, JobError::ImageTooLarge { .. } | JobError::BadImage(_)), "{job}");
    assert!(matches!(estimate, JobError::ImageTooLarge { .. } | JobError::BadImage(_)));
    // one tile far larger than its 1x1 grid (libheif would decode the whole tile)
    let (job, _) = refused(&heif_file::grid(&parts, 1, 1, (64, 64), (4000, 3000)), "tile larger than its grid");
    assert!(matches!(job, JobError::BadImage(_)), "{job}");
    // the untouched file decodes
    assert_eq!(run(&heif_file::single(&parts, (64, 64), None), &fit).unwrap().source_width, 64);
    assert_eq!(run(&heif_file::single(&parts, (64, 64), Some((32, 32))), &fit).unwrap().source_width, 64);
}

#[test]
fn broken_files_are_bad_images_and_never_panic() {
    let img = DynamicImage::ImageRgb8(painted(64, 48));
    for file in [heic_of(&img), avif_of(&img, &[])] {
        for cut in [12, 40, file.len() / 2, file.len() - 10] {
            let r = run(&file[..cut], &params(Mode::Fit, 32, 32));
            assert!(matches!(r, Err(JobError::BadImage(_))), "cut at {cut}: {r:?}");
        }
        for i in (0..file.len()).step_by(7) {
            let mut flipped = file.clone();
            flipped[i] ^= 0x55;
            let _ = run(&flipped, &params(Mode::Fit, 32, 32));
        }
    }
}

/// HEIF files written box by box, from the HEVC picture and `hvcC` of a heif-enc file.
mod heif_file {
    /// What a one-picture HEIC holds that a new file needs: the coded picture and its config.
    pub struct Parts {
        pub hvcc: Vec<u8>,
        pub picture: Vec<u8>,
    }

    fn find<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
        let mut at = 0;
        while at + 8 <= data.len() {
            let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            let kind = &data[at + 4..at + 8];
            if size < 8 || at + size > data.len() {
                return None;
            }
            if kind == path[0] {
                let mut body = &data[at + 8..at + size];
                if path[0] == b"meta" {
                    body = &body[4..];
                }
                return if path.len() == 1 { Some(body) } else { find(body, &path[1..]) };
            }
            at += size;
        }
        None
    }

    impl Parts {
        /// The hvcC payload and the mdat contents of a single-picture heif-enc file.
        pub fn from_heic(heic: &[u8]) -> Parts {
            let hvcc = find(heic, &[b"meta", b"iprp", b"ipco", b"hvcC"]).expect("hvcC").to_vec();
            let picture = find(heic, &[b"mdat"]).expect("mdat").to_vec();
            Parts { hvcc, picture }
        }
    }

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend(kind);
        out.extend(body);
        out
    }

    fn full(kind: &[u8; 4], version: u8, body: &[u8]) -> Vec<u8> {
        let mut b = vec![version, 0, 0, 0];
        b.extend(body);
        boxed(kind, &b)
    }

    fn ispe((w, h): (u32, u32)) -> Vec<u8> {
        let mut b = w.to_be_bytes().to_vec();
        b.extend(h.to_be_bytes());
        full(b"ispe", 0, &b)
    }

    fn infe(id: u32, kind: &[u8; 4], hidden: bool) -> Vec<u8> {
        let mut b = vec![2, 0, 0, u8::from(hidden)];
        b.extend((id as u16).to_be_bytes());
        b.extend([0, 0]);
        b.extend(kind);
        b.push(0);
        boxed(b"infe", &b)
    }

    /// Items: (id, type, hidden, property indices 1-based, data: (in idat, bytes)).
    struct Item {
        id: u32,
        kind: &'static [u8; 4],
        hidden: bool,
        properties: Vec<u16>,
        data: Vec<u8>,
        in_idat: bool,
    }

    fn file(items: &[Item], properties: &[Vec<u8>], references: &[(&[u8; 4], u32, Vec<u32>)]) -> Vec<u8> {
        let mut ftyp = b"heic".to_vec();
        ftyp.extend([0, 0, 0, 0]);
        ftyp.extend(b"mif1heic");
        let ftyp = boxed(b"ftyp", &ftyp);
        let mut hdlr = vec![0, 0, 0, 0];
        hdlr.extend(b"pict");
        hdlr.extend([0; 13]);
        let hdlr = full(b"hdlr", 0, &hdlr);
        let pitm = full(b"pitm", 0, &(items[0].id as u16).to_be_bytes());
        let mut iinf = (items.len() as u32).to_be_bytes().to_vec();
        for item in items {
            iinf.extend(infe(item.id, item.kind, item.hidden));
        }
        let iinf = full(b"iinf", 1, &iinf);
        let mut iref = Vec::new();
        for (kind, from, to) in references {
            let mut b = (*from as u16).to_be_bytes().to_vec();
            b.extend((to.len() as u16).to_be_bytes());
            for t in to {
                b.extend((*t as u16).to_be_bytes());
            }
            iref.extend(boxed(kind, &b));
        }
        let iref = full(b"iref", 0, &iref);
        let ipco = boxed(b"ipco", &properties.concat());
        let mut ipma = (items.len() as u32).to_be_bytes().to_vec();
        for item in items {
            ipma.extend((item.id as u16).to_be_bytes());
            ipma.push(item.properties.len() as u8);
            ipma.extend(item.properties.iter().map(|&p| 0x80 | p as u8));
        }
        let iprp = boxed(b"iprp", &[ipco, full(b"ipma", 0, &ipma)].concat());
        let idat_body: Vec<u8> = items.iter().filter(|i| i.in_idat).flat_map(|i| i.data.clone()).collect();
        // iloc v1: 4-byte offsets and lengths; mdat data de-duplicated (tiles share one picture)
        let build = |mdat_start: u32| {
            let mut b = vec![0x44, 0x00];
            b.extend((items.len() as u16).to_be_bytes());
            let mut idat_at = 0u32;
            for item in items {
                b.extend((item.id as u16).to_be_bytes());
                b.extend([0, u8::from(item.in_idat)]);
                b.extend([0, 0, 0, 1]);
                let offset = if item.in_idat {
                    idat_at += item.data.len() as u32;
                    idat_at - item.data.len() as u32
                } else {
                    mdat_start
                };
                b.extend(offset.to_be_bytes());
                b.extend((item.data.len() as u32).to_be_bytes());
            }
            let iloc = full(b"iloc", 1, &b);
            let meta = full(b"meta", 0, &[hdlr.clone(), pitm.clone(), iinf.clone(), iref.clone(), iprp.clone(), iloc, boxed(b"idat", &idat_body)].concat());
            [ftyp.clone(), meta].concat()
        };
        let head_len = build(0).len() as u32;
        let picture = items.iter().find(|i| !i.in_idat).map(|i| i.data.clone()).unwrap_or_default();
        [build(head_len + 8), boxed(b"mdat", &picture)].concat()
    }

    /// One HEVC picture declaring `size`, with a thumbnail item of `thumb` size if given.
    pub fn single(parts: &Parts, size: (u32, u32), thumb: Option<(u32, u32)>) -> Vec<u8> {
        let hvcc = boxed(b"hvcC", &parts.hvcc);
        let mut properties = vec![hvcc, ispe(size)];
        let mut items = vec![Item { id: 1, kind: b"hvc1", hidden: false, properties: vec![1, 2], data: parts.picture.clone(), in_idat: false }];
        let mut references = Vec::new();
        if let Some(t) = thumb {
            properties.push(ispe(t));
            items.push(Item { id: 2, kind: b"hvc1", hidden: false, properties: vec![1, 3], data: parts.picture.clone(), in_idat: false });
            references.push((b"thmb", 2, vec![1]));
        }
        file(&items, &properties, &references)
    }

    /// A `rows x columns` grid declaring `size`, every tile the same picture declaring `tile`.
    pub fn grid(parts: &Parts, rows: u32, columns: u32, size: (u32, u32), tile: (u32, u32)) -> Vec<u8> {
        let properties = vec![boxed(b"hvcC", &parts.hvcc), ispe(size), ispe(tile)];
        let mut grid_data = vec![0, 1, (rows - 1) as u8, (columns - 1) as u8];
        grid_data.extend(size.0.to_be_bytes());
        grid_data.extend(size.1.to_be_bytes());
        let mut items = vec![Item { id: 1, kind: b"grid", hidden: false, properties: vec![2], data: grid_data, in_idat: true }];
        let tiles: Vec<u32> = (0..rows * columns).map(|i| i + 2).collect();
        for &id in &tiles {
            items.push(Item { id, kind: b"hvc1", hidden: true, properties: vec![1, 3], data: parts.picture.clone(), in_idat: false });
        }
        file(&items, &properties, &[(b"dimg", 1, tiles)])
    }
}
