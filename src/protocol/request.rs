//! Requests: decoding a frame body into a typed [`Request`], or into the [`Rejection`] that
//! answers it (protocol/SPEC.md sections 3, 4, 5 and the reply-id rules of section 7).
//!
//! The order of checks is what decides the reply's id and code:
//! 1. the body must be one MessagePack map with `str` keys and no trailing bytes (else
//!    `malformed`, id 0);
//! 2. `id` must be present, an unsigned integer, non-zero and not repeated (else `malformed`,
//!    id 0);
//! 3. from here on the reply carries that id: a repeated key, a missing `op` or a mistyped
//!    field is `malformed`; an unknown `op` is `unknown_op`; a word outside its list or a number
//!    outside its range is `invalid_argument`.
//!
//! Payloads (`image`, `data`) are returned as slices of the frame's [`Bytes`], never copied.

use bytes::Bytes;

use super::error_code::{ErrorCode, WireError};
use super::msgpack::{scan_map, MapView, NestedMapError, TypeMismatch, Value};
use crate::vocabulary::{Algorithm, Anchor, Filter, Mode, OutputFormat};

/// The operations of SPEC.md section 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Version handshake.
    Hello,
    /// Liveness.
    Ping,
    /// Thumbnail.
    Resize,
    /// Digests.
    Checksum,
    /// Counters.
    Stats,
    /// Abandon an in-flight request (no reply).
    Cancel,
    /// Digests of a file passed by descriptor.
    ChecksumFile,
    /// Thumbnail of a file passed by descriptor.
    ResizeFile,
    /// What an image is, from its header alone.
    Probe,
}

impl Op {
    /// Every op, in the spec's table order (the `hello` reply lists them so).
    pub const ALL: [Op; 9] = [
        Op::Hello,
        Op::Ping,
        Op::Resize,
        Op::Checksum,
        Op::Stats,
        Op::Cancel,
        Op::ChecksumFile,
        Op::ResizeFile,
        Op::Probe,
    ];

    /// The word used on the wire.
    pub fn word(self) -> &'static str {
        match self {
            Op::Hello => "hello",
            Op::Ping => "ping",
            Op::Resize => "resize",
            Op::Checksum => "checksum",
            Op::Stats => "stats",
            Op::Cancel => "cancel",
            Op::ChecksumFile => "checksum_file",
            Op::ResizeFile => "resize_file",
            Op::Probe => "probe",
        }
    }

    /// Whether the op's input is a descriptor from the connection's queue (SPEC.md 5.7).
    pub fn takes_file(self) -> bool {
        matches!(self, Op::ChecksumFile | Op::ResizeFile)
    }

    /// Parses a wire word; `None` for an op the daemon does not serve.
    pub fn from_word(word: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.word() == word)
    }

    /// Position in [`Op::ALL`], for per-op counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A decoded request.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Client-chosen id, `>= 1`.
    pub id: u64,
    /// Time budget in milliseconds from arrival; `None` means no deadline. Not read for `cancel`.
    pub timeout_ms: Option<u32>,
    /// The operation and its fields.
    pub body: Body,
}

/// The operation-specific part of a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// `hello`.
    Hello(HelloRequest),
    /// `ping`.
    Ping,
    /// `resize`.
    Resize(ResizeRequest),
    /// `checksum`.
    Checksum(ChecksumRequest),
    /// `stats`.
    Stats,
    /// `cancel`: the target is the request with the same id.
    Cancel,
    /// `checksum_file`: the algorithms; the input is the connection's oldest descriptor.
    ChecksumFile(Vec<Algorithm>),
    /// `resize_file`: the `resize` fields with an empty `image`; the input is the connection's
    /// oldest descriptor.
    ResizeFile(ResizeRequest),
    /// `probe`.
    Probe(ProbeRequest),
}

impl Body {
    /// Which operation this is.
    pub fn op(&self) -> Op {
        match self {
            Body::Hello(_) => Op::Hello,
            Body::Ping => Op::Ping,
            Body::Resize(_) => Op::Resize,
            Body::Checksum(_) => Op::Checksum,
            Body::Stats => Op::Stats,
            Body::Cancel => Op::Cancel,
            Body::ChecksumFile(_) => Op::ChecksumFile,
            Body::ResizeFile(_) => Op::ResizeFile,
            Body::Probe(_) => Op::Probe,
        }
    }
}

