//! A connection's life on its core: INFO, the read loop, each op's effect, and the
//! clean-up when it ends.
//!
//! The reader reads into one buffer and processes every complete op in it, in
//! order, before reading again; each op's effects (subscription registered,
//! message routed, reply queued) are done before the next op is parsed. PUB
//! payloads become `Bytes` slices of the read buffer (no copy). The reader never
//! writes a socket: replies go through the connection's own outbound queue. It
//! waits only for its own socket, for ring room when its publishes filled a
//! peer's backlog, and for peers to acknowledge interest before a PONG.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use shoal_proto::{encode, parse, ConnectOptions, Limits, Op, Parsed, ProtoError, ServerInfo};
use shoal_subject::{is_valid_publish_subject, is_valid_subscribe_subject};

use crate::client::{Client, CloseReason};
use crate::core::Core;
use crate::msg::{Msg, Spans};
use crate::outbound::run_writer;
use crate::rt::{self, ReadHalf, WriteHalf};

/// The smallest and largest read sizes (the buffer grows while reads fill it).
const READ_MIN: usize = 4096;
const READ_MAX: usize = 64 * 1024;

/// Which INFO a connection is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum InfoKind {
    /// The greeting on accept.
    Greeting,
    /// After the first PONG of a protocol-1 client: `connect_info` and its account.
    ConnectInfo,
    /// Lame duck mode: `ldm:true`.
    LameDuck,
}

/// Builds an INFO line for one connection.
pub fn info_line(core: &Core, cid: u64, ip: &str, kind: InfoKind) -> Vec<u8> {
    let s = &core.shared;
    let connect_info = kind == InfoKind::ConnectInfo;
    ServerInfo {
        server_id: s.server_id.clone(),
        server_name: s.server_name.clone(),
        version: crate::NATS_VERSION.to_string(),
        proto: 1,
        go: format!("shoal {}", crate::SHOAL_VERSION),
        host: s.info_host.clone(),
        port: s.info_port,
        headers: !core.cfg.no_header_support,
        max_payload: core.live.get().max_payload as u64,
        client_id: Some(cid),
        client_ip: Some(ip.to_string()),
        cluster: core.cfg.cluster_name.clone(),
        ldm: kind == InfoKind::LameDuck,
        connect_info,
        remote_account: connect_info.then(|| "$G".to_string()),
        ..Default::default()
    }
    .to_line()
}

/// Serves one accepted connection until it closes.
pub async fn serve(core: Rc<Core>, mut rh: ReadHalf, wh: WriteHalf, peer: std::net::SocketAddr) {
    let cid = core.next_cid();
    let client = Rc::new(Client::new(cid, peer, core.clone(), rh.fd()));
    let over_limit =
        core.shared.connections.fetch_add(1, Ordering::Relaxed) >= core.live.get().max_connections;
    core.stats
        .total_connections
        .set(core.stats.total_connections.get() + 1);
    client.send(&info_line(
        &core,
        cid,
        &peer.ip().to_string(),
        InfoKind::Greeting,
    ));
    rt::spawn(run_writer(client.clone(), wh));
    let closed_subs = if over_limit {
        client.send_err(encode::ERR_MAX_CONNECTIONS);
        log::error!(
            "{} - Maximum Connections Exceeded (max_connections={})",
            client.log_prefix(),
            core.live.get().max_connections
        );
        client.close_after_flush(CloseReason::MaxConnections);
        core.end_pass();
        Vec::new()
    } else {
        core.clients.borrow_mut().insert(cid, client.clone());
        log::debug!(
            "{} - Client connection created (core {})",
            client.log_prefix(),
            core.id
        );
        core.end_pass();
        read_loop(&core, &client, &mut rh).await;
        // Clean-up: drop every subscription (and tell the peers), forget the client.
        let closed_subs = crate::monitor::closing_subs(&core, &client);
        let keys: Vec<u32> = client.subs.borrow().values().copied().collect();
        if crate::trace::on() {
            // Traced after the close line, as nats-server does.
            *client.closing_sids.borrow_mut() = client.subs.borrow().keys().cloned().collect();
        }
        for k in keys {
            core.remove_sub(k, false);
        }
        core.clients.borrow_mut().remove(&cid);
        core.end_pass();
        closed_subs
    };
    // Let the writer flush (if closing cleanly) before the descriptors go.
    while !client.writer_done.get() {
        client.done.wait().await;
    }
    core.shared.connections.fetch_sub(1, Ordering::Relaxed);
    let reason = client
        .close_reason
        .get()
        .unwrap_or(CloseReason::ClientClosed);
    log::debug!(
        "{} - Client connection closed: {}",
        client.log_prefix(),
        reason.as_str()
    );
    for sid in client.closing_sids.take() {
        crate::trace::delsub(&client, &sid);
    }
    crate::monitor::record_closed(&core, &client, reason, closed_subs);
    drop(rh);
    if core.stopping.get() {
        core.stop_ev.notify();
    }
}

