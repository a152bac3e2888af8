#!/usr/bin/env python3
"""Generates ferry's golden wire vectors (protocol/vectors/*.json).

The MessagePack encoder below is written here on purpose, independent of the MessagePack
libraries the daemon and the Go client use, so the vectors check both of them rather than
repeating either.

    python3 protocol/gen/generate.py           # rewrite the vectors
    python3 protocol/gen/generate.py --check   # exit 1 if the checked-in files differ

Checksum digests come from implementations other than ours: hashlib (SHA-256), the `blake3`
and `xxhash` packages from PyPI, and a bitwise CRC32C below; each is first checked against a
published known answer.
"""
import argparse
import hashlib
import re
import json
import struct
import sys
import zlib
from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
SPEC = VECTORS.parent / "SPEC.md"
MAX_FRAME = 128 * 1024 * 1024  # must match SPEC.md section 2


# --- MessagePack, hand-written -------------------------------------------------------------

class Style:
    """How to encode: the canonical shortest forms, or one of the widened forms decoders must accept."""

    def __init__(self, wide_ints=False, signed_ints=False, wide_str=False, wide_bin=False,
                 wide_containers=False):
        self.wide_ints = wide_ints
        self.signed_ints = signed_ints
        self.wide_str = wide_str
        self.wide_bin = wide_bin
        self.wide_containers = wide_containers


CANONICAL = Style()


class Float:
    """A float64, only used for unknown keys that decoders must skip."""

    def __init__(self, v):
        self.v = v


class Raw:
    """Pre-encoded bytes, for deliberately invalid values."""

    def __init__(self, b):
        self.b = b


def pack(v, style=CANONICAL):
    if isinstance(v, Raw):
        return v.b
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, Float):
        return b"\xcb" + struct.pack(">d", v.v)
    if isinstance(v, int):
        return pack_int(v, style)
    if isinstance(v, str):
        return pack_str(v.encode("utf-8"), style)
    if isinstance(v, (bytes, bytearray)):
        return pack_bin(bytes(v), style)
    if isinstance(v, list):
        return pack_array_header(len(v), style) + b"".join(pack(x, style) for x in v)
    if isinstance(v, dict):
        out = pack_map_header(len(v), style)
        for k, x in v.items():
            out += pack(k, style) + pack(x, style)
        return out
    if isinstance(v, Pairs):
        out = pack_map_header(len(v.items), style)
        for k, x in v.items:
            out += pack(k, style) + pack(x, style)
        return out
    raise TypeError(type(v))


class Pairs:
    """A map given as a list of pairs, so that a key may repeat (for invalid vectors)."""

    def __init__(self, items):
        self.items = items


def pack_int(v, style):
    if v < 0:
        if v >= -32:
            return struct.pack(">b", v)
        for marker, fmt in ((0xD0, ">b"), (0xD1, ">h"), (0xD2, ">i"), (0xD3, ">q")):
            try:
                return bytes([marker]) + struct.pack(fmt, v)
            except struct.error:
                continue
        raise ValueError(v)
    if style.wide_ints:
        return b"\xcf" + struct.pack(">Q", v)
    if style.signed_ints:
        for marker, fmt in ((0xD0, ">b"), (0xD1, ">h"), (0xD2, ">i"), (0xD3, ">q")):
            try:
                return bytes([marker]) + struct.pack(fmt, v)
            except struct.error:
                continue
        return b"\xcf" + struct.pack(">Q", v)  # above int64: only the unsigned form exists
    if v < 128:
        return bytes([v])
    if v < 1 << 8:
        return b"\xcc" + struct.pack(">B", v)
    if v < 1 << 16:
        return b"\xcd" + struct.pack(">H", v)
    if v < 1 << 32:
        return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)


def pack_str(b, style):
    n = len(b)
    if style.wide_str:
        return b"\xdb" + struct.pack(">I", n) + b
    if n < 32:
        return bytes([0xA0 | n]) + b
    if n < 1 << 8:
        return b"\xd9" + struct.pack(">B", n) + b
    if n < 1 << 16:
        return b"\xda" + struct.pack(">H", n) + b
    return b"\xdb" + struct.pack(">I", n) + b


