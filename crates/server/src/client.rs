//! One client connection's state, shared (on its core only) between its reader
//! task, its writer task, the router that delivers to it, and the core's ticker,
//! and [`CoreEnv`]: the little a connection needs of its core (the reloadable
//! limits, the counters, the pass clock, the list of writers to wake).
//!
//! Invariants: a `Client` lives on the core that accepted it and never crosses a
//! ring; only its writer writes its socket; producers append to `out` and put the
//! client on the core's touched list, and the writer is woken once per pass. A
//! client knows nothing of the core's subscription index or rings: it can be
//! built, fed and read in a unit test without a socket (`fd` is optional).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::os::unix::io::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::Bytes;

use crate::config::Live;
use crate::event::Event;
use crate::outbound::{OutState, Outbound};
use crate::rt;
use crate::stats::Stats;

/// Why a connection ended (nats-server's words, as /connz will show them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    ClientClosed,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    WriteError,
    ReadError,
    ParseError,
    StaleConnection,
    MaxPayload,
    MaxControlLine,
    MaxConnections,
    /// A route for an account this server does not have.
    MissingAccount,
    ProtocolViolation,
    BadClientProtocolVersion,
    NoRespondersRequiresHeaders,
    AuthViolation,
    AuthTimeout,
    AuthExpired,
    MaxSubscriptions,
    MaxAccountConnections,
    Revoked,
    ServerShutdown,
    TlsHandshakeFailure,
    DuplicateRoute,
    ClusterNameConflict,
    IncorrectPort,
    WrongGateway,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::TlsHandshakeFailure => "TLS Handshake Failure",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::ParseError => "Parse Error",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::MaxPayload => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLine => "Maximum Control Line Exceeded",
            CloseReason::MaxConnections => "Maximum Connections Exceeded",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::MissingAccount => "Missing Account",
            CloseReason::BadClientProtocolVersion => "Bad Client Protocol Version",
            CloseReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            CloseReason::AuthViolation => "Authentication Failure",
            CloseReason::AuthTimeout => "Authentication Timeout",
            CloseReason::AuthExpired => "Authentication Expired",
            CloseReason::MaxSubscriptions => "Maximum Subscriptions Exceeded",
            CloseReason::Revoked => "Credentials Revoked",
            CloseReason::MaxAccountConnections => "Maximum Account Connections Exceeded",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::DuplicateRoute => "Duplicate Route",
            CloseReason::ClusterNameConflict => "Cluster Name Conflict",
            CloseReason::IncorrectPort => "Incorrect Port",
            CloseReason::WrongGateway => "Wrong Gateway",
        }
    }
}

/// Options set by CONNECT (defaults: verbose and pedantic on, echo on).
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    pub verbose: bool,
    pub pedantic: bool,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub protocol: i64,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
        }
    }
}

/// Keepalive bookkeeping, driven by the core's ticker.
pub struct PingState {
    pub next_at: Cell<Instant>,
    pub outstanding: Cell<u32>,
    pub last_sent: Cell<Instant>,
    pub rtt_known: Cell<bool>,
    pub last_activity: Cell<Instant>,
}

/// What a connection needs of the core it lives on.
pub struct CoreEnv {
    /// The reloadable limits in force on this core.
    pub live: Cell<Live>,
    /// The core's counters.
    pub stats: Stats,
    /// When the current pass (a read, a ring batch) began: the `last_activity`
    /// deliveries give their subscribers, without reading the clock per message.
    pub now: Cell<Instant>,
    /// Clients with output queued during the current pass.
    touched: RefCell<Vec<Rc<Client>>>,
}

impl CoreEnv {
    pub fn new(live: Live) -> Rc<CoreEnv> {
        Rc::new(CoreEnv {
            live: Cell::new(live),
            stats: Stats::default(),
            now: Cell::new(Instant::now()),
            touched: RefCell::default(),
        })
    }

    /// Ends a pass for the writers: each touched client's writer is woken once.
    pub fn wake_touched(&self) {
        let mut t = self.touched.borrow_mut();
        for c in t.drain(..) {
            c.touched.set(false);
            c.out.borrow_mut().wake();
        }
    }
}

