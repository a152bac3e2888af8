//! The ISO base media file boxes a HEIF (HEIC, AVIF) file describes its images with, read by
//! us, without libheif: `ftyp`, then `meta` with the primary item (`pitm`), where each item's
//! bytes are (`iloc`, `idat`), what each item is (`iinf`), how items refer to each other
//! (`iref`: grid tiles, alpha planes, thumbnails, EXIF) and their properties (`iprp`: sizes,
//! rotation, colour, codec configuration). Only what the header checks and the metadata need is
//! kept. Every read is bounds-checked; anything malformed is a `BadImage`.

use std::collections::HashMap;

use super::super::super::super::JobError;

/// Most items, properties, extents or references a list may hold. Real files have tens; the
/// cap stops a small file from making us allocate for millions of entries, and leaves room for
/// the largest grid a file can declare (256 x 256 tiles), which `header` then refuses by count.
const MAX_ENTRIES: usize = 1 << 17;

pub(super) fn bad(what: impl std::fmt::Display) -> JobError {
    JobError::BadImage(format!("heif: {what}"))
}

/// A byte cursor over one box's payload.
pub(super) struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Reader { data, at: 0 }
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], JobError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| bad("a box ends early"))?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, JobError> {
        Ok(self.bytes(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, JobError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(super) fn u32(&mut self) -> Result<u32, JobError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An unsigned big-endian number of `size` bytes (0, 4 or 8, as `iloc` declares them).
    fn sized(&mut self, size: u8) -> Result<u64, JobError> {
        match size {
            0 => Ok(0),
            4 => Ok(self.u32()?.into()),
            8 => Ok(u64::from(self.u32()?) << 32 | u64::from(self.u32()?)),
            other => Err(bad(format!("iloc field of {other} bytes"))),
        }
    }

    fn fourcc(&mut self) -> Result<[u8; 4], JobError> {
        Ok(self.bytes(4)?.try_into().expect("four bytes"))
    }

    /// A NUL-terminated string (the NUL consumed); a missing NUL takes the rest.
    fn string(&mut self) -> &'a [u8] {
        let rest = &self.data[self.at..];
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        self.at += (len + 1).min(rest.len());
        &rest[..len]
    }

    /// A full box's version and flags.
    fn full(&mut self) -> Result<(u8, u32), JobError> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00FF_FFFF))
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        &self.data[self.at..]
    }
}

/// The boxes directly inside `data`, as (type, payload).
pub(super) fn children(data: &[u8]) -> Result<Vec<([u8; 4], &[u8])>, JobError> {
    let mut out = Vec::new();
    let mut r = Reader::new(data);
    while !r.rest().is_empty() {
        let size = r.u32()?;
        let kind = r.fourcc()?;
        let header = if size == 1 { 16 } else { 8 };
        let total = match size {
            0 => (r.rest().len() + 8) as u64, // to the end of the enclosing box
            1 => u64::from(r.u32()?) << 32 | u64::from(r.u32()?),
            n => u64::from(n),
        };
        let payload = total.checked_sub(header).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| bad("a box smaller than its header"))?;
        out.push((kind, r.bytes(payload)?));
        if out.len() > MAX_ENTRIES {
            return Err(bad("too many boxes"));
        }
    }
    Ok(out)
}

/// Where an item's bytes are: extents of the file, or of the `idat` box.
#[derive(Clone, Debug, Default)]
pub(super) struct Location {
    in_idat: bool,
    extents: Vec<(u64, u64)>,
}

