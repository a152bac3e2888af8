//! EXIF orientation. The pipeline resizes the picture as stored and turns it upright afterwards,
//! on the small output: resampling is separable, so this gives the same pixels as rotating first
//! for a fraction of the memory traffic. Geometry is decided upright (that is what the caller's
//! box refers to) and mapped back into stored coordinates with [`Orientation::region_to_stored`].

use super::geometry::Region;
use super::raster::Raster;

/// An EXIF orientation as three independent steps: for an upright pixel `(x, y)`, optionally
/// swap the axes (`transpose`), then mirror the stored x and/or y.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Orientation {
    pub transpose: bool,
    pub flip_x: bool,
    pub flip_y: bool,
}

impl Orientation {
    /// From the EXIF value 1..=8; anything else means upright.
    pub fn from_exif(value: u8) -> Orientation {
        let (transpose, flip_x, flip_y) = match value {
            2 => (false, true, false),
            3 => (false, true, true),
            4 => (false, false, true),
            5 => (true, false, false),
            6 => (true, false, true),
            7 => (true, true, true),
            8 => (true, true, false),
            _ => (false, false, false),
        };
        Orientation { transpose, flip_x, flip_y }
    }

    /// Whether this changes anything.
    pub fn is_identity(self) -> bool {
        self == Orientation::default()
    }

    /// The upright size of a picture stored as `width x height` (and, since transposing is its
    /// own inverse, the stored size of an upright one).
    pub fn upright_size(self, width: u32, height: u32) -> (u32, u32) {
        if self.transpose { (height, width) } else { (width, height) }
    }

    /// Maps a region of the upright picture into the stored picture of `stored_w x stored_h`.
    pub fn region_to_stored(self, r: Region, stored_w: u32, stored_h: u32) -> Region {
        let (mut x, mut y, w, h) = if self.transpose { (r.y, r.x, r.height, r.width) } else { (r.x, r.y, r.width, r.height) };
        if self.flip_x {
            x = f64::from(stored_w) - x - w;
        }
        if self.flip_y {
            y = f64::from(stored_h) - y - h;
        }
        Region { x, y, width: w, height: h }
    }

    /// Turns a stored picture upright.
    pub fn apply(self, stored: Raster) -> Raster {
        if self.is_identity() {
            return stored;
        }
        let channels = stored.layout.channels();
        let (sw, sh) = (stored.width as usize, stored.height as usize);
        let (uw, uh) = self.upright_size(stored.width, stored.height);
        let mut data = vec![0u8; stored.data.len()];
        let mut out = 0;
        for y in 0..uh as usize {
            for x in 0..uw as usize {
                let (mut sx, mut sy) = if self.transpose { (y, x) } else { (x, y) };
                if self.flip_x {
                    sx = sw - 1 - sx;
                }
                if self.flip_y {
                    sy = sh - 1 - sy;
                }
                let at = (sy * sw + sx) * channels;
                data[out..out + channels].copy_from_slice(&stored.data[at..at + channels]);
                out += channels;
            }
        }
        Raster::new(uw, uh, stored.layout, data)
    }
}

#[cfg(test)]
mod tests {
    use super::super::raster::Layout;
    use super::*;

    /// A 3x2 gray picture whose pixels are all different.
    fn stored() -> Raster {
        Raster::new(3, 2, Layout::Gray, vec![1, 2, 3, 4, 5, 6])
    }

    #[test]
    fn agrees_with_image_rs_for_all_eight_orientations() {
        for value in 1..=8u8 {
            let ours = Orientation::from_exif(value).apply(stored());
            let mut reference = image::DynamicImage::ImageLuma8(image::GrayImage::from_raw(3, 2, stored().data).unwrap());
            reference.apply_orientation(image::metadata::Orientation::from_exif(value).unwrap());
            assert_eq!((ours.width, ours.height), (reference.width(), reference.height()), "orientation {value}");
            assert_eq!(ours.data, reference.as_bytes(), "orientation {value}");
        }
    }

    #[test]
    fn regions_map_to_the_pixels_they_cover() {
        // For every orientation, the stored region of each upright 1x1 region must hold the
        // same pixel that `apply` puts there.
        for value in 1..=8u8 {
            let o = Orientation::from_exif(value);
            let upright = o.apply(stored());
            for y in 0..upright.height {
                for x in 0..upright.width {
                    let r = o.region_to_stored(Region { x: x.into(), y: y.into(), width: 1.0, height: 1.0 }, 3, 2);
                    let at = (r.y as usize) * 3 + r.x as usize;
                    assert_eq!(stored().data[at], upright.data[(y * upright.width + x) as usize], "orientation {value} at {x},{y}");
                }
            }
        }
    }
}
