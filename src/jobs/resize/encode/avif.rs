//! AVIF through libheif and its libaom encoder (Debian's libheif 1.15, the one that decodes
//! HEIF input): 8-bit 4:2:0, `quality` as libheif's 0..100 quality, alpha kept as an auxiliary
//! image, ICC as a `colr` box, EXIF and XMP as metadata items.
//!
//! Speed: libaom's `speed` [`SPEED`] (of 0 slowest to 9). Measured with heif-enc on the same
//! libheif and libaom (`-A -q 80 -p threads=1`, the sample photos at 512 to 640 pixels, three
//! runs each, side by side on a loaded 2-core machine): speed 8 takes 0.50 to 0.53 of speed 6's
//! time for files within 1% of its size (astronaut.png 3% smaller); speed 9 takes 0.20 to 0.30
//! but writes files 10 to 15% larger. One thread per encode: jobs already run one per core of
//! the pool.

use std::ffi::CString;
use std::ptr;

use libheif_sys as sys;

use super::super::super::JobError;
use super::super::decode::heif::libheif::{check, Context, Handle, Image};
use super::super::raster::{Layout, Raster};
use super::Extras;

/// Largest side libheif 1.15 encodes as one picture (its security limit on image sizes).
pub const MAX_SIDE: u32 = 16_384;

/// libaom's speed preset for thumbnails (module docs).
pub const SPEED: i32 = 8;

/// Encodes `raster` (straight alpha, 8-bit) at `quality` (1..=100).
pub fn encode(raster: Raster, quality: u8, extras: &Extras) -> Result<Vec<u8>, JobError> {
    let raster = raster.gray_to_rgb();
    let (chroma, channels) = match raster.layout {
        Layout::Rgb => (sys::heif_chroma_heif_chroma_interleaved_RGB, 3),
        Layout::Rgba => (sys::heif_chroma_heif_chroma_interleaved_RGBA, 4),
        other => return Err(JobError::Internal(format!("avif encoder given {other:?} pixels"))),
    };
    encode_with(&raster, chroma, channels, quality, extras).map_err(|e| JobError::Internal(format!("avif encode: {e}")))
}

fn encode_with(raster: &Raster, chroma: sys::heif_chroma, channels: usize, quality: u8, extras: &Extras) -> Result<Vec<u8>, String> {
    let (width, height) = (raster.width as i32, raster.height as i32);
    let context = Context::empty()?;
    let mut image = Image(ptr::null_mut());
    // SAFETY: every pointer is checked; the image, encoder, options and handle are released by
    // their guards; the plane is written within `stride x height`.
    unsafe {
        check(sys::heif_image_create(width, height, sys::heif_colorspace_heif_colorspace_RGB, chroma, &mut image.0), "image")?;
        check(sys::heif_image_add_plane(image.0, sys::heif_channel_heif_channel_interleaved, width, height, 8), "plane")?;
        let mut stride = 0;
        let plane = sys::heif_image_get_plane(image.0, sys::heif_channel_heif_channel_interleaved, &mut stride);
        let row = raster.width as usize * channels;
        if plane.is_null() || (stride as usize) < row {
            return Err("libheif gave no plane to write".into());
        }
        for (y, src) in raster.data.chunks_exact(row).enumerate() {
            ptr::copy_nonoverlapping(src.as_ptr(), plane.add(y * stride as usize), row);
        }
        if let Some(icc) = &extras.icc {
            check(sys::heif_image_set_raw_color_profile(image.0, c"prof".as_ptr(), icc.as_ptr().cast(), icc.len()), "ICC profile")?;
        }

        let encoder = Encoder::for_av1(&context)?;
        check(sys::heif_encoder_set_lossy_quality(encoder.0, i32::from(quality)), "quality")?;
        encoder.integer("speed", SPEED)?;
        encoder.integer("threads", 1)?;
        let options = sys::heif_encoding_options_alloc();
        if options.is_null() {
            return Err("no encoding options".into());
        }
        let options = EncodingOptions(options);
        let mut handle = ptr::null_mut();
        check(sys::heif_context_encode_image(context.raw(), image.0, encoder.0, options.0, &mut handle), "encoding")?;
        let handle = Handle::from_raw(handle);
        if let Some(exif) = &extras.exif {
            let size = i32::try_from(exif.len()).map_err(|_| "EXIF block too large")?;
            check(sys::heif_context_add_exif_metadata(context.raw(), handle.raw, exif.as_ptr().cast(), size), "EXIF")?;
        }
        if let Some(xmp) = &extras.xmp {
            let size = i32::try_from(xmp.len()).map_err(|_| "XMP packet too large")?;
            check(sys::heif_context_add_XMP_metadata(context.raw(), handle.raw, xmp.as_ptr().cast(), size), "XMP")?;
        }
        drop(handle);
        let mut out: Vec<u8> = Vec::new();
        let mut writer = sys::heif_writer { writer_api_version: 1, write: Some(append) };
        check(sys::heif_context_write(context.raw(), &mut writer, (&mut out as *mut Vec<u8>).cast()), "writing")?;
        Ok(out)
    }
}

/// libheif's writer callback: appends to the `Vec<u8>` behind `userdata`.
unsafe extern "C" fn append(_: *mut sys::heif_context, data: *const libc::c_void, size: usize, userdata: *mut libc::c_void) -> sys::heif_error {
    // SAFETY: `userdata` is the Vec passed to heif_context_write, alive for the call; `data`
    // holds `size` bytes.
    unsafe {
        let out = &mut *userdata.cast::<Vec<u8>>();
        out.extend_from_slice(std::slice::from_raw_parts(data.cast::<u8>(), size));
    }
    sys::heif_error { code: sys::heif_error_code_heif_error_Ok, subcode: 0, message: c"".as_ptr() }
}

struct Encoder(*mut sys::heif_encoder);

impl Encoder {
    fn for_av1(context: &Context<'_>) -> Result<Encoder, String> {
        let mut raw = ptr::null_mut();
        // SAFETY: valid context; the encoder is released by the guard.
        check(unsafe { sys::heif_context_get_encoder_for_format(context.raw(), sys::heif_compression_format_heif_compression_AV1, &mut raw) }, "no AV1 encoder in libheif")?;
        Ok(Encoder(raw))
    }

    fn integer(&self, name: &str, value: i32) -> Result<(), String> {
        let name = CString::new(name).expect("no NUL in a parameter name");
        // SAFETY: valid encoder, NUL-terminated name.
        check(unsafe { sys::heif_encoder_set_parameter_integer(self.0, name.as_ptr(), value) }, "encoder parameter")
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: obtained from libheif, released once.
        unsafe { sys::heif_encoder_release(self.0) };
    }
}

struct EncodingOptions(*mut sys::heif_encoding_options);

impl Drop for EncodingOptions {
    fn drop(&mut self) {
        // SAFETY: allocated by heif_encoding_options_alloc.
        unsafe { sys::heif_encoding_options_free(self.0) };
    }
}
