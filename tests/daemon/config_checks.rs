//! Configuration checked before anything starts: hostile or mistaken values are refused at once,
//! before a thread or a socket exists, each refusal naming the key and where its value came from
//! (a flag, a `FERRYD_*` variable, the config file). Bounded twin of `make soak`'s config case.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{short_tempdir, FERRYD};

/// Starts ferryd with `args` and `env` and expects it to exit 1 within two seconds without
/// creating its socket; returns what it printed.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = short_tempdir();
    let socket = dir.path().join("f.sock");
    let mut command = Command::new(FERRYD);
    for (key, _) in std::env::vars() {
        if key.starts_with("FERRYD_") {
            command.env_remove(key);
        }
    }
    let started = Instant::now();
    let mut child = command
        .arg("--socket")
        .arg(&socket)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferryd");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(2) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} {env:?}: not refused within 2 s (socket created: {})", socket.exists());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert_eq!(status.code(), Some(1), "{args:?} {env:?}: {stderr}");
    assert!(!socket.exists(), "{args:?}: a socket was created before the refusal");
    stderr
}

#[test]
fn hostile_configurations_are_refused_at_once_naming_the_key_and_its_source() {
    let dir = short_tempdir();
    let file = dir.path().join("tiny.toml");
    std::fs::write(&file, "frame_timeout = 0.000001\n").unwrap();
    let file = file.to_str().unwrap();
    let in_file = format!("(from key `frame_timeout` of {file})");
    for (args, env, expected) in [
        (vec!["--config", "/dev/zero"], vec![], vec!["the config file /dev/zero is larger than 1048576 bytes"]),
        (
            vec![],
            vec![("FERRYD_WORKERS", "100000")],
            vec!["--workers 100000 is outside 1..=1024 (from the environment variable FERRYD_WORKERS)"],
        ),
        (
            vec!["--frame-timeout", "0"],
            vec![],
            vec!["--frame-timeout 0ns is outside 100ms..=86400s (from --frame-timeout on the command line)"],
        ),
        (vec!["--config", file], vec![], vec!["--frame-timeout 1µs is outside 100ms..=86400s", in_file.as_str()]),
        (vec!["--max-queue-wait", "0"], vec![], vec!["--max-queue-wait 0ns is outside 1ms..=86400s"]),
        (
            vec![],
            vec![("FERRYD_MEMORY_BUDGET", "64MiB")],
            vec![
                "--memory-budget 67108864 is smaller than --max-frame 134217728",
                "(from the environment variable FERRYD_MEMORY_BUDGET; the default of max_frame)",
            ],
        ),
    ] {
        let stderr = refused(&args, &env);
        for want in expected {
            assert!(stderr.contains(want), "{args:?} {env:?}: expected {want:?} in: {stderr}");
        }
    }
}
