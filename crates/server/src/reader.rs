//! A connection's life on its core: accept to close. The reader reads into one
//! buffer and processes every complete op in it, in order, before reading
//! again; each op's effects (see `ops.rs`) are done before the next op is
//! parsed. PUB payloads become `Bytes` slices of the read buffer, frozen once
//! per pass (no copy). The reader never writes a socket: replies go through the
//! connection's own outbound queue, written by its writer task. It waits only
//! for its own socket, for ring room when its publishes filled a peer's
//! backlog, and for the PING barrier.
//!
//! Also here: protocol errors as nats-server reports them (the op traced, the
//! error logged in its words, the `-ERR`, the close), and the protocol trace
//! of every op a client sends.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use shoal_proto::{encode, parse, Limits, Op, Parsed, ProtoError};

use crate::client::{Client, CloseReason};
use crate::core::Core;
use crate::info::{info_line, info_with_tls, InfoKind};
use crate::rt::{self, ReadHalf, WriteHalf};
use crate::tls::Started;
use crate::writer::run_writer;

/// The smallest and largest read sizes (the buffer grows while reads fill it).
const READ_MIN: usize = 4096;
const READ_MAX: usize = 64 * 1024;

/// The next read size after a read of `n` bytes into `room`: doubled when the
/// read filled it, halved when it came back less than half full, as
/// nats-server's read loop sizes its buffer. Shrinking matters beyond the
/// copy: a payload over the copy threshold is queued for its subscribers as a
/// slice of the pass's buffer, which keeps the whole allocation alive, so a
/// buffer left at 64 KiB after a burst would make each 3 KB message a stalled
/// subscriber holds cost 64 KiB of memory against 3 KB of `max_pending`.
fn next_room(room: usize, n: usize) -> usize {
    if n >= room && room < READ_MAX {
        room * 2
    } else if n < room / 2 && room > READ_MIN {
        room / 2
    } else {
        room
    }
}

thread_local! {
    /// When this core last logged "maximum connections exceeded", for a
    /// connection before and after its CONNECT (two texts to nats-server).
    static MAX_CONN_LOGGED: std::cell::Cell<[Option<Instant>; 2]> =
        const { std::cell::Cell::new([None, None]) };
}

/// Logs a connection refused or closed for `max_connections` in nats-server's
/// words: `<client> - maximum connections exceeded`, an error, with
/// ` - Account:$G` once the client has sent CONNECT (it is then in the global
/// account). nats-server rate-limits the line (the same text at most once a
/// second); here each text once a second per core, so a refused connection
/// storm cannot flood the log.
pub(crate) fn log_max_connections(client: &Client) {
    let connected = client.connected.get();
    let now = Instant::now();
    let due = MAX_CONN_LOGGED.with(|t| {
        let mut last = t.get();
        let slot = &mut last[connected as usize];
        let due = slot.is_none_or(|at| now - at >= Duration::from_secs(1));
        if due {
            *slot = Some(now);
            t.set(last);
        }
        due
    });
    if due {
        let account = if connected { " - Account:$G" } else { "" };
        log::error!(
            "{} - maximum connections exceeded{account}",
            client.log_prefix()
        );
    }
}

