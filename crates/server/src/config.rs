//! Server options as the runtime sees them, already parsed and validated by the
//! binary (flags and the configuration file), and the one place that says
//! which of them a reload may change: [`Live`] is the reloadable part, copied
//! into every core and replaced there by a reload; everything else is fixed
//! for the life of the process ([`Config::reload_changes`] refuses a change
//! to it, in nats-server's words). Plain data: no I/O, no runtime.

use std::sync::Arc;
use std::time::Duration;

use shoal_auth::Logins;

/// Every option the runtime reads. Defaults are nats-server 2.15's.
#[derive(Debug, Clone)]
pub struct Config {
    /// Client listen host (`-a/--addr/--net`), default `0.0.0.0`.
    pub host: String,
    /// Client port; `0` or a negative value means "pick a free port" (nats-server's `-1`).
    pub port: i32,
    /// `server_name`; `None` means "same as the generated server id".
    pub server_name: Option<String>,
    /// Number of cores (executors); `None` = every CPU the process may use.
    pub cores: Option<usize>,
    pub max_payload: usize,
    pub max_pending: usize,
    pub max_control_line: usize,
    /// Maximum client connections (server-wide, enforced per core as a share).
    pub max_connections: usize,
    /// Per-connection subscription limit; 0 = unlimited.
    pub max_subscriptions: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
    /// `no_header_support`: INFO says `headers:false`.
    pub no_header_support: bool,
    /// Batches each inter-core ring holds before producers queue in a backlog.
    pub ring_capacity: usize,
    /// HTTP monitoring host; `None` = the client `host`.
    pub http_host: Option<String>,
    /// HTTP monitoring port; `None` = monitoring off, negative = random port.
    pub http_port: Option<i32>,
    /// Lame duck mode: total time to close every client.
    pub lame_duck_duration: Duration,
    /// Lame duck mode: wait before the first client is closed.
    pub lame_duck_grace_period: Duration,
    /// `client_advertise`: `host[:port]` INFO gives clients instead of the
    /// listen address (a missing or zero port means the listen port).
    pub client_advertise: Option<String>,
    /// `cluster_name`: INFO `cluster` (no cluster listener: Shoal has no routes).
    pub cluster_name: Option<String>,
    /// Traced payloads are cut to this many bytes (0 = whole payload).
    pub max_traced_msg_len: usize,
    /// `trace_headers`: trace only the header block of a payload.
    pub trace_headers: bool,
    /// Most tokens a SUB subject may have (0 = no limit).
    pub max_sub_tokens: usize,
    /// Closed connections kept for `/connz?state=closed`, server-wide.
    pub max_closed_clients: usize,
    /// Who may log in: the users list, the single user, the token and
    /// `no_auth_user` (none of them: no authentication).
    pub logins: Arc<Logins>,
    /// Subject mappings per account (`mappings`).
    pub mappings: Arc<crate::mappings::Mappings>,
    /// Stream imports between accounts (`exports`/`imports`).
    pub imports: Arc<crate::imports::StreamImports>,
    /// Service imports between accounts.
    pub services: Arc<crate::services::ServiceImports>,
    /// The account resolver's store, when its claims travel over the system
    /// account (the directory resolver).
    pub claims: Option<crate::claims::Claims>,
    /// How many accounts (`$G` included) the server may ever have: more
    /// than the configured ones when a resolver can add accounts while it
    /// runs; 0 = the configured ones.
    pub max_accounts: usize,
    /// `authorization.timeout`: how long a client of an auth-requiring
    /// server may take to send its CONNECT.
    pub auth_timeout: Duration,
    /// `tls {}` (or the `--tls…` flags): client connections speak TLS.
    /// Reloadable: new connections use the new certificates.
    pub tls: Option<Arc<Tls>>,
    /// `cluster {}` with a listener: this server is a node of a NATS cluster.
    pub cluster: Option<Arc<Cluster>>,
    /// `websocket {}` with a port: a listener for clients over WebSocket.
    pub websocket: Option<Arc<Websocket>>,
    /// `leafnodes { remotes }`: this server dials hubs as a leaf node.
    pub leaf: Option<Arc<Leaf>>,
    /// `-js` / `jetstream {}`: JetStream is on.
    pub jetstream: Option<Arc<JetStream>>,
}

