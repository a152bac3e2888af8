//! A borrowing MessagePack reader for request bodies: one structural pass, then typed reads of
//! single fields.
//!
//! Why not `rmp_serde::from_slice` into a derived struct: serde's derive accepts an *array* as a
//! struct, an integer key as a field index and a `str` where bytes are expected, and stops at the
//! first bad field without telling whether the rest of the body was even MessagePack. SPEC.md
//! section 3 and the reply-id rules of section 7 need all of that decided exactly, so the body is
//! first walked once ([`scan_map`]): it must be exactly one map with `str` keys and nothing after
//! it. Values are only skipped in that pass (iteratively: no recursion, no allocation, whatever
//! their nesting); the fields a request needs are then read from their byte ranges, and a `bin`
//! payload comes back as a range of the frame so the caller can slice it without a copy.

use std::ops::Range;

use rmp::Marker;

/// Most top-level keys a request map may carry. Requests use at most 14; the cap keeps the
/// repeated-key check cheap on a hostile frame made of millions of tiny unknown keys.
pub const MAX_KEYS: usize = 1024;

/// Why a body is not one MessagePack map with string keys. Every variant is `malformed` with
/// reply id 0: nothing in such a body can be trusted, the id included.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The body ends inside a value.
    #[error("body ends inside a MessagePack value")]
    Truncated,
    /// A byte that MessagePack never uses (0xc1).
    #[error("byte 0xc1 at offset {0} is not MessagePack")]
    NeverUsed(usize),
    /// The outermost value is not a map.
    #[error("body is not a MessagePack map with string keys")]
    NotAMap,
    /// A key of the request map is not a `str`.
    #[error("body is not a MessagePack map with string keys (key at offset {0})")]
    NonStringKey(usize),
    /// A key is not UTF-8.
    #[error("key at offset {0} is not valid UTF-8")]
    KeyNotUtf8(usize),
    /// Bytes follow the map.
    #[error("{0} bytes follow the MessagePack map")]
    TrailingBytes(usize),
    /// More keys than [`MAX_KEYS`].
    #[error("request map has {0} keys, more than the {MAX_KEYS} a request may carry")]
    TooManyKeys(u64),
}

/// The top-level map of a request body: its keys and the byte range of each value.
#[derive(Debug)]
pub struct MapView<'a> {
    body: &'a [u8],
    entries: Vec<(&'a str, Range<usize>)>,
}

impl<'a> MapView<'a> {
    /// The encoded value stored under `key`, if the key is present.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, range)| Value { body: self.body, range: range.clone() })
    }

    /// Every value stored under `key`, in order (more than one when the key is repeated).
    pub fn values<'m>(&'m self, key: &'m str) -> impl Iterator<Item = Value<'a>> + 'm {
        self.entries.iter().filter(move |(k, _)| *k == key).map(|(_, range)| Value { body: self.body, range: range.clone() })
    }

    /// A key that appears more than once, if any.
    pub fn repeated_key(&self) -> Option<&'a str> {
        let mut keys: Vec<&str> = self.entries.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        keys.windows(2).find(|pair| pair[0] == pair[1]).map(|pair| pair[0])
    }
}

/// One encoded value inside a body, known to be complete (the scan checked it).
#[derive(Clone, Debug)]
pub struct Value<'a> {
    body: &'a [u8],
    range: Range<usize>,
}

/// The MessagePack type of a value, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Nil,
    Bool,
    NegativeInt,
    UnsignedInt,
    Float,
    Str,
    Bin,
    Array,
    Map,
    Ext,
}

impl Kind {
    /// A phrase for messages such as "`width` must be a uint32, not a str".
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Nil => "nil",
            Kind::Bool => "a bool",
            Kind::NegativeInt => "a negative integer",
            Kind::UnsignedInt => "an unsigned integer",
            Kind::Float => "a float",
            Kind::Str => "a str",
            Kind::Bin => "a bin",
            Kind::Array => "an array",
            Kind::Map => "a map",
            Kind::Ext => "an ext",
        }
    }
}

/// A typed read that found something else; says what it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeMismatch {
    /// The value has another MessagePack type.
    Kind(Kind),
    /// An unsigned integer too large for the field's type.
    TooLarge(u64),
}

