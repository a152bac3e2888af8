//! Replies, encoded in the canonical form of protocol/SPEC.md section 3.1: keys in table order,
//! every integer, `str`, `bin` and map header in its shortest form.
//!
//! A reply is built as [`Bytes`] parts so that a large payload (a thumbnail) is sent as it came
//! out of the job, without being copied into a frame buffer:
//!
//! ```text
//! +------------------------------------+---------------+-----------------------------+
//! | head: length prefix, map header,   | payload: the  | tail: the fields after it    |
//! | id, ok, fields up to a bin header  | bin's bytes   | (resize: width, height, ...) |
//! +------------------------------------+---------------+-----------------------------+
//! ```
//!
//! A reply with several outputs repeats payload and tail once per output.
//!
//! The fields are written with `rmp::encode`, whose writers always pick the shortest encoding.
//! (`rmp_serde` would need a wrapper to put `id` and `ok` in front of every body, and could not
//! leave the payload out of the buffer.)

use bytes::Bytes;
use rmp::encode;

use super::error_code::{ErrorCode, WireError};
use super::request::Op;
use crate::vocabulary::{Algorithm, Filter, ImageFormat, Mode, OutputFormat};

/// An encoded reply frame, ready to write: the head, then each payload followed by the fields
/// after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplyFrame {
    parts: Vec<Bytes>,
}

impl ReplyFrame {
    /// Total bytes on the wire, the length prefix included.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    /// Whether the frame has no bytes at all (never true for an encoded reply).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parts in wire order; some may be empty.
    pub fn parts(&self) -> &[Bytes] {
        &self.parts
    }

    /// The whole frame in one buffer (tests and tools; the server writes the parts).
    pub fn to_vec(&self) -> Vec<u8> {
        self.parts().iter().flat_map(|part| part.iter().copied()).collect()
    }
}

/// The result fields of a successful reply, per operation.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyBody {
    /// `ping`: no fields.
    Ping,
    /// `hello`.
    Hello(HelloReply),
    /// `stats`.
    Stats(StatsReply),
    /// `resize`.
    Resize(ResizeReply),
    /// `resize` with `outputs` (SPEC.md 5.3.1).
    ResizeSeveral(SeveralReply),
    /// `checksum`.
    Checksum(ChecksumReply),
    /// `probe`.
    Probe(ProbeReply),
}

/// `hello` reply fields (SPEC.md 5.1). The word lists (ops, formats, modes, filters,
/// algorithms) are the daemon's own and are written from the enums, not stored here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloReply {
    /// Highest version both sides speak.
    pub version: u64,
    /// Daemon name and version.
    pub server: String,
    /// Largest accepted body length.
    pub max_frame: u64,
    /// Largest accepted width x height.
    pub max_pixels: u64,
    /// Largest accepted width or height, and box side.
    pub max_dimension: u64,
    /// Worker pool size.
    pub workers: u64,
    /// Queue bound in jobs.
    pub queue_jobs: u64,
    /// Queue bound in payload bytes.
    pub queue_bytes: u64,
    /// The keys that follow `queue_bytes` (protocol v1 additions). The daemon always sends them;
    /// `None` leaves them out, which only encoding the older golden vectors needs.
    pub limits: Option<HelloLimits>,
}

/// `hello` keys after `queue_bytes`, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloLimits {
    /// The memory budget in bytes (frames being read, queued jobs, unwritten replies).
    pub memory_budget: u64,
    /// Most connections served at once.
    pub max_connections: u64,
    /// Longest expected queue wait a job is admitted with, in milliseconds.
    pub max_queue_wait_ms: u64,
    /// Most outputs one `resize` may ask for; `None` leaves the key out (older vectors).
    pub max_outputs: Option<u64>,
}

