//! Every frame of protocol/vectors/invalid.json, sent to the daemon: the reply has the vector's
//! code and id, the connection is closed exactly when the vector says so, and otherwise the
//! connection goes on serving (a ping right after is answered, and is the next reply).

use crate::harness::{vectors, Daemon};

#[test]
fn every_invalid_vector_is_answered_as_specified() {
    let daemon = Daemon::start(&["--workers", "2"]);
    let file = vectors("invalid.json");
    let cases = file["invalid"].as_array().unwrap();
    assert!(cases.len() >= 30, "invalid.json has only {} vectors", cases.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let frame = hex::decode(case["frame"].as_str().unwrap()).unwrap();
        let mut client = daemon.connect();
        client.send_raw(&frame);
        let reply = client.recv();
        assert!(!reply.ok(), "{name}: expected an error, got {reply:?}");
        assert_eq!(reply.code(), case["code"].as_u64(), "{name}: {reply:?}");
        assert_eq!(Some(reply.id()), case["reply_id"].as_u64(), "{name}: {reply:?}");
        let message = reply.get("message").and_then(|m| m.as_str()).unwrap_or("");
        assert!(!message.is_empty(), "{name}: error replies carry a message");
        let fields = reply.0.as_map().unwrap().len();
        assert_eq!(fields, 4, "{name}: an error reply has exactly id, ok, code, message");
        if case["closes"].as_bool().unwrap() {
            client.expect_eof();
        } else {
            client.expect_alive(4_000_000_000);
        }
    }
    // The daemon as a whole is unharmed.
    daemon.connect().expect_alive(1);
}

#[test]
fn invalid_vectors_pipelined_on_one_connection() {
    // All the frames that keep the connection open, written in one go: one reply each, in any
    // order, with the right code per reply id (ids 0 are counted as a group).
    let daemon = Daemon::start(&["--workers", "2"]);
    let file = vectors("invalid.json");
    let cases: Vec<_> =
        file["invalid"].as_array().unwrap().iter().filter(|c| !c["closes"].as_bool().unwrap()).collect();
    let mut bytes = Vec::new();
    for case in &cases {
        bytes.extend(hex::decode(case["frame"].as_str().unwrap()).unwrap());
    }
    let mut client = daemon.connect();
    client.send_raw(&bytes);
    let mut expected: Vec<(u64, u64)> =
        cases.iter().map(|c| (c["reply_id"].as_u64().unwrap(), c["code"].as_u64().unwrap())).collect();
    let mut got: Vec<(u64, u64)> =
        (0..cases.len()).map(|_| client.recv()).map(|r| (r.id(), r.code().unwrap())).collect();
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expected);
    client.expect_alive(77);
}