/// `hello` fields (SPEC.md 5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloRequest {
    /// Versions the client speaks: 1 to [`MAX_VERSIONS`].
    pub versions: Vec<u64>,
    /// Free-form client name, for logs.
    pub client: Option<String>,
}

/// `resize` fields (SPEC.md 5.3) as the wire carries them: the input, sliced out of the frame,
/// and each optional field as sent (`None` when absent or `nil`). Words are parsed and `quality`
/// is range-checked here; the box and the defaults are the job's business (the server's
/// dispatch builds the job's parameters from this).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResizeRequest {
    /// The encoded input image (a slice of the request frame).
    pub image: Bytes,
    /// Box width.
    pub width: Option<u32>,
    /// Box height.
    pub height: Option<u32>,
    /// `fit`, `fill` or `exact`.
    pub mode: Option<Mode>,
    /// Crop anchor for `fill`.
    pub anchor: Option<Anchor>,
    /// Resampling filter.
    pub filter: Option<Filter>,
    /// Output format.
    pub format: Option<OutputFormat>,
    /// Encoder quality, `1..=100`.
    pub quality: Option<u8>,
    /// Whether the output may be larger than the input (SPEC.md 5.3, `enlarge`).
    pub enlarge: Option<bool>,
    /// Apply EXIF orientation.
    pub auto_orient: Option<bool>,
    /// Embed the input's ICC profile instead of converting to sRGB.
    pub keep_icc: Option<bool>,
    /// Copy EXIF and XMP.
    pub keep_metadata: Option<bool>,
    /// Shrink-on-load traded for speed (SPEC.md 5.3), for every output.
    pub fast: Option<bool>,
    /// Several outputs from one decode (SPEC.md 5.3.1): 1 to [`MAX_OUTPUTS`] of them, in request
    /// order. When present, the box fields above are all `None` (the decoder refuses a request
    /// that sets both).
    pub outputs: Option<Vec<OutputRequest>>,
}

/// One entry of a `resize` request's `outputs` (SPEC.md 5.3.1): the single-output box fields,
/// each as sent, with the meaning they have at the top level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputRequest {
    /// Box width.
    pub width: Option<u32>,
    /// Box height.
    pub height: Option<u32>,
    /// `fit`, `fill` or `exact`.
    pub mode: Option<Mode>,
    /// Crop anchor for `fill`.
    pub anchor: Option<Anchor>,
    /// Resampling filter.
    pub filter: Option<Filter>,
    /// Output format.
    pub format: Option<OutputFormat>,
    /// Encoder quality, `1..=100`.
    pub quality: Option<u8>,
    /// Whether the output may be larger than the input.
    pub enlarge: Option<bool>,
}

impl OutputRequest {
    /// The first field that was sent, in table order (for the "both `outputs` and a box"
    /// refusal).
    fn first_present(&self) -> Option<&'static str> {
        [
            ("width", self.width.is_some()),
            ("height", self.height.is_some()),
            ("mode", self.mode.is_some()),
            ("anchor", self.anchor.is_some()),
            ("filter", self.filter.is_some()),
            ("format", self.format.is_some()),
            ("quality", self.quality.is_some()),
            ("enlarge", self.enlarge.is_some()),
        ]
        .into_iter()
        .find_map(|(key, present)| present.then_some(key))
    }
}

/// `probe` fields (SPEC.md 5.8): the image, and the box its memory estimate is for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeRequest {
    /// The encoded input (a slice of the request frame).
    pub image: Bytes,
    /// Box width of the thumbnail the estimate is for.
    pub width: Option<u32>,
    /// Box height, likewise.
    pub height: Option<u32>,
}

/// `checksum` fields (SPEC.md 5.4).
#[derive(Clone, Debug, PartialEq)]
pub struct ChecksumRequest {
    /// The bytes to digest (a slice of the request frame).
    pub data: Bytes,
    /// Algorithms in request order, at most [`MAX_ALGORITHMS`]; emptiness and repeats are
    /// checked by the job.
    pub algorithms: Vec<Algorithm>,
}

