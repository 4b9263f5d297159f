//! Building a core's [`CoreSnapshot`] for monitoring, on the core that owns the
//! state, out of plain reads of its counters, connections and subscriptions;
//! and keeping the records of closed connections (`/connz?state=closed`).
//!
//! Runs on the core (when a page asks, and when a connection closes with
//! monitoring on), never on the message path: the message path only bumps the
//! `Cell` counters this reads.

use std::time::{Instant, SystemTime};

use crate::client::{Client, CloseReason};
use crate::core::Core;
use crate::records::{ConnRecord, CoreSnapshot, Counters, Request, SubRecord};
use crate::registry::Sub;
use crate::rt;

/// Records built between two yields: a page over 100,000 connections or a
/// million subscriptions must not hold the core for its whole length.
const RECORDS_PER_TURN: usize = 256;

/// What this core reports for `req`. Yields to the core's other tasks every
/// [`RECORDS_PER_TURN`] records, so connections keep flowing while a large
/// page is built (the records then span a few passes, as nats-server's
/// pages, built under per-client locks, do too).
pub async fn snapshot(core: &Core, req: Request) -> CoreSnapshot {
    let s = &core.env().stats;
    let counters = Counters {
        connections: core.client_count() as u64,
        total_connections: s.total_connections.get(),
        in_msgs: s.in_msgs.get(),
        in_bytes: s.in_bytes.get(),
        out_msgs: s.out_msgs.get(),
        out_bytes: s.out_bytes.get(),
        slow_consumers: s.slow_consumers.get(),
        stale_connections: s.stale_connections.get(),
        subscriptions: s.subscriptions.get().max(0) as u64,
        ring_msgs_out: s.ring_msgs_out.get(),
        ring_msgs_in: s.ring_msgs_in.get(),
        ring_backlogged: s.ring_backlogged.get(),
    };
    let mut snap = CoreSnapshot {
        core: core.id(),
        counters,
        index: core.registry().index_stats(),
        accounts: s.accounts.borrow().clone(),
        ..Default::default()
    };
    if req.routes {
        let links: Vec<_> = core.routes().links().iter().cloned().collect();
        for l in &links {
            let mut subs = if req.conn_subs {
                sub_records(core, l)
            } else {
                Vec::new()
            };
            // A peer entry's sid is nats-server's: `<account> <subject>[ <queue>]`.
            for s in &mut subs {
                let (account, _) = crate::accounts::split(s.sid.as_bytes());
                let queue = s.queue.as_ref().map_or(String::new(), |q| format!(" {q}"));
                s.sid = format!("{} {}{queue}", core.auth().account_name(account), s.subject);
            }
            let r = conn_record(core, l, None, subs);
            if l.leaf {
                snap.leafs.push(r);
            } else {
                snap.routes.push(r);
            }
        }
    }
    if req.open {
        let clients = core.client_list();
        snap.open.reserve(clients.len());
        for (i, c) in clients.iter().enumerate() {
            if i > 0 && i % RECORDS_PER_TURN == 0 {
                rt::yield_now().await;
            }
            let subs = if req.conn_subs {
                sub_records(core, c)
            } else {
                Vec::new()
            };
            snap.open.push(conn_record(core, c, None, subs));
        }
    }
    if req.closed {
        snap.closed = core.closed().iter().cloned().collect();
    }
    if req.all_subs {
        let keys = core.registry().sub_keys();
        snap.subs.reserve(keys.len());
        for (i, k) in keys.into_iter().enumerate() {
            if i > 0 && i % (4 * RECORDS_PER_TURN) == 0 {
                rt::yield_now().await;
            }
            // A subscription removed while this page was being built is skipped.
            if let Some(r) = core.registry().with_sub(k, sub_record) {
                snap.subs.push(r);
            }
        }
    }
    snap
}

fn sub_record(sub: &Sub) -> SubRecord {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    SubRecord {
        subject: text(crate::accounts::strip(&sub.subject)),
        queue: sub.queue.as_ref().map(|(_, q)| text(q)),
        sid: text(&sub.sid),
        msgs: sub.delivered.get(),
        max: sub.max.get(),
        cid: sub.client.cid,
    }
}

/// A client's subscriptions, oldest first.
fn sub_records(core: &Core, client: &Client) -> Vec<SubRecord> {
    let mut keys: Vec<u32> = client.subs.borrow().values().copied().collect();
    keys.sort_unstable();
    keys.iter()
        .filter_map(|&k| core.registry().with_sub(k, sub_record))
        .collect()
}

fn conn_record(
    core: &Core,
    c: &Client,
    stop: Option<(SystemTime, &'static str)>,
    subs: Vec<SubRecord>,
) -> ConnRecord {
    let clock = &core.shared().clock;
    let creds = c.creds.borrow();
    let creds = creds.as_deref();
    ConnRecord {
        websocket: c.websocket.get(),
        cid: c.cid,
        core: core.id(),
        ip: c.peer.ip().to_string(),
        port: c.peer.port(),
        start: clock.wall(c.start),
        last: clock.wall(c.last.get()),
        stop,
        rtt: c.rtt.get(),
        pending: c.out.borrow().pending(),
        in_msgs: c.in_msgs.get(),
        out_msgs: c.out_msgs.get(),
        in_bytes: c.in_bytes.get(),
        out_bytes: c.out_bytes.get(),
        num_subs: c.subs.borrow().len(),
        name: c.name.borrow().clone(),
        lang: c.lang.borrow().clone(),
        version: c.version.borrow().clone(),
        account: core.auth().account_name(c.account.get()),
        name_tag: core.auth().account_tag(c.account.get()),
        user: creds.map_or_else(String::new, |k| k.raw_user().to_string()),
        jwt: creds
            .filter(|k| !k.jwt_bearer)
            .map_or_else(String::new, |k| k.jwt.clone()),
        issuer_key: creds.map_or_else(String::new, |k| k.jwt_issuer.clone()),
        tags: creds.map_or_else(Vec::new, |k| k.jwt_tags.clone()),
        tls: c.tls_info.borrow().clone(),
        tls_first: c.tls_first.get(),
        spoke: c.spoke.get(),
        compression: c.leaf_compression.borrow().clone(),
        subs,
    }
}

/// The subscriptions a closing client still has, for its closed record (empty
/// when monitoring is off). Call before they are removed.
pub fn closing_subs(core: &Core, client: &Client) -> Vec<SubRecord> {
    if !core.shared().monitoring {
        return Vec::new();
    }
    let mut subs = sub_records(core, client);
    // nats-server's closed records carry no auto-unsubscribe limits.
    for s in &mut subs {
        s.max = 0;
    }
    subs
}

/// Keeps a closed connection in the core's ring for `/connz?state=closed`
/// (oldest dropped first). Does nothing when monitoring is off.
pub fn record_closed(core: &Core, client: &Client, reason: CloseReason, subs: Vec<SubRecord>) {
    if !core.shared().monitoring {
        return;
    }
    let stop = core.shared().clock.wall(Instant::now());
    let mut rec = conn_record(core, client, Some((stop, reason.as_str())), subs);
    rec.num_subs = rec.subs.len();
    rec.pending = 0;
    core.closed()
        .push(rec, core.cfg().max_closed_clients, core.cores());
}
