//! Peer credentials: `--allow-uid` / `--allow-gid` checked on accept, with a real client running
//! as another user (uid/gid 65534, `nobody`). The other user needs root to become, so these
//! tests say loudly that they skipped when not run as root.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rmpv::Value;

use crate::harness::{request, Daemon, Reply};

const NOBODY: u32 = 65534;
const PEER_NOT_ALLOWED: u64 = 14;

/// A client as a separate process: connects, sends `body` as one frame, closes its write side
/// and reads until the daemon closes. A refused client can find the connection closed before it
/// writes (EPIPE); like any client it must still read the error frame that was sent. Python, so that it can run as another uid without a
/// helper binary.
const CLIENT: &str = r#"
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
body = bytes.fromhex(sys.argv[2])
try:
    s.sendall(struct.pack(">I", len(body)) + body)
    s.shutdown(socket.SHUT_WR)
except (BrokenPipeError, ConnectionResetError):
    pass  # a refused peer may be closed before its request is written; its error frame still waits
data, end = b"", "eof"
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        end = "reset"
        break
    if not chunk:
        break
    data += chunk
print(os.getuid(), os.getgid())
print(data.hex())
print(end)
"#;

/// What the client process saw.
struct Seen {
    pid: u32,
    uid_gid: String,
    replies: Vec<Reply>,
}

/// Runs [`CLIENT`] as `uid`/`gid` against `daemon`, sending a ping with `id`.
fn ping_as(daemon: &Daemon, uid: u32, gid: u32, id: u64) -> Seen {
    let body = request(id, "ping", vec![]);
    let child = Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .arg(&daemon.socket)
        .arg(hex::encode(&body))
        .uid(uid)
        .gid(gid)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3 as another user");
    let pid = child.id();
    let child = child.wait_with_output().expect("the client's output");
    assert!(child.status.success(), "client failed: {}", String::from_utf8_lossy(&child.stderr));
    let stdout = String::from_utf8(child.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "client output: {stdout}");
    let bytes = hex::decode(lines[1]).unwrap();
    let mut replies = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let mut body = &rest[4..4 + len];
        replies.push(Reply(rmpv::decode::read_value(&mut body).expect("MessagePack reply")));
        rest = &rest[4 + len..];
    }
    Seen { pid, uid_gid: lines[0].to_string(), replies }
}

/// Starts a daemon whose socket another user can reach (directory 0755, socket 0666).
fn daemon_for_others(args: &[&str]) -> Daemon {
    let mut all = vec!["--socket-mode", "0666"];
    all.extend_from_slice(args);
    let daemon = Daemon::start(&all);
    let dir = daemon.socket.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    daemon
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIPPED: peer-credential tests need root to run a client as uid {NOBODY}; run them as root (make test in CI does)");
    }
    root
}

#[test]
fn a_peer_outside_the_allowlist_gets_peer_not_allowed_then_end_of_stream() {
    if !running_as_root() {
        return;
    }
    let daemon = daemon_for_others(&["--allow-uid", "0"]);
    let seen = ping_as(&daemon, NOBODY, NOBODY, 7);
    assert_eq!(seen.uid_gid, format!("{NOBODY} {NOBODY}"), "the client ran as nobody");
    assert_eq!(seen.replies.len(), 1, "one error frame, then the connection closes: {:?}", seen.replies);
    let refusal = &seen.replies[0];
    assert_eq!((refusal.id(), refusal.code()), (0, Some(PEER_NOT_ALLOWED)), "{refusal:?}");
    let message = refusal.get("message").and_then(Value::as_str).unwrap();
    assert!(message.contains("65534"), "{message}");
    let log = daemon.log();
    let line = log.lines().find(|l| l.contains("peer refused")).unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    // Text (`uid=65534`) or JSON (`"uid":65534`) lines, whichever --log-format auto chose.
    let has = |key: &str, value: String| line.contains(&format!("{key}={value}")) || line.contains(&format!("\"{key}\":{value}"));
    assert!(has("uid", "65534".into()) && has("gid", "65534".into()) && has("pid", seen.pid.to_string()), "{line}");

    // Root is on the list and is served on the same daemon.
    let mut client = daemon.connect();
    client.expect_alive(1);
}

#[test]
fn a_listed_uid_or_gid_is_served() {
    if !running_as_root() {
        return;
    }
    for args in [["--allow-uid", "65534"], ["--allow-gid", "65534"]] {
        let daemon = daemon_for_others(&args);
        let seen = ping_as(&daemon, NOBODY, NOBODY, 9);
        assert_eq!(seen.replies.len(), 1, "{args:?}: {:?}", seen.replies);
        let pong = &seen.replies[0];
        assert_eq!((pong.id(), pong.ok()), (9, true), "{args:?}: {pong:?}");
        // Root is not implicitly allowed.
        let mut root = daemon.connect();
        let refusal = root.recv();
        assert_eq!((refusal.id(), refusal.code()), (0, Some(PEER_NOT_ALLOWED)), "{args:?}: root: {refusal:?}");
        root.expect_eof();
    }
}