/// A CONNECT's credentials, as kept by the connection (see `Client::creds`).
#[derive(Debug, Default, Clone)]
pub struct Creds {
    pub user: String,
    pub pass: String,
    pub token: String,
    pub nkey: String,
    pub sig: String,
    /// A user JWT (operator mode).
    pub jwt: String,
    /// What a JWT login established (set by the login): the user key, the
    /// key that signed the JWT, whether it is a bearer token, its tags.
    pub jwt_user: String,
    pub jwt_issuer: String,
    pub jwt_bearer: bool,
    pub jwt_tags: Vec<String>,
    /// The user JWT's name.
    pub jwt_name: String,
}

impl Creds {
    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
            && self.pass.is_empty()
            && self.token.is_empty()
            && self.nkey.is_empty()
            && self.jwt.is_empty()
    }

    /// For a login check, with the nonce this connection was sent.
    pub fn as_credentials<'a>(&'a self, nonce: &'a [u8]) -> shoal_auth::Credentials<'a> {
        shoal_auth::Credentials {
            user: &self.user,
            pass: &self.pass,
            token: &self.token,
            nkey: &self.nkey,
            sig: &self.sig,
            nonce,
            jwt: &self.jwt,
            ..Default::default()
        }
    }

    /// nats-server's `getRawAuthUser`: who the connection is (or tried to
    /// be) in monitoring and logs: the nkey, the user, a JWT's user key,
    /// `[REDACTED]` for a token, else nothing.
    pub fn raw_user(&self) -> &str {
        if !self.nkey.is_empty() {
            &self.nkey
        } else if !self.user.is_empty() {
            &self.user
        } else if !self.jwt.is_empty() {
            &self.jwt_user
        } else if !self.token.is_empty() {
            "[REDACTED]"
        } else {
            ""
        }
    }
}

