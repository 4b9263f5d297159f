//! The `cluster {}` block → [`ClusterSettings`], as nats-server's
//! `parseCluster` and `validateCluster` read it: its keys and aliases, its
//! texts (`Cluster authorization does not allow multiple users`,
//! `Duplicate route entry detected`, `error parsing route url ["…"]`,
//! `found duplicate account name "A" in pinned accounts list ["A" "A"]`), every
//! problem collected with its position.
//!
//! With the flags (`--cluster`, `--routes`, `--cluster_advertise`,
//! `--no_advertise`, `--connect_retries`, as nats-server's `overrideCluster`
//! applies them) it becomes the runtime's [`shoal_server::Cluster`]
//! ([`resolve`]). A block that only names the cluster (`cluster { name: C1 }`)
//! gives INFO its `cluster`, as in nats-server: a pool of 3 connections per
//! peer unless `pool_size` says otherwise, the system account pinned to a
//! route of its own beside the configured `accounts`.

use std::sync::Arc;
use std::time::Duration;

use shoal_auth::PermissionSpec;
use shoal_conf::{Kind, Value};

use crate::report::{boolean, int, mismatch, string, Report};

/// What the file's `cluster` block says.
#[derive(Debug, Clone, Default)]
pub struct ClusterSettings {
    pub name: Option<String>,
    pub host: Option<String>,
    pub port: Option<i64>,
    pub advertise: Option<String>,
    pub no_advertise: bool,
    /// The route URLs as written (duplicates dropped with a warning).
    pub routes: Vec<String>,
    pub connect_retries: i64,
    pub connect_backoff: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub auth_timeout: Option<f64>,
    /// `permissions { import, export }` (publish = import, subscribe = export).
    pub permissions: Option<PermissionSpec>,
    pub pool_size: Option<i64>,
    /// `accounts`: the accounts pinned to a dedicated route.
    pub accounts: Vec<String>,
    pub compression: Option<String>,
    /// `compression { rtt_thresholds }` (for `s2_auto`).
    pub compression_rtt: Vec<Duration>,
    pub ping_interval: Option<Duration>,
    pub ping_max: Option<i64>,
    pub write_deadline: Option<Duration>,
    /// `tls {}`: routes over TLS.
    pub tls: Option<crate::tlsconf::RouteTlsSettings>,
}

/// The longest route ping interval nats-server keeps (`routeMaxPingInterval`).
const MAX_PING_INTERVAL: Duration = Duration::from_secs(30);

