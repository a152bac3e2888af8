#!/usr/bin/env python3
"""Re-measures issue 8's hostile cases against a real ferryd, each on a fresh daemon, optionally
under an address-space limit (the issue's `ulimit -v 4194304`).

    python3 scripts/soak-limits.py [--ferryd target/release/ferryd] [--ulimit-v KIB] [CASE...]

Cases: hello, checksum, partial36, partial1000, unread, png100mp, twobyte. Each prints one line:
the daemon's peak RSS (VmHWM), how long it took, and whether the daemon survived (still
answers a ping afterwards, same pid). Standard library only. Heavy: run it alone, not in CI.
"""

import argparse
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

MIB = 1 << 20


def mp_str(s):
    b = s.encode()
    return bytes([0xA0 + len(b)]) + b


def frame(body):
    return struct.pack(">I", len(body)) + body


def ping(i):
    return frame(b"\x82" + mp_str("id") + bytes([i]) + mp_str("op") + mp_str("ping"))


def recv_frame(sock):
    head = recv_exact(sock, 4)
    if head is None:
        return None
    return recv_exact(sock, struct.unpack(">I", head)[0])


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class Daemon:
    def __init__(self, ferryd, ulimit_kib, args):
        self.dir = tempfile.mkdtemp(prefix="fys", dir="/tmp")
        self.sock = os.path.join(self.dir, "f.sock")
        self.log = open(os.path.join(self.dir, "log"), "w+")

        def limits():
            if ulimit_kib:
                resource.setrlimit(resource.RLIMIT_AS, (ulimit_kib * 1024, ulimit_kib * 1024))
            if "nofile" in args_extra:
                resource.setrlimit(resource.RLIMIT_NOFILE, (args_extra["nofile"],) * 2)

        args_extra = {}
        if args and isinstance(args[-1], dict):
            args_extra = args.pop()
        self.proc = subprocess.Popen([ferryd, "--socket", self.sock] + args, stdout=subprocess.DEVNULL,
                                     stderr=self.log, preexec_fn=limits)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.connect().close()
                return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("ferryd did not start")

    def connect(self, timeout=60):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.sock)
        return s

    def peak_rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) // 1024
        except OSError:
            return -1

    def alive(self):
        if self.proc.poll() is not None:
            return False
        try:
            s = self.connect(timeout=30)
            s.sendall(ping(99))
            ok = recv_frame(s) is not None
            s.close()
            return ok
        except OSError:
            return False

    def stop(self):
        rc = self.proc.poll()
        if rc is None:
            self.proc.terminate()
            self.proc.wait(30)
        return rc


def array32_body(op, fields, key, element, total):
    head = bytes([0x83 + (1 if fields else 0)]) + mp_str("id") + b"\x01" + mp_str("op") + mp_str(op) + fields
    head += mp_str(key) + b"\xdd"
    count = total - len(head) - 4
    return head + struct.pack(">I", count) + element * count


def case_hello(d):
    s = d.connect(120)
    s.sendall(frame(array32_body("hello", b"", "versions", b"\x01", 127 * MIB)))
    return "reply %d bytes" % len(recv_frame(s) or b"")


def case_checksum(d):
    s = d.connect(120)
    s.sendall(frame(array32_body("checksum", mp_str("data") + b"\xc4\x01x", "algorithms", b"\xc0", 127 * MIB)))
    return "reply %d bytes" % len(recv_frame(s) or b"")


def partial(d, count, announce, send):
    socks = []
    chunk = b"\x00" * MIB
    for _ in range(count):
        s = d.connect(5)
        try:
            s.sendall(struct.pack(">I", announce))
            sent = 0
            while sent < send:
                s.sendall(chunk[: min(MIB, send - sent)])
                sent += min(MIB, send - sent)
        except OSError:
            pass  # the daemon stopped reading (budget) or closed: what we are measuring
        socks.append(s)
    time.sleep(1)
    return socks


def case_partial36(d):
    socks = partial(d, 36, 128 * MIB, 120 * MIB)
    return "%d connections holding up to 120 MiB each" % len(socks)


