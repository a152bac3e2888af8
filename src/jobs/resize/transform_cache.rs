//! Little CMS transforms, built once per distinct profile and reused.
//!
//! Building a transform (evaluating tone curves, precomputing optimised tables) costs about
//! 2 ms; applying it to a 400x267 thumbnail costs a fraction of that. Photos carry a handful of
//! distinct profiles (sRGB variants, Adobe RGB, Display P3, a press CMYK), so a small cache
//! turns most conversions into a lookup. Transforms are built with `NO_CACHE`, which makes
//! them safe to share between worker threads.

use std::sync::{Arc, Mutex};

use lcms2::{DisallowCache, Flags, GlobalContext, Intent, PixelFormat, Profile, Transform};

/// A transform any worker thread can apply.
pub type SharedTransform = Arc<Transform<u8, u8, GlobalContext, DisallowCache>>;

/// Distinct (profile, formats) pairs kept. Least recently used goes first.
const CAPACITY: usize = 8;
/// Larger profiles (some press CMYK profiles are several MB) are built every time rather than
/// held: the cache stays under CAPACITY x this many bytes.
const MAX_CACHED_PROFILE: usize = 2 << 20;

struct Entry {
    icc: Vec<u8>,
    input: PixelFormat,
    output: PixelFormat,
    transform: SharedTransform,
}

/// Most recently used last.
static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The transform from `icc` (pixels as `input`) to `target` (pixels as `output`), perceptual
/// intent. `None` when the profile does not parse or lcms cannot link it to the target.
/// `target` is only called on a cache miss.
pub fn get(icc: &[u8], input: PixelFormat, output: PixelFormat, target: impl FnOnce() -> Option<Profile>) -> Option<SharedTransform> {
    if let Some(found) = lookup(icc, input, output) {
        return Some(found);
    }
    // Built outside the lock: two threads missing on the same profile both build, once.
    let source = Profile::new_icc(icc).ok()?;
    let transform = Transform::new_flags_context(GlobalContext::new(), &source, input, &target()?, output, Intent::Perceptual, Flags::NO_CACHE).ok()?;
    let transform: SharedTransform = Arc::new(transform);
    if icc.len() <= MAX_CACHED_PROFILE {
        let mut cache = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() == CAPACITY {
            cache.remove(0);
        }
        cache.push(Entry { icc: icc.to_vec(), input, output, transform: transform.clone() });
    }
    Some(transform)
}

fn lookup(icc: &[u8], input: PixelFormat, output: PixelFormat) -> Option<SharedTransform> {
    let mut cache = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let at = cache.iter().position(|e| e.input == input && e.output == output && e.icc == icc)?;
    let entry = cache.remove(at);
    let transform = entry.transform.clone();
    cache.push(entry);
    Some(transform)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_profile_and_formats_reuse_one_transform() {
        // A profile no other test uses, so the cache state is ours.
        let mut profile = Profile::new_srgb();
        profile.set_version(2.1);
        let icc = profile.icc().unwrap();
        let first = get(&icc, PixelFormat::RGB_8, PixelFormat::RGB_8, || Some(Profile::new_srgb())).unwrap();
        let again = get(&icc, PixelFormat::RGB_8, PixelFormat::RGB_8, || panic!("should be cached")).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = get(&icc, PixelFormat::RGBA_8, PixelFormat::RGBA_8, || Some(Profile::new_srgb())).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(get(b"garbage", PixelFormat::RGB_8, PixelFormat::RGB_8, || Some(Profile::new_srgb())).is_none());
    }
}