/// `stats` reply fields (SPEC.md 5.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsReply {
    /// Daemon name and version.
    pub server: String,
    /// Milliseconds since start.
    pub uptime_ms: u64,
    /// Connections open now.
    pub connections: u64,
    /// Jobs executing now.
    pub jobs_running: u64,
    /// Jobs admitted and waiting now.
    pub jobs_queued: u64,
    /// Payload bytes held by admitted jobs now.
    pub queued_bytes: u64,
    /// Requests answered since start.
    pub requests_total: u64,
    /// Error replies since start.
    pub errors_total: u64,
    /// `busy` replies since start.
    pub busy_total: u64,
    /// Requests answered per op, ops with no requests left out.
    pub requests_by_op: Vec<(Op, u64)>,
    /// Worker pool size.
    pub workers: u64,
    /// The keys that follow `workers` (protocol v1 additions); `None` as in [`HelloReply`].
    pub memory: Option<StatsMemory>,
}

/// `stats` keys after `workers`, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsMemory {
    /// The memory budget in bytes.
    pub memory_budget: u64,
    /// Bytes of the budget held now.
    pub memory_used: u64,
    /// Connections refused since start (connection limit, peer not allowed).
    pub connections_refused: u64,
}

/// `resize` reply fields (SPEC.md 5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResizeReply {
    /// The encoded output.
    pub image: Bytes,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Output format.
    pub format: OutputFormat,
    /// Input width after orientation.
    pub source_width: u32,
    /// Input height after orientation.
    pub source_height: u32,
    /// Detected input format.
    pub source_format: ImageFormat,
}

/// `resize` reply fields for a request with `outputs` (SPEC.md 5.3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeveralReply {
    /// One per requested output, in request order.
    pub outputs: Vec<OutputReply>,
    /// Input width after orientation.
    pub source_width: u32,
    /// Input height after orientation.
    pub source_height: u32,
    /// Detected input format.
    pub source_format: ImageFormat,
}

/// One output of a [`SeveralReply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputReply {
    /// The encoded output.
    pub image: Bytes,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Output format, as requested.
    pub format: OutputFormat,
}

/// `probe` reply fields (SPEC.md 5.8), in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeReply {
    /// Detected format.
    pub format: ImageFormat,
    /// Width after EXIF orientation.
    pub width: u32,
    /// Height after EXIF orientation.
    pub height: u32,
    /// EXIF orientation, 1 to 8.
    pub orientation: u8,
    /// The header declares alpha or transparency.
    pub alpha: bool,
    /// An ICC profile is embedded.
    pub icc: bool,
    /// Progressive or interlaced.
    pub progressive: bool,
    /// Frames in the file.
    pub frames: u64,
    /// Bytes a resize into the probe's box would reserve from the memory budget.
    pub memory: u64,
}

/// `checksum` reply fields (SPEC.md 5.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecksumReply {
    /// One digest per requested algorithm, in request order.
    pub digests: Vec<(Algorithm, Vec<u8>)>,
}