def case_partial1000(d):
    socks = partial(d, 1000, 128 * MIB, 2)
    return "%d connections announcing 128 MiB" % len(socks)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, depth, colour, interlace, rows):
    """rows: an iterable of raw scanline bytes (filter byte included), compressed as they come."""
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(r) for r in rows) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def adam7_rows(width, height, bpp):
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
        if x0 >= width or y0 >= height:
            continue
        row = b"\x00" * (1 + ((width - x0 + dx - 1) // dx) * bpp)
        for _ in range(y0, height, dy):
            yield row


def resize_request(i, image, width, height=None, fmt=None):
    fields = [(mp_str("id"), struct.pack(">BI", 0xCE, i)), (mp_str("op"), mp_str("resize")),
              (mp_str("image"), b"\xc6" + struct.pack(">I", len(image)) + image),
              (mp_str("width"), b"\xcd" + struct.pack(">H", width))]
    if height:
        fields.append((mp_str("height"), b"\xcd" + struct.pack(">H", height)))
        fields.append((mp_str("mode"), mp_str("exact")))
    if fmt:
        fields.append((mp_str("format"), mp_str(fmt)))
    return frame(bytes([0x80 + len(fields)]) + b"".join(k + v for k, v in fields))


def case_png100mp(d):
    image = png(10000, 10000, 16, 6, 1, adam7_rows(10000, 10000, 8))
    socks = [d.connect(600) for _ in range(4)]
    for i, s in enumerate(socks):
        s.sendall(resize_request(i + 1, image, 400))
    codes = []
    for s in socks:
        reply = recv_frame(s) or b""
        codes.append("ok" if b"\xa2ok\xc3" in reply else "error %d" % reply[reply.find(b"code") + 4] if b"code" in reply else "eof")
    return "input %d bytes; replies: %s" % (len(image), ", ".join(codes))


def case_unread(d):
    # A noisy 600x600 PNG blown up to 2000x2000: a ~12 MB PNG reply, 160 times, never read.
    import random
    rnd = random.Random(1)
    rows = (b"\x00" + bytes(rnd.getrandbits(8) for _ in range(600 * 3)) for _ in range(600))
    image = png(600, 600, 8, 2, 0, rows)
    s = d.connect(600)
    s.settimeout(5)
    sent = 0
    try:
        for i in range(160):
            s.sendall(resize_request(i + 1, image, 2000, 2000, "png"))
            sent += 1
    except OSError:
        pass
    time.sleep(20)
    return "%d requests sent, replies unread" % sent


def case_twobyte(d):
    socks = []
    for _ in range(1000):
        try:
            s = d.connect(2)
            s.sendall(b"\x00\x00")
            socks.append(s)
        except OSError:
            break
    started = time.time()
    healthy = None
    while time.time() - started < 120:
        try:
            s = d.connect(5)
            s.sendall(ping(1))
            if recv_frame(s):
                healthy = time.time() - started
                break
        except OSError:
            time.sleep(0.2)
    return "%d idle 2-byte connections; healthy ping answered after %s s" % (
        len(socks), "%.1f" % healthy if healthy is not None else "never")


CASES = {
    "hello": (case_hello, []),
    "checksum": (case_checksum, []),
    "partial36": (case_partial36, []),
    "partial1000": (case_partial1000, []),
    "unread": (case_unread, ["--workers", "2"]),
    "png100mp": (case_png100mp, ["--workers", "4"]),
    "twobyte": (case_twobyte, ["--frame-timeout", "5", {"nofile": 256}]),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferryd", default="target/release/ferryd")
    ap.add_argument("--ulimit-v", type=int, default=4194304, help="KiB of address space (0: none)")
    ap.add_argument("cases", nargs="*", default=list(CASES))
    opts = ap.parse_args()
    for name in opts.cases:
        run, args = CASES[name]
        d = Daemon(opts.ferryd, opts.ulimit_v, list(args))
        pid = d.proc.pid
        started = time.time()
        try:
            what = run(d)
        except Exception as e:  # noqa: BLE001 - a failing case is reported, the others still run
            what = "client error: %s" % e
        took = time.time() - started
        survived = d.alive() and d.proc.pid == pid
        print("%-12s peak RSS %6d MiB  %6.1f s  survived=%s  %s" % (name, d.peak_rss_mib(), took, survived, what),
              flush=True)
        rc = d.stop()
        if rc is not None:
            print("             daemon exited with %s; log tail:\n%s" % (rc, open(d.log.name).read()[-600:]))


if __name__ == "__main__":
    sys.exit(main())
