#!/usr/bin/env python3
"""Re-measures the hostile cases of issues 8 and 18 against a real ferryd, each on a fresh
daemon, optionally under an address-space limit (the issues' `ulimit -v 4194304`: a 2 GiB
default memory budget).

    python3 scripts/soak-limits.py [--ferryd target/release/ferryd] [--ulimit-v KIB] [CASE...]

Issue 8's cases: hello, checksum, partial36, partial1000, unread, png100mp, twobyte.
Issue 18's: prefix60 and partial17 (the attacks, with a healthy client's figures during them:
pings on new connections, p99, and a 400 px resize of a shared photo), splitfd (1,000
descriptor frames split at random points with random pauses), wrongfile (descriptors on the
wrong frame), config (refused configurations), metrics (the Unix metrics socket's mode).
Each prints one line: the daemon's peak RSS (VmHWM), how long it took, whether the daemon
survived (still answers a ping afterwards, same pid), and the case's figures. Standard library
only. Heavy: run it alone, not in CI (tests/daemon runs bounded versions).
"""

import argparse
import array
import os
import random
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


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The shared photo of issue 18 (picos.jpg, 1.8 MB) from the bench corpus (make bench's CORPUS),
# else a sample photo of the repository.
PHOTO = next(p for p in [os.environ.get("PHOTO", ""), os.path.join(REPO, "..", "shared", "corpus", "picos.jpg"),
                         os.path.join(REPO, "..", "..", "shared", "corpus", "picos.jpg"),
                         os.path.join(REPO, "tests", "data", "photos", "astronaut.png")] if p and os.path.exists(p))


def mp_str(s):
    b = s.encode()
    return bytes([0xA0 + len(b)]) + b


def mp_uint(n):
    return bytes([n]) if n < 128 else b"\xce" + struct.pack(">I", n)


def reply_code(reply):
    """'ok', 'error N' or 'eof' for a reply body (a map with `ok` and maybe `code`)."""
    if reply is None:
        return "eof"
    if b"\xa2ok\xc3" in reply:
        return "ok"
    at = reply.find(b"\xa4code")
    return "error %d" % reply[at + 5] if at >= 0 else "?"


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
        self.metrics = os.path.join(self.dir, "m.sock")
        args = [a.replace("unix:METRICS", "unix:" + self.metrics) for a in args]
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


CODE_NAMES = {"error 1": "malformed", "error 10": "busy", "error 15": "bad_file", "error 7": "image_too_large"}


def named(code):
    return CODE_NAMES.get(code, code)


def tally(codes):
    counts = {}
    for c in codes:
        counts[named(c)] = counts.get(named(c), 0) + 1
    return ", ".join("%s %d/%d" % (k, v, len(codes)) for k, v in sorted(counts.items()))


def stats_uint(d, key):
    """A uint of `stats` on a new connection; -1 when it is not answered within 8 s."""
    try:
        s = d.connect(8)
        s.sendall(frame(b"\x82" + mp_str("id") + b"\x01" + mp_str("op") + mp_str("stats")))
        reply = recv_frame(s) or b""
        s.close()
    except OSError:
        return -1
    at = reply.find(mp_str(key))
    if at < 0:
        return -1
    at += len(mp_str(key))
    kind = reply[at]
    if kind < 0x80:
        return kind
    size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[kind]
    return int.from_bytes(reply[at + 1:at + 1 + size], "big")


def mib(n):
    return "%d" % (n >> 20) if n >= 0 else "(stats unanswered)"


def healthy(d, window=12.0, pings=100, resizes=10):
    """A healthy client during an attack, inside `window` seconds (the attack lasts until the
    30 s frame timeout): pings, each on a new connection (8 s patience), and, at the same time
    from another thread, 400 px resizes of a shared photo, each on a new connection."""
    lat, lost, codes = [], [0], []
    started = time.time()
    photo = open(PHOTO, "rb").read()

    def resize_loop():
        for i in range(resizes):
            if time.time() - started > window:
                break
            try:
                s = d.connect(8)
                s.sendall(resize_request(i + 1, photo, 400))
                codes.append(reply_code(recv_frame(s)))
                s.close()
            except OSError as e:
                codes.append("timeout" if isinstance(e, socket.timeout) else "oserror")

    resizer = threading.Thread(target=resize_loop)
    resizer.start()
    while len(lat) + lost[0] < pings and time.time() - started < window:
        t = time.time()
        try:
            s = d.connect(8)
            s.sendall(ping(1))
            if recv_frame(s) is None:
                lost[0] += 1
            else:
                lat.append(time.time() - t)
            s.close()
        except OSError:
            lost[0] += 1
    resizer.join()
    lat.sort()

    def pct(q):
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    return ("healthy pings on new connections: %d answered, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d unanswered "
            "in 8 s; 400 px resize of %s (%d bytes): %s" % (
                len(lat), pct(0.5), pct(0.99), lat[-1] * 1000 if lat else float("nan"), lost[0],
                os.path.basename(PHOTO), len(photo), tally(codes)))


def case_prefix60(d):
    socks = []
    for _ in range(60):
        s = d.connect(5)
        s.sendall(struct.pack(">I", 128 * MIB))
        socks.append(s)
    time.sleep(0.5)
    figures = healthy(d)
    used, budget = stats_uint(d, "memory_used"), stats_uint(d, "memory_budget")
    return "60 connections x 4-byte prefix announcing 128 MiB: memory_used %s of %s MiB; %s" % (
        mib(used), mib(budget), figures)


def case_partial17(d):
    sent = [0] * 17
    socks = [d.connect(60) for _ in range(17)]

    def attack(i):
        chunk = b"\x00" * MIB
        try:
            socks[i].sendall(struct.pack(">I", 128 * MIB))
            while sent[i] < 120 * MIB:
                socks[i].sendall(chunk)
                sent[i] += MIB
        except OSError:
            pass  # closed by the frame timeout, or still blocked when the case ends

    threads = [threading.Thread(target=attack, args=(i,), daemon=True) for i in range(17)]
    for t in threads:
        t.start()
    # Until the attackers make no more progress (the daemon took all it will take).
    last, still = -1, time.time()
    while time.time() - still < 1.5 and any(t.is_alive() for t in threads):
        total = sum(sent)
        if total != last:
            last, still = total, time.time()
        time.sleep(0.1)
    figures = healthy(d)
    used = stats_uint(d, "memory_used")
    return "17 connections sending 120 MiB of 128 MiB: %d MiB sent, memory_used %s MiB; %s" % (
        sum(sent) >> 20, mib(used), figures)


def send_with_fds(sock, data, fds):
    return sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])