async fn read_loop(core: &Rc<Core>, client: &Rc<Client>, rh: &mut ReadHalf) {
    let mut buf = BytesMut::new();
    let mut room = READ_MIN;
    let mut need = 0usize;
    loop {
        if !client.is_open() {
            return;
        }
        // Room for a whole pending payload at once, else the adaptive read size.
        let want = room.max(need.saturating_sub(buf.len()));
        let n = match rh.read(&mut buf, want).await {
            Ok(0) => {
                client.set_close_reason(CloseReason::ClientClosed);
                client.close_after_flush(CloseReason::ClientClosed);
                return;
            }
            Ok(n) => n,
            Err(_) => {
                client.kill(CloseReason::ReadError);
                return;
            }
        };
        core.now.set(Instant::now());
        if n >= room && room < READ_MAX {
            room *= 2;
        }
        core.take_pass_peers();
        // Limits as of this pass (a reload may change them).
        let live = core.live.get();
        let limits = Limits {
            max_control_line: live.max_control_line,
            max_payload: live.max_payload,
        };
        // Inbound activity (PUB, SUB, UNSUB, PING; not PONG) defers keepalive PINGs;
        // one clock read per pass, not per op.
        let mut active = false;
        // Trace on or off for this whole pass, as nats-server decides per read.
        let tracing = crate::trace::on();
        // The bytes read so far are frozen once per pass, at the first complete op:
        // every PUB in the pass then shares one handle (`Msg` frames are slices of
        // it), and only a partial op at the end is carried over into `buf`. A first
        // op still incomplete (a large payload arriving) keeps accumulating in `buf`.
        let mut data: Option<Bytes> = None;
        let mut at = 0usize;
        loop {
            let headers = client.opts.get().headers;
            let input: &[u8] = match &data {
                Some(d) => &d[at..],
                None => &buf[..],
            };
            match parse(input, &limits, headers) {
                Ok(Parsed::Op(op, len)) => {
                    active |= matches!(
                        op,
                        Op::Pub { .. } | Op::Sub { .. } | Op::Unsub { .. } | Op::Ping
                    );
                    if tracing {
                        trace_op(core, client, &input[..len], &op);
                    }
                    let d = data.get_or_insert_with(|| buf.split().freeze());
                    if let Err(e) = handle(core, client, d, at, op).await {
                        let input = &d[at..];
                        fail(core, client, e, input, tracing);
                        core.end_pass();
                        return;
                    }
                    at += len;
                    if !client.is_open() {
                        core.end_pass();
                        return;
                    }
                }
                Ok(Parsed::Incomplete { need: n }) => {
                    need = n;
                    break;
                }
                Err(e) => {
                    let input: &[u8] = match &data {
                        Some(d) => &d[at..],
                        None => &buf[..],
                    };
                    fail(core, client, e, input, tracing);
                    core.end_pass();
                    return;
                }
            }
        }
        if let Some(d) = data.take() {
            // Carry a partial op over into a buffer that can hold all of it (a
            // large payload then completes with one read, and the copy happens
            // once). With nothing left over after a small read the buffer is
            // not replaced: the next read allocates one only when data
            // arrives, so an idle connection holds none.
            let tail = &d[at..];
            buf = if tail.is_empty() && n < READ_MIN {
                BytesMut::new()
            } else if tail.is_empty() {
                // Data is flowing: the next read goes straight into a buffer.
                BytesMut::with_capacity(room)
            } else {
                let mut next = BytesMut::with_capacity(need.max(tail.len() + READ_MIN).max(room));
                next.extend_from_slice(tail);
                next
            };
        }
        if active {
            client.ping.last_activity.set(Instant::now());
        }
        core.end_pass();
        // A peer ring is full: stop reading this publisher until it drains.
        let peers = core.take_pass_peers();
        while peers != 0 && core.backlogged(peers) {
            core.backlog_ev.wait().await;
        }
        // A reader whose socket always has more data would otherwise never reach a
        // pending await: give the writers and ring drains of this core their turn
        // after every pass, so subscribers on the publisher's core keep up.
        rt::yield_now().await;
    }
}

