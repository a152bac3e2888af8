//! What a HEIF file's header says about its primary image, and the checks that refuse a bomb
//! before any pixel is decoded: the size the picture is shown at (the pipeline's limits and
//! memory estimate are taken from it), the grid and its tiles, the alpha plane, thumbnails and
//! other auxiliary images, and the sizes the coded streams themselves declare.
//!
//! Every image item the file holds that is not a grid's tile must fit inside the primary's coded
//! size, give or take [`CODED_SLACK`] (a thumbnail, alpha or depth plane larger than the picture
//! is refused), so the limits checked on the primary bound them all. A grid must be tiled
//! exactly: `rows x columns` tiles of one size, covering the declared output with less than a
//! tile to spare and no tile more than [`CODED_SLACK`] larger than the grid (heif-enc writes a
//! picture of odd height as one tile of the even height above it), at most [`MAX_GRID_TILES`]
//! tiles of at least [`MIN_TILE_PIXELS`] pixels each. Each coded stream's own size may exceed its `ispe`
//! by at most [`CODED_SLACK`] pixels (a codec's block padding), never more.

use super::super::super::super::{ImageFormat, JobError};
use super::super::super::exif;
use super::boxes::{self, bad, Meta, Property};
use super::codec_size;

/// Most tiles a grid may have. A 200-megapixel phone photo in 512x512 tiles has about 770.
pub const MAX_GRID_TILES: u64 = 1024;
/// Fewest pixels a tile of a grid of several tiles may have: each tile costs a decoder set-up,
/// so a picture cut into thousands of 1x1 tiles is a CPU bomb.
pub const MIN_TILE_PIXELS: u64 = 32 * 32;
/// How far a coded stream's declared size may exceed the item's `ispe` on each axis.
pub const CODED_SLACK: u32 = 64;

/// The primary image as the header describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub format: ImageFormat,
    /// The size the picture is shown at: the coded (`ispe`) size cropped by `clap` and turned
    /// by `irot`, as libheif decodes it.
    pub width: u32,
    pub height: u32,
    /// The coded size (before `clap` and `irot`).
    pub coded: (u32, u32),
    /// Quarter turns anticlockwise (`irot`) and whether a mirror (`imir`) follows.
    pub rotation: u8,
    pub mirror: bool,
    /// 1 for a single coded image, else the grid's tile count.
    pub tiles: u32,
    /// An alpha plane is attached.
    pub alpha: bool,
    pub icc: Option<Vec<u8>>,
}

