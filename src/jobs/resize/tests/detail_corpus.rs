//! Pictures of fine detail, painted at test time, on which shrink-on-load shows what it costs:
//! a page of small text, fine stripes and a chirp towards the pixel pitch, a woven fabric,
//! checkerboards of 1 to 3 pixels, line art (a zone plate and a starburst), foliage-like noise.
//! Each is painted from a seed (a xorshift), so every run and every machine paints the same
//! pixels; the encoders are the libjpeg-turbo the tests link.

use image::{Rgb, RgbImage};

/// One picture of the corpus.
pub struct Detail {
    pub name: &'static str,
    pub pixels: RgbImage,
}

/// The corpus at `width x height` (the quality test uses 2016x1512 and, for the text page, a
/// 12 MP phone size).
pub fn corpus(width: u32, height: u32) -> Vec<Detail> {
    vec![
        Detail { name: "text", pixels: text_page(width, height) },
        Detail { name: "stripes", pixels: stripes(width, height) },
        Detail { name: "fabric", pixels: fabric(width, height) },
        Detail { name: "checkerboards", pixels: checkerboards(width, height) },
        Detail { name: "line art", pixels: line_art(width, height) },
        Detail { name: "foliage", pixels: foliage(width, height) },
    ]
}

/// xorshift32: a fixed sequence from `seed`.
struct Noise(u32);

impl Noise {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

/// Black text on white: lines of 6x9-pixel cells, each a random 5x7 glyph of 1-pixel strokes
/// (what a scanned page or a screenshot of one holds), with word gaps and margins.
pub fn text_page(width: u32, height: u32) -> RgbImage {
    let mut page = RgbImage::from_pixel(width, height, Rgb([250, 250, 246]));
    let mut noise = Noise(0x1234_5678);
    let (cell_w, cell_h, margin) = (6, 11, 24);
    let mut y = margin;
    while y + cell_h < height - margin {
        let mut x = margin;
        while x + cell_w < width - margin {
            let word = 2 + noise.next() % 7;
            for _ in 0..word {
                if x + cell_w >= width - margin {
                    break;
                }
                let glyph = noise.next();
                for gy in 0..7 {
                    // Each row of the glyph: a few of its 5 columns inked, from the glyph's bits
                    // (shifted so neighbouring rows share strokes, as letters do).
                    let bits = (glyph >> (gy * 3 % 27)) & 0x1F;
                    for gx in 0..5 {
                        if bits & (1 << gx) != 0 {
                            page.put_pixel(x + gx, y + 1 + gy, Rgb([20, 20, 28]));
                        }
                    }
                }
                x += cell_w;
            }
            x += cell_w; // a space
        }
        y += cell_h;
    }
    page
}

/// Bands of stripes: vertical, horizontal and diagonal at periods of 2 to 5 pixels, and a
/// horizontal chirp whose period falls from 12 pixels to 2 across the picture.
pub fn stripes(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let band = y * 6 / height;
        let on = match band {
            0 => x % 2 == 0,
            1 => x % 3 == 0,
            2 => y % 4 < 2,
            3 => (x + y) % 5 < 2,
            4 => (x + 2 * width - y) % 3 == 0,
            _ => {
                // Phase of a chirp: frequency from 1/12 to 1/2 cycle per pixel.
                let t = f64::from(x) / f64::from(width);
                let phase = f64::from(width) * (t / 12.0 + t * t * (0.5 - 1.0 / 12.0) / 2.0);
                (phase * std::f64::consts::TAU).sin() > 0.0
            }
        };
        if on {
            Rgb([30, 30, 120])
        } else {
            Rgb([235, 225, 200])
        }
    })
}