/// Traces an op a client sent, as nats-server does: the op and its argument
/// text, a PUB's payload after it, CONNECT with its secrets redacted; `+OK`,
/// `INFO` and `-ERR` from a client are not traced.
fn trace_op(core: &Core, client: &Client, line: &[u8], op: &Op) {
    use crate::trace;
    match op {
        Op::Connect(json) => trace::connect(client, json.of(line)),
        Op::Ok | Op::Info(_) | Op::Err(_) => {}
        _ => {
            if let Some((name, arg)) = shoal_proto::control_line(line) {
                trace::inbound(client, name, arg.map(|a| a.of(line)));
            }
            if let Op::Pub { hdr, payload, .. } = op {
                trace::payload(
                    client,
                    trace::Dir::In,
                    payload.of(line),
                    *hdr as usize,
                    core.cfg.max_traced_msg_len,
                    core.cfg.trace_headers,
                );
            }
        }
    }
}

/// A protocol error, as nats-server reports it: the op line is traced (its
/// trace comes before the argument checks), the error is logged (with the
/// argument text, in nats-server's words), the `-ERR` is sent if nats-server
/// sends one, and the connection closes. `input` starts at the failed op.
fn fail(core: &Core, client: &Rc<Client>, e: ProtoError, input: &[u8], tracing: bool) {
    let line = shoal_proto::control_line(input);
    let arg = |l: &Option<(&str, Option<shoal_proto::Span>)>| {
        l.and_then(|(_, a)| a).map_or(&b""[..], |a| a.of(input))
    };
    if tracing && matches!(e, ProtoError::MaxPayload | ProtoError::Violation) {
        if let Some((name @ ("PUB" | "HPUB" | "SUB" | "UNSUB"), a)) = line {
            crate::trace::inbound(client, name, a.map(|a| a.of(input)));
        }
    }
    match e {
        ProtoError::MaxPayload => {
            let size = arg(&line)
                .split(|&b| b == b' ' || b == b'\t')
                .rfind(|t| !t.is_empty())
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            log::error!(
                "{} - maximum payload exceeded: {size} vs {}",
                client.log_prefix(),
                core.live.get().max_payload
            );
        }
        ProtoError::Violation => {
            if let Some(why) = line.and_then(|(name, _)| violation(name, arg(&line), client)) {
                log::error!("{} - {why}", client.log_prefix());
            }
        }
        _ => {}
    }
    if let Some(line) = e.err_line() {
        client.send_err(line);
    }
    if e == ProtoError::UnknownOp {
        let end = input.len().min(32);
        log::error!(
            "{} - Client parser ERROR: proto='{}...'",
            client.log_prefix(),
            shoal_go::quote(&input[..end])
        );
    }
    let reason = match e {
        ProtoError::MaxPayload => CloseReason::MaxPayload,
        ProtoError::MaxControlLine => CloseReason::MaxControlLine,
        ProtoError::ClientErr => CloseReason::ParseError,
        ProtoError::UnknownOp | ProtoError::Violation => CloseReason::ProtocolViolation,
    };
    client.close_after_flush(reason);
}

