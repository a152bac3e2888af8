//! The bridge to libheif (Debian's, through `libheif-sys`): a context over the input bytes, the
//! primary image's handle, and one decode call to 8-bit interleaved RGB or RGBA. Every pointer
//! libheif hands out is owned by a guard here and released on drop, also on the error paths.
//!
//! libheif applies the picture's transforms (`clap` crop, `irot`, `imir`) while decoding, and
//! turns 10- and 12-bit pictures to 8 bits. Tiles of a grid are decoded one after the other on
//! the calling thread (`max_decoding_threads` 0): the job already runs on a worker of the CPU
//! pool, which bounds how many cores jobs use.
//!
//! libheif 1.15 gives no way to stop a decode once started (its progress callbacks cannot
//! cancel), so the deadline and the cancel flag are checked right before and right after the
//! call; the header checks bound what one call can cost.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::ptr;
use std::sync::Once;

use libheif_sys as sys;

use super::super::super::super::JobError;
use super::super::super::raster::{Layout, Raster};

/// Calls `heif_init` once per process (it registers the codec plugins; never undone).
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: no parameters; libheif counts the calls itself.
        unsafe { sys::heif_init(ptr::null_mut()) };
    });
}

/// libheif's error as text, `Ok(())` for success.
pub fn check(e: sys::heif_error, what: &str) -> Result<(), String> {
    if e.code == sys::heif_error_code_heif_error_Ok {
        return Ok(());
    }
    let message = if e.message.is_null() {
        String::new()
    } else {
        // SAFETY: libheif's messages are static or live as long as the context; copied now.
        unsafe { CStr::from_ptr(e.message) }.to_string_lossy().into_owned()
    };
    Err(format!("{what}: {message} (libheif error {}.{})", e.code, e.subcode))
}

/// A libheif context; `'a` is the input it reads without copying.
pub struct Context<'a> {
    raw: *mut sys::heif_context,
    input: PhantomData<&'a [u8]>,
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        // SAFETY: allocated by heif_context_alloc, freed once; handles hold their own reference.
        unsafe { sys::heif_context_free(self.raw) };
    }
}

impl Context<'static> {
    /// An empty context, to encode into.
    pub fn empty() -> Result<Context<'static>, String> {
        init();
        // SAFETY: plain allocation; null is checked.
        let raw = unsafe { sys::heif_context_alloc() };
        if raw.is_null() {
            return Err("libheif could not allocate a context".into());
        }
        Ok(Context { raw, input: PhantomData })
    }
}

impl<'a> Context<'a> {
    /// Parses the boxes of `input` (no pixel is decoded).
    pub fn read(input: &'a [u8]) -> Result<Context<'a>, String> {
        let context = Context::empty()?;
        let context = Context { raw: context.into_raw(), input: PhantomData };
        // SAFETY: the context borrows `input` for 'a, which outlives it.
        let e = unsafe {
            sys::heif_context_set_max_decoding_threads(context.raw, 0);
            sys::heif_context_read_from_memory_without_copy(context.raw, input.as_ptr().cast(), input.len(), ptr::null())
        };
        check(e, "reading the file")?;
        Ok(context)
    }

    fn into_raw(self) -> *mut sys::heif_context {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }

    pub fn raw(&self) -> *mut sys::heif_context {
        self.raw
    }

    /// The primary image (libheif's handle keeps the context's data alive, so it needs only
    /// the input to outlive it).
    pub fn primary(&self) -> Result<Handle<'a>, String> {
        let mut raw = ptr::null_mut();
        // SAFETY: the context is valid; the handle is released by its guard.
        check(unsafe { sys::heif_context_get_primary_image_handle(self.raw, &mut raw) }, "the primary image")?;
        Ok(Handle { raw, context: PhantomData })
    }
}

/// An image handle; `'a` is the input its context reads.
pub struct Handle<'a> {
    pub raw: *mut sys::heif_image_handle,
    context: PhantomData<&'a [u8]>,
}

impl Drop for Handle<'_> {
    fn drop(&mut self) {
        // SAFETY: obtained from libheif, released once.
        unsafe { sys::heif_image_handle_release(self.raw) };
    }
}

