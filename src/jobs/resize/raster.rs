//! The in-memory picture every stage hands to the next: 8-bit samples, rows packed, no padding.

/// How the samples of one pixel are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Gray,
    GrayAlpha,
    Rgb,
    Rgba,
    /// Four ink channels, straight from a CMYK or YCCK JPEG; converted to RGB by the colour
    /// stage. `inverted` is Adobe's convention (255 = no ink), which Photoshop writes and
    /// libjpeg-turbo follows.
    Cmyk { inverted: bool },
}

impl Layout {
    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            Layout::Gray => 1,
            Layout::GrayAlpha => 2,
            Layout::Rgb => 3,
            Layout::Rgba | Layout::Cmyk { .. } => 4,
        }
    }

    /// Whether the last channel is alpha.
    pub fn has_alpha(self) -> bool {
        matches!(self, Layout::GrayAlpha | Layout::Rgba)
    }

    /// The same layout with the alpha channel dropped.
    pub fn without_alpha(self) -> Layout {
        match self {
            Layout::GrayAlpha => Layout::Gray,
            Layout::Rgba => Layout::Rgb,
            other => other,
        }
    }
}

/// A decoded or resized picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    /// `width * height * layout.channels()` bytes, row after row.
    pub data: Vec<u8>,
}

impl Raster {
    /// A raster over `data`, which must hold exactly one picture of that size.
    pub fn new(width: u32, height: u32, layout: Layout, data: Vec<u8>) -> Raster {
        debug_assert_eq!(data.len(), width as usize * height as usize * layout.channels());
        Raster { width, height, layout, data }
    }

    /// Bytes in one row.
    pub fn stride(&self) -> usize {
        self.width as usize * self.layout.channels()
    }

    /// Drops an alpha channel that is 255 everywhere: the resize then skips premultiplication
    /// and the encoders write a smaller file. A cheap scan next to the resize itself.
    pub fn drop_opaque_alpha(self) -> Raster {
        if !self.layout.has_alpha() {
            return self;
        }
        let channels = self.layout.channels();
        let opaque = self.data.chunks_exact(channels).all(|px| px[channels - 1] == 255);
        if !opaque {
            return self;
        }
        let data = self.data.chunks_exact(channels).flat_map(|px| px[..channels - 1].iter().copied()).collect();
        Raster::new(self.width, self.height, self.layout.without_alpha(), data)
    }

    /// Composites alpha over white (for formats without alpha). Assumes straight alpha.
    pub fn over_white(self) -> Raster {
        if !self.layout.has_alpha() {
            return self;
        }
        let channels = self.layout.channels();
        let mut data = Vec::with_capacity(self.data.len() / channels * (channels - 1));
        for px in self.data.chunks_exact(channels) {
            let alpha = u32::from(px[channels - 1]);
            for &c in &px[..channels - 1] {
                // c*a + 255*(1-a), rounded; exact for a = 0 (white) and a = 255 (c).
                let mixed = u32::from(c) * alpha + 255 * (255 - alpha);
                data.push(((mixed + 127) / 255) as u8);
            }
        }
        Raster::new(self.width, self.height, self.layout.without_alpha(), data)
    }

    /// Gray becomes RGB, gray+alpha becomes RGBA (for encoders without a gray mode).
    pub fn gray_to_rgb(self) -> Raster {
        match self.layout {
            Layout::Gray => {
                let data = self.data.iter().flat_map(|&v| [v, v, v]).collect();
                Raster::new(self.width, self.height, Layout::Rgb, data)
            }
            Layout::GrayAlpha => {
                let data = self.data.chunks_exact(2).flat_map(|px| [px[0], px[0], px[0], px[1]]).collect();
                Raster::new(self.width, self.height, Layout::Rgba, data)
            }
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_alpha_is_dropped_and_real_alpha_kept() {
        let opaque = Raster::new(2, 1, Layout::Rgba, vec![1, 2, 3, 255, 4, 5, 6, 255]);
        let dropped = opaque.drop_opaque_alpha();
        assert_eq!(dropped.layout, Layout::Rgb);
        assert_eq!(dropped.data, [1, 2, 3, 4, 5, 6]);
        let translucent = Raster::new(1, 1, Layout::GrayAlpha, vec![9, 10]);
        assert_eq!(translucent.clone().drop_opaque_alpha(), translucent);
    }

    #[test]
    fn compositing_over_white_keeps_opaque_and_whitens_transparent() {
        let raster = Raster::new(3, 1, Layout::Rgba, vec![10, 20, 30, 255, 10, 20, 30, 0, 0, 0, 0, 128]);
        let flat = raster.over_white();
        assert_eq!(flat.layout, Layout::Rgb);
        assert_eq!(&flat.data[..6], &[10, 20, 30, 255, 255, 255]);
        assert_eq!(&flat.data[6..], &[127, 127, 127]);
    }
}
