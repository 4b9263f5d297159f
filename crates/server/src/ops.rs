//! What each op a client sends does: SUB and UNSUB (the registry, through the
//! core), PUB (checks, then the router), PING (the barrier when needed, then
//! PONG and a protocol-1 client's `connect_info`), PONG (keepalive
//! bookkeeping), CONNECT (options, the log prefix, the first-PING schedule,
//! refusals), and the replies in nats-server's words.
//!
//! Runs inside the reader's pass; never waits except for the PING barrier.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use shoal_proto::{encode, ConnectOptions, Op, ProtoError};
use shoal_subject::{is_valid_publish_subject, is_valid_subscribe_subject};

use crate::client::{Client, CloseReason};
use crate::core::Core;
use crate::info::{info_line, InfoKind};
use crate::mappings::Mapped;
use crate::msg::{Msg, Spans};

/// Applies one op, parsed from `data[at..]` (its spans are relative to `at`).
pub async fn handle(
    core: &Rc<Core>,
    client: &Rc<Client>,
    data: &Bytes,
    at: usize,
    op: Op,
) -> Result<(), ProtoError> {
    let buf: &[u8] = &data[at..];
    match op {
        Op::Pub {
            subject,
            reply,
            hdr,
            payload,
        } => {
            let base = at as u32;
            let shift = |s: shoal_proto::Span| (s.start + base, s.end + base);
            let m = Msg {
                frame: data,
                spans: Spans {
                    subject: shift(subject),
                    reply: reply.map_or((0, 0), shift),
                    payload: shift(payload),
                    hdr,
                    account: client.account.get(),
                    source: crate::msg::Source::Here,
                    copy: false,
                },
            };
            on_pub(core, client, &m);
            return Ok(());
        }
        Op::Sub {
            subject,
            queue,
            sid,
        } => {
            client.last.set(core.env().now.get());
            let subject = subject.of(buf);
            let queue = queue.map(|q| q.of(buf));
            let sid_b = sid.of(buf);
            let max_tokens = core.cfg().max_sub_tokens;
            let max = client.max_subs(core.cfg().max_subscriptions);
            // nats-server's order: permissions, token count, the subscription
            // limit (checked before the sid is looked up: at the limit even a
            // repeated sid is refused), then the subject itself.
            if !may_subscribe(client, subject, queue) {
                sub_violation(client, subject, queue, sid_b);
            } else if max_tokens > 0 && subject.split(|&b| b == b'.').count() > max_tokens {
                // nats-server's maxTokensViolation: the connection stays open.
                let subj = shoal_go::quote(subject);
                client.send_err(
                    format!(
                        "-ERR 'Permissions Violation for Subscription to {subj}, too many tokens'\r\n"
                    )
                    .as_bytes(),
                );
                log::error!(
                    "{} - Subscription Violation Too Many Tokens - Subject {subj}, SID {}",
                    client.log_prefix(),
                    String::from_utf8_lossy(sid_b)
                );
            } else if max.is_some_and(|m| client.subs.borrow().len() >= m) {
                client.send_err(encode::ERR_MAX_SUBSCRIPTIONS);
            } else if !is_valid_subscribe_subject(subject) {
                client.send_err(encode::ERR_INVALID_SUBJECT);
            } else {
                if !client.subs.borrow().contains_key(sid_b) {
                    core.subscribe(
                        client,
                        Bytes::copy_from_slice(sid_b),
                        core.key(client.account.get(), subject),
                        queue,
                    );
                }
                ok(client);
            }
        }
        Op::Unsub { sid, max } => {
            client.last.set(core.env().now.get());
            let key = client.subs.borrow().get(sid.of(buf)).copied();
            ok(client);
            if let Some(key) = key {
                let keep = core
                    .registry()
                    .with_sub(key, |s| {
                        if max > 0 && max > s.delivered.get() {
                            s.max.set(max);
                            true
                        } else {
                            false
                        }
                    })
                    .unwrap_or(true);
                if !keep {
                    core.unsubscribe(key, crate::trace::on());
                }
            }
        }
        Op::Ping => {
            // Everything routed anywhere before this PING, and every subscription
            // this client made, is in place before its PONG (see
            // `Client::needs_barrier` for when nothing needs waiting for).
            if client.needs_barrier.replace(false) {
                // Other readers' passes run while this one waits, and each
                // starts by clearing the core's record of the peers its pass
                // fed: keep this pass's record aside so the backpressure check
                // at its end still sees the peers it published to.
                let fed = core.links().take_pass_peers();
                core.barrier().await;
                core.links().add_pass_peers(fed);
            }
            client.send(encode::PONG);
            if crate::trace::on() {
                crate::trace::outbound(&client.log_prefix(), "PONG");
            }
            let o = client.opts.get();
            if client.connected.get() && !client.sent_connect_info.get() {
                client.sent_connect_info.set(true);
                if o.protocol >= 1 {
                    client.send(&info_line(
                        core,
                        client,
                        InfoKind::ConnectInfo(client.account.get()),
                    ));
                }
            }
        }
        Op::Pong => {
            let p = &client.ping;
            if p.outstanding.get() > 0 {
                let rtt = p.last_sent.get().elapsed();
                client.rtt.set(rtt.max(Duration::from_nanos(1)));
            }
            p.outstanding.set(0);
            p.rtt_known.set(true);
        }
        Op::Ok => {}
        Op::Err(text) => {
            log::error!(
                "{} - Client Error {}",
                client.log_prefix(),
                String::from_utf8_lossy(text.of(buf))
            );
            return Err(ProtoError::ClientErr);
        }
        Op::Info(json) => {
            if serde_json::from_slice::<serde_json::Value>(json.of(buf)).is_err() {
                return Err(ProtoError::Violation);
            }
        }
        Op::Connect(json) => return on_connect(core, client, json.of(buf)).await,
    }
    Ok(())
}