/// Serves one accepted connection (from the WebSocket listener when `ws`)
/// until it closes.
pub async fn serve(
    core: Rc<Core>,
    mut rh: ReadHalf,
    mut wh: WriteHalf,
    peer: std::net::SocketAddr,
    ws: bool,
) {
    let cid = core.next_cid();
    let client = Rc::new(Client::new(cid, peer, core.env().clone(), Some(rh.fd())));
    if ws {
        client.websocket.set(true);
        client.set_log_prefix(client.base_prefix());
        client
            .ping
            .next_at
            .set(client.start + core.ping_interval_of(&client));
    }
    let over_limit =
        core.shared().connections.fetch_add(1, Ordering::Relaxed) >= core.live().max_connections;
    if core.auth().required(ws) {
        client
            .auth_deadline
            .set(Some(client.start + core.auth().timeout(ws)));
    }
    if core.auth().nonce_required(ws) {
        let raw: [u8; shoal_auth::nkey::NONCE_RAW_LEN] = rand::random();
        client.nonce.set(Some(shoal_auth::nkey::nonce(&raw)));
    }
    let stats = &core.env().stats;
    stats
        .total_connections
        .set(stats.total_connections.get() + 1);
    let greeting = InfoKind::Greeting(client.nonce.get());
    // Over the limit, the refusal follows a clear-text INFO, as in
    // nats-server (which checks before any TLS).
    let tls = core.tls().filter(|_| !over_limit);
    let ws_cfg = core.cfg().websocket.clone().filter(|_| ws);
    let started = match (&ws_cfg, &tls) {
        (Some(w), _) => {
            let s = crate::ws::start(&core, &client, &mut rh, &mut wh, w).await;
            if client.auth_deadline.get().is_some() {
                client
                    .auth_deadline
                    .set(Some(Instant::now() + core.auth().timeout(true)));
            }
            match s {
                crate::ws::Start::Up(w) => {
                    client.send(&info_line(&core, &client, greeting));
                    Begun::Ws(w)
                }
                crate::ws::Start::Closed => Begun::Closed,
            }
        }
        (None, None) => {
            client.send(&info_line(&core, &client, greeting));
            Begun::Plain(BytesMut::new())
        }
        (None, Some(t)) => {
            let first = t.options.handshake_first;
            let info = info_with_tls(&core, &client, greeting, first);
            let fallback = info_with_tls(&core, &client, greeting, false);
            let s = crate::tls::start(&client, &mut rh, &mut wh, t, &info, &fallback).await;
            // The login's clock starts after the handshake, as in nats-server.
            if client.auth_deadline.get().is_some() {
                client
                    .auth_deadline
                    .set(Some(Instant::now() + core.auth().timeout(false)));
            }
            match s {
                Started::Plain(pre) => Begun::Plain(pre),
                Started::Tls(plain) => Begun::Tls(plain),
                Started::Closed => Begun::Closed,
            }
        }
    };
    rt::spawn(run_writer(client.clone(), wh));
    let closed_subs = if let Begun::Closed = started {
        let reason = client
            .close_reason
            .get()
            .unwrap_or(CloseReason::ClientClosed);
        client.kill(reason);
        core.end_pass();
        Vec::new()
    } else if over_limit {
        client.send_err(encode::ERR_MAX_CONNECTIONS);
        log_max_connections(&client);
        client.close_after_flush(CloseReason::MaxConnections);
        core.end_pass();
        Vec::new()
    } else {
        core.add_client(client.clone());
        log::debug!(
            "{} - Client connection created (core {})",
            client.log_prefix(),
            core.id()
        );
        core.end_pass();
        let (wire, first) = match started {
            Begun::Tls(plain) => (Wire::Tls(BytesMut::new()), plain),
            Begun::Plain(pre) => (Wire::Plain, pre),
            Begun::Ws(w) => (Wire::Ws(w), BytesMut::new()),
            Begun::Closed => unreachable!("handled above"),
        };
        read_loop(&core, &client, &mut rh, wire, first).await;
        // Clean-up: drop every subscription (and tell the peers), forget the client.
        let closed_subs = crate::snapshot::closing_subs(&core, &client);
        let sids = core.unsubscribe_all(&client);
        if crate::trace::on() {
            // Traced after the close line, as nats-server does.
            *client.closing_sids.borrow_mut() = sids;
        }
        core.remove_client(cid);
        core.end_pass();
        closed_subs
    };
    // Let the writer flush (if closing cleanly) before the descriptors go.
    while !client.writer_done.get() {
        client.done.wait().await;
    }
    core.shared().connections.fetch_sub(1, Ordering::Relaxed);
    core.auth().release(&client);
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
        crate::trace::delsub(&client.log_prefix(), &sid);
    }
    crate::snapshot::record_closed(&core, &client, reason, closed_subs);
    crate::events::disconnected(&core, &client, reason.as_str());
    drop(rh);
    if core.life().stopping.get() {
        core.life().stop_ev.notify();
    }
}

/// How a connection's start ended.
enum Begun {
    /// In clear text, with the bytes already read.
    Plain(BytesMut),
    /// Over TLS, with the plaintext that came with the handshake.
    Tls(BytesMut),
    /// Upgraded to WebSocket (over TLS or not).
    Ws(Box<crate::ws::WsIn>),
    Closed,
}

/// What a connection's bytes travel in.
enum Wire {
    Plain,
    /// TLS, with the buffer its ciphertext is received into.
    Tls(BytesMut),
    /// WebSocket frames (decrypted first over TLS).
    Ws(Box<crate::ws::WsIn>),
}