impl Handle<'_> {
    /// A handle libheif returned through an out-pointer.
    pub fn from_raw(raw: *mut sys::heif_image_handle) -> Handle<'static> {
        Handle { raw, context: PhantomData }
    }

    /// The size after the transforms, as libheif will decode it.
    pub fn size(&self) -> (u32, u32) {
        // SAFETY: valid handle.
        let (w, h) = unsafe { (sys::heif_image_handle_get_width(self.raw), sys::heif_image_handle_get_height(self.raw)) };
        (w.max(0) as u32, h.max(0) as u32)
    }

    /// Decodes to 8-bit RGB, or RGBA when an alpha plane is attached, straight alpha.
    pub fn decode(&self) -> Result<Raster, String> {
        // SAFETY: valid handle; every pointer below is checked and released by a guard.
        let (alpha, premultiplied) = unsafe {
            (sys::heif_image_handle_has_alpha_channel(self.raw) != 0, sys::heif_image_handle_is_premultiplied_alpha(self.raw) != 0)
        };
        let (chroma, layout) = if alpha {
            (sys::heif_chroma_heif_chroma_interleaved_RGBA, Layout::Rgba)
        } else {
            (sys::heif_chroma_heif_chroma_interleaved_RGB, Layout::Rgb)
        };
        let options = DecodingOptions::new()?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid handle and options; the image is released by its guard.
        let e = unsafe { sys::heif_decode_image(self.raw, &mut raw, sys::heif_colorspace_heif_colorspace_RGB, chroma, options.0) };
        check(e, "decoding")?;
        let image = Image(raw);
        let (width, height) = self.size();
        let mut stride = 0;
        // SAFETY: the image is valid; the plane is `stride x height` bytes.
        let plane = unsafe { sys::heif_image_get_plane_readonly(image.0, sys::heif_channel_heif_channel_interleaved, &mut stride) };
        // SAFETY: as above.
        let (pw, ph) = unsafe {
            (
                sys::heif_image_get_width(image.0, sys::heif_channel_heif_channel_interleaved),
                sys::heif_image_get_height(image.0, sys::heif_channel_heif_channel_interleaved),
            )
        };
        let row = width as usize * layout.channels();
        if plane.is_null() || (pw, ph) != (width as i32, height as i32) || (stride as usize) < row {
            return Err(format!("libheif decoded {pw}x{ph} for a {width}x{height} picture"));
        }
        let mut data = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            // SAFETY: row y lies inside the plane (stride >= row, height rows).
            data.extend_from_slice(unsafe { std::slice::from_raw_parts(plane.add(y * stride as usize), row) });
        }
        if premultiplied {
            unpremultiply(&mut data);
        }
        Ok(Raster::new(width, height, layout, data))
    }
}

/// Straight alpha from premultiplied RGBA (the pipeline premultiplies itself when resizing).
fn unpremultiply(rgba: &mut [u8]) {
    for px in rgba.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        if a != 0 && a != 255 {
            for c in &mut px[..3] {
                *c = ((u32::from(*c) * 255 + a / 2) / a).min(255) as u8;
            }
        }
    }
}

struct DecodingOptions(*mut sys::heif_decoding_options);

impl DecodingOptions {
    fn new() -> Result<Self, String> {
        // SAFETY: allocated by libheif with its own version's defaults; we set fields that
        // exist since version 2 (convert_hdr_to_8bit) and version 1.
        unsafe {
            let raw = sys::heif_decoding_options_alloc();
            if raw.is_null() {
                return Err("libheif could not allocate decoding options".into());
            }
            (*raw).ignore_transformations = 0;
            (*raw).convert_hdr_to_8bit = 1;
            Ok(DecodingOptions(raw))
        }
    }
}

impl Drop for DecodingOptions {
    fn drop(&mut self) {
        // SAFETY: allocated by heif_decoding_options_alloc.
        unsafe { sys::heif_decoding_options_free(self.0) };
    }
}

/// A decoded (or to-be-encoded) image.
pub struct Image(pub *mut sys::heif_image);

impl Drop for Image {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: obtained from libheif, released once.
            unsafe { sys::heif_image_release(self.0) };
        }
    }
}

/// Turns libheif's text into the job error for a bad input.
pub fn bad_input(format: &str) -> impl Fn(String) -> JobError + '_ {
    move |e| JobError::BadImage(format!("{format}: {e}"))
}