fn ok(client: &Rc<Client>) {
    if client.opts.get().verbose {
        client.send_ok();
    }
}

/// `reply` starts with a prefix reserved for the server's own routing.
fn reserved(s: &[u8], prefix: &[u8], need_more: bool) -> bool {
    s.starts_with(prefix) && (!need_more || s.len() > prefix.len())
}

fn on_pub(core: &Core, client: &Rc<Client>, m: &Msg) {
    let stats = &core.env().stats;
    stats.inbound(m.payload().len());
    stats.account(m.spans.account, |a| {
        a.in_msgs += 1;
        a.in_bytes += m.payload().len() as u64;
    });
    client.in_msgs.set(client.in_msgs.get() + 1);
    let len = m.payload().len() as u64;
    client.in_bytes.set(client.in_bytes.get() + len);
    client.last.set(core.env().now.get());
    let o = client.opts.get();
    if o.pedantic && !is_valid_publish_subject(m.subject()) {
        client.send_err(encode::ERR_INVALID_PUBLISH_SUBJECT);
    }
    // Mappings come first, as in nats-server's parser: the permissions and
    // reserved prefixes below, and every subscriber, see the mapped subject.
    // A draw that falls on no destination leaves the subject empty.
    let mut to = Vec::new();
    let remade;
    let mapped = match crate::router::map(core, m.spans.account, m.subject(), &mut to) {
        Mapped::Unchanged => *m,
        Mapped::To | Mapped::Dropped => {
            if crate::trace::on() {
                let arg = [m.subject(), b" -> ", &to].concat();
                crate::trace::inbound(&client.log_prefix(), "MAPPING", Some(&arg));
            }
            remade = crate::router::remade(m, &to, m.reply());
            Msg {
                frame: &remade.0,
                spans: remade.1,
            }
        }
    };
    let m = &mapped;
    let (subject, reply) = (m.subject(), m.reply());
    // nats-server's order: the gateway prefix, the user's permissions, the
    // raft prefix, then reserved reply prefixes.
    if reserved(subject, b"_GR_.", true) {
        return pub_violation(client, subject);
    }
    if let Some(p) = client.perms.borrow_mut().as_mut() {
        if !p.may_publish(subject, core.env().now.get()) {
            return pub_violation(client, subject);
        }
    }
    if reserved(subject, b"$NRG.", true) {
        return pub_violation(client, subject);
    }
    if !reply.is_empty()
        && (reserved(reply, b"_R_.", false)
            || reserved(reply, b"$JS.ACK.", true)
            || reserved(reply, b"_GR_.", true))
    {
        let q = shoal_go::quote(reply);
        client.send_err(
            format!("-ERR 'Permissions Violation for Publish with Reply of {q}'\r\n").as_bytes(),
        );
        log::error!("{} - Publish Violation - Reply {q}", client.log_prefix());
        return;
    }
    if o.verbose {
        client.send_ok();
    }
    let delivered = !subject.is_empty() && crate::router::publish(core, client, m);
    if !delivered && !reply.is_empty() && o.no_responders && o.headers {
        no_responders(core, client, subject, reply);
    }
    // What the publish left JetStream (on its core) is done now.
    crate::js::kick(core);
}