/// Parses the `cluster` block.
pub fn cluster(v: &Value, report: &mut Report) -> Option<ClusterSettings> {
    let Some(m) = v.as_map() else {
        report.error(
            &v.pos,
            format!("Expected map to define cluster, got {}", v.go_type()),
        );
        return None;
    };
    let mut c = ClusterSettings::default();
    let before = report.errors.len();
    for (k, x) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "name" => {
                if let Some(n) = string(x, report) {
                    if n.contains(' ') {
                        report.error(&x.pos, "cluster name cannot contain spaces");
                    } else {
                        c.name = Some(n);
                    }
                }
            }
            "listen" => {
                if let Some((host, port)) = crate::report::listen(x, report) {
                    c.host = host;
                    c.port = Some(port);
                }
            }
            "port" => c.port = int(x, report),
            "host" | "net" => c.host = string(x, report),
            "authorization" => authorization(x, &mut c, report),
            "routes" => routes(x, &mut c, report),
            "tls" => c.tls = crate::tlsconf::route_tls(x, report),
            "cluster_advertise" | "advertise" => c.advertise = string(x, report),
            "no_advertise" => c.no_advertise = boolean(x, report).unwrap_or(false),
            "connect_retries" => c.connect_retries = int(x, report).unwrap_or(0),
            "connect_backoff" => c.connect_backoff = boolean(x, report).unwrap_or(false),
            "permissions" => {
                if let Some(p) = crate::perms::permissions(x, report) {
                    if p.responses.is_some() {
                        report.error(
                            &x.pos,
                            "Cluster permissions do not support dynamic responses",
                        );
                    } else {
                        c.permissions = Some(p);
                    }
                }
            }
            "pool_size" => c.pool_size = int(x, report),
            "accounts" => c.accounts = string_array(x, report),
            "compression" => c.compression = compression(k, x, &mut c.compression_rtt, report),
            "ping_interval" => {
                c.ping_interval = crate::report::duration("ping_interval", x, report);
                if c.ping_interval.is_some_and(|d| d > MAX_PING_INTERVAL) {
                    report.warnings.push(format!(
                        "{}: Cluster 'ping_interval' will reset to {} which is the max for routes",
                        x.pos,
                        shoal_go::duration(MAX_PING_INTERVAL)
                    ));
                }
            }
            "ping_max" => c.ping_max = int(x, report),
            "write_deadline" => {
                c.write_deadline = crate::report::duration("write_deadline", x, report)
            }
            "write_timeout" => {
                if let Some(t) = string(x, report) {
                    match t.as_str() {
                        // A route closes when its socket takes nothing for
                        // the deadline (nats-server's `retry`, the routes'
                        // default); `close` on partial progress is not done.
                        "default" | "retry" => {}
                        "close" => report.error(
                            &x.pos,
                            "cluster write_timeout \"close\" is not supported by this version of shoal yet",
                        ),
                        _ => report.error(
                            &x.pos,
                            "write_timeout must be 'default', 'close' or 'retry'",
                        ),
                    }
                }
            }
            _ if x.used_as_variable => {}
            _ => report.error(&x.pos, format!("unknown field {k:?}")),
        }
    }
    (report.errors.len() == before).then_some(c)
}

/// nats-server's `validateCluster` (run once the file and the flags are
/// read; its messages carry no position).
pub fn validate(c: &ClusterSettings) -> Result<(), String> {
    if let Some(mode) = &c.compression {
        check_mode(mode)?;
    }
    validate_rest(c)
}

/// A compression mode nats-server knows, in any of its spellings.
pub(crate) fn check_mode(mode: &str) -> Result<(), String> {
    if !matches!(
        mode.to_ascii_lowercase().as_str(),
        "off"
            | "disabled"
            | "false"
            | "accept"
            | "not supported"
            | "not_supported"
            | "s2_fast"
            | "fast"
            | "s2_better"
            | "better"
            | "s2_best"
            | "best"
            | "s2_auto"
            | "auto"
            | "on"
            | "enabled"
            | "true"
    ) {
        return Err(format!("unsupported compression mode {mode:?}"));
    }
    Ok(())
}

fn validate_rest(c: &ClusterSettings) -> Result<(), String> {
    if !c.accounts.is_empty() {
        if c.pool_size.is_some_and(|n| n < 0) {
            return Err("pool_size cannot be negative if pinned accounts are specified".into());
        }
        let mut seen = std::collections::HashSet::new();
        for a in &c.accounts {
            if !seen.insert(a) {
                let list: Vec<String> = c.accounts.iter().map(|a| format!("{a:?}")).collect();
                return Err(format!(
                    "found duplicate account name {a:?} in pinned accounts list [{}]",
                    list.join(" ")
                ));
            }
        }
    }
    Ok(())
}

/// A compression mode in nats-server's canonical words
/// (`validateAndNormalizeCompressionOption`; `on` is `s2_fast` for routes);
/// unset is `accept`, as in nats-server.
pub(crate) fn normalized_compression(mode: Option<&str>) -> String {
    let Some(m) = mode else {
        return "accept".into();
    };
    match m.to_ascii_lowercase().as_str() {
        "on" | "enabled" | "true" | "fast" | "s2_fast" => "s2_fast",
        "not supported" | "not_supported" => "not supported",
        "disabled" | "off" | "false" => "off",
        "auto" | "s2_auto" => "s2_auto",
        "uncompressed" | "s2_uncompressed" => "s2_uncompressed",
        "better" | "s2_better" => "s2_better",
        "best" | "s2_best" => "s2_best",
        _ => "accept",
    }
    .into()
}

