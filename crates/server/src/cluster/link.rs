//! One route connection on its core, accepted or dialled: TLS first when
//! the cluster has it, the handshake (INFO, CONNECT, the peer's INFO, as
//! nats-server's `processRouteConnect` and `processRouteInfo` decide them),
//! registration at its place among the peer's connections (a pool index or
//! a pinned account, nats-server's `addRoute` checks in [`ask`]), then the
//! peer's
//! interest (`RS+`/`RS-`, `LS+`/`LS-`) and messages (`RMSG`, `HMSG`,
//! `LMSG`), its PINGs, and on close the removal of everything it held.
//!
//! Invariants: a route is a [`Client`] with `route` set, owned by this core;
//! its subscriptions are the peer's interest, keyed by a sid made of the
//! subject's key and queue name (one per peer entry, as nats-server keeps
//! one remote subscription per entry), registered only once the route is;
//! the reader parses every complete op of a read before reading again, and
//! a routed message is a slice of the read buffer frozen once per pass. A
//! full ring pauses this reader (backpressure on the peer), never the core.
//!
//! Never writes the socket itself (its writer does) and never waits but on
//! its own socket, a timer, or ring room.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use shoal_proto::route::{parse_route, RouteCtx, RouteOp, RouteParsed};
use shoal_proto::route_handshake::{self, Local, Reason, Verdict};
use shoal_proto::route_info::{PeerInfo, RouteConnect};
use shoal_proto::{encode, Limits, Span};

use crate::client::RouteScope;
use crate::client::{Client, CloseReason};
use crate::config::RouteUrl;
use crate::core::Core;
use crate::mesh::{Ask, Mesh, Peer, Refused, Slot};
use crate::msg::{Msg, Spans};
use crate::rt::{self, ReadHalf, WriteHalf};

/// How a route connection ended, for its dialer.
pub struct Ended {
    pub reason: CloseReason,
    /// The peer it was registered for, if it got that far (or the one it
    /// duplicated).
    pub peer: Option<String>,
    /// It was registered (not refused or closed in its handshake).
    pub registered: bool,
}

/// The first PING goes out this long after registration, then every
/// `ping_interval` (nats-server's `firstPingInterval` for routes).
const FIRST_PING: Duration = Duration::from_secs(1);

/// The largest payload a peer may route (nats-server refuses a
/// `max_payload` above 64 MiB).
const MAX_ROUTED_PAYLOAD: usize = 64 << 20;

/// The route's state as its reader keeps it.
struct Link {
    core: Rc<Core>,
    mesh: Arc<Mesh>,
    conn: Rc<Client>,
    solicited: Option<RouteUrl>,
    /// The pinned account this connection was dialled for.
    dial_account: Option<String>,
    /// The account a dedicated connection carries (its lines name none).
    pinned: Option<Bytes>,
    connected: bool,
    /// The peer's server id once its route is registered.
    peer: Option<String>,
    ctx: RouteCtx,
    /// The account of the last line (routes carry runs of one account).
    last_account: Option<(Bytes, Option<u16>)>,
    /// The leaf origin of the last line that had one, and its id.
    last_origin: Option<(Bytes, u16)>,
    /// Compression was negotiated (on the first INFO), and the mode chosen.
    negotiated: bool,
    compression: String,
}

/// What an op asks of the reader beyond its own effects.
enum Flow {
    Next,
    /// Switch the connection to S2 (`info` sent first in clear when this
    /// side dialled, else as the first compressed bytes), the rest of the
    /// input after this op included.
    Compress {
        level: shoal_proto::s2::Level,
        info: Vec<u8>,
        clear_first: bool,
    },
}

