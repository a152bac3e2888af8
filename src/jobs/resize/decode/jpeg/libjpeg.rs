//! A safe handle on libjpeg's decompressor, through the small C bridge the build script
//! compiles (the `ferry_jpeg_*` functions): libjpeg reports errors with longjmp, which must never
//! jump over Rust frames, so every libjpeg call happens inside a C function that catches it.
//!
//! Unlike the TurboJPEG API this gives: rows in bands (the caller checks its deadline between
//! them), a progress hook that asks the job's [`JobControl`] while a progressive file is being
//! absorbed, and block smoothing as a choice.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::jobs::{JobControl, JobError};

/// The colour space a JPEG declares (libjpeg's `J_COLOR_SPACE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileColorSpace {
    Gray,
    Rgb,
    YCbCr,
    Cmyk,
    Ycck,
    Other(i32),
}

/// Sizes and layout once decompression has started.
#[derive(Clone, Copy, Debug)]
pub struct Started {
    pub image_width: u32,
    pub image_height: u32,
    /// Size of the decoded picture (the scaled size; full size for lossless files).
    pub width: u32,
    pub height: u32,
    /// Bytes per pixel: 1 gray, 3 RGB, 4 CMYK.
    pub components: usize,
    pub color_space: FileColorSpace,
}

/// How a libjpeg call ended.
#[derive(Debug)]
pub enum Failure {
    /// libjpeg's message for corrupt, truncated or unsupported data.
    Libjpeg(String),
    /// The job's control said stop (deadline or cancel).
    Stopped(JobError),
}

/// One decompression of one input. `'a` ties it to the input bytes (libjpeg reads them in
/// place) and to the job control its progress hook asks.
pub struct Decompressor<'a> {
    raw: NonNull<RawDecompressor>,
    /// Owned; boxed so its address, which the C side keeps, stays put.
    stopper: *mut Stopper<'a>,
    _input: PhantomData<&'a [u8]>,
}

struct Stopper<'a> {
    ctl: &'a JobControl,
    /// Why the hook stopped the decode.
    reason: Option<JobError>,
}

#[repr(C)]
struct RawDecompressor {
    _opaque: [u8; 0],
}

#[repr(C)]
#[derive(Default)]
struct RawInfo {
    image_width: c_uint,
    image_height: c_uint,
    output_width: c_uint,
    output_height: c_uint,
    output_components: c_int,
    jpeg_color_space: c_int,
}

const OK: c_int = 0;
const STOPPED: c_int = 2;

type StopFn = extern "C" fn(*mut c_void) -> c_int;

extern "C" {
    fn ferry_jpeg_new(should_stop: StopFn, ctx: *mut c_void, max_scans: c_int) -> *mut RawDecompressor;
    fn ferry_jpeg_free(d: *mut RawDecompressor);
    fn ferry_jpeg_start(
        d: *mut RawDecompressor,
        data: *const u8,
        len: c_ulong,
        scale_eighths: c_uint,
        keep_ycc: c_int,
        info: *mut RawInfo,
    ) -> c_int;
    fn ferry_jpeg_read_rows(d: *mut RawDecompressor, buf: *mut u8, stride: usize, rows: c_uint) -> c_int;
    fn ferry_jpeg_finish(d: *mut RawDecompressor) -> c_int;
    fn ferry_jpeg_error(d: *const RawDecompressor) -> *const c_char;
    fn ferry_jpeg_warning(d: *const RawDecompressor) -> *const c_char;
}

