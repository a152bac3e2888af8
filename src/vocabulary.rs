//! The shared words of the wire and the jobs: modes, anchors, filters, formats, algorithms.
//!
//! Both [`crate::protocol`] (which parses and writes the words, SPEC.md section 5) and
//! [`crate::jobs`] (which acts on them) import these enums from here, so the protocol never
//! depends on the job kernels and the jobs never on the wire format. Parsing a word the spec
//! does not list gives `None`; the request decoder answers it `invalid_argument`.

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
    /// HEIF with HEVC pictures (HEIC), as phones write them.
    Heic,
    /// HEIF with AV1 pictures.
    Avif,
}

/// Formats the daemon encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Jpeg,
    Png,
    WebP,
    Avif,
}

/// Checksum algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Crc32c,
    Xxh3_64,
    Sha256,
    Blake3,
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
    "gif" => ImageFormat::Gif, "heic" => ImageFormat::Heic, "avif" => ImageFormat::Avif,
});
words!(OutputFormat {
    "jpeg" => OutputFormat::Jpeg, "png" => OutputFormat::Png, "webp" => OutputFormat::WebP,
    "avif" => OutputFormat::Avif,
});
words!(Algorithm {
    "crc32c" => Algorithm::Crc32c, "xxh3_64" => Algorithm::Xxh3_64, "sha256" => Algorithm::Sha256,
    "blake3" => Algorithm::Blake3,
});