/// One property of `ipco`, as far as we read it.
#[derive(Clone, Debug)]
pub(super) enum Property<'a> {
    /// `ispe`: the coded image's size.
    Size(u32, u32),
    /// `irot`: turns anticlockwise, in quarter turns.
    Rotation(u8),
    /// `imir`: a mirror (its axis does not change sizes).
    Mirror,
    /// `clap`: a crop, (width, height, horizontal and vertical offsets) as fractions.
    CleanAperture([(i64, i64); 4]),
    /// `colr` with an ICC profile (`prof` or `rICC`).
    Icc(&'a [u8]),
    /// `hvcC`: the HEVC decoder configuration, with its parameter sets.
    HevcConfig(&'a [u8]),
    /// `av1C`: the AV1 configuration; its OBUs (after 4 bytes) may hold the sequence header.
    Av1Config(&'a [u8]),
    /// `auxC`: an auxiliary image's kind (its URN).
    Auxiliary(&'a [u8]),
    /// Anything else.
    Other,
}

/// What `meta` says, by item ID.
#[derive(Debug, Default)]
pub(super) struct Meta<'a> {
    pub primary: u32,
    /// Item type (`hvc1`, `av01`, `grid`, `Exif`, `mime`...), hidden flag, MIME content type.
    pub items: HashMap<u32, ([u8; 4], bool, &'a [u8])>,
    pub locations: HashMap<u32, Location>,
    /// (reference type, from, to) for every reference.
    pub references: Vec<([u8; 4], u32, Vec<u32>)>,
    pub properties: Vec<Property<'a>>,
    /// Property indices (0-based into `properties`) each item is associated with, in order.
    pub associations: HashMap<u32, Vec<usize>>,
    idat: &'a [u8],
}

/// The `ftyp` brands (major first) and the `meta` box, read from a whole file.
pub(super) fn read(input: &[u8]) -> Result<(Vec<[u8; 4]>, Meta<'_>), JobError> {
    let top = children(input)?;
    let Some((b"ftyp", ftyp)) = top.first().map(|(k, p)| (k, *p)) else { return Err(bad("the file does not start with ftyp")) };
    let mut r = Reader::new(ftyp);
    let mut brands = vec![r.fourcc()?];
    r.u32()?; // minor version
    while r.rest().len() >= 4 {
        brands.push(r.fourcc()?);
    }
    let meta = top.iter().find(|(k, _)| k == b"meta").ok_or_else(|| bad("no meta box"))?.1;
    Ok((brands, parse_meta(meta)?))
}

/// The brands of `ftyp`, or `None` if the file does not start with one.
pub(super) fn brands(input: &[u8]) -> Option<Vec<[u8; 4]>> {
    if input.get(4..8)? != b"ftyp" {
        return None;
    }
    let size = usize::try_from(u32::from_be_bytes(input[..4].try_into().ok()?)).ok()?;
    let ftyp = input.get(8..size.min(input.len()).max(8))?;
    let mut out = vec![ftyp.get(..4)?.try_into().ok()?];
    out.extend(ftyp.get(8..)?.chunks_exact(4).map(|b| <[u8; 4]>::try_from(b).expect("four bytes")));
    Some(out)
}

fn parse_meta(meta: &[u8]) -> Result<Meta<'_>, JobError> {
    let mut r = Reader::new(meta);
    r.full()?;
    let mut out = Meta::default();
    let mut have_primary = false;
    for (kind, payload) in children(r.rest())? {
        match &kind {
            b"pitm" => {
                let mut r = Reader::new(payload);
                let (version, _) = r.full()?;
                out.primary = if version == 0 { r.u16()?.into() } else { r.u32()? };
                have_primary = true;
            }
            b"iloc" => out.locations = parse_iloc(payload)?,
            b"iinf" => out.items = parse_iinf(payload)?,
            b"iref" => out.references = parse_iref(payload)?,
            b"iprp" => (out.properties, out.associations) = parse_iprp(payload)?,
            b"idat" => out.idat = payload,
            _ => {}
        }
    }
    if !have_primary {
        return Err(bad("no primary item (pitm)"));
    }
    Ok(out)
}

fn parse_iloc(payload: &[u8]) -> Result<HashMap<u32, Location>, JobError> {
    let mut r = Reader::new(payload);
    let (version, _) = r.full()?;
    let sizes = r.u16()?;
    let (offset_size, length_size, base_size) = ((sizes >> 12) as u8, (sizes >> 8 & 15) as u8, (sizes >> 4 & 15) as u8);
    let index_size = if version >= 1 { (sizes & 15) as u8 } else { 0 };
    let count = if version < 2 { u32::from(r.u16()?) } else { r.u32()? };
    let mut out = HashMap::new();
    for _ in 0..count {
        let id = if version < 2 { u32::from(r.u16()?) } else { r.u32()? };
        let method = if version >= 1 { r.u16()? & 15 } else { 0 };
        r.u16()?; // data reference index: 0, this file
        let base = r.sized(base_size)?;
        let extents = usize::from(r.u16()?);
        let mut location = Location { in_idat: method == 1, extents: Vec::new() };
        if method > 1 {
            return Err(bad(format!("item {id} stored by construction method {method}")));
        }
        for _ in 0..extents {
            r.sized(index_size)?;
            let offset = base.checked_add(r.sized(offset_size)?).ok_or_else(|| bad("iloc offset overflows"))?;
            location.extents.push((offset, r.sized(length_size)?));
        }
        out.insert(id, location);
        if out.len() > MAX_ENTRIES {
            return Err(bad("too many items in iloc"));
        }
    }
    Ok(out)
}

#[allow(clippy::type_complexity)]
fn parse_iinf(payload: &[u8]) -> Result<HashMap<u32, ([u8; 4], bool, &[u8])>, JobError> {
    let mut r = Reader::new(payload);
    let (version, _) = r.full()?;
    if version == 0 { r.u16()? as u32 } else { r.u32()? };
    let mut out = HashMap::new();
    for (kind, infe) in children(r.rest())? {
        if &kind != b"infe" {
            continue;
        }
        let mut r = Reader::new(infe);
        let (version, flags) = r.full()?;
        if version < 2 {
            continue; // no item type: not an image or metadata item of HEIF
        }
        let id = if version == 2 { u32::from(r.u16()?) } else { r.u32()? };
        r.u16()?; // protection index
        let item_type = r.fourcc()?;
        r.string(); // name
        let content_type = if &item_type == b"mime" { r.string() } else { &[][..] };
        out.insert(id, (item_type, flags & 1 == 1, content_type));
    }
    Ok(out)
}

fn parse_iref(payload: &[u8]) -> Result<Vec<([u8; 4], u32, Vec<u32>)>, JobError> {
    let mut r = Reader::new(payload);
    let (version, _) = r.full()?;
    let mut out = Vec::new();
    let mut total = 0;
    for (kind, reference) in children(r.rest())? {
        let mut r = Reader::new(reference);
        let id = |r: &mut Reader| if version == 0 { r.u16().map(u32::from) } else { r.u32() };
        let from = id(&mut r)?;
        let count = usize::from(r.u16()?);
        total += count;
        if total > MAX_ENTRIES {
            return Err(bad("too many item references"));
        }
        let to = (0..count).map(|_| id(&mut r)).collect::<Result<Vec<_>, _>>()?;
        out.push((kind, from, to));
    }
    Ok(out)
}

#[allow(clippy::type_complexity)]
fn parse_iprp(payload: &[u8]) -> Result<(Vec<Property<'_>>, HashMap<u32, Vec<usize>>), JobError> {
    let boxes = children(payload)?;
    let ipco = boxes.iter().find(|(k, _)| k == b"ipco").ok_or_else(|| bad("no ipco"))?.1;
    let properties = children(ipco)?.into_iter().map(|(kind, p)| property(kind, p)).collect::<Result<Vec<_>, _>>()?;
    let mut associations: HashMap<u32, Vec<usize>> = HashMap::new();
    for (_, ipma) in boxes.iter().filter(|(k, _)| k == b"ipma") {
        let mut r = Reader::new(ipma);
        let (version, flags) = r.full()?;
        let count = r.u32()?;
        let mut total = 0;
        for _ in 0..count {
            let item = if version < 1 { u32::from(r.u16()?) } else { r.u32()? };
            let n = usize::from(r.u8()?);
            total += n;
            if total > MAX_ENTRIES {
                return Err(bad("too many property associations"));
            }
            let list = associations.entry(item).or_default();
            for _ in 0..n {
                let index = if flags & 1 == 1 { usize::from(r.u16()? & 0x7FFF) } else { usize::from(r.u8()? & 0x7F) };
                if index == 0 {
                    continue; // no property
                }
                if index > properties.len() {
                    return Err(bad(format!("item {item} refers to property {index} of {}", properties.len())));
                }
                list.push(index - 1);
            }
        }
    }
    Ok((properties, associations))
}

fn property<'a>(kind: [u8; 4], payload: &'a [u8]) -> Result<Property<'a>, JobError> {
    let mut r = Reader::new(payload);
    Ok(match &kind {
        b"ispe" => {
            r.full()?;
            Property::Size(r.u32()?, r.u32()?)
        }
        b"irot" => Property::Rotation(r.u8()? & 3),
        b"imir" => Property::Mirror,
        b"clap" => {
            let mut f = [(0i64, 1i64); 4];
            for (i, slot) in f.iter_mut().enumerate() {
                let (n, d) = (r.u32()?, r.u32()?);
                // width and height are unsigned; the offsets are signed
                let n = if i < 2 { i64::from(n) } else { i64::from(n as i32) };
                if d == 0 {
                    return Err(bad("clap with a zero denominator"));
                }
                *slot = (n, i64::from(d));
            }
            Property::CleanAperture(f)
        }
        b"colr" => match r.bytes(4)? {
            b"prof" | b"rICC" => Property::Icc(r.rest()),
            _ => Property::Other,
        },
        b"hvcC" => Property::HevcConfig(payload),
        b"av1C" => Property::Av1Config(payload),
        b"auxC" => {
            r.full()?;
            Property::Auxiliary(r.string())
        }
        _ => Property::Other,
    })
}