def pack_bin(b, style):
    n = len(b)
    if style.wide_bin:
        return b"\xc6" + struct.pack(">I", n) + b
    if n < 1 << 8:
        return b"\xc4" + struct.pack(">B", n) + b
    if n < 1 << 16:
        return b"\xc5" + struct.pack(">H", n) + b
    return b"\xc6" + struct.pack(">I", n) + b


def pack_array_header(n, style):
    if style.wide_containers:
        return b"\xdd" + struct.pack(">I", n)
    if n < 16:
        return bytes([0x90 | n])
    if n < 1 << 16:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def pack_map_header(n, style):
    if style.wide_containers:
        return b"\xdf" + struct.pack(">I", n)
    if n < 16:
        return bytes([0x80 | n])
    if n < 1 << 16:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)


def frame(body):
    return struct.pack(">I", len(body)) + body


def to_json(v):
    if isinstance(v, (bytes, bytearray)):
        return {"$bin": bytes(v).hex()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


# --- messages -----------------------------------------------------------------------------

# Optional request fields per op, in canonical order; used for the explicit-nil alternative.
OPTIONAL_REQUEST_FIELDS = {
    "hello": ["timeout_ms", "client"],
    "ping": ["timeout_ms"],
    "resize": ["timeout_ms", "width", "height", "mode", "anchor", "filter", "format", "quality",
               "outputs", "auto_orient", "keep_icc", "keep_metadata", "fast", "enlarge"],
    "checksum": ["timeout_ms"],
    "checksum_file": ["timeout_ms"],
    "resize_file": ["timeout_ms", "width", "height", "mode", "anchor", "filter", "format", "quality",
                    "auto_orient", "keep_icc", "keep_metadata", "fast", "enlarge"],
    "stats": ["timeout_ms"],
    "probe": ["timeout_ms", "width", "height"],
    "cancel": ["timeout_ms"],
}

UNKNOWN_KEYS = {
    "x_future_map": {"a": [1, "two", None, True], "b": b"\x00\x01"},
    "x_future_float": Float(1.5),
}

FAKE_JPEG = bytes.fromhex("ffd8ffe000104a46")


def painted(n):
    return bytes(i % 251 for i in range(n))


def messages():
    """(name, kind, op, value) for every message the vectors lock. Dict order is canonical order."""
    req = "request"
    rep = "reply"
    out = [
        ("hello_request", req, "hello",
         {"id": 1, "op": "hello", "versions": [1], "client": "ferry-go/0.1.0"}),
        ("hello_request_minimal", req, "hello", {"id": 2, "op": "hello", "versions": [1, 2]}),
        ("hello_reply", rep, "hello", {
            "id": 1, "ok": True, "version": 1, "server": "ferryd 0.1.0", "max_frame": MAX_FRAME,
            "max_pixels": 100_000_000, "max_dimension": 32768,
            "ops": ["hello", "ping", "resize", "checksum", "stats", "cancel", "checksum_file",
                    "resize_file", "probe"],
            "input_formats": ["jpeg", "png", "webp", "gif", "heic", "avif"],
            "output_formats": ["jpeg", "png", "webp", "avif"],
            "modes": ["fit", "fill", "exact"],
            "filters": ["nearest", "bilinear", "catmull_rom", "lanczos3"],
            "algorithms": ["crc32c", "xxh3_64", "sha256", "blake3"],
            "workers": 2, "queue_jobs": 64, "queue_bytes": 268_435_456,
            "memory_budget": 2_147_483_648, "max_connections": 1024, "max_queue_wait_ms": 2000,
            "max_outputs": 8}),
        ("ping_request", req, "ping", {"id": 7, "op": "ping"}),
        ("ping_request_large_id", req, "ping",
         {"id": 18446744073709551615, "op": "ping", "timeout_ms": 4294967295}),
        ("ping_reply", rep, "ping", {"id": 7, "ok": True}),
        ("resize_request_minimal", req, "resize",
         {"id": 40, "op": "resize", "image": FAKE_JPEG, "width": 400}),
        ("resize_request_fill", req, "resize", {
            "id": 42, "op": "resize", "timeout_ms": 1500, "image": FAKE_JPEG, "width": 400,
            "height": 300, "mode": "fill", "anchor": "top", "filter": "catmull_rom",
            "format": "webp", "quality": 75}),
        ("resize_request_all_fields", req, "resize", {
            "id": 43, "op": "resize", "timeout_ms": 250, "image": painted(300), "width": 64,
            "height": 48, "mode": "exact", "anchor": "bottom_right", "filter": "nearest",
            "format": "png", "quality": 100, "auto_orient": False, "keep_icc": True,
            "keep_metadata": True}),
        ("resize_request_fast", req, "resize",
         {"id": 45, "op": "resize", "image": FAKE_JPEG, "width": 400, "height": 400,
          "fast": True}),
        ("resize_request_no_enlarge", req, "resize",
         {"id": 46, "op": "resize", "image": FAKE_JPEG, "width": 1200, "height": 1200,
          "enlarge": False}),
        ("resize_request_outputs_no_enlarge", req, "resize", {
            "id": 47, "op": "resize", "image": FAKE_JPEG,
            "outputs": [
                {"width": 1600, "height": 1600, "enlarge": False},
                {"width": 200, "height": 200, "mode": "fill", "enlarge": True},
            ]}),
        ("resize_reply", rep, "resize", {
            "id": 42, "ok": True, "image": painted(40), "width": 400, "height": 300,
            "format": "webp", "source_width": 5312, "source_height": 2988,
            "source_format": "jpeg"}),
        ("resize_request_outputs", req, "resize", {
            "id": 44, "op": "resize", "timeout_ms": 2000, "image": FAKE_JPEG,
            "outputs": [
                {"width": 1600, "height": 1600},
                {"width": 800, "height": 600, "mode": "fill", "anchor": "top",
                 "filter": "catmull_rom", "format": "webp", "quality": 70},
                {"width": 200, "format": "png"},
            ],
            "keep_metadata": True}),
        ("resize_reply_outputs", rep, "resize", {
            "id": 44, "ok": True,
            "outputs": [
                {"image": painted(30), "width": 1600, "height": 1067, "format": "jpeg"},
                {"image": painted(20), "width": 800, "height": 600, "format": "webp"},
                {"image": painted(10), "width": 200, "height": 133, "format": "png"},
            ],
            "source_width": 5312, "source_height": 3542, "source_format": "jpeg"}),
        ("checksum_request", req, "checksum",
         {"id": 3, "op": "checksum", "data": b"123456789", "algorithms": ["crc32c"]}),
        ("checksum_request_all", req, "checksum", {
            "id": 4, "op": "checksum", "timeout_ms": 100, "data": painted(1024),
            "algorithms": ["crc32c", "xxh3_64", "sha256", "blake3"]}),
        ("checksum_request_empty_data", req, "checksum",
         {"id": 5, "op": "checksum", "data": b"", "algorithms": ["blake3"]}),
        ("checksum_reply", rep, "checksum",
         {"id": 3, "ok": True, "digests": {"crc32c": bytes.fromhex("e3069283")}}),
        ("checksum_reply_all", rep, "checksum", {
            "id": 4, "ok": True, "digests": {a: digest(a, painted(1024)) for a in ALGORITHMS}}),
        ("checksum_file_request", req, "checksum_file",
         {"id": 50, "op": "checksum_file", "algorithms": ["blake3"]}),
        ("checksum_file_request_all", req, "checksum_file", {
            "id": 51, "op": "checksum_file", "timeout_ms": 5000,
            "algorithms": ["crc32c", "xxh3_64", "sha256", "blake3"]}),
        ("resize_file_request", req, "resize_file", {
            "id": 52, "op": "resize_file", "timeout_ms": 1500, "width": 400, "height": 300,
            "mode": "fill", "format": "webp", "quality": 75}),
        ("resize_file_request_minimal", req, "resize_file",
         {"id": 53, "op": "resize_file", "width": 64}),
        ("probe_request", req, "probe",
         {"id": 60, "op": "probe", "image": FAKE_JPEG, "width": 400, "height": 400}),
        ("probe_request_minimal", req, "probe", {"id": 61, "op": "probe", "image": FAKE_JPEG}),
        ("probe_reply", rep, "probe", {
            "id": 60, "ok": True, "format": "jpeg", "width": 3024, "height": 4032,
            "orientation": 6, "alpha": False, "icc": True, "progressive": False, "frames": 1,
            "memory": 9_064_960}),
        ("stats_request", req, "stats", {"id": 9, "op": "stats"}),
        ("stats_reply", rep, "stats", {
            "id": 9, "ok": True, "server": "ferryd 0.1.0", "uptime_ms": 123456,
            "connections": 3, "jobs_running": 2, "jobs_queued": 5, "queued_bytes": 7340032,
            "requests_total": 100000, "errors_total": 12, "busy_total": 4,
            "requests_by_op": {"ping": 60000, "resize": 30000, "checksum": 10000},
            "workers": 2, "memory_budget": 2_147_483_648, "memory_used": 52_428_800,
            "connections_refused": 7}),
        ("cancel_request", req, "cancel", {"id": 42, "op": "cancel"}),
    ]
    for code, name in ERROR_CODES:
        out.append((f"error_reply_{name}", rep, "*",
                    {"id": 0 if code in (1, 5, 14) else 42, "ok": False, "code": code,
                     "message": ERROR_MESSAGES[name]}))
    return out


ERROR_CODES = [
    (1, "malformed"), (2, "unsupported_version"), (3, "unknown_op"), (4, "invalid_argument"),
    (5, "frame_too_large"), (6, "bad_image"), (7, "image_too_large"), (8, "deadline_exceeded"),
    (9, "cancelled"), (10, "busy"), (11, "shutting_down"), (12, "internal"),
    (13, "too_large_for_budget"), (14, "peer_not_allowed"), (15, "bad_file"),
]

ERROR_MESSAGES = {
    "malformed": "body is not a MessagePack map with string keys",
    "unsupported_version": "no common protocol version; server speaks [1]",
    "unknown_op": "unknown op \"transmogrify\"",
    "invalid_argument": "quality must be 1..=100, got 0",
    "frame_too_large": "frame of 134217729 bytes exceeds max_frame 134217728",
    "bad_image": "unrecognised image format",
    "image_too_large": "image 20000x20000 exceeds max_pixels 100000000",
    "deadline_exceeded": "deadline passed before decode",
    "cancelled": "cancelled by client",
    "busy": "queue full: 64 jobs, 268435456 bytes",
    "shutting_down": "daemon is shutting down",
    "internal": "job panicked",
    "too_large_for_budget": "job needs an estimated 6400000000 bytes; the memory budget is 2147483648",
    "peer_not_allowed": "peer uid 65534 gid 65534 pid 4242 is not allowed",
    "bad_file": "not a regular file (a pipe)",
}


def alternatives(kind, op, value):
    """Other encodings of `value` that decoders must accept, with what each exercises."""
    alts = [
        ("uint64 integers", pack(value, Style(wide_ints=True))),
        ("signed integer forms", pack(value, Style(signed_ints=True))),
        ("str 32 strings", pack(value, Style(wide_str=True))),
        ("bin 32 payloads", pack(value, Style(wide_bin=True))),
        ("map 32 and array 32 headers", pack(value, Style(wide_containers=True))),
        ("keys in reverse order", pack(dict(reversed(list(value.items()))))),
        ("unknown keys first and last", pack({"x_future_map": UNKNOWN_KEYS["x_future_map"],
                                              **value,
                                              "x_future_float": UNKNOWN_KEYS["x_future_float"]})),
    ]
    if kind == "request":
        missing = [k for k in OPTIONAL_REQUEST_FIELDS.get(op, []) if k not in value]
        if missing:
            alts.append(("explicit nil for absent optional fields",
                         pack({**value, **{k: None for k in missing}})))
    if "outputs" in value:
        # The nested maps follow the section 3 rules too: any key order, unknown keys, nil.
        nested = [{"x_future": [1, {"y": None}], **dict(reversed(list(o.items()))),
                   **({"quality": None} if "quality" not in o else {})}
                  for o in value["outputs"]]
        alts.append(("outputs with keys reversed, unknown keys and explicit nil",
                     pack({**value, "outputs": nested})))
    canonical = pack(value)
    seen = {canonical}
    out = []
    for why, body in alts:
        if body in seen:
            continue
        seen.add(body)
        out.append({"why": why, "frame": frame(body).hex()})
    return out


# --- frames a daemon must refuse ----------------------------------------------------------

def png_bomb_header(width, height):
    """A tiny but well-formed PNG whose header declares width x height RGB pixels."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def invalid():
    """(name, description, frame bytes, code, reply_id, closes)."""
    def f(v):
        return frame(pack(v))
    return [
        ("oversize_length", "length prefix one byte over the default max_frame, no body",
         struct.pack(">I", MAX_FRAME + 1), 5, 0, True),
        ("empty_body", "N = 0", struct.pack(">I", 0), 1, 0, False),
        ("body_not_a_map", "an array instead of a map", f([1, "ping"]), 1, 0, False),
        ("body_never_used_byte", "0xc1 is not valid MessagePack", frame(b"\xc1"), 1, 0, False),
        ("body_truncated_value", "map header promises two pairs, body holds one",
         frame(b"\x82\xa2id\x07"), 1, 0, False),
        ("trailing_bytes", "a valid ping followed by one more byte",
         frame(pack({"id": 7, "op": "ping"}) + b"\xc0"), 1, 0, False),
        ("non_string_key", "an integer key", f({1: 2}), 1, 0, False),
        ("id_missing", "no id", f({"op": "ping"}), 1, 0, False),
        ("id_zero", "id 0 is reserved", f({"id": 0, "op": "ping"}), 1, 0, False),
        ("id_string", "id as a str", f({"id": "7", "op": "ping"}), 1, 0, False),
        ("id_negative", "id -1", f({"id": -1, "op": "ping"}), 1, 0, False),
        ("op_missing", "id but no op", f({"id": 9}), 1, 9, False),
        ("op_not_string", "op as an integer", f({"id": 10, "op": 5}), 1, 10, False),
        ("unknown_op", "an op nobody serves", f({"id": 11, "op": "transmogrify"}), 3, 11, False),
        ("resize_image_missing", "resize without image", f({"id": 12, "op": "resize", "width": 10}),
         1, 12, False),
        ("resize_image_int_array", "image as an array of integers, not bin",
         f({"id": 13, "op": "resize", "image": [255, 216, 255], "width": 10}), 1, 13, False),
        ("resize_image_str", "image as a str, not bin",
         f({"id": 14, "op": "resize", "image": "abc", "width": 10}), 1, 14, False),
        ("resize_width_negative", "width -5",
         f({"id": 15, "op": "resize", "image": FAKE_JPEG, "width": -5}), 1, 15, False),
        ("resize_width_over_uint32", "width 2^32",
         f({"id": 16, "op": "resize", "image": FAKE_JPEG, "width": 1 << 32}), 1, 16, False),
        ("resize_duplicate_key", "width given twice",
         frame(pack(Pairs([("id", 17), ("op", "resize"), ("image", FAKE_JPEG), ("width", 10),
                           ("width", 20)]))), 1, 17, False),
        ("resize_unknown_mode", "mode stretch",
         f({"id": 18, "op": "resize", "image": FAKE_JPEG, "width": 10, "mode": "stretch"}),
         4, 18, False),
        ("resize_unknown_filter", "filter gaussian",
         f({"id": 19, "op": "resize", "image": FAKE_JPEG, "width": 10, "filter": "gaussian"}),
         4, 19, False),
        ("resize_unknown_format", "format bmp",
         f({"id": 20, "op": "resize", "image": FAKE_JPEG, "width": 10, "format": "bmp"}),
         4, 20, False),
        ("resize_unknown_anchor", "anchor middle",
         f({"id": 21, "op": "resize", "image": FAKE_JPEG, "width": 10, "height": 10,
            "mode": "fill", "anchor": "middle"}), 4, 21, False),
        ("resize_quality_zero", "quality 0",
         f({"id": 22, "op": "resize", "image": FAKE_JPEG, "width": 10, "quality": 0}), 4, 22, False),
        ("resize_quality_over", "quality 101",
         f({"id": 23, "op": "resize", "image": FAKE_JPEG, "width": 10, "quality": 101}),
         4, 23, False),
        ("resize_fit_no_box", "fit with width 0 and height 0",
         f({"id": 24, "op": "resize", "image": FAKE_JPEG}), 4, 24, False),
        ("resize_fill_half_box", "fill needs both sides",
         f({"id": 25, "op": "resize", "image": FAKE_JPEG, "width": 10, "mode": "fill"}),
         4, 25, False),
        ("resize_box_over_max_dimension", "width 32769",
         f({"id": 26, "op": "resize", "image": FAKE_JPEG, "width": 32769}), 4, 26, False),
        ("resize_not_an_image", "bytes that are no image format",
         f({"id": 27, "op": "resize", "image": b"hello, world", "width": 10}), 6, 27, False),
        ("resize_truncated_jpeg", "a JPEG start of image marker and nothing else",
         f({"id": 28, "op": "resize", "image": FAKE_JPEG, "width": 10}), 6, 28, False),
        ("resize_png_bomb", "a 1 KB PNG declaring 20000x20000 pixels (400 MP)",
         f({"id": 29, "op": "resize", "image": png_bomb_header(20000, 20000), "width": 100}),
         7, 29, False),
        ("resize_png_too_wide", "a PNG declaring 40000x1 pixels, over max_dimension",
         f({"id": 30, "op": "resize", "image": png_bomb_header(40000, 1), "width": 100}),
         7, 30, False),
        ("resize_expired", "timeout_ms 0: expired on arrival",
         f({"id": 31, "op": "resize", "timeout_ms": 0, "image": FAKE_JPEG, "width": 10}),
         8, 31, False),
        ("checksum_unknown_algorithm", "md5 is not offered",
         f({"id": 32, "op": "checksum", "data": b"x", "algorithms": ["md5"]}), 4, 32, False),
        ("checksum_no_algorithms", "empty algorithm list",
         f({"id": 33, "op": "checksum", "data": b"x", "algorithms": []}), 4, 33, False),
        ("checksum_repeated_algorithm", "sha256 twice",
         f({"id": 34, "op": "checksum", "data": b"x", "algorithms": ["sha256", "sha256"]}),
         4, 34, False),
        ("checksum_data_missing", "no data",
         f({"id": 35, "op": "checksum", "algorithms": ["sha256"]}), 1, 35, False),
        ("checksum_expired", "timeout_ms 0: expired on arrival",
         f({"id": 36, "op": "checksum", "timeout_ms": 0, "data": b"x",
            "algorithms": ["crc32c"]}), 8, 36, False),
        ("hello_no_common_version", "a client that speaks only version 99",
         f({"id": 37, "op": "hello", "versions": [99]}), 2, 37, False),
        ("hello_empty_versions", "an empty versions list",
         f({"id": 38, "op": "hello", "versions": []}), 4, 38, False),
        ("hello_too_many_versions", "17 versions: the list holds at most 16",
         f({"id": 39, "op": "hello", "versions": list(range(1, 18))}), 4, 39, False),
        ("hello_version_not_uint", "a version as a str",
         f({"id": 40, "op": "hello", "versions": ["1"]}), 1, 40, False),
        ("checksum_too_many_algorithms", "5 algorithms: at most 4, each once",
         f({"id": 41, "op": "checksum", "data": b"x",
            "algorithms": ["crc32c", "xxh3_64", "sha256", "blake3", "crc32c"]}), 4, 41, False),
        ("checksum_algorithm_nil", "nil inside the algorithms array",
         f({"id": 42, "op": "checksum", "data": b"x", "algorithms": [None]}), 1, 42, False),
        ("resize_outputs_too_many", "9 outputs: at most 8 (checked from the array header)",
         f({"id": 46, "op": "resize", "image": FAKE_JPEG, "outputs": [{"width": 10}] * 9}),
         4, 46, False),
        ("resize_outputs_empty", "an empty outputs array",
         f({"id": 47, "op": "resize", "image": FAKE_JPEG, "outputs": []}), 4, 47, False),
        ("resize_outputs_with_width", "outputs plus a top-level width",
         f({"id": 48, "op": "resize", "image": FAKE_JPEG, "width": 10,
            "outputs": [{"width": 20}]}), 4, 48, False),
        ("resize_outputs_repeated_key", "an output map giving width twice",
         f({"id": 49, "op": "resize", "image": FAKE_JPEG,
            "outputs": [{"width": 20}, Pairs([("width", 10), ("width", 20)])]}), 1, 49, False),
        ("resize_outputs_not_array", "outputs as a map",
         f({"id": 50, "op": "resize", "image": FAKE_JPEG, "outputs": {"width": 10}}),
         1, 50, False),
        ("resize_outputs_element_not_map", "an output that is an integer",
         f({"id": 51, "op": "resize", "image": FAKE_JPEG, "outputs": [{"width": 10}, 7]}),
         1, 51, False),
        ("resize_outputs_non_string_key", "an output map with an integer key",
         f({"id": 52, "op": "resize", "image": FAKE_JPEG, "outputs": [{1: 10}]}), 1, 52, False),
        ("resize_outputs_width_str", "an output width as a str",
         f({"id": 53, "op": "resize", "image": FAKE_JPEG, "outputs": [{"width": "10"}]}),
         1, 53, False),
        ("resize_outputs_unknown_format", "an output in format bmp",
         f({"id": 54, "op": "resize", "image": FAKE_JPEG,
            "outputs": [{"width": 10}, {"width": 10, "format": "bmp"}]}), 4, 54, False),
        ("resize_outputs_quality_zero", "an output with quality 0",
         f({"id": 55, "op": "resize", "image": FAKE_JPEG, "outputs": [{"width": 10, "quality": 0}]}),
         4, 55, False),
        ("resize_outputs_fit_no_box", "an output with neither width nor height",
         f({"id": 56, "op": "resize", "image": FAKE_JPEG, "outputs": [{"width": 10}, {}]}),
         4, 56, False),
        ("resize_enlarge_not_bool", "enlarge as an integer",
         f({"id": 57, "op": "resize", "image": FAKE_JPEG, "width": 10, "enlarge": 0}),
         1, 57, False),
        ("resize_outputs_with_enlarge", "outputs plus a top-level enlarge (a box key)",
         f({"id": 58, "op": "resize", "image": FAKE_JPEG, "enlarge": False,
            "outputs": [{"width": 20}]}), 4, 58, False),
        ("probe_image_missing", "probe without image",
         f({"id": 70, "op": "probe", "width": 10}), 1, 70, False),
        ("probe_image_str", "image as a str, not bin",
         f({"id": 71, "op": "probe", "image": "abc"}), 1, 71, False),
        ("probe_width_not_uint", "width as a str",
         f({"id": 72, "op": "probe", "image": FAKE_JPEG, "width": "400"}), 1, 72, False),
        ("probe_box_over_max_dimension", "width 32769, checked before the image",
         f({"id": 73, "op": "probe", "image": FAKE_JPEG, "width": 32769}), 4, 73, False),
        ("probe_not_an_image", "bytes that are no image format",
         f({"id": 74, "op": "probe", "image": b"hello, world"}), 6, 74, False),
        ("probe_truncated_jpeg", "a JPEG start of image marker and nothing else",
         f({"id": 75, "op": "probe", "image": FAKE_JPEG}), 6, 75, False),
        ("probe_png_bomb", "a 1 KB PNG declaring 20000x20000 pixels (400 MP)",
         f({"id": 76, "op": "probe", "image": png_bomb_header(20000, 20000)}), 7, 76, False),
        ("id_repeated", "id given twice: no id can be trusted",
         frame(pack(Pairs([("id", 43), ("op", "ping"), ("id", 44)]))), 1, 0, False),
        ("non_string_key_after_id", "a readable id, then an integer key",
         frame(pack(Pairs([("id", 45), ("op", "ping"), (1, 2)]))), 1, 0, False),
        ("cancel_without_id", "a cancel with no id is answered like any body without one",
         f({"op": "cancel"}), 1, 0, False),
        ("checksum_file_without_descriptor", "a checksum_file frame sent with no SCM_RIGHTS",
         f({"id": 60, "op": "checksum_file", "algorithms": ["blake3"]}), 15, 60, False),
        ("resize_file_without_descriptor", "a resize_file frame sent with no SCM_RIGHTS",
         f({"id": 61, "op": "resize_file", "width": 64}), 15, 61, False),
    ]


# --- checksums ----------------------------------------------------------------------------

ALGORITHMS = ["crc32c", "xxh3_64", "sha256", "blake3"]
CHECKSUM_LENGTHS = [0, 1, 3, 63, 64, 65, 1023, 1024, 1025, 4096, 65537, 1 << 20, 3 << 20 | 7]


def crc32c(data):
    table = crc32c.table
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _crc32c_table():
    poly = 0x82F63B78  # Castagnoli, reflected
    out = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        out.append(c)
    return out


crc32c.table = _crc32c_table()


def digest(algorithm, data):
    if algorithm == "crc32c":
        return struct.pack(">I", crc32c(data))
    if algorithm == "xxh3_64":
        import xxhash
        return struct.pack(">Q", xxhash.xxh3_64_intdigest(data))
    if algorithm == "sha256":
        return hashlib.sha256(data).digest()
    if algorithm == "blake3":
        import blake3
        return blake3.blake3(data).digest()
    raise ValueError(algorithm)


def check_known_answers():
    """Published answers, so a broken reference implementation cannot write bad vectors."""
    known = [
        ("crc32c", b"123456789", "e3069283"),
        ("xxh3_64", b"", "2d06800538d394c2"),
        ("sha256", b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("blake3", b"", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"),
    ]
    for algorithm, data, want in known:
        got = digest(algorithm, data).hex()
        if got != want:
            sys.exit(f"{algorithm} reference implementation is wrong: {got} != {want}")


# --- output -------------------------------------------------------------------------------

def build():
    check_known_answers()
    msgs = []
    for name, kind, op, value in messages():
        msgs.append({
            "name": name, "kind": kind, "op": op, "value": to_json(value),
            "canonical": frame(pack(value)).hex(), "accept": alternatives(kind, op, value),
        })
    bad = [{"name": n, "description": d, "frame": fr.hex(), "code": c, "reply_id": i, "closes": cl}
           for n, d, fr, c, i, cl in invalid()]
    sums = [{"algorithm": a, "length": n, "digest": digest(a, painted(n)).hex()}
            for n in CHECKSUM_LENGTHS for a in ALGORITHMS]
    header = {"generator": "protocol/gen/generate.py", "protocol_version": 1,
              "max_frame": MAX_FRAME}

    def dump(obj):
        return json.dumps(obj, indent=1) + "\n"

    return {
        "SPEC.md": spec_with_examples({m["name"]: m["canonical"] for m in msgs}),
        "messages.json": dump({**header, "messages": msgs}),
        "invalid.json": dump({**header, "invalid": bad}),
        "checksums.json": dump({**header, "painting": "byte i = i mod 251", "checksums": sums}),
    }


def spec_with_examples(canonical):
    """SPEC.md with every example hex block rewritten from the vectors, so the two cannot drift.

    An example block is a fenced block that follows a line naming a vector as (`name`)."""
    def hexdump(h):
        pairs = [h[i:i + 2] for i in range(0, len(h), 2)]
        return "\n".join(" ".join(pairs[i:i + 32]) for i in range(0, len(pairs), 32))

    def replace(m):
        return m.group(1) + hexdump(canonical[m.group(2)]) + "\n```"

    pattern = re.compile(r"(\(`([a-z0-9_]+)`\)[^\n]*(?:\n(?!```)[^\n]+)*\n\n```\n)[0-9a-f \n]+?\n```")
    return pattern.sub(replace, SPEC.read_text())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="fail if the checked-in vectors differ from what this generator makes")
    args = ap.parse_args()
    files = build()
    if args.check:
        stale = [n for n, text in files.items() if not target(n).exists() or target(n).read_text() != text]
        if stale:
            print(f"vectors drifted from the generator: {', '.join(stale)}; "
                  "run python3 protocol/gen/generate.py and commit", file=sys.stderr)
            sys.exit(1)
        print(f"vectors up to date: {', '.join(sorted(files))}")
        return
    VECTORS.mkdir(exist_ok=True)
    for n, text in files.items():
        target(n).write_text(text)
        print(f"wrote {target(n)}")


def target(name):
    return SPEC if name == "SPEC.md" else VECTORS / name


if __name__ == "__main__":
    main()
