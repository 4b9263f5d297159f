//! Routing: a message published on this core to its local subscribers, to
//! the peer cores that want it and to the cluster routes and leaves that
//! want it (once per link, with the queue groups picked for it); a message
//! a route or leaf brought, to this server's clients and the links its
//! source lets it go on to ([`may_forward`]: nats-server's rules, with the
//! leaf cluster it started in as its origin); and the batches peer cores
//! send here (their messages to this core's subscribers, their interest
//! changes, barriers).
//!
//! Runs inside a reader's or a ring drain's pass on the owning core. Never writes
//! a socket and never waits: delivering is appending to a subscriber's outbound
//! queue and touching it. Queue groups are resolved where the message is
//! published: among local members, peer cores and cluster peers weighted by
//! their member counts; a chosen peer core then picks one of its own members
//! (a client, or a route when it was picked for one).
//!
//! No allocation per message, cache hit or miss: lookups build into the
//! registry's scratch, the per-peer plans and picked members are reused
//! vectors, a peer gets one frame handle per pass and the ids of its groups.

use std::cell::RefMut;
use std::rc::Rc;

use shoal_subject::{Group, Match};

use crate::client::Client;
use crate::core::{Core, RouteScratch};
use crate::mappings::Mapped;
use crate::msg::{Msg, Spans};
use crate::registry::{PeerKey, ROUTE_PEER};
use crate::ring::{Batch, Item, QueueId, ROUTE_MEMBER};
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
        if client.route {
            // A cluster peer's or a leaf's interest: the message leaves on
            // that link once, after this routing, if the rules let it go
            // there (never back where it came from).
            let from = publisher.filter(|p| p.route);
            if from.is_some_and(|p| Rc::ptr_eq(p, client)) || !may_forward(&m.spans, client) {
                return None;
            }
            if client.leaf && !client.leaf_may_send(m.subject()) {
                return None;
            }
            target_route(core, client, sub.queue.as_ref().map(|(_, n)| n));
            sub.delivered.set(sub.delivered.get() + 1);
            return Some(false);
        }
        if client.jetstream {
            // An API request or a stream's message: done after this pass.
            if let Some(js) = core.js() {
                js.take(&sub.sid, m);
            }
            return Some(false);
        }
        if client.internal {
            // A request for the server itself (its only subscriptions but
            // the service replies' `_R_.…`): answered off this routing, and
            // counted as delivered (it has a responder).
            if m.subject() == crate::user_info::SUBJECT {
                if let Some(p) = publisher.filter(|p| !p.route) {
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

/// Whether a message may go on to route or leaf `to`, as nats-server's
/// `processMsgResults` decides: a route takes a client's message and one
/// from a leaf this server is hub to (a route's never: the full mesh has
/// it; a spoke's connection never: its hub's cluster has it); a leaf takes
/// a client's, a route's when this server is its hub, another leaf's; none
/// goes to a leaf of the cluster it started in. An import's copy stays
/// with the clients (each server makes its own from the exporter's).
#[inline]
fn may_forward(spans: &crate::msg::Spans, to: &Client) -> bool {
    use crate::msg::Source;
    if spans.copy {
        return false;
    }
    let not_back = |origin: u16| origin == 0 || to.leaf_cluster.get() != origin;
    match (to.leaf, spans.source) {
        (false, Source::Here | Source::Leaf { hub: true, .. }) => true,
        (false, _) => false,
        (true, Source::Here) => true,
        (true, Source::Route { origin }) => !to.spoke.get() && not_back(origin),
        (true, Source::Leaf { origin, .. }) => not_back(origin),
    }
}

/// Whether a link-held interest on peer core `c` may take a message that
/// came in over a link (`routed`): a hub-side leaf's goes to the routes on
/// every core; a route's to the leaf core's leaves when this server is a
/// hub in a cluster (that core's link-held interest may be a route's too:
/// the message then finds nothing it may take there, the cost of one ring
/// hop).
#[inline]
fn reaches_links(core: &Core, spans: &crate::msg::Spans, c: usize) -> bool {
    use crate::msg::Source;
    match spans.source {
        Source::Leaf { hub: true, .. } => core.routes().cluster(),
        Source::Route { .. } => c == crate::core::LEAF_CORE && core.hub_in_cluster(),
        _ => false,
    }
}

/// Adds route `link` to the message's route targets (once), with the queue
/// group `queue` for which it was picked, if any.
fn target_route(core: &Core, link: &Rc<Client>, queue: Option<&bytes::Bytes>) {
    let mut s = core.route_scratch();
    let n = s.n_routes;
    let found = s.routes[..n]
        .iter()
        .position(|t| t.link.as_ref().is_some_and(|l| Rc::ptr_eq(l, link)));
    let at = match found {
        Some(at) => at,
        None => {
            if s.routes.len() == n {
                s.routes.push(Default::default());
            }
            s.routes[n].link = Some(link.clone());
            s.n_routes = n + 1;
            n
        }
    };
    if let Some(q) = queue {
        s.routes[at].queues.push(q.clone());
    }
}

/// Writes the message once to each route it targets (`RMSG`/`HMSG` with
/// the groups each route was picked for), then forgets the targets.
fn send_routes(core: &Core, m: &Msg) {
    if core.route_scratch().n_routes == 0 {
        return;
    }
    let account = core.routes().account_name(core.auth(), m.spans.account);
    // A leaf's message goes to the routes with its cluster (`LMSG
    // <origin>`) to the peers that read it.
    let origin = match m.spans.source {
        crate::msg::Source::Leaf { origin, .. } if origin != 0 => core.origin_name(origin),
        _ => bytes::Bytes::new(),
    };
    let max = core.cfg().max_pending;
    let mut s = core.route_scratch();
    let n = std::mem::take(&mut s.n_routes);
    for t in &mut s.routes[..n] {
        let Some(link) = t.link.take() else {
            continue;
        };
        let headers = link.opts.get().headers;
        // A route dedicated to the account names none on its lines.
        let name: &[u8] = match link.route_scope.get() {
            crate::client::RouteScope::Account(_) => b"",
            _ => &account,
        };
        let peer = if !link.leaf && !origin.is_empty() && link.lnoc.get().0 {
            shoal_proto::encode::Peer::Origin {
                origin: &origin,
                account: name,
            }
        } else {
            crate::client::peer_line(&link, name)
        };
        let res = link
            .out
            .borrow_mut()
            .push_routed(m, peer, &t.queues, headers, max);
        t.queues.clear();
        match res {
            Ok(0) => {}
            Ok(_) => {
                let len = m.payload().len() as u64;
                link.out_msgs.set(link.out_msgs.get() + 1);
                link.out_bytes.set(link.out_bytes.get() + len);
                link.touch();
            }
            Err(_) => link.slow_consumer(max),
        }
    }
}

/// Which members of a local queue group a pick may choose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Members {
    /// Clients and routes alike (a client's message).
    Any,
    /// This server's clients only (a message from a route, or a peer core
    /// that picked this core's clients).
    Clients,
    /// Routes only (a peer core picked this core's route members).
    Routes,
}

/// Whether local subscription `key` may be picked as `members` says.
fn eligible(core: &Core, key: u32, members: Members) -> bool {
    match members {
        Members::Any => true,
        // No route holds queue interest on this core: all members are clients.
        _ if !core.registry().has_route_queue_subs() => members == Members::Clients,
        _ => core
            .registry()
            .with_sub(key, |s| s.client.route == (members == Members::Routes))
            .unwrap_or(false),
    }
}

/// Where a pick's scan starts: uniformly among the group's members, or, on
/// a cluster node (whose route members count as many members), by weight
/// among the eligible ones.
fn pick_start(core: &Core, g: &Group<u32>, members: Members) -> Option<usize> {
    // Without route members every member weighs one (a client).
    if !core.routes().on()
        || (!core.registry().has_route_queue_subs() && members != Members::Routes)
    {
        return Some(core.rand(g.members.len() as u64) as usize);
    }
    let total: u64 = g
        .members
        .iter()
        .filter(|(k, _)| eligible(core, *k, members))
        .map(|(_, w)| u64::from(*w))
        .sum();
    if total == 0 {
        return None;
    }
    let mut r = core.rand(total);
    for (i, (k, w)) in g.members.iter().enumerate() {
        if !eligible(core, *k, members) {
            continue;
        }
        if r < u64::from(*w) {
            return Some(i);
        }
        r -= u64::from(*w);
    }
    None
}

/// The weight of a local group's client members.
fn client_weight(core: &Core, g: &Group<u32>) -> u64 {
    if !core.registry().has_route_queue_subs() {
        return u64::from(g.total_weight);
    }
    g.members
        .iter()
        .filter(|(k, _)| eligible(core, *k, Members::Clients))
        .map(|(_, w)| u64::from(*w))
        .sum()
}

/// The queue id a peer core is handed for a summary pick: a route member
/// of that core is marked as such.
fn peer_pick((c, qid): PeerKey) -> (usize, QueueId) {
    if c & ROUTE_PEER != 0 {
        ((c & !ROUTE_PEER) as usize, qid | ROUTE_MEMBER)
    } else {
        (c as usize, qid)
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
    m: &Msg,
    skip: Option<&Rc<Client>>,
    members: Members,
) -> Option<u32> {
    if g.members.is_empty() {
        return None;
    }
    let subject = m.subject();
    let start = pick_start(core, g, members)?;
    // Scan from a random start so a member skipped for echo does not starve.
    for i in 0..g.members.len() {
        let (key, _) = g.members[(start + i) % g.members.len()];
        if core.routes().on() && !eligible(core, key, members) {
            continue;
        }
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
            // Never the publisher without echo, nor the link it came from.
            if (!p.opts.get().echo || p.route)
                && core
                    .registry()
                    .with_sub(key, |s| Rc::ptr_eq(&s.client, p))
                    .unwrap_or(false)
            {
                continue;
            }
        }
        // A link's member only where the message may go on to it.
        if members == Members::Routes
            && !core
                .registry()
                .with_sub(key, |s| may_forward(&m.spans, &s.client))
                .unwrap_or(false)
        {
            continue;
        }
        return Some(key);
    }
    None
}

/// For a message that came over a link and that no client member takes:
/// a link-held member on a peer core it may reach (see [`reaches_links`]),
/// by weight, as (core, its queue id marked a route pick).
fn pick_link_peer(core: &Core, m: &Msg, rg: &Group<PeerKey>) -> Option<(usize, QueueId)> {
    let ok =
        |c: u16| c & ROUTE_PEER != 0 && reaches_links(core, &m.spans, (c & !ROUTE_PEER) as usize);
    let total: u64 = rg
        .members
        .iter()
        .filter(|((c, _), _)| ok(*c))
        .map(|(_, w)| u64::from(*w))
        .sum();
    if total == 0 {
        return None;
    }
    let mut r = core.rand(total);
    for &(k, w) in rg.members.iter().filter(|((c, _), _)| ok(*c)) {
        if r < u64::from(w) {
            return Some(peer_pick(k));
        }
        r -= u64::from(w);
    }
    None
}

/// Picks, by weight, the peer member of a remote group: (core, its queue
/// id); with `clients`, among the peer cores' client members only.
fn pick_remote(rg: &Group<PeerKey>, mut r: u64, clients: bool) -> Option<PeerKey> {
    for &(k, w) in &rg.members {
        if clients && k.0 & ROUTE_PEER != 0 {
            continue;
        }
        if r < w as u64 {
            return Some(k);
        }
        r -= w as u64;
    }
    None
}

/// A remote group's weight (its client members' only, with `clients`).
fn remote_weight(rg: &Group<PeerKey>, clients: bool) -> u64 {
    if !clients {
        return u64::from(rg.total_weight);
    }
    rg.members
        .iter()
        .filter(|((c, _), _)| c & ROUTE_PEER == 0)
        .map(|(_, w)| u64::from(*w))
        .sum()
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

/// Publishes a message of the server's own (`hdr`: a header block, or
/// empty) on `subject` in `account`, from this core's internal publisher.
pub fn publish_internal(core: &Core, account: u16, subject: &[u8], hdr: &[u8], body: &[u8]) {
    let mut b = bytes::BytesMut::with_capacity(subject.len() + hdr.len() + body.len());
    b.extend_from_slice(subject);
    b.extend_from_slice(hdr);
    b.extend_from_slice(body);
    let frame = b.freeze();
    let s = subject.len() as u32;
    let spans = Spans {
        subject: (0, s),
        reply: (0, 0),
        payload: (s, s + (hdr.len() + body.len()) as u32),
        hdr: hdr.len() as u32,
        account,
        source: crate::msg::Source::Here,
        copy: false,
    };
    let publisher = core.internal_publisher();
    publish(
        core,
        &publisher,
        &Msg {
            frame: &frame,
            spans,
        },
    );
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
    // An import's copy stays on this server: a cluster peer makes its own
    // from the exporter's message (its subscribers' shadow interest).
    spans.copy = true;
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
    fresh_plan(scratch);
    // A message that stays on this server (an account import's copy: the
    // peers make their own) goes to clients only.
    let clients = m.spans.copy;
    let members = if clients {
        Members::Clients
    } else {
        Members::Any
    };
    if let Some(r) = remote {
        for &(c, _) in &r.plain {
            if clients && c & ROUTE_PEER != 0 {
                continue;
            }
            scratch.peers[(c & !ROUTE_PEER) as usize].wanted = true;
        }
    }
    // Queue groups: local groups (maybe with remote members too), then groups
    // that only peers have. Route members count by the weight their peer
    // announced, and take the message like any member.
    for g in &local.groups {
        if skip.contains(&g.name) {
            continue;
        }
        let rg = remote.and_then(|r| r.groups.iter().find(|x| x.name == g.name));
        // Behind a leaf, members are a fallback: this server's clients
        // take the message when any can (nats-server's preference).
        // (The clients' weight is counted once, and only when it decides.)
        let client_w = (clients || core.leaf_only()).then(|| client_weight(core, g));
        let clients =
            clients || client_w.is_some_and(|w| w + rg.map_or(0, |x| remote_weight(x, true)) > 0);
        let members = if clients { Members::Clients } else { members };
        let local_w = match client_w {
            Some(w) if clients => w,
            _ => g.total_weight as u64,
        };
        let total = local_w + rg.map_or(0, |x| remote_weight(x, clients));
        if total == 0 {
            continue;
        }
        let r = core.rand(total);
        if r < local_w {
            if let Some(k) = pick_local(core, g, m, Some(publisher), members) {
                scratch.picks.push(k);
            } else if let Some(k) =
                rg.and_then(|rg| pick_remote(rg, core.rand(remote_weight(rg, clients)), clients))
            {
                // The only member here is the publisher itself, with echo
                // off: a member on another core takes the message, as
                // nats-server moves on to the next member it can deliver to.
                let (c, qid) = peer_pick(k);
                scratch.peers[c].queues.push(qid);
            }
        } else if let Some(k) = rg.and_then(|rg| pick_remote(rg, r - local_w, clients)) {
            let (c, qid) = peer_pick(k);
            scratch.peers[c].queues.push(qid);
        }
    }
    if let Some(r) = remote {
        for rg in &r.groups {
            if local.groups.iter().any(|g| g.name == rg.name) || skip.contains(&rg.name) {
                continue;
            }
            let clients = clients || core.leaf_only() && remote_weight(rg, true) > 0;
            let x = core.rand(remote_weight(rg, clients));
            if let Some(k) = pick_remote(rg, x, clients) {
                let (c, qid) = peer_pick(k);
                scratch.peers[c].queues.push(qid);
            }
        }
    }
    let (crossed, picked) = carry_out(core, plan, m, None);
    if crossed {
        publisher.needs_barrier.set(true);
    }
    send_routes(core, m);
    delivered | crossed | picked
}

/// Starts a message's plan: no peer core wanted, no member picked.
fn fresh_plan(scratch: &mut RouteScratch) {
    for p in scratch.peers.iter_mut() {
        p.wanted = false;
        p.queues.clear();
    }
    scratch.picks.clear();
}

/// Carries a plan out: the message to each peer core it names (with the
/// groups picked there), then to the local members picked. Returns whether
/// a peer core was handed it, and whether a picked member took it.
/// `source`: the leaf a message came from (its picks may be other leaves).
fn carry_out(
    core: &Core,
    mut plan: RefMut<'_, RouteScratch>,
    m: &Msg,
    source: Option<&Rc<Client>>,
) -> (bool, bool) {
    let mut crossed = false;
    for (c, p) in plan.peers.iter().enumerate() {
        if c == core.id() || (!p.wanted && p.queues.is_empty()) {
            continue;
        }
        core.links().push_msg(c, m, &p.queues);
        Stats::bump(&core.env().stats.ring_msgs_out);
        crossed = true;
    }
    let picks = std::mem::take(&mut plan.picks);
    drop(plan);
    let mut picked = false;
    for &k in &picks {
        picked |= deliver(core, k, m, source, false);
    }
    core.route_scratch().picks = picks;
    (crossed, picked)
}

/// Routes a message a cluster peer sent over route `link` on this core:
/// to every local plain subscriber on any core, and to one client member
/// of each queue group the peer listed (`queues`: the span of their names
/// in the frame), never to a route. Returns whether a peer core was
/// handed it (the route's next PONG then waits for the barrier).
pub fn publish_routed(
    core: &Core,
    m: &Msg,
    queues: (u32, u32),
    source: Option<&Rc<Client>>,
) -> bool {
    let names = (&m.frame[..], queues);
    let mut crossed = routed_in_account(core, m, names, source);
    // The accounts that import this subject get their copies here: the
    // peer sent the message in the exporter's account only.
    if !core.plain_routing() {
        let routing = core.routing();
        let mut to = Vec::new();
        for imp in routing.imports.of(m.spans.account) {
            if !imp.transform.apply(m.subject(), &mut to) {
                continue;
            }
            let (frame, mut spans) = remade(m, &to, m.reply());
            spans.account = imp.importer;
            let copy = Msg {
                frame: &frame,
                spans,
            };
            crossed |= routed_in_account(core, &copy, names, source);
        }
    }
    reap_expired(core);
    drain_responses(core);
    crossed
}

fn routed_in_account(
    core: &Core,
    m: &Msg,
    names: (&[u8], (u32, u32)),
    source: Option<&Rc<Client>>,
) -> bool {
    core.keyed(m.spans.account, m.subject(), |key| {
        if core.cores() > 1 {
            core.registry().lookup_both(key, |local, remote| {
                routed(core, m, local, Some(remote), names, source)
            })
        } else {
            core.registry()
                .lookup_local(key, |local| routed(core, m, local, None, names, source))
        }
    })
}

fn routed(
    core: &Core,
    m: &Msg,
    local: &Match<u32>,
    remote: Option<&Match<PeerKey>>,
    (names, queues): (&[u8], (u32, u32)),
    source: Option<&Rc<Client>>,
) -> bool {
    // A leaf's message also goes to the other leaves' plain interest
    // here (all leaves are on this core); a route's to clients only.
    for &key in &local.plain {
        deliver(core, key, m, source, false);
    }
    let mut plan = core.route_scratch();
    let scratch = &mut *plan;
    fresh_plan(scratch);
    if let Some(r) = remote {
        for &(c, _) in &r.plain {
            let peer = (c & !ROUTE_PEER) as usize;
            if c & ROUTE_PEER == 0 || reaches_links(core, &m.spans, peer) {
                scratch.peers[peer].wanted = true;
            }
        }
    }
    let span = shoal_proto::Span {
        start: queues.0,
        end: queues.1,
    };
    for q in shoal_proto::route::words(names, span) {
        let name = q.of(names);
        let g = local.groups.iter().find(|g| &g.name[..] == name);
        let rg = remote.and_then(|r| r.groups.iter().find(|x| &x.name[..] == name));
        let local_w = g.map_or(0, |g| client_weight(core, g));
        let remote_w = rg.map_or(0, |rg| remote_weight(rg, true));
        if local_w + remote_w == 0 {
            // No client member: a link's member takes it as the last
            // resort (nats-server's): for a leaf's message another leaf's
            // or, from a leaf this server is hub to, a route's; for a
            // route's, a leaf's this server is hub to. Else it is dropped.
            if let Some(k) = g.and_then(|g| pick_local(core, g, m, source, Members::Routes)) {
                scratch.picks.push(k);
            } else if let Some((c, qid)) = rg.and_then(|rg| pick_link_peer(core, m, rg)) {
                scratch.peers[c].queues.push(qid);
            }
            continue;
        }
        let r = core.rand(local_w + remote_w);
        if r < local_w {
            if let Some(k) = g.and_then(|g| pick_local(core, g, m, None, Members::Clients)) {
                scratch.picks.push(k);
            }
        } else if let Some((c, qid)) = rg.and_then(|rg| pick_remote(rg, r - local_w, true)) {
            scratch.peers[c as usize].queues.push(qid);
        }
    }
    let crossed = carry_out(core, plan, m, source).0;
    send_routes(core, m);
    crossed
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
                // The publishing core picked this core's clients, or (a
                // client's message only) its route members.
                let members = if q & ROUTE_MEMBER != 0 {
                    Members::Routes
                } else if core.routes().on() {
                    Members::Clients
                } else {
                    Members::Any
                };
                let Some(name) = core.registry().queue_name(q & !ROUTE_MEMBER) else {
                    continue; // the group is gone from this core
                };
                if let Some(g) = local.groups.iter().find(|g| g.name == name) {
                    if let Some(k) = pick_local(core, g, m, None, members) {
                        deliver(core, k, m, None, true);
                    }
                }
            }
        })
    });
    send_routes(core, m);
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
                holder,
                weight,
            } => core.apply_peer_interest(src as u16, pattern, queue, *add, (*holder, *weight)),
            Item::Sync(s) => core.links().on_sync(src, *s),
            Item::Ack(s) => core.links().on_ack(src, *s),
        }
    }
    core.links().give_back(src, batch);
    drain_responses(core);
}