/// A request answered with an error instead of being served.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request id {id}: {error}")]
pub struct Rejection {
    /// The id the reply carries: 0 when the request's id could not be read.
    pub id: u64,
    /// The op, when it was read before the problem was found (for logs and counters).
    pub op: Option<Op>,
    /// Code and message.
    pub error: WireError,
}

impl Rejection {
    fn unidentified(message: impl Into<String>) -> Self {
        Rejection { id: 0, op: None, error: WireError::new(ErrorCode::Malformed, message) }
    }
}

/// Decodes one frame body. `Ok` is a request to serve; `Err` is the reply to send instead.
pub fn decode(frame: &Bytes) -> Result<Request, Rejection> {
    let map = scan_map(frame).map_err(|e| Rejection::unidentified(e.to_string()))?;
    let repeated = map.repeated_key();
    if repeated == Some("id") {
        return Err(Rejection::unidentified("key `id` appears twice"));
    }
    let id = read_id(&map)?;
    if map.values("op").any(|op| op.str() == Ok("cancel")) {
        // A cancel never gets a reply of its own, so nothing else in it may cause one, not even
        // a repeated key: its target's id would get two replies (SPEC.md 3.4, 3.5).
        return Ok(Request { id, timeout_ms: None, body: Body::Cancel });
    }
    let fields = Fields { map: &map, frame, id, op: None };
    if let Some(key) = repeated {
        return Err(fields.malformed(format!("key `{key}` appears twice")));
    }
    let word = fields.required("op", |v| v.str(), "a str")?;
    let op = Op::from_word(word).ok_or_else(|| Rejection {
        id,
        op: None,
        error: WireError::new(ErrorCode::UnknownOp, format!("unknown op {word:?}")),
    })?;
    let fields = Fields { op: Some(op), ..fields };
    let timeout_ms = fields.optional("timeout_ms", |v| v.uint32(), "a uint32")?;
    let body = match op {
        Op::Hello => Body::Hello(hello(&fields)?),
        Op::Ping => Body::Ping,
        Op::Resize => Body::Resize(resize(&fields, fields.bin("image")?)?),
        Op::Checksum => Body::Checksum(ChecksumRequest { data: fields.bin("data")?, algorithms: algorithms(&fields)? }),
        Op::ResizeFile => Body::ResizeFile(resize(&fields, Bytes::new())?),
        Op::ChecksumFile => Body::ChecksumFile(algorithms(&fields)?),
        Op::Stats => Body::Stats,
        Op::Probe => Body::Probe(ProbeRequest {
            image: fields.bin("image")?,
            width: fields.optional("width", |v| v.uint32(), "a uint32")?,
            height: fields.optional("height", |v| v.uint32(), "a uint32")?,
        }),
        Op::Cancel => unreachable!("a cancel returned above"),
    };
    Ok(Request { id, timeout_ms, body })
}

/// The request id: present, an unsigned integer, not zero. Anything else is `malformed`, id 0.
fn read_id(map: &MapView<'_>) -> Result<u64, Rejection> {
    let value = map.get("id").filter(|v| !v.is_nil()).ok_or_else(|| Rejection::unidentified("`id` is missing"))?;
    match value.uint() {
        Ok(0) => Err(Rejection::unidentified("`id` 0 is reserved")),
        Ok(id) => Ok(id),
        Err(found) => Err(Rejection::unidentified(format!("`id` must be a uint64, not {}", describe(found)))),
    }
}

/// Most versions a `hello` may list (SPEC.md 5.1), checked from the array header.
pub const MAX_VERSIONS: u64 = 16;

/// Most algorithms a `checksum` may ask for (SPEC.md 5.4): each of the four at most once.
pub const MAX_ALGORITHMS: u64 = 4;