/// The format the `ftyp` brands name: AVIF for `avif`/`avis`, HEIC for the HEVC brands; for a
/// file that only names the generic `mif1`/`msf1`, the primary item's codec decides. `None`
/// when the input is no HEIF file at all.
pub fn format(input: &[u8]) -> Option<ImageFormat> {
    let brands = boxes::brands(input)?;
    let has = |list: &[&[u8; 4]]| brands.iter().any(|b| list.contains(&b));
    if has(&[b"avif", b"avis"]) {
        Some(ImageFormat::Avif)
    } else if has(&[b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"]) {
        Some(ImageFormat::Heic)
    } else if has(&[b"mif1", b"msf1"]) {
        let (_, meta) = boxes::read(input).ok()?;
        coded_format(&meta, meta.primary).ok()
    } else {
        None
    }
}

/// The codec of an image item (a grid's: its first tile's).
fn coded_format(meta: &Meta<'_>, item: u32) -> Result<ImageFormat, JobError> {
    match item_type(meta, item)? {
        b"hvc1" => Ok(ImageFormat::Heic),
        b"av01" => Ok(ImageFormat::Avif),
        b"grid" => {
            let first = *meta.references_from(item, b"dimg").first().ok_or_else(|| bad("a grid without tiles"))?;
            match item_type(meta, first)? {
                b"hvc1" => Ok(ImageFormat::Heic),
                b"av01" => Ok(ImageFormat::Avif),
                other => Err(unsupported(first, other)),
            }
        }
        other => Err(unsupported(item, other)),
    }
}

fn item_type<'m>(meta: &'m Meta<'_>, item: u32) -> Result<&'m [u8; 4], JobError> {
    meta.items.get(&item).map(|(t, _, _)| t).ok_or_else(|| bad(format!("item {item} is not described in iinf")))
}

fn unsupported(item: u32, kind: &[u8; 4]) -> JobError {
    bad(format!("item {item} is of type '{}', which ferryd does not decode", String::from_utf8_lossy(kind)))
}

/// Reads and checks the header of a file sniffed as `format` (module docs).
pub fn read(input: &[u8], format: ImageFormat) -> Result<Header, JobError> {
    let (_, meta) = boxes::read(input)?;
    let primary = meta.primary;
    let found = coded_format(&meta, primary)?;
    if found != format {
        return Err(bad(format!("the brands say {} but the primary image is {}", format.word(), found.word())));
    }
    let coded = meta.size_of(primary).ok_or_else(|| bad("the primary image has no size (ispe)"))?;
    if coded.0 == 0 || coded.1 == 0 {
        return Err(bad(format!("the primary image declares {}x{}", coded.0, coded.1)));
    }
    let tiles = check_image(input, &meta, primary, coded)?;
    // Every other image item (alpha, depth, thumbnails, tiles of those) inside the primary.
    let mut alpha = false;
    let tiles_of_grids: Vec<u32> = meta.references.iter().filter(|(k, _, _)| k == b"dimg").flat_map(|(_, _, to)| to.iter().copied()).collect();
    for (&item, (kind, _, _)) in &meta.items {
        if item == primary || !matches!(kind, b"hvc1" | b"av01" | b"grid") || tiles_of_grids.contains(&item) {
            continue; // tiles: bounded by their grid's checks
        }
        let Some(size) = meta.size_of(item) else { continue };
        if size.0 > coded.0.saturating_add(CODED_SLACK) || size.1 > coded.1.saturating_add(CODED_SLACK) {
            return Err(bad(format!("item {item} is {}x{}, larger than the {}x{} picture", size.0, size.1, coded.0, coded.1)));
        }
        if meta.references_from(item, b"auxl").contains(&primary) {
            // decoded with the picture: checked like it
            check_image(input, &meta, item, size)?;
            alpha |= meta.properties_of(item).any(|p| matches!(p, Property::Auxiliary(urn) if is_alpha(urn)));
        }
    }
    let (mut width, mut height) = coded;
    let (mut rotation, mut mirror) = (0, false);
    for property in meta.properties_of(primary) {
        match property {
            Property::CleanAperture([(wn, wd), (hn, hd), ..]) => {
                // libheif rounds the crop's fractions to whole pixels, halves upwards
                let round = |n: i64, d: i64| u32::try_from((2 * n + d) / (2 * d)).unwrap_or(0);
                width = round(*wn, *wd).clamp(1, width);
                height = round(*hn, *hd).clamp(1, height);
            }
            Property::Rotation(turns) => {
                rotation = (rotation + turns) % 4;
                if turns % 2 == 1 {
                    (width, height) = (height, width);
                }
            }
            Property::Mirror => mirror = true,
            _ => {}
        }
    }
    let icc = meta.properties_of(primary).find_map(|p| match p {
        Property::Icc(profile) => Some(profile.to_vec()),
        _ => None,
    });
    Ok(Header { format, width, height, coded, rotation, mirror, tiles, alpha, icc })
}

/// Whether an `auxC` URN marks an alpha plane (HEVC's or MPEG-B's name for it).
fn is_alpha(urn: &[u8]) -> bool {
    urn == b"urn:mpeg:hevc:2015:auxid:1" || urn == b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"
}

/// Checks one image item of `size` (its `ispe`): a coded image against its stream's own size,
/// a grid against its layout and tiles. Returns the number of coded images it is made of.
fn check_image(input: &[u8], meta: &Meta<'_>, item: u32, size: (u32, u32)) -> Result<u32, JobError> {
    match item_type(meta, item)? {
        b"grid" => check_grid(input, meta, item, size),
        _ => {
            check_coded(input, meta, item, size)?;
            Ok(1)
        }
    }
}

/// The stream's own size must not exceed `ispe` by more than a codec's padding.
fn check_coded(input: &[u8], meta: &Meta<'_>, item: u32, (width, height): (u32, u32)) -> Result<(), JobError> {
    let declared = meta.properties_of(item).find_map(|p| match p {
        Property::HevcConfig(hvcc) => Some(codec_size::hevc(hvcc)),
        Property::Av1Config(av1c) => Some(av1c.get(4..).and_then(codec_size::av1).or_else(|| {
            // no sequence header in av1C: the item's data starts with one
            meta.item_data(input, item, usize::MAX).ok().as_deref().and_then(|data| codec_size::av1(&data[..data.len().min(1024)]))
        })),
        _ => None,
    });
    let Some(declared) = declared else { return Err(bad(format!("item {item} has no codec configuration"))) };
    let (w, h) = declared.ok_or_else(|| bad(format!("item {item}'s codec configuration declares no readable size")))?;
    if w > width.saturating_add(CODED_SLACK) || h > height.saturating_add(CODED_SLACK) {
        return Err(bad(format!("item {item} declares {width}x{height} but its stream is {w}x{h}")));
    }
    Ok(())
}

/// A grid: `version, flags, rows - 1, columns - 1, output width, output height` (16 or 32 bits
/// as flag 1 says); its `dimg` references are the tiles, row by row.
fn check_grid(input: &[u8], meta: &Meta<'_>, item: u32, (width, height): (u32, u32)) -> Result<u32, JobError> {
    let data = meta.item_data(input, item, 64)?;
    let mut r = boxes::Reader::new(&data);
    r.u8()?;
    let wide = r.u8()? & 1 == 1;
    let rows = u64::from(r.u8()?) + 1;
    let columns = u64::from(r.u8()?) + 1;
    let (out_w, out_h) = if wide { (r.u32()?, r.u32()?) } else { (r.u16()?.into(), r.u16()?.into()) };
    if (out_w, out_h) != (width, height) {
        return Err(bad(format!("grid {item} declares {width}x{height} (ispe) and {out_w}x{out_h} (grid)")));
    }
    let tiles = meta.references_from(item, b"dimg");
    let count = rows * columns;
    let too_large = |limit: String| JobError::ImageTooLarge { width: width.into(), height: height.into(), limit };
    if count > MAX_GRID_TILES {
        return Err(too_large(format!("{MAX_GRID_TILES} grid tiles ({rows}x{columns} declared)")));
    }
    if tiles.len() as u64 != count {
        return Err(bad(format!("grid {item} is {rows}x{columns} but refers to {} tiles", tiles.len())));
    }
    let tile_size = meta.size_of(tiles[0]).ok_or_else(|| bad(format!("tile {} has no size", tiles[0])))?;
    let (tw, th) = (u64::from(tile_size.0), u64::from(tile_size.1));
    if count > 1 && tw * th < MIN_TILE_PIXELS {
        return Err(too_large(format!("tiles of {MIN_TILE_PIXELS} pixels ({tw}x{th} declared, {count} of them)")));
    }
    let (w, h) = (u64::from(width), u64::from(height));
    // The tiles cover the output, and no row or column of them lies wholly outside it.
    let slack = u64::from(CODED_SLACK);
    if columns * tw < w || rows * th < h || (columns - 1) * tw >= w || (rows - 1) * th >= h || tw > w + slack || th > h + slack {
        return Err(bad(format!("grid {item}: {rows}x{columns} tiles of {tw}x{th} do not tile {width}x{height}")));
    }
    let kind = item_type(meta, tiles[0])?;
    for &tile in &tiles {
        if meta.size_of(tile) != Some(tile_size) || item_type(meta, tile)? != kind || !matches!(kind, b"hvc1" | b"av01") {
            return Err(bad(format!("grid {item}: tile {tile} differs from the first tile in size or codec")));
        }
        check_coded(input, meta, tile, tile_size)?;
    }
    Ok(count as u32)
}

/// The EXIF TIFF block and XMP packet attached to the primary image (`cdsc` references to it):
/// an `Exif` item is a 4-byte offset to the TIFF header, then the block; XMP is a `mime` item
/// of type `application/rdf+xml`. Unreadable metadata is left out, never an error.
pub fn metadata(input: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let Ok((_, meta)) = boxes::read(input) else { return (None, None) };
    let (mut exif_block, mut xmp) = (None, None);
    for item in meta.references_to(meta.primary, b"cdsc") {
        let Some((kind, _, content_type)) = meta.items.get(&item) else { continue };
        let Ok(data) = meta.item_data(input, item, input.len()) else { continue };
        match kind {
            b"Exif" if exif_block.is_none() => {
                let offset = data.get(..4).map(|b| u32::from_be_bytes(b.try_into().expect("four bytes")) as usize);
                if let Some(tiff) = offset.and_then(|o| data.get(4 + o..)) {
                    exif_block = Some(exif::strip_prefix(tiff).to_vec());
                }
            }
            b"mime" if xmp.is_none() && *content_type == b"application/rdf+xml" => xmp = Some(data),
            _ => {}
        }
    }
    (exif_block, xmp)
}