/// A twill weave: threads two pixels wide, warp and weft alternating in a diagonal, each thread
/// its own shade, with a little noise.
pub fn fabric(width: u32, height: u32) -> RgbImage {
    let mut noise = Noise(0x9E37_79B9);
    RgbImage::from_fn(width, height, |x, y| {
        let (warp, weft) = (x / 2, y / 2);
        let over = (warp + weft) % 4 < 2;
        let shade = if over { 140 + (warp * 37 % 60) } else { 60 + (weft * 53 % 50) };
        let n = noise.next() % 24;
        let v = (shade + n) as u8;
        if over {
            Rgb([v, v / 2, v / 3])
        } else {
            Rgb([v / 3, v / 2, v])
        }
    })
}

/// Checkerboards of 1, 2 and 3 pixels, and a 1-pixel one in two colours, in four quadrants.
pub fn checkerboards(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (right, bottom) = (x >= width / 2, y >= height / 2);
        let size = match (right, bottom) {
            (false, false) => 1,
            (true, false) => 2,
            (false, true) => 3,
            (true, true) => 1,
        };
        let on = (x / size + y / size) % 2 == 0;
        match (right && bottom, on) {
            (false, true) => Rgb([255, 255, 255]),
            (false, false) => Rgb([0, 0, 0]),
            (true, true) => Rgb([220, 30, 30]),
            (true, false) => Rgb([30, 200, 60]),
        }
    })
}

/// Line art: a zone plate (rings whose spacing falls to the pixel pitch at the edge) on the
/// left, a starburst of 1-pixel spokes on the right.
pub fn line_art(width: u32, height: u32) -> RgbImage {
    let (cx, cy) = (f64::from(width) * 0.25, f64::from(height) * 0.5);
    let (sx, sy) = (f64::from(width) * 0.75, f64::from(height) * 0.5);
    let radius = f64::from(width.min(height)) * 0.5;
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (f64::from(x), f64::from(y));
        if fx < f64::from(width) / 2.0 {
            let r2 = (fx - cx).powi(2) + (fy - cy).powi(2);
            // cos(pi r^2 / R): the local frequency r / R cycles per pixel reaches 1/2 at R/2.
            let v = 127.5 + 127.5 * (std::f64::consts::PI * r2 / radius).cos();
            Rgb([v as u8, v as u8, v as u8])
        } else {
            let angle = (fy - sy).atan2(fx - sx);
            // 180 spokes, each about a pixel wide at a radius of 60.
            let on = ((angle / std::f64::consts::TAU + 0.5) * 360.0).rem_euclid(2.0) < 0.35;
            if on {
                Rgb([10, 10, 10])
            } else {
                Rgb([245, 245, 245])
            }
        }
    })
}

/// Foliage-like texture: value noise at periods of 2, 4, 8 and 32 pixels, greens and browns.
pub fn foliage(width: u32, height: u32) -> RgbImage {
    let lattice = |period: u32, seed: u32| {
        let cols = width / period + 2;
        let rows = height / period + 2;
        let mut noise = Noise(seed);
        let values: Vec<f64> = (0..cols * rows).map(|_| f64::from(noise.next() % 1000) / 1000.0).collect();
        move |x: u32, y: u32| {
            let (gx, gy) = (f64::from(x) / f64::from(period), f64::from(y) / f64::from(period));
            let (ix, iy) = (gx as u32, gy as u32);
            let (tx, ty) = (gx.fract(), gy.fract());
            let at = |i: u32, j: u32| values[(j * cols + i) as usize];
            let top = at(ix, iy) * (1.0 - tx) + at(ix + 1, iy) * tx;
            let bottom = at(ix, iy + 1) * (1.0 - tx) + at(ix + 1, iy + 1) * tx;
            top * (1.0 - ty) + bottom * ty
        }
    };
    let octaves = [(lattice(2, 11), 0.35), (lattice(4, 23), 0.25), (lattice(8, 37), 0.2), (lattice(32, 41), 0.2)];
    RgbImage::from_fn(width, height, |x, y| {
        let v: f64 = octaves.iter().map(|(f, w)| f(x, y) * w).sum();
        let leaf = (v * 255.0) as u8;
        Rgb([leaf / 2 + 20, leaf, leaf / 4 + 10])
    })
}
