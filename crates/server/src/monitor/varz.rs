//! `/varz`: configuration, limits and server-wide counters (the sum over the
//! cores), in nats-server 2.15's key order. Sub-systems Shoal does not have
//! (cluster, gateway, leaf nodes, MQTT, websocket, JetStream) show as the empty
//! objects nats-server shows when they are off; `system_account` only when one
//! is configured (Shoal has no `$SYS` of its own, as nats-server with
//! `no_system_account`). Shoal's per-core figures follow under `shoal`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::format::{go_float, rfc3339, to_json, uptime};
use super::{Ctx, Reply};
use crate::records::{CoreSnapshot, Counters, Request};

#[derive(Serialize, Default)]
struct Empty {}

/// Whether the server has routes or leaf connections to ask the cores for.
fn s_mesh(ctx: &Ctx<'_>) -> bool {
    ctx.shared.mesh.is_some() || ctx.shared.cfg.leaf.is_some()
}

/// `leaf`: the hub's listener and the remotes, nats-server's
/// `LeafNodeOptsVarz` (every key omitted when empty).
#[derive(Serialize, Default)]
struct LeafVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    host: String,
    #[serde(skip_serializing_if = "is_zero_u16")]
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_float")]
    auth_timeout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_float")]
    tls_timeout: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    remotes: Vec<RemoteLeafVarz>,
}

#[derive(Serialize)]
struct RemoteLeafVarz {
    local_account: String,
    urls: Vec<String>,
}

fn is_zero_u16(n: &u16) -> bool {
    *n == 0
}

fn leaf_varz(s: &crate::core::Shared) -> LeafVarz {
    let Some(l) = &s.cfg.leaf else {
        return LeafVarz::default();
    };
    let listen = l.listen.as_ref().zip(s.leaf.as_ref());
    LeafVarz {
        host: listen.map_or(String::new(), |(c, _)| c.host.clone()),
        port: listen.map_or(0, |(_, a)| a.port),
        auth_timeout: listen.map(|(c, _)| c.auth.timeout.map_or(2.0, |d| d.as_secs_f64())),
        tls_timeout: listen.map(|_| 2.0),
        remotes: l
            .remotes
            .iter()
            .map(|r| RemoteLeafVarz {
                local_account: r.account.clone(),
                urls: r
                    .urls
                    .iter()
                    .map(|u| format!("{}:{}", u.host, u.port))
                    .collect(),
            })
            .collect(),
    }
}

/// `cluster`: nats-server shows `{}` without a cluster, the name alone when
/// only `cluster_name` is set (no listener), and the route listener's
/// settings on a cluster node.
#[derive(Serialize)]
struct Cluster {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_float")]
    auth_timeout: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_float")]
    tls_timeout: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    /// The configured pool (-1: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pool_size: Option<i64>,
    /// Nanoseconds, as Go's `time.Duration`; omitted when not configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    write_deadline: Option<u128>,
}

/// nats-server's `WebsocketOptsVarz` (every key left out when empty).
#[derive(Serialize, Default)]
struct WsVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    host: String,
    #[serde(skip_serializing_if = "is_zero16")]
    port: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    advertise: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    no_auth_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    jwt_cookie: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero128")]
    handshake_timeout: u128,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_float")]
    auth_timeout: Option<f64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_tls: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_map: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    compression: bool,
}

fn is_zero16(n: &u16) -> bool {
    *n == 0
}

fn is_zero128(n: &u128) -> bool {
    *n == 0
}

fn ws_varz(s: &crate::core::Shared) -> WsVarz {
    let (Some(w), Some(l)) = (&s.cfg.websocket, &s.ws) else {
        return WsVarz::default();
    };
    WsVarz {
        host: w.host.clone(),
        port: l.port,
        advertise: w.advertise.clone().unwrap_or_default(),
        no_auth_user: w.no_auth_user.clone(),
        jwt_cookie: w.jwt_cookie.clone(),
        handshake_timeout: w.handshake_timeout.as_nanos(),
        auth_timeout: (w.auth_timeout_secs != 0.0).then_some(w.auth_timeout_secs),
        no_tls: w.no_tls,
        tls_map: w.tls.as_ref().is_some_and(|t| t.options.map),
        same_origin: w.same_origin,
        allowed_origins: w.allowed_origins.clone(),
        compression: w.compression,
    }
}