impl<'a> Value<'a> {
    fn cursor(&self) -> Cursor<'a> {
        Cursor { buf: &self.body[..self.range.end], pos: self.range.start }
    }

    /// `nil`, which every optional field reads as absent.
    pub fn is_nil(&self) -> bool {
        self.body[self.range.start] == 0xc0
    }

    /// The value's MessagePack type.
    pub fn kind(&self) -> Kind {
        kind_of(self.body[self.range.start])
    }

    /// An unsigned integer in any encoding, signed forms included when non-negative.
    pub fn uint(&self) -> Result<u64, TypeMismatch> {
        let mut cur = self.cursor();
        let marker = cur.marker().map_err(|_| TypeMismatch::Kind(self.kind()))?;
        let negative = TypeMismatch::Kind(Kind::NegativeInt);
        let value = match marker {
            Marker::FixPos(v) => u64::from(v),
            Marker::U8 => cur.be::<1>(),
            Marker::U16 => cur.be::<2>(),
            Marker::U32 => cur.be::<4>(),
            Marker::U64 => cur.be::<8>(),
            Marker::I8 => u64::try_from(cur.be::<1>() as u8 as i8).map_err(|_| negative)?,
            Marker::I16 => u64::try_from(cur.be::<2>() as u16 as i16).map_err(|_| negative)?,
            Marker::I32 => u64::try_from(cur.be::<4>() as u32 as i32).map_err(|_| negative)?,
            Marker::I64 => u64::try_from(cur.be::<8>() as i64).map_err(|_| negative)?,
            _ => return Err(TypeMismatch::Kind(self.kind())),
        };
        Ok(value)
    }

    /// An unsigned integer that fits `u32`.
    pub fn uint32(&self) -> Result<u32, TypeMismatch> {
        let value = self.uint()?;
        u32::try_from(value).map_err(|_| TypeMismatch::TooLarge(value))
    }

    /// A `bool`.
    pub fn bool(&self) -> Result<bool, TypeMismatch> {
        match self.body[self.range.start] {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            _ => Err(TypeMismatch::Kind(self.kind())),
        }
    }

    /// A UTF-8 `str` (invalid UTF-8 is reported as a mismatch of kind `Str`).
    pub fn str(&self) -> Result<&'a str, TypeMismatch> {
        let mut cur = self.cursor();
        match cur.marker() {
            Ok(Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32) => {}
            _ => return Err(TypeMismatch::Kind(self.kind())),
        }
        cur.pos = self.range.start;
        cur.str_key().map_err(|_| TypeMismatch::Kind(Kind::Str))
    }

    /// A `bin`; returns the payload's byte range within the whole body, for a zero-copy slice.
    pub fn bin(&self) -> Result<Range<usize>, TypeMismatch> {
        let mut cur = self.cursor();
        let len = match cur.marker() {
            Ok(Marker::Bin8) => cur.be::<1>(),
            Ok(Marker::Bin16) => cur.be::<2>(),
            Ok(Marker::Bin32) => cur.be::<4>(),
            _ => return Err(TypeMismatch::Kind(self.kind())),
        };
        let start = cur.pos;
        Ok(start..start + len as usize)
    }

    /// The elements of an array, read lazily: [`Items::len`] comes from the array header alone,
    /// so a caller can refuse an array over its cap before a single element is looked at, and
    /// iterating allocates nothing.
    pub fn array(&self) -> Result<Items<'a>, TypeMismatch> {
        let mut cur = self.cursor();
        let len = match cur.marker() {
            Ok(Marker::FixArray(n)) => u64::from(n),
            Ok(Marker::Array16) => cur.be::<2>(),
            Ok(Marker::Array32) => cur.be::<4>(),
            _ => return Err(TypeMismatch::Kind(self.kind())),
        };
        Ok(Items { cur, left: len })
    }

    /// A nested map with `str` keys (a `resize` output), read like the request map: its keys
    /// and the byte range of each value, for [`MapView::get`] and [`MapView::repeated_key`].
    pub fn map(&self) -> Result<MapView<'a>, NestedMapError> {
        let mut cur = self.cursor();
        let len = match cur.marker() {
            Ok(Marker::FixMap(n)) => u64::from(n),
            Ok(Marker::Map16) => cur.be::<2>(),
            Ok(Marker::Map32) => cur.be::<4>(),
            _ => return Err(NestedMapError::NotAMap(self.kind())),
        };
        if len as usize > MAX_KEYS {
            return Err(NestedMapError::Shape(ShapeError::TooManyKeys(len)));
        }
        let mut entries = Vec::with_capacity(len as usize);
        for _ in 0..len {
            let key = cur.str_key().map_err(NestedMapError::Shape)?;
            let start = cur.pos;
            cur.skip_value().map_err(NestedMapError::Shape)?;
            entries.push((key, start..cur.pos));
        }
        Ok(MapView { body: self.body, entries })
    }
}