/// `s2_auto`'s RTT thresholds as nats-server's
/// `validateAndNormalizeCompressionOption` keeps them: ascending (a 0
/// disables a level), trailing zeros dropped, 1 to 4 of them; none given:
/// nats-server's defaults (10, 50, 100 ms).
fn auto_thresholds(c: &ClusterSettings) -> Result<Vec<Duration>, String> {
    let mode = normalized_compression(c.compression.as_deref());
    thresholds(&mode, &c.compression_rtt)
}

/// `s2_auto`'s thresholds for `mode` (none for another mode), from those
/// `given` (see [`auto_thresholds`]); leaf compression shares them.
pub(crate) fn thresholds(mode: &str, given: &[Duration]) -> Result<Vec<Duration>, String> {
    let ms = Duration::from_millis;
    if mode != "s2_auto" {
        return Ok(Vec::new());
    }
    if given.is_empty() {
        return Ok(vec![ms(10), ms(50), ms(100)]);
    }
    let go = |v: &[Duration]| {
        let items: Vec<String> = v.iter().map(|d| shoal_go::duration(*d)).collect();
        format!("[{}]", items.join(" "))
    };
    let mut rtts: Vec<Duration> = Vec::new();
    for &n in given {
        if n != Duration::ZERO && rtts.iter().any(|&v| n < v) {
            return Err(format!(
                "RTT threshold values {} should be in ascending order",
                go(given)
            ));
        }
        rtts.push(n);
    }
    while rtts.last() == Some(&Duration::ZERO) {
        rtts.pop();
    }
    if rtts.len() > 4 {
        return Err(format!(
            "compression mode \"s2_auto\" should have no more than 4 RTT thresholds: {}",
            go(given)
        ));
    }
    if rtts.is_empty() {
        return Err("compression mode \"s2_auto\" requires at least one RTT threshold".into());
    }
    Ok(rtts)
}

/// The cluster flags as typed (`overrideCluster` reads them after the file).
#[derive(Debug, Clone, Default)]
pub struct ClusterFlags {
    pub listen: Option<String>,
    pub routes: Option<String>,
    pub advertise: Option<String>,
    pub no_advertise: Option<bool>,
    pub connect_retries: Option<i64>,
}

