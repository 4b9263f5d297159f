//! The `leafnodes {}` block (alias `leaf`) → [`LeafSettings`], as
//! nats-server's `parseLeafNodes` and `parseRemoteLeafNodes` read it, and
//! the runtime's [`shoal_server::Leaf`] ([`resolve`]).
//!
//! Shoal is a leaf node of hubs (`remotes`): a remote's `url`/`urls`
//! (`nats-leaf://`, `nats://`; user and password, or a token, from the
//! userinfo), `account`, `no_randomize`, `reconnect`, and compression
//! `off`. What Shoal does not do yet is refused by name, never ignored:
//! accepting leaf connections (`listen`, `port` and the rest of the hub's
//! keys), a remote's credentials file, nkey, TLS (`tls`, `tls://`),
//! WebSocket URLs, `deny_imports`/`deny_exports`, `hub`, compression, more
//! than one remote, and leaf nodes on a cluster node.

use std::time::Duration;

use shoal_conf::{Kind, Value};

use crate::report::{boolean, string, Report};

/// nats-server's leaf port, for a URL without one.
const DEFAULT_PORT: u16 = 7422;

/// What the file's `leafnodes` block says.
#[derive(Debug, Clone, Default)]
pub struct LeafSettings {
    pub remotes: Vec<RemoteSettings>,
    pub reconnect: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct RemoteSettings {
    pub urls: Vec<shoal_server::RouteUrl>,
    pub account: Option<String>,
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
            // Accepting leaf connections (a hub's listener and its keys).
            "listen"
            | "port"
            | "host"
            | "net"
            | "authorization"
            | "advertise"
            | "leafnode_advertise"
            | "no_advertise"
            | "tls"
            | "min_version"
            | "minimum_version"
            | "isolate_leafnode_interest"
            | "isolate"
            | "write_deadline"
            | "write_timeout"
            | "dial_timeout" => not_yet(&format!("leafnodes {k}"), x, report),
            "compression" => compression(k, x, report),
            _ if x.used_as_variable => {}
            _ => report.error(&x.pos, format!("unknown field {k:?}")),
        }
    }
    if l.remotes.len() > 1 {
        report.error(
            &v.pos,
            "more than one leafnode remote is not supported by this version of shoal yet",
        );
    }
    (report.errors.len() == before).then_some(l)
}

fn not_yet(what: &str, x: &Value, report: &mut Report) {
    report.error(
        &x.pos,
        format!("{what:?} is not supported by this version of shoal yet"),
    );
}

/// Only `off` (and its synonyms) is done: this side never compresses.
fn compression(k: &str, x: &Value, report: &mut Report) {
    let off = match &x.kind {
        Kind::Bool(b) => !*b,
        Kind::String(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "off" | "disabled" | "false"
        ),
        _ => false,
    };
    if !off {
        not_yet(&format!("leafnodes {k}"), x, report);
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
                "url" | "urls" => remote.urls = urls(x, report),
                "account" | "local" => remote.account = string(x, report),
                "no_randomize" | "dont_randomize" => {
                    boolean(x, report);
                }
                "disabled" => {
                    if boolean(x, report) == Some(true) {
                        not_yet("leafnodes remote disabled", x, report);
                    }
                }
                "compression" => compression(k, x, report),
                "creds"
                | "credentials"
                | "nkey"
                | "seed"
                | "tls"
                | "hub"
                | "deny_imports"
                | "deny_import"
                | "deny_exports"
                | "deny_export"
                | "ws_compress"
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
                | "proxy"
                | "ignore_discovered_servers" => {
                    not_yet(&format!("leafnodes remote {k}"), x, report)
                }
                _ if x.used_as_variable => {}
                _ => report.error(&x.pos, format!("unknown field {k:?}")),
            }
        }
        out.push(remote);
    }
    out
}

/// `url`/`urls`: a string or a list; each `scheme://[userinfo@]host[:port]`.
fn urls(x: &Value, report: &mut Report) -> Vec<shoal_server::RouteUrl> {
    let texts: Vec<(String, &Value)> = match &x.kind {
        Kind::String(s) => vec![(s.clone(), x)],
        Kind::Array(items) => items
            .iter()
            .filter_map(|i| string(i, report).map(|s| (s, i)))
            .collect(),
        _ => {
            report.error(
                &x.pos,
                format!(
                    "Expected remote leafnode url to be an array or string, got {}",
                    x.go_type()
                ),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (u, at) in texts {
        let scheme = u
            .split_once("://")
            .map_or("", |(s, _)| s)
            .to_ascii_lowercase();
        match scheme.as_str() {
            "nats-leaf" | "nats" | "" => {}
            "tls" | "ws" | "wss" => {
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
    out
}

/// The runtime's remotes, checked against the rest of the configuration:
/// each remote's account exists, and the server is not a cluster node.
pub fn resolve(
    l: Option<&LeafSettings>,
    accounts: &[String],
    cluster: bool,
) -> Result<Option<std::sync::Arc<shoal_server::Leaf>>, String> {
    let Some(l) = l else {
        return Ok(None);
    };
    let remotes: Vec<&RemoteSettings> = l.remotes.iter().filter(|r| !r.urls.is_empty()).collect();
    if remotes.is_empty() {
        return Ok(None);
    }
    if cluster {
        return Err(
            "leafnodes on a cluster node are not supported by this version of shoal yet".into(),
        );
    }
    let mut out = Vec::new();
    for r in remotes {
        let account = r
            .account
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "$G".into());
        let known = account == "$G" || accounts.contains(&account);
        if !known {
            return Err(format!(
                "cannot find local account {account:?} specified in leafnode remote"
            ));
        }
        out.push(shoal_server::LeafRemote {
            urls: r.urls.clone(),
            account,
        });
    }
    Ok(Some(std::sync::Arc::new(shoal_server::Leaf {
        remotes: out,
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
        let ok = resolve(Some(&l), &["$G".into(), "A".into()], false)
            .unwrap()
            .unwrap();
        assert_eq!(ok.remotes[0].account, "A");
        assert_eq!(
            resolve(Some(&l), &[], false).unwrap_err(),
            "cannot find local account \"A\" specified in leafnode remote"
        );
        assert!(resolve(Some(&l), &["A".into()], true).is_err());
    }

    #[test]
    fn what_is_not_done_is_refused_by_name() {
        for (text, want) in [
            (
                "leafnodes { port: 7422 }",
                "\"leafnodes port\" is not supported",
            ),
            (
                "leafnodes { remotes: [ { url: \"nats://h\", credentials: \"/x.creds\" } ] }",
                "\"leafnodes remote credentials\" is not supported",
            ),
            (
                "leafnodes { remotes: [ { url: \"tls://h\" } ] }",
                "\"leafnodes remote url scheme tls://\" is not supported",
            ),
            (
                "leafnodes { compression: s2_auto }",
                "\"leafnodes compression\" is not supported",
            ),
            (
                "leafnodes { remotes: [ { url: \"nats://a\" }, { url: \"nats://b\" } ] }",
                "more than one leafnode remote",
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
}