/// Why a value is not a nested map with `str` keys (both `malformed` on the wire).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NestedMapError {
    /// The value has another type.
    NotAMap(Kind),
    /// A key is not a UTF-8 `str`, or there are too many keys.
    Shape(ShapeError),
}

/// The elements of an array value, one at a time (see [`Value::array`]).
pub struct Items<'a> {
    cur: Cursor<'a>,
    left: u64,
}

impl Items<'_> {
    /// Number of elements, from the array header.
    pub fn len(&self) -> u64 {
        self.left
    }

    /// Whether the array has no elements.
    #[allow(dead_code)] // beside len, as clippy's len_without_is_empty asks; callers use len
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.cur.pos;
        // The scan proved every element is there.
        self.cur.skip_value().expect("scan_map validated this value");
        Some(Value { body: self.cur.buf, range: start..self.cur.pos })
    }
}

/// Checks that `body` is exactly one MessagePack map with `str` keys and returns its entries.
pub fn scan_map(body: &[u8]) -> Result<MapView<'_>, ShapeError> {
    let mut cur = Cursor { buf: body, pos: 0 };
    let len = match cur.marker()? {
        Marker::FixMap(n) => u64::from(n),
        Marker::Map16 => cur.try_be::<2>()?,
        Marker::Map32 => cur.try_be::<4>()?,
        _ => return Err(ShapeError::NotAMap),
    };
    if len as usize > MAX_KEYS {
        return Err(ShapeError::TooManyKeys(len));
    }
    let mut entries = Vec::with_capacity(len as usize);
    for _ in 0..len {
        let key = cur.str_key()?;
        let start = cur.pos;
        cur.skip_value()?;
        entries.push((key, start..cur.pos));
    }
    if cur.pos != body.len() {
        return Err(ShapeError::TrailingBytes(body.len() - cur.pos));
    }
    Ok(MapView { body, entries })
}

