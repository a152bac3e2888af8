//! Validated job parameters. The words match protocol/SPEC.md; parsing a word that is not in
//! the spec gives `None`, which the server answers as `invalid_argument`.

/// How the image is fitted into the box (SPEC.md 5.3, Geometry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Fit,
    Fill,
    Exact,
}

/// Which part of the image survives the crop of [`Mode::Fill`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Anchor {
    #[default]
    Center,
    Top,
    Bottom,
    Left,
    Right,
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

/// Resampling kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Filter {
    Nearest,
    Bilinear,
    CatmullRom,
    #[default]
    Lanczos3,
}

/// Formats the daemon decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    WebP,
    Gif,
}

/// Formats the daemon encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Jpeg,
    Png,
    WebP,
}

/// Checksum algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Crc32c,
    Xxh3_64,
    Sha256,
    Blake3,
}

/// Everything a resize needs besides the input bytes. Built by the server from a request after
/// the words have been parsed; [`ResizeParams::validate`] checks the numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResizeParams {
    pub width: u32,
    pub height: u32,
    pub mode: Mode,
    pub anchor: Anchor,
    pub filter: Filter,
    pub format: OutputFormat,
    /// 1..=100.
    pub quality: u8,
    pub auto_orient: bool,
    pub keep_icc: bool,
    pub keep_metadata: bool,
}

impl Default for ResizeParams {
    fn default() -> Self {
        Self {
            width: 0,
            height: 0,
            mode: Mode::Fit,
            anchor: Anchor::Center,
            filter: Filter::Lanczos3,
            format: OutputFormat::Jpeg,
            quality: 80,
            auto_orient: true,
            keep_icc: false,
            keep_metadata: false,
        }
    }
}

/// Input limits, checked from the image header before any pixel buffer is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width x height of an input image.
    pub max_pixels: u64,
    /// Largest input width or height, and largest requested box side.
    pub max_dimension: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_pixels: 100_000_000, max_dimension: 32768 }
    }
}

macro_rules! words {
    ($ty:ty { $($word:literal => $variant:expr),+ $(,)? }) => {
        impl $ty {
            /// Parses the word used on the wire; `None` for a word the spec does not list.
            pub fn from_word(word: &str) -> Option<Self> {
                match word { $($word => Some($variant),)+ _ => None }
            }
            /// The word used on the wire.
            pub fn word(self) -> &'static str {
                #[allow(unreachable_patterns)]
                match self { $(v if v == $variant => $word,)+ _ => unreachable!() }
            }
            /// Every word, in spec order (for the `hello` reply).
            pub const WORDS: &'static [&'static str] = &[$($word),+];
        }
    };
}

words!(Mode { "fit" => Mode::Fit, "fill" => Mode::Fill, "exact" => Mode::Exact });
words!(Anchor {
    "center" => Anchor::Center, "top" => Anchor::Top, "bottom" => Anchor::Bottom,
    "left" => Anchor::Left, "right" => Anchor::Right, "top_left" => Anchor::TopLeft,
    "top_right" => Anchor::TopRight, "bottom_left" => Anchor::BottomLeft,
    "bottom_right" => Anchor::BottomRight,
});
words!(Filter {
    "nearest" => Filter::Nearest, "bilinear" => Filter::Bilinear,
    "catmull_rom" => Filter::CatmullRom, "lanczos3" => Filter::Lanczos3,
});
words!(ImageFormat {
    "jpeg" => ImageFormat::Jpeg, "png" => ImageFormat::Png, "webp" => ImageFormat::WebP,
    "gif" => ImageFormat::Gif,
});
words!(OutputFormat { "jpeg" => OutputFormat::Jpeg, "png" => OutputFormat::Png, "webp" => OutputFormat::WebP });
words!(Algorithm {
    "crc32c" => Algorithm::Crc32c, "xxh3_64" => Algorithm::Xxh3_64, "sha256" => Algorithm::Sha256,
    "blake3" => Algorithm::Blake3,
});
