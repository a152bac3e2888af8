//! The own progressive JPEG decoder against libjpeg-turbo, on the same bytes at 1/8 and 1/4
//! (SPEC.md 5.3, "exact or refused"). Wherever the own decoder answers with pixels, libjpeg
//! reading every scan must answer with the same pixels; a different picture, or pixels where
//! libjpeg's path refuses the file, is a crash like any panic.

#![no_main]

use ferryd::jobs::resize::jpeg_differential::{compare, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for eighths in [1, 2] {
        match compare(data, eighths) {
            Verdict::RefusedBeforeDecoding | Verdict::Declined | Verdict::Same => {}
            finding => panic!("at {eighths}/8: {finding:?}"),
        }
    }
});
