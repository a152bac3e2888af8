//! Several outputs from one decode: a request for, say, 1600, 800 and 200 px versions of one
//! photo decodes it once, at the DCT scale the most demanding output needs, and makes every
//! output from that picture with its own box, mode, anchor, filter, format, quality and metadata
//! choice.
//!
//! [`decode_for`] does the shared part, [`outputs_from`] the per-output part (a pure function of
//! the decoded picture: smaller outputs are made from larger ones where that keeps a 2x margin);
//! [`resize_several`] chains them. Orientation and colour handling (`auto_orient`, `keep_icc`)
//! are decided once for the decode, so all outputs must agree on them.
//!
//! As in [`resize`](super::resize), the decoded picture stays as stored (orientation, colour
//! space) and each output is turned upright and converted to sRGB after its resize: that work
//! follows the output's pixels, not the decode's (a 15 MP photo with an ICC profile would
//! otherwise be converted whole for a 1600 px thumbnail). Outputs made from a larger output are
//! made from its unconverted, stored-orientation pixels.

use super::super::{Filter, ImageFormat, JobControl, JobError, Limits, ResizeParams};
use super::colour;
use super::encode::{self, Extras};
use super::exif;
use super::geometry::{self, Region};
use super::orient::Orientation;
use super::raster::Raster;
use super::{decode, decoded_region, resample, sniff, validate, ResizeOutput};

/// One picture decoded for several outputs, as stored: not turned upright, not colour-converted.
pub struct Decoded {
    /// The pixels, at `eighths`/8 of the stored picture on each axis that was shrunk on load.
    pub raster: Raster,
    /// The scale it was decoded at (8 when not scaled): DCT scale for JPEG, box for PNG.
    pub eighths: u32,
    /// The stored picture's size (header), which `raster` was decoded from.
    pub stored_width: u32,
    pub stored_height: u32,
    /// How each output is turned upright (identity when `auto_orient` is off).
    pub orientation: Orientation,
    /// The upright source's size, which every output's box refers to.
    pub source_width: u32,
    pub source_height: u32,
    pub source_format: ImageFormat,
    /// The input's ICC profile, and whether outputs keep it rather than convert from it.
    pub icc: Option<Vec<u8>>,
    pub keep_icc: bool,
    /// EXIF (orientation reset when the pixels were turned upright) and XMP, copied into the
    /// outputs that keep metadata.
    pub exif: Option<Vec<u8>>,
    pub xmp: Option<Vec<u8>>,
}

/// Decodes `input` once for every request in `requests` (at least one): validated, planned,
/// decoded at the largest DCT scale any of them needs.
///
/// Errors as [`resize`](super::resize), plus `InvalidArgument` when `requests` is empty or the
/// requests disagree on `auto_orient` or `keep_icc`.
pub fn decode_for(input: &[u8], requests: &[ResizeParams], limits: &Limits, ctl: &JobControl) -> Result<Decoded, JobError> {
    let first = requests.first().ok_or_else(|| JobError::InvalidArgument("no outputs requested".into()))?;
    if requests.iter().any(|r| r.auto_orient != first.auto_orient || r.keep_icc != first.keep_icc) {
        return Err(JobError::InvalidArgument("outputs of one decode must agree on auto_orient and keep_icc".into()));
    }
    for request in requests {
        validate::params(request, limits)?;
    }
    let format = sniff::format(input)?;
    let (stored_w, stored_h) = sniff::dimensions(input, format)?;
    sniff::check_limits(stored_w, stored_h, limits)?;

    ctl.check("decode")?;
    let keep_metadata = requests.iter().any(|r| r.keep_metadata);
    let mut source = decode::open(input, format, (stored_w, stored_h), limits, keep_metadata)?;
    let orientation = if first.auto_orient { Orientation::from_exif(source.meta.orientation()) } else { Orientation::default() };
    let (source_width, source_height) = orientation.upright_size(stored_w, stored_h);
    let mut eighths = 1;
    for request in requests {
        let plan = checked_plan(source_width, source_height, request, limits)?;
        let region = orientation.region_to_stored(plan.region, stored_w, stored_h);
        let (out_w, out_h) = orientation.upright_size(plan.width, plan.height);
        eighths = eighths.max(geometry::decode_scale_eighths(format, region, out_w, out_h, request.filter, request.fast));
    }
    let icc = source.meta.icc.take();
    let mut exif = source.meta.exif.take().filter(|_| keep_metadata);
    let xmp = source.meta.xmp.take().filter(|_| keep_metadata);
    let raster = source.decode(eighths, ctl)?;
    if first.auto_orient {
        // Every output is turned upright: a copied tag must not make a viewer turn it again.
        if let Some(block) = exif.as_mut() {
            exif::reset_orientation(block);
        }
    }
    Ok(Decoded {
        raster,
        eighths,
        stored_width: stored_w,
        stored_height: stored_h,
        orientation,
        source_width,
        source_height,
        source_format: format,
        icc,
        keep_icc: first.keep_icc,
        exif,
        xmp,
    })
}