/// Applies one op, parsed from `data[at..]` (its spans are relative to `at`).
async fn handle(
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
            client.last.set(core.now.get());
            let subject = subject.of(buf);
            let max_tokens = core.cfg.max_sub_tokens;
            if !is_valid_subscribe_subject(subject) {
                client.send_err(encode::ERR_INVALID_SUBJECT);
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
                    String::from_utf8_lossy(sid.of(buf))
                );
            } else {
                let sid_b = sid.of(buf);
                let max = core.cfg.max_subscriptions;
                let exists = client.subs.borrow().contains_key(sid_b);
                if !exists && max > 0 && client.subs.borrow().len() >= max {
                    client.send_err(encode::ERR_MAX_SUBSCRIPTIONS);
                } else {
                    if !exists {
                        core.add_sub(
                            client,
                            Bytes::copy_from_slice(sid_b),
                            Bytes::copy_from_slice(subject),
                            queue.map(|q| Bytes::copy_from_slice(q.of(buf))),
                        );
                    }
                    ok(client);
                }
            }
        }
        Op::Unsub { sid, max } => {
            client.last.set(core.now.get());
            let key = client.subs.borrow().get(sid.of(buf)).copied();
            ok(client);
            if let Some(key) = key {
                let keep = {
                    let subs = core.subs.borrow();
                    let s = &subs[key as usize];
                    if max > 0 && max > s.delivered.get() {
                        s.max.set(max);
                        true
                    } else {
                        false
                    }
                };
                if !keep {
                    core.remove_sub_by_key(key);
                }
            }
        }
        Op::Ping => {
            // Everything routed anywhere before this PING, and every subscription
            // this client made, is in place before its PONG (see
            // `Client::needs_barrier` for when nothing needs waiting for).
            if client.needs_barrier.replace(false) {
                core.barrier().await;
            }
            client.send(encode::PONG);
            if crate::trace::on() {
                crate::trace::outbound(client, "PONG");
            }
            let o = client.opts.get();
            if client.connected.get() && !client.sent_connect_info.get() {
                client.sent_connect_info.set(true);
                if o.protocol >= 1 {
                    let ip = client.peer.ip().to_string();
                    client.send(&info_line(core, client.cid, &ip, InfoKind::ConnectInfo));
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
        Op::Connect(json) => return on_connect(core, client, json.of(buf)),
    }
    Ok(())
}

fn ok(client: &Rc<Client>) {
    if client.opts.get().verbose {
        client.send_ok();
    }
}

/// nats-server's log text for a PUB, HPUB, SUB or UNSUB whose arguments it
/// refused (`processPub Parse Error: "foo"`), from the argument text.
fn violation(name: &str, arg: &[u8], client: &Client) -> Option<String> {
    let args: Vec<&[u8]> = arg
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|t| !t.is_empty())
        .collect();
    let q = shoal_go::quote(arg);
    let size = |b: &[u8]| shoal_proto::parse_size(b);
    Some(match name {
        "PUB" => match args.len() {
            2 | 3 => format!("processPub Bad or Missing Size: {q}"),
            _ => format!("processPub Parse Error: {q}"),
        },
        "HPUB" if !client.opts.get().headers => "message headers not supported".to_string(),
        "HPUB" => match args.len() {
            3 | 4 => {
                let n = args.len();
                match (size(args[n - 2]), size(args[n - 1])) {
                    (None, _) => format!("processHeaderPub Bad or Missing Header Size: {q}"),
                    (_, None) => format!("processHeaderPub Bad or Missing Total Size: {q}"),
                    _ => format!("processHeaderPub Header Size larger then TotalSize: {q}"),
                }
            }
            _ => format!("processHeaderPub Parse Error: {q}"),
        },
        "SUB" => format!("processSub Parse Error: {q}"),
        "UNSUB" => format!("processUnsub Parse Error: {q}"),
        _ => return None,
    })
}

/// `reply` starts with a prefix reserved for the server's own routing.
fn reserved(s: &[u8], prefix: &[u8], need_more: bool) -> bool {
    s.starts_with(prefix) && (!need_more || s.len() > prefix.len())
}

