//! The `server` object that every message the server publishes itself
//! carries (events, `$SYS.REQ.SERVER…` answers): nats-server 2.15's
//! `ServerInfo`, its keys in its order, its sequence number counted over
//! the whole server (one atomic, bumped once per message published).
//!
//! Plain data: no core, no socket.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::format::rfc3339;
use crate::core::Shared;

/// nats-server 2.15.1's merged feature flags, as it shows them (Shoal has no
/// JetStream: their values only say what a 2.15.1 server reports).
const FEATURE_FLAGS: [(&str, bool); 4] = [
    ("js_ack_fc_v2", false),
    ("js_api_reply_v2", false),
    ("js_raft_delete_range", true),
    ("js_snapshot_sources", false),
];

#[derive(Serialize)]
pub struct ServerInfo<'a> {
    name: &'a str,
    host: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cluster: &'a str,
    ver: &'a str,
    feature_flags: BTreeMap<&'static str, bool>,
    jetstream: bool,
    flags: u64,
    seq: u64,
    time: String,
}

/// The server's `ServerInfo` for one message published at `now`.
pub fn server_info(shared: &Shared, now: SystemTime) -> ServerInfo<'_> {
    ServerInfo {
        name: &shared.server_name,
        host: &shared.cfg.host,
        id: &shared.server_id,
        cluster: shared.cfg.cluster_name.as_deref().unwrap_or(""),
        ver: crate::NATS_VERSION,
        feature_flags: FEATURE_FLAGS.into_iter().collect(),
        jetstream: false,
        flags: 0,
        seq: shared.event_seq.fetch_add(1, Ordering::Relaxed) + 1,
        time: rfc3339(now),
    }
}
