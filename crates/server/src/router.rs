//! Routing: a published message to local subscribers and to peer cores, and a
//! message arriving from a peer core to this core's subscribers.
//!
//! Runs inside a reader's or a ring drain's pass on the owning core. Never writes
//! a socket and never waits: delivering is appending to a subscriber's outbound
//! queue and touching it. Queue groups are resolved where the message is
//! published: among local members and peer cores weighted by their member counts;
//! a chosen peer then picks one of its own members. No allocation per message:
//! matches come from the index cache and scratch vectors are reused.

use std::rc::Rc;

use bytes::Bytes;
use shoal_subject::{Group, Match};

use crate::client::{Client, CloseReason};
use crate::core::Core;
use crate::msg::Msg;
use crate::stats::Stats;

/// Delivers one message to the local subscription `key`. Returns whether it was
/// delivered (false when it was skipped for echo or the subscriber is gone).
fn deliver(core: &Core, key: u32, m: &Msg, publisher: Option<&Rc<Client>>) -> bool {
    let subs = core.subs.borrow();
    let Some(sub) = subs.get(key as usize) else {
        return false;
    };
    let client = &sub.client;
    if let Some(p) = publisher {
        if Rc::ptr_eq(p, client) && !p.opts.get().echo {
            return false;
        }
    }
    let headers_ok = client.opts.get().headers;
    let reaching_max = sub.max.get() > 0 && sub.delivered.get() + 1 >= sub.max.get();
    if reaching_max {
        log::debug!(
            "{} - Auto-unsubscribe limit of {} reached for sid '{}'",
            client.log_prefix(),
            sub.max.get(),
            String::from_utf8_lossy(&sub.sid)
        );
    }
    let res = client
        .out
        .borrow_mut()
        .push_msg(m, &sub.sid, headers_ok, core.cfg.max_pending);
    match res {
        Ok(0) => return false,
        Ok(_) => {
            if crate::trace::on() {
                trace_delivery(core, client, &sub.sid, m, headers_ok);
            }
            // Payload bytes as delivered (headers stripped for a client without them).
            let len = if m.hdr() > 0 && !headers_ok {
                m.payload().len() - m.hdr()
            } else {
                m.payload().len()
            };
            client.out_msgs.set(client.out_msgs.get() + 1);
            client.out_bytes.set(client.out_bytes.get() + len as u64);
            client.last.set(core.now.get());
            core.stats.out(len);
            client.touch();
        }
        Err(_) => {
            core.stats.slow_consumer();
            log::warn!(
                "{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                client.log_prefix(),
                core.cfg.max_pending
            );
            client.kill(CloseReason::SlowConsumerPendingBytes);
            return false;
        }
    }
    let d = sub.delivered.get() + 1;
    sub.delivered.set(d);
    if sub.max.get() > 0 && d >= sub.max.get() {
        core.scratch.borrow_mut().expired.push(key);
    }
    true
}

/// `->> [MSG …]` and its payload on the subscriber's prefix: the line as
/// delivered (a client without headers gets MSG and the body alone).
fn trace_delivery(core: &Core, client: &Client, sid: &[u8], m: &Msg, headers_ok: bool) {
    use crate::trace;
    let (hdr, body) = if m.hdr() > 0 && !headers_ok {
        (0, &m.payload()[m.hdr()..])
    } else {
        (m.hdr(), m.payload())
    };
    trace::delivery(client, m.subject(), sid, m.reply(), hdr, body.len());
    trace::payload(
        client,
        trace::Dir::Out,
        body,
        m.hdr(),
        core.cfg.max_traced_msg_len,
        core.cfg.trace_headers,
    );
}

/// A delivery of a message a peer core routed here: its subscriber's next PING
/// waits for a barrier (see `Client::needs_barrier`).
fn deliver_from_peer(core: &Core, key: u32, m: &Msg) {
    if deliver(core, key, m, None) {
        if let Some(s) = core.subs.borrow().get(key as usize) {
            s.client.needs_barrier.set(true);
        }
    }
}

/// Removes subscriptions that reached their UNSUB max during this message.
fn reap_expired(core: &Core) {
    let expired = std::mem::take(&mut core.scratch.borrow_mut().expired);
    if expired.is_empty() {
        core.scratch.borrow_mut().expired = expired;
        return;
    }
    for &key in &expired {
        core.remove_sub_by_key(key);
    }
    let mut e = expired;
    e.clear();
    core.scratch.borrow_mut().expired = e;
}

