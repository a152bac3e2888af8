//! Colour to sRGB with Little CMS: an embedded ICC profile is applied (RGB, gray, and CMYK,
//! including Adobe's inverted CMYK), CMYK without a profile gets the textbook formula.
//!
//! This runs after the resize, on the output-sized picture, as libvips' thumbnail does: the
//! result differs from converting first only by the non-linearity of the transform across a
//! filter's footprint (invisible), and it costs a 400x267 transform instead of a 20-megapixel
//! one. Rows are converted in bands with a deadline check between them.

use lcms2::{CIExyY, PixelFormat, Profile, ToneCurve};

use super::super::{JobControl, JobError};
use super::raster::{Layout, Raster};
use super::transform_cache;

/// Rows converted between two deadline checks.
const ROWS_PER_CHECK: usize = 256;

/// The converted picture, and the profile to embed in the output (only with `keep_icc`, and
/// only when the pixels are still in that profile's space).
pub struct Converted {
    pub raster: Raster,
    pub icc_to_embed: Option<Vec<u8>>,
}

/// Brings `raster` to sRGB (unless `keep_icc` and the pixels can stay as they are; CMYK never
/// can, since every output format is RGB or gray).
///
/// A profile that does not parse, or describes another colour model than the pixels, is
/// ignored: the pixels are then taken as sRGB, as browsers do.
pub fn to_srgb(raster: Raster, icc: Option<&[u8]>, keep_icc: bool, ctl: &JobControl) -> Result<Converted, JobError> {
    let icc = icc.filter(|p| describes(p, raster.layout));
    if let Layout::Cmyk { inverted } = raster.layout {
        let input = if inverted { PixelFormat::CMYK_8_REV } else { PixelFormat::CMYK_8 };
        let transform = icc.and_then(|p| transform_cache::get(p, input, PixelFormat::RGB_8, || Some(Profile::new_srgb())));
        let raster = match transform {
            Some(transform) => {
                let (w, h) = (raster.width as usize, raster.height as usize);
                let mut rgb = vec![0u8; w * h * 3];
                for (src, dst) in raster.data.chunks(w * 4 * ROWS_PER_CHECK).zip(rgb.chunks_mut(w * 3 * ROWS_PER_CHECK)) {
                    ctl.check("convert")?;
                    transform.transform_pixels(src, dst);
                }
                Raster::new(raster.width, raster.height, Layout::Rgb, rgb)
            }
            None => cmyk_naive(&raster, inverted),
        };
        return Ok(Converted { raster, icc_to_embed: None });
    }
    let Some(icc) = icc else {
        return Ok(Converted { raster, icc_to_embed: None });
    };
    if keep_icc {
        return Ok(Converted { raster, icc_to_embed: Some(icc.to_vec()) });
    }
    let (format, gray) = match raster.layout {
        Layout::Rgb => (PixelFormat::RGB_8, false),
        Layout::Rgba => (PixelFormat::RGBA_8, false),
        Layout::Gray => (PixelFormat::GRAY_8, true),
        Layout::GrayAlpha => (PixelFormat::GRAYA_8, true),
        Layout::Cmyk { .. } => unreachable!("handled above"),
    };
    let target = || if gray { srgb_gray() } else { Some(Profile::new_srgb()) };
    let Some(transform) = transform_cache::get(icc, format, format, target) else {
        return Ok(Converted { raster, icc_to_embed: None });
    };
    // In place: the alpha byte of RGBA / gray+alpha is an extra channel lcms leaves alone.
    let mut raster = raster;
    let band = (raster.stride() * ROWS_PER_CHECK).max(1);
    for rows in raster.data.chunks_mut(band) {
        ctl.check("convert")?;
        transform.transform_in_place(rows);
    }
    Ok(Converted { raster, icc_to_embed: None })
}

/// Whether the profile's header declares the pixels' colour model (bytes 16..20 of an ICC
/// profile: the data colour space signature).
fn describes(icc: &[u8], layout: Layout) -> bool {
    let Some(space) = icc.get(16..20) else { return false };
    match layout {
        Layout::Gray | Layout::GrayAlpha => space == b"GRAY",
        Layout::Rgb | Layout::Rgba => space == b"RGB ",
        Layout::Cmyk { .. } => space == b"CMYK",
    }
}

