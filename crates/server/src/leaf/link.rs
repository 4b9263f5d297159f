//! One leaf node connection, on the leaf core, in either role, as
//! nats-server runs it (spec/cluster.md §6):
//!
//! - **Spoke** (this server dialled a hub, [`serve`]): the hub's INFO (it
//!   must be a leaf port: a client id and `leafnode_urls`), our CONNECT
//!   (credentials from the URL, the local account's name, no compression),
//!   the hub's `connect_info` INFO when it announced `info_on_connect`,
//!   then registration.
//! - **Hub** (a spoke dialled this server, [`accept`]): our INFO, the
//!   spoke's CONNECT within the auth timeout, its login (`hub.rs`), the
//!   `connect_info` INFO naming the bound account, then registration.
//!
//! Registered, both roles are the same: this server's loop-detection
//! subject and what the link may hear of the account's interest go out as
//! `LS+` (`routes.rs` keeps the link's table); `LS+`/`LS-` from the other
//! side become entries of this connection (messages to them leave as
//! `LMSG`/`HMSG`); `LMSG`/`HMSG` from it go to the account's subscribers
//! and to the other leaves (never back); PINGs keep it alive both ways.
//!
//! Invariants: the connection is a route-like client (`route` and `leaf`
//! set, scope `RouteScope::Account` once bound), listed in the core's
//! `Routes` only while registered; its entries go when it closes. A side
//! that is offered this server's own `$LDS.` subject closed a loop: the
//! connection closes with nats-server's `Loop detected` error, and a
//! spoke waits 30 s before it dials again.
//!
//! Never blocks its core; never writes but through the connection's queue.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use shoal_proto::leaf_info::{self, HubInfo, LeafConnect, LeafInfo};
use shoal_proto::route::{parse_route, RouteCtx, RouteOp, RouteParsed};
use shoal_proto::{encode, Limits, Span};

use crate::client::{Client, CloseReason, RouteScope};
use crate::config::{LeafRemote, RouteUrl};
use crate::core::Core;
use crate::link_io::READ_MIN;
use crate::msg::{Msg, Spans};
use crate::rt::{self, ReadHalf, WriteHalf};

/// How long the hub has to send its first INFO (nats-server waits 1 s).
const FIRST_INFO: Duration = Duration::from_secs(1);
/// How long the hub has to send its `connect_info` INFO.
const CONNECT_INFO: Duration = Duration::from_secs(2);
/// The most a leaf line may carry (nats-server's ceiling for max_payload).
const MAX_PAYLOAD: usize = 64 << 20;

/// How a connection ended, for the dialler.
pub struct Ended {
    /// It was registered (the hub accepted it).
    pub registered: bool,
    /// The hub saw a loop: wait before dialling again.
    pub loop_detected: bool,
    /// The leaf URLs of the hub's cluster its last INFO named
    /// (`leafnode_urls`), to dial as well as the configured ones.
    pub discovered: Vec<String>,
}

/// Which side of the link this server is.
pub(super) enum Role {
    /// It dialled a hub.
    Spoke(Box<Spoke>),
    /// A spoke dialled it; `connected` once its CONNECT was accepted.
    Hub { connected: bool },
}

/// A spoke's state: it dialled `url`.
pub(super) struct Spoke {
    url: RouteUrl,
    /// The hub's INFO was read (and our CONNECT sent).
    greeted: bool,
    /// The hub announced `info_on_connect`: registration waits for
    /// its `connect_info` INFO.
    wait_connect_info: bool,
    deny_imports: Vec<String>,
    /// The hub's nonce signed with the remote's credentials file or
    /// seed: (user JWT, public nkey, signature).
    signed: Option<(String, String, String)>,
    /// The hub's `leafnode_urls`, as its last INFO named them.
    discovered: Vec<String>,
    /// The remote says `hub: true` (its CONNECT's `is_hub`).
    hub: bool,
}

/// The connection's state, as its reader keeps it.
pub(super) struct Link {
    pub core: Rc<Core>,
    pub conn: Rc<Client>,
    pub role: Role,
    /// The local account the connection binds, by id and name (a hub's
    /// once the spoke has logged in).
    pub account: u16,
    pub account_name: String,
    pub registered: bool,
    pub loop_detected: bool,
    /// This server's loop-detection subject (in every account).
    pub lds: String,
    /// This side's compression settings, and whether the first INFO
    /// negotiated it (nats-server's `compressionNegotiated`).
    pub compression: crate::config::LeafCompression,
    pub negotiated: bool,
}