/// `-ERR 'Permissions Violation for Publish to "s"'`, logged as nats-server
/// logs it; the connection stays open.
fn pub_violation(client: &Rc<Client>, subject: &[u8]) {
    let q = shoal_go::quote(subject);
    client.send_err(format!("-ERR 'Permissions Violation for Publish to {q}'\r\n").as_bytes());
    log::error!("{} - Publish Violation - Subject {q}", client.log_prefix());
}

/// The user's subscribe permissions; the `_sys_` queue group is nobody's.
fn may_subscribe(client: &Client, subject: &[u8], queue: Option<&[u8]>) -> bool {
    if queue == Some(b"_sys_") {
        return false;
    }
    match client.perms.borrow_mut().as_mut() {
        Some(p) => p.may_subscribe(subject, queue),
        None => true,
    }
}

/// `-ERR 'Permissions Violation for Subscription to "s"[ using queue "q"]'`
/// and nats-server's log line; the connection stays open.
fn sub_violation(client: &Rc<Client>, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
    let s = shoal_go::quote(subject);
    let sid = String::from_utf8_lossy(sid);
    let (err, log) = match queue {
        Some(q) => {
            let q = shoal_go::quote(q);
            (
                format!("Permissions Violation for Subscription to {s} using queue {q}"),
                format!("Subscription Violation - Subject {s}, Queue: {q}, SID {sid}"),
            )
        }
        None => (
            format!("Permissions Violation for Subscription to {s}"),
            format!("Subscription Violation - Subject {s}, SID {sid}"),
        ),
    };
    client.send_err(format!("-ERR '{err}'\r\n").as_bytes());
    log::error!("{} - {log}", client.log_prefix());
}

/// Sends the 503 status to the requester's own plain subscription on `reply`.
fn no_responders(core: &Core, client: &Rc<Client>, subject: &[u8], reply: &[u8]) {
    let m = core.keyed(client.account.get(), reply, |k| {
        core.registry().matches_local(k)
    });
    for &k in &m.plain {
        let own_sid = core
            .registry()
            .with_sub(k, |s| Rc::ptr_eq(&s.client, client).then(|| s.sid.clone()))
            .flatten();
        if let Some(sid) = own_sid {
            let mut b = BytesMut::new();
            encode::put_no_responders(&mut b, reply, &sid, subject);
            client.send(&b);
            return;
        }
    }
}