/// Serves one route connection until it closes.
pub async fn serve(
    core: Rc<Core>,
    mesh: Arc<Mesh>,
    mut rh: ReadHalf,
    wh: WriteHalf,
    addr: SocketAddr,
    solicited: Option<RouteUrl>,
    dial_account: Option<String>,
) -> Ended {
    let cid = core.next_cid();
    let mut c = Client::new(cid, addr, core.env().clone(), Some(rh.fd()));
    c.route = true;
    c.write_deadline
        .set(mesh.cfg.write_deadline.filter(|d| !d.is_zero()));
    let conn = Rc::new(c);
    conn.set_log_prefix(format!("{addr} - rid:{cid}"));
    conn.opts.set(crate::client::Opts {
        verbose: false,
        pedantic: false,
        echo: true,
        headers: false,
        no_responders: false,
        protocol: 1,
    });
    conn.connected.set(true);
    let mut wh = wh;
    let mut pre = BytesMut::new();
    if let Some(tls) = &mesh.cfg.tls {
        // TLS before anything else, whichever side dialled.
        match crate::tls::start_route(&conn, &mut rh, &mut wh, tls, solicited.as_ref()).await {
            Some(plain) => pre = plain,
            None => {
                let reason = conn
                    .close_reason
                    .get()
                    .unwrap_or(CloseReason::TlsHandshakeFailure);
                log::debug!(
                    "{} - Router connection closed: {}",
                    conn.log_prefix(),
                    reason.as_str()
                );
                return Ended {
                    reason,
                    peer: None,
                    registered: false,
                };
            }
        }
    }
    rt::spawn(crate::writer::run_writer(conn.clone(), wh));
    let mut link = Link {
        core: core.clone(),
        mesh: mesh.clone(),
        conn: conn.clone(),
        connected: solicited.is_some(),
        solicited,
        dial_account,
        pinned: None,
        peer: None,
        ctx: RouteCtx::default(),
        last_account: None,
        last_origin: None,
        negotiated: false,
        compression: String::new(),
    };
    match &link.solicited {
        // The dialer speaks first; its INFO waits for the acceptor's.
        Some(url) => conn.send(&super::connect(&core, &mesh, url)),
        None => {
            conn.send(&super::info(&core, &mesh).to_line());
            if mesh.cfg.auth.is_some() {
                // Cleared by the CONNECT (see `on_connect`).
                conn.auth_deadline
                    .set(Some(conn.start + mesh.cfg.auth_timeout));
                rt::spawn(auth_timer(conn.clone(), mesh.cfg.auth_timeout));
            }
        }
    }
    core.end_pass();
    read_loop(&mut link, &mut rh, pre).await;
    // Clean-up: the peer's interest goes at once, everywhere.
    if let Some(id) = &link.peer {
        mesh.unregister(id, core.id(), cid);
        core.routes().remove_link(cid);
    }
    core.unsubscribe_all(&conn);
    core.end_pass();
    while !conn.writer_done.get() {
        conn.done.wait().await;
    }
    let reason = conn.close_reason.get().unwrap_or(CloseReason::ClientClosed);
    if link.peer.is_some() {
        log::info!(
            "{} - Router connection closed: {}",
            conn.log_prefix(),
            reason.as_str()
        );
    } else {
        log::debug!(
            "{} - Router connection closed: {}",
            conn.log_prefix(),
            reason.as_str()
        );
    }
    drop(rh);
    if core.life().stopping.get() {
        core.life().stop_ev.notify();
    }
    // A route closed before registering still names the server it was to
    // (a duplicate, or this server itself): its dialer decides on that.
    let named = conn.name.borrow().clone();
    Ended {
        reason,
        registered: link.peer.is_some(),
        peer: link.peer.or((!named.is_empty()).then_some(named)),
    }
}

/// Closes an accepted route that has not sent its CONNECT in time.
async fn auth_timer(conn: Rc<Client>, after: Duration) {
    rt::sleep(after).await;
    if conn.is_open() && conn.auth_deadline.get().is_some() {
        conn.send(b"-ERR 'Authentication Timeout'\r\n");
        conn.close_after_flush(CloseReason::AuthTimeout);
        conn.env().wake_touched();
    }
}

/// Sends PINGs and closes the route (or leaf connection) when `ping_max`
/// go unanswered.
pub(crate) async fn pinger(conn: Rc<Client>, interval: Duration, max: u32) {
    rt::sleep(FIRST_PING).await;
    while conn.is_open() {
        let p = &conn.ping;
        if p.outstanding.get() + 1 > max {
            log::debug!("{} - Stale Client Connection - Closing", conn.log_prefix());
            conn.send(encode::ERR_STALE_CONNECTION);
            conn.close_after_flush(CloseReason::StaleConnection);
            conn.env().wake_touched();
            return;
        }
        p.outstanding.set(p.outstanding.get() + 1);
        p.last_sent.set(Instant::now());
        conn.send(encode::PING);
        conn.env().wake_touched();
        rt::sleep(interval).await;
    }
}