/// A negotiated switch to S2: the level, the INFO that goes with it, and
/// whether that INFO goes in clear first (the side that dialled).
pub(super) struct Compress {
    pub level: shoal_proto::s2::Level,
    pub info: Vec<u8>,
    pub clear_first: bool,
}

/// A leaf's deny lists as rules (none when both are empty): `publish`
/// denies what goes to the other side, `subscribe` what comes from it.
pub(super) fn deny_rules(publish: &[String], subscribe: &[String]) -> Option<shoal_auth::Rules> {
    if publish.is_empty() && subscribe.is_empty() {
        return None;
    }
    let rules = |deny: &[String]| {
        (!deny.is_empty()).then(|| shoal_auth::SubjectRules {
            allow: None,
            deny: deny.to_vec(),
        })
    };
    let spec = shoal_auth::PermissionSpec {
        publish: rules(publish),
        subscribe: rules(subscribe),
        responses: None,
    };
    Some(shoal_auth::Rules::compile(&spec).0)
}

/// This server's loop-detection subject.
pub(super) fn lds(core: &Core) -> String {
    format!(
        "{}{}",
        leaf_info::LOOP_DETECTION_PREFIX,
        &core.shared().server_id[..22]
    )
}

/// A leaf connection's client, before its greeting.
pub(super) fn new_conn(
    core: &Rc<Core>,
    rh: &ReadHalf,
    addr: SocketAddr,
    solicited: bool,
) -> Rc<Client> {
    let cid = core.next_cid();
    let mut c = Client::new(cid, addr, core.env().clone(), Some(rh.fd()));
    c.route = true;
    c.leaf = true;
    c.solicited = solicited;
    c.spoke.set(solicited);
    let conn = Rc::new(c);
    conn.set_log_prefix(format!("{addr} - lid:{cid}"));
    conn.opts.set(crate::client::Opts {
        verbose: false,
        pedantic: false,
        // Leaf connections never echo: a message never goes back over
        // the link it came from (the router's rule).
        echo: false,
        headers: false,
        no_responders: false,
        protocol: 1,
    });
    conn.connected.set(true);
    conn
}

/// Serves one dialled connection until it closes.
pub async fn serve(
    core: Rc<Core>,
    remote: &LeafRemote,
    url: &RouteUrl,
    mut rh: ReadHalf,
    mut wh: WriteHalf,
    addr: SocketAddr,
) -> Ended {
    let Some(account) = core.auth().account_id(remote.account.as_bytes()) else {
        log::error!(
            "Unable to lookup account {} for solicited leafnode connection: account not found",
            remote.account
        );
        return Ended {
            registered: false,
            loop_detected: false,
            discovered: Vec::new(),
        };
    };
    let conn = new_conn(&core, &rh, addr, true);
    // `hub: true`: this side takes the hub's role on the link.
    conn.spoke.set(!remote.hub);
    conn.route_scope.set(RouteScope::Account(Some(account)));
    *conn.leaf_rules.borrow_mut() = deny_rules(&remote.deny_exports, &remote.deny_imports);
    log::info!(
        "{} - Leafnode connection created for account: {}",
        conn.log_prefix(),
        remote.account
    );
    let ended = Ended {
        registered: false,
        loop_detected: false,
        discovered: Vec::new(),
    };
    let Some((mut pre, info)) = first_info(&conn, &mut rh).await else {
        conn.set_close_reason(CloseReason::ReadError);
        closed_early(&conn);
        return ended;
    };
    let tls = match (&remote.tls, info.tls_required) {
        (Some(t), _) => Some(t.clone()),
        // The hub asks for TLS the remote did not configure: the
        // defaults (the system's roots, read off the core).
        (None, true) => {
            let o = shoal_tls::TlsOptions::default();
            let built = rt::blocking(move || shoal_tls::build_client(&o)).await;
            built.ok().map(|client| crate::config::LeafTls {
                options: shoal_tls::TlsOptions::default(),
                server: None,
                client: Some(client),
            })
        }
        (None, false) => None,
    };
    if let Some(t) = &tls {
        match crate::tls::start_leaf(&conn, &mut rh, &mut wh, t, Some(url)).await {
            Some(more) => pre.extend_from_slice(&more),
            None => {
                closed_early(&conn);
                return ended;
            }
        }
    }
    let signed = match sign_nonce(remote, info.nonce.as_bytes()).await {
        Ok(s) => s,
        Err(text) => {
            log::error!("{} - {text}", conn.log_prefix());
            conn.set_close_reason(CloseReason::AuthViolation);
            closed_early(&conn);
            return ended;
        }
    };
    rt::spawn(crate::writer::run_writer(conn.clone(), wh));
    let mut link = Link {
        core: core.clone(),
        conn: conn.clone(),
        role: Role::Spoke(Box::new(Spoke {
            url: url.clone(),
            greeted: false,
            wait_connect_info: false,
            deny_imports: remote.deny_imports.clone(),
            signed,
            discovered: Vec::new(),
            hub: remote.hub,
        })),
        account,
        account_name: remote.account.clone(),
        registered: false,
        loop_detected: false,
        lds: lds(&core),
        compression: remote.compression.clone(),
        negotiated: false,
    };
    run(&mut link, &mut rh, pre).await;
    let discovered = match &mut link.role {
        Role::Spoke(s) => std::mem::take(&mut s.discovered),
        Role::Hub { .. } => Vec::new(),
    };
    Ended {
        registered: link.registered,
        loop_detected: link.loop_detected,
        discovered,
    }
}

