//! What every core of a cluster node shares about the cluster: its name (as
//! configured, generated, or taken from a peer), the route listener's
//! address, the peers with a registered route, and the route URLs being
//! dialled. Read and written under a mutex by the route connections'
//! handshakes, closes and dialers — never on the message path.
//!
//! Invariants: a peer (server id) has at most one registered connection
//! per [`Slot`] — each index of its pool (one, index 0, without a pool) and
//! each pinned account ([`Mesh::register`] refuses a second, which the
//! caller closes as a duplicate); a URL is dialled by at most one dialer
//! at a time.
//!
//! Knows nothing of cores, sockets or the runtime: plain data and locks.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::config::{Cluster, RouteUrl};

/// Where a route connection sits among a peer's: its index in the pool
/// (0 for a peer without one), or the account it is dedicated to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Slot {
    Pool(usize),
    Account(String),
}

/// What a route connection asks of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// The one connection to a peer without a pool.
    Single,
    /// A connection this server dialled: the first free index of a pool of
    /// `size` (nats-server's solicited side).
    FirstFree { size: usize },
    /// The index the dialling peer gave, in a pool of `size`.
    Index { idx: usize, size: usize },
    /// The account's own connection.
    Account(String),
}

/// Why a connection was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its place is taken.
    Duplicate,
    /// Every place of the pool is taken.
    Full,
}

/// A registered connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    pub idx: usize,
    /// The peer's first connection (the others follow it).
    pub first: bool,
    /// The peer's pool connections now registered.
    pub pooled: usize,
}

/// A registered route connection to a peer.
#[derive(Debug, Clone)]
pub struct Peer {
    pub server_id: String,
    pub server_name: String,
    /// Its place among the peer's connections (set by [`Mesh::register`]).
    pub slot: Slot,
    /// The core that owns the route, and the route's connection id there.
    pub core: usize,
    pub cid: u64,
    /// This server dialled it, and the route it dialled is configured
    /// (explicit, not gossiped).
    pub solicited: bool,
    pub configured: bool,
    /// The URL it was dialled at.
    pub url: Option<String>,
    /// The compression the route settled on (`/routez`).
    pub compression: String,
    /// The peer's client URLs (INFO `connect_urls`) and WebSocket ones
    /// (`ws_connect_urls`).
    pub connect_urls: Vec<String>,
    pub ws_connect_urls: Vec<String>,
    /// Its leaf listener's URL (INFO `leafnode_urls`), if it has one.
    pub leafnode_urls: Vec<String>,
    pub since: SystemTime,
}

/// The cluster state of one server.
pub struct Mesh {
    pub cfg: Arc<Cluster>,
    /// The bound route listener.
    pub listen: SocketAddr,
    /// Host and port the route INFO gives (`advertise`, else the listener).
    pub info_host: String,
    pub info_port: u16,
    /// This server's own client URLs (`host:port`; every non-loopback
    /// address when the client listener is on all of them).
    pub client_urls: Vec<String>,
    /// Bumped whenever the peers' client URLs change (clients are told).
    pub urls_gen: AtomicU64,
    name: Mutex<Name>,
    peers: Mutex<HashMap<(String, Slot), Peer>>,
    dialing: Mutex<HashSet<String>>,
    /// Work for other cores (gossip to their routes, routes a reload
    /// added or removed), by core; each core's cluster agent takes its own.
    mail: Mutex<Vec<(usize, Mail)>>,
    /// The explicit routes in force (a reload changes them).
    routes: Mutex<Vec<RouteUrl>>,
}

/// What a core's agent is asked to do.
#[derive(Debug, Clone)]
pub enum Mail {
    /// Send `line` to every route of the core but the one to `except`.
    Line { except: String, line: Vec<u8> },
    /// Dial this explicit route (a reload added it).
    Dial(RouteUrl),
    /// Close the route with this connection id (a reload removed its URL).
    Close(u64),
    /// Dial one more connection to a peer already routed (`peer`): a pool
    /// connection, or the pinned `account`'s (given up with the route when
    /// `url` is an explicit route a reload removes).
    DialExtra {
        url: RouteUrl,
        account: Option<String>,
        peer: String,
    },
}