/// A read position in a body.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn marker(&mut self) -> Result<Marker, ShapeError> {
        let byte = *self.buf.get(self.pos).ok_or(ShapeError::Truncated)?;
        if byte == 0xc1 {
            return Err(ShapeError::NeverUsed(self.pos));
        }
        self.pos += 1;
        Ok(Marker::from_u8(byte))
    }

    /// Moves past `n` bytes that must be present.
    fn skip(&mut self, n: u64) -> Result<(), ShapeError> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(ShapeError::Truncated);
        }
        self.pos += n as usize;
        Ok(())
    }

    /// A big-endian unsigned number of `N` bytes, checked for presence.
    fn try_be<const N: usize>(&mut self) -> Result<u64, ShapeError> {
        let bytes = self.buf.get(self.pos..self.pos + N).ok_or(ShapeError::Truncated)?;
        self.pos += N;
        Ok(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Like [`Cursor::try_be`] for values the scan already validated.
    fn be<const N: usize>(&mut self) -> u64 {
        self.try_be::<N>().expect("scan_map validated this value")
    }

    /// A map key: must be a UTF-8 `str`.
    fn str_key(&mut self) -> Result<&'a str, ShapeError> {
        let at = self.pos;
        let len = match self.marker()? {
            Marker::FixStr(n) => u64::from(n),
            Marker::Str8 => self.try_be::<1>()?,
            Marker::Str16 => self.try_be::<2>()?,
            Marker::Str32 => self.try_be::<4>()?,
            _ => return Err(ShapeError::NonStringKey(at)),
        };
        let start = self.pos;
        self.skip(len)?;
        std::str::from_utf8(&self.buf[start..self.pos]).map_err(|_| ShapeError::KeyNotUtf8(at))
    }

    /// Moves past one complete value of any type and nesting. Iterative: a count of values still
    /// owed replaces recursion, so a deeply nested unknown field cannot overflow the stack.
    fn skip_value(&mut self) -> Result<(), ShapeError> {
        let mut owed: u64 = 1;
        while owed > 0 {
            owed -= 1;
            match self.marker()? {
                Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {}
                Marker::U8 | Marker::I8 => self.skip(1)?,
                Marker::U16 | Marker::I16 => self.skip(2)?,
                Marker::U32 | Marker::I32 | Marker::F32 => self.skip(4)?,
                Marker::U64 | Marker::I64 | Marker::F64 => self.skip(8)?,
                Marker::FixStr(n) => self.skip(u64::from(n))?,
                Marker::Str8 | Marker::Bin8 => {
                    let n = self.try_be::<1>()?;
                    self.skip(n)?
                }
                Marker::Str16 | Marker::Bin16 => {
                    let n = self.try_be::<2>()?;
                    self.skip(n)?
                }
                Marker::Str32 | Marker::Bin32 => {
                    let n = self.try_be::<4>()?;
                    self.skip(n)?
                }
                Marker::FixArray(n) => owed += u64::from(n),
                Marker::Array16 => owed += self.try_be::<2>()?,
                Marker::Array32 => owed += self.try_be::<4>()?,
                Marker::FixMap(n) => owed += 2 * u64::from(n),
                Marker::Map16 => owed += 2 * self.try_be::<2>()?,
                Marker::Map32 => owed += 2 * self.try_be::<4>()?,
                // ext: one type byte, then the data
                Marker::FixExt1 => self.skip(2)?,
                Marker::FixExt2 => self.skip(3)?,
                Marker::FixExt4 => self.skip(5)?,
                Marker::FixExt8 => self.skip(9)?,
                Marker::FixExt16 => self.skip(17)?,
                Marker::Ext8 => {
                    let n = self.try_be::<1>()?;
                    self.skip(n + 1)?
                }
                Marker::Ext16 => {
                    let n = self.try_be::<2>()?;
                    self.skip(n + 1)?
                }
                Marker::Ext32 => {
                    let n = self.try_be::<4>()?;
                    self.skip(n + 1)?
                }
                Marker::Reserved => return Err(ShapeError::NeverUsed(self.pos - 1)),
            }
            // Every value takes at least one byte: fail fast on a header promising more.
            if owed > (self.buf.len() - self.pos) as u64 {
                return Err(ShapeError::Truncated);
            }
        }
        Ok(())
    }
}