/// JetStream's settings.
#[derive(Debug, Clone)]
pub struct JetStream {
    /// Where it keeps its data: `<store_dir>/jetstream`, as nats-server.
    pub dir: std::path::PathBuf,
    /// The accounts with JetStream (with an `accounts {}` block, those that
    /// say `jetstream: enabled`; else the global account).
    pub accounts: Vec<String>,
}

/// Leaf nodes (`leafnodes {}`), checked by the binary: the remotes this
/// server dials, and the listener of a hub.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub remotes: Vec<LeafRemote>,
    /// Between a closed connection and the next attempt (`reconnect`).
    pub reconnect: Duration,
    /// Leaf connections are accepted (`port` set).
    pub listen: Option<LeafListen>,
}

/// A hub's leaf listener.
#[derive(Debug, Clone)]
pub struct LeafListen {
    pub host: String,
    /// -1: any free port.
    pub port: i32,
    /// `advertise`: the URL spokes are told instead of the listen address.
    pub advertise: Option<String>,
    pub no_advertise: bool,
    pub auth: LeafAuth,
    /// `tls {}`: spokes start TLS after the hub's INFO (which says
    /// `tls_required`), this side the server.
    pub tls: Option<LeafTls>,
    /// The S2 mode offered to spokes (nats-server's default `s2_auto`).
    pub compression: LeafCompression,
}

/// A leaf side's S2 compression: the mode in nats-server's words (`off`,
/// `accept`, `s2_uncompressed`, `s2_fast`, `s2_better`, `s2_best`,
/// `s2_auto`) and `s2_auto`'s RTT thresholds.
#[derive(Debug, Clone)]
pub struct LeafCompression {
    pub mode: String,
    pub rtt: Vec<Duration>,
}

impl Default for LeafCompression {
    fn default() -> Self {
        let ms = Duration::from_millis;
        LeafCompression {
            mode: "s2_auto".into(),
            rtt: vec![ms(10), ms(50), ms(100)],
        }
    }
}

/// A leaf connection's TLS: the server side (a hub's listener) or the
/// client side (a remote), built by the binary.
#[derive(Clone)]
pub struct LeafTls {
    pub options: shoal_tls::TlsOptions,
    pub server: Option<shoal_tls::ServerConfig>,
    pub client: Option<shoal_tls::ClientConfig>,
}