pub struct Client {
    pub cid: u64,
    pub peer: SocketAddr,
    /// nats-server's prefix for this connection's log lines
    /// (`127.0.0.1:5555 - cid:5`, extended at CONNECT; see [`Client::name_prefix`]).
    prefix: RefCell<String>,
    env: Rc<CoreEnv>,
    /// The reader's descriptor, for shutting the connection down from
    /// elsewhere (`None` for a client without a socket, in tests).
    fd: Option<RawFd>,
    pub out: RefCell<Outbound>,
    pub opts: Cell<Opts>,
    pub connected: Cell<bool>,
    pub sent_connect_info: Cell<bool>,
    pub name: RefCell<String>,
    pub lang: RefCell<String>,
    pub version: RefCell<String>,
    /// sid → subscription slot in the core's slab.
    pub subs: RefCell<AHashMap<Bytes, u32>>,
    /// The sids still subscribed when the connection closed, kept only while
    /// tracing so their `DELSUB`s follow the close line.
    pub closing_sids: RefCell<Vec<Bytes>>,
    /// On the core's touched list this pass.
    pub touched: Cell<bool>,
    /// Whether this client's next PING needs a barrier with the peer cores:
    /// set when it subscribes or unsubscribes (its interest must reach the
    /// peers before the PONG), when it publishes a message a peer core takes
    /// (its PONG proves the message is queued for every subscriber, as in
    /// nats-server: a flush by the publisher, then by a subscriber on another
    /// core, must find it there), and when a peer routes it a message (it is
    /// receiving cross-core traffic). A client with none of these since its
    /// last barrier gets its PONG at once.
    pub needs_barrier: Cell<bool>,
    pub close_reason: Cell<Option<CloseReason>>,
    pub ping: PingState,
    pub writer_done: Cell<bool>,
    pub done: Event,
    /// Monitoring counters (`/connz`): payload bytes, headers included, as
    /// nats-server counts them. Bumped where the message path already touches
    /// this client; read by the core's ticker for a snapshot.
    pub in_msgs: Cell<u64>,
    pub out_msgs: Cell<u64>,
    pub in_bytes: Cell<u64>,
    pub out_bytes: Cell<u64>,
    /// When the connection was accepted.
    pub start: Instant,
    /// Last message or subscription change from the client, last delivery to it,
    /// or CONNECT (`last_activity`); the time of the core's current pass.
    pub last: Cell<Instant>,
    /// Round trip: estimated at CONNECT (time since accept), then measured by
    /// each answered server PING. Zero until known.
    pub rtt: Cell<Duration>,
    /// On a server that requires a login: set until CONNECT (it is also the
    /// reader's "no login yet"), when the connection is closed for taking too
    /// long (`auth_timeout`); the core's ticker checks it.
    pub auth_deadline: Cell<Option<Instant>>,
    /// What this login may publish and subscribe to (`None`: everything).
    pub perms: RefCell<Option<shoal_auth::ConnPermissions>>,
    /// The permissions as configured for the login (`$SYS.REQ.USER.INFO`).
    pub perm_spec: RefCell<Option<shoal_auth::PermissionSpec>>,
    /// The credentials CONNECTs carried (none kept when empty): a later
    /// CONNECT without them keeps them, as Go's decoding into the same
    /// options does; a reload checks them again.
    pub creds: RefCell<Option<Box<Creds>>>,
    /// The nonce its INFO carried, when nkey users must sign one.
    pub nonce: Cell<Option<[u8; shoal_auth::nkey::NONCE_LEN]>>,
    /// The account it logged in to (0 = `$G`).
    pub account: Cell<u16>,
    /// The login's limits: its account's and a user JWT's (-1: none; the
    /// server's own apply as well).
    pub login_limits: Cell<LoginLimits>,
    /// When a JWT login ends, and why; the ticker closes the connection
    /// then.
    pub expires: Cell<Option<(Instant, Expiry)>>,
    /// The account this connection counts against (JWT logins: account
    /// connection limits), released when it closes.
    pub counted: Cell<Option<u16>>,
    /// The core's own publisher (no socket): what it is delivered are
    /// service responses to route on (`services.rs`).
    pub internal: bool,
    /// The JetStream core's client (no socket): what it is delivered are
    /// API requests and messages its streams capture (`js.rs`).
    pub jetstream: bool,
    /// A cluster route (its subscriptions are a peer server's interest,
    /// what it is delivered leaves as `RMSG`).
    pub route: bool,
    /// A leaf node connection: a route-like link bound to one account
    /// (`route` is set too, its scope `RouteScope::Account`), whose lines
    /// are `LS+`/`LS-`/`LMSG`.
    pub leaf: bool,
    /// This server dialled the connection (a leaf remote).
    pub solicited: bool,
    /// A leaf whose other side is this server's hub (nats-server's
    /// `isSpoke`): one this server dialled, unless its remote says `hub:
    /// true`, or one dialled by a server that said so. Its interest stays
    /// off the routes, and it hears only this server's clients and the
    /// leaves it is hub to.
    pub spoke: Cell<bool>,
    /// A leaf's deny lists: publish = what may not go to the other side
    /// (deliveries, and its interest in literal subjects), subscribe =
    /// what may not come from it (its messages, and our interest told).
    pub leaf_rules: RefCell<Option<shoal_auth::Rules>>,
    /// A leaf's compression as negotiated (`/leafz`): `off`, `not
    /// supported`, or the S2 level in use.
    pub leaf_compression: RefCell<String>,
    /// A client over WebSocket (set before its greeting): its logins may
    /// be the listener's, its INFO names the WebSocket listener.
    pub websocket: Cell<bool>,
    /// A WebSocket client's address as its proxy gave it
    /// (`X-Forwarded-For`): log lines name it before the socket's.
    pub forwarded: RefCell<Option<String>>,
    /// A WebSocket client's framing of what its writer sends.
    pub ws: RefCell<Option<Box<crate::ws::framing::WsOut>>>,
    /// The connection's TLS session (`None`: clear text), shared by its
    /// reader and writer, never borrowed across an await.
    pub tls: RefCell<Option<shoal_tls::Session>>,
    /// A compressed route's S2 writer (`None`: bytes go as queued).
    pub s2: RefCell<Option<crate::outbound::S2Out>>,
    /// What the handshake settled (for `/connz`), once it is done.
    pub tls_info: RefCell<Option<std::sync::Arc<shoal_tls::SessionInfo>>>,
    /// The handshake came before INFO (`handshake_first`).
    pub tls_first: Cell<bool>,
    /// A route's share of the accounts (set when it registers).
    pub route_scope: Cell<RouteScope>,
    /// A leaf's cluster (`origins.rs` id; 0 = none): the spoke's as its
    /// CONNECT names it, or the hub's as its INFO does.
    pub leaf_cluster: Cell<u16>,
    /// A route's peer reads leaf origins: `LS+ <origin>`, `LMSG <origin>`
    /// (its INFO's `lnoc`), and `LS- <origin>` (`lnocu`).
    pub lnoc: Cell<(bool, bool)>,
    /// This connection's own write deadline (a route's `cluster {
    /// write_deadline }`); `None`: the server's, which a reload may change.
    pub write_deadline: Cell<Option<std::time::Duration>>,
}