/// The route settings the runtime gets: the file's block with the flags
/// over it; `None` when the server does not listen for routes. Errors in
/// nats-server's words (`address h: missing port in address`, `expected
/// cluster password to be set`, `solicited routes require cluster
/// capabilities, e.g. --cluster`).
/// `keepalive`: the server's own `ping_interval` and `ping_max`, which
/// routes use when the block sets none (the interval capped at 30 s), as
/// nats-server's route ping timer does.
pub fn resolve(
    file: Option<&ClusterSettings>,
    flags: &ClusterFlags,
    name: Option<&str>,
    keepalive: (Option<Duration>, Option<i64>),
    system_account: &str,
) -> Result<Option<shoal_server::Cluster>, String> {
    let mut c = file.cloned().unwrap_or_default();
    if let Some(listen) = &flags.listen {
        if listen.is_empty() {
            // An empty --cluster is enough to turn clustering off.
            c.port = None;
        } else {
            let (host, port, auth) = listen_url(listen)?;
            c.host = Some(host);
            c.port = Some(port);
            (c.user, c.password) = match auth {
                Some((u, p)) => (Some(u), Some(p)),
                None => (None, None),
            };
        }
    }
    if let Some(r) = &flags.routes {
        c.routes = r
            .split(',')
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
    }
    if let Some(a) = &flags.advertise {
        c.advertise = Some(a.clone());
    }
    if let Some(b) = flags.no_advertise {
        c.no_advertise = b;
    }
    if let Some(n) = flags.connect_retries {
        c.connect_retries = n;
    }
    let port = c.port.unwrap_or(0);
    if port == 0 {
        if !c.routes.is_empty() {
            return Err("solicited routes require cluster capabilities, e.g. --cluster".into());
        }
        return Ok(None);
    }
    // nats-server's defaults: a pool of 3, and with a pool the system
    // account on a route of its own (`-1`: no pool, no pinned accounts).
    let pool_size = match c.pool_size {
        None | Some(0) => 3,
        Some(n) if n < 0 => 0,
        Some(n) => n.min(1 << 10) as usize,
    };
    let mut pinned = if pool_size > 0 {
        c.accounts.clone()
    } else {
        Vec::new()
    };
    if pool_size > 0 && !pinned.iter().any(|a| a == system_account) {
        pinned.push(system_account.to_string());
    }
    let routes = c
        .routes
        .iter()
        .map(|u| route_url(u))
        .collect::<Result<Vec<_>, _>>()?;
    let tls = c.tls.as_ref().map(|t| {
        Arc::new(shoal_server::RouteTls {
            options: t.options.clone(),
            configs: t.configs.clone(),
            digest: crate::tlsconf::files_digest(&t.options),
            name: routes
                .iter()
                .map(|r| r.host.as_str())
                .find(|h| {
                    h.trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_err()
                })
                .map(str::to_string),
        })
    });
    // Without one configured, the CONNECT may take as long as the TLS
    // handshake and a second more (nats-server's `getDefaultAuthTimeout`).
    let auth_timeout_default = tls.as_ref().map_or(Duration::from_secs(2), |t| {
        t.options.timeout() + Duration::from_secs(1)
    });
    let ping = c
        .ping_interval
        .filter(|d| !d.is_zero())
        .or(keepalive.0.filter(|d| !d.is_zero()))
        .unwrap_or(MAX_PING_INTERVAL)
        .min(MAX_PING_INTERVAL);
    Ok(Some(shoal_server::Cluster {
        name: c.name.clone().or_else(|| name.map(str::to_string)),
        host: c
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "0.0.0.0".into()),
        port: port.clamp(-1, 65535) as i32,
        advertise: c.advertise.clone().filter(|a| !a.is_empty()),
        no_advertise: c.no_advertise,
        routes,
        connect_retries: c.connect_retries.clamp(0, i64::from(u32::MAX)) as u32,
        connect_backoff: c.connect_backoff,
        auth: c
            .user
            .clone()
            .map(|u| (u, c.password.clone().unwrap_or_default())),
        auth_timeout: c
            .auth_timeout
            .filter(|&t| t > 0.0)
            .and_then(|t| Duration::try_from_secs_f64(t).ok())
            .unwrap_or(auth_timeout_default),
        ping_interval: ping,
        ping_max: c
            .ping_max
            .filter(|&n| n > 0)
            .or(keepalive.1.filter(|&n| n > 0))
            .map_or(2, |n| n.min(1 << 20) as u32),
        permissions: c.permissions.clone(),
        compression: normalized_compression(c.compression.as_deref()),
        compression_rtt: auto_thresholds(&c)?,
        tls,
        write_deadline: c.write_deadline,
        pool_size,
        pinned,
    }))
}

/// `--cluster nats://[user:pass@]host:port` as `overrideCluster` reads it
/// (`:-1` is a random port).
/// A `--cluster` URL's host, port and credentials.
type Listen = (String, i64, Option<(String, String)>);