/// `buf`: plaintext that came with the TLS handshake's last flight.
async fn read_loop(link: &mut Link, rh: &mut ReadHalf, mut buf: BytesMut) {
    let core = link.core.clone();
    let conn = link.conn.clone();
    let mut input = crate::link_io::Input::new(&conn, &buf, "Route");
    let mut need = 0usize;
    let live = core.live();
    // Routes carry larger control lines (many queue names) and the peer's
    // own payload limit, which may be above ours but never above
    // nats-server's ceiling for `max_payload` (64 MiB): a larger size is a
    // broken peer, refused before any buffer is sized for it.
    let limits = Limits {
        max_control_line: live.max_control_line.saturating_mul(16),
        max_payload: MAX_ROUTED_PAYLOAD,
    };
    loop {
        if !conn.is_open() {
            return;
        }
        let want = crate::link_io::READ_MIN.max(need.saturating_sub(buf.len()));
        if !input.fill(&conn, rh, &mut buf, want).await {
            return;
        }
        let now = Instant::now();
        core.env().now.set(now);
        conn.last.set(now);
        core.links().take_pass_peers();
        let mut data = buf.split().freeze();
        let mut at = 0usize;
        loop {
            match parse_route(&data[at..], &limits, link.ctx) {
                Ok(RouteParsed::Op(op, len)) => {
                    let frame = data.slice(at..at + len);
                    if let RouteOp::Ping = op {
                        // As a client's: the PONG proves that what came
                        // before it reached every core (interest applied,
                        // messages queued for their subscribers).
                        if conn.needs_barrier.replace(false) {
                            core.end_pass();
                            core.barrier().await;
                        }
                    }
                    let flow = match handle(link, &frame, op) {
                        Ok(f) => f,
                        Err(why) => {
                            refuse(&conn, why);
                            core.end_pass();
                            return;
                        }
                    };
                    at += len;
                    if let Flow::Compress {
                        level,
                        info,
                        clear_first,
                    } = flow
                    {
                        let how = (level, &info[..], clear_first);
                        let rest = &data[at..];
                        let Some(plain) = input.switch_to_s2(&core, &conn, how, rest).await else {
                            return;
                        };
                        data = plain.freeze();
                        at = 0;
                    }
                    if !conn.is_open() {
                        core.end_pass();
                        return;
                    }
                }
                Ok(RouteParsed::Incomplete { need: n }) => {
                    need = n;
                    break;
                }
                Err(e) => {
                    crate::link_io::parse_error(&conn, "Route", e, &data[at..]);
                    core.end_pass();
                    return;
                }
            }
        }
        crate::link_io::after_read(&core, &data[at..], need, &mut buf).await;
    }
}

/// Why a route is closed, decided by an op.
enum Refusal {
    /// `-ERR` text (if any) and the close reason.
    Close(Option<String>, CloseReason),
}

fn refuse(conn: &Rc<Client>, why: Refusal) {
    let Refusal::Close(err, reason) = why;
    if let Some(e) = err {
        log::error!("{} - {e}", conn.log_prefix());
        conn.send(format!("-ERR '{e}'\r\n").as_bytes());
    }
    conn.close_after_flush(reason);
}

fn reason_of(r: Reason) -> CloseReason {
    match r {
        Reason::WrongPort => CloseReason::IncorrectPort,
        Reason::WrongGateway => CloseReason::WrongGateway,
        Reason::AuthViolation => CloseReason::AuthViolation,
        Reason::ClusterNameConflict => CloseReason::ClusterNameConflict,
        Reason::DuplicateRoute => CloseReason::DuplicateRoute,
    }
}

fn handle(link: &mut Link, frame: &Bytes, op: RouteOp) -> Result<Flow, Refusal> {
    if let RouteOp::Info(json) = op {
        return on_info(link, json.of(frame));
    }
    handle_op(link, frame, op).map(|()| Flow::Next)
}