fn opt_float<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(f) => go_float(f, s),
        None => s.serialize_none(),
    }
}

#[derive(Serialize)]
struct ByKind {
    clients: u64,
    routes: u64,
    gateways: u64,
    leafs: u64,
}

#[derive(Serialize)]
struct DiskIoWait {
    waiters: u64,
    waits: u64,
    wait_time: u64,
    max_wait_time: u64,
}

#[derive(Serialize)]
struct CoreFigures {
    core: usize,
    connections: u64,
    total_connections: u64,
    in_msgs: u64,
    in_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    slow_consumers: u64,
    subscriptions: u64,
    ring_msgs_out: u64,
    ring_msgs_in: u64,
    ring_backlogged: u64,
}

#[derive(Serialize)]
struct ShoalFigures {
    version: &'static str,
    cores: Vec<CoreFigures>,
}

#[derive(Serialize)]
struct Varz<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'static str,
    proto: u32,
    go: String,
    host: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    /// What clients (and WebSocket clients) are told to reconnect to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ws_connect_urls: Vec<String>,
    max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
    max_subscriptions: usize,
    ping_interval: u128,
    ping_max: u32,
    http_host: &'a str,
    http_port: i32,
    http_base_path: &'static str,
    https_port: i32,
    #[serde(serialize_with = "go_float")]
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: usize,
    max_pending: usize,
    cluster: Cluster,
    gateway: Empty,
    leaf: LeafVarz,
    mqtt: Empty,
    websocket: WsVarz,
    jetstream: Empty,
    #[serde(serialize_with = "go_float")]
    tls_timeout: f64,
    write_deadline: u128,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    #[serde(serialize_with = "go_float")]
    cpu: f64,
    connections: u64,
    total_connections: u64,
    routes: u64,
    remotes: u64,
    leafnodes: u64,
    in_msgs: u64,
    in_bytes: u64,
    in_client_msgs: u64,
    in_client_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    out_client_msgs: u64,
    out_client_bytes: u64,
    slow_consumers: u64,
    stale_connections: u64,
    stalled_clients: u64,
    subscriptions: u64,
    http_req_stats: &'a BTreeMap<String, u64>,
    config_load_time: String,
    config_digest: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    trusted_operators_jwt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    trusted_operators_claim: Vec<Box<serde_json::value::RawValue>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    system_account: &'a str,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pinned_account_fails: u64,
    slow_consumer_stats: ByKind,
    stale_connection_stats: ByKind,
    disk_io_wait_stats: DiskIoWait,
    shoal: ShoalFigures,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Sums the cores' counters.
pub(super) fn total(snaps: &[CoreSnapshot]) -> Counters {
    snaps.iter().fold(Counters::default(), |mut t, s| {
        let c = &s.counters;
        t.connections += c.connections;
        t.total_connections += c.total_connections;
        t.in_msgs += c.in_msgs;
        t.in_bytes += c.in_bytes;
        t.out_msgs += c.out_msgs;
        t.out_bytes += c.out_bytes;
        t.slow_consumers += c.slow_consumers;
        t.stale_connections += c.stale_connections;
        t.subscriptions += c.subscriptions;
        t.ring_msgs_out += c.ring_msgs_out;
        t.ring_msgs_in += c.ring_msgs_in;
        t.ring_backlogged += c.ring_backlogged;
        t
    })
}

/// The process's CPU use between two `/varz` requests, as nats-server's `pse`
/// reports it (percent of one CPU, one decimal).
pub struct CpuMeter {
    /// The previous sample: when, and the CPU ticks used by then.
    last: Option<(Instant, u64)>,
    pcpu: f64,
}

impl CpuMeter {
    pub fn new() -> CpuMeter {
        CpuMeter {
            last: cpu_ticks().map(|t| (Instant::now(), t)),
            pcpu: 0.0,
        }
    }