impl Client {
    /// Whether a leaf's deny lists let `subject` go to the other side.
    pub fn leaf_may_send(&self, subject: &[u8]) -> bool {
        self.leaf_rules
            .borrow_mut()
            .as_mut()
            .is_none_or(|r| r.publish_allowed(subject))
    }

    /// Whether a leaf's deny lists let `subject` come from the other side
    /// (and our interest in it be told).
    pub fn leaf_may_receive(&self, subject: &[u8]) -> bool {
        self.leaf_rules
            .borrow_mut()
            .as_mut()
            .is_none_or(|r| r.subscribe_allowed(subject, None))
    }
}

/// The wire a route-like link speaks: a cluster route's, naming `account`
/// (empty on a route dedicated to one), or a leaf's, which never does.
pub fn peer_line<'a>(link: &Client, account: &'a [u8]) -> shoal_proto::encode::Peer<'a> {
    if link.leaf {
        shoal_proto::encode::Peer::Leaf
    } else {
        shoal_proto::encode::Peer::Route(account)
    }
}

/// Which accounts a route connection carries, as nats-server shares them
/// out (spec/cluster.md §2): all of them (a peer without a pool), those
/// whose name hashes to its index in the peer's pool, or the one account it
/// is dedicated to (its lines name no account; `None`: one this server
/// does not have, whose lines are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteScope {
    All,
    Pool { idx: u32, size: u32 },
    Account(Option<u16>),
}

/// Why a JWT login ends at its [`Client::expires`] time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The user JWT expires: `User Authentication Expired`.
    User,
    /// The account JWT expires: `Account Authentication Expired`.
    Account,
    /// The login allows no subscription at all: nats-server closes such a
    /// connection 20 ms after saying so.
    NoSubscriptions,
}

/// A login's limits on one connection (its account's, a user JWT's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub subs: i64,
    pub payload: i64,
}

impl LoginLimits {
    pub const NONE: LoginLimits = LoginLimits {
        subs: -1,
        payload: -1,
    };
}