def checksum_file_body(i):
    return (b"\x83" + mp_str("id") + mp_uint(i) + mp_str("op") + mp_str("checksum_file")
            + mp_str("algorithms") + b"\x91" + mp_str("crc32c"))


def crc_of(reply):
    at = (reply or b"").find(mp_str("crc32c") + b"\xc4\x04")
    return reply[at + 9:at + 13] if at >= 0 else None


def reply_id(reply):
    at = reply.find(mp_str("id")) + 3
    kind = reply[at]
    if kind < 0x80:
        return kind
    size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[kind]
    return int.from_bytes(reply[at + 1:at + 1 + size], "big")


def two_files():
    """Two files of different content and the daemon-independent digest check: their crc32c as
    the daemon computes for `checksum` of the same bytes."""
    rnd = random.Random(7)
    paths = []
    for n in range(2):
        fd, path = tempfile.mkstemp(prefix="fyf")
        os.write(fd, bytes(rnd.getrandbits(8) for _ in range(20000 + n)))
        os.close(fd)
        paths.append(path)
    return paths


def expected_crcs(d, paths):
    crcs = []
    for path in paths:
        data = open(path, "rb").read()
        s = d.connect(10)
        s.sendall(frame(b"\x84" + mp_str("id") + b"\x01" + mp_str("op") + mp_str("checksum") + mp_str("data")
                        + b"\xc5" + struct.pack(">H", len(data)) + data + mp_str("algorithms") + b"\x91"
                        + mp_str("crc32c")))
        crcs.append(crc_of(recv_frame(s)))
        s.close()
    return crcs