    fn sample(&mut self) -> f64 {
        let Some(ticks) = cpu_ticks() else {
            return 0.0;
        };
        let now = Instant::now();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let Some((t0, ticks0)) = self.last else {
            self.last = Some((now, ticks));
            return self.pcpu;
        };
        let secs = now.duration_since(t0).as_secs_f64();
        // Too short an interval says nothing: keep the previous figure.
        if secs >= 0.5 {
            let pct = (ticks.saturating_sub(ticks0) as f64 / hz) / secs * 100.0;
            self.pcpu = (pct * 10.0).round() / 10.0;
            self.last = Some((now, ticks));
        }
        self.pcpu
    }
}

/// utime + stime of this process, in clock ticks (`/proc/self/stat`).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Resident set size in bytes (`/proc/self/statm`).
fn rss() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page
}

pub async fn page(
    ctx: &Ctx<'_>,
    req_stats: &BTreeMap<String, u64>,
    cpu: &std::cell::RefCell<CpuMeter>,
) -> Reply {
    let snaps = ctx
        .gather(Request {
            routes: s_mesh(ctx),
            ..Request::default()
        })
        .await;
    let t = total(&snaps);
    let routes: Vec<&crate::records::ConnRecord> =
        snaps.iter().flat_map(|x| x.routes.iter()).collect();
    let leafs = snaps.iter().map(|x| x.leafs.len()).sum::<usize>();
    // Route and leaf traffic count in the totals, as nats-server counts it.
    let links = snaps
        .iter()
        .flat_map(|x| x.routes.iter().chain(x.leafs.iter()));
    let (route_in_msgs, route_in_bytes, route_out_msgs, route_out_bytes) =
        links.fold((0, 0, 0, 0), |(a, b, c, d), r| {
            (
                a + r.in_msgs,
                b + r.in_bytes,
                c + r.out_msgs,
                d + r.out_bytes,
            )
        });
    let s = &**ctx.shared;
    let cfg = &s.config();
    let boot = s.clock.boot_wall();
    let logins = &cfg.logins;
    let operators = logins.trust().map_or(&[][..], |t| &t.operators[..]);
    let varz = Varz {
        server_id: &s.server_id,
        server_name: &s.server_name,
        version: crate::NATS_VERSION,
        proto: 1,
        go: format!("shoal {}", crate::SHOAL_VERSION),
        host: &s.info_host,
        port: s.info_port,
        connect_urls: s.mesh.as_ref().map_or(Vec::new(), |m| {
            m.connect_urls(s.lame_duck.load(std::sync::atomic::Ordering::Relaxed))
        }),
        ws_connect_urls: match (&s.mesh, &s.ws) {
            (Some(m), Some(w)) => m.ws_connect_urls(
                &w.urls,
                s.lame_duck.load(std::sync::atomic::Ordering::Relaxed),
            ),
            _ => Vec::new(),
        },
        auth_required: cfg.logins.required(),
        tls_required: cfg.tls.as_ref().is_some_and(|t| !t.allow_non_tls),
        tls_verify: cfg.tls.as_ref().is_some_and(|t| t.options.verify),
        max_connections: cfg.max_connections,
        max_subscriptions: cfg.max_subscriptions,
        ping_interval: cfg.ping_interval.as_nanos(),
        ping_max: cfg.ping_max,
        http_host: &ctx.info.http_host,
        http_port: ctx.info.http_port,
        http_base_path: "",
        https_port: 0,
        auth_timeout: cfg.auth_timeout.as_secs_f64(),
        max_control_line: cfg.max_control_line,
        max_payload: cfg.max_payload,
        max_pending: cfg.max_pending,
        cluster: match &s.mesh {
            None => Cluster {
                name: cfg.cluster_name.clone(),
                addr: None,
                cluster_port: None,
                auth_timeout: None,
                urls: Vec::new(),
                tls_timeout: None,
                tls_required: false,
                tls_verify: false,
                pool_size: None,
                write_deadline: None,
            },
            Some(m) => Cluster {
                name: Some(m.name().0),
                addr: Some(m.cfg.host.clone()),
                cluster_port: Some(m.listen.port()),
                auth_timeout: Some(m.cfg.auth_timeout.as_secs_f64()),
                urls: m
                    .cfg
                    .routes
                    .iter()
                    .map(|r| {
                        if r.host.contains(':') {
                            format!("[{}]:{}", r.host, r.port)
                        } else {
                            format!("{}:{}", r.host, r.port)
                        }
                    })
                    .collect(),
                tls_timeout: Some(
                    m.cfg
                        .tls
                        .as_ref()
                        .map_or(2.0, |t| t.options.timeout().as_secs_f64()),
                ),
                tls_required: m.cfg.tls.is_some(),
                tls_verify: m.cfg.tls.is_some(),
                pool_size: Some(match m.cfg.pool_size {
                    0 => -1,
                    n => n as i64,
                }),
                write_deadline: m
                    .cfg
                    .write_deadline
                    .filter(|d| !d.is_zero())
                    .map(|d| d.as_nanos()),
            },
        },
        gateway: Empty {},
        leaf: leaf_varz(s),
        mqtt: Empty {},
        websocket: ws_varz(s),
        jetstream: Empty {},
        tls_timeout: cfg
            .tls
            .as_ref()
            .map_or(2.0, |t| t.options.timeout().as_secs_f64()),
        write_deadline: cfg.write_deadline.as_nanos(),
        start: rfc3339(boot),
        now: ctx.now(),
        uptime: uptime(ctx.now.get().duration_since(boot).unwrap_or_default()),
        mem: rss(),
        cores: ctx.info.cpus,
        gomaxprocs: ctx.info.cores,
        cpu: cpu.borrow_mut().sample(),
        connections: t.connections,
        total_connections: t.total_connections,
        routes: routes.len() as u64,
        // Servers, not connections (a peer's pool is one remote).
        remotes: {
            let mut ids: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len() as u64
        },
        leafnodes: leafs as u64,
        in_msgs: t.in_msgs + route_in_msgs,
        in_bytes: t.in_bytes + route_in_bytes,
        in_client_msgs: t.in_msgs,
        in_client_bytes: t.in_bytes,
        out_msgs: t.out_msgs + route_out_msgs,
        out_bytes: t.out_bytes + route_out_bytes,
        out_client_msgs: t.out_msgs,
        out_client_bytes: t.out_bytes,
        slow_consumers: t.slow_consumers,
        stale_connections: t.stale_connections,
        stalled_clients: 0,
        subscriptions: t.subscriptions,
        http_req_stats: req_stats,
        config_load_time: rfc3339(*s.config_load.lock().unwrap_or_else(|e| e.into_inner())),
        config_digest: "",
        trusted_operators_jwt: operators.iter().map(|o| o.token.clone()).collect(),
        trusted_operators_claim: operators
            .iter()
            .filter_map(|o| serde_json::value::RawValue::from_string(o.payload()).ok())
            .collect(),
        system_account: logins.system_account().unwrap_or(""),
        pinned_account_fails: s
            .accounts
            .pinned_fails
            .load(std::sync::atomic::Ordering::Relaxed),
        slow_consumer_stats: ByKind {
            clients: t.slow_consumers,
            routes: 0,
            gateways: 0,
            leafs: 0,
        },
        stale_connection_stats: ByKind {
            clients: t.stale_connections,
            routes: 0,
            gateways: 0,
            leafs: 0,
        },
        disk_io_wait_stats: DiskIoWait {
            waiters: 0,
            waits: 0,
            wait_time: 0,
            max_wait_time: 0,
        },
        shoal: ShoalFigures {
            version: crate::SHOAL_VERSION,
            cores: snaps
                .iter()
                .map(|s| {
                    let c = &s.counters;
                    CoreFigures {
                        core: s.core,
                        connections: c.connections,
                        total_connections: c.total_connections,
                        in_msgs: c.in_msgs,
                        in_bytes: c.in_bytes,
                        out_msgs: c.out_msgs,
                        out_bytes: c.out_bytes,
                        slow_consumers: c.slow_consumers,
                        subscriptions: c.subscriptions,
                        ring_msgs_out: c.ring_msgs_out,
                        ring_msgs_in: c.ring_msgs_in,
                        ring_backlogged: c.ring_backlogged,
                    }
                })
                .collect(),
        },
    };
    Reply::Json(to_json(&varz, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_figures_are_readable() {
        assert!(rss() > 0);
        assert!(cpu_ticks().is_some());
        let mut m = CpuMeter::new();
        assert!(m.sample() >= 0.0);
    }
}