/// Serves one accepted connection until it closes.
pub async fn accept(core: Rc<Core>, mut rh: ReadHalf, mut wh: WriteHalf, addr: SocketAddr) {
    let conn = new_conn(&core, &rh, addr, false);
    log::info!("{} - Leafnode connection created", conn.log_prefix());
    let info = super::hub::greet(&core, &conn);
    let mut pre = BytesMut::new();
    match super::hub::tls(&core) {
        None => conn.send(&info),
        Some(t) => {
            // The INFO in clear, then the spoke starts TLS.
            let sent = crate::tls::send_direct(&conn, &mut wh, &info, t.options.timeout()).await;
            match sent {
                true => match crate::tls::start_leaf(&conn, &mut rh, &mut wh, &t, None).await {
                    Some(p) => pre = p,
                    None => return closed_early(&conn),
                },
                false => return closed_early(&conn),
            }
        }
    }
    rt::spawn(crate::writer::run_writer(conn.clone(), wh));
    let mut link = Link {
        core: core.clone(),
        conn: conn.clone(),
        role: Role::Hub { connected: false },
        account: 0,
        account_name: String::new(),
        registered: false,
        loop_detected: false,
        lds: lds(&core),
        compression: super::hub::compression(&core),
        negotiated: false,
    };
    core.end_pass();
    run(&mut link, &mut rh, pre).await;
}

/// The hub's nonce signed with the remote's credentials file (read here,
/// off the core, at every connect, as nats-server reads it) or its seed.
async fn sign_nonce(
    remote: &LeafRemote,
    nonce: &[u8],
) -> Result<Option<(String, String, String)>, String> {
    let (creds, seed) = (remote.credentials.clone(), remote.nkey.clone());
    if creds.is_none() && seed.is_none() {
        return Ok(None);
    }
    let nonce = nonce.to_vec();
    rt::blocking(move || {
        if let Some(path) = creds {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!("Error reading LeafNode Remote Credentials file {path:?}: {e}")
            })?;
            let (jwt, seed) =
                shoal_auth::nkey::creds_parts(&text).ok_or("Credentials file malformed")?;
            let (_, sig) = shoal_auth::nkey::sign(&seed, &nonce)
                .map_err(|_| "Credentials file has malformed seed".to_string())?;
            return Ok(Some((jwt, String::new(), sig)));
        }
        let seed = seed.unwrap_or_default();
        let (key, sig) = shoal_auth::nkey::sign(&seed, &nonce)
            .map_err(|_| "Remote nkey has malformed seed".to_string())?;
        Ok(Some((String::new(), key, sig)))
    })
    .await
}

/// A connection that failed before its writer ran (its TLS).
fn closed_early(conn: &Client) {
    let reason = conn
        .close_reason
        .get()
        .unwrap_or(CloseReason::TlsHandshakeFailure);
    log::info!(
        "{} - Leafnode connection closed: {}",
        conn.log_prefix(),
        reason.as_str()
    );
}

