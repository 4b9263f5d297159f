//! Server options as the runtime sees them: already parsed and validated by the
//! binary (flags today, the config file later). Plain data, cloned into every core
//! at boot; nothing here changes while a core runs.

use std::time::Duration;

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
        }
    }
}