impl Client {
    pub fn new(cid: u64, peer: SocketAddr, env: Rc<CoreEnv>, fd: Option<RawFd>) -> Client {
        let now = Instant::now();
        let interval = env.live.get().ping_interval;
        Client {
            cid,
            peer,
            prefix: RefCell::new(format!("{peer} - cid:{cid}")),
            env,
            fd,
            out: RefCell::new(Outbound::new()),
            opts: Cell::new(Opts::default()),
            connected: Cell::new(false),
            sent_connect_info: Cell::new(false),
            name: RefCell::default(),
            lang: RefCell::default(),
            version: RefCell::default(),
            subs: RefCell::default(),
            closing_sids: RefCell::default(),
            touched: Cell::new(false),
            needs_barrier: Cell::new(false),
            close_reason: Cell::new(None),
            ping: PingState {
                next_at: Cell::new(now + interval),
                outstanding: Cell::new(0),
                last_sent: Cell::new(now),
                rtt_known: Cell::new(false),
                last_activity: Cell::new(now),
            },
            writer_done: Cell::new(false),
            done: Event::default(),
            in_msgs: Cell::new(0),
            out_msgs: Cell::new(0),
            in_bytes: Cell::new(0),
            out_bytes: Cell::new(0),
            start: now,
            last: Cell::new(now),
            rtt: Cell::new(Duration::ZERO),
            auth_deadline: Cell::new(None),
            login_limits: Cell::new(LoginLimits::NONE),
            expires: Cell::new(None),
            counted: Cell::new(None),
            internal: false,
            route: false,
            leaf: false,
            solicited: false,
            spoke: Cell::new(false),
            jetstream: false,
            leaf_rules: RefCell::new(None),
            leaf_compression: RefCell::new(String::new()),
            websocket: Cell::new(false),
            ws: RefCell::new(None),
            forwarded: RefCell::new(None),
            tls: RefCell::new(None),
            s2: RefCell::new(None),
            tls_info: RefCell::new(None),
            tls_first: Cell::new(false),
            write_deadline: Cell::new(None),
            route_scope: Cell::new(RouteScope::All),
            leaf_cluster: Cell::new(0),
            lnoc: Cell::new((false, false)),
            perms: RefCell::new(None),
            perm_spec: RefCell::new(None),
            creds: RefCell::new(None),
            nonce: Cell::new(None),
            account: Cell::new(0),
        }
    }

    /// `127.0.0.1:5555 - cid:5`, nats-server's prefix for client log lines.
    /// The core this client lives on.
    pub fn env(&self) -> &CoreEnv {
        &self.env
    }

