//! `ferryd stats`: the running daemon's `stats` reply, every field it sends (including ones this
//! build does not know), as aligned `name value` lines or as one JSON object.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use rmpv::Value;

use super::client::{chain, Client};

/// Prints the stats of the daemon at `socket`.
pub fn run(socket: &Path, timeout: Duration, json: bool) -> ExitCode {
    let fields = match Client::connect(socket, timeout).and_then(|mut client| client.call("stats", vec![])) {
        Ok(fields) => fields,
        Err(error) => {
            eprintln!("ferryd stats: {}", chain(&error));
            return ExitCode::FAILURE;
        }
    };
    if json {
        let object: serde_json::Map<String, serde_json::Value> =
            fields.iter().map(|(key, value)| (key.clone(), to_json(value))).collect();
        println!("{}", serde_json::Value::Object(object));
    } else {
        print!("{}", to_text(&fields));
    }
    ExitCode::SUCCESS
}

/// `name value` lines, names padded to one column; nested maps as `name.key`.
pub fn to_text(fields: &[(String, Value)]) -> String {
    let mut lines = Vec::new();
    for (key, value) in fields {
        match value {
            Value::Map(pairs) => {
                for (inner, n) in pairs {
                    lines.push((format!("{key}.{}", inner.as_str().unwrap_or("?")), plain(n)));
                }
            }
            _ => lines.push((key.clone(), plain(value))),
        }
    }
    let width = lines.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    lines.iter().map(|(name, value)| format!("{name:<width$}  {value}\n")).collect()
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.as_str().unwrap_or_default().to_string(),
        other => to_json(other).to_string(),
    }
}

/// MessagePack to JSON: maps with string keys become objects, `bin` becomes its length.
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Nil => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(n) => n.as_u64().map(J::from).or_else(|| n.as_i64().map(J::from)).unwrap_or(J::Null),
        Value::F32(x) => J::from(f64::from(*x)),
        Value::F64(x) => J::from(*x),
        Value::String(s) => J::from(s.as_str().unwrap_or_default()),
        Value::Binary(b) => J::from(b.len()),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(pairs) => J::Object(
            pairs.iter().map(|(k, v)| (k.as_str().map_or_else(|| k.to_string(), String::from), to_json(v))).collect(),
        ),
        Value::Ext(_, bytes) => J::from(bytes.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_flattens_maps_and_aligns() {
        let fields = vec![
            ("server".to_string(), Value::from("ferryd 0.1.0")),
            ("requests_by_op".to_string(), Value::Map(vec![(Value::from("ping"), Value::from(3u64))])),
        ];
        assert_eq!(to_text(&fields), "server               ferryd 0.1.0\nrequests_by_op.ping  3\n");
    }
}