/// Encodes a successful reply to request `id`: `id`, `ok`, then the result fields.
pub fn encode_ok(id: u64, body: ReplyBody) -> ReplyFrame {
    let mut out = Writer::new();
    let fields = match &body {
        ReplyBody::Ping => 0,
        ReplyBody::Hello(hello) => 14 + hello.limits.map_or(0, |l| 3 + usize::from(l.max_outputs.is_some())),
        ReplyBody::Stats(stats) => 11 + if stats.memory.is_some() { 3 } else { 0 },
        ReplyBody::Resize(_) => 7,
        ReplyBody::ResizeSeveral(_) => 4,
        ReplyBody::Checksum(_) => 1,
        ReplyBody::Probe(_) => 9,
    };
    out.map(2 + fields);
    out.str("id").uint(id).str("ok").bool(true);
    match body {
        ReplyBody::Ping => {}
        ReplyBody::Hello(hello) => write_hello(&mut out, &hello),
        ReplyBody::Stats(stats) => write_stats(&mut out, &stats),
        ReplyBody::Probe(probe) => {
            out.str("format").str(probe.format.word());
            out.str("width").uint(probe.width.into()).str("height").uint(probe.height.into());
            out.str("orientation").uint(probe.orientation.into());
            out.str("alpha").bool(probe.alpha).str("icc").bool(probe.icc).str("progressive").bool(probe.progressive);
            out.str("frames").uint(probe.frames).str("memory").uint(probe.memory);
        }
        ReplyBody::Checksum(sum) => {
            out.str("digests").map(sum.digests.len());
            for (algorithm, digest) in &sum.digests {
                out.str(algorithm.word()).bin(digest);
            }
        }
        ReplyBody::Resize(resize) => {
            out.str("image").bin_header(resize.image.len());
            let head = out;
            let mut tail = Writer::tail();
            tail.str("width").uint(resize.width.into()).str("height").uint(resize.height.into());
            tail.str("format").str(resize.format.word());
            tail.str("source_width").uint(resize.source_width.into());
            tail.str("source_height").uint(resize.source_height.into());
            tail.str("source_format").str(resize.source_format.word());
            return finish(id, head, vec![resize.image, Bytes::from(tail.0)]);
        }
        ReplyBody::ResizeSeveral(several) => {
            // Each image goes out as its own part: head, then per output its bytes followed by
            // the fields up to the next image's bin header.
            let mut rest = Vec::with_capacity(2 * several.outputs.len());
            out.str("outputs").array(several.outputs.len());
            let mut current = out;
            let mut head = None;
            for output in several.outputs {
                current.map(4).str("image").bin_header(output.image.len());
                let done = std::mem::replace(&mut current, Writer::tail());
                match head {
                    None => head = Some(done),
                    Some(_) => rest.push(Bytes::from(done.0)),
                }
                rest.push(output.image);
                current.str("width").uint(output.width.into()).str("height").uint(output.height.into());
                current.str("format").str(output.format.word());
            }
            current.str("source_width").uint(several.source_width.into());
            current.str("source_height").uint(several.source_height.into());
            current.str("source_format").str(several.source_format.word());
            return match head {
                Some(head) => {
                    rest.push(Bytes::from(current.0));
                    finish(id, head, rest)
                }
                None => finish(id, current, rest),
            };
        }
    }
    finish(id, out, Vec::new())
}

/// Encodes an error reply: exactly `id`, `ok`, `code`, `message`.
pub fn encode_error(id: u64, error: &WireError) -> ReplyFrame {
    let mut out = Writer::new();
    out.map(4).str("id").uint(id).str("ok").bool(false);
    out.str("code").uint(error.code.number().into()).str("message").str(&error.message);
    finish(id, out, Vec::new())
}

fn write_hello(out: &mut Writer, hello: &HelloReply) {
    out.str("version").uint(hello.version).str("server").str(&hello.server);
    out.str("max_frame").uint(hello.max_frame).str("max_pixels").uint(hello.max_pixels);
    out.str("max_dimension").uint(hello.max_dimension);
    let ops: Vec<&str> = Op::ALL.iter().map(|op| op.word()).collect();
    out.str("ops").strs(&ops);
    out.str("input_formats").strs(ImageFormat::WORDS).str("output_formats").strs(OutputFormat::WORDS);
    out.str("modes").strs(Mode::WORDS).str("filters").strs(Filter::WORDS).str("algorithms").strs(Algorithm::WORDS);
    out.str("workers")
        .uint(hello.workers)
        .str("queue_jobs")
        .uint(hello.queue_jobs)
        .str("queue_bytes")
        .uint(hello.queue_bytes);
    if let Some(limits) = &hello.limits {
        out.str("memory_budget").uint(limits.memory_budget);
        out.str("max_connections").uint(limits.max_connections);
        out.str("max_queue_wait_ms").uint(limits.max_queue_wait_ms);
        if let Some(max_outputs) = limits.max_outputs {
            out.str("max_outputs").uint(max_outputs);
        }
    }
}