impl Wire {
    /// Reads into `buf`: what the client sent, decrypted if need be.
    async fn read(
        &mut self,
        client: &Rc<Client>,
        rh: &mut ReadHalf,
        buf: &mut BytesMut,
        want: usize,
    ) -> std::io::Result<usize> {
        match self {
            Wire::Plain => rh.read(buf, want).await,
            Wire::Tls(cipher) => crate::tls::read(client, rh, cipher, buf, want).await,
            Wire::Ws(w) => w.read(client, rh, buf, want).await,
        }
    }
}

/// Reads and handles ops until the connection ends. `first` holds bytes the
/// connection's start already read (after a TLS handshake, or a peek).
async fn read_loop(
    core: &Rc<Core>,
    client: &Rc<Client>,
    rh: &mut ReadHalf,
    mut wire: Wire,
    first: BytesMut,
) {
    let mut ready = first.len();
    let mut buf = first;
    let mut room = READ_MIN;
    let mut need = 0usize;
    loop {
        if !client.is_open() {
            return;
        }
        // Room for a whole pending payload at once, else the adaptive read size.
        let want = room.max(need.saturating_sub(buf.len()));
        let read = if ready > 0 {
            Ok(std::mem::take(&mut ready))
        } else {
            wire.read(client, rh, &mut buf, want).await
        };
        let n = match read {
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
        core.env().now.set(Instant::now());
        room = next_room(room, n);
        core.links().take_pass_peers();
        // Limits as of this pass (a reload may change them).
        let live = core.live();
        let mut limits = Limits {
            max_control_line: live.max_control_line,
            max_payload: client.max_payload(live.max_payload),
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
                    if client.auth_deadline.get().is_some()
                        && !matches!(op, Op::Connect(_))
                        && !crate::ops::before_connect(core, client).await
                    {
                        core.end_pass();
                        return;
                    }
                    active |= matches!(
                        op,
                        Op::Pub { .. } | Op::Sub { .. } | Op::Unsub { .. } | Op::Ping
                    );
                    if tracing {
                        trace_op(core, client, &input[..len], &op);
                    }
                    let d = data.get_or_insert_with(|| buf.split().freeze());
                    // A login may bring its own payload limit (a user JWT's),
                    // which applies to the very next op.
                    let login = matches!(op, Op::Connect(_));
                    if let Err(e) = crate::ops::handle(core, client, d, at, op).await {
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
                    if login {
                        limits.max_payload = client.max_payload(core.live().max_payload);
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
                    // Awaiting a login, nats-server judges anything that does
                    // not start like CONNECT before parsing it: refused, or
                    // (with no_auth_user) logged in and then a parse error.
                    if client.auth_deadline.get().is_some()
                        && !matches!(input.first(), Some(b'C' | b'c'))
                        && !crate::ops::before_connect(core, client).await
                    {
                        core.end_pass();
                        return;
                    }
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
        let peers = core.links().take_pass_peers();
        while peers != 0 && core.links().backlogged(peers) {
            core.links().backlog_ev.wait().await;
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
    let prefix = client.log_prefix();
    match op {
        Op::Connect(json) => trace::connect(&prefix, json.of(line)),
        Op::Ok | Op::Info(_) | Op::Err(_) => {}
        _ => {
            if let Some((name, arg)) = shoal_proto::control_line(line) {
                trace::inbound(&prefix, name, arg.map(|a| a.of(line)));
            }
            if let Op::Pub { hdr, payload, .. } = op {
                trace::payload(
                    &prefix,
                    trace::Dir::In,
                    payload.of(line),
                    *hdr as usize,
                    core.cfg().max_traced_msg_len,
                    core.cfg().trace_headers,
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
            crate::trace::inbound(&client.log_prefix(), name, a.map(|a| a.of(input)));
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
                client.max_payload(core.live().max_payload)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_size_follows_the_reads() {
        let mut room = READ_MIN;
        for _ in 0..10 {
            room = next_room(room, room);
        }
        assert_eq!(room, READ_MAX, "full reads grow it to the cap");
        room = next_room(room, 3000);
        assert_eq!(room, READ_MAX / 2, "a small read halves it");
        for _ in 0..10 {
            room = next_room(room, 3000);
        }
        assert_eq!(room, READ_MIN, "small reads bring it back to the floor");
        assert_eq!(next_room(8192, 5000), 8192, "a read over half keeps it");
    }
}