/// The hub's first INFO, read in clear before the writer runs (it says
/// whether TLS follows): the bytes read, and the INFO. `None` when none
/// came in time (or the connection closed).
async fn first_info(conn: &Client, rh: &mut ReadHalf) -> Option<(BytesMut, HubInfo)> {
    let mut buf = BytesMut::new();
    let deadline = Instant::now() + FIRST_INFO;
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = &buf[..end];
            let json = line.strip_prefix(b"INFO ")?;
            let info = HubInfo::parse(json)?;
            return Some((buf, info));
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match rt::timeout(left, rh.read(&mut buf, READ_MIN)).await {
            Some(Ok(n)) if n > 0 => {}
            Some(_) => return None,
            None => {
                log::error!("{} - Did not receive the remote's INFO", conn.log_prefix());
                return None;
            }
        }
    }
}

/// Reads until the connection closes, then cleans up.
async fn run(link: &mut Link, rh: &mut ReadHalf, pre: BytesMut) {
    let core = link.core.clone();
    let conn = link.conn.clone();
    read_loop(link, rh, pre).await;
    if link.registered {
        core.routes().remove_link(conn.cid);
    }
    core.unsubscribe_all(&conn);
    core.end_pass();
    while !conn.writer_done.get() {
        conn.done.wait().await;
    }
    let reason = conn.close_reason.get().unwrap_or(CloseReason::ClientClosed);
    let name = conn.name.borrow().clone();
    if name.is_empty() {
        log::info!(
            "{} - Leafnode connection closed: {}",
            conn.log_prefix(),
            reason.as_str()
        );
    } else {
        log::info!(
            "{} - Leafnode connection closed: {} - Remote: {name}",
            conn.log_prefix(),
            reason.as_str()
        );
    }
    if core.life().stopping.get() {
        core.life().stop_ev.notify();
    }
}

/// Closes a connection whose hub does not confirm the CONNECT in time.
async fn connect_info_timer(conn: Rc<Client>) {
    rt::sleep(CONNECT_INFO).await;
    if conn.is_open() && conn.auth_deadline.get().is_some() {
        log::error!(
            "{} - Stale Leaf Node Connection - Closing",
            conn.log_prefix()
        );
        conn.close_after_flush(CloseReason::StaleConnection);
        conn.env().wake_touched();
    }
}

async fn read_loop(link: &mut Link, rh: &mut ReadHalf, mut buf: BytesMut) {
    let core = link.core.clone();
    let conn = link.conn.clone();
    let mut input = crate::link_io::Input::new(&conn, &buf, "Leafnode");
    let mut need = 0usize;
    let limits = Limits {
        max_control_line: core.live().max_control_line.saturating_mul(16),
        max_payload: MAX_PAYLOAD,
    };
    loop {
        if !conn.is_open() {
            return;
        }
        let want = READ_MIN.max(need.saturating_sub(buf.len()));
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
            match parse_route(&data[at..], &limits, RouteCtx::LEAF) {
                Ok(RouteParsed::Op(op, len)) => {
                    let frame = data.slice(at..at + len);
                    if let (RouteOp::Connect(json), Role::Hub { connected: false }) =
                        (&op, &link.role)
                    {
                        // The spoke's login may wait (bcrypt, a JWT chain).
                        let json = json.of(&frame).to_vec();
                        super::hub::on_connect(link, &json).await;
                        at += len;
                        if !conn.is_open() {
                            core.end_pass();
                            return;
                        }
                        continue;
                    }
                    if let RouteOp::Ping = op {
                        // As a client's: the PONG proves that what came
                        // before it reached every core.
                        if conn.needs_barrier.replace(false) {
                            core.end_pass();
                            core.barrier().await;
                        }
                    }
                    let switch = handle(link, &frame, op);
                    at += len;
                    if let Some(c) = switch {
                        // Everything after this INFO is S2, this read's
                        // rest included.
                        let how = (c.level, &c.info[..], c.clear_first);
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
                    crate::link_io::parse_error(&conn, "Leafnode", e, &data[at..]);
                    core.end_pass();
                    return;
                }
            }
        }
        crate::link_io::after_read(&core, &data[at..], need, &mut buf).await;
    }
}

