//! Who is on the other end of a new connection: its credentials (`SO_PEERCRED`: uid, gid and
//! pid, as the kernel recorded them at `connect`), checked against the optional allowlist
//! (`--allow-uid`, `--allow-gid`) before a single byte is read.
//!
//! With no list set every peer is served (file permissions on the socket are the only gate).
//! With either list set, a peer is served when its uid is in `--allow-uid` **or** its primary
//! gid is in `--allow-gid`; root is not implicitly allowed. A refused peer gets one error frame,
//! id 0, code `peer_not_allowed`, then the daemon closes the connection (SPEC.md, error codes).
//!
//! An allowed peer's uid may hold at most three quarters of `--max-connections`; one more is
//! answered `busy` (id 0) and closed, like the connection limit, so that one uid cannot lock
//! the others out (SPEC.md 6.1).

use std::sync::Arc;

use tokio::net::UnixStream;

use super::{connection, State};
use crate::protocol::error_code::{ErrorCode, WireError};

/// The uid a peer whose credentials cannot be read is counted under, for its fair share: all
/// such peers share one.
pub const UNKNOWN_UID: u32 = u32::MAX;

/// The uids and gids allowed to connect. Both empty: any peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerAllowlist {
    /// Peers with one of these uids are served.
    pub uids: Vec<u32>,
    /// Peers whose primary gid is one of these are served.
    pub gids: Vec<u32>,
}

impl PeerAllowlist {
    /// Whether any list is set (otherwise every peer is served).
    pub fn is_restricted(&self) -> bool {
        !self.uids.is_empty() || !self.gids.is_empty()
    }

    /// Whether a peer with these credentials may be served.
    pub fn permits(&self, uid: u32, gid: u32) -> bool {
        !self.is_restricted() || self.uids.contains(&uid) || self.gids.contains(&gid)
    }
}

/// Serves `stream` as a connection if its peer is allowed; otherwise answers it
/// `peer_not_allowed` (id 0), logs who it was, and closes it.
pub async fn serve_if_allowed(stream: UnixStream, state: Arc<State>) {
    let allowlist = &state.allowlist;
    match stream.peer_cred() {
        Ok(cred) => {
            let (uid, gid, pid) = (cred.uid(), cred.gid(), cred.pid().unwrap_or(0));
            if allowlist.permits(uid, gid) {
                let max = state.connection_limits.max_connections;
                let Some(_slot) = state.connection_shares.try_take(uid, max) else {
                    let share = super::shares::ConnectionShares::cap(max);
                    tracing::warn!(uid, gid, pid, share, "peer refused: its uid holds its share of the connections");
                    state.counters.connection_refused();
                    let message = format!("uid {uid} holds its share of the connections ({share} of {max})");
                    connection::refuse(stream, WireError::new(ErrorCode::Busy, message)).await;
                    state.counters.connection_closed(); // counted open by the accept loop
                    return;
                };
                tracing::debug!(uid, gid, pid, "peer connected");
                connection::serve(stream, state, uid).await;
            } else {
                tracing::warn!(uid, gid, pid, "peer refused: neither its uid nor its gid is in --allow-uid/--allow-gid");
                state.counters.connection_refused();
                refuse(stream, format!("uid {uid} / gid {gid} is not allowed to use this daemon")).await;
                state.counters.connection_closed(); // counted open by the accept loop
            }
        }
        // Without credentials an allowlist cannot be honoured; with none, nothing depends on them.
        Err(error) if allowlist.is_restricted() => {
            tracing::warn!(%error, "peer refused: its credentials (SO_PEERCRED) cannot be read");
            state.counters.connection_refused();
            refuse(stream, "the daemon cannot read this peer's credentials".to_string()).await;
            state.counters.connection_closed(); // counted open by the accept loop
        }
        Err(error) => {
            tracing::debug!(%error, "peer credentials unreadable; no allowlist, serving");
            connection::serve(stream, state, UNKNOWN_UID).await;
        }
    }
}

/// Sends the `peer_not_allowed` frame (id 0) and closes the connection, without reading.
async fn refuse(stream: UnixStream, message: String) {
    connection::refuse(stream, WireError::new(ErrorCode::PeerNotAllowed, message)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lists_allow_everyone_and_root_is_not_implicit() {
        let any = PeerAllowlist::default();
        assert!(any.permits(0, 0) && any.permits(65534, 65534));
        let only_1000 = PeerAllowlist { uids: vec![1000], gids: vec![] };
        assert!(only_1000.permits(1000, 5));
        assert!(!only_1000.permits(0, 0), "root is not implicitly allowed");
    }

    #[test]
    fn uid_or_gid_suffices() {
        let list = PeerAllowlist { uids: vec![1000], gids: vec![200, 300] };
        assert!(list.permits(1000, 1));
        assert!(list.permits(7, 300));
        assert!(!list.permits(7, 7));
    }
}