impl std::fmt::Debug for LeafTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafTls")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// `leafnodes { authorization {} }`: one user (bound to `account`), or a
/// list of users each bound to its account; neither, and a spoke logs in
/// as a client of the server would.
#[derive(Debug, Clone, Default)]
pub struct LeafAuth {
    pub user: Option<(String, String)>,
    pub users: Vec<LeafUser>,
    /// The account of the single user (the global one when unset).
    pub account: Option<String>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct LeafUser {
    pub user: String,
    pub pass: String,
    pub account: Option<String>,
}

/// One remote: its URLs (tried in turn), and the local account its
/// connection binds.
#[derive(Debug, Clone)]
pub struct LeafRemote {
    pub urls: Vec<RouteUrl>,
    pub account: String,
    /// Subjects the hub's messages may not bring here (their interest is
    /// not told it either), and subjects this server's may not take there.
    pub deny_imports: Vec<String>,
    pub deny_exports: Vec<String>,
    /// TLS with the hub (a `tls {}` block, or a `tls://` URL: then the
    /// defaults, the system's roots).
    pub tls: Option<LeafTls>,
    /// A credentials file (read at each connect, off the core), or a user
    /// seed: the hub's nonce is signed with it.
    pub credentials: Option<String>,
    pub nkey: Option<String>,
    pub compression: LeafCompression,
    /// `hub: true`: this server declares itself the hub of the link
    /// (nats-server's `Hub`: the other side then takes the spoke's role).
    pub hub: bool,
    /// Dial the configured URLs only, never those the hub's cluster names.
    pub ignore_discovered: bool,
}

impl Websocket {
    /// The settings a reload may not change, as one text (the logins may
    /// change: they follow the server's users).
    fn fixed(&self) -> String {
        format!(
            "{{host:{} port:{} advertise:{:?} tls:{} no_tls:{} compression:{} same_origin:{} allowed_origins:{:?} handshake_timeout:{:?} cookies:{:?} headers:{:?} override:{}/{} ping_interval:{:?}}}",
            self.host,
            self.port,
            self.advertise,
            self.tls.as_ref().map_or(String::new(), |t| t.digest.clone()),
            self.no_tls,
            self.compression,
            self.same_origin,
            self.allowed_origins,
            self.handshake_timeout,
            [&self.jwt_cookie, &self.username_cookie, &self.password_cookie, &self.token_cookie],
            self.raw_headers,
            self.no_auth_user,
            self.auth_override,
            self.ping_interval,
        )
    }
}

/// The WebSocket listener's settings (`websocket {}`), checked by the
/// binary as nats-server's `validateWebsocketOptions` checks them.
#[derive(Debug, Clone)]
pub struct Websocket {
    pub host: String,
    /// Port 0 or negative: a free one.
    pub port: i32,
    /// `advertise`: `host[:port]` given in `ws_connect_urls` instead.
    pub advertise: Option<String>,
    /// `tls {}`; `None` only with `no_tls: true`.
    pub tls: Option<Arc<Tls>>,
    pub no_tls: bool,
    /// `compression`: permessage-deflate when the client offers it.
    pub compression: bool,
    pub same_origin: bool,
    pub allowed_origins: Vec<String>,
    /// Zero: no limit on the HTTP request (as nats-server).
    pub handshake_timeout: Duration,
    pub jwt_cookie: String,
    pub username_cookie: String,
    pub password_cookie: String,
    pub token_cookie: String,
    /// `headers {}`: extra response headers (`Name: value\r\n` each).
    pub raw_headers: String,
    /// WebSocket clients' logins: the top-level ones with the listener's
    /// `authorization`/`no_auth_user` override and its `verify_and_map`.
    pub logins: Arc<Logins>,
    /// `authorization.timeout`; `None`: the server's.
    pub auth_timeout: Option<Duration>,
    /// The listener has its own user, token or `no_auth_user`
    /// (nats-server's `authOverride`): its clients' INFO says
    /// `auth_required`.
    pub auth_override: bool,
    /// `ping_interval` of its clients; `None`: the server's.
    pub ping_interval: Option<Duration>,
    /// For `/varz`: the override's `no_auth_user` and timeout as written.
    pub no_auth_user: String,
    pub auth_timeout_secs: f64,
}

/// A cluster node's settings (`cluster {}`, `--cluster`, `--routes`),
/// checked by the binary.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The configured name; `None`: one is generated at boot, and a peer's
    /// configured name is taken instead (`cluster_dynamic`).
    pub name: Option<String>,
    /// The route listener (`listen`, `host`, `port`); port 0 or negative:
    /// a free one.
    pub host: String,
    pub port: i32,
    /// `advertise`: `host[:port]` the route INFO gives instead.
    pub advertise: Option<String>,
    /// `no_advertise`: clients are not told this node's peers.
    pub no_advertise: bool,
    /// Explicit routes, dialled until the server stops.
    pub routes: Vec<RouteUrl>,
    /// Retries of an implicit (gossiped) route after its first attempt.
    pub connect_retries: u32,
    /// Explicit routes are re-dialled with exponential backoff (to 30 s)
    /// instead of every second.
    pub connect_backoff: bool,
    /// `authorization { user, password }` peers must present.
    pub auth: Option<(String, String)>,
    /// How long a peer has to send its CONNECT.
    pub auth_timeout: Duration,
    /// Route keepalive: the interval (capped at 30 s, as nats-server's) and
    /// the unanswered PINGs after which a route is stale.
    pub ping_interval: Duration,
    pub ping_max: u32,
    /// `permissions { import, export }`: the subjects this node asks its
    /// peers for (import: its interest is announced only there) and lets
    /// them ask for (export: a peer's `RS+` elsewhere is ignored).
    pub permissions: Option<shoal_auth::PermissionSpec>,
    /// `compression`, in nats-server's words: `not supported`, `off`,
    /// `accept` (the default), `s2_uncompressed`, `s2_fast`, `s2_better`,
    /// `s2_best`, `s2_auto`.
    pub compression: String,
    /// `s2_auto`'s RTT thresholds (uncompressed, fast, better; above the
    /// last: best; a 0 skips a level).
    pub compression_rtt: Vec<Duration>,
    /// `tls {}`: every route speaks TLS from its first byte, both sides
    /// presenting and verifying certificates.
    pub tls: Option<Arc<RouteTls>>,
    /// `write_deadline`: a route's socket that takes nothing for this long
    /// closes the route (`None`: the server's `write_deadline`).
    pub write_deadline: Option<Duration>,
    /// `pool_size`: route connections per peer that share the accounts
    /// (each account on one, by its name's hash); 0: one connection per
    /// peer, advertised as no pool (nats-server's `pool_size: -1`).
    pub pool_size: usize,
    /// `accounts`: accounts with a route connection of their own to every
    /// peer (with a pool, the system account is always one).
    pub pinned: Vec<String>,
}