fn handle_op(link: &mut Link, frame: &Bytes, op: RouteOp) -> Result<(), Refusal> {
    match op {
        RouteOp::Connect(json) => on_connect(link, json.of(frame)),
        RouteOp::Info(_) => Ok(()),
        RouteOp::Ping => {
            link.conn.send(encode::PONG);
            Ok(())
        }
        RouteOp::Pong => {
            let p = &link.conn.ping;
            p.outstanding.set(0);
            let rtt = p.last_sent.get().elapsed();
            link.conn.rtt.set(rtt);
            auto_level(link, rtt);
            Ok(())
        }
        RouteOp::Ok => Ok(()),
        RouteOp::Err(text) => {
            let text = String::from_utf8_lossy(text.of(frame));
            // A nats-server peer dials a dedicated `$SYS` route to every
            // peer and refuses it itself when the peer has no pool (as
            // Shoal): expected on every join, so not an error here.
            if link.peer.is_none() && text.contains("Not possible to have a dedicated route") {
                log::debug!("{} - Route Error {text}", link.conn.log_prefix());
            } else {
                log::error!("{} - Route Error {text}", link.conn.log_prefix());
            }
            link.conn.close_after_flush(CloseReason::ParseError);
            Ok(())
        }
        _ if link.peer.is_none() => Ok(()), // nothing counts before registration
        RouteOp::Sub {
            origin,
            account,
            subject,
            queue,
        } => {
            on_sub(link, frame, (origin, account), subject, queue);
            Ok(())
        }
        RouteOp::Unsub {
            origin,
            account,
            subject,
            queue,
        } => {
            on_unsub(link, frame, (origin, account), subject, queue);
            Ok(())
        }
        RouteOp::Msg {
            origin,
            account,
            subject,
            reply,
            queues,
            hdr,
            payload,
        } => {
            let origin = origin_id(link, frame, origin);
            on_msg(
                link,
                frame,
                (origin, account),
                subject,
                reply,
                queues,
                hdr,
                payload,
            );
            Ok(())
        }
    }
}

/// `s2_auto`: the level follows the route's RTT, measured by each PONG
/// (nats-server's `updateS2AutoCompressionLevel`).
fn auto_level(link: &mut Link, rtt: Duration) {
    let cfg = &link.mesh.cfg;
    if cfg.compression != "s2_auto" {
        return;
    }
    let Some(level) = super::compression_level("s2_auto", rtt, &cfg.compression_rtt) else {
        return;
    };
    let name = super::level_name(level);
    let mut s2 = link.conn.s2.borrow_mut();
    let Some(out) = s2.as_mut() else {
        return;
    };
    if name != link.compression {
        out.writer.set_level(level);
        link.compression = name.to_string();
        if link.peer.is_some() {
            link.mesh.set_compression(link.conn.cid, name);
        }
    }
}

fn local<'a>(core: &'a Core, mesh: &'a Mesh, name: &'a str) -> Local<'a> {
    Local {
        server_id: &core.shared().server_id,
        cluster: name,
        dynamic: mesh.name().1,
        auth: mesh
            .cfg
            .auth
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str())),
        cert_admitted: None,
    }
}

/// Whether the peer's certificate admits it, when the cluster's TLS makes
/// the certificate decide (`None`: the user and password do).
fn cert_admitted(link: &Link) -> Option<bool> {
    let tls = link.mesh.cfg.tls.as_ref()?;
    let o = &tls.options;
    if !o.map && !o.check_known_urls {
        return None;
    }
    let info = link.conn.tls_info.borrow();
    let id = info
        .as_ref()
        .and_then(|i| i.peer_certs.first())
        .and_then(|der| shoal_tls::identity::identity(der));
    let Some(id) = id else {
        log::debug!(
            "{} - User required in cert, no peer certificates found",
            link.conn.log_prefix()
        );
        return Some(false);
    };
    let user = if o.map {
        link.mesh.cfg.auth.as_ref().map(|(u, _)| u.as_str())
    } else {
        None
    };
    let known = o.check_known_urls.then_some(&link.mesh.cfg.routes[..]);
    Some(super::cert::admits(&id, user, known))
}