#[derive(Debug, Clone)]
struct Name {
    name: String,
    /// Generated at boot: a peer's configured (or greater) name wins.
    dynamic: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Mesh {
    /// The cluster of a server whose route listener is `listen`; `name`
    /// is the configured name, or the generated one (`dynamic`).
    pub fn new(
        cfg: Arc<Cluster>,
        listen: SocketAddr,
        (name, dynamic): (String, bool),
        client_urls: Vec<String>,
    ) -> Mesh {
        let (info_host, info_port) = match &cfg.advertise {
            Some(a) => match a.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().unwrap_or(listen.port())),
                None => (a.clone(), listen.port()),
            },
            None => (cfg.host.clone(), listen.port()),
        };
        let routes = cfg.routes.clone();
        Mesh {
            cfg,
            listen,
            info_host,
            info_port,
            client_urls,
            urls_gen: AtomicU64::new(0),
            name: Mutex::new(Name { name, dynamic }),
            peers: Mutex::default(),
            dialing: Mutex::default(),
            mail: Mutex::default(),
            routes: Mutex::new(routes),
        }
    }

    /// The cluster name in force and whether it was generated.
    pub fn name(&self) -> (String, bool) {
        let n = lock(&self.name);
        (n.name.clone(), n.dynamic)
    }

    /// Takes a peer's name (ours was generated).
    pub fn adopt(&self, name: &str) {
        let mut n = lock(&self.name);
        if n.dynamic {
            n.name = name.to_string();
            n.dynamic = false;
        }
    }

    /// Whether a route to `server_id` is registered.
    pub fn connected(&self, server_id: &str) -> bool {
        lock(&self.peers).keys().any(|(id, _)| id == server_id)
    }

    /// Registers a route connection to `peer.server_id` where `ask` says
    /// (nats-server's `addRoute`): a peer without a pool has one; a pool
    /// connection this server dialled takes the first free index, one the
    /// peer dialled the index it gave; an account's connection is the only
    /// one for that account.
    pub fn register(&self, mut peer: Peer, ask: &Ask) -> Result<Registered, Refused> {
        let mut peers = lock(&self.peers);
        let id = peer.server_id.clone();
        let taken = |slot: &Slot| peers.contains_key(&(id.clone(), slot.clone()));
        let pooled = |peers: &HashMap<(String, Slot), Peer>| {
            peers
                .keys()
                .filter(|(i, s)| *i == id && matches!(s, Slot::Pool(_)))
                .count()
        };
        let first = !peers.keys().any(|(i, _)| *i == id);
        let slot = match ask {
            Ask::Single if pooled(&peers) > 0 => return Err(Refused::Duplicate),
            Ask::Single => Slot::Pool(0),
            Ask::FirstFree { size } => match (0..*size).find(|&i| !taken(&Slot::Pool(i))) {
                Some(i) => Slot::Pool(i),
                None => return Err(Refused::Full),
            },
            Ask::Index { idx, .. } if taken(&Slot::Pool(*idx)) => return Err(Refused::Duplicate),
            Ask::Index { idx, .. } => Slot::Pool(*idx),
            Ask::Account(a) if taken(&Slot::Account(a.clone())) => return Err(Refused::Duplicate),
            Ask::Account(a) => Slot::Account(a.clone()),
        };
        let idx = match &slot {
            Slot::Pool(i) => *i,
            Slot::Account(_) => 0,
        };
        peer.slot = slot.clone();
        peers.insert((id.clone(), slot), peer);
        if first {
            self.urls_gen.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Registered {
            idx,
            first,
            pooled: pooled(&peers),
        })
    }

    /// Forgets the route `cid` on `core` registered for `server_id`.
    pub fn unregister(&self, server_id: &str, core: usize, cid: u64) {
        let mut peers = lock(&self.peers);
        let before = peers.len();
        peers.retain(|(id, _), p| !(id == server_id && p.core == core && p.cid == cid));
        if peers.len() != before && !peers.keys().any(|(id, _)| id == server_id) {
            self.urls_gen.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The level an `s2_auto` route moved to (`/routez`).
    pub fn set_compression(&self, cid: u64, mode: &str) {
        if let Some(p) = lock(&self.peers).values_mut().find(|p| p.cid == cid) {
            p.compression = mode.to_string();
        }
    }

    /// Updates a registered peer's client and WebSocket URLs (a later
    /// INFO).
    pub fn set_connect_urls(&self, server_id: &str, urls: Vec<String>, ws: Vec<String>) {
        let mut changed = false;
        for ((id, _), p) in lock(&self.peers).iter_mut() {
            if id == server_id && (p.connect_urls != urls || p.ws_connect_urls != ws) {
                p.connect_urls = urls.clone();
                p.ws_connect_urls = ws.clone();
                changed = true;
            }
        }
        if changed {
            self.urls_gen.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Peer `server_id`'s leaf listener URLs (a later INFO's).
    pub fn set_leafnode_urls(&self, server_id: &str, urls: &[String]) {
        let mut changed = false;
        for ((id, _), p) in lock(&self.peers).iter_mut() {
            if id == server_id && p.leafnode_urls != urls {
                p.leafnode_urls = urls.to_vec();
                changed = true;
            }
        }
        if changed {
            self.urls_gen.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The registered peers.
    pub fn peers(&self) -> Vec<Peer> {
        let mut v: Vec<Peer> = lock(&self.peers).values().cloned().collect();
        v.sort_by_key(|p| p.since);
        v
    }

    /// What the leaf INFO's `leafnode_urls` lists: this server's leaf
    /// URLs (`own`), then every peer's (nats-server's `leafURLsMap`).
    pub fn leafnode_urls(&self, own: &[String]) -> Vec<String> {
        let mut peers: Vec<Peer> = lock(&self.peers).values().cloned().collect();
        peers.sort_by_key(|p| p.since);
        let mut urls = own.to_vec();
        for u in peers.into_iter().flat_map(|p| p.leafnode_urls) {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
        urls
    }

    /// What clients' INFO `connect_urls` lists: this server's client URLs
    /// first (not in lame duck mode: clients are sent elsewhere), then
    /// every peer's (none with `no_advertise`).
    pub fn connect_urls(&self, lame_duck: bool) -> Vec<String> {
        if self.cfg.no_advertise {
            return Vec::new();
        }
        let mut peers: Vec<Peer> = lock(&self.peers).values().cloned().collect();
        peers.sort_by_key(|p| p.since);
        let mut urls = if lame_duck {
            Vec::new()
        } else {
            self.client_urls.clone()
        };
        for u in peers.into_iter().flat_map(|p| p.connect_urls) {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
        urls
    }

    /// What WebSocket clients' INFO `connect_urls` lists, as nats-server's
    /// `ws_connect_urls`: nothing until a peer has WebSocket URLs, then
    /// `own` first (not in lame duck mode) and every peer's.
    pub fn ws_connect_urls(&self, own: &[String], lame_duck: bool) -> Vec<String> {
        if self.cfg.no_advertise {
            return Vec::new();
        }
        let mut peers: Vec<Peer> = lock(&self.peers).values().cloned().collect();
        peers.sort_by_key(|p| p.since);
        if peers.iter().all(|p| p.ws_connect_urls.is_empty()) {
            return Vec::new();
        }
        let mut urls = if lame_duck { Vec::new() } else { own.to_vec() };
        for u in peers.into_iter().flat_map(|p| p.ws_connect_urls) {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
        urls
    }

    /// Claims `url` for a dialer; false when one already dials it.
    pub fn start_dialing(&self, url: &str) -> bool {
        lock(&self.dialing).insert(url.to_string())
    }

    pub fn stop_dialing(&self, url: &str) {
        lock(&self.dialing).remove(url);
    }

    /// Leaves `line` for every route of every core but the one to `except`.
    pub fn post(&self, cores: usize, except: &str, line: &[u8]) {
        let mut mail = lock(&self.mail);
        for core in 0..cores {
            let m = Mail::Line {
                except: except.to_string(),
                line: line.to_vec(),
            };
            mail.push((core, m));
        }
    }

    /// Leaves core `at mod cores` a [`Mail::DialExtra`].
    pub fn post_dial(
        &self,
        at: usize,
        cores: usize,
        url: &RouteUrl,
        account: Option<String>,
        peer: &str,
    ) {
        let m = Mail::DialExtra {
            url: url.clone(),
            account,
            peer: peer.to_string(),
        };
        lock(&self.mail).push((at % cores.max(1), m));
    }

    /// The work left for `core`.
    pub fn take_mail(&self, core: usize) -> Vec<Mail> {
        let mut mail = lock(&self.mail);
        if mail.is_empty() {
            return Vec::new();
        }
        let (mine, rest): (Vec<_>, Vec<_>) = mail.drain(..).partition(|(c, _)| *c == core);
        *mail = rest;
        mine.into_iter().map(|(_, m)| m).collect()
    }

    /// Whether `url` is still one of the explicit routes.
    pub fn route_valid(&self, url: &str) -> bool {
        lock(&self.routes).iter().any(|r| r.url == url)
    }

    /// A reload's routes list: the routes it adds are dialled (route `i`
    /// of the list by core `i mod cores`), the connections of the ones it
    /// removes closed (their dialers stop).
    pub fn set_routes(&self, new: Vec<RouteUrl>, cores: usize) {
        let mut routes = lock(&self.routes);
        let added: Vec<(usize, RouteUrl)> = new
            .iter()
            .enumerate()
            .filter(|(_, r)| !routes.iter().any(|o| o.url == r.url))
            .map(|(i, r)| (i % cores.max(1), r.clone()))
            .collect();
        let removed: Vec<String> = routes
            .iter()
            .filter(|o| !new.iter().any(|r| r.url == o.url))
            .map(|o| o.url.clone())
            .collect();
        *routes = new;
        drop(routes);
        let mut mail = lock(&self.mail);
        for (core, r) in added {
            mail.push((core, Mail::Dial(r)));
        }
        for p in lock(&self.peers).values() {
            if p.url.as_ref().is_some_and(|u| removed.contains(u)) {
                mail.push((p.core, Mail::Close(p.cid)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cluster() -> Arc<Cluster> {
        Arc::new(Cluster {
            name: None,
            host: "127.0.0.1".into(),
            port: 0,
            advertise: None,
            no_advertise: false,
            routes: Vec::new(),
            connect_retries: 0,
            connect_backoff: false,
            auth: None,
            auth_timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(30),
            ping_max: 2,
            permissions: None,
            compression: "accept".into(),
            compression_rtt: Vec::new(),
            tls: None,
            write_deadline: None,
            pool_size: 3,
            pinned: vec!["$SYS".into()],
        })
    }

    fn mesh() -> Mesh {
        Mesh::new(
            cluster(),
            "127.0.0.1:6222".parse().unwrap(),
            ("x".into(), true),
            Vec::new(),
        )
    }

    fn peer(id: &str, cid: u64) -> Peer {
        Peer {
            server_id: id.into(),
            server_name: id.into(),
            slot: Slot::Pool(0),
            core: 0,
            cid,
            solicited: false,
            configured: false,
            url: None,
            compression: "off".into(),
            connect_urls: vec![format!("127.0.0.1:{cid}")],
            ws_connect_urls: Vec::new(),
            leafnode_urls: Vec::new(),
            since: SystemTime::now(),
        }
    }

    #[test]
    fn one_route_per_peer() {
        let m = mesh();
        assert!(m.register(peer("A", 1), &Ask::Single).is_ok());
        assert_eq!(
            m.register(peer("A", 2), &Ask::Single),
            Err(Refused::Duplicate),
            "a second route to A is a duplicate"
        );
        m.unregister("A", 0, 2);
        assert!(
            m.connected("A"),
            "only the registered connection unregisters"
        );
        m.unregister("A", 0, 1);
        assert!(!m.connected("A"));
    }

    #[test]
    fn a_pool_fills_its_indexes_and_accounts_their_own() {
        let m = mesh();
        let free = Ask::FirstFree { size: 2 };
        let r = m.register(peer("A", 1), &free).unwrap();
        assert_eq!((r.idx, r.first, r.pooled), (0, true, 1));
        // The peer dialled index 1 itself: taken, so ours finds none free.
        let r = m
            .register(peer("A", 2), &Ask::Index { idx: 1, size: 2 })
            .unwrap();
        assert_eq!((r.idx, r.first, r.pooled), (1, false, 2));
        assert_eq!(m.register(peer("A", 3), &free), Err(Refused::Full));
        assert_eq!(
            m.register(peer("A", 4), &Ask::Index { idx: 0, size: 2 }),
            Err(Refused::Duplicate)
        );
        let sys = Ask::Account("$SYS".into());
        assert!(m.register(peer("A", 5), &sys).is_ok());
        assert_eq!(m.register(peer("A", 6), &sys), Err(Refused::Duplicate));
        assert_eq!(m.peers().len(), 3);
        m.unregister("A", 0, 1);
        assert_eq!(m.register(peer("A", 7), &free).unwrap().idx, 0);
    }

    #[test]
    fn clients_hear_of_own_urls_first_then_peers() {
        let m = Mesh::new(
            cluster(),
            "127.0.0.1:6222".parse().unwrap(),
            ("x".into(), true),
            vec!["127.0.0.1:4222".into()],
        );
        let gen = m.urls_gen.load(Ordering::Relaxed);
        assert!(m.register(peer("A", 5), &Ask::Single).is_ok());
        assert!(m.urls_gen.load(Ordering::Relaxed) > gen);
        assert_eq!(m.connect_urls(false), ["127.0.0.1:4222", "127.0.0.1:5"]);
        assert_eq!(
            m.connect_urls(true),
            ["127.0.0.1:5"],
            "this node in lame duck"
        );
        m.set_connect_urls("A", Vec::new(), Vec::new());
        assert_eq!(
            m.connect_urls(false),
            ["127.0.0.1:4222"],
            "a peer in lame duck"
        );
    }

    #[test]
    fn a_generated_name_is_given_up_once() {
        let m = Mesh::new(
            cluster(),
            "127.0.0.1:6222".parse().unwrap(),
            ("gen".into(), true),
            Vec::new(),
        );
        m.adopt("C1");
        assert_eq!(m.name(), ("C1".to_string(), false));
        m.adopt("C2");
        assert_eq!(m.name().0, "C1");
    }
}
