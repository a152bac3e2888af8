#!/usr/bin/env python3
"""Writes the seeds of the frame_request fuzz target (fuzz/seeds/frame_request) from the golden
vectors in protocol/vectors: every canonical and accepted request frame and every invalid frame,
each as one stream, plus all valid requests back to back. The target reads its first byte as the
read size: 0xff (one read) for single frames, and small read sizes for the long streams so
prefixes split across reads are in the corpus from the start. Run from anywhere; rewrites the
directory."""

import json
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "seeds" / "frame_request"
WHOLE = b"\xff"


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    messages = json.loads((ROOT / "protocol/vectors/messages.json").read_text())["messages"]
    invalid = json.loads((ROOT / "protocol/vectors/invalid.json").read_text())["invalid"]
    stream = b""
    for m in messages:
        if m["kind"] != "request":
            continue
        frames = [bytes.fromhex(m["canonical"])] + [bytes.fromhex(a["frame"]) for a in m.get("accept", [])]
        for i, frame in enumerate(frames):
            (OUT / f"{m['name']}-{i}").write_bytes(WHOLE + frame)
        stream += frames[0]
    for v in invalid:
        (OUT / f"invalid-{v['name']}").write_bytes(WHOLE + bytes.fromhex(v["frame"]))
    for step in (0, 2, 6):  # read sizes 1, 3 and 7 bytes
        (OUT / f"all-requests-read-{step + 1}").write_bytes(bytes([step]) + stream)
    print(f"{len(list(OUT.iterdir()))} seeds in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