/// The acceptor's check of the peer's CONNECT.
fn on_connect(link: &mut Link, json: &[u8]) -> Result<(), Refusal> {
    let Some(c) = RouteConnect::parse(json) else {
        return Err(Refusal::Close(None, CloseReason::ParseError));
    };
    let (name, _) = link.mesh.name();
    let local = Local {
        cert_admitted: cert_admitted(link),
        ..local(&link.core, &link.mesh, &name)
    };
    match route_handshake::on_connect(&local, &c) {
        Verdict::Close { err, reason } => Err(Refusal::Close(err, reason_of(reason))),
        Verdict::Accept { adopt } => {
            if let Some(n) = adopt {
                link.mesh.adopt(&n);
            }
            link.connected = true;
            link.conn.auth_deadline.set(None);
            Ok(())
        }
    }
}

/// The peer's INFO: the first registers the route; later ones are
/// updates (client URLs, lame duck) or gossip of another server.
fn on_info(link: &mut Link, json: &[u8]) -> Result<Flow, Refusal> {
    let Some(p) = PeerInfo::parse(json) else {
        return Err(Refusal::Close(None, CloseReason::ParseError));
    };
    if link.peer.is_some() {
        return on_later_info(link, p).map(|()| Flow::Next);
    }
    if !link.connected {
        // An INFO before CONNECT on an accepted route: not a route.
        return Err(Refusal::Close(None, CloseReason::ProtocolViolation));
    }
    // The first INFO negotiates compression (nats-server's
    // `negotiateRouteCompression`); when the route compresses, each side
    // sends an INFO with the mode it chose and the route registers on the
    // next one.
    let ours = link.mesh.cfg.compression.clone();
    if super::needs_compression(&ours) && !link.negotiated {
        link.negotiated = true;
        let cm = super::select_compression(&ours, p.compression.as_deref())
            .map_err(|e| Refusal::Close(Some(e), CloseReason::ProtocolViolation))?;
        let rtt = link.conn.start.elapsed();
        link.compression = cm.clone();
        let rtts = &link.mesh.cfg.compression_rtt;
        if let Some(level) = super::compression_level(&cm, rtt, rtts) {
            if cm == "s2_auto" {
                link.compression = super::level_name(level).to_string();
            }
            let mut info = super::info(&link.core, &link.mesh);
            info.compression = if ours == "s2_auto" { ours } else { cm };
            return Ok(Flow::Compress {
                level,
                info: info.to_line(),
                clear_first: link.solicited.is_some(),
            });
        }
    } else if !link.negotiated {
        link.compression = if p.compression.is_none() || ours == "not supported" {
            "not supported".into()
        } else {
            "off".into()
        };
    }
    let (name, _) = link.mesh.name();
    // Duplicates are the registry's to find (a pool has many connections).
    match route_handshake::on_info(&local(&link.core, &link.mesh, &name), &p, false) {
        Verdict::Close { err, reason } => {
            *link.conn.name.borrow_mut() = p.server_id.clone();
            return Err(Refusal::Close(err, reason_of(reason)));
        }
        Verdict::Accept { adopt } => {
            if let Some(n) = adopt {
                link.mesh.adopt(&n);
            }
        }
    }
    register(link, p).map(|()| Flow::Next)
}

/// Where the connection goes among the peer's (nats-server's `addRoute`
/// checks, in its words).
fn ask(link: &Link, p: &PeerInfo) -> Result<Ask, Refusal> {
    let ours = link.mesh.cfg.pool_size;
    let theirs = p.route_pool_size;
    let account = match &link.solicited {
        Some(_) => link.dial_account.clone(),
        None => (!p.route_account.is_empty()).then(|| p.route_account.clone()),
    };
    let violation = |e: String| Refusal::Close(Some(e), CloseReason::ProtocolViolation);
    if theirs <= 0 || ours == 0 {
        return match account {
            Some(a) => Err(violation(format!(
                "Not possible to have a dedicated route for account {a:?} between those servers"
            ))),
            None => Ok(Ask::Single),
        };
    }
    let size = ours.max(theirs as usize);
    if let Some(a) = account {
        if !link.mesh.cfg.pinned.contains(&a) {
            // nats-server looks the account up first. (A pinned system
            // account is taken even where no system account is configured:
            // a nats-server peer always has one; its lines are ignored.)
            if link.core.auth().account_id(a.as_bytes()).is_none() {
                return Err(Refusal::Close(
                    Some(format!("Unable to lookup account {a:?}: account missing")),
                    CloseReason::MissingAccount,
                ));
            }
            return Err(violation(format!("No route for account {a:?}")));
        }
        return Ok(Ask::Account(a));
    }
    if link.solicited.is_some() {
        if p.route_pool_idx != 0 {
            return Err(violation(format!(
                "Route pool index should not be set but is set to {}",
                p.route_pool_idx
            )));
        }
        return Ok(Ask::FirstFree { size });
    }
    if p.route_pool_idx < 0 || p.route_pool_idx as usize >= size {
        return Err(violation(format!(
            "Invalid route pool index: {} - pool size is {theirs}",
            p.route_pool_idx
        )));
    }
    Ok(Ask::Index {
        idx: p.route_pool_idx as usize,
        size,
    })
}