fn handle(link: &mut Link, frame: &Bytes, op: RouteOp) -> Option<Compress> {
    let conn = &link.conn;
    match op {
        RouteOp::Info(json) => return on_info(link, json.of(frame)),
        RouteOp::Connect(_) => {
            // A hub's spoke sends one, first (see `read_loop`).
            log::error!("{} - Unexpected CONNECT on a leafnode", conn.log_prefix());
            conn.close_after_flush(CloseReason::ProtocolViolation);
        }
        RouteOp::Ping => conn.send(encode::PONG),
        RouteOp::Pong => {
            let p = &conn.ping;
            p.outstanding.set(0);
            let rtt = Instant::now().saturating_duration_since(p.last_sent.get());
            conn.rtt.set(rtt);
            auto_level(link, rtt);
        }
        RouteOp::Ok => {}
        RouteOp::Err(text) => {
            let t = String::from_utf8_lossy(text.of(frame)).into_owned();
            log::error!("{} - Leafnode Error {t}", conn.log_prefix());
            if t.contains("Loop detected") {
                link.loop_detected = true;
            }
            conn.close_after_flush(CloseReason::ClientClosed);
        }
        RouteOp::Sub { subject, queue, .. } => on_sub(link, frame, subject, queue),
        RouteOp::Unsub { subject, queue, .. } => on_unsub(link, frame, subject, queue),
        RouteOp::Msg {
            subject,
            reply,
            queues,
            hdr,
            payload,
            ..
        } => on_msg(link, frame, subject, reply, queues, hdr, payload),
    }
    None
}

/// An INFO. A spoke answers the hub's first with its CONNECT, after
/// negotiating compression when both sides want it (then its own INFO
/// goes first, and the hub's next, compressed, INFO is the one answered);
/// the hub's `connect_info` INFO registers it. A hub reads a spoke's INFO
/// only to negotiate compression before the CONNECT (nats-server's
/// `negotiateLeafCompression`).
fn on_info(link: &mut Link, json: &[u8]) -> Option<Compress> {
    let conn = link.conn.clone();
    let Some(info) = HubInfo::parse(json) else {
        log::error!("{} - Error parsing the remote's INFO", conn.log_prefix());
        conn.close_after_flush(CloseReason::ParseError);
        return None;
    };
    if let Role::Hub { connected } = link.role {
        if connected || link.negotiated {
            return None;
        }
        link.negotiated = true;
        let (level, mode) = negotiate(link, info.compression.as_deref())?;
        let line = super::hub::info(&link.core, &conn, super::hub::Info::First, &mode);
        return level.map(|level| Compress {
            level,
            info: line,
            clear_first: false,
        });
    }
    if !link.negotiated {
        link.negotiated = true;
        if !info.is_leaf_port() {
            log::error!("{} - attempted to connect to wrong port", conn.log_prefix());
            conn.close_after_flush(CloseReason::IncorrectPort);
            return None;
        }
        let (level, mode) = negotiate(link, info.compression.as_deref())?;
        if let Some(level) = level {
            return Some(Compress {
                level,
                info: spoke_info(&link.core, &conn, &mode),
                clear_first: true,
            });
        }
    }
    let Role::Spoke(spoke) = &mut link.role else {
        return None;
    };
    let Spoke {
        url,
        greeted,
        wait_connect_info,
        deny_imports,
        signed,
        discovered,
        hub,
    } = &mut **spoke;
    if let Some(urls) = info.leafnode_urls.as_ref().filter(|u| !u.is_empty()) {
        discovered.clone_from(urls);
    }
    if !*greeted {
        *greeted = true;
        conn.sent_connect_info.set(true);
        let mut o = conn.opts.get();
        o.headers = info.headers;
        conn.opts.set(o);
        *conn.name.borrow_mut() = info.server_id.clone();
        let s = link.core.shared();
        conn.leaf_cluster.set(s.origins.id(info.cluster.as_bytes()));
        let cluster = match &s.mesh {
            Some(m) => m.name().0,
            None => link
                .core
                .cfg()
                .cluster_name
                .clone()
                .unwrap_or_else(|| s.server_name.clone()),
        };
        let (user, pass, token) = match (&url.user, &url.pass) {
            (Some(u), Some(p)) if !p.is_empty() => (u.clone(), p.clone(), String::new()),
            // A user alone is also the token, as nats-server sends it.
            (Some(u), _) => (u.clone(), String::new(), u.clone()),
            _ => Default::default(),
        };
        let connect = LeafConnect {
            version: crate::NATS_VERSION.to_string(),
            user,
            pass,
            token,
            id: s.server_id.clone(),
            name: s.server_name.clone(),
            cluster,
            headers: !link.core.cfg().no_header_support,
            // What was negotiated (nats-server's `c.leaf.compression`).
            compression: conn.leaf_compression.borrow().clone(),
            remote_account: link.account_name.clone(),
            // The hub is asked not to send what this side denies itself.
            deny_pub: deny_imports.clone(),
            hub: *hub,
            jwt: signed.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
            nkey: signed.as_ref().map(|s| s.1.clone()).unwrap_or_default(),
            sig: signed.as_ref().map(|s| s.2.clone()).unwrap_or_default(),
            proto: 1,
            ..LeafConnect::default()
        };
        conn.send(&connect.to_line());
        if info.info_on_connect {
            *wait_connect_info = true;
            // Cleared by the connect_info INFO.
            conn.auth_deadline.set(Some(Instant::now() + CONNECT_INFO));
            rt::spawn(connect_info_timer(conn.clone()));
        } else {
            register(link);
        }
        return None;
    }
    if *wait_connect_info && info.connect_info {
        *wait_connect_info = false;
        conn.auth_deadline.set(None);
        register(link);
    }
    None
}

