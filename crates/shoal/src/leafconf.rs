//! The `leafnodes {}` block (alias `leaf`) → [`LeafSettings`], as
//! nats-server's `parseLeafNodes` and `parseRemoteLeafNodes` read it, and
//! the runtime's [`shoal_server::Leaf`] ([`resolve`]).
//!
//! Shoal is a hub (`listen`/`port`, `host`, `advertise`, `no_advertise`,
//! `authorization { user, password, account, users, timeout }`) and a
//! leaf node of hubs (`remotes`: a remote's `url`/`urls` — `nats-leaf://`,
//! `nats://`, user and password or a token from the userinfo —,
//! `account`, `credentials` or `nkey`, `deny_imports`/`deny_exports`,
//! `tls {}` or `tls://`, `compression`, `no_randomize`, `hub`,
//! `ignore_discovered_servers`, `reconnect`); the
//! hub's `tls {}` and `compression` (both `s2_auto` by default, as in
//! nats-server). What Shoal does not do yet is refused by name, never
//! ignored: WebSocket URLs, a proxy, and nkeys in the leaf listener's
//! authorization.

use std::time::Duration;

use shoal_conf::{Kind, Value};

use crate::report::{boolean, int, string, Report};

/// nats-server's leaf port, for a URL without one.
const DEFAULT_PORT: u16 = 7422;

/// What the file's `leafnodes` block says.
#[derive(Debug, Clone, Default)]
pub struct LeafSettings {
    pub remotes: Vec<RemoteSettings>,
    pub reconnect: Option<Duration>,
    pub host: Option<String>,
    pub port: Option<i64>,
    pub advertise: Option<String>,
    pub no_advertise: bool,
    pub auth: shoal_server::LeafAuth,
    pub tls: Option<shoal_server::LeafTls>,
    pub compression: Option<shoal_server::LeafCompression>,
}

#[derive(Debug, Clone, Default)]
pub struct RemoteSettings {
    pub urls: Vec<shoal_server::RouteUrl>,
    pub account: Option<String>,
    pub deny_imports: Vec<String>,
    pub deny_exports: Vec<String>,
    pub tls: Option<shoal_server::LeafTls>,
    /// A `tls://` URL: TLS even without a `tls {}` block.
    pub tls_url: bool,
    pub credentials: Option<String>,
    pub nkey: Option<String>,
    pub compression: Option<shoal_server::LeafCompression>,
    /// `hub: true`: this server takes the hub's role on the link.
    pub hub: bool,
    /// `ignore_discovered_servers`: dial the configured URLs only.
    pub ignore_discovered: bool,
}

/// A string or a list of strings, each with its place in the file;
/// anything else is reported with `what`'s text and gives none.
fn strings<'v>(x: &'v Value, what: &str, report: &mut Report) -> Option<Vec<(String, &'v Value)>> {
    match &x.kind {
        Kind::String(s) => Some(vec![(s.clone(), x)]),
        Kind::Array(a) => Some(
            a.iter()
                .filter_map(|i| string(i, report).map(|s| (s, i)))
                .collect(),
        ),
        _ => {
            report.error(&x.pos, format!("{what}, got {}", x.go_type()));
            None
        }
    }
}

/// A deny list: a subject or a list of them, each a valid subject
/// (nats-server's `checkPermSubjectArray`).
fn subjects(x: &Value, report: &mut Report) -> Vec<String> {
    let Some(items) = strings(x, "Expected a string or an array of strings", report) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (s, at) in items {
        if shoal_subject::is_valid_subscribe_subject(s.as_bytes()) {
            out.push(s);
        } else {
            report.error(
                &at.pos,
                format!("invalid subject {s:?} in leafnode remote deny list"),
            );
        }
    }
    out
}

