//! JSON lines: one object per event, built as a map so that every key appears once.
//!
//! Keys: `timestamp` (RFC 3339, UTC), `level` (`ERROR` .. `TRACE`), `target`, then the event's
//! fields in order, then `message`. A field whose name is already taken is renamed rather than
//! written twice (a `message` field next to the event's own message becomes `detail`; any other
//! repeat gets a `_2`, `_3` suffix). Numbers and booleans stay numbers and booleans; a field
//! recorded with `?` whose text is a JSON array (a `Vec` of numbers or strings) is written as
//! that array.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::syslog_priority;

/// Keys the line itself uses; fields with these names are renamed.
const RESERVED: [&str; 4] = ["timestamp", "level", "target", "message"];

/// Formats events as JSON lines, optionally behind journald's `<N>` priority prefix.
#[derive(Debug, Clone, Copy)]
pub struct JsonLines {
    /// Prefix each line with its syslog priority (stderr is journald's stream).
    pub journald: bool,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let line = to_object(event);
        if self.journald {
            write!(writer, "<{}>", syslog_priority(event.metadata().level()))?;
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// The event as one JSON object with unique keys.
pub fn to_object(event: &Event<'_>) -> Map<String, Value> {
    let meta = event.metadata();
    let mut timestamp = String::new();
    // SystemTime writes RFC 3339 in UTC; a failure leaves the field empty rather than the line out.
    let _ = SystemTime.format_time(&mut Writer::new(&mut timestamp));
    let mut fields = Fields::default();
    event.record(&mut fields);
    let mut line = Map::new();
    line.insert("timestamp".into(), Value::from(timestamp));
    line.insert("level".into(), Value::from(meta.level().as_str()));
    line.insert("target".into(), Value::from(meta.target()));
    let message = fields.message.take();
    for (name, value) in fields.pairs {
        let key = free_key(&line, name, message.is_some());
        line.insert(key, value);
    }
    if let Some(message) = message {
        line.insert("message".into(), Value::from(message));
    }
    line
}

/// `name` if it is free, else a name that is.
fn free_key(line: &Map<String, Value>, name: &str, has_message: bool) -> String {
    if name == "message" && has_message && !line.contains_key("detail") {
        return "detail".into();
    }
    if !RESERVED.contains(&name) && !line.contains_key(name) {
        return name.into();
    }
    (2..).map(|n| format!("{name}_{n}")).find(|key| !line.contains_key(key)).expect("an unbounded range has a free name")
}

/// Collects an event's fields in order; the first `message` is the event's own (tracing's macros
/// record the format string before the named fields).
#[derive(Default)]
struct Fields {
    pairs: Vec<(&'static str, Value)>,
    message: Option<String>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" && self.message.is_none() {
            self.message = Some(value_text(&value));
        } else {
            self.pairs.push((field.name(), value));
        }
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        let value = match text.starts_with('[') {
            true => serde_json::from_str::<Value>(&text).ok().filter(Value::is_array).unwrap_or(Value::from(text)),
            false => Value::from(text),
        };
        self.push(field, value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::from(value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Captures the objects of every event logged inside `f`.
    fn capture(f: impl FnOnce()) -> Vec<Map<String, Value>> {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<Map<String, Value>>>>);
        impl<S: Subscriber> tracing_subscriber::Layer<S> for Sink {
            fn on_event(&self, event: &Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
                self.0.lock().unwrap().push(to_object(event));
            }
        }
        let sink = Sink::default();
        let subscriber = tracing_subscriber::registry().with(sink.clone());
        tracing::subscriber::with_default(subscriber, f);
        let lines = sink.0.lock().unwrap().clone();
        lines
    }

    #[test]
    fn a_message_field_does_not_replace_the_event_message() {
        let lines = capture(|| tracing::info!(id = 7u64, message = "queue full", "request"));
        assert_eq!(lines[0]["message"], "request");
        assert_eq!(lines[0]["detail"], "queue full");
        assert_eq!(lines[0]["id"], 7);
        assert_eq!(lines[0]["level"], "INFO");
    }

    #[test]
    fn sequences_are_arrays_and_reserved_names_are_renamed() {
        let versions = vec![1u64, 2];
        let words = vec!["a", "b"];
        let lines = capture(|| tracing::warn!(versions = ?versions, words = ?words, level = "x", ok = true, "hello"));
        assert_eq!(lines[0]["versions"], serde_json::json!([1, 2]));
        assert_eq!(lines[0]["words"], serde_json::json!(["a", "b"]));
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["level_2"], "x");
        assert_eq!(lines[0]["ok"], true);
    }
}
