//! The operator's side: `ferryd health`, `stats` and `check-config` against a real daemon, the
//! config file's precedence and refusals, every flag documented, and every log line valid JSON.

use std::collections::HashSet;
use std::fmt;
use std::process::{Command, Output};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::harness::{bin, painted, request, short_tempdir, strs, Daemon, FERRYD};

fn ferryd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(FERRYD);
    for (key, _) in std::env::vars() {
        if key.starts_with("FERRYD_") {
            command.env_remove(key);
        }
    }
    command.args(args).envs(env.iter().copied()).output().expect("run ferryd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn health_is_zero_for_a_serving_daemon_and_one_otherwise() {
    let mut daemon = Daemon::start(&[]);
    let socket = daemon.socket.to_str().unwrap().to_string();
    let up = ferryd(&["--socket", &socket, "health"], &[]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(text(&up.stdout).starts_with("ok: ferryd "), "{}", text(&up.stdout));
    // The flag after the subcommand, as a probe or a person types it.
    let up = ferryd(&["health", "--socket", &socket], &[]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    // The socket from the environment, as a Kubernetes probe passes it.
    let up = ferryd(&["health", "--timeout", "1"], &[("FERRYD_SOCKET", &socket)]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert_eq!(daemon.terminate().code(), Some(0));
    let down = ferryd(&["--socket", &socket, "health", "--timeout", "0.5"], &[]);
    assert_eq!(down.status.code(), Some(1));
    assert!(text(&down.stderr).contains("unhealthy: cannot connect to"), "{}", text(&down.stderr));
}

#[test]
fn health_times_out_on_a_socket_nobody_answers() {
    let dir = short_tempdir();
    let path = dir.path().join("mute.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let started = std::time::Instant::now();
    let mute = ferryd(&["--socket", path.to_str().unwrap(), "health", "--timeout", "0.3"], &[]);
    assert_eq!(mute.status.code(), Some(1));
    assert!(text(&mute.stderr).contains("no reply to `hello`"), "{}", text(&mute.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn stats_prints_the_daemons_counters_as_text_and_json() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let mut client = daemon.connect();
    client.call(&request(1, "checksum", vec![("data", bin(&painted(1000))), ("algorithms", strs(&["crc32c"]))])).expect_ok();
    let socket = daemon.socket.to_str().unwrap();
    let json = ferryd(&["--socket", socket, "stats", "--json"], &[]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(stats["workers"], 2);
    assert_eq!(stats["requests_by_op"]["checksum"], 1);
    assert!(stats["server"].as_str().unwrap().starts_with("ferryd "));
    let human = text(&ferryd(&["--socket", socket, "stats"], &[]).stdout);
    assert!(human.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["workers", "2"]), "{human}");
    assert!(human.contains("requests_by_op.checksum"), "{human}");
}

#[test]
fn settings_come_from_flags_then_variables_then_the_file_then_defaults() {
    let dir = short_tempdir();
    let file = dir.path().join("ferryd.toml");
    std::fs::write(&file, "queue_jobs = 7\nworkers = 3\nmax_frame = \"64MiB\"\nqueue_bytes = \"1GiB\"\n").unwrap();
    let file = file.to_str().unwrap();
    let out = ferryd(&["--config", file, "--workers", "5", "check-config"], &[("FERRYD_QUEUE_JOBS", "9"), ("FERRYD_WORKERS", "4")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let table: toml::Table = printed.parse().expect("check-config prints a valid config file");
    assert_eq!(table["workers"].as_integer(), Some(5), "flag beats variable and file");
    assert_eq!(table["queue_jobs"].as_integer(), Some(9), "variable beats file");
    assert_eq!(table["max_frame"].as_str(), Some("64MiB"), "file beats default");
    assert_eq!(table["max_pixels"].as_integer(), Some(100_000_000), "default");
    for line in ["# flag", "# env FERRYD_QUEUE_JOBS", &format!("# file {file}"), "# default"] {
        assert!(printed.contains(line), "missing {line:?} in\n{printed}");
    }
    // The same file through FERRYD_CONFIG, and the daemon really runs with it.
    let socket = dir.path().join("f.sock");
    let mut run = Command::new(FERRYD);
    run.env("FERRYD_CONFIG", file);
    let daemon = Daemon::spawn(run, &socket, dir.path(), &[]);
    let mut daemon = daemon;
    daemon.wait_ready();
    let hello = daemon.connect().call(&request(1, "hello", vec![("versions", rmpv::Value::Array(vec![1.into()]))]));
    assert_eq!((hello.uint("workers"), hello.uint("queue_jobs"), hello.uint("max_frame")), (3, 7, 64 << 20));
}

#[test]
fn a_bad_config_file_is_refused_naming_the_key_and_the_file() {
    let dir = short_tempdir();
    let file = dir.path().join("bad.toml");
    let path = file.to_str().unwrap();
    for (content, expected) in [
        ("queue_job = 7\n", "unknown key `queue_job`"),
        ("queue_jobs = \"lots\"\n", "key `queue_jobs`: invalid value 'lots'"),
        ("[capacity]\nworkers = 2\n", "key `capacity`: tables are not settings"),
        ("queue_jobs = 0\n", "--queue-jobs must be at least 1"),
        ("workers = \n", "is not valid TOML"),
    ] {
        std::fs::write(&file, content).unwrap();
        for args in [vec!["--config", path, "check-config"], vec!["--config", path, "--socket", "/tmp/fy-never.sock"]] {
            let out = ferryd(&args, &[]);
            assert_eq!(out.status.code(), Some(1), "{content:?} with {args:?}");
            let stderr = text(&out.stderr);
            assert!(stderr.contains(expected), "{content:?}: {stderr}");
            if !expected.starts_with("--") {
                assert!(stderr.contains(path), "{content:?}: names the file: {stderr}");
            }
        }
    }
    let missing = ferryd(&["--config", "/nonexistent/ferryd.toml", "check-config"], &[]);
    assert!(text(&missing.stderr).contains("cannot read the config file /nonexistent/ferryd.toml"));
}

#[test]
fn every_flag_in_help_is_in_the_operators_guide() {
    let help = text(&ferryd(&["--help"], &[]).stdout);
    let guide_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/OPERATIONS.md");
    let guide = std::fs::read_to_string(guide_path).expect("docs/OPERATIONS.md");
    let mut flags: Vec<String> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(String::from)
        .collect();
    for sub in ["health", "stats", "check-config"] {
        let sub_help = text(&ferryd(&[sub, "--help"], &[]).stdout);
        flags.extend(sub_help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).filter(|w| w.starts_with("--") && w.len() > 2).map(String::from));
        assert!(guide.contains(&format!("ferryd {sub}")) || guide.contains(&format!("{sub}`")), "subcommand {sub} undocumented");
    }
    flags.sort();
    flags.dedup();
    let missing: Vec<&String> = flags.iter().filter(|flag| !guide.contains(flag.as_str())).collect();
    assert!(missing.is_empty(), "flags in `ferryd --help` missing from docs/OPERATIONS.md: {missing:?}");
    assert!(flags.len() > 12, "{flags:?}");
}

#[test]
fn every_json_log_line_parses_with_unique_keys() {
    let mut daemon = Daemon::start(&["--log-format", "json", "--log-level", "debug"]);
    let mut client = daemon.connect();
    let versions = rmpv::Value::Array(vec![1.into(), 2.into()]);
    client.call(&request(1, "hello", vec![("versions", versions), ("client", "log test".into())])).expect_ok();
    client.call(&request(2, "ping", vec![])).expect_ok();
    client.call(&request(3, "checksum", vec![("data", bin(&painted(4096))), ("algorithms", strs(&["sha256"]))])).expect_ok();
    client.call(&request(4, "resize", vec![("image", bin(b"not an image")), ("width", 8.into())])).expect_code(6);
    client.call(&request(5, "fly", vec![])).expect_code(3);
    client.send_raw(&[0, 0, 0, 1, 0xc1]);
    client.recv().expect_code(1);
    drop(client);
    assert_eq!(daemon.terminate().code(), Some(0));
    let log = daemon.log();
    let mut messages = HashSet::new();
    for line in log.lines() {
        let object: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        serde_json::from_str::<UniqueKeys>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(object.get(key).is_some(), "no {key}: {line}");
        }
        messages.insert(object["message"].as_str().unwrap().to_string());
        if object["message"] == "hello" {
            assert_eq!(object["versions"], serde_json::json!([1, 2]), "arrays are arrays: {line}");
        }
        if object.get("outcome").is_some_and(|o| o == "bad_image") {
            assert_eq!(object["message"], "request", "{line}");
            assert!(object["detail"].as_str().is_some_and(|d| !d.is_empty()), "the error text is kept: {line}");
        }
    }
    for expected in ["request", "hello", "shutdown complete"] {
        assert!(messages.contains(expected), "no {expected:?} line in\n{log}");
    }
    assert!(log.lines().count() >= 8, "{log}");
}

/// Any JSON value, refusing a repeated key in any object (serde_json keeps the last silently).
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("key {key:?} appears twice")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
}

#[test]
fn the_sample_config_uncommented_is_valid_and_covers_every_key() {
    let sample = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/ferryd.toml")).unwrap();
    let active: String = sample
        .lines()
        .filter_map(|line| line.strip_prefix("# ").filter(|rest| rest.contains(" = ") && rest.starts_with(char::is_lowercase)))
        .map(|line| format!("{line}\n"))
        .collect();
    let dir = short_tempdir();
    let file = dir.path().join("sample.toml");
    std::fs::write(&file, &active).unwrap();
    let out = ferryd(&["--config", file.to_str().unwrap(), "check-config"], &[]);
    assert!(out.status.success(), "{}\n{active}", text(&out.stderr));
    let effective: toml::Table = text(&out.stdout).parse().unwrap();
    let sampled: toml::Table = active.parse().unwrap();
    let missing: Vec<&String> = effective.keys().filter(|key| !sampled.contains_key(*key)).collect();
    assert!(missing.is_empty(), "keys missing from deploy/ferryd.toml: {missing:?}");
}

#[test]
fn under_journald_every_line_carries_its_priority_and_is_json() {
    use std::os::unix::fs::MetadataExt;
    let dir = short_tempdir();
    // The harness logs to this file; JOURNAL_STREAM names it as systemd names the journal stream.
    let log = dir.path().join(format!("ferryd-{}.log", std::process::id()));
    std::fs::write(&log, b"").unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let mut command = Command::new(FERRYD);
    command.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    let mut daemon = Daemon::spawn(command, &dir.path().join("j.sock"), dir.path(), &["--log-level", "debug"]);
    daemon.wait_ready();
    daemon.connect().call(&request(1, "resize", vec![("image", bin(b"junk")), ("width", 8.into())])).expect_code(6);
    assert_eq!(daemon.terminate().code(), Some(0));
    let text = daemon.log();
    let mut priorities = HashSet::new();
    for line in text.lines() {
        let (priority, rest) = line.strip_prefix('<').and_then(|l| l.split_once('>')).unwrap_or_else(|| panic!("no <N> prefix: {line}"));
        let object: serde_json::Value = serde_json::from_str(rest).unwrap_or_else(|e| panic!("{e}: {line}"));
        let expected = match object["level"].as_str().unwrap() {
            "ERROR" => "3",
            "WARN" => "4",
            "INFO" => "6",
            _ => "7",
        };
        assert_eq!(priority, expected, "{line}");
        priorities.insert(priority.to_string());
    }
    assert!(priorities.contains("6") && priorities.contains("7"), "{text}");
}
