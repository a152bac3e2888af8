//! The project's own progressive JPEG decoder against libjpeg-turbo on the same bytes, for the
//! differential fuzz target (fuzz/fuzz_targets/jpeg_differential.rs). The rule it checks is
//! SPEC.md 5.3's "exact or refused": wherever [`own_decoder`] answers with pixels, libjpeg at
//! the same scale, reading every scan, answers with the same pixels; any other outcome of the
//! pair is a finding. libjpeg's warnings (corrupt data it decodes past) are tolerated as
//! libvips tolerates them by default: a damaged scan that the scale never reads changes
//! nothing in its picture, and the own decoder, which skips such a scan, must agree.

use super::super::super::super::{ImageFormat, JobControl};
use super::super::super::{jpeg_markers, metadata::Metadata, sniff};
use super::{decode_every_scan_as_libjpeg_would, own_decoder};

/// Largest picture compared, so that each fuzz run stays in milliseconds.
const MAX_PIXELS: u64 = 1 << 22;

/// What the two decoders made of one input at one scale.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a JPEG, or a header the pipeline refuses before any decoder runs.
    RefusedBeforeDecoding,
    /// The own decoder passed the input to libjpeg (or was not asked: scale or file kind).
    Declined,
    /// Both decoded it to the same pixels.
    Same,
    /// Both decoded it, to different pictures: the first differing byte and the two sizes.
    Differ { first_difference: usize, own: (u32, u32), libjpeg: (u32, u32) },
    /// The own decoder answered with pixels where libjpeg's path refuses the input.
    OnlyOwnAccepts { libjpeg_error: String },
}

/// Decodes `input` at `eighths`/8 (1 or 2: the scales the own decoder serves) both ways.
pub fn compare(input: &[u8], eighths: u32) -> Verdict {
    let ctl = JobControl::unbounded();
    if !matches!(sniff::format(input), Ok(ImageFormat::Jpeg)) {
        return Verdict::RefusedBeforeDecoding;
    }
    let Ok((width, height)) = sniff::dimensions(input, ImageFormat::Jpeg) else {
        return Verdict::RefusedBeforeDecoding;
    };
    // The pipeline reads the metadata (jpeg::metadata) before decoding; a file it refuses
    // there never reaches either decoder.
    let Ok(segments) = jpeg_markers::header_segments(input) else { return Verdict::RefusedBeforeDecoding };
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Verdict::RefusedBeforeDecoding;
    }
    let adobe = Metadata::from_jpeg(&segments).adobe;
    let own = match own_decoder::decode(input, (width, height), eighths, &ctl) {
        Ok(Some(raster)) => raster,
        Ok(None) | Err(_) => return Verdict::Declined,
    };
    match decode_every_scan_as_libjpeg_would(input, (width, height), eighths, adobe) {
        Err(e) => Verdict::OnlyOwnAccepts { libjpeg_error: e.to_string() },
        Ok((reference, _warning)) if reference.layout == own.layout && reference.data == own.data => Verdict::Same,
        Ok((reference, _warning)) => Verdict::Differ {
            first_difference: own.data.iter().zip(&reference.data).position(|(a, b)| a != b).unwrap_or(0),
            own: (own.width, own.height),
            libjpeg: (reference.width, reference.height),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{compare, Verdict};

    /// Every input the fuzz target keeps (its seeds, its merged corpus, and each finding, fixed),
    /// decoded both ways at both scales: `make test` holds every finding as a regression.
    #[test]
    fn every_kept_fuzz_input_is_exact_or_refused() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");
        let (mut checked, mut taken) = (0, 0);
        for dir in ["seeds", "corpora", "regressions"] {
            let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}/jpeg_differential")) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                let input = std::fs::read(&path).unwrap();
                for eighths in [1, 2] {
                    let verdict = compare(&input, eighths);
                    assert!(
                        matches!(verdict, Verdict::RefusedBeforeDecoding | Verdict::Declined | Verdict::Same),
                        "{} at {eighths}/8: {verdict:?}",
                        path.display()
                    );
                    taken += usize::from(verdict == Verdict::Same);
                }
                checked += 1;
            }
        }
        // The seeds alone are 52 progressive files the own decoder takes at both scales.
        assert!(checked >= 52 && taken >= 100, "{checked} inputs, {taken} decoded both ways");
    }
}