fn register(link: &mut Link, p: PeerInfo) -> Result<(), Refusal> {
    let ask = ask(link, &p)?;
    let core = &link.core;
    let conn = &link.conn;
    let route_url = route_url(conn.peer, &p);
    let peer = Peer {
        server_id: p.server_id.clone(),
        server_name: p.server_name.clone(),
        slot: Slot::Pool(0),
        core: core.id(),
        cid: conn.cid,
        solicited: link.solicited.is_some(),
        configured: link
            .solicited
            .as_ref()
            .is_some_and(|u| link.mesh.route_valid(&u.url)),
        url: link.solicited.as_ref().map(|u| u.url.clone()),
        compression: link.compression.clone(),
        connect_urls: p.connect_urls.clone(),
        ws_connect_urls: p.ws_connect_urls.clone(),
        leafnode_urls: p.leafnode_urls.clone(),
        since: SystemTime::now(),
    };
    *conn.name.borrow_mut() = p.server_id.clone();
    let reg = match link.mesh.register(peer, &ask) {
        Ok(r) => r,
        Err(why) => {
            if why == Refused::Full {
                log::debug!(
                    "{} - Route pool size reached, closing extra connection to {:?}",
                    conn.log_prefix(),
                    p.server_id
                );
            }
            return Err(Refusal::Close(None, CloseReason::DuplicateRoute));
        }
    };
    link.peer = Some(p.server_id.clone());
    let ours = link.mesh.cfg.pool_size;
    let scope = match &ask {
        Ask::Single => RouteScope::All,
        Ask::FirstFree { .. } | Ask::Index { .. } => RouteScope::Pool {
            idx: reg.idx as u32,
            size: ours as u32,
        },
        Ask::Account(a) => {
            link.pinned = Some(Bytes::copy_from_slice(a.as_bytes()));
            RouteScope::Account(core.auth().account_id(a.as_bytes()))
        }
    };
    conn.route_scope.set(scope);
    link.ctx.account_in_proto = link.pinned.is_none();
    link.ctx.ls_minus_origin = p.lnocu;
    conn.lnoc.set((p.lnoc, p.lnocu));
    if link.solicited.is_some() {
        // The dialler's INFO, held back until now: it carries the place
        // the connection took (nats-server's delayed INFO).
        let mut info = super::info(core, &link.mesh);
        if let Ask::FirstFree { .. } = ask {
            info.route_pool_idx = reg.idx as i64;
        }
        if let Ask::Account(a) = &ask {
            info.route_account = a.clone();
        }
        conn.send(&info.to_line());
    }
    let mut o = conn.opts.get();
    o.headers = p.headers && !core.cfg().no_header_support;
    conn.opts.set(o);
    conn.set_log_prefix(format!(
        "{} - rid:{} - {:?}",
        conn.peer, conn.cid, p.server_name
    ));
    log::info!("{} - Route connection created", conn.log_prefix());
    core.routes().add_link(core.auth(), conn);
    let cfg = &link.mesh.cfg;
    let interval = cfg.ping_interval.min(Duration::from_secs(30));
    rt::spawn(pinger(conn.clone(), interval, cfg.ping_max));
    if reg.first {
        // Tell the other routes of the new peer, so they join it (a node
        // given one seed route meets the whole mesh).
        let gossip = p_info_line(&p, &route_url);
        link.mesh.post(core.cores(), &p.server_id, &gossip);
    }
    if let (Some(url), Ask::FirstFree { size }) = (&link.solicited, &ask) {
        // The dialler completes the pool, one connection after another,
        // each on the next core; with its first, the pinned accounts'.
        if reg.pooled < *size {
            link.mesh
                .post_dial(core.id() + 1, core.cores(), url, None, &p.server_id);
        }
        if reg.first {
            for (i, a) in link.mesh.cfg.pinned.iter().enumerate() {
                link.mesh.post_dial(
                    core.id() + 2 + i,
                    core.cores(),
                    url,
                    Some(a.clone()),
                    &p.server_id,
                );
            }
        }
    }
    Ok(())
}

