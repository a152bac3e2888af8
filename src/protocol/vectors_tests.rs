//! The golden vectors of protocol/vectors/ against this crate's codec, decoder and encoder.
//! Requests: the canonical frame and every `accept` frame decode to the vector's value.
//! Replies: encoding the vector's value gives exactly the canonical frame.
//! Invalid frames: the protocol layer answers them as the vector says, or leaves them to the
//! stage that does (job, version check, deadline), which the integration tests cover end to end.

use bytes::{Bytes, BytesMut};
use serde_json::Value as Json;
use tokio_util::codec::Decoder;

use super::codec::{FrameDecoder, Inbound};
use super::error_code::{ErrorCode, WireError};
use super::request::{
    self, Body, ChecksumRequest, HelloRequest, Op, OutputRequest, ProbeRequest, Request, ResizeRequest,
};
use super::response::{
    self, ChecksumReply, HelloLimits, HelloReply, OutputReply, ProbeReply, ReplyBody, ResizeReply, SeveralReply,
    StatsMemory, StatsReply,
};
use super::DEFAULT_MAX_FRAME;
use crate::vocabulary::{Algorithm, Anchor, Filter, ImageFormat, Mode, OutputFormat};

fn load(name: &str) -> Json {
    let path = format!("{}/protocol/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// Runs a whole frame (prefix included, as hex) through the decoder; exactly one item expected.
fn read_frame(hex_frame: &str) -> Inbound {
    let mut buf = BytesMut::from(&hex::decode(hex_frame).unwrap()[..]);
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
    let item = decoder.decode(&mut buf).unwrap().expect("a complete frame");
    if !matches!(item, Inbound::TooLarge { .. }) {
        assert!(buf.is_empty(), "frame {hex_frame} has bytes after its body");
    }
    item
}

fn bin(value: &Json) -> Bytes {
    Bytes::from(hex::decode(value["$bin"].as_str().expect("a $bin value")).unwrap())
}

fn uint(value: &Json) -> u64 {
    value.as_u64().expect("an unsigned integer")
}

/// The typed request a vector's `value` describes, built from the JSON independently of the
/// MessagePack decoder.
fn expected_request(value: &Json) -> Request {
    let op = Op::from_word(value["op"].as_str().unwrap()).expect("a known op");
    let body = match op {
        Op::Hello => Body::Hello(HelloRequest {
            versions: value["versions"].as_array().unwrap().iter().map(uint).collect(),
            client: value.get("client").map(|c| c.as_str().unwrap().to_string()),
        }),
        Op::Ping => Body::Ping,
        Op::Stats => Body::Stats,
        Op::Cancel => Body::Cancel,
        Op::Resize | Op::ResizeFile => {
            let flag = |key: &str| value.get(key).map(|b| b.as_bool().unwrap());
            let single = expected_output(value);
            Body::Resize(ResizeRequest {
                // A resize_file has no image field: its input is a descriptor.
                image: value.get("image").map_or_else(Bytes::new, bin),
                width: single.width,
                height: single.height,
                mode: single.mode,
                anchor: single.anchor,
                filter: single.filter,
                format: single.format,
                quality: single.quality,
                enlarge: single.enlarge,
                auto_orient: flag("auto_orient"),
                keep_icc: flag("keep_icc"),
                keep_metadata: flag("keep_metadata"),
                fast: flag("fast"),
                outputs: value.get("outputs").map(|o| o.as_array().unwrap().iter().map(expected_output).collect()),
            })
        }
        Op::Checksum => Body::Checksum(ChecksumRequest { data: bin(&value["data"]), algorithms: algorithms(value) }),
        Op::ChecksumFile => Body::ChecksumFile(algorithms(value)),
        Op::Probe => Body::Probe(ProbeRequest {
            image: bin(&value["image"]),
            width: value.get("width").map(|v| uint(v) as u32),
            height: value.get("height").map(|v| uint(v) as u32),
        }),
    };
    let body = match body {
        Body::Resize(r) if op == Op::ResizeFile => Body::ResizeFile(r),
        body => body,
    };
    let timeout_ms = if op == Op::Cancel { None } else { value.get("timeout_ms").map(|t| uint(t) as u32) };
    Request { id: uint(&value["id"]), timeout_ms, body }
}

/// The box fields of a resize request or of one of its `outputs`, from the JSON.
fn expected_output(value: &Json) -> OutputRequest {
    let parsed = |key: &str| value.get(key).map(|w| w.as_str().unwrap());
    OutputRequest {
        width: value.get("width").map(|v| uint(v) as u32),
        height: value.get("height").map(|v| uint(v) as u32),
        mode: parsed("mode").map(|w| Mode::from_word(w).expect("a known mode")),
        anchor: parsed("anchor").map(|w| Anchor::from_word(w).expect("a known anchor")),
        filter: parsed("filter").map(|w| Filter::from_word(w).expect("a known filter")),
        format: parsed("format").map(|w| OutputFormat::from_word(w).expect("a known format")),
        quality: value.get("quality").map(|v| uint(v) as u8),
        enlarge: value.get("enlarge").map(|b| b.as_bool().unwrap()),
    }
}

fn algorithms(value: &Json) -> Vec<Algorithm> {
    value["algorithms"].as_array().unwrap().iter().map(|a| Algorithm::from_word(a.as_str().unwrap()).unwrap()).collect()
}

/// Ops and algorithms in the order the daemon writes them (the JSON object is sorted by key).
fn in_spec_order<T: Copy>(map: &Json, parse: fn(&str) -> Option<T>, rank: fn(T) -> usize) -> Vec<(T, &Json)> {
    let mut items: Vec<(T, &Json)> = map.as_object().unwrap().iter().map(|(k, v)| (parse(k).unwrap(), v)).collect();
    items.sort_by_key(|(k, _)| rank(*k));
    items
}

/// The reply a vector's `value` describes, encoded by this crate.
fn encode_reply(value: &Json) -> Vec<u8> {
    let id = uint(&value["id"]);
    if !value["ok"].as_bool().unwrap() {
        let code = ErrorCode::from_number(uint(&value["code"])).expect("a known code");
        return response::encode_error(id, &WireError::new(code, value["message"].as_str().unwrap())).to_vec();
    }
    let text = |key: &str| value[key].as_str().unwrap().to_string();
    let body = if value.get("version").is_some() {
        // The word lists are the daemon's own; the canonical bytes check them.
        ReplyBody::Hello(HelloReply {
            version: uint(&value["version"]),
            server: text("server"),
            max_frame: uint(&value["max_frame"]),
            max_pixels: uint(&value["max_pixels"]),
            max_dimension: uint(&value["max_dimension"]),
            workers: uint(&value["workers"]),
            queue_jobs: uint(&value["queue_jobs"]),
            queue_bytes: uint(&value["queue_bytes"]),
            limits: value.get("memory_budget").map(|_| HelloLimits {
                memory_budget: uint(&value["memory_budget"]),
                max_connections: uint(&value["max_connections"]),
                max_queue_wait_ms: uint(&value["max_queue_wait_ms"]),
                max_outputs: value.get("max_outputs").map(uint),
            }),
        })
    } else if value.get("uptime_ms").is_some() {
        ReplyBody::Stats(StatsReply {
            server: text("server"),
            uptime_ms: uint(&value["uptime_ms"]),
            connections: uint(&value["connections"]),
            jobs_running: uint(&value["jobs_running"]),
            jobs_queued: uint(&value["jobs_queued"]),
            queued_bytes: uint(&value["queued_bytes"]),
            requests_total: uint(&value["requests_total"]),
            errors_total: uint(&value["errors_total"]),
            busy_total: uint(&value["busy_total"]),
            requests_by_op: in_spec_order(&value["requests_by_op"], Op::from_word, Op::index)
                .into_iter()
                .map(|(op, n)| (op, uint(n)))
                .collect(),
            workers: uint(&value["workers"]),
            memory: value.get("memory_used").map(|_| StatsMemory {
                memory_budget: uint(&value["memory_budget"]),
                memory_used: uint(&value["memory_used"]),
                connections_refused: uint(&value["connections_refused"]),
            }),
        })
    } else if value.get("frames").is_some() {
        ReplyBody::Probe(ProbeReply {
            format: ImageFormat::from_word(&text("format")).unwrap(),
            width: uint(&value["width"]) as u32,
            height: uint(&value["height"]) as u32,
            orientation: uint(&value["orientation"]) as u8,
            alpha: value["alpha"].as_bool().unwrap(),
            icc: value["icc"].as_bool().unwrap(),
            progressive: value["progressive"].as_bool().unwrap(),
            frames: uint(&value["frames"]),
            memory: uint(&value["memory"]),
        })
    } else if value.get("digests").is_some() {
        let rank = |a: Algorithm| Algorithm::WORDS.iter().position(|w| *w == a.word()).unwrap();
        ReplyBody::Checksum(ChecksumReply {
            digests: in_spec_order(&value["digests"], Algorithm::from_word, rank)
                .into_iter()
                .map(|(a, d)| (a, bin(d).to_vec()))
                .collect(),
        })
    } else if let Some(outputs) = value.get("outputs") {
        ReplyBody::ResizeSeveral(SeveralReply {
            outputs: outputs
                .as_array()
                .unwrap()
                .iter()
                .map(|o| OutputReply {
                    image: bin(&o["image"]),
                    width: uint(&o["width"]) as u32,
                    height: uint(&o["height"]) as u32,
                    format: OutputFormat::from_word(o["format"].as_str().unwrap()).unwrap(),
                })
                .collect(),
            source_width: uint(&value["source_width"]) as u32,
            source_height: uint(&value["source_height"]) as u32,
            source_format: ImageFormat::from_word(&text("source_format")).unwrap(),
        })
    } else if value.get("image").is_some() {
        ReplyBody::Resize(ResizeReply {
            image: bin(&value["image"]),
            width: uint(&value["width"]) as u32,
            height: uint(&value["height"]) as u32,
            format: OutputFormat::from_word(&text("format")).unwrap(),
            source_width: uint(&value["source_width"]) as u32,
            source_height: uint(&value["source_height"]) as u32,
            source_format: ImageFormat::from_word(&text("source_format")).unwrap(),
        })
    } else {
        ReplyBody::Ping
    };
    response::encode_ok(id, body).to_vec()
}

#[test]
fn request_vectors_decode_to_their_values() {
    let vectors = load("messages.json");
    let mut checked = 0;
    for msg in vectors["messages"].as_array().unwrap().iter().filter(|m| m["kind"] == "request") {
        let name = msg["name"].as_str().unwrap();
        let want = expected_request(&msg["value"]);
        let frames = std::iter::once(("canonical", msg["canonical"].as_str().unwrap())).chain(
            msg["accept"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["why"].as_str().unwrap(), a["frame"].as_str().unwrap())),
        );
        for (why, frame) in frames {
            let Inbound::Frame(body) = read_frame(frame) else { panic!("{name} ({why}): not a frame") };
            let got = request::decode(&body).unwrap_or_else(|e| panic!("{name} ({why}): rejected: {e}"));
            assert_eq!(got, want, "{name} ({why})");
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} request frames in messages.json");
}

#[test]
fn reply_vectors_encode_to_their_canonical_bytes() {
    let vectors = load("messages.json");
    let mut checked = 0;
    for msg in vectors["messages"].as_array().unwrap().iter().filter(|m| m["kind"] == "reply") {
        let name = msg["name"].as_str().unwrap();
        let got = hex::encode(encode_reply(&msg["value"]));
        assert_eq!(got, msg["canonical"].as_str().unwrap(), "{name}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} replies in messages.json");
}

#[test]
fn vectors_use_the_default_max_frame() {
    assert_eq!(uint(&load("messages.json")["max_frame"]), u64::from(DEFAULT_MAX_FRAME));
    assert_eq!(uint(&load("invalid.json")["max_frame"]), u64::from(DEFAULT_MAX_FRAME));
}

#[test]
fn invalid_vectors_are_rejected_or_left_to_a_later_stage() {
    let vectors = load("invalid.json");
    for v in vectors["invalid"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let code = ErrorCode::from_number(uint(&v["code"])).unwrap();
        let reply_id = uint(&v["reply_id"]);
        let closes = v["closes"].as_bool().unwrap();
        match read_frame(v["frame"].as_str().unwrap()) {
            Inbound::TooLarge { .. } => {
                assert_eq!((code, reply_id, closes), (ErrorCode::FrameTooLarge, 0, true), "{name}")
            }
            Inbound::Empty => assert_eq!((code, reply_id, closes), (ErrorCode::Malformed, 0, false), "{name}"),
            Inbound::Frame(body) => {
                assert!(!closes, "{name}: only an oversize frame closes the connection");
                match request::decode(&body) {
                    Err(rejection) => {
                        assert_eq!((rejection.error.code, rejection.id), (code, reply_id), "{name}: {rejection}")
                    }
                    Ok(req) => {
                        let later = [
                            ErrorCode::UnsupportedVersion,
                            ErrorCode::InvalidArgument,
                            ErrorCode::BadImage,
                            ErrorCode::ImageTooLarge,
                            ErrorCode::DeadlineExceeded,
                            ErrorCode::BadFile,
                        ];
                        assert!(later.contains(&code), "{name}: decoded, but {code} must come from the decoder");
                        assert_eq!(req.id, reply_id, "{name}");
                    }
                }
            }
        }
    }
}
