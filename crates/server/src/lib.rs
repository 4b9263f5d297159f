//! The Shoal runtime: boot, one glommio executor per core, connections, rings and
//! routing. The binary (`crates/shoal`) hands it a [`Config`] and gets back a
//! [`Server`] handle; everything below that handle is thread-per-core.

// The layers, bottom up (each imports only those above it in this list):
// the runtime facade and plain types; a connection's output and writer; the
// client; the registry and the peer links; the core that holds them; the
// router; the reader and its ops; the ticker; monitoring; a core's main; and
// the Server handle below.
mod accounts;
mod auth;
mod boot;
pub mod claims;
mod client;
mod cluster;
mod compress;
mod config;
mod core;
mod event;
mod events;
pub mod imports;
mod info;
mod js;
mod leaf;
mod link_io;
pub mod mappings;
mod mesh;
mod monitor;
mod msg;
mod node;
mod ops;
mod origins;
mod outbound;
mod peers;
mod places;
mod reader;
mod reauth;
mod records;
mod registry;
mod ring;
mod router;
mod routes;
mod rt;
pub mod services;
mod snapshot;
mod stats;
mod sys_relay;
mod testkit;
mod ticker;
mod tls;
mod trace;
mod user_info;
mod writer;
mod ws;

pub use config::{
    Cluster, Config, JetStream, Leaf, LeafAuth, LeafCompression, LeafListen, LeafRemote, LeafTls,
    LeafUser, Live, RouteTls, RouteUrl, Tls, Websocket,
};

/// The JetStream API level this server announces.
pub use shoal_jetstream::API_LEVEL as JS_API_LEVEL;

#[doc(hidden)]
#[path = "bench.rs"]
pub mod __bench;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::core::Shared;

/// The version of nats-server whose behaviour Shoal reproduces; clients gate
/// features on INFO's `version`, so this is what INFO and `-v` report.
pub const NATS_VERSION: &str = "2.15.1";
/// Shoal's own version.
pub const SHOAL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the server could not start.
#[derive(Debug)]
pub enum BootError {
    /// io_uring cannot be used here (seccomp, `kernel.io_uring_disabled`, old kernel).
    IoUringUnavailable(String),
    /// The listen address could not be bound.
    Bind(String, std::io::Error),
    /// Any other start-up failure (CPU affinity, thread spawn, bad option).
    Other(String),
}

impl std::fmt::Display for BootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BootError::IoUringUnavailable(why) => write!(f, "io_uring is unavailable: {why}"),
            BootError::Bind(addr, e) => write!(f, "Error listening on port: {addr}, {e}"),
            BootError::Other(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for BootError {}

/// A running server: its cores, its bound address, and the way to stop it.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    cores: Vec<rt::CoreHandle>,
    http: Option<monitor::HttpServer>,
}