/// `nats-route://<ip>:<port>/` of a peer: the address it connected from (or
/// was dialled at) and the route port its INFO gives.
fn route_url(remote: SocketAddr, p: &PeerInfo) -> String {
    let host = if p.host.is_empty() || p.host == "0.0.0.0" || p.host == "::" {
        remote.ip().to_string()
    } else {
        p.host.clone()
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    format!("nats-route://{host}:{}/", p.port)
}

/// The INFO that gossips peer `p` to other routes.
fn p_info_line(p: &PeerInfo, route_url: &str) -> Vec<u8> {
    let v = serde_json::json!({
        "server_id": p.server_id,
        "server_name": p.server_name,
        "version": crate::NATS_VERSION,
        "proto": super::ROUTE_PROTO,
        "host": p.host,
        "port": p.port,
        "headers": p.headers,
        "max_payload": p.max_payload,
        "ip": route_url,
        "cluster": p.cluster,
        "connect_urls": p.connect_urls,
        "ws_connect_urls": p.ws_connect_urls,
    });
    let mut line = b"INFO ".to_vec();
    line.extend_from_slice(v.to_string().as_bytes());
    line.extend_from_slice(b"\r\n");
    line
}

/// An INFO on a registered route.
fn on_later_info(link: &mut Link, p: PeerInfo) -> Result<(), Refusal> {
    let own = link.peer.as_deref() == Some(p.server_id.as_str());
    if own {
        if p.ldm {
            log::info!("{} - Peer is in lame duck mode", link.conn.log_prefix());
            link.mesh
                .set_connect_urls(&p.server_id, Vec::new(), Vec::new());
        } else {
            link.mesh.set_leafnode_urls(&p.server_id, &p.leafnode_urls);
            link.mesh
                .set_connect_urls(&p.server_id, p.connect_urls, p.ws_connect_urls);
        }
        return Ok(());
    }
    // Gossip: another server of the cluster; dial it if not yet connected.
    if p.server_id == link.core.shared().server_id || link.mesh.connected(&p.server_id) {
        return Ok(());
    }
    let Some(url) = parse_route_url(&p.ip) else {
        return Ok(());
    };
    rt::spawn(super::dial::dial(
        link.core.clone(),
        link.mesh.clone(),
        url,
        false,
    ));
    Ok(())
}

/// `nats-route://host:port/` → a route to dial (no credentials: gossip
/// carries none; the configured route user applies, as in nats-server).
fn parse_route_url(ip: &str) -> Option<RouteUrl> {
    let rest = ip.split_once("://")?.1.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(RouteUrl {
        url: ip.to_string(),
        host: host.to_string(),
        port: port.parse().ok()?,
        user: None,
        pass: None,
    })
}

/// The account of a line: its id here, or `None` for one this server does
/// not have (its interest and messages are ignored, as nats-server logs
/// and ignores an unknown account).
fn account(link: &mut Link, frame: &Bytes, span: Option<Span>) -> Option<u16> {
    let name: &[u8] = match (span, &link.pinned) {
        (Some(s), _) => s.of(frame),
        (None, Some(a)) => &a[..],
        (None, None) => b"$G",
    };

    if let Some((n, id)) = &link.last_account {
        if &n[..] == name {
            return *id;
        }
    }
    let id = link.core.auth().account_id(name);
    link.last_account = Some((Bytes::copy_from_slice(name), id));
    id
}

/// The sid a peer entry is kept under: its subject's key, its queue, and
/// the leaf cluster it is for (after a NUL, which no subject or queue
/// name holds: a leaf's entry never meets the peer's own of that subject,
/// as nats-server's `keyFromSubWithOrigin` keeps them apart).
fn entry_sid(key: &[u8], queue: Option<&[u8]>, origin: &[u8]) -> Bytes {
    let mut sid = BytesMut::with_capacity(key.len() + queue.map_or(0, |q| q.len() + 1));
    sid.extend_from_slice(key);
    if let Some(q) = queue {
        sid.extend_from_slice(b" ");
        sid.extend_from_slice(q);
    }
    if !origin.is_empty() {
        sid.extend_from_slice(b"\0");
        sid.extend_from_slice(origin);
    }
    sid.freeze()
}

/// The id of a line's leaf origin (0 for none), the last one kept at hand.
fn origin_id(link: &mut Link, frame: &Bytes, span: Option<Span>) -> u16 {
    let Some(s) = span else {
        return 0;
    };
    let name = s.of(frame);
    if let Some((n, id)) = &link.last_origin {
        if &n[..] == name {
            return *id;
        }
    }
    let id = link.core.shared().origins.id(name);
    link.last_origin = Some((Bytes::copy_from_slice(name), id));
    id
}

fn on_sub(
    link: &mut Link,
    frame: &Bytes,
    (origin, acc): (Option<Span>, Option<Span>),
    subject: Span,
    queue: Option<(Span, u32)>,
) {
    let Some(id) = account(link, frame, acc) else {
        return;
    };
    let origin_name = origin.map_or(&b""[..], |o| o.of(frame));
    let origin = origin_id(link, frame, origin);
    let subj = subject.of(frame);
    if !shoal_subject::is_valid_subscribe_subject(subj) {
        return;
    }
    if !link.core.routes().may_export(subj) {
        log::debug!(
            "{} - Can not export {:?}, ignoring remote subscription request",
            link.conn.log_prefix(),
            String::from_utf8_lossy(subj)
        );
        return;
    }
    let core = &link.core;
    let key = core.key(id, subj);
    let q = queue.map(|(q, w)| (q.of(frame), w));
    let sid = entry_sid(&key, q.map(|(n, _)| n), origin_name);
    let known = link.conn.subs.borrow().get(&sid).copied();
    match (known, q) {
        // A plain entry already known: nothing (nats-server's no-op).
        (Some(_), None) => {}
        // A queue entry's weight is replaced, not added to.
        (Some(slot), Some((_, w))) => {
            core.route_reweight(slot, w);
            link.conn.needs_barrier.set(true);
        }
        (None, _) => {
            core.route_subscribe(
                &link.conn,
                sid,
                key,
                (q.map(|(n, _)| n), q.map_or(1, |(_, w)| w)),
                origin,
            );
            link.conn.needs_barrier.set(true);
        }
    }
}

fn on_unsub(
    link: &mut Link,
    frame: &Bytes,
    (origin, acc): (Option<Span>, Option<Span>),
    subject: Span,
    queue: Option<Span>,
) {
    let Some(id) = account(link, frame, acc) else {
        return;
    };
    let key = link.core.key(id, subject.of(frame));
    let origin = origin.map_or(&b""[..], |o| o.of(frame));
    let sid = entry_sid(&key, queue.map(|q| q.of(frame)), origin);
    let slot = link.conn.subs.borrow().get(&sid).copied();
    if let Some(slot) = slot {
        link.core.unsubscribe(slot, false);
        link.conn.needs_barrier.set(true);
    }
}

#[allow(clippy::too_many_arguments)]
fn on_msg(
    link: &mut Link,
    frame: &Bytes,
    (origin, acc): (u16, Option<Span>),
    subject: Span,
    reply: Option<Span>,
    queues: Span,
    hdr: u32,
    payload: Span,
) {
    let conn = &link.conn;
    let len = payload.len() as u64;
    conn.in_msgs.set(conn.in_msgs.get() + 1);
    conn.in_bytes.set(conn.in_bytes.get() + len);
    let Some(id) = account(link, frame, acc) else {
        return;
    };
    let core = &link.core;
    core.env().stats.account(id, |a| {
        a.in_msgs += 1;
        a.in_bytes += len;
    });
    let m = Msg {
        frame,
        spans: Spans {
            subject: (subject.start, subject.end),
            reply: reply.map_or((0, 0), |r| (r.start, r.end)),
            payload: (payload.start, payload.end),
            hdr,
            account: id,
            source: crate::msg::Source::Route { origin },
            copy: false,
        },
    };
    if crate::router::publish_routed(core, &m, (queues.start, queues.end), None) {
        link.conn.needs_barrier.set(true);
    }
    crate::js::kick(core);
}