/// The routes' TLS, as configured.
pub struct RouteTls {
    pub options: shoal_tls::TlsOptions,
    pub configs: shoal_tls::RouteConfigs,
    /// A digest of the files as loaded (see [`Tls::digest`]).
    pub digest: String,
    /// nats-server's `routeTLSName`: the first configured route given by a
    /// host name, the name a route dialled by IP address is verified as.
    pub name: Option<String>,
}

/// What a reload compares: the options and the files, not rustls's state.
impl std::fmt::Debug for RouteTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTls")
            .field("options", &self.options)
            .field("digest", &self.digest)
            .finish()
    }
}

/// A route to dial: its URL as written and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteUrl {
    pub url: String,
    pub host: String,
    pub port: u16,
    /// The URL's userinfo: the credentials the CONNECT carries.
    pub user: Option<String>,
    pub pass: Option<String>,
}

/// The client listener's TLS, as configured.
#[derive(Debug)]
pub struct Tls {
    pub options: shoal_tls::TlsOptions,
    pub config: shoal_tls::ServerConfig,
    /// `allow_non_tls`: clients may also speak in clear.
    pub allow_non_tls: bool,
    /// A digest of the certificate and key files as loaded, so that a reload
    /// with rotated files at the same paths counts as a change.
    pub digest: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "0.0.0.0".to_string(),
            port: 4222,
            server_name: None,
            cores: None,
            max_payload: 1024 * 1024,
            max_pending: 64 * 1024 * 1024,
            max_control_line: 4096,
            max_connections: 65536,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            no_header_support: false,
            ring_capacity: 256,
            http_host: None,
            http_port: None,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            client_advertise: None,
            cluster_name: None,
            max_traced_msg_len: 0,
            trace_headers: false,
            max_sub_tokens: 0,
            max_closed_clients: 10_000,
            claims: None,
            max_accounts: 0,
            logins: Arc::new(Logins::default()),
            mappings: Arc::default(),
            imports: Arc::default(),
            services: Arc::default(),
            auth_timeout: Duration::from_secs(2),
            tls: None,
            cluster: None,
            websocket: None,
            leaf: None,
            jetstream: None,
        }
    }
}

/// The settings a reload changes on a running server, as each core holds them
/// (`Copy`: a core reads them from a `Cell`, no lock on the paths that do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Live {
    pub max_payload: usize,
    pub max_control_line: usize,
    pub max_connections: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
    /// Fixed for the server's life (a reload refuses a change), carried here
    /// so a connection can bound its own protocol replies without its core.
    pub max_pending: usize,
}