/// The progress hook: asks the job control; on "stop" keeps the reason and tells C to unwind
/// libjpeg. Never panics (`JobControl::check` does not).
extern "C" fn should_stop(ctx: *mut c_void) -> c_int {
    // SAFETY: ctx is the Stopper this Decompressor owns, alive until ferry_jpeg_free, and only
    // touched here while a bridge call runs on this thread.
    let stopper = unsafe { &mut *ctx.cast::<Stopper<'_>>() };
    match stopper.ctl.check("decode") {
        Ok(()) => 0,
        Err(e) => {
            stopper.reason = Some(e);
            1
        }
    }
}

impl<'a> Decompressor<'a> {
    /// A decompressor whose progress hook checks `ctl` and refuses more than `max_scans` scans.
    pub fn new(ctl: &'a JobControl, max_scans: u32) -> Result<Self, JobError> {
        let stopper = Box::into_raw(Box::new(Stopper { ctl, reason: None }));
        let max_scans = c_int::try_from(max_scans).unwrap_or(c_int::MAX);
        // SAFETY: the stopper outlives the C object (freed after it in Drop).
        let raw = unsafe { ferry_jpeg_new(should_stop, stopper.cast(), max_scans) };
        match NonNull::new(raw) {
            Some(raw) => Ok(Self { raw, stopper, _input: PhantomData }),
            None => {
                // SAFETY: from Box::into_raw above, not shared with C any more.
                drop(unsafe { Box::from_raw(stopper) });
                Err(JobError::Internal("libjpeg: out of memory creating a decompressor".into()))
            }
        }
    }

    /// Reads the header of `input` and starts decompressing at `eighths`/8 (1..=8), YCbCr
    /// files to RGB unless `keep_ycc` (for tests). For a progressive file this decodes every
    /// scan into coefficients, the slow part.
    pub fn start(&mut self, input: &'a [u8], eighths: u32, keep_ycc: bool) -> Result<Started, Failure> {
        let mut info = RawInfo::default();
        let len = c_ulong::try_from(input.len()).map_err(|_| Failure::Libjpeg("input too large".into()))?;
        // SAFETY: input outlives self ('a); info is a valid out-pointer.
        let status = unsafe {
            ferry_jpeg_start(self.raw.as_ptr(), input.as_ptr(), len, eighths, c_int::from(keep_ycc), &mut info)
        };
        self.status(status)?;
        let color_space = match info.jpeg_color_space {
            1 => FileColorSpace::Gray,
            2 => FileColorSpace::Rgb,
            3 => FileColorSpace::YCbCr,
            4 => FileColorSpace::Cmyk,
            5 => FileColorSpace::Ycck,
            other => FileColorSpace::Other(other),
        };
        Ok(Started {
            image_width: info.image_width,
            image_height: info.image_height,
            width: info.output_width,
            height: info.output_height,
            components: usize::try_from(info.output_components).unwrap_or(0),
            color_space,
        })
    }

    /// Decodes the next rows into `band`, whole rows of `stride` bytes (at least the decoded
    /// width times its components).
    pub fn read_rows(&mut self, band: &mut [u8], stride: usize) -> Result<(), Failure> {
        let rows = c_uint::try_from(band.len() / stride).map_err(|_| Failure::Libjpeg("band too tall".into()))?;
        // SAFETY: band holds `rows` rows of `stride` bytes; C writes at most output_width *
        // output_components bytes per row, which the caller sized the stride for.
        let status = unsafe { ferry_jpeg_read_rows(self.raw.as_ptr(), band.as_mut_ptr(), stride, rows) };
        self.status(status)
    }

    /// Reads the markers after the last row, up to the end of the image.
    pub fn finish(&mut self) -> Result<(), Failure> {
        // SAFETY: a started decompressor.
        let status = unsafe { ferry_jpeg_finish(self.raw.as_ptr()) };
        self.status(status)
    }

    /// libjpeg's first warning (it decodes on after one), if any.
    pub fn warning(&self) -> Option<String> {
        // SAFETY: NULL or a NUL-terminated buffer inside the C object.
        let message = unsafe { ferry_jpeg_warning(self.raw.as_ptr()) };
        (!message.is_null()).then(|| unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned())
    }

    fn status(&mut self, status: c_int) -> Result<(), Failure> {
        match status {
            OK => Ok(()),
            STOPPED => {
                // SAFETY: the C side is not running; we own the stopper.
                let reason = unsafe { (*self.stopper).reason.take() };
                Err(Failure::Stopped(reason.unwrap_or(JobError::Internal("libjpeg stopped without a reason".into()))))
            }
            _ => {
                // SAFETY: a NUL-terminated buffer inside the C object.
                let message = unsafe { CStr::from_ptr(ferry_jpeg_error(self.raw.as_ptr())) };
                Err(Failure::Libjpeg(message.to_string_lossy().into_owned()))
            }
        }
    }
}

impl Drop for Decompressor<'_> {
    fn drop(&mut self) {
        // SAFETY: created by ferry_jpeg_new, freed once; the stopper after the C object that
        // points to it.
        unsafe {
            ferry_jpeg_free(self.raw.as_ptr());
            drop(Box::from_raw(self.stopper));
        }
    }
}