fn listen_url(s: &str) -> Result<Listen, String> {
    let random = s.ends_with(":-1");
    let text = if random {
        format!("{}:0", &s[..s.len() - 3])
    } else {
        s.to_string()
    };
    let Some((scheme, rest)) = text.split_once("://") else {
        if text.contains(':')
            && !text
                .split(':')
                .next()
                .is_some_and(|p| is_scheme(p) && !p.is_empty())
        {
            return Err(format!("parse {text:?}: missing protocol scheme"));
        }
        // Go parses a bare word as a path: no host, so no port.
        return Err("address : missing port in address".to_string());
    };
    if !is_scheme(scheme) {
        return Err(format!(
            "parse {text:?}: first path segment in URL cannot contain colon"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = split_host_port(hostport).map_err(|e| match e {
        HostPort::BadPort(p) => format!("parse {text:?}: invalid port {p:?} after host"),
        HostPort::Missing => format!("address {hostport}: missing port in address"),
    })?;
    let port: i64 = if random {
        -1
    } else {
        port.parse().unwrap_or(0)
    };
    let auth = match userinfo {
        None => None,
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => Some((unescape(user), unescape(pass))),
            None => return Err("expected cluster password to be set".into()),
        },
    };
    Ok((host.to_string(), port, auth))
}

enum HostPort {
    Missing,
    BadPort(String),
}

/// `host:port` or `[v6]:port`.
fn split_host_port(hp: &str) -> Result<(&str, &str), HostPort> {
    let (host, port) = if let Some(v6) = hp.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or(HostPort::Missing)?;
        (h, after.strip_prefix(':').ok_or(HostPort::Missing)?)
    } else {
        hp.rsplit_once(':').ok_or(HostPort::Missing)?
    };
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostPort::BadPort(format!(":{port}")));
    }
    Ok((host, port))
}

/// A URL whose port may be left out (a leaf node remote's): `port` then.
pub(crate) fn url_with_default_port(u: &str, port: u16) -> Result<shoal_server::RouteUrl, String> {
    let (scheme, rest) = u.split_once("://").unwrap_or(("", u));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if split_host_port(hostport).is_ok() {
        return route_url(u).map_err(|e| e.replace("route url", "remote leafnode url"));
    }
    let full = format!("{scheme}://{authority}:{port}{tail}");
    route_url(&full)
        .map(|mut r| {
            r.url = u.to_string();
            r
        })
        .map_err(|e| e.replace("route url", "remote leafnode url"))
}

/// A route URL (`nats-route://user:pass@host:port`) → what the dialer needs.
fn route_url(u: &str) -> Result<shoal_server::RouteUrl, String> {
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((i, h)) => (Some(i), h),
        None => (None, authority),
    };
    let (host, port) = match split_host_port(hostport) {
        Ok((h, p)) => (h.to_string(), p.parse().unwrap_or(0)),
        Err(_) => return Err(format!("error parsing route url [{u:?}]: missing port")),
    };
    let (user, pass) = match userinfo.map(|i| i.split_once(':').unwrap_or((i, ""))) {
        Some((us, pa)) => (Some(unescape(us)), Some(unescape(pa))),
        None => (None, None),
    };
    Ok(shoal_server::RouteUrl {
        url: u.to_string(),
        host,
        port,
        user,
        pass,
    })
}

/// Go's userinfo unescaping (`%40` → `@`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `cluster { authorization { user, password, timeout } }`: one user, no
/// token, no users list.
fn authorization(x: &Value, c: &mut ClusterSettings, report: &mut Report) {
    let Some(a) = crate::authconf::authorization(x, report) else {
        return;
    };
    if a.users.is_some() {
        report.error(
            &x.pos,
            "Cluster authorization does not allow multiple users",
        );
        return;
    }
    if a.token.is_some() {
        report.error(&x.pos, "Cluster authorization does not support tokens");
        return;
    }
    c.user = a.user;
    c.password = a.password;
    c.auth_timeout = a.timeout;
}

/// `routes: [url, …]`: duplicates warned about and dropped, each URL
/// checked as Go's `url.Parse` would refuse it.
fn routes(x: &Value, c: &mut ClusterSettings, report: &mut Report) {
    let Some(items) = x.as_array() else {
        mismatch(x, "[]interface {}", report);
        return;
    };
    for it in items {
        let Some(u) = string(it, report) else {
            return;
        };
        if c.routes.contains(&u) {
            report.warnings.push(format!(
                "{}: invalid use of field {u:?}: Duplicate route entry detected",
                it.pos
            ));
            continue;
        }
        let t = u.trim();
        if !url_parses(t) {
            report.error(&it.pos, format!("error parsing route url [{t:?}]"));
            continue;
        }
        c.routes.push(u);
    }
}