    pub fn log_prefix(&self) -> std::cell::Ref<'_, str> {
        std::cell::Ref::map(self.prefix.borrow(), |p| p.as_str())
    }

    /// Replaces the log prefix (a route's is `<addr> - rid:<cid>`).
    pub fn set_log_prefix(&self, prefix: String) {
        *self.prefix.borrow_mut() = prefix;
    }

    /// `127.0.0.1:5555 - cid:5`; a WebSocket client's is `wid:5`, after
    /// the address its proxy forwarded (`10.0.0.9/127.0.0.1:5555 - wid:5`).
    pub fn base_prefix(&self) -> String {
        if !self.websocket.get() {
            return format!("{} - cid:{}", self.peer, self.cid);
        }
        match self.forwarded.borrow().as_deref() {
            Some(ip) if ip.contains(':') => format!("[{ip}]/{} - wid:{}", self.peer, self.cid),
            Some(ip) => format!("{ip}/{} - wid:{}", self.peer, self.cid),
            None => format!("{} - wid:{}", self.peer, self.cid),
        }
    }

    /// After the first CONNECT nats-server's prefix also names the client
    /// (`"v<version>:<lang>:<name>"`, the parts given joined by `:`) and the
    /// user it claims (`"$G/user:<user>"`, `nkey:`, `jwt:`, `token`), each in Go
    /// quotes: `127.0.0.1:5555 - cid:5 - "v1.2:go:svc" - "$G/user:bob"`.
    pub fn name_prefix(
        &self,
        version: &str,
        lang: &str,
        name: &str,
        account: &str,
        user: Option<String>,
    ) {
        let mut ncs = String::new();
        if !version.is_empty() {
            ncs.push('v');
            ncs.push_str(version);
        }
        for part in [lang, name] {
            if !part.is_empty() {
                if !ncs.is_empty() {
                    ncs.push(':');
                }
                ncs.push_str(part);
            }
        }
        let acs = user.map(|u| format!("{account}/{u}"));
        let mut p = self.base_prefix();
        for part in [Some(ncs).filter(|s| !s.is_empty()), acs]
            .into_iter()
            .flatten()
        {
            p.push_str(" - ");
            p.push_str(&shoal_go::quote(part.as_bytes()));
        }
        *self.prefix.borrow_mut() = p;
    }

    /// The credentials kept from its CONNECTs (empty if none).
    /// The subscription limit: the server's `max_subscriptions` (0: none)
    /// and a JWT's, whichever is lower; `None`: no limit.
    pub fn max_subs(&self, server: usize) -> Option<usize> {
        let jwt = usize::try_from(self.login_limits.get().subs).ok();
        match (server, jwt) {
            (0, j) => j,
            (s, None) => Some(s),
            (s, Some(j)) => Some(s.min(j)),
        }
    }

    /// The payload limit: the server's `max_payload` and a JWT's, whichever
    /// is lower.
    pub fn max_payload(&self, server: usize) -> usize {
        usize::try_from(self.login_limits.get().payload).map_or(server, |j| server.min(j))
    }

    pub fn kept_creds(&self) -> Creds {
        self.creds.borrow().as_deref().cloned().unwrap_or_default()
    }

    /// Records the first reason only: later ones are consequences.
    pub fn set_close_reason(&self, r: CloseReason) {
        if self.close_reason.get().is_none() {
            self.close_reason.set(Some(r));
        }
    }

    /// Queues a protocol reply and schedules the writer; a reply that would
    /// pass `max_pending` cuts the connection off as a slow consumer.
    pub fn send(self: &Rc<Self>, bytes: &[u8]) {
        let max = self.env.live.get().max_pending;
        let queued = self.out.borrow_mut().push_raw(bytes, max);
        match queued {
            Ok(()) => self.touch(),
            Err(_) => self.slow_consumer(max),
        }
    }

    /// Cuts the connection off because its queue would pass `max_pending`:
    /// counted, logged in nats-server's words (a notice, `[INF]`), closed
    /// without flushing.
    pub fn slow_consumer(self: &Rc<Self>, max_pending: usize) {
        self.env.stats.slow_consumer();
        self.env
            .stats
            .account(self.account.get(), |a| a.slow_consumers += 1);
        log::info!(
            "{} - Slow Consumer Detected: MaxPending of {max_pending} Exceeded",
            self.log_prefix()
        );
        self.kill(CloseReason::SlowConsumerPendingBytes);
    }

    /// Queues an `-ERR 'text'\r\n` line (traced as `->> [-ERR text]`).
    pub fn send_err(self: &Rc<Self>, line: &[u8]) {
        if crate::trace::on() {
            crate::trace::outbound_err(&self.log_prefix(), line);
        }
        self.send(line);
    }

    /// Queues `+OK` (verbose mode; traced as `->> [OK]`).
    pub fn send_ok(self: &Rc<Self>) {
        if crate::trace::on() {
            crate::trace::outbound(&self.log_prefix(), "OK");
        }
        self.send(shoal_proto::encode::OK);
    }

    /// Puts this client on the core's touched list (its writer is woken at the end
    /// of the current pass).
    #[inline]
    pub fn touch(self: &Rc<Self>) {
        if !self.touched.get() {
            self.touched.set(true);
            self.env.touched.borrow_mut().push(self.clone());
        }
    }

    /// Flush what is queued, then close.
    pub fn close_after_flush(self: &Rc<Self>, reason: CloseReason) {
        self.set_close_reason(reason);
        let mut o = self.out.borrow_mut();
        if o.state == OutState::Open {
            o.state = OutState::Closing;
        }
        o.wake();
        drop(o);
        if let Some(fd) = self.fd {
            rt::shutdown_read(fd);
        }
    }

    /// Close now, dropping whatever is queued (slow consumer, errors).
    pub fn kill(self: &Rc<Self>, reason: CloseReason) {
        self.set_close_reason(reason);
        let mut o = self.out.borrow_mut();
        o.state = OutState::Dead;
        o.wake();
        drop(o);
        if let Some(fd) = self.fd {
            rt::shutdown_fd(fd);
        }
    }

    pub fn is_open(&self) -> bool {
        self.out.borrow().state == OutState::Open
    }
}