def split_descriptor_frames(d, count, seed=18, pauses=True, give_up=20):
    """`count` checksum_file frames, alternating two files, each sent as a random first part with
    its descriptor and the rest after a random pause (none when not `pauses`: the rest is often
    queued before the daemon reads the first part), in pipelined batches of 1 to 4. A reply
    missing for 2 s counts its batch unanswered (a new connection goes on); after `give_up`
    unanswered the run stops. Returns (right file, wrong file, error replies, unanswered)."""
    paths = two_files()
    crcs = expected_crcs(d, paths)
    files = [os.open(p, os.O_RDONLY) for p in paths]
    rnd = random.Random(seed)
    s = d.connect(2)
    right = wrong = errors = lost = 0
    i = 0
    while i < count and lost < give_up:
        batch = []
        for _ in range(min(rnd.randint(1, 4), count - i)):
            i += 1
            which = i % 2
            whole = frame(checksum_file_body(i))
            k = rnd.randint(1, len(whole) - 1)
            send_with_fds(s, whole[:k], [files[which]])
            pause = rnd.choice([0, 0, 0.0005, 0.002, rnd.uniform(0, 0.02)])
            if pauses:
                time.sleep(pause)
            s.sendall(whole[k:])
            batch.append((i, which))
        want = dict(batch)
        for _ in batch:
            try:
                reply = recv_frame(s)
            except OSError:
                reply = None
            if reply is None:
                lost += len(want)
                s.close()
                s = d.connect(2)
                break
            which = want.pop(reply_id(reply), None)
            crc = crc_of(reply)
            if crc is None:
                errors += 1
            elif which is not None and crc == crcs[which]:
                right += 1
            else:
                wrong += 1
    for f in files:
        os.close(f)
    for p in paths:
        os.unlink(p)
    return right, wrong, errors, lost


def case_splitfd(d):
    out = []
    for pauses in (True, False):
        right, wrong, errors, lost = split_descriptor_frames(d, 1000, pauses=pauses)
        out.append("%s: %d/1000 answered with their own file, %d wrong file, %d errors, %d unanswered%s" % (
            "random pauses" if pauses else "no pauses", right, wrong, errors, lost,
            " (stopped after 20 unanswered)" if lost >= 20 else ""))
    return "split descriptor frames, " + "; ".join(out)


def case_wrongfile(d):
    paths = two_files()
    fd = os.open(paths[0], os.O_RDONLY)
    s = d.connect(10)
    out = []
    unreadable_id = (b"\x83" + mp_str("id") + mp_str("x") + mp_str("op") + mp_str("checksum_file")
                     + mp_str("algorithms") + b"\x91" + mp_str("crc32c"))
    send_with_fds(s, frame(unreadable_id), [fd])
    out.append("file frame with an unreadable id: %s" % named(reply_code(recv_frame(s))))
    s.sendall(frame(checksum_file_body(2)))
    out.append("the next file frame, sent without a descriptor: %s" % named(reply_code(recv_frame(s))))
    send_with_fds(s, ping(3), [fd])
    out.append("a ping with a descriptor: %s" % named(reply_code(recv_frame(s))))
    s.sendall(frame(checksum_file_body(4)))
    out.append("then a file frame without one: %s" % named(reply_code(recv_frame(s))))
    send_with_fds(s, frame(checksum_file_body(5)), [fd, fd])
    out.append("two descriptors in one SCM_RIGHTS: %s" % named(reply_code(recv_frame(s))))
    os.close(fd)
    for p in paths:
        os.unlink(p)
    return "; ".join(out)