impl Server {
    /// Boot: raise rlimits, probe io_uring, spawn one executor per core, bind the
    /// listeners. Returns once every core is accepting.
    pub fn start(config: Config) -> Result<Server, BootError> {
        for w in boot::raise_rlimits() {
            log::warn!("{w}");
        }
        boot::probe_io_uring().map_err(BootError::IoUringUnavailable)?;
        // The zone file is read here, not on a core at a JWT login.
        boot::local_offset(0);
        let cpus = boot::allowed_cpus();
        let n = config.cores.unwrap_or(cpus.len()).clamp(1, 128);
        let pin = n <= cpus.len();

        let host = resolve_ip(&config.host)
            .ok_or_else(|| BootError::Other(format!("invalid listen host {:?}", config.host)))?;
        // A random port must be the same on every core: reserve one first.
        let (port, reservation) = if config.port <= 0 {
            let (p, s) = reserve_port(host)
                .map_err(|e| BootError::Bind(format!("{}:{}", config.host, config.port), e))?;
            (p, Some(s))
        } else {
            (config.port as u16, None)
        };
        let addr = SocketAddr::new(host, port);
        if reservation.is_none() {
            boot::check_port_free(addr).map_err(|e| BootError::Bind(addr.to_string(), e))?;
        }

        // Monitoring: bound before the cores start, served once they accept.
        // Port 0 is "off", as in nats-server; -1 is any free port.
        let http_host = config
            .http_host
            .clone()
            .unwrap_or_else(|| config.host.clone());
        let http_port = config.http_port.filter(|&p| p != 0);
        let http_listener = match http_port {
            Some(p) => Some(monitor::HttpServer::bind(&http_host, p)?),
            None => None,
        };

        let (info_host, info_port) = match &config.client_advertise {
            Some(adv) => advertised(adv, port).map_err(|e| {
                BootError::Other(format!(
                    "Error setting server INFO with ClientAdvertise value of {adv}, err={e}"
                ))
            })?,
            None => (config.host.clone(), port),
        };
        // The monitoring thread also answers the system account's requests.
        let system_account = config.logins.system_account().is_some();
        let monitoring = http_listener.is_some() || system_account;
        // The route listener, like the client one: the same port on every
        // core, a free one reserved first when asked for.
        let (mesh, route_reservation) = match config.cluster.clone() {
            Some(c) => {
                let urls = client_urls(&info_host, info_port);
                let (m, r) = mesh_for(c, &config.cluster_name, urls)?;
                (Some(Arc::new(m)), r)
            }
            None => (None, None),
        };
        let (ws, ws_reservation) = match &config.websocket {
            Some(w) => {
                let (l, r) = ws_for(w)?;
                (Some(l), r)
            }
            None => (None, None),
        };
        let (leaf, leaf_reservation) = match config.leaf.as_ref().and_then(|l| l.listen.as_ref()) {
            Some(l) => {
                let (a, r) = leaf_for(l)?;
                (Some(a), r)
            }
            None => (None, None),
        };
        let mut shared = Shared::new(
            config,
            boot::server_id(),
            (info_host, info_port),
            monitoring,
        );
        shared.mesh = mesh;
        shared.ws = ws;
        shared.leaf = leaf;
        let shared = Arc::new(shared);

        // One ring per ordered pair of cores, and beside it a lane that brings
        // the emptied batches back to their sender.
        let mut wiring: Vec<node::Wiring> = (0..n)
            .map(|_| node::Wiring {
                txs: Vec::new(),
                rxs: Vec::new(),
                returns_to: Vec::new(),
                returns_from: Vec::new(),
                monitor: None,
                sys: None,
            })
            .collect();
        for i in 0..n {
            for j in (0..n).filter(|&j| j != i) {
                let (tx, rx) = rt::ring(shared.cfg.ring_capacity.max(1));
                wiring[i].txs.push((j, tx));
                wiring[j].rxs.push((i, rx));
                let (back_tx, back_rx) = rtrb::RingBuffer::new(peers::RETURN_SLOTS);
                wiring[j].returns_to.push((i, back_tx));
                wiring[i].returns_from.push((j, back_rx));
            }
        }
        let monitor_link = if shared.monitoring {
            let (m, per_core) = monitor::hub::links(n);
            for (w, l) in wiring.iter_mut().zip(per_core) {
                w.monitor = Some(l);
            }
            Some(m)
        } else {
            None
        };
        let sys_link = if system_account {
            let (m, c) = monitor::sysreq::links();
            wiring[0].sys = Some(c);
            Some(m)
        } else {
            None
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(n);
        let mut cores = Vec::with_capacity(n);
        for (i, w) in wiring.into_iter().enumerate() {
            let shared = shared.clone();
            let ready = ready_tx.clone();
            let cpu = pin.then(|| cpus[i]);
            let h = rt::spawn_core(i, cpu, move || node::run(i, n, shared, addr, w, ready))
                .map_err(|e| BootError::Other(format!("cannot start core {i}: {e}")))?;
            cores.push(h);
        }
        drop(ready_tx);
        let mut failure = None;
        for _ in 0..n {
            match ready_rx.recv_timeout(Duration::from_secs(15)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failure.get_or_insert(BootError::Bind(addr.to_string(), e));
                }
                Err(_) => {
                    failure.get_or_insert(BootError::Other("a core did not start".into()));
                    break;
                }
            }
        }
        drop(reservation);
        drop(route_reservation);
        drop(ws_reservation);
        drop(leaf_reservation);
        let mut server = Server {
            addr,
            shared,
            cores,
            http: None,
        };
        if let (None, Some(link)) = (&failure, monitor_link) {
            let info = monitor::Static {
                http_host,
                http_port: http_port.unwrap_or_default(),
                cpus: cpus.len(),
                cores: n,
            };
            match monitor::HttpServer::spawn(
                http_listener,
                server.shared.clone(),
                info,
                link,
                sys_link,
            ) {
                Ok(h) => server.http = Some(h),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(f) = failure {
            server.shutdown();
            return Err(f);
        }
        Ok(server)
    }

    /// The address clients connect to (the real port when `-1`/`0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The monitoring listener's address (the real port when `-1` was asked
    /// for), if monitoring is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|h| h.local_addr())
    }

    /// The route listener's address and the cluster's name (and whether it
    /// was generated), on a cluster node.
    pub fn cluster(&self) -> Option<(SocketAddr, String, bool)> {
        let m = self.shared.mesh.as_ref()?;
        let (name, dynamic) = m.name();
        Some((m.listen, name, dynamic))
    }

    /// The leaf listener's address, on a hub.
    pub fn leafnode(&self) -> Option<SocketAddr> {
        self.shared.leaf.as_ref().map(|l| l.listen)
    }

    /// The WebSocket listener's address and whether it speaks TLS.
    pub fn websocket(&self) -> Option<(SocketAddr, bool)> {
        self.shared.ws.as_ref().map(|w| (w.listen, w.tls))
    }

    /// The generated server id (56 chars, starting with `N`).
    pub fn server_id(&self) -> &str {
        &self.shared.server_id
    }

    /// The server name (configured, else the id).
    pub fn server_name(&self) -> &str {
        &self.shared.server_name
    }

    /// Number of cores running.
    pub fn cores(&self) -> usize {
        self.cores.len()
    }

    /// Applies the reloadable options of `config` (limits, ping and write settings)
    /// on every core. Options that cannot change at run time (host, port, cores,
    /// the monitoring listener) must be refused by the caller before this.
    ///
    /// A lowered `max_connections` closes connections until the count is
    /// within it, as nats-server does (each with `-ERR 'maximum connections
    /// exceeded'`). Waits (at most a second: each core applies a reload on its
    /// next tick) until every core has applied it, and returns how many
    /// connections were closed.
    pub fn reload(&self, config: Config) -> usize {
        let sh = &self.shared;
        if let (Some(m), Some(c)) = (&sh.mesh, &config.cluster) {
            m.set_routes(c.routes.clone(), self.cores.len());
        }
        let open = sh.connections.load(Ordering::SeqCst);
        sh.reload_excess.store(
            open.saturating_sub(config.max_connections),
            Ordering::SeqCst,
        );
        sh.reload_closed.store(0, Ordering::SeqCst);
        sh.reload_applied.store(0, Ordering::SeqCst);
        *sh.reloaded.lock().unwrap() = Some(config);
        *sh.config_load.lock().unwrap() = std::time::SystemTime::now();
        sh.reload_gen.fetch_add(1, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while sh.reload_applied.load(Ordering::SeqCst) < self.cores.len()
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        sh.reload_closed.load(Ordering::SeqCst)
    }

    /// Lame duck mode: stop accepting, tell protocol-1 clients (INFO `ldm:true`),
    /// wait `lame_duck_grace_period`, then close the clients spread over the rest
    /// of `lame_duck_duration`. Returns once every client is gone; the caller then
    /// calls [`Server::shutdown`].
    pub fn lame_duck(&self) {
        self.shared.lame_duck.store(true, Ordering::SeqCst);
        // Implemented by the cores' tickers; see core.rs.
        while self.shared.connections.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop accepting, flush what is queued (bounded), close every connection and
    /// join the cores. Returns when every core has stopped.
    pub fn shutdown(self) {
        if let Some(h) = self.http {
            h.stop();
        }
        if self.shared.cfg.logins.system_account().is_some() {
            // The system account hears of the stop first (core 0 publishes
            // it; bounded, as a flush is).
            self.shared.shutdown_asked.store(true, Ordering::SeqCst);
            let deadline = std::time::Instant::now() + Duration::from_secs(1);
            while !self.shared.shutdown_told.load(Ordering::SeqCst)
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        for c in self.cores {
            c.join();
        }
    }
}

/// nats-server's `parseHostPort` for `client_advertise`: `host:port`,
/// `[v6]:port`, or a bare host (then, as for a port of 0 or -1, the listen
/// port); errors worded as Go's.
fn advertised(adv: &str, listen_port: u16) -> Result<(String, u16), String> {
    let missing_port = |s: &str| {
        if s.starts_with('[') {
            !s.contains("]:")
        } else {
            !s.contains(':')
        }
    };
    let full = if missing_port(adv) {
        format!("{adv}:{listen_port}")
    } else {
        adv.to_string()
    };
    let (host, port) = if let Some(rest) = full.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("address {full}: missing port in address"))?;
        (h.to_string(), p)
    } else {
        let (h, p) = full.rsplit_once(':').expect("a port was added");
        if h.contains(':') {
            return Err(format!("address {full}: too many colons in address"));
        }
        (h.to_string(), p)
    };
    let port: i64 = port
        .trim()
        .parse()
        .map_err(|_| format!("strconv.Atoi: parsing {:?}: invalid syntax", port.trim()))?;
    let port = match port {
        0 | -1 => listen_port,
        p => u16::try_from(p).map_err(|_| format!("invalid port {p}"))?,
    };
    Ok((host.trim().to_string(), port))
}

/// A listen host as an address: an IP, or a name resolved (at boot, before
/// any core runs).
fn resolve_ip(host: &str) -> Option<IpAddr> {
    host.parse().ok().or_else(|| {
        (host, 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
    })
}

/// The cluster state of a node with route settings `c`: the route
/// listener's address (a free port reserved when asked for one, kept until
/// every core has bound it), and the cluster's name (`name` configured, else
/// generated, as nats-server's).
fn mesh_for(
    c: Arc<Cluster>,
    name: &Option<String>,
    client_urls: Vec<String>,
) -> Result<(mesh::Mesh, Option<socket2::Socket>), BootError> {
    let host = resolve_ip(&c.host)
        .ok_or_else(|| BootError::Other(format!("invalid cluster host {:?}", c.host)))?;
    let (port, reservation) = if c.port <= 0 {
        let (p, s) =
            reserve_port(host).map_err(|e| BootError::Bind(format!("{}:{}", c.host, c.port), e))?;
        (p, Some(s))
    } else {
        (c.port as u16, None)
    };
    let listen = SocketAddr::new(host, port);
    if reservation.is_none() {
        boot::check_port_free(listen).map_err(|e| BootError::Bind(listen.to_string(), e))?;
    }
    let (name, dynamic) = match c.name.clone().or_else(|| name.clone()) {
        Some(n) => (n, false),
        None => (boot::server_id()[1..23].to_string(), true),
    };
    Ok((
        mesh::Mesh::new(c, listen, (name, dynamic), client_urls),
        reservation,
    ))
}

/// The WebSocket listener of settings `w`: its address (a free port
/// reserved when asked for one, kept until every core has bound it) and
/// its `ws_connect_urls`.
fn ws_for(w: &config::Websocket) -> Result<(core::WsListen, Option<socket2::Socket>), BootError> {
    let host = resolve_ip(&w.host)
        .ok_or_else(|| BootError::Other(format!("invalid websocket host {:?}", w.host)))?;
    let (port, reservation) = if w.port <= 0 {
        let (p, s) =
            reserve_port(host).map_err(|e| BootError::Bind(format!("{}:{}", w.host, w.port), e))?;
        (p, Some(s))
    } else {
        (w.port as u16, None)
    };
    let listen = SocketAddr::new(host, port);
    if reservation.is_none() {
        boot::check_port_free(listen).map_err(|e| BootError::Bind(listen.to_string(), e))?;
    }
    let urls = match &w.advertise {
        Some(adv) => {
            let (h, p) = advertised(adv, port).map_err(|e| {
                BootError::Other(format!("Unable to get websocket connect URLs: {e}"))
            })?;
            client_urls(&h, p)
        }
        None => client_urls(&w.host, port),
    };
    Ok((
        core::WsListen {
            listen,
            host: w.host.clone(),
            port,
            tls: w.tls.is_some(),
            urls,
        },
        reservation,
    ))
}

/// The leaf listener of settings `l` (a free port reserved when asked for
/// one, kept until the leaf core has bound it) and its `leafnode_urls`.
fn leaf_for(
    l: &config::LeafListen,
) -> Result<(core::LeafListenAddr, Option<socket2::Socket>), BootError> {
    let host = resolve_ip(&l.host)
        .ok_or_else(|| BootError::Other(format!("invalid leafnode host {:?}", l.host)))?;
    let (port, reservation) = if l.port <= 0 {
        let (p, s) =
            reserve_port(host).map_err(|e| BootError::Bind(format!("{}:{}", l.host, l.port), e))?;
        (p, Some(s))
    } else {
        (l.port as u16, None)
    };
    let listen = SocketAddr::new(host, port);
    if reservation.is_none() {
        boot::check_port_free(listen).map_err(|e| BootError::Bind(listen.to_string(), e))?;
    }
    let urls = match (&l.advertise, l.no_advertise) {
        (_, true) => Vec::new(),
        (Some(adv), false) => {
            let (h, p) = advertised(adv, port).map_err(|e| {
                BootError::Other(format!("Error setting leafnode advertise address: {e}"))
            })?;
            client_urls(&h, p)
        }
        (None, false) => client_urls(&l.host, port),
    };
    Ok((
        core::LeafListenAddr {
            listen,
            host: l.host.clone(),
            port,
            urls,
        },
        reservation,
    ))
}

/// This server's client URLs as the cluster tells clients: the INFO host
/// and port, or every interface address when that host is unspecified.
fn client_urls(host: &str, port: u16) -> Vec<String> {
    let join = |ip: &str| {
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => boot::interface_ips()
            .into_iter()
            .filter(|a| a.is_ipv4() || ip.is_ipv6())
            .map(|a| join(&a.to_string()))
            .collect(),
        _ => vec![join(host)],
    }
}

/// Binds (without listening) a SO_REUSEPORT socket on port 0 to learn a free port
/// that every core can then bind; kept open until they have.
fn reserve_port(host: IpAddr) -> std::io::Result<(u16, socket2::Socket)> {
    use socket2::{Domain, Socket, Type};
    let domain = if host.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::new(host, 0).into())?;
    let port = s
        .local_addr()?
        .as_socket()
        .map(|a| a.port())
        .unwrap_or_default();
    Ok((port, s))
}