/// Parses the `leafnodes` block.
pub fn leafnodes(v: &Value, report: &mut Report) -> Option<LeafSettings> {
    let Some(m) = v.as_map() else {
        report.error(
            &v.pos,
            format!("Expected map to define a leafnode, got {}", v.go_type()),
        );
        return None;
    };
    let mut l = LeafSettings::default();
    let before = report.errors.len();
    for (k, x) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "remotes" => l.remotes = remotes(x, report),
            "reconnect" | "reconnect_delay" | "reconnect_interval" => {
                l.reconnect = crate::report::duration("reconnect", x, report)
            }
            "listen" => {
                if let Some((host, port)) = crate::report::listen(x, report) {
                    l.host = host;
                    l.port = Some(port);
                }
            }
            "port" => l.port = int(x, report),
            "host" | "net" => l.host = string(x, report),
            "advertise" | "leafnode_advertise" => l.advertise = string(x, report),
            "no_advertise" => l.no_advertise = boolean(x, report).unwrap_or(false),
            "authorization" => authorization(x, &mut l.auth, report),
            "tls" => l.tls = crate::tlsconf::leaf_tls(x, true, report),
            "min_version"
            | "minimum_version"
            | "isolate_leafnode_interest"
            | "isolate"
            | "write_deadline"
            | "write_timeout"
            | "dial_timeout" => not_yet(&format!("leafnodes {k}"), x, report),
            "compression" => l.compression = compression(k, x, report),
            _ if x.used_as_variable => {}
            _ => report.error(&x.pos, format!("unknown field {k:?}")),
        }
    }
    (report.errors.len() == before).then_some(l)
}

/// `authorization {}` of the leaf listener.
fn authorization(x: &Value, a: &mut shoal_server::LeafAuth, report: &mut Report) {
    let Some(m) = x.as_map() else {
        report.error(
            &x.pos,
            format!("Expected authorization to be a map, got {}", x.go_type()),
        );
        return;
    };
    let (mut user, mut pass) = (None, None);
    for (k, y) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "user" | "username" => user = string(y, report),
            "pass" | "password" => pass = string(y, report),
            "account" => a.account = string(y, report),
            "timeout" => {
                let secs = match &y.kind {
                    Kind::Integer(n) => *n as f64,
                    Kind::Float(f) => *f,
                    _ => {
                        report.error(&y.pos, "error parsing leafnode authorization timeout");
                        0.0
                    }
                };
                a.timeout = Duration::try_from_secs_f64(secs)
                    .ok()
                    .filter(|d| !d.is_zero());
            }
            "users" => a.users = users(y, report),
            "nkey" | "proxy_required" => {
                not_yet(&format!("leafnodes authorization {k}"), y, report)
            }
            _ if y.used_as_variable => {}
            _ => report.error(&y.pos, format!("unknown field {k:?}")),
        }
    }
    if let Some(u) = user {
        a.user = Some((u, pass.unwrap_or_default()));
    }
}