fn kind_of(byte: u8) -> Kind {
    match Marker::from_u8(byte) {
        Marker::Null => Kind::Nil,
        Marker::True | Marker::False => Kind::Bool,
        Marker::FixNeg(_) | Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => Kind::NegativeInt,
        Marker::FixPos(_) | Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => Kind::UnsignedInt,
        Marker::F32 | Marker::F64 => Kind::Float,
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => Kind::Str,
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => Kind::Bin,
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => Kind::Array,
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => Kind::Map,
        _ => Kind::Ext,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn reads_a_map_with_nested_unknown_values() {
        // {"a": [1, {"b": nil}], "id": 7}
        let body = hex("82 a1 61 92 01 81 a1 62 c0 a2 69 64 07");
        let map = scan_map(&body).unwrap();
        assert_eq!(map.get("id").unwrap().uint(), Ok(7));
        assert_eq!(map.get("a").unwrap().array().unwrap().len(), 2);
        assert!(map.get("zz").is_none());
        assert_eq!(map.repeated_key(), None);
    }

    #[test]
    fn shape_errors() {
        assert_eq!(scan_map(&hex("92 01 02")).unwrap_err(), ShapeError::NotAMap);
        assert_eq!(scan_map(&hex("c1")).unwrap_err(), ShapeError::NeverUsed(0));
        assert_eq!(scan_map(&hex("82 a2 69 64 07")).unwrap_err(), ShapeError::Truncated);
        assert_eq!(scan_map(&hex("81 01 02")).unwrap_err(), ShapeError::NonStringKey(1));
        assert_eq!(scan_map(&hex("81 a1 61 01 c0")).unwrap_err(), ShapeError::TrailingBytes(1));
        assert_eq!(scan_map(&hex("81 a1 ff 01")).unwrap_err(), ShapeError::KeyNotUtf8(1));
        assert_eq!(scan_map(&hex("")).unwrap_err(), ShapeError::Truncated);
        // an array header promising 2^32-1 elements in a 10-byte body fails at once
        assert_eq!(scan_map(&hex("81 a1 61 dd ff ff ff ff 01")).unwrap_err(), ShapeError::Truncated);
        let too_many = {
            let mut b = hex("de 04 01");
            for i in 0..1025u32 {
                b.extend_from_slice(&[
                    0xa4,
                    b'k',
                    (i >> 8) as u8 + b'a',
                    (i & 0xf) as u8 + b'a',
                    ((i >> 4) & 0xf) as u8 + b'a',
                ]);
                b.push(0xc0);
            }
            b
        };
        assert_eq!(scan_map(&too_many).unwrap_err(), ShapeError::TooManyKeys(1025));
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut body = hex("81 a1 61");
        body.extend(std::iter::repeat_n(0x91u8, 1_000_000));
        body.push(0xc0);
        assert!(scan_map(&body).is_ok());
    }

    #[test]
    fn every_integer_encoding_reads_as_uint() {
        for (enc, want) in [
            ("07", 7u64),
            ("cc 07", 7),
            ("cd 00 07", 7),
            ("ce 00 00 00 07", 7),
            ("cf 00 00 00 00 00 00 00 07", 7),
            ("d0 07", 7),
            ("d1 00 07", 7),
            ("d2 00 00 00 07", 7),
            ("d3 00 00 00 00 00 00 00 07", 7),
            ("cf ff ff ff ff ff ff ff ff", u64::MAX),
        ] {
            let body = [hex("81 a1 76"), hex(enc)].concat();
            let map = scan_map(&body).unwrap();
            assert_eq!(map.get("v").unwrap().uint(), Ok(want), "{enc}");
        }
        for enc in ["ff", "d0 ff", "d3 ff ff ff ff ff ff ff ff"] {
            let body = [hex("81 a1 76"), hex(enc)].concat();
            let map = scan_map(&body).unwrap();
            assert_eq!(map.get("v").unwrap().uint(), Err(TypeMismatch::Kind(Kind::NegativeInt)), "{enc}");
        }
        let body = hex("81 a1 76 cf 00 00 00 01 00 00 00 00");
        assert_eq!(scan_map(&body).unwrap().get("v").unwrap().uint32(), Err(TypeMismatch::TooLarge(1 << 32)));
        let body = hex("81 a1 76 cb 3f f8 00 00 00 00 00 00");
        assert_eq!(scan_map(&body).unwrap().get("v").unwrap().uint(), Err(TypeMismatch::Kind(Kind::Float)));
    }

    #[test]
    fn bin_is_not_str_nor_array() {
        let body = hex("83 a1 62 c4 02 aa bb a1 73 a2 61 62 a1 61 92 01 02");
        let map = scan_map(&body).unwrap();
        assert_eq!(map.get("b").unwrap().bin(), Ok(5..7));
        assert_eq!(map.get("s").unwrap().bin(), Err(TypeMismatch::Kind(Kind::Str)));
        assert_eq!(map.get("a").unwrap().bin(), Err(TypeMismatch::Kind(Kind::Array)));
        assert_eq!(map.get("s").unwrap().str(), Ok("ab"));
        assert_eq!(map.get("b").unwrap().str(), Err(TypeMismatch::Kind(Kind::Bin)));
    }

    #[test]
    fn nested_maps_are_read_like_the_request_map() {
        // {"o": [{"w": 1, "x": [nil]}, {"w": 2, "w": 3}, 5, {1: 2}]}
        let body = hex("81 a1 6f 94 82 a1 77 01 a1 78 91 c0 82 a1 77 02 a1 77 03 05 81 01 02");
        let map = scan_map(&body).unwrap();
        let items: Vec<Value<'_>> = map.get("o").unwrap().array().unwrap().collect();
        let first = items[0].map().unwrap();
        assert_eq!((first.get("w").unwrap().uint(), first.repeated_key()), (Ok(1), None));
        assert_eq!(items[1].map().unwrap().repeated_key(), Some("w"));
        assert_eq!(items[2].map().unwrap_err(), NestedMapError::NotAMap(Kind::UnsignedInt));
        assert!(matches!(items[3].map().unwrap_err(), NestedMapError::Shape(ShapeError::NonStringKey(_))));
    }

    #[test]
    fn repeated_keys_are_found() {
        let body = hex("83 a1 61 01 a1 62 02 a1 61 03");
        assert_eq!(scan_map(&body).unwrap().repeated_key(), Some("a"));
    }
}