/// What Go's `url.Parse` refuses of a route URL: a colon in the first path
/// segment of a URL without a scheme (`127.0.0.1:6222`; `host:6222` is
/// scheme `host` to Go), a port that is not a number, a `%` not followed by
/// two hex digits.
fn url_parses(u: &str) -> bool {
    let bad_escape = u.match_indices('%').any(|(i, _)| {
        u.get(i + 1..i + 3)
            .is_none_or(|h| !h.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if bad_escape {
        return false;
    }
    let Some((scheme, rest)) = u.split_once("://") else {
        // No scheme: a path, whose first segment may not hold a colon.
        let first = u.split('/').next().unwrap_or("");
        return !first.contains(':')
            || first
                .split_once(':')
                .is_some_and(|(s, _)| is_scheme(s) && !s.is_empty());
    };
    if !is_scheme(scheme) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let port = if let Some(v6) = host.strip_prefix('[') {
        match v6.split_once(']') {
            Some((_, after)) => after.strip_prefix(':'),
            None => return false,
        }
    } else {
        host.rsplit_once(':').map(|(_, p)| p)
    };
    port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// `compression`: a mode name, a boolean (`true` is `s2_fast` for routes),
/// or `{mode, rtt_thresholds}`.
pub(crate) fn compression(
    key: &str,
    x: &Value,
    rtts: &mut Vec<Duration>,
    report: &mut Report,
) -> Option<String> {
    match &x.kind {
        Kind::String(s) => Some(s.clone()),
        Kind::Bool(true) => Some("s2_fast".into()),
        Kind::Bool(false) => Some("off".into()),
        Kind::Map(m) => {
            let mut mode = None;
            for (k, v) in m.iter() {
                match k.to_ascii_lowercase().as_str() {
                    "mode" => mode = string(v, report),
                    "rtt_thresholds" | "thresholds" | "rtts" | "rtt" => {
                        for t in v.as_array().unwrap_or_default() {
                            match t.as_str().map(crate::units::parse_go_duration) {
                                // At the key, as nats-server reports it.
                                Some(Err(e)) => report.error(&v.pos, e),
                                Some(Ok(d)) => rtts.push(d),
                                None => {}
                            }
                        }
                    }
                    _ if v.used_as_variable => {}
                    _ => report.error(&v.pos, format!("unknown field {k:?}")),
                }
            }
            mode
        }
        _ => {
            report.error(
                &x.pos,
                format!(
                    "field {key:?} should be a boolean or a structure, got {}",
                    x.go_type()
                ),
            );
            None
        }
    }
}

/// A string or a list of strings (`parseStringArray`).
fn string_array(x: &Value, report: &mut Report) -> Vec<String> {
    match &x.kind {
        Kind::String(s) => vec![s.clone()],
        Kind::Array(items) => items.iter().filter_map(|i| string(i, report)).collect(),
        _ => {
            report.error(
                &x.pos,
                format!("error parsing accounts: unsupported type {}", x.go_type()),
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Option<ClusterSettings>, Report) {
        let map = shoal_conf::parse_str(text, "t.conf").unwrap();
        let mut r = Report::default();
        let c = cluster(map.get("cluster").unwrap(), &mut r);
        (c, r)
    }

    #[test]
    fn a_block_is_read_with_nats_server_keys() {
        let (c, r) = run(
            "cluster {\n name: C1\n listen: 127.0.0.1:6222\n routes: [\"nats://a:6222\", \"nats://a:6222\", \"nats-route://u:p@b:6222\"]\n pool_size: 3\n compression: accept\n ping_interval: \"1m\"\n authorization { user: ru, password: rp, timeout: 2 }\n}\n",
        );
        let c = c.unwrap();
        assert_eq!(c.name.as_deref(), Some("C1"));
        assert_eq!((c.host.as_deref(), c.port), (Some("127.0.0.1"), Some(6222)));
        assert_eq!(c.routes, ["nats://a:6222", "nats-route://u:p@b:6222"]);
        assert_eq!(
            (c.user.as_deref(), c.password.as_deref()),
            (Some("ru"), Some("rp"))
        );
        let r2 = resolve(
            Some(&c),
            &ClusterFlags::default(),
            None,
            (None, None),
            "$SYS",
        )
        .unwrap()
        .unwrap();
        assert_eq!((r2.host.as_str(), r2.port), ("127.0.0.1", 6222));
        assert_eq!(r2.routes[1].host, "b");
        assert_eq!(
            (r2.routes[1].user.as_deref(), r2.routes[1].pass.as_deref()),
            (Some("u"), Some("p"))
        );
        assert_eq!(r2.auth, Some(("ru".into(), "rp".into())));
        assert_eq!(r2.ping_interval, Duration::from_secs(30));
        // Unset in the block: the server's own keepalive, capped at 30 s.
        let (c, _) = run("cluster {\n listen: 127.0.0.1:6222\n}\n");
        let k = |i, m| {
            resolve(
                c.as_ref(),
                &ClusterFlags::default(),
                None,
                (Some(i), Some(m)),
                "$SYS",
            )
            .unwrap()
            .unwrap()
        };
        let r3 = k(Duration::from_secs(5), 4);
        assert_eq!((r3.ping_interval, r3.ping_max), (Duration::from_secs(5), 4));
        assert_eq!(
            k(Duration::from_secs(120), 2).ping_interval,
            Duration::from_secs(30)
        );
        assert_eq!(
            r.warnings,
            [
                "t.conf:4:29: invalid use of field \"nats://a:6222\": Duplicate route entry detected",
                "t.conf:7:2: Cluster 'ping_interval' will reset to 30s which is the max for routes"
            ]
        );
        let (c, _) = run("cluster { name: C1 }\n");
        let none = resolve(
            c.as_ref(),
            &ClusterFlags::default(),
            None,
            (None, None),
            "$SYS",
        )
        .unwrap();
        assert!(none.is_none(), "a name alone listens for nothing");
    }

    #[test]
    fn pools_and_pinned_accounts_as_nats_server_defaults_them() {
        let resolved = |text: &str| {
            let (c, r) = run(text);
            assert!(r.errors.is_empty(), "{:?}", r.errors);
            resolve(
                c.as_ref(),
                &ClusterFlags::default(),
                None,
                (None, None),
                "SYSTEM",
            )
            .unwrap()
            .unwrap()
        };
        let d = resolved("cluster {\n listen: 127.0.0.1:6222\n accounts: [A]\n}\n");
        assert_eq!(
            (d.pool_size, &d.pinned[..]),
            (3, &["A".to_string(), "SYSTEM".into()][..])
        );
        let d =
            resolved("cluster {\n listen: 127.0.0.1:6222\n pool_size: 5\n accounts: [SYSTEM]\n}\n");
        assert_eq!(
            (d.pool_size, &d.pinned[..]),
            (5, &["SYSTEM".to_string()][..])
        );
        // No pool: no account of its own either.
        let d = resolved("cluster {\n listen: 127.0.0.1:6222\n pool_size: -1\n}\n");
        assert_eq!((d.pool_size, d.pinned.len()), (0, 0));
    }

    #[test]
    fn s2_auto_thresholds_as_nats_server_keeps_them() {
        let ms = Duration::from_millis;
        let auto = |rtts: &str| {
            let (c, r) = run(&format!(
                "cluster {{\n listen: 127.0.0.1:6222\n compression: {{ mode: auto{rtts} }}\n}}\n"
            ));
            assert!(r.errors.is_empty(), "{:?}", r.errors);
            resolve(
                c.as_ref(),
                &ClusterFlags::default(),
                None,
                (None, None),
                "$SYS",
            )
            .map(|c| c.unwrap().compression_rtt)
        };
        assert_eq!(auto(""), Ok(vec![ms(10), ms(50), ms(100)]), "the defaults");
        assert_eq!(
            auto(", rtt_thresholds: [\"0\", \"20ms\", \"0\"]"),
            Ok(vec![ms(0), ms(20)]),
            "trailing zeros dropped"
        );
        assert_eq!(
            auto(", rtt_thresholds: [\"50ms\", \"10ms\"]"),
            Err("RTT threshold values [50ms 10ms] should be in ascending order".into())
        );
        assert_eq!(
            auto(", rtt_thresholds: [\"0\"]"),
            Err("compression mode \"s2_auto\" requires at least one RTT threshold".into())
        );
    }

    #[test]
    fn cluster_flags_as_override_cluster_reads_them() {
        let flags = |listen: &str, routes: Option<&str>| ClusterFlags {
            listen: Some(listen.into()),
            routes: routes.map(str::to_string),
            ..ClusterFlags::default()
        };
        let ok = resolve(
            None,
            &flags("nats://u:p@127.0.0.1:-1", Some("nats://a:1, nats://b:2")),
            Some("C9"),
            (None, None),
            "$SYS",
        )
        .unwrap()
        .unwrap();
        assert_eq!((ok.host.as_str(), ok.port), ("127.0.0.1", -1));
        assert_eq!(ok.auth, Some(("u".into(), "p".into())));
        assert_eq!(ok.routes.len(), 2);
        assert_eq!(ok.name.as_deref(), Some("C9"));
        for (listen, err) in [
            ("nats://h", "address h: missing port in address"),
            ("nats://u@h:1", "expected cluster password to be set"),
            ("::bad", "parse \"::bad\": missing protocol scheme"),
            (
                "nats://127.0.0.1:x",
                "parse \"nats://127.0.0.1:x\": invalid port \":x\" after host",
            ),
        ] {
            assert_eq!(
                resolve(None, &flags(listen, None), None, (None, None), "$SYS").unwrap_err(),
                err,
                "{listen}"
            );
        }
        let routes_only = ClusterFlags {
            routes: Some("nats://a:1".into()),
            ..ClusterFlags::default()
        };
        assert_eq!(
            resolve(None, &routes_only, None, (None, None), "$SYS").unwrap_err(),
            "solicited routes require cluster capabilities, e.g. --cluster"
        );
        assert!(
            resolve(None, &flags("", None), None, (None, None), "$SYS")
                .unwrap()
                .is_none(),
            "--cluster \"\" is off"
        );
    }

    #[test]
    fn problems_in_nats_server_words() {
        let (_, r) = run("cluster {\n authorization { users: [{user: a, password: b}] }\n}\n");
        assert_eq!(
            r.errors,
            ["t.conf:2:2: Cluster authorization does not allow multiple users"]
        );
        // "h:6222" is a URL to Go (scheme h); an IP and port is not.
        let (_, r) = run(
            "cluster {\n routes: [\"h:6222\", \"127.0.0.1:6222\", \"nats://h:x\"]\n name: \"a b\"\n}\n",
        );
        assert_eq!(
            r.errors,
            [
                "t.conf:2:22: error parsing route url [\"127.0.0.1:6222\"]",
                "t.conf:2:40: error parsing route url [\"nats://h:x\"]",
                "t.conf:3:2: cluster name cannot contain spaces"
            ]
        );
        let (c, _) = run("cluster { accounts: [A, A] }\n");
        assert_eq!(
            validate(&c.unwrap()).unwrap_err(),
            "found duplicate account name \"A\" in pinned accounts list [\"A\" \"A\"]"
        );
        let (c, _) = run("cluster { compression: s3 }\n");
        assert_eq!(
            validate(&c.unwrap()).unwrap_err(),
            "unsupported compression mode \"s3\""
        );
        assert!(url_parses("nats://u:p@[::1]:6222"));
        assert!(url_parses("localhost"));
        assert!(!url_parses("nats://[::1:6222"));
    }
}