/// `users: [ { user, password, account } ]` of the leaf listener.
fn users(x: &Value, report: &mut Report) -> Vec<shoal_server::LeafUser> {
    let Kind::Array(items) = &x.kind else {
        report.error(
            &x.pos,
            format!("Expected users field to be an array, got {}", x.go_type()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in items {
        let Some(m) = i.as_map() else {
            report.error(&i.pos, "Expected user entry to be a map/struct");
            continue;
        };
        let mut u = shoal_server::LeafUser {
            user: String::new(),
            pass: String::new(),
            account: None,
        };
        for (k, y) in m.iter() {
            match k.to_ascii_lowercase().as_str() {
                "user" | "username" => u.user = string(y, report).unwrap_or_default(),
                "pass" | "password" => u.pass = string(y, report).unwrap_or_default(),
                "account" => u.account = string(y, report),
                "nkey" | "permissions" | "proxy_required" => {
                    not_yet(&format!("leafnodes authorization users {k}"), y, report)
                }
                _ if y.used_as_variable => {}
                _ => report.error(&y.pos, format!("unknown field {k:?}")),
            }
        }
        out.push(u);
    }
    out
}

fn not_yet(what: &str, x: &Value, report: &mut Report) {
    report.error(
        &x.pos,
        format!("{what:?} is not supported by this version of shoal yet"),
    );
}

/// Only `off` (and its synonyms) is done: this side never compresses.
/// `compression`: a mode (`on` and `true` are `s2_auto` for leaf nodes),
/// or `{ mode, rtt_thresholds }`; checked as nats-server's
/// `validateAndNormalizeCompressionOption` checks it. Unset: `s2_auto`.
fn compression(k: &str, x: &Value, report: &mut Report) -> Option<shoal_server::LeafCompression> {
    let mut rtts = Vec::new();
    let mode = match &x.kind {
        Kind::Bool(true) => "s2_auto".to_string(),
        _ => crate::clusterconf::compression(k, x, &mut rtts, report)?,
    };
    if let Err(e) = crate::clusterconf::check_mode(&mode) {
        report.error(&x.pos, e);
        return None;
    }
    let mode = match mode.to_ascii_lowercase().as_str() {
        "on" | "enabled" | "true" => "s2_auto".to_string(),
        m => crate::clusterconf::normalized_compression(Some(m)),
    };
    match crate::clusterconf::thresholds(&mode, &rtts) {
        Ok(rtt) => Some(shoal_server::LeafCompression { mode, rtt }),
        Err(e) => {
            report.error(&x.pos, e);
            None
        }
    }
}

fn remotes(v: &Value, report: &mut Report) -> Vec<RemoteSettings> {
    let Kind::Array(items) = &v.kind else {
        report.error(
            &v.pos,
            format!("Expected remotes field to be an array, got {}", v.go_type()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in items {
        let Some(m) = r.as_map() else {
            report.error(
                &r.pos,
                format!(
                    "Expected remote leafnode entry to be a map/struct, got {}",
                    r.go_type()
                ),
            );
            continue;
        };
        let mut remote = RemoteSettings::default();
        for (k, x) in m.iter() {
            match k.to_ascii_lowercase().as_str() {
                "url" | "urls" => {
                    let (u, tls) = urls(x, report);
                    remote.urls = u;
                    remote.tls_url = tls;
                }
                "account" | "local" => remote.account = string(x, report),
                "no_randomize" | "dont_randomize" => {
                    boolean(x, report);
                }
                "disabled" => {
                    if boolean(x, report) == Some(true) {
                        not_yet("leafnodes remote disabled", x, report);
                    }
                }
                "compression" => remote.compression = compression(k, x, report),
                "deny_imports" | "deny_import" => remote.deny_imports = subjects(x, report),
                "deny_exports" | "deny_export" => remote.deny_exports = subjects(x, report),
                "tls" => remote.tls = crate::tlsconf::leaf_tls(x, false, report),
                "creds" | "credentials" => match string(x, report) {
                    Some(_) if remote.nkey.is_some() => report.error(
                        &x.pos,
                        "Remote leafnode can not have both creds and nkey defined",
                    ),
                    Some(p) => remote.credentials = Some(p),
                    None => {}
                },
                "nkey" | "seed" => match string(x, report) {
                    Some(s) if !shoal_auth::nkey::is_valid_user_seed(&s) => report.error(
                        &x.pos,
                        format!("Remote leafnode nkey is not a valid seed: {s:?}"),
                    ),
                    Some(_) if remote.credentials.is_some() => report.error(
                        &x.pos,
                        "Remote leafnode can not have both creds and nkey defined",
                    ),
                    Some(s) => remote.nkey = Some(s),
                    None => {}
                },
                "hub" => remote.hub = boolean(x, report).unwrap_or(false),
                "ignore_discovered_servers" => {
                    remote.ignore_discovered = boolean(x, report).unwrap_or(false)
                }
                "ws_compress"
                | "ws_compression"
                | "websocket_compress"
                | "websocket_compression"
                | "ws_no_masking"
                | "websocket_no_masking"
                | "jetstream_cluster_migrate"
                | "js_cluster_migrate"
                | "isolate_leafnode_interest"
                | "isolate"
                | "request_isolation"
                | "first_info_timeout"
                | "dial_timeout"
                | "proxy" => not_yet(&format!("leafnodes remote {k}"), x, report),
                _ if x.used_as_variable => {}
                _ => report.error(&x.pos, format!("unknown field {k:?}")),
            }
        }
        out.push(remote);
    }
    out
}

/// `url`/`urls`: a string or a list; each `scheme://[userinfo@]host[:port]`.
/// Also whether a URL is `tls://`.
fn urls(x: &Value, report: &mut Report) -> (Vec<shoal_server::RouteUrl>, bool) {
    let what = "Expected remote leafnode url to be an array or string";
    let Some(texts) = strings(x, what, report) else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    let mut tls = false;
    for (u, at) in texts {
        let scheme = u
            .split_once("://")
            .map_or("", |(s, _)| s)
            .to_ascii_lowercase();
        match scheme.as_str() {
            "nats-leaf" | "nats" | "" => {}
            "tls" => tls = true,
            "ws" | "wss" => {
                not_yet(
                    &format!("leafnodes remote url scheme {scheme}://"),
                    at,
                    report,
                );
                continue;
            }
            other => {
                report.error(
                    &at.pos,
                    format!("error parsing remote leafnode url: unsupported scheme {other:?}"),
                );
                continue;
            }
        }
        match crate::clusterconf::url_with_default_port(&u, DEFAULT_PORT) {
            Ok(r) => out.push(r),
            Err(e) => report.error(&at.pos, e),
        }
    }
    (out, tls)
}

/// The runtime's remotes, checked against the rest of the configuration:
/// each remote's account exists.
pub fn resolve(
    l: Option<&LeafSettings>,
    accounts: &[String],
) -> Result<Option<std::sync::Arc<shoal_server::Leaf>>, String> {
    let Some(l) = l else {
        return Ok(None);
    };
    let remotes: Vec<&RemoteSettings> = l.remotes.iter().filter(|r| !r.urls.is_empty()).collect();
    // nats-server: port 0 (or none) is no listener.
    let listen = l
        .port
        .filter(|&p| p != 0)
        .map(|p| shoal_server::LeafListen {
            host: l
                .host
                .clone()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "0.0.0.0".into()),
            port: p.clamp(-1, 65535) as i32,
            advertise: l.advertise.clone().filter(|a| !a.is_empty()),
            no_advertise: l.no_advertise,
            auth: l.auth.clone(),
            tls: l.tls.clone(),
            compression: l.compression.clone().unwrap_or_default(),
        });
    if remotes.is_empty() && listen.is_none() {
        return Ok(None);
    }
    let known = |a: &str| a == "$G" || accounts.iter().any(|x| x == a);
    if let Some(l) = &listen {
        let bound = l
            .auth
            .account
            .iter()
            .chain(l.auth.users.iter().filter_map(|u| u.account.as_ref()));
        for a in bound {
            if !known(a) {
                return Err(format!(
                    "cannot find local account {a:?} specified in leafnode authorization"
                ));
            }
        }
    }
    let mut out = Vec::new();
    for r in remotes {
        let account = r
            .account
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "$G".into());
        if !known(&account) {
            return Err(format!(
                "cannot find local account {account:?} specified in leafnode remote"
            ));
        }
        out.push(shoal_server::LeafRemote {
            urls: r.urls.clone(),
            account,
            deny_imports: r.deny_imports.clone(),
            deny_exports: r.deny_exports.clone(),
            credentials: r.credentials.clone(),
            nkey: r.nkey.clone(),
            compression: r.compression.clone().unwrap_or_default(),
            hub: r.hub,
            ignore_discovered: r.ignore_discovered,
            tls: match (&r.tls, r.tls_url) {
                (Some(t), _) => Some(t.clone()),
                (None, true) => crate::tlsconf::leaf_default_client(),
                (None, false) => None,
            },
        });
    }
    Ok(Some(std::sync::Arc::new(shoal_server::Leaf {
        remotes: out,
        listen,
        reconnect: l
            .reconnect
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(1)),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Option<LeafSettings>, Report) {
        let map = shoal_conf::parse_str(text, "t.conf").unwrap();
        let mut r = Report::default();
        let l = leafnodes(map.get("leafnodes").unwrap(), &mut r);
        (l, r)
    }

    #[test]
    fn remotes_and_their_urls() {
        let (l, r) = run(
            "leafnodes { reconnect: \"2s\", remotes: [ { urls: [\"nats-leaf://u:p@hub1\", \"nats://tok@hub2:7000\"], account: A } ] }",
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let l = l.unwrap();
        assert_eq!(l.reconnect, Some(Duration::from_secs(2)));
        let u = &l.remotes[0].urls;
        assert_eq!((u[0].host.as_str(), u[0].port), ("hub1", 7422));
        assert_eq!(
            (u[0].user.as_deref(), u[0].pass.as_deref()),
            (Some("u"), Some("p"))
        );
        assert_eq!((u[1].port, u[1].user.as_deref()), (7000, Some("tok")));
        assert_eq!(l.remotes[0].account.as_deref(), Some("A"));
        let ok = resolve(Some(&l), &["$G".into(), "A".into()])
            .unwrap()
            .unwrap();
        assert_eq!(ok.remotes[0].account, "A");
        assert_eq!(
            resolve(Some(&l), &[]).unwrap_err(),
            "cannot find local account \"A\" specified in leafnode remote"
        );
        assert!(resolve(Some(&l), &["A".into()]).is_ok());
    }

    #[test]
    fn what_is_not_done_is_refused_by_name() {
        for (text, want) in [
            (
                "leafnodes { port: 7422, min_version: \"2.8.0\" }",
                "\"leafnodes min_version\" is not supported",
            ),
            (
                "leafnodes { remotes: [ { url: \"nats://h\", proxy: { url: \"http://p\" } } ] }",
                "\"leafnodes remote proxy\" is not supported",
            ),
            (
                "leafnodes { remotes: [ { url: \"ws://h\" } ] }",
                "\"leafnodes remote url scheme ws://\" is not supported",
            ),
            (
                "leafnodes { compression: zstd }",
                "unsupported compression mode \"zstd\"",
            ),
            (
                "leafnodes { remotes: [ { url: \"nats://a\", bogus: 1 } ] }",
                "unknown field \"bogus\"",
            ),
        ] {
            let (_, r) = run(text);
            assert!(
                r.errors.iter().any(|e| e.contains(want)),
                "{text}: {:?}",
                r.errors
            );
        }
        let (l, r) = run("leafnodes { compression: off, remotes: [] }");
        assert!(r.errors.is_empty() && l.is_some(), "{:?}", r.errors);
    }

    #[test]
    fn a_hub_its_users_and_a_remotes_deny_lists() {
        let (l, r) = run(
            "leafnodes { listen: \"127.0.0.1:7500\", no_advertise: true, authorization { users: [ { user: a, password: b, account: A } ], timeout: 1.5 }, remotes: [ { url: \"tls://h:7000\", deny_imports: \"x.*\", deny_exports: [\"y.>\", \"z\"] } ] }",
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let l = l.unwrap();
        assert_eq!((l.host.as_deref(), l.port), (Some("127.0.0.1"), Some(7500)));
        assert!(l.no_advertise);
        assert_eq!(l.auth.users[0].account.as_deref(), Some("A"));
        assert_eq!(l.auth.timeout, Some(Duration::from_millis(1500)));
        let remote = &l.remotes[0];
        assert!(remote.tls_url);
        assert_eq!(remote.deny_imports, ["x.*"]);
        assert_eq!(remote.deny_exports, ["y.>", "z"]);
        assert_eq!(
            resolve(Some(&l), &[]).unwrap_err(),
            "cannot find local account \"A\" specified in leafnode authorization"
        );
        let ok = resolve(Some(&l), &["A".into()]).unwrap().unwrap();
        assert_eq!(ok.listen.as_ref().unwrap().port, 7500);
        assert!(ok.remotes[0].tls.is_some());
        let (_, r) =
            run("leafnodes { remotes: [ { url: \"nats://h\", deny_imports: \"bad..subject\" } ] }");
        assert!(
            r.errors.iter().any(|e| e.contains("invalid subject")),
            "{:?}",
            r.errors
        );
    }
}