/// Picks one member of a local group, uniformly by weight.
fn pick_local(core: &Core, g: &Group<u32>, skip: Option<&Rc<Client>>) -> Option<u32> {
    if g.members.is_empty() {
        return None;
    }
    let start = core.rand(g.members.len() as u64) as usize;
    // Scan from a random start so a member skipped for echo does not starve.
    for i in 0..g.members.len() {
        let (key, _) = g.members[(start + i) % g.members.len()];
        if let Some(p) = skip {
            if !p.opts.get().echo {
                let subs = core.subs.borrow();
                if subs
                    .get(key as usize)
                    .is_some_and(|s| Rc::ptr_eq(&s.client, p))
                {
                    continue;
                }
            }
        }
        return Some(key);
    }
    None
}

/// Routes a message published by `publisher` on this core. Returns whether anyone
/// (local or a peer core with interest) was given the message.
pub fn publish(core: &Core, publisher: &Rc<Client>, m: &Msg) -> bool {
    let subject = m.subject();
    let local: Rc<Match<u32>> = core.index.borrow_mut().matches(subject);
    let remote: Option<Rc<Match<u16>>> = if core.n > 1 {
        Some(core.summary.borrow_mut().matches(subject))
    } else {
        None
    };
    let mut delivered = false;
    for &key in &local.plain {
        delivered |= deliver(core, key, m, Some(publisher));
    }

    let mut scratch = core.scratch.borrow_mut();
    let peers = &mut scratch.peers;
    for p in peers.iter_mut() {
        p.wanted = false;
        p.queues.clear();
    }
    if let Some(r) = &remote {
        for &c in &r.plain {
            peers[c as usize].wanted = true;
        }
    }
    // Queue groups: local groups (maybe with remote members too), then groups that
    // only peers have.
    let mut local_pick: [u32; 8] = [0; 8];
    let mut local_picks = 0usize;
    let mut overflow: Vec<u32> = Vec::new();
    for g in &local.groups {
        let rg = remote
            .as_ref()
            .and_then(|r| r.groups.iter().find(|x| x.name == g.name));
        let local_w = g.total_weight as u64;
        let total = local_w + rg.map_or(0, |x| x.total_weight as u64);
        let mut r = core.rand(total);
        if r < local_w {
            if let Some(k) = pick_local(core, g, Some(publisher)) {
                if local_picks < local_pick.len() {
                    local_pick[local_picks] = k;
                    local_picks += 1;
                } else {
                    overflow.push(k);
                }
            }
        } else if let Some(rg) = rg {
            r -= local_w;
            for &(c, w) in &rg.members {
                if r < w as u64 {
                    peers[c as usize].queues.push(g.name.clone());
                    break;
                }
                r -= w as u64;
            }
        }
    }
    if let Some(r) = &remote {
        for rg in &r.groups {
            if local.groups.iter().any(|g| g.name == rg.name) {
                continue;
            }
            let mut x = core.rand(rg.total_weight as u64);
            for &(c, w) in &rg.members {
                if x < w as u64 {
                    peers[c as usize].queues.push(rg.name.clone());
                    break;
                }
                x -= w as u64;
            }
        }
    }
    // Hand the message to each peer core that wants it: one payload handle each.
    for (c, p) in peers.iter().enumerate() {
        if c == core.id || (!p.wanted && p.queues.is_empty()) {
            continue;
        }
        core.outboxes[c].borrow_mut().push_msg(m, &p.queues);
        core.mark_peer(c);
        publisher.needs_barrier.set(true);
        Stats::bump(&core.stats.ring_msgs_out);
        delivered = true;
    }
    drop(scratch);
    for &k in local_pick[..local_picks].iter().chain(overflow.iter()) {
        delivered |= deliver(core, k, m, None);
    }
    reap_expired(core);
    delivered
}

/// Delivers a message that a peer core routed here. `queues` are the groups the
/// publisher's core picked this core for.
pub fn deliver_remote(core: &Core, m: &Msg, queues: &[Bytes]) {
    Stats::bump(&core.stats.ring_msgs_in);
    let local: Rc<Match<u32>> = core.index.borrow_mut().matches(m.subject());
    for &key in &local.plain {
        deliver_from_peer(core, key, m);
    }
    for q in queues {
        if let Some(g) = local.groups.iter().find(|g| g.name[..] == q[..]) {
            if let Some(k) = pick_local(core, g, None) {
                deliver_from_peer(core, k, m);
            }
        }
    }
    reap_expired(core);
}