fn write_stats(out: &mut Writer, stats: &StatsReply) {
    out.str("server").str(&stats.server).str("uptime_ms").uint(stats.uptime_ms);
    out.str("connections").uint(stats.connections);
    out.str("jobs_running").uint(stats.jobs_running).str("jobs_queued").uint(stats.jobs_queued);
    out.str("queued_bytes").uint(stats.queued_bytes).str("requests_total").uint(stats.requests_total);
    out.str("errors_total").uint(stats.errors_total).str("busy_total").uint(stats.busy_total);
    out.str("requests_by_op").map(stats.requests_by_op.len());
    for (op, count) in &stats.requests_by_op {
        out.str(op.word()).uint(*count);
    }
    out.str("workers").uint(stats.workers);
    if let Some(memory) = &stats.memory {
        out.str("memory_budget").uint(memory.memory_budget);
        out.str("memory_used").uint(memory.memory_used);
        out.str("connections_refused").uint(memory.connections_refused);
    }
}

/// Patches the length prefix into `head`, which `rest` (payloads and the fields between them)
/// follows; a reply too large for a `u32` length (a pathological resize output) becomes an
/// `internal` error reply instead.
fn finish(id: u64, head: Writer, rest: Vec<Bytes>) -> ReplyFrame {
    let mut head = head.0;
    let body_len = head.len() - 4 + rest.iter().map(Bytes::len).sum::<usize>();
    let Ok(prefix) = u32::try_from(body_len) else {
        let error = WireError::new(ErrorCode::Internal, format!("reply of {body_len} bytes does not fit in one frame"));
        return encode_error(id, &error);
    };
    head[..4].copy_from_slice(&prefix.to_be_bytes());
    let mut parts = Vec::with_capacity(1 + rest.len());
    parts.push(Bytes::from(head));
    parts.extend(rest.into_iter().filter(|part| !part.is_empty()));
    ReplyFrame { parts }
}

/// A MessagePack writer over a `Vec`. Writing into a `Vec` cannot fail, hence the `expect`s.
struct Writer(Vec<u8>);

const VEC_WRITE: &str = "writing MessagePack into a Vec cannot fail";

impl Writer {
    /// A frame head, starting with room for the length prefix.
    fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; 4]);
        Writer(buf)
    }

    /// The part after a payload: no prefix.
    fn tail() -> Self {
        Writer(Vec::new())
    }

    fn map(&mut self, len: usize) -> &mut Self {
        encode::write_map_len(&mut self.0, len as u32).expect(VEC_WRITE);
        self
    }

    fn array(&mut self, len: usize) -> &mut Self {
        encode::write_array_len(&mut self.0, len as u32).expect(VEC_WRITE);
        self
    }

    fn str(&mut self, s: &str) -> &mut Self {
        encode::write_str(&mut self.0, s).expect(VEC_WRITE);
        self
    }

    fn uint(&mut self, v: u64) -> &mut Self {
        encode::write_uint(&mut self.0, v).expect(VEC_WRITE);
        self
    }

    fn bool(&mut self, v: bool) -> &mut Self {
        encode::write_bool(&mut self.0, v).expect(VEC_WRITE);
        self
    }

    fn bin(&mut self, data: &[u8]) -> &mut Self {
        encode::write_bin(&mut self.0, data).expect(VEC_WRITE);
        self
    }

    fn bin_header(&mut self, len: usize) -> &mut Self {
        encode::write_bin_len(&mut self.0, len as u32).expect(VEC_WRITE);
        self
    }

    fn strs(&mut self, items: &[&str]) -> &mut Self {
        encode::write_array_len(&mut self.0, items.len() as u32).expect(VEC_WRITE);
        for item in items {
            self.str(item);
        }
        self
    }
}