/// This side's compression against the other's INFO `theirs`
/// (nats-server's `selectCompressionMode`): the S2 level to switch to
/// (none: the link stays in clear) and the mode the INFO that goes with
/// the switch names; `None` when the other side's mode is unknown (the
/// link is refused in nats-server's words). The outcome is kept for
/// `/leafz` and the CONNECT.
fn negotiate(
    link: &Link,
    theirs: Option<&str>,
) -> Option<(Option<shoal_proto::s2::Level>, String)> {
    let conn = &link.conn;
    let ours = link.compression.mode.as_str();
    if !crate::cluster::needs_compression(ours) {
        *conn.leaf_compression.borrow_mut() = if theirs.is_none() || ours == "not supported" {
            "not supported".into()
        } else {
            "off".into()
        };
        return Some((None, String::new()));
    }
    let cm = match crate::cluster::select_compression(ours, theirs) {
        Ok(cm) => cm,
        Err(e) => {
            let e = e.replace("route compression", "leafnode compression");
            log::error!("{} - {e}", conn.log_prefix());
            conn.send(format!("-ERR '{e}'\r\n").as_bytes());
            conn.close_after_flush(CloseReason::ProtocolViolation);
            return None;
        }
    };
    let rtt = conn.start.elapsed();
    let level = crate::cluster::compression_level(&cm, rtt, &link.compression.rtt);
    *conn.leaf_compression.borrow_mut() = match level {
        Some(l) if cm == "s2_auto" => crate::cluster::level_name(l).to_string(),
        _ => cm.clone(),
    };
    let mode = if ours == "s2_auto" {
        ours.to_string()
    } else {
        cm
    };
    Some((level, mode))
}

/// `s2_auto`: the level follows the link's RTT, measured by each PONG
/// (nats-server's `updateS2AutoCompressionLevel`).
fn auto_level(link: &Link, rtt: Duration) {
    if link.compression.mode != "s2_auto" {
        return;
    }
    let Some(level) = crate::cluster::compression_level("s2_auto", rtt, &link.compression.rtt)
    else {
        return;
    };
    let name = crate::cluster::level_name(level);
    let mut s2 = link.conn.s2.borrow_mut();
    let Some(out) = s2.as_mut() else {
        return;
    };
    let mut current = link.conn.leaf_compression.borrow_mut();
    if *current != name {
        out.writer.set_level(level);
        *current = name.to_string();
    }
}

/// The INFO a spoke sends the hub to settle compression (nats-server's
/// `copyLeafNodeInfo` with the chosen mode and the connection's id).
fn spoke_info(core: &Core, conn: &Client, mode: &str) -> Vec<u8> {
    base_info(core, conn, mode).to_line()
}

/// What every INFO this server sends on a leaf connection says: who it
/// is, headers, max_payload, the connection's id and the compression
/// `mode` (none when empty).
pub(super) fn base_info(core: &Core, conn: &Client, mode: &str) -> LeafInfo {
    let s = core.shared();
    LeafInfo {
        server_id: s.server_id.clone(),
        server_name: s.server_name.clone(),
        version: crate::NATS_VERSION.to_string(),
        proto: 1,
        go: format!("shoal {}", crate::SHOAL_VERSION),
        headers: !core.cfg().no_header_support,
        max_payload: core.live().max_payload as u64,
        client_id: conn.cid,
        compression: mode.to_string(),
        ..LeafInfo::default()
    }
}