impl Live {
    pub fn from(c: &Config) -> Live {
        Live {
            max_payload: c.max_payload,
            max_control_line: c.max_control_line,
            max_connections: c.max_connections,
            ping_interval: c.ping_interval,
            ping_max: c.ping_max,
            write_deadline: c.write_deadline,
            max_pending: c.max_pending,
        }
    }
}

impl Config {
    /// The fields a running server cannot change, with nats-server's option
    /// names, in nats-server's order of checking. `port` is the bound port (a
    /// random one counts as unchanged when the new file also asks for one).
    fn fixed(&self, port: String) -> [(&'static str, String); 24] {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            ("ServerName", opt(&self.server_name)),
            ("Host", self.host.clone()),
            ("Port", port),
            ("NoHeaderSupport", self.no_header_support.to_string()),
            ("MaxSubs", self.max_subscriptions.to_string()),
            ("HTTPHost", opt(&self.http_host)),
            ("HTTPPort", self.http_port.unwrap_or(0).to_string()),
            ("MaxPending", self.max_pending.to_string()),
            (
                "LameDuckDuration",
                shoal_go::duration(self.lame_duck_duration),
            ),
            (
                "LameDuckGracePeriod",
                shoal_go::duration(self.lame_duck_grace_period),
            ),
            ("Cores", self.cores.map_or("all".into(), |c| c.to_string())),
            ("RingCapacity", self.ring_capacity.to_string()),
            // Reloadable in nats-server; fixed in Shoal for now (refused,
            // never silently kept at the old value).
            ("ClientAdvertise", opt(&self.client_advertise)),
            ("ClusterName", opt(&self.cluster_name)),
            // The route listener, in nats-server's words; its routes list
            // reloads (see `reloadable`), the rest of the block is fixed.
            (
                "cluster host",
                self.cluster
                    .as_ref()
                    .map_or(String::new(), |c| c.host.clone()),
            ),
            (
                "cluster port",
                self.cluster
                    .as_ref()
                    .map_or("0".into(), |c| c.port.to_string()),
            ),
            (
                "cluster",
                self.cluster.as_ref().map_or(String::new(), |c| {
                    format!(
                        "{:?}",
                        Cluster {
                            routes: Vec::new(),
                            ..(**c).clone()
                        }
                    )
                }),
            ),
            // nats-server refuses any change to the block but its TLS
            // certificates; Shoal also keeps those (new ones need a restart).
            (
                "Websocket",
                self.websocket.as_ref().map_or(String::new(), |w| w.fixed()),
            ),
            ("MaxSubTokens", self.max_sub_tokens.to_string()),
            ("MaxClosedClients", self.max_closed_clients.to_string()),
            (
                "NoAuthUser",
                self.logins.no_auth_user_name().unwrap_or("").to_string(),
            ),
            // The operators a server trusts cannot change while it runs
            // (nats-server: `config reload not supported for
            // TrustedOperators`); their accounts' JWTs may.
            (
                "TrustedOperators",
                self.logins.trust().map_or(String::new(), |t| {
                    t.operators
                        .iter()
                        .map(|o| o.claims.subject.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                }),
            ),
            ("MaxTracedMsgLen", self.max_traced_msg_len.to_string()),
            ("TraceHeaders", self.trace_headers.to_string()),
        ]
    }

    /// The fields a reload applies (they make up [`Live`]), with the names
    /// nats-server logs them by (`Reloaded: ping_interval = 5s`).
    /// The authorization settings show as `authorization password` and the
    /// like, with no value (secrets are not logged), as nats-server logs them.
    fn reloadable(&self) -> [(&'static str, String); 14] {
        let l = &self.logins;
        let single = l.single();
        [
            ("max_connections", self.max_connections.to_string()),
            // nats-server 2.15 reloads its users and accounts on every
            // reload, whatever changed (checked: it logs both each time).
            ("authorization users", String::new()),
            ("accounts", String::new()),
            (
                "authorization username",
                format!("{:?}", single.map(|s| &s.0)),
            ),
            (
                "authorization password",
                format!("{:?}", single.map(|s| &s.1)),
            ),
            ("authorization token", format!("{:?}", l.token())),
            ("ping_interval", shoal_go::duration(self.ping_interval)),
            ("ping_max", self.ping_max.to_string()),
            (
                "authorization timeout",
                format!("{}", self.auth_timeout.as_secs_f64()),
            ),
            ("max_control_line", self.max_control_line.to_string()),
            ("max_payload", self.max_payload.to_string()),
            ("write_deadline", shoal_go::duration(self.write_deadline)),
            (
                "cluster routes",
                self.cluster.as_ref().map_or("[]".into(), |c| {
                    let urls: Vec<&str> = c.routes.iter().map(|r| r.url.as_str()).collect();
                    format!("[{}]", urls.join(" "))
                }),
            ),
            // Compared by what was loaded, logged as nats-server logs it
            // (`Reloaded: tls = enabled`).
            (
                "tls",
                self.tls.as_ref().map_or("none".to_string(), |t| {
                    format!("{:?}{}", t.options, t.digest)
                }),
            ),
        ]
    }

    /// What reloading from `self` to `new` would change: `Err` with
    /// nats-server's message for the first field that cannot change while
    /// running (`config reload not supported for Port: old=4222, new=4333`),
    /// else the reloadable fields that differ, with their new values. `ports`
    /// is (the bound port, the port the new configuration asks for).
    pub fn reload_changes(
        &self,
        new: &Config,
        ports: (u16, i64),
    ) -> Result<Vec<(&'static str, String)>, String> {
        let (bound, asked) = ports;
        let asked = if asked == -1 || asked == i64::from(bound) {
            i64::from(bound)
        } else {
            asked
        };
        let old = self.fixed(bound.to_string());
        let now = new.fixed(asked.to_string());
        if let Some(((field, was), (_, is))) = old.iter().zip(now.iter()).find(|(a, b)| a.1 != b.1)
        {
            return Err(format!(
                "config reload not supported for {field}: old={was}, new={is}"
            ));
        }
        // The accounts themselves (their users may change): fixed, except
        // that a resolver that may add accounts while the server runs may
        // append new ones (ids never change).
        let (was, is) = (self.logins.accounts(), new.logins.accounts());
        let grows = is.starts_with(was) && is.len() <= self.max_accounts;
        if was != is && !grows {
            return Err(format!(
                "config reload not supported for Accounts: old={}, new={}",
                was.join(","),
                is.join(",")
            ));
        }
        Ok(self
            .reloadable()
            .into_iter()
            .zip(new.reloadable())
            .filter(|(a, b)| a.1 != b.1 || a.1.is_empty())
            .map(|(_, (name, value))| match name {
                // Logged without a value.
                n if n.starts_with("authorization") && n != "authorization timeout" => {
                    (n, String::new())
                }
                "cluster routes" => ("cluster routes", String::new()),
                "tls" if value == "none" => ("tls", "disabled".to_string()),
                "tls" => ("tls", "enabled".to_string()),
                n => (n, value),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_refuses_fixed_fields_and_lists_reloadable_ones() {
        let a = Config::default();
        let mut b = a.clone();
        b.ping_interval = Duration::from_secs(5);
        b.max_payload = 2048;
        assert_eq!(
            a.reload_changes(&b, (4222, 4222)).unwrap(),
            vec![
                ("authorization users", String::new()),
                ("accounts", String::new()),
                ("ping_interval", "5s".to_string()),
                ("max_payload", "2048".to_string())
            ]
        );
        assert_eq!(Live::from(&b).ping_interval, Duration::from_secs(5));
        let mut c = a.clone();
        c.max_pending = 1;
        assert_eq!(
            a.reload_changes(&c, (4222, 4222)).unwrap_err(),
            "config reload not supported for MaxPending: old=67108864, new=1"
        );
        assert_eq!(
            a.reload_changes(&a, (4222, 4333)).unwrap_err(),
            "config reload not supported for Port: old=4222, new=4333"
        );
        assert_eq!(a.reload_changes(&a, (39999, -1)).unwrap().len(), 2);
    }
}
