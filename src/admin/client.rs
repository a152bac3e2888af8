//! A small blocking client for the operator's subcommands: one connection, one request at a
//! time, every read and write bounded by the caller's deadline. Frames are split by the daemon's
//! own [`FrameDecoder`]; replies are read as MessagePack maps whose unknown keys are kept, not
//! refused, so a newer daemon's extra fields show up in `ferryd stats` (SPEC.md: unknown keys are
//! ignored by both sides).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rmpv::Value;
use tokio_util::codec::Decoder;

use crate::protocol::codec::{FrameDecoder, Inbound};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::PROTOCOL_VERSION;

/// Largest reply the subcommands expect (`hello` and `stats` are a few hundred bytes).
const MAX_REPLY: u32 = 1 << 20;

/// What went wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection.
    #[error("cannot connect to {}", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The deadline passed (`op` is `connect` when the connection itself was not accepted).
    #[error("no reply to `{op}` within {timeout:?}")]
    Timeout {
        /// The request.
        op: &'static str,
        /// The deadline given.
        timeout: Duration,
    },
    /// A read or write failed.
    #[error("`{op}` failed on the socket")]
    Io {
        /// The request.
        op: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The daemon closed the connection before answering.
    #[error("the daemon closed the connection before answering `{op}`")]
    Closed {
        /// The request.
        op: &'static str,
    },
    /// The reply is not what SPEC.md describes.
    #[error("unexpected reply to `{op}`: {what}")]
    BadReply {
        /// The request.
        op: &'static str,
        /// What is wrong with it.
        what: String,
    },
    /// An error reply.
    #[error("the daemon answered `{op}` with {code}: {message}")]
    Refused {
        /// The request.
        op: &'static str,
        /// The error code's name (or its number, if this build does not know it).
        code: String,
        /// The daemon's message.
        message: String,
    },
}

/// One connection to a daemon.
pub struct Client {
    stream: UnixStream,
    decoder: FrameDecoder,
    buffer: BytesMut,
    timeout: Duration,
    next_id: u64,
}

impl Client {
    /// Connects to `path` within `timeout` (a Unix connect blocks while the listener's backlog
    /// is full, so it runs on a helper thread that is abandoned at the deadline); every later
    /// call must complete within `timeout` too.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let target = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(UnixStream::connect(target));
        });
        let stream = match rx.recv_timeout(timeout) {
            Ok(connected) => connected.map_err(|source| ClientError::Connect { path: path.into(), source })?,
            Err(_) => return Err(ClientError::Timeout { op: "connect", timeout }),
        };
        Ok(Client { stream, decoder: FrameDecoder::new(MAX_REPLY), buffer: BytesMut::new(), timeout, next_id: 1 })
    }

    /// `hello` offering this build's protocol version; the reply's fields.
    pub fn hello(&mut self, client_name: &str) -> Result<Vec<(String, Value)>, ClientError> {
        let versions = Value::Array(vec![Value::from(PROTOCOL_VERSION)]);
        self.call("hello", vec![("versions", versions), ("client", Value::from(client_name))])
    }

    /// Sends `op` with `fields` and waits for its reply's fields (`id` and `ok` removed).
    pub fn call(&mut self, op: &'static str, fields: Vec<(&str, Value)>) -> Result<Vec<(String, Value)>, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let id = self.next_id;
        self.next_id += 1;
        let mut pairs = vec![(Value::from("id"), Value::from(id)), (Value::from("op"), Value::from(op))];
        pairs.extend(fields.into_iter().map(|(key, value)| (Value::from(key), value)));
        let mut frame = vec![0; 4];
        rmpv::encode::write_value(&mut frame, &Value::Map(pairs)).expect("writing to a Vec cannot fail");
        let len = (frame.len() - 4) as u32;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        self.set_deadline(op, deadline)?;
        self.stream.write_all(&frame).map_err(|source| self.io(op, source))?;
        let body = self.read_frame(op, deadline)?;
        let reply = rmpv::decode::read_value(&mut &body[..])
            .map_err(|e| ClientError::BadReply { op, what: format!("not MessagePack: {e}") })?;
        let Value::Map(pairs) = reply else {
            return Err(ClientError::BadReply { op, what: "not a map".into() });
        };
        let mut fields = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let Some(key) = key.as_str() else {
                return Err(ClientError::BadReply { op, what: "a key that is not a string".into() });
            };
            fields.push((key.to_string(), value));
        }
        let get = |name: &str| fields.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
        if get("id").and_then(|v| v.as_u64()) != Some(id) {
            return Err(ClientError::BadReply { op, what: format!("id {:?}, expected {id}", get("id")) });
        }
        match get("ok").and_then(|v| v.as_bool()) {
            Some(true) => Ok(fields.into_iter().filter(|(key, _)| key != "id" && key != "ok").collect()),
            Some(false) => {
                let number = get("code").and_then(|v| v.as_u64()).unwrap_or(0);
                let code = ErrorCode::from_number(number).map_or_else(|| format!("code {number}"), |c| c.name().into());
                let message = get("message").and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                Err(ClientError::Refused { op, code, message })
            }
            None => Err(ClientError::BadReply { op, what: "no boolean `ok`".into() }),
        }
    }

    fn read_frame(&mut self, op: &'static str, deadline: Instant) -> Result<BytesMut, ClientError> {
        loop {
            match self.decoder.decode(&mut self.buffer).map_err(|source| self.io(op, source))? {
                Some(Inbound::Frame(body)) => return Ok(BytesMut::from(&body[..])),
                Some(Inbound::Empty) => return Err(ClientError::BadReply { op, what: "an empty frame".into() }),
                Some(Inbound::TooLarge { len }) => {
                    return Err(ClientError::BadReply { op, what: format!("a frame of {len} bytes") })
                }
                None => {}
            }
            self.set_deadline(op, deadline)?;
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).map_err(|source| self.io(op, source))?;
            if n == 0 {
                return Err(ClientError::Closed { op });
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    fn set_deadline(&self, op: &'static str, deadline: Instant) -> Result<(), ClientError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ClientError::Timeout { op, timeout: self.timeout });
        }
        let set = self.stream.set_read_timeout(Some(left)).and_then(|()| self.stream.set_write_timeout(Some(left)));
        set.map_err(|source| ClientError::Io { op, source })
    }

    fn io(&self, op: &'static str, source: std::io::Error) -> ClientError {
        match source.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                ClientError::Timeout { op, timeout: self.timeout }
            }
            _ => ClientError::Io { op, source },
        }
    }
}

/// Prints an error and its causes on one line, as `main` does.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        line.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    line
}