/// The hub accepted the connection: it is told the account's interest and
/// our loop-detection subject, and hears every change from now on.
pub(super) fn register(link: &mut Link) {
    let conn = &link.conn;
    let core = &link.core;
    link.registered = true;
    conn.account.set(link.account);
    let mut lds = BytesMut::new();
    encode::put_route_sub(&mut lds, encode::Peer::Leaf, link.lds.as_bytes(), None);
    conn.send(&lds);
    core.register_leaf(conn);
    conn.send(encode::PING);
    conn.ping.outstanding.set(1);
    conn.ping.last_sent.set(Instant::now());
    let live = core.live();
    rt::spawn(crate::cluster::link::pinger(
        conn.clone(),
        live.ping_interval,
        live.ping_max,
    ));
    log::debug!(
        "{} - Leafnode connection registered for account: {}",
        conn.log_prefix(),
        link.account_name
    );
}

/// The sid an entry of the hub's interest is kept under: its subject's key,
/// and its queue.
fn entry_sid(key: &[u8], queue: Option<&[u8]>) -> Bytes {
    let mut sid = BytesMut::with_capacity(key.len() + queue.map_or(0, |q| q.len() + 1));
    sid.extend_from_slice(key);
    if let Some(q) = queue {
        sid.extend_from_slice(b" ");
        sid.extend_from_slice(q);
    }
    sid.freeze()
}

fn on_sub(link: &mut Link, frame: &Bytes, subject: Span, queue: Option<(Span, u32)>) {
    let subj = subject.of(frame);
    if subj == link.lds.as_bytes() {
        // Our own loop-detection subject came back: a loop.
        let text = leaf_info::loop_error(&link.account_name);
        log::error!("{} - {text}", link.conn.log_prefix());
        link.conn.send(format!("-ERR '{text}'\r\n").as_bytes());
        link.loop_detected = true;
        link.conn.close_after_flush(CloseReason::ProtocolViolation);
        return;
    }
    if !link.registered || !shoal_subject::is_valid_subscribe_subject(subj) {
        return;
    }
    // Interest in a literal subject this side may not send it is refused
    // (a wildcard's deliveries are filtered one by one).
    let lds = leaf_info::is_loop_detection(subj);
    if !lds && !shoal_auth::has_wildcard(subj) && !link.conn.leaf_may_send(subj) {
        log::debug!(
            "{} - Permissions Violation for Subscription to {:?}",
            link.conn.log_prefix(),
            String::from_utf8_lossy(subj)
        );
        return;
    }
    let core = &link.core;
    let key = core.key(link.account, subj);
    let q = queue.map(|(q, w)| (q.of(frame), w));
    let sid = entry_sid(&key, q.map(|(n, _)| n));
    let known = link.conn.subs.borrow().get(&sid).copied();
    match (known, q) {
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
                0,
            );
            link.conn.needs_barrier.set(true);
        }
    }
}

fn on_unsub(link: &mut Link, frame: &Bytes, subject: Span, queue: Option<Span>) {
    let key = link.core.key(link.account, subject.of(frame));
    let sid = entry_sid(&key, queue.map(|q| q.of(frame)));
    let slot = link.conn.subs.borrow().get(&sid).copied();
    if let Some(slot) = slot {
        link.core.unsubscribe(slot, false);
        link.conn.needs_barrier.set(true);
    }
}

fn on_msg(
    link: &mut Link,
    frame: &Bytes,
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
    let core = &link.core;
    let id = link.account;
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
            // Never back to this leaf; to the routes only from a leaf this
            // server is hub to.
            source: crate::msg::Source::Leaf {
                hub: !conn.spoke.get(),
                origin: conn.leaf_cluster.get(),
            },
            copy: false,
        },
    };
    if !link.registered {
        return;
    }
    if link.conn.solicited
        && !link
            .conn
            .leaf_may_receive(&frame[subject.start as usize..subject.end as usize])
    {
        return;
    }
    if crate::router::publish_routed(core, &m, (queues.start, queues.end), Some(conn)) {
        link.conn.needs_barrier.set(true);
    }
    crate::js::kick(core);
}
