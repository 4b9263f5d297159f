//! Routing: a message published on this core to its local subscribers and to
//! the peer cores that want it, and the batches peer cores send here (their
//! messages to this core's subscribers, their interest changes, barriers).
//!
//! Runs inside a reader's or a ring drain's pass on the owning core. Never writes
//! a socket and never waits: delivering is appending to a subscriber's outbound
//! queue and touching it. Queue groups are resolved where the message is
//! published: among local members and peer cores weighted by their member
//! counts; a chosen peer then picks one of its own members.
//!
//! No allocation per message, cache hit or miss: lookups build into the
//! registry's scratch, the per-peer plans and picked members are reused
//! vectors, a peer gets one frame handle per pass and the ids of its groups.

use std::rc::Rc;

use shoal_subject::{Group, Match};

use crate::client::Client;
use crate::core::Core;
use crate::mappings::Mapped;
use crate::msg::{Msg, Spans};
use crate::registry::PeerKey;
use crate::ring::{Batch, Item, QueueId};
use crate::stats::Stats;

/// Delivers one message to the local subscription `key`. Returns whether it was
/// delivered (false when it was skipped for echo or the subscriber is gone).
fn deliver(
    core: &Core,
    key: u32,
    m: &Msg,
    publisher: Option<&Rc<Client>>,
    from_peer: bool,
) -> bool {
    let expired = core.registry().with_sub(key, |sub| {
        let client = &sub.client;
        if client.internal {
            // A request for the server itself (its only subscriptions but
            // the service replies' `_R_.…`): answered off this routing, and
            // counted as delivered (it has a responder).
            if m.subject() == crate::user_info::SUBJECT {
                if let Some(p) = publisher {
                    crate::user_info::answer(core, p, m);
                }
                return Some(false);
            }
            if !m.subject().starts_with(b"_R_.") {
                let body = &m.payload()[m.hdr()..];
                core.queue_sys_request(m.subject(), m.reply(), body, &sub.sid, m.spans.account);
                return Some(false);
            }
            // A service response coming home: routed on once this routing
            // is done.
            return queue_response(core, m).then_some(false);
        }
        if let Some(p) = publisher {
            if Rc::ptr_eq(p, client) && !p.opts.get().echo {
                return None;
            }
        }
        let env = core.env();
        // A wildcard or queue subscription may cover a subject the user is
        // denied; with allow_responses, a request's reply subject becomes one
        // the user may publish to. Skipped outright on a core whose users
        // have no permissions.
        if core.auth().any_permissions() {
            if let Some(p) = client.perms.borrow_mut().as_mut() {
                let queue = sub.queue.as_ref().map(|(_, name)| &name[..]);
                if p.delivery_denied(m.subject(), queue) {
                    return None;
                }
                p.delivered_reply(m.reply(), env.now.get());
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
            .push_msg(m, &sub.sid, headers_ok, core.cfg().max_pending);
        match res {
            Ok(0) => return None,
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
                client.last.set(env.now.get());
                env.stats.out(len);
                env.stats.account(m.spans.account, |a| {
                    a.out_msgs += 1;
                    a.out_bytes += len as u64;
                });
                if from_peer {
                    client.needs_barrier.set(true);
                }
                client.touch();
            }
            Err(_) => {
                client.slow_consumer(core.cfg().max_pending);
                return None;
            }
        }
        let d = sub.delivered.get() + 1;
        sub.delivered.set(d);
        Some(sub.max.get() > 0 && d >= sub.max.get())
    });
    match expired.flatten() {
        Some(true) => {
            core.route_scratch().expired.push(key);
            true
        }
        Some(false) => true,
        None => false,
    }
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
    let prefix = client.log_prefix();
    trace::delivery(&prefix, m.subject(), sid, m.reply(), hdr, body.len());
    trace::payload(
        &prefix,
        trace::Dir::Out,
        body,
        m.hdr(),
        core.cfg().max_traced_msg_len,
        core.cfg().trace_headers,
    );
}

/// Removes subscriptions that reached their UNSUB max during this message.
fn reap_expired(core: &Core) {
    if core.route_scratch().expired.is_empty() {
        return;
    }
    let expired = std::mem::take(&mut core.route_scratch().expired);
    for &key in &expired {
        core.unsubscribe(key, crate::trace::on());
    }
    let mut e = expired;
    e.clear();
    core.route_scratch().expired = e;
}

/// Picks one member of a local group, uniformly by weight, skipping the
/// publisher itself when it does not want its own messages, and members whose
/// permissions deny them `subject` (nats-server then tries the next member).
fn pick_local(
    core: &Core,
    g: &Group<u32>,
    subject: &[u8],
    skip: Option<&Rc<Client>>,
) -> Option<u32> {
    if g.members.is_empty() {
        return None;
    }
    let start = core.rand(g.members.len() as u64) as usize;
    // Scan from a random start so a member skipped for echo does not starve.
    for i in 0..g.members.len() {
        let (key, _) = g.members[(start + i) % g.members.len()];
        let denied = core.auth().any_permissions()
            && core
                .registry()
                .with_sub(key, |s| match s.client.perms.borrow_mut().as_mut() {
                    Some(p) => p.delivery_denied(subject, Some(&g.name)),
                    None => false,
                })
                .unwrap_or(false);
        if denied {
            continue;
        }
        if let Some(p) = skip {
            if !p.opts.get().echo
                && core
                    .registry()
                    .with_sub(key, |s| Rc::ptr_eq(&s.client, p))
                    .unwrap_or(false)
            {
                continue;
            }
        }
        return Some(key);
    }
    None
}

/// Picks, by weight, the peer member of a remote group: (core, its queue id).
fn pick_remote(rg: &Group<PeerKey>, mut r: u64) -> Option<PeerKey> {
    for &(k, w) in &rg.members {
        if r < w as u64 {
            return Some(k);
        }
        r -= w as u64;
    }
    None
}

/// Routes a message published by `publisher` on this core, as it is: a
/// client's publish was mapped (see [`map`]) and permission-checked by the
/// caller. Returns whether anyone (local or a peer core with interest) was
/// given the message.
pub fn publish(core: &Core, publisher: &Rc<Client>, m: &Msg) -> bool {
    let delivered = publish_as_is(core, publisher, m);
    // A response this publish set off is the publisher's doing: its next
    // PONG waits for it too, as nats-server delivers it before answering.
    if drain_responses(core) {
        publisher.needs_barrier.set(true);
    }
    delivered
}

/// Applies `account`'s subject mappings to `subject` (nats-server's
/// `selectMappedSubject`): a client's publish and a service import's
/// subject in the exporter are mapped before anything else looks at them.
#[inline]
pub fn map(core: &Core, account: u16, subject: &[u8], out: &mut Vec<u8>) -> Mapped {
    if core.plain_routing() {
        return Mapped::Unchanged;
    }
    let routing = core.routing();
    if routing.mappings.is_empty() {
        return Mapped::Unchanged;
    }
    routing
        .mappings
        .select(account, subject, core.rand(100), out)
}

/// A response delivered to this core's reply wildcard: its request's
/// reply subject and account, if still waiting (see `services.rs`).
/// Whether it was (then the response had a taker: no "no responders" for
/// a responder that asked for them, as nats-server's response import).
fn queue_response(core: &Core, m: &Msg) -> bool {
    let Some(token) = crate::services::token_of(core.id(), m.subject()) else {
        return false;
    };
    let empty = m.payload().len() == m.hdr();
    let now = core.env().now.get();
    let Some((account, reply)) = core.replies().take(token, m.spans.account, now, empty) else {
        return false;
    };
    // The response's own reply subject is the exporter's: mapped back, as
    // nats-server's reverse response import, so that the requester's
    // answer to it reaches the exporter.
    let back = if m.reply().is_empty() {
        String::new()
    } else {
        let token: u64 = rand::random();
        core.replies().insert(
            token,
            (m.spans.account, account),
            m.reply(),
            true,
            now,
            crate::services::DEFAULT_THRESHOLD,
        );
        core.replies().want_subscription(account);
        crate::services::reply_subject(core.id(), token)
    };
    let (frame, mut spans) = remade(m, &reply, back.as_bytes());
    spans.account = account;
    core.replies().push_response(frame, spans);
    true
}

/// Routes the responses queued by deliveries, now that no routing holds the
/// registry. Whether there were any.
fn drain_responses(core: &Core) -> bool {
    if !core.replies().has_queued() {
        return false;
    }
    let mut any = false;
    while let Some((frame, spans)) = core.replies().pop_response() {
        any = true;
        let internal = core.internal_publisher();
        for account in core.replies().take_wanted() {
            subscribe_replies(core, account);
        }
        publish(
            core,
            &internal,
            &Msg {
                frame: &frame,
                spans,
            },
        );
    }
    any
}

/// This core's reply wildcard in `account`, subscribed once.
fn subscribe_replies(core: &Core, account: u16) {
    if core.replies().subscribe_once(account) {
        let internal = core.internal_publisher();
        let wildcard = crate::services::reply_wildcard(core.id());
        let key = core.key(account, wildcard.as_bytes());
        core.subscribe(&internal, bytes::Bytes::from(wildcard), key, None);
    }
}

/// How many service imports a request may pass through (a chain: the
/// exporter's own import of the service from a third account, …): nats-server
/// refuses import cycles in its configuration; this bounds one anyway.
const MAX_SERVICE_CHAIN: usize = 8;

/// A service request published in an importing account: delivered in the
/// exporter under the service's subject, with a reply subject that brings
/// the responses back to this core.
fn request_services(core: &Core, publisher: &Rc<Client>, m: &Msg) -> bool {
    request_services_from(core, publisher, m, None, 0)
}

/// [`request_services`] for `m` in account `m.spans.account`; `origin`: the
/// first importer's `Nats-Request-Info` when `m` already came through an
/// import (a chain: each later hop names the account it passes through as
/// `svc`, as nats-server's do).
fn request_services_from(
    core: &Core,
    publisher: &Rc<Client>,
    m: &Msg,
    origin: Option<&str>,
    hops: usize,
) -> bool {
    if hops >= MAX_SERVICE_CHAIN {
        return false;
    }
    let routing = core.routing();
    let services = &routing.services;
    let mut delivered = false;
    let mut to = Vec::new();
    for imp in services.of(m.spans.account) {
        if !imp.transform.apply(m.subject(), &mut to) {
            continue;
        }
        // The exporter's mappings apply to the service's subject.
        let mut mapped = Vec::new();
        match map(core, imp.exporter, &to, &mut mapped) {
            Mapped::Unchanged => {}
            Mapped::To => to = mapped,
            Mapped::Dropped => continue,
        }
        let (reply, token) = if m.reply().is_empty() {
            (String::new(), None)
        } else {
            subscribe_replies(core, imp.exporter);
            let token: u64 = rand::random();
            let single = imp.response == crate::services::ResponseType::Single;
            let now = core.env().now.get();
            core.replies().insert(
                token,
                (m.spans.account, imp.exporter),
                m.reply(),
                single,
                now,
                imp.threshold,
            );
            (
                crate::services::reply_subject(core.id(), token),
                Some(token),
            )
        };
        // Who asked, as nats-server tells the exporter.
        let first = match origin {
            Some(o) => o.to_string(),
            None if imp.share && !publisher.internal => {
                crate::user_info::shared_request_info(core, publisher)
            }
            None => crate::services::request_info(
                &core.auth().account_name(m.spans.account),
                publisher.rtt.get().as_nanos(),
            ),
        };
        let info = match origin {
            Some(o) => crate::services::through(o, &core.auth().account_name(m.spans.account)),
            None => first.clone(),
        };
        let (frame, mut spans) =
            crate::services::with_request_info(m, &to, reply.as_bytes(), &info);
        spans.account = imp.exporter;
        let request = Msg {
            frame: &frame,
            spans,
        };
        let mut reached = route_in_account(core, publisher, &request, &[]);
        // The exporter may itself import the service from another account.
        if !routing.services.of(imp.exporter).is_empty() {
            reached |= request_services_from(core, publisher, &request, Some(&first), hops + 1);
        }
        if let (false, Some(token)) = (reached, token) {
            // Nobody has the request: no response will come (nats-server
            // removes the response import at once).
            core.replies().remove(token);
        }
        delivered |= reached;
    }
    delivered
}

/// `m` with `subject` and `reply` in place of its own: a new frame holding
/// the subject, the reply and the payload, and their spans.
pub(crate) fn remade(m: &Msg, subject: &[u8], reply: &[u8]) -> (bytes::Bytes, Spans) {
    let payload = m.payload();
    let mut b = bytes::BytesMut::with_capacity(subject.len() + reply.len() + payload.len());
    b.extend_from_slice(subject);
    b.extend_from_slice(reply);
    b.extend_from_slice(payload);
    let s = subject.len() as u32;
    let r = s + reply.len() as u32;
    let spans = Spans {
        subject: (0, s),
        reply: if reply.is_empty() { (0, 0) } else { (s, r) },
        payload: (r, r + payload.len() as u32),
        ..m.spans
    };
    (b.freeze(), spans)
}

/// [`publish`] after mappings: in the publisher's account, then in each
/// account that imports the subject, under the import's subject.
fn publish_as_is(core: &Core, publisher: &Rc<Client>, m: &Msg) -> bool {
    if core.plain_routing() {
        let delivered = route_in_account(core, publisher, m, &[]);
        reap_expired(core);
        return delivered;
    }
    let routing = core.routing();
    let imports = &routing.imports;
    let mut delivered = if imports.is_empty() || imports.of(m.spans.account).is_empty() {
        route_in_account(core, publisher, m, &[])
    } else {
        publish_with_imports(core, publisher, m)
    };
    if !routing.services.is_empty() {
        delivered |= request_services(core, publisher, m);
    }
    reap_expired(core);
    delivered
}

/// [`publish_as_is`] for a subject other accounts import: the exporter's
/// and the importers' queue groups of one name are one group, as nats-server
/// makes them (an importer's subscriptions are shadow subscriptions in the
/// exporter's sublist): each name gets one member across all the accounts,
/// its account drawn by the group's weight in each.
fn publish_with_imports(core: &Core, publisher: &Rc<Client>, m: &Msg) -> bool {
    // The copies: (account, subject), the exporter's own first.
    let mut copies: Vec<(u16, Vec<u8>)> = vec![(m.spans.account, m.subject().to_vec())];
    let mut to = Vec::new();
    let routing = core.routing();
    for imp in routing.imports.of(m.spans.account) {
        if imp.transform.apply(m.subject(), &mut to) {
            copies.push((imp.importer, std::mem::take(&mut to)));
        }
    }
    // Each group name's weight in each copy, then the copy that takes it.
    let mut weights: Vec<(bytes::Bytes, Vec<u64>)> = Vec::new();
    for (i, (account, subject)) in copies.iter().enumerate() {
        group_weights(core, *account, subject, |name, w| {
            let at = match weights.iter().position(|(n, _)| *n == name) {
                Some(at) => at,
                None => {
                    weights.push((name.clone(), vec![0; copies.len()]));
                    weights.len() - 1
                }
            };
            weights[at].1[i] += w;
        });
    }
    let mut skip: Vec<Vec<bytes::Bytes>> = vec![Vec::new(); copies.len()];
    for (name, w) in &weights {
        if w.iter().filter(|&&x| x > 0).count() < 2 {
            continue;
        }
        let mut r = core.rand(w.iter().sum());
        let mut taker = 0;
        for (i, &x) in w.iter().enumerate() {
            if r < x {
                taker = i;
                break;
            }
            r -= x;
        }
        for (i, s) in skip.iter_mut().enumerate() {
            if i != taker && w[i] > 0 {
                s.push(name.clone());
            }
        }
    }
    let mut delivered = route_in_account(core, publisher, m, &skip[0]);
    for (i, (account, subject)) in copies.iter().enumerate().skip(1) {
        delivered |= route_as(core, publisher, m, subject, m.reply(), *account, &skip[i]);
    }
    delivered
}

/// Calls `each` with the name and weight (on every core) of each queue
/// group matching `subject` in `account`.
fn group_weights(
    core: &Core,
    account: u16,
    subject: &[u8],
    mut each: impl FnMut(&bytes::Bytes, u64),
) {
    core.keyed(account, subject, |key| {
        if core.cores() > 1 {
            core.registry().lookup_both(key, |local, remote| {
                for g in &local.groups {
                    each(&g.name, u64::from(g.total_weight));
                }
                for g in &remote.groups {
                    each(&g.name, u64::from(g.total_weight));
                }
            })
        } else {
            core.registry().lookup_local(key, |local| {
                for g in &local.groups {
                    each(&g.name, u64::from(g.total_weight));
                }
            })
        }
    })
}

/// Routes a copy of `m` with `subject` and `reply`, in `account`, but for
/// the queue groups named in `skip`.
fn route_as(
    core: &Core,
    publisher: &Rc<Client>,
    m: &Msg,
    subject: &[u8],
    reply: &[u8],
    account: u16,
    skip: &[bytes::Bytes],
) -> bool {
    let (frame, mut spans) = remade(m, subject, reply);
    spans.account = account;
    route_in_account(
        core,
        publisher,
        &Msg {
            frame: &frame,
            spans,
        },
        skip,
    )
}

/// Routes `m` to the subscribers of its account, but for the queue groups
/// named in `skip` (another account's copy takes those).
fn route_in_account(core: &Core, publisher: &Rc<Client>, m: &Msg, skip: &[bytes::Bytes]) -> bool {
    core.keyed(m.spans.account, m.subject(), |key| {
        if core.cores() > 1 {
            core.registry().lookup_both(key, |local, remote| {
                route(core, publisher, m, local, Some(remote), skip)
            })
        } else {
            core.registry()
                .lookup_local(key, |local| route(core, publisher, m, local, None, skip))
        }
    })
}

fn route(
    core: &Core,
    publisher: &Rc<Client>,
    m: &Msg,
    local: &Match<u32>,
    remote: Option<&Match<PeerKey>>,
    skip: &[bytes::Bytes],
) -> bool {
    let mut delivered = false;
    for &key in &local.plain {
        delivered |= deliver(core, key, m, Some(publisher), false);
    }
    let mut plan = core.route_scratch();
    let scratch = &mut *plan;
    for p in scratch.peers.iter_mut() {
        p.wanted = false;
        p.queues.clear();
    }
    scratch.picks.clear();
    if let Some(r) = remote {
        for &(c, _) in &r.plain {
            scratch.peers[c as usize].wanted = true;
        }
    }
    // Queue groups: local groups (maybe with remote members too), then groups
    // that only peers have.
    for g in &local.groups {
        if skip.contains(&g.name) {
            continue;
        }
        let rg = remote.and_then(|r| r.groups.iter().find(|x| x.name == g.name));
        let local_w = g.total_weight as u64;
        let total = local_w + rg.map_or(0, |x| x.total_weight as u64);
        let r = core.rand(total);
        if r < local_w {
            if let Some(k) = pick_local(core, g, m.subject(), Some(publisher)) {
                scratch.picks.push(k);
            } else if let Some((c, qid)) =
                rg.and_then(|rg| pick_remote(rg, core.rand(rg.total_weight as u64)))
            {
                // The only member here is the publisher itself, with echo
                // off: a member on another core takes the message, as
                // nats-server moves on to the next member it can deliver to.
                scratch.peers[c as usize].queues.push(qid);
            }
        } else if let Some((c, qid)) = rg.and_then(|rg| pick_remote(rg, r - local_w)) {
            scratch.peers[c as usize].queues.push(qid);
        }
    }
    if let Some(r) = remote {
        for rg in &r.groups {
            if local.groups.iter().any(|g| g.name == rg.name) || skip.contains(&rg.name) {
                continue;
            }
            let x = core.rand(rg.total_weight as u64);
            if let Some((c, qid)) = pick_remote(rg, x) {
                scratch.peers[c as usize].queues.push(qid);
            }
        }
    }
    // Hand the message to each peer core that wants it.
    for (c, p) in scratch.peers.iter().enumerate() {
        if c == core.id() || (!p.wanted && p.queues.is_empty()) {
            continue;
        }
        core.links().push_msg(c, m, &p.queues);
        Stats::bump(&core.env().stats.ring_msgs_out);
        publisher.needs_barrier.set(true);
        delivered = true;
    }
    let picks = std::mem::take(&mut scratch.picks);
    drop(plan);
    for &k in &picks {
        delivered |= deliver(core, k, m, None, false);
    }
    core.route_scratch().picks = picks;
    delivered
}

/// Delivers a message that a peer core routed here. `queues` are this core's
/// ids of the groups the publisher's core picked this core for.
pub fn deliver_remote(core: &Core, m: &Msg, queues: &[QueueId]) {
    Stats::bump(&core.env().stats.ring_msgs_in);
    core.keyed(m.spans.account, m.subject(), |key| {
        core.registry().lookup_local(key, |local| {
            for &key in &local.plain {
                deliver(core, key, m, None, true);
            }
            for &q in queues {
                let Some(name) = core.registry().queue_name(q) else {
                    continue; // the group is gone from this core
                };
                if let Some(g) = local.groups.iter().find(|g| g.name == name) {
                    if let Some(k) = pick_local(core, g, m.subject(), None) {
                        deliver(core, k, m, None, true);
                    }
                }
            }
        })
    });
    reap_expired(core);
}

/// Applies one batch from peer `src`: its messages to this core's
/// subscribers, its interest changes to the summary, its barrier items; then
/// gives the emptied batch back to `src`.
pub fn apply_batch(core: &Core, src: usize, batch: Batch) {
    for item in &batch.items {
        match item {
            Item::Msg {
                frame,
                spans,
                queues: (s, l),
            } => {
                let q = &batch.queues[*s as usize..(*s + *l) as usize];
                deliver_remote(core, &batch.msg(*frame, *spans), q);
            }
            Item::Interest {
                pattern,
                queue,
                add,
            } => core
                .registry()
                .apply_interest(src as u16, pattern, queue, *add),
            Item::Sync(s) => core.links().on_sync(src, *s),
            Item::Ack(s) => core.links().on_ack(src, *s),
        }
    }
    core.links().give_back(src, batch);
    drain_responses(core);
}