/// Gray with sRGB's tone curve and D65 white: what an sRGB display shows for R = G = B.
fn srgb_gray() -> Option<Profile> {
    let d65 = CIExyY { x: 0.3127, y: 0.3290, Y: 1.0 };
    let curve = ToneCurve::new_parametric(4, &[2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045]).ok()?;
    Profile::new_gray(&d65, &curve).ok()
}

/// CMYK without a profile: R = (1 - C)(1 - K), and so on. Crude (no ink model) but the right
/// hues; in Adobe's inverted storage a sample already is 1 - ink.
fn cmyk_naive(raster: &Raster, inverted: bool) -> Raster {
    let data = raster
        .data
        .chunks_exact(4)
        .flat_map(|px| {
            let clear = |v: u8| u32::from(if inverted { v } else { 255 - v });
            let k = clear(px[3]);
            [0, 1, 2].map(|i| ((clear(px[i]) * k + 127) / 255) as u8)
        })
        .collect();
    Raster::new(raster.width, raster.height, Layout::Rgb, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_cmyk_gives_the_expected_primaries_both_ways() {
        // cyan, magenta, yellow, black, white as ink fractions
        let inks: [[u8; 4]; 5] = [[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 255], [0, 0, 0, 0]];
        let want: [[u8; 3]; 5] = [[0, 255, 255], [255, 0, 255], [255, 255, 0], [0, 0, 0], [255, 255, 255]];
        let plain: Vec<u8> = inks.iter().flatten().copied().collect();
        let inverted: Vec<u8> = plain.iter().map(|v| 255 - v).collect();
        let expected: Vec<u8> = want.iter().flatten().copied().collect();
        for (data, inverted) in [(plain, false), (inverted, true)] {
            let raster = Raster::new(5, 1, Layout::Cmyk { inverted }, data);
            assert_eq!(cmyk_naive(&raster, inverted).data, expected, "inverted = {inverted}");
        }
    }

    #[test]
    fn an_rgb_profile_is_applied_and_a_mismatched_one_ignored() {
        // A linear-gamma sRGB-primaries profile: mid gray 128 (linear 0.5) must come out
        // lighter in sRGB (about 188).
        let primaries = lcms2::CIExyYTRIPLE {
            Red: CIExyY { x: 0.64, y: 0.33, Y: 1.0 },
            Green: CIExyY { x: 0.30, y: 0.60, Y: 1.0 },
            Blue: CIExyY { x: 0.15, y: 0.06, Y: 1.0 },
        };
        let linear = ToneCurve::new(1.0);
        let d65 = CIExyY { x: 0.3127, y: 0.3290, Y: 1.0 };
        let profile = Profile::new_rgb(&d65, &primaries, &[&linear, &linear, &linear]).unwrap();
        let icc = profile.icc().unwrap();
        let raster = Raster::new(1, 1, Layout::Rgb, vec![128, 128, 128]);
        let ctl = JobControl::unbounded();
        let out = to_srgb(raster.clone(), Some(&icc), false, &ctl).unwrap();
        assert!(out.raster.data.iter().all(|&v| (185..=191).contains(&v)), "{:?}", out.raster.data);
        assert!(out.icc_to_embed.is_none());
        let kept = to_srgb(raster.clone(), Some(&icc), true, &ctl).unwrap();
        assert_eq!(kept.raster, raster);
        assert_eq!(kept.icc_to_embed.as_deref(), Some(&icc[..]));
        // An RGB profile on gray pixels does not describe them: ignored.
        let gray = Raster::new(1, 1, Layout::Gray, vec![128]);
        assert_eq!(to_srgb(gray.clone(), Some(&icc), false, &ctl).unwrap().raster, gray);
        // Garbage is ignored too.
        assert_eq!(to_srgb(raster.clone(), Some(b"not a profile"), false, &ctl).unwrap().raster, raster);
    }
}