async fn on_connect(core: &Core, client: &Rc<Client>, json: &[u8]) -> Result<(), ProtoError> {
    // The auth timer stops at CONNECT, before anything is checked (a slow
    // bcrypt check cannot time the login out).
    client.auth_deadline.set(None);
    let Some(c) = ConnectOptions::parse(json) else {
        log::error!(
            "{} - invalid CONNECT JSON: {}",
            client.log_prefix(),
            String::from_utf8_lossy(json)
        );
        return Err(ProtoError::Violation);
    };
    let first = !client.connected.get();
    if !first {
        // nats-server 2.15 drops every subscription on a second CONNECT (it may
        // move the client to another account): each is traced as DELSUB.
        let keys: Vec<u32> = client.subs.borrow().values().copied().collect();
        for k in keys {
            core.unsubscribe(k, crate::trace::on());
        }
    }
    let mut o = client.opts.get();
    if let Some(v) = c.verbose {
        o.verbose = v;
    }
    if let Some(v) = c.pedantic {
        o.pedantic = v;
    }
    if let Some(v) = c.echo {
        o.echo = v;
    }
    if let Some(v) = c.headers {
        o.headers = v && !core.cfg().no_header_support;
    }
    if let Some(v) = c.no_responders {
        o.no_responders = v;
    }
    if let Some(v) = c.protocol {
        o.protocol = v;
    }
    client.opts.set(o);
    if let Some(n) = c.name {
        *client.name.borrow_mut() = n;
    }
    if let Some(n) = c.lang {
        *client.lang.borrow_mut() = n;
    }
    if let Some(n) = c.version {
        *client.version.borrow_mut() = n;
    }
    client.connected.set(true);
    // nats-server's first RTT estimate: accept to CONNECT.
    let now = Instant::now();
    client.last.set(now);
    if client.rtt.get().is_zero() {
        let estimate = now - client.start;
        client.rtt.set(estimate.max(Duration::from_nanos(1)));
    }
    // Reschedule the first PING: min(ping_interval, 2 s) plus up to 20 %.
    let first_ping = core.ping_interval_of(client).min(Duration::from_secs(2));
    let jitter = first_ping.mul_f64(core.rand(1000) as f64 / 5000.0);
    client
        .ping
        .next_at
        .set(Instant::now() + first_ping + jitter);
    client.ping.rtt_known.set(false);

    // The credentials: a key the CONNECT leaves out keeps its earlier value.
    let mut creds = client.kept_creds();
    for (slot, v) in [
        (&mut creds.user, &c.user),
        (&mut creds.pass, &c.pass),
        (&mut creds.token, &c.auth_token),
        (&mut creds.nkey, &c.nkey),
        (&mut creds.sig, &c.sig),
        (&mut creds.jwt, &c.jwt),
    ] {
        if let Some(v) = v {
            slot.clone_from(v);
        }
    }
    let auth = core.auth();
    // Kept for a later CONNECT, and before the check so a refused
    // connection's record names the user it tried to be, as nats-server's
    // does; a login may rewrite them (the no_auth_user).
    *client.creds.borrow_mut() = (!creds.is_empty()).then(|| Box::new(creds));
    if auth.required(client.websocket.get()) {
        if !crate::auth::login(auth, client, &client.kept_creds()).await {
            return Ok(());
        }
        // nats-server's isClientAuthorized: an event for every login.
        crate::events::connected(core, client);
    }
    let creds = client.kept_creds();
    let user = creds.user.clone();
    if c.account.is_some_and(|a| !a.is_empty()) || c.new_account == Some(true) {
        crate::auth::refuse(auth, client, &creds);
        return Ok(());
    }
    if first {
        // The user a CONNECT claims (or no_auth_user logs in as) names the
        // connection in logs, even on a server without auth, as in nats-server.
        let label = if c.nkey.as_deref().is_some_and(|n| !n.is_empty()) {
            c.nkey.as_ref().map(|n| format!("nkey:{n}"))
        } else if !user.is_empty() {
            Some(format!("user:{user}"))
        } else if c.jwt.as_deref().is_some_and(|j| !j.is_empty()) {
            Some("jwt:".to_string())
        } else if !creds.token.is_empty() {
            Some("token".to_string())
        } else {
            None
        };
        client.name_prefix(
            &client.version.borrow(),
            &client.lang.borrow(),
            &client.name.borrow(),
            &auth.account_name(client.account.get()),
            label,
        );
    }
    if !(0..=1).contains(&o.protocol) {
        client.send_err(encode::ERR_INVALID_PROTOCOL);
        client.close_after_flush(CloseReason::BadClientProtocolVersion);
        return Ok(());
    }
    if o.no_responders && !o.headers {
        client.send_err(encode::ERR_NO_RESPONDERS_HEADERS);
        client.close_after_flush(CloseReason::NoRespondersRequiresHeaders);
        return Ok(());
    }
    ok(client);
    crate::auth::after_login(client);
    Ok(())
}

/// Before CONNECT on a server that requires a login, nothing but CONNECT is
/// taken: with a `no_auth_user` the first other op logs the client in as that
/// user (and is then done), else the connection is refused. Returns whether
/// the op goes ahead.
pub async fn before_connect(core: &Core, client: &Rc<Client>) -> bool {
    client.auth_deadline.set(None);
    let auth = core.auth();
    if !auth.has_no_auth_user(client.websocket.get()) {
        crate::auth::refuse(auth, client, &Default::default());
        return false;
    }
    client.connected.set(true);
    let ok = crate::auth::login(auth, client, &Default::default()).await;
    if ok {
        crate::events::connected(core, client);
    }
    ok
}