fn hello(fields: &Fields<'_, '_>) -> Result<HelloRequest, Rejection> {
    let items = fields.required("versions", |v| v.array(), "an array of uint")?;
    let count = items.len();
    if count == 0 || count > MAX_VERSIONS {
        return Err(fields.invalid(format!("`versions` must hold 1 to {MAX_VERSIONS} versions, not {count}")));
    }
    let versions = items
        .map(|v| {
            v.uint().map_err(|found| fields.malformed(format!("`versions` must hold uints, not {}", describe(found))))
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let client = fields.optional("client", |v| v.str(), "a str")?.map(str::to_owned);
    Ok(HelloRequest { versions, client })
}

/// Most outputs one `resize` may ask for (SPEC.md 5.3.1), checked from the array header.
pub const MAX_OUTPUTS: u64 = 8;

/// The `resize` fields around `image` (read by the caller: from the frame for `resize`, empty
/// for `resize_file`, whose input is a descriptor).
fn resize(fields: &Fields<'_, '_>, image: Bytes) -> Result<ResizeRequest, Rejection> {
    let single = output(fields)?;
    let outputs = outputs(fields)?;
    if outputs.is_some() {
        if let Some(key) = single.first_present() {
            return Err(fields.invalid(format!("`{key}` must be absent when `outputs` is given: set it per output")));
        }
    }
    Ok(ResizeRequest {
        image,
        width: single.width,
        height: single.height,
        mode: single.mode,
        anchor: single.anchor,
        filter: single.filter,
        format: single.format,
        quality: single.quality,
        enlarge: single.enlarge,
        auto_orient: fields.optional("auto_orient", |v| v.bool(), "a bool")?,
        keep_icc: fields.optional("keep_icc", |v| v.bool(), "a bool")?,
        keep_metadata: fields.optional("keep_metadata", |v| v.bool(), "a bool")?,
        fast: fields.optional("fast", |v| v.bool(), "a bool")?,
        outputs,
    })
}

/// The box fields of one output, read from the request map or from one `outputs` element.
fn output(fields: &Fields<'_, '_>) -> Result<OutputRequest, Rejection> {
    let quality = match fields.optional("quality", |v| v.uint(), "a uint")? {
        None => None,
        Some(q @ 1..=100) => Some(q as u8),
        Some(q) => return Err(fields.invalid(format!("quality must be 1..=100, got {q}"))),
    };
    Ok(OutputRequest {
        width: fields.optional("width", |v| v.uint32(), "a uint32")?,
        height: fields.optional("height", |v| v.uint32(), "a uint32")?,
        mode: fields.word("mode", Mode::from_word, Mode::WORDS)?,
        anchor: fields.word("anchor", Anchor::from_word, Anchor::WORDS)?,
        filter: fields.word("filter", Filter::from_word, Filter::WORDS)?,
        format: fields.word("format", OutputFormat::from_word, OutputFormat::WORDS)?,
        quality,
        enlarge: fields.optional("enlarge", |v| v.bool(), "a bool")?,
    })
}

/// `outputs`, if sent: the count is checked from the array header before any element is read;
/// each element must be a map with `str` keys and no repeats (section 3, as the request map).
fn outputs(fields: &Fields<'_, '_>) -> Result<Option<Vec<OutputRequest>>, Rejection> {
    let Some(items) = fields.optional("outputs", |v| v.array(), "an array of maps")? else {
        return Ok(None);
    };
    let count = items.len();
    if count == 0 || count > MAX_OUTPUTS {
        return Err(fields.invalid(format!("`outputs` must hold 1 to {MAX_OUTPUTS} outputs, not {count}")));
    }
    let in_output = |n: usize, mut rejection: Rejection| {
        rejection.error.message = format!("output {n}: {}", rejection.error.message);
        rejection
    };
    items
        .enumerate()
        .map(|(n, item)| {
            let map = item.map().map_err(|e| match e {
                NestedMapError::NotAMap(kind) => {
                    fields.malformed(format!("`outputs` must hold maps, not {}", kind.describe()))
                }
                NestedMapError::Shape(shape) => in_output(n, fields.malformed(shape.to_string())),
            })?;
            if let Some(key) = map.repeated_key() {
                return Err(in_output(n, fields.malformed(format!("key `{key}` appears twice"))));
            }
            let nested = Fields { map: &map, frame: fields.frame, id: fields.id, op: fields.op };
            output(&nested).map_err(|r| in_output(n, r))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The `algorithms` of `checksum` and `checksum_file`.
fn algorithms(fields: &Fields<'_, '_>) -> Result<Vec<Algorithm>, Rejection> {
    let items = fields.required("algorithms", |v| v.array(), "an array of str")?;
    if items.len() > MAX_ALGORITHMS {
        return Err(
            fields.invalid(format!("`algorithms` may hold at most {MAX_ALGORITHMS} algorithms, not {}", items.len()))
        );
    }
    let mut algorithms = Vec::with_capacity(items.len() as usize);
    for item in items {
        let word = item
            .str()
            .map_err(|found| fields.malformed(format!("`algorithms` must hold strs, not {}", describe(found))))?;
        let algorithm = Algorithm::from_word(word).ok_or_else(|| {
            fields.invalid(format!("unknown algorithm {word:?}; expected one of {}", Algorithm::WORDS.join(", ")))
        })?;
        algorithms.push(algorithm);
    }
    Ok(algorithms)
}

/// Typed access to the fields of a request whose id is known, so every error carries it.
struct Fields<'m, 'a> {
    map: &'m MapView<'a>,
    frame: &'m Bytes,
    id: u64,
    op: Option<Op>,
}

impl<'a> Fields<'_, 'a> {
    fn malformed(&self, message: impl Into<String>) -> Rejection {
        Rejection { id: self.id, op: self.op, error: WireError::new(ErrorCode::Malformed, message) }
    }

    fn invalid(&self, message: impl Into<String>) -> Rejection {
        Rejection { id: self.id, op: self.op, error: WireError::new(ErrorCode::InvalidArgument, message) }
    }

    /// An optional field: absent and `nil` both give `None`; a wrong type is `malformed`.
    fn optional<T>(
        &self,
        key: &str,
        read: impl FnOnce(&Value<'a>) -> Result<T, TypeMismatch>,
        expected: &str,
    ) -> Result<Option<T>, Rejection> {
        match self.map.get(key).filter(|v| !v.is_nil()) {
            None => Ok(None),
            Some(value) => read(&value)
                .map(Some)
                .map_err(|found| self.malformed(format!("`{key}` must be {expected}, not {}", describe(found)))),
        }
    }

    /// A required field: absent or `nil` is `malformed` too.
    fn required<T>(
        &self,
        key: &str,
        read: impl FnOnce(&Value<'a>) -> Result<T, TypeMismatch>,
        expected: &str,
    ) -> Result<T, Rejection> {
        self.optional(key, read, expected)?.ok_or_else(|| self.malformed(format!("`{key}` is missing")))
    }

    /// A required `bin`, returned as a zero-copy slice of the frame.
    fn bin(&self, key: &str) -> Result<Bytes, Rejection> {
        let range = self.required(key, |v| v.bin(), "a bin")?;
        Ok(self.frame.slice(range))
    }

    /// An optional word from a fixed list: not a `str` is `malformed`, not in the list is
    /// `invalid_argument`.
    fn word<T>(&self, key: &str, parse: fn(&str) -> Option<T>, words: &[&str]) -> Result<Option<T>, Rejection> {
        let Some(word) = self.optional(key, |v| v.str(), "a str")? else {
            return Ok(None);
        };
        match parse(word) {
            Some(value) => Ok(Some(value)),
            None => Err(self.invalid(format!("unknown {key} {word:?}; expected one of {}", words.join(", ")))),
        }
    }
}

fn describe(found: TypeMismatch) -> String {
    match found {
        TypeMismatch::Kind(kind) => kind.describe().to_string(),
        TypeMismatch::TooLarge(value) => format!("{value}, which is too large"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_hex(body: &str) -> Result<Request, Rejection> {
        decode(&Bytes::from(hex::decode(body.replace(' ', "")).unwrap()))
    }

    #[test]
    fn ping() {
        let req = decode_hex("82 a2 69 64 07 a2 6f 70 a4 70 69 6e 67").unwrap();
        assert_eq!(req, Request { id: 7, timeout_ms: None, body: Body::Ping });
    }

    #[test]
    fn payload_is_a_slice_of_the_frame_not_a_copy() {
        let frame = Bytes::from(
            hex::decode("83a26964 03 a26f70a8636865636b73756d a464617461c403616263".replace(' ', "")).unwrap(),
        );
        // no algorithms: malformed, but first check the happy path with them
        let mut with_algos = frame.to_vec();
        with_algos[0] = 0x84;
        with_algos.extend_from_slice(&hex::decode("aa616c676f726974686d7391a6626c616b6533").unwrap());
        let frame = Bytes::from(with_algos);
        let Body::Checksum(req) = decode(&frame).unwrap().body else { panic!("not a checksum") };
        assert_eq!(&req.data[..], b"abc");
        let offset = req.data.as_ptr() as usize - frame.as_ptr() as usize;
        assert_eq!(&frame[offset..offset + 3], b"abc");
        assert_eq!(req.algorithms, vec![Algorithm::Blake3]);
    }

    #[test]
    fn id_rules() {
        let reject = |body: &str| decode_hex(body).unwrap_err();
        // id repeated: the id itself is not trustworthy
        let r = reject("83 a2 69 64 07 a2 6f 70 a4 70 69 6e 67 a2 69 64 08");
        assert_eq!((r.id, r.error.code), (0, ErrorCode::Malformed));
        // another key repeated: malformed with the id
        let r = reject("83 a2 69 64 07 a2 6f 70 a4 70 69 6e 67 a2 6f 70 a4 70 69 6e 67");
        assert_eq!((r.id, r.error.code), (7, ErrorCode::Malformed));
        // id nil is absent
        let r = reject("82 a2 69 64 c0 a2 6f 70 a4 70 69 6e 67");
        assert_eq!((r.id, r.error.code), (0, ErrorCode::Malformed));
        // op nil is missing
        let r = reject("82 a2 69 64 07 a2 6f 70 c0");
        assert_eq!((r.id, r.error.code), (7, ErrorCode::Malformed));
    }

    #[test]
    fn array_caps_are_checked_from_the_header() {
        // hello with versions = [] and with 17 versions: invalid_argument, id kept
        let r = decode_hex("83 a2 69 64 05 a2 6f 70 a5 68 65 6c 6c 6f a8 76 65 72 73 69 6f 6e 73 90").unwrap_err();
        assert_eq!((r.id, r.error.code), (5, ErrorCode::InvalidArgument));
        let mut body = hex::decode("83a2696405a26f70a568656c6c6fa876657273696f6e73dc0011").unwrap();
        body.extend(std::iter::repeat_n(0xc0, 17)); // nil elements: the cap fires before their type is read
        let r = decode(&Bytes::from(body)).unwrap_err();
        assert_eq!((r.id, r.error.code), (5, ErrorCode::InvalidArgument));
        assert!(r.error.message.contains("not 17"), "{}", r.error.message);
        // checksum with five algorithms (nils): invalid_argument
        let mut body =
            hex::decode("84a2696406a26f70a8636865636b73756da464617461c40161aa616c676f726974686d7395").unwrap();
        body.extend(std::iter::repeat_n(0xc0, 5));
        let r = decode(&Bytes::from(body)).unwrap_err();
        assert_eq!((r.id, r.error.code), (6, ErrorCode::InvalidArgument));
    }

    #[test]
    fn outputs_are_read_in_order_and_capped_from_the_header() {
        // {"id":5,"op":"resize","image":bin(01),"outputs":[{"width":10,"format":"png"},{"height":7}]}
        let req = decode_hex(
            "84 a2 69 64 05 a2 6f 70 a6 72 65 73 69 7a 65 a5 69 6d 61 67 65 c4 01 01 a7 6f 75 74 70 75 74 73 \
             92 82 a5 77 69 64 74 68 0a a6 66 6f 72 6d 61 74 a3 70 6e 67 81 a6 68 65 69 67 68 74 07",
        )
        .unwrap();
        let Body::Resize(resize) = req.body else { panic!("not a resize") };
        let first = OutputRequest { width: Some(10), format: Some(OutputFormat::Png), ..OutputRequest::default() };
        let second = OutputRequest { height: Some(7), ..OutputRequest::default() };
        assert_eq!(resize.outputs, Some(vec![first, second]));
        assert_eq!(resize.width, None);
        // nine nil elements: refused from the header, before any element's type is looked at
        let mut body = hex::decode("84a2696405a26f70a6726573697a65a5696d616765c40101a76f75747075747399").unwrap();
        body.extend(std::iter::repeat_n(0xc0, 9));
        let r = decode(&Bytes::from(body)).unwrap_err();
        assert_eq!((r.id, r.error.code), (5, ErrorCode::InvalidArgument));
        assert!(r.error.message.contains("not 9"), "{}", r.error.message);
        // a nil element is not a map: malformed
        let r = decode_hex("84 a2 69 64 05 a2 6f 70 a6 72 65 73 69 7a 65 a5 69 6d 61 67 65 c4 01 01 a7 6f 75 74 70 75 74 73 91 c0")
            .unwrap_err();
        assert_eq!((r.id, r.error.code), (5, ErrorCode::Malformed));
    }

    #[test]
    fn a_nil_top_level_box_field_beside_outputs_is_absent() {
        // {"id":5,"op":"resize","image":bin(01),"width":nil,"outputs":[{"width":10}]}
        let req = decode_hex(
            "85 a2 69 64 05 a2 6f 70 a6 72 65 73 69 7a 65 a5 69 6d 61 67 65 c4 01 01 a5 77 69 64 74 68 c0 \
             a7 6f 75 74 70 75 74 73 91 81 a5 77 69 64 74 68 0a",
        )
        .unwrap();
        let Body::Resize(resize) = req.body else { panic!("not a resize") };
        assert_eq!(resize.outputs.map(|o| o.len()), Some(1));
    }

    #[test]
    fn cancel_ignores_everything_but_id_and_op() {
        let req =
            decode_hex("83 a2 69 64 2a a2 6f 70 a6 63 61 6e 63 65 6c aa 74 69 6d 65 6f 75 74 5f 6d 73 a1 78").unwrap();
        assert_eq!(req, Request { id: 42, timeout_ms: None, body: Body::Cancel });
        // A repeated key (here `x` twice, then `op` twice) does not make a cancel answerable.
        let req = decode_hex("84 a2 69 64 2a a2 6f 70 a6 63 61 6e 63 65 6c a1 78 01 a1 78 02").unwrap();
        assert_eq!(req.body, Body::Cancel);
        let req = decode_hex("83 a2 69 64 2a a2 6f 70 a4 70 69 6e 67 a2 6f 70 a6 63 61 6e 63 65 6c").unwrap();
        assert_eq!(req.body, Body::Cancel);
    }

    #[test]
    fn quality_over_u8_is_invalid_argument_not_truncated() {
        // resize with image bin(01) and quality 257 (cd 01 01)
        let r = decode_hex(
            "84 a2 69 64 05 a2 6f 70 a6 72 65 73 69 7a 65 a5 69 6d 61 67 65 c4 01 01 a7 71 75 61 6c 69 74 79 cd 01 01",
        )
        .unwrap_err();
        assert_eq!((r.id, r.op, r.error.code), (5, Some(Op::Resize), ErrorCode::InvalidArgument));
        assert_eq!(r.error.message, "quality must be 1..=100, got 257");
    }

    #[test]
    fn unknown_op_keeps_the_id() {
        let r = decode_hex("82 a2 69 64 0b a2 6f 70 a3 66 6f 6f").unwrap_err();
        assert_eq!((r.id, r.error.code), (11, ErrorCode::UnknownOp));
        assert_eq!(r.error.message, "unknown op \"foo\"");
    }

    #[test]
    fn op_words_are_the_spec_table() {
        let words: Vec<&str> = Op::ALL.iter().map(|op| op.word()).collect();
        assert_eq!(
            words,
            ["hello", "ping", "resize", "checksum", "stats", "cancel", "checksum_file", "resize_file", "probe"]
        );
        for op in Op::ALL {
            assert_eq!(Op::from_word(op.word()), Some(op));
        }
    }
}