/// Makes one output per request from `decoded`, returned in request order. The requests must
/// be among those [`decode_for`] saw (a larger output than it planned for would be made from too
/// few pixels, though still correctly sized).
///
/// Outputs are made largest first, and a smaller one is resized from an earlier output of the
/// whole picture when that is still at least twice its size on both axes (the margin a
/// DCT-scaled decode keeps) and [`can_serve`] allows the two filters: 200 px from the 800 px
/// output rather than from a 12 MP decode. The decoded picture is moved, not copied, into its
/// last resize.
pub fn outputs_from(decoded: Decoded, requests: &[ResizeParams], limits: &Limits, ctl: &JobControl) -> Result<Vec<ResizeOutput>, JobError> {
    let (source_w, source_h) = (decoded.source_width, decoded.source_height);
    let (stored_w, stored_h) = (decoded.stored_width, decoded.stored_height);
    let orientation = decoded.orientation;
    let plans = requests
        .iter()
        .map(|request| {
            validate::params(request, limits)?;
            checked_plan(source_w, source_h, request, limits)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(u64::from(plans[i].width) * u64::from(plans[i].height)));

    // Which earlier output (by position in `order`) each one is resized from, if any; an output
    // can serve later ones when it shows the whole picture.
    let whole = |plan: &geometry::Plan| plan.region == Region { x: 0.0, y: 0.0, width: source_w.into(), height: source_h.into() };
    let sources: Vec<Option<usize>> = (0..order.len())
        .map(|n| {
            let plan = &plans[order[n]];
            (0..n)
                .filter(|&m| whole(&plans[order[m]]) && can_serve(requests[order[m]].filter, requests[order[n]].filter))
                .filter(|&m| {
                    let earlier = &plans[order[m]];
                    let fx = f64::from(earlier.width) / f64::from(source_w);
                    let fy = f64::from(earlier.height) / f64::from(source_h);
                    plan.region.width * fx >= 2.0 * f64::from(plan.width) && plan.region.height * fy >= 2.0 * f64::from(plan.height)
                })
                .min_by_key(|&m| u64::from(plans[order[m]].width) * u64::from(plans[order[m]].height))
        })
        .collect();
    let last_from_decode = sources.iter().rposition(Option::is_none);
    // The last output made from each kept one: that one takes it rather than a copy.
    let last_use: Vec<Option<usize>> = (0..order.len()).map(|m| sources.iter().rposition(|&s| s == Some(m))).collect();

    let dec_size = (decoded.raster.width, decoded.raster.height);
    let mut decoded_raster = Some(decoded.raster);
    let mut intermediates: Vec<Option<Raster>> = vec![None; order.len()];
    let mut outputs: Vec<Option<ResizeOutput>> = vec![None; requests.len()];
    for (n, &i) in order.iter().enumerate() {
        let (request, plan) = (&requests[i], plans[i]);
        ctl.check("resize")?;
        // Work in the stored orientation, as the single pipeline does.
        let stored_region = orientation.region_to_stored(plan.region, stored_w, stored_h);
        let (out_w, out_h) = orientation.upright_size(plan.width, plan.height);
        let (src, region) = match sources[n] {
            Some(m) => {
                let earlier = if last_use[m] == Some(n) { intermediates[m].take() } else { intermediates[m].clone() };
                let earlier = earlier.ok_or_else(|| JobError::Internal("intermediate output missing".into()))?;
                let (fx, fy) = (f64::from(earlier.width) / f64::from(stored_w), f64::from(earlier.height) / f64::from(stored_h));
                let r = stored_region;
                let region = Region { x: r.x * fx, y: r.y * fy, width: r.width * fx, height: r.height * fy };
                (earlier, region)
            }
            None => {
                let raster = if Some(n) == last_from_decode { decoded_raster.take() } else { decoded_raster.clone() };
                let raster = raster.ok_or_else(|| JobError::Internal("decoded picture already used".into()))?;
                (raster, decoded_region(stored_region, (stored_w, stored_h), dec_size, decoded.eighths))
            }
        };
        let resized = resample::resize(src, region, out_w, out_h, request.filter, ctl)?;
        if last_use[n].is_some() {
            intermediates[n] = Some(resized.clone());
        }
        ctl.check("convert")?;
        let converted = colour::to_srgb(resized, decoded.icc.as_deref(), decoded.keep_icc, ctl)?;
        ctl.check("orient")?;
        let upright = orientation.apply(converted.raster);
        ctl.check("encode")?;
        let keep = request.keep_metadata;
        let extras = Extras {
            icc: converted.icc_to_embed,
            exif: decoded.exif.clone().filter(|_| keep),
            xmp: decoded.xmp.clone().filter(|_| keep),
        };
        let bytes = encode::encode(upright, request.format, request.quality, &extras)?;
        outputs[i] = Some(ResizeOutput {
            bytes,
            width: plan.width,
            height: plan.height,
            format: request.format,
            source_width: source_w,
            source_height: source_h,
            source_format: decoded.source_format,
        });
    }
    Ok(outputs.into_iter().flatten().collect())
}

/// Whether an output resized with the `earlier` filter may be the picture an output with the
/// `later` filter is resized from (SPEC.md 5.3.1: an output made from another is within 0.5 dB of
/// the same output asked alone, against a full decode resized with Lanczos3). Lanczos3 and
/// Catmull-Rom outputs keep the detail a further reduction by 2 or more needs; a `nearest`
/// output is aliased (a 50x50 `lanczos3` fill made from one measured 38 dB, against 47 asked
/// alone: issue 20) and a `bilinear` one softened; and a `nearest` output is picked from the
/// decode, never from another output's resampled pixels.
pub fn can_serve(earlier: Filter, later: Filter) -> bool {
    matches!(earlier, Filter::Lanczos3 | Filter::CatmullRom) && later != Filter::Nearest
}

/// [`decode_for`] then [`outputs_from`]: every requested output from one decode.
pub fn resize_several(input: &[u8], requests: &[ResizeParams], limits: &Limits, ctl: &JobControl) -> Result<Vec<ResizeOutput>, JobError> {
    let decoded = decode_for(input, requests, limits, ctl)?;
    outputs_from(decoded, requests, limits, ctl)
}

/// The request's plan, refused when its output exceeds what its format can store.
fn checked_plan(w: u32, h: u32, request: &ResizeParams, limits: &Limits) -> Result<geometry::Plan, JobError> {
    let plan = geometry::plan(w, h, request, limits)?;
    let max_side = encode::max_side(request.format);
    if plan.width > max_side || plan.height > max_side {
        return Err(JobError::InvalidArgument(format!(
            "output {}x{} exceeds what {} can store ({max_side} per side)",
            plan.width,
            plan.height,
            request.format.word()
        )));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::super::super::{Mode, OutputFormat};
    use super::super::tests::{decode as decode_output, painted, params, photo, psnr, run};
    use super::*;

    fn fit(width: u32, format: OutputFormat, quality: u8) -> ResizeParams {
        ResizeParams { format, quality, ..params(Mode::Fit, width, width) }
    }

    #[test]
    fn each_output_has_its_own_size_format_and_quality() {
        let input = photo("rocket.jpg");
        let requests = [fit(600, OutputFormat::Png, 80), fit(300, OutputFormat::Jpeg, 90), fit(100, OutputFormat::WebP, 50)];
        let outputs = resize_several(&input, &requests, &Limits::default(), &JobControl::unbounded()).unwrap();
        assert_eq!(outputs.len(), 3);
        let sizes: Vec<_> = outputs.iter().map(|o| (o.width, o.height, o.format)).collect();
        assert_eq!(sizes, [(600, 400, OutputFormat::Png), (300, 200, OutputFormat::Jpeg), (100, 67, OutputFormat::WebP)]);
        for output in &outputs {
            assert_eq!((output.source_width, output.source_height, output.source_format), (640, 427, ImageFormat::Jpeg));
            let image = decode_output(&output.bytes);
            assert_eq!((image.width(), image.height()), (output.width, output.height));
        }
    }

    #[test]
    fn three_outputs_decode_the_jpeg_once() {
        use super::super::decode::count;
        let input = photo("rocket.jpg");
        let requests = [fit(600, OutputFormat::Jpeg, 80), fit(300, OutputFormat::WebP, 80), fit(100, OutputFormat::Png, 80)];
        let before = count::decodes();
        resize_several(&input, &requests, &Limits::default(), &JobControl::unbounded()).unwrap();
        assert_eq!(count::decodes() - before, 1);
        // The counter sees every decode: the same outputs made one by one decode three times.
        let before = count::decodes();
        for request in &requests {
            run(&input, request).unwrap();
        }
        assert_eq!(count::decodes() - before, 3);
    }

    #[test]
    fn outputs_match_single_resizes_closely() {
        // The single pipeline decodes at the scale each output needs; here the largest output's
        // scale serves all, so the small ones come from more pixels: close, not identical.
        let input = photo("rocket.jpg");
        let requests =
            [params(Mode::Fit, 500, 500), params(Mode::Fill, 200, 200), ResizeParams { anchor: crate::jobs::Anchor::TopLeft, ..params(Mode::Fill, 120, 60) }, params(Mode::Exact, 90, 90)];
        let outputs = resize_several(&input, &requests, &Limits::default(), &JobControl::unbounded()).unwrap();
        for (request, output) in requests.iter().zip(&outputs) {
            let single = run(&input, request).unwrap();
            assert_eq!((output.width, output.height), (single.width, single.height));
            let db = psnr(&decode_output(&output.bytes).to_rgb8(), &decode_output(&single.bytes).to_rgb8());
            assert!(db >= 35.0, "{request:?}: {db:.1} dB against the single resize");
        }
    }

    #[test]
    fn every_orientation_gives_each_output_as_its_single_resize() {
        // A painted 480x320 JPEG, tagged with each EXIF orientation: every output (chained or
        // cropped) has the single resize's size and pixels.
        use super::super::tests::{exif_orientation_payload, with_app_segment};
        let plain = super::super::tests::jpeg_of(&painted(480, 320), 95);
        let requests = [
            params(Mode::Fit, 200, 200),
            params(Mode::Fit, 60, 60),
            ResizeParams { anchor: crate::jobs::Anchor::TopLeft, ..params(Mode::Fill, 90, 30) },
        ];
        for value in 1..=8u8 {
            let input = with_app_segment(&plain, 0xE1, &exif_orientation_payload(value));
            let outputs = resize_several(&input, &requests, &Limits::default(), &JobControl::unbounded()).unwrap();
            for (request, output) in requests.iter().zip(&outputs) {
                let single = run(&input, request).unwrap();
                assert_eq!(
                    (output.width, output.height, output.source_width, output.source_height),
                    (single.width, single.height, single.source_width, single.source_height),
                    "orientation {value}, {request:?}"
                );
                let db = psnr(&decode_output(&output.bytes).to_rgb8(), &decode_output(&single.bytes).to_rgb8());
                assert!(db >= 30.0, "orientation {value}, {request:?}: {db:.1} dB against the single resize");
            }
        }
    }

    #[test]
    fn the_decode_serves_the_most_demanding_output() {
        let jpeg = super::super::tests::jpeg_of(&painted(1600, 1200), 90);
        let limits = Limits::default();
        let small = decode_for(&jpeg, &[params(Mode::Fit, 100, 100)], &limits, &JobControl::unbounded()).unwrap();
        assert_eq!((small.eighths, small.raster.width), (1, 200));
        let both = decode_for(&jpeg, &[params(Mode::Fit, 100, 100), params(Mode::Fit, 500, 500)], &limits, &JobControl::unbounded()).unwrap();
        assert_eq!((both.eighths, both.raster.width), (8, 1600));
    }

    #[test]
    fn small_outputs_made_from_larger_ones_stay_close_to_direct_resizes() {
        let jpeg = super::super::tests::jpeg_of(&painted(1600, 1200), 95);
        let limits = Limits::default();
        let ctl = JobControl::unbounded();
        let requests = [params(Mode::Fit, 200, 200), params(Mode::Fit, 800, 800), params(Mode::Fill, 300, 100)];
        let chained = resize_several(&jpeg, &requests, &limits, &ctl).unwrap();
        for (request, output) in requests.iter().zip(&chained) {
            // Each alone: decoded at the same scale, resized straight from the decode.
            let alone = outputs_from(decode_for(&jpeg, &requests, &limits, &ctl).unwrap(), std::slice::from_ref(request), &limits, &ctl).unwrap();
            assert_eq!((output.width, output.height), (alone[0].width, alone[0].height));
            let db = psnr(&decode_output(&output.bytes).to_rgb8(), &decode_output(&alone[0].bytes).to_rgb8());
            assert!(db >= 40.0, "{request:?}: {db:.1} dB against a direct resize");
        }
    }

    /// Every pair of filters, a 400 px output beside a 100 px one, on fine detail (text and
    /// stripes, as PNG and as JPEG) and on rocket.jpg: the small output, made from the large
    /// one where [`can_serve`] allows it, is within 0.5 dB of the same output asked alone (both
    /// against the full decode resized with Lanczos3); where it does not, it is the decode's.
    #[test]
    fn an_output_made_from_another_is_within_half_a_db_of_it_asked_alone() {
        use super::super::tests::detail_corpus::{stripes, text_page};
        use super::super::tests::{jpeg_of, png_of, FILTERS};
        use image::DynamicImage;
        let limits = Limits::default();
        let ctl = JobControl::unbounded();
        let mut inputs = vec![("rocket.jpg".to_string(), photo("rocket.jpg"))];
        for (name, picture) in [("text", text_page(1008, 756)), ("stripes", stripes(1008, 756))] {
            inputs.push((format!("{name} jpeg"), jpeg_of(&picture, 92)));
            inputs.push((format!("{name} png"), png_of(&DynamicImage::ImageRgb8(picture))));
        }
        let mut served = 0;
        for (name, input) in &inputs {
            let full = decode_output(input).to_rgb8();
            for earlier in FILTERS {
                for later in FILTERS {
                    let large = ResizeParams { filter: earlier, ..params(Mode::Fit, 400, 400) };
                    let small = ResizeParams { filter: later, ..params(Mode::Fit, 100, 100) };
                    let outputs = resize_several(input, &[large.clone(), small.clone()], &limits, &ctl).unwrap();
                    let alone = run(input, &small).unwrap();
                    let chained = decode_output(&outputs[1].bytes).to_rgb8();
                    let reference = image::imageops::resize(&full, alone.width, alone.height, image::imageops::FilterType::Lanczos3);
                    let (chained_db, alone_db) = (psnr(&chained, &reference), psnr(&decode_output(&alone.bytes).to_rgb8(), &reference));
                    let what = format!("{name}: {later:?} from {earlier:?}: {chained_db:.2} dB, alone {alone_db:.2} dB");
                    if can_serve(earlier, later) {
                        served += 1;
                        assert!(chained_db >= alone_db - 0.5, "{what}");
                    } else {
                        // Made from the decode, as alone (a shared decode may be larger, not smaller).
                        let direct = outputs_from(decode_for(input, &[large, small.clone()], &limits, &ctl).unwrap(), std::slice::from_ref(&small), &limits, &ctl).unwrap();
                        assert!(direct[0].bytes == outputs[1].bytes, "{what}: not made from the decode");
                    }
                }
            }
        }
        assert!(served > 0);
    }

    #[test]
    fn disagreeing_or_empty_requests_are_refused() {
        let input = photo("rocket.jpg");
        let ctl = JobControl::unbounded();
        assert!(matches!(resize_several(&input, &[], &Limits::default(), &ctl), Err(JobError::InvalidArgument(_))));
        let turned = ResizeParams { auto_orient: false, ..params(Mode::Fit, 50, 50) };
        let got = resize_several(&input, &[params(Mode::Fit, 100, 100), turned], &Limits::default(), &ctl);
        assert!(matches!(got, Err(JobError::InvalidArgument(_))));
        let bad_quality = ResizeParams { quality: 0, ..params(Mode::Fit, 50, 50) };
        assert!(matches!(resize_several(&input, &[bad_quality], &Limits::default(), &ctl), Err(JobError::InvalidArgument(_))));
    }
}
