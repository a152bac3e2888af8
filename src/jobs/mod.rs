//! The jobs: plain synchronous functions that the server runs on the rayon pool and that unit
//! tests and benches call directly. Nothing here knows about sockets, frames or tokio.
//!
//! # Layout
//! - [`control`]: deadline and cancellation checks a job makes as it goes.
//! - [`error`]: [`JobError`], one variant per way a job can refuse or fail.
//! - [`params`]: what a resize needs ([`ResizeParams`]) and the input [`Limits`]; the words
//!   (modes, filters, formats, algorithms) are re-exported from [`crate::vocabulary`].
//! - [`resize`]: decode, orient, colour-convert, resize, encode.
//! - [`checksum`]: several digests in one pass.
//! - [`file`]: a file passed by descriptor, read with `pread` ([`InputFile`]).
//! - [`checksum_file`]: digests of such a file, reading the next chunk while hashing this one.
//! - [`probe`]: what an image is, from its header alone (the resize's header path).
//! - `fault` (feature `fault-injection`, tests only): jobs that panic on demand.

pub mod checksum;
pub mod checksum_file;
pub mod control;
pub mod error;
pub mod file;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod params;
pub mod probe;
pub mod resize;

pub use crate::vocabulary::{Algorithm, Anchor, Filter, ImageFormat, Mode, OutputFormat};
pub use control::JobControl;
pub use error::JobError;
pub use file::InputFile;
pub use params::{Limits, ResizeParams};
