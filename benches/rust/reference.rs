//! The yardstick of thumbnail quality (SPEC.md 5.3, issue 20): the full decode of the input
//! (libjpeg-turbo for JPEG, the `image` crate otherwise; no shrink-on-load, no colour
//! conversion) resized with the `image` crate's Lanczos3 straight to the output size. It shares
//! no code with the pipeline it judges.

/// The full decode of `input` resized to `width x height`.
pub fn reference(input: &[u8], width: u32, height: u32) -> image::RgbImage {
    let full = if input.starts_with(&[0xFF, 0xD8]) {
        let image = turbojpeg::decompress(input, turbojpeg::PixelFormat::RGB).expect("libjpeg decodes the photo");
        image::RgbImage::from_raw(image.width as u32, image.height as u32, image.pixels).expect("RGB rows")
    } else {
        image::load_from_memory(input).expect("the image crate decodes the photo").to_rgb8()
    };
    image::imageops::resize(&full, width, height, image::imageops::FilterType::Lanczos3)
}