impl<'a> Meta<'a> {
    /// The properties associated with `item`, in association order.
    pub(super) fn properties_of(&self, item: u32) -> impl Iterator<Item = &Property<'a>> {
        self.associations.get(&item).into_iter().flatten().map(|&i| &self.properties[i])
    }

    /// The `ispe` size of `item`, if it has one.
    pub(super) fn size_of(&self, item: u32) -> Option<(u32, u32)> {
        self.properties_of(item).find_map(|p| match p {
            Property::Size(w, h) => Some((*w, *h)),
            _ => None,
        })
    }

    /// Items that `from` refers to by `kind` (a grid's tiles: `dimg`).
    pub(super) fn references_from(&self, from: u32, kind: &[u8; 4]) -> Vec<u32> {
        self.references.iter().filter(|(k, f, _)| k == kind && *f == from).flat_map(|(_, _, to)| to.iter().copied()).collect()
    }

    /// Items that refer to `to` by `kind` (its alpha plane: `auxl`; its EXIF: `cdsc`).
    pub(super) fn references_to(&self, to: u32, kind: &[u8; 4]) -> Vec<u32> {
        self.references.iter().filter(|(k, _, t)| k == kind && t.contains(&to)).map(|(_, f, _)| *f).collect()
    }

    /// The bytes of `item`: its extents joined, from the file or `idat`. `limit` caps their
    /// total (an item's bytes can only be in the file, so a larger claim is corrupt).
    pub(super) fn item_data(&self, input: &'a [u8], item: u32, limit: usize) -> Result<Vec<u8>, JobError> {
        let location = self.locations.get(&item).ok_or_else(|| bad(format!("item {item} has no location")))?;
        let source = if location.in_idat { self.idat } else { input };
        let mut out = Vec::new();
        for &(offset, length) in &location.extents {
            let start = usize::try_from(offset).map_err(|_| bad("extent offset"))?;
            // length 0 means "to the end of the source"
            let end = if length == 0 { source.len() } else { start.saturating_add(usize::try_from(length).unwrap_or(usize::MAX)) };
            let bytes = source.get(start..end).ok_or_else(|| bad(format!("item {item}'s data lies outside the file")))?;
            if out.len() + bytes.len() > limit {
                return Err(bad(format!("item {item}'s data is larger than {limit} bytes")));
            }
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }
}