fn on_pub(core: &Core, client: &Rc<Client>, m: &Msg) {
    let (subject, reply) = (m.subject(), m.reply());
    core.stats.inbound(m.payload().len());
    client.in_msgs.set(client.in_msgs.get() + 1);
    let len = m.payload().len() as u64;
    client.in_bytes.set(client.in_bytes.get() + len);
    client.last.set(core.now.get());
    let o = client.opts.get();
    if o.pedantic && !is_valid_publish_subject(subject) {
        client.send_err(encode::ERR_INVALID_PUBLISH_SUBJECT);
    }
    if !reply.is_empty()
        && (reserved(reply, b"_R_.", false)
            || reserved(reply, b"$JS.ACK.", true)
            || reserved(reply, b"_GR_.", true))
    {
        let mut e = bytes::BytesMut::new();
        encode::put_pub_violation(&mut e, "with Reply of", reply);
        client.send_err(&e);
        return;
    }
    if reserved(subject, b"_GR_.", true) || reserved(subject, b"$NRG.", true) {
        let mut e = bytes::BytesMut::new();
        encode::put_pub_violation(&mut e, "to", subject);
        client.send_err(&e);
        return;
    }
    if o.verbose {
        client.send_ok();
    }
    let delivered = crate::router::publish(core, client, m);
    if !delivered && !reply.is_empty() && o.no_responders && o.headers {
        no_responders(core, client, subject, reply);
    }
}

/// Sends the 503 status to the requester's own plain subscription on `reply`.
fn no_responders(core: &Core, client: &Rc<Client>, subject: &[u8], reply: &[u8]) {
    let m = core.index.borrow_mut().matches(reply);
    let subs = core.subs.borrow();
    for &k in &m.plain {
        if let Some(s) = subs.get(k as usize) {
            if Rc::ptr_eq(&s.client, client) {
                let mut b = BytesMut::new();
                encode::put_no_responders(&mut b, reply, &s.sid, subject);
                client.send(&b);
                return;
            }
        }
    }
}

fn on_connect(core: &Core, client: &Rc<Client>, json: &[u8]) -> Result<(), ProtoError> {
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
            core.remove_sub_by_key(k);
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
        o.headers = v && !core.cfg.no_header_support;
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
    if first {
        // The user a CONNECT claims names the connection in logs even on a
        // server without auth, as in nats-server.
        let user = if c.nkey.as_deref().is_some_and(|n| !n.is_empty()) {
            c.nkey.as_ref().map(|n| format!("nkey:{n}"))
        } else if c.user.as_deref().is_some_and(|u| !u.is_empty()) {
            c.user.as_ref().map(|u| format!("user:{u}"))
        } else if c.jwt.as_deref().is_some_and(|j| !j.is_empty()) {
            Some("jwt:".to_string())
        } else if c.auth_token.as_deref().is_some_and(|t| !t.is_empty()) {
            Some("token".to_string())
        } else {
            None
        };
        client.name_prefix(
            &client.version.borrow(),
            &client.lang.borrow(),
            &client.name.borrow(),
            user,
        );
    }
    // nats-server's first RTT estimate: accept to CONNECT.
    let now = Instant::now();
    client.last.set(now);
    if client.rtt.get().is_zero() {
        let estimate = now - client.start;
        client.rtt.set(estimate.max(Duration::from_nanos(1)));
    }
    // Reschedule the first PING: min(ping_interval, 2 s) plus up to 20 %.
    let first = core.live.get().ping_interval.min(Duration::from_secs(2));
    let jitter = first.mul_f64(core.rand(1000) as f64 / 5000.0);
    client.ping.next_at.set(Instant::now() + first + jitter);
    client.ping.rtt_known.set(false);

    if c.account.is_some_and(|a| !a.is_empty()) || c.new_account == Some(true) {
        client.send_err(encode::ERR_AUTH_VIOLATION);
        client.close_after_flush(CloseReason::AuthViolation);
        return Ok(());
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
    Ok(())
}