def try_config(ferryd, ulimit_kib, args, env, patience=6.0):
    """Starts ferryd with a refused configuration: how long until it exited and what it said, or
    that it started anyway."""
    tmp = tempfile.mkdtemp(prefix="fyc", dir="/tmp")
    sock = os.path.join(tmp, "f.sock")

    def limits():
        if ulimit_kib:
            resource.setrlimit(resource.RLIMIT_AS, (ulimit_kib * 1024, ulimit_kib * 1024))

    full_env = dict(os.environ, **env)
    started = time.time()
    proc = subprocess.Popen([ferryd, "--socket", sock] + args, env=full_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=limits)
    while time.time() - started < patience:
        if proc.poll() is not None:
            said = proc.stderr.read().decode(errors="replace").strip().splitlines()
            return "refused in %.2f s (exit %d): %s" % (time.time() - started, proc.returncode,
                                                        said[-1][:200] if said else "")
        if os.path.exists(sock):
            took = time.time() - started
            proc.kill()
            proc.wait()
            return "ACCEPTED: listening after %.2f s" % took
        time.sleep(0.02)
    rss = -1
    try:
        with open("/proc/%d/status" % proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) // 1024
            threads = len(os.listdir("/proc/%d/task" % proc.pid))
    except OSError:
        threads = -1
    proc.kill()
    proc.wait()
    return "NOT REFUSED: no socket after %.0f s, RSS %d MiB, %d threads" % (patience, rss, threads)


def case_config(ferryd, ulimit_kib):
    tmp = tempfile.mkdtemp(prefix="fyk", dir="/tmp")
    tiny = os.path.join(tmp, "tiny.toml")
    with open(tiny, "w") as f:
        f.write("frame_timeout = 0.000001\n")
    runs = [
        ("--config /dev/zero", ["--config", "/dev/zero"], {}),
        ("FERRYD_WORKERS=100000", [], {"FERRYD_WORKERS": "100000"}),
        ("--frame-timeout 0", ["--frame-timeout", "0"], {}),
        ("frame_timeout = 1 us in a file", ["--config", tiny], {}),
        ("--max-queue-wait 0", ["--max-queue-wait", "0"], {}),
    ]
    return "\n".join("  config %-34s %s" % (name, try_config(ferryd, ulimit_kib, args, env)) for name, args, env in runs)


def case_metrics(d):
    return "metrics socket %s mode %o (main socket %o)" % (
        d.metrics, os.stat(d.metrics).st_mode & 0o777, os.stat(d.sock).st_mode & 0o777)


CASES = {
    "hello": (case_hello, []),
    "checksum": (case_checksum, []),
    "partial36": (case_partial36, []),
    "partial1000": (case_partial1000, []),
    "unread": (case_unread, ["--workers", "2"]),
    "png100mp": (case_png100mp, ["--workers", "4"]),
    "twobyte": (case_twobyte, ["--frame-timeout", "5", {"nofile": 256}]),
    "prefix60": (case_prefix60, []),
    "partial17": (case_partial17, []),
    "splitfd": (case_splitfd, ["--workers", "1"]),
    "wrongfile": (case_wrongfile, []),
    "config": (None, []),
    "metrics": (case_metrics, ["--metrics-listen", "unix:METRICS"]),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferryd", default="target/release/ferryd")
    ap.add_argument("--ulimit-v", type=int, default=4194304, help="KiB of address space (0: none)")
    ap.add_argument("cases", nargs="*", default=list(CASES))
    opts = ap.parse_args()
    for name in opts.cases:
        run, args = CASES[name]
        if run is None:
            print("%-12s refused configurations, under ulimit -v %d KiB:\n%s" % (
                name, opts.ulimit_v, case_config(opts.ferryd, opts.ulimit_v)), flush=True)
            continue
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
