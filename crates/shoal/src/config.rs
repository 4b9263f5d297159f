//! Configuration file keys → [`Settings`], with nats-server's names, aliases,
//! types and messages (`processConfigFileLine` in nats-server's opts.go).
//!
//! Every top-level key is one of:
//! * **mapped** to a setting (the core server keys and Shoal's `cores` and
//!   `ring_capacity`); names match case-insensitively, as in nats-server;
//! * **accepted and harmless**: keys that only tune a feature that is off, or
//!   change nothing observable here (see [`HARMLESS`]);
//! * **gated**: keys of features Shoal does not have yet, accepted while their
//!   value leaves the feature off (`jetstream: false`, `syslog: false`,
//!   `prof_port: 0`), as nats-server then ignores them too, and refused
//!   when they would turn it on (see [`gated`]); `cluster` is checked in
//!   full (`clusterconf.rs`) and refused only when it listens or dials;
//! * **refused**: keys of nats-server features Shoal does not have yet
//!   (`"https" is not supported by this version of shoal yet`) — never ignored,
//!   since a server running without the TLS, auth or cluster its file asks for
//!   would be worse than one that does not start;
//! * **unknown**: `unknown field "x"`, unless the key was only used as a
//!   `$variable` (nats-server's rule).
//!
//! Problems are collected, not returned at the first: warnings (unquoted
//! durations) and errors, each with the file, line and column of its key.

use std::time::Duration;

use shoal_conf::{Kind, Map, Value};

pub use crate::report::Report;
use crate::report::{boolean, duration, int, listen, string};
use crate::settings::Settings;
use crate::units;

/// Keys Shoal accepts without acting on them, and why that is honest: each
/// only tunes a feature that is off here (as it is in nats-server until that
/// feature is configured), or changes nothing observable.
/// * `server_tags`, `server_metadata`: informational labels.
/// * `disable_sublist_cache`/`no_sublist_cache`: a cache tuning knob; Shoal's
///   match cache is per core and always on.
/// * `no_fast_producer_stall`: Shoal never stalls a producer (design.md).
/// * `connect_error_reports`, `reconnect_error_reports`: log throttling for
///   routes, gateways and leaf nodes, which Shoal does not have.
/// * `ocsp_cache`: OCSP responses' cache; OCSP stapling is gated (`ocsp`).
/// * `no_system_account` (and aliases): Shoal has no `$SYS` account of its
///   own (a `system_account` it names is still honoured, as in nats-server).
/// * `logfile_max_num`/`log_max_num`: rotation count; rotation is gated.
/// * `prof_block_rate`: profiling; the profiling port is gated.
/// * `default_js_domain`, `feature_flags`: JetStream settings.
const HARMLESS: &[&str] = &[
    "server_tags",
    "server_metadata",
    "disable_sublist_cache",
    "no_sublist_cache",
    "no_fast_producer_stall",
    "connect_error_reports",
    "reconnect_error_reports",
    "ocsp_cache",
    "no_system_account",
    "no_system",
    "no_sys_acc",
    "logfile_max_num",
    "log_max_num",
    "prof_block_rate",
    "default_js_domain",
    "feature_flags",
];

/// Keys of features Shoal does not have yet that are accepted while their
/// value leaves the feature off (nats-server then does nothing with them) and
/// refused by name when they would turn it on. `None` for keys that are not
/// gated; `Some(on)` says whether `v` would turn the feature on.
fn gated(key: &str, v: &Value) -> Option<bool> {
    let empty_map = matches!(&v.kind, Kind::Map(m) if m.is_empty());
    let empty_list = matches!(&v.kind, Kind::Array(a) if a.is_empty());
    let on = match key {
        "syslog" | "proxy_protocol" | "ocsp" => v.as_bool() != Some(false),
        "remote_syslog" => v.as_str() != Some(""),
        "logfile_size_limit" | "log_size_limit" | "prof_port" | "https_port" => {
            v.as_i64() != Some(0)
        }
        "http_base_path" => !matches!(v.as_str(), Some("" | "/")),
        "gateway" | "mqtt" | "proxies" => !(empty_map || empty_list),
        _ => return None,
    };
    Some(on)
}

/// nats-server's keys for features Shoal does not have yet, refused whatever
/// their value (besides the [`gated`] ones, refused when they turn one on).
const NOT_YET: &[&str] = &["resolver_tls", "https"];

/// Apply every top-level key of `map` to `s`.
pub fn apply(map: &Map, s: &mut Settings, report: &mut Report) {
    for (key, v) in map.iter() {
        let lower = key.to_ascii_lowercase();
        let pos = &v.pos;
        let ok = match lower.as_str() {
            "listen" => listen(v, report).map(|(host, port)| {
                if let Some(host) = host {
                    s.host = Some(host);
                }
                s.port = Some(port);
            }),
            "host" | "net" => string(v, report).map(|h| s.host = Some(h)),
            "port" => int(v, report).map(|p| s.port = Some(p)),
            "server_name" => string(v, report).and_then(|n| {
                if n.contains(' ') {
                    report.error(pos, "server name cannot contain spaces");
                    return None;
                }
                s.server_name = Some(n);
                Some(())
            }),
            "max_payload" => int(v, report).and_then(|n| {
                if n > i64::from(i32::MAX) {
                    report.error(pos, format!("{lower} value is too big"));
                    return None;
                }
                s.max_payload = Some(n);
                Some(())
            }),
            "max_pending" => int(v, report).map(|n| s.max_pending = Some(n)),
            "max_control_line" => int(v, report).and_then(|n| {
                if n > i64::from(i32::MAX) {
                    report.error(pos, format!("{lower} value is too big"));
                    return None;
                }
                s.max_control_line = Some(n);
                Some(())
            }),
            "max_connections" | "max_conn" => int(v, report).map(|n| s.max_connections = Some(n)),
            "max_subscriptions" | "max_subs" => {
                int(v, report).map(|n| s.max_subscriptions = Some(n))
            }
            "ping_interval" => duration(&lower, v, report).map(|d| s.ping_interval = Some(d)),
            "ping_max" => int(v, report).map(|n| s.ping_max = Some(n)),
            "write_deadline" => duration(&lower, v, report).map(|d| s.write_deadline = Some(d)),
            "lame_duck_duration" => string(v, report).and_then(|t| {
                let d = match units::parse_go_duration(&t) {
                    Ok(d) => d,
                    Err(e) => {
                        report.error(pos, format!("error parsing lame_duck_duration: {e}"));
                        return None;
                    }
                };
                if d < Duration::from_secs(30) {
                    report.error(
                        pos,
                        format!(
                            "invalid lame_duck_duration of {}, minimum is 30 seconds",
                            shoal_go::duration(d)
                        ),
                    );
                    return None;
                }
                s.lame_duck_duration = Some(d);
                Some(())
            }),
            "lame_duck_grace_period" => {
                string(v, report).and_then(|t| match units::parse_go_duration(&t) {
                    Ok(d) => {
                        s.lame_duck_grace_period = Some(d);
                        Some(())
                    }
                    Err(e) if t.starts_with('-') => {
                        let _ = e;
                        report.error(pos, "invalid lame_duck_grace_period, needs to be positive");
                        None
                    }
                    Err(e) => {
                        report.error(pos, format!("error parsing lame_duck_grace_period: {e}"));
                        None
                    }
                })
            }
            "authorization" => crate::authconf::authorization(v, report).map(|a| s.auth = Some(a)),
            "tls" => crate::tlsconf::tls(v, report).map(|t| s.tls = Some(t)),
            "websocket" | "ws" => {
                crate::wsconf::websocket(v, report).map(|w| s.websocket = Some(w))
            }
            "jetstream" => crate::jsconf::jetstream(v, report).map(|j| s.jetstream = Some(j)),
            "store_dir" | "storedir" => string(v, report).map(|d| s.store_dir = Some(d)),
            "leafnodes" | "leaf" => {
                crate::leafconf::leafnodes(v, report).map(|l| s.leafnodes = Some(l))
            }
            "cluster" => crate::clusterconf::cluster(v, report).map(|c| {
                // A name alone is INFO's `cluster`, as in nats-server; a
                // listener makes this server a cluster node.
                if c.name.is_some() {
                    s.cluster_name = c.name.clone();
                }
                s.cluster = Some(c);
            }),
            "allow_non_tls" => boolean(v, report).map(|b| s.allow_non_tls = Some(b)),
            "no_auth_user" => string(v, report).map(|u| s.no_auth_user = Some(u)),
            "accounts" => {
                let known = s.operator.known.clone();
                crate::accountsconf::accounts(v, &known, report).map(|a| s.accounts = Some(a))
            }
            "operator" | "operators" | "root" | "roots" | "root_operators" | "root_operator" => {
                crate::operatorconf::operators(v, &mut s.operator, report);
                Some(())
            }
            "resolver" | "account_resolver" | "accounts_resolver" => {
                crate::operatorconf::resolver(v, &mut s.operator, report);
                Some(())
            }
            "resolver_preload" => {
                crate::operatorconf::preload(v, &mut s.operator, report);
                Some(())
            }
            "trusted" | "trusted_keys" => {
                crate::operatorconf::trusted_keys(v, &mut s.operator, report);
                Some(())
            }
            "default_sentinel" => string(v, report).map(|t| s.operator.default_sentinel = Some(t)),
            "resolver_pinned_accounts" => {
                crate::operatorconf::pinned_accounts(v, &mut s.operator, report);
                Some(())
            }
            "mappings" | "maps" => {
                crate::mappingsconf::mappings(v, report).map(|m| s.mappings = Some(m))
            }
            "system_account" | "system" => {
                string(v, report).map(|a| s.operator.system_account = Some(a))
            }
            "debug" => boolean(v, report).map(|b| s.debug = Some(b)),
            "trace" => boolean(v, report).map(|b| s.trace = Some(b)),
            "trace_verbose" => boolean(v, report).map(|b| {
                if b {
                    s.trace = Some(true);
                }
            }),
            "logtime" => boolean(v, report).map(|b| s.logtime = Some(b)),
            "logtime_utc" => boolean(v, report).map(|b| s.logtime_utc = Some(b)),
            "log_file" | "logfile" => string(v, report).map(|f| s.log_file = Some(f)),
            "pid_file" | "pidfile" => string(v, report).map(|f| s.pid_file = Some(f)),
            "ports_file_dir" => string(v, report).map(|d| s.ports_file_dir = Some(d)),
            "http" => listen(v, report).map(|(host, port)| {
                s.http_host = host;
                s.http_port = Some(port);
            }),
            "http_port" | "monitor_port" => int(v, report).map(|p| s.http_port = Some(p)),
            "no_header_support" => boolean(v, report).map(|b| s.no_header_support = Some(b)),
            "cores" => int(v, report).and_then(|n| {
                if n < 1 {
                    report.error(pos, "cores must be at least 1");
                    return None;
                }
                s.cores = Some(n);
                Some(())
            }),
            "ring_capacity" => int(v, report).map(|n| s.ring_capacity = Some(n)),
            "client_advertise" => string(v, report).map(|a| s.client_advertise = Some(a)),
            "max_traced_msg_len" => int(v, report).map(|n| s.max_traced_msg_len = Some(n)),
            "trace_headers" => boolean(v, report).map(|b| {
                s.trace_headers = Some(b);
                s.trace = Some(b);
            }),
            "max_closed_clients" => int(v, report).and_then(|n| {
                if n < 0 {
                    report.error(pos, format!("{lower} value can not be negative"));
                    return None;
                }
                s.max_closed_clients = Some(n);
                Some(())
            }),
            "max_sub_tokens" | "max_subscription_tokens" => int(v, report).and_then(|n| {
                if n > i64::from(u8::MAX) {
                    report.error(pos, format!("{lower} value is too big"));
                    return None;
                }
                if n <= 0 {
                    report.error(pos, format!("{lower} value can not be negative"));
                    return None;
                }
                s.max_sub_tokens = Some(n);
                Some(())
            }),
            "write_timeout" => string(v, report).and_then(|t| match t.as_str() {
                "default" | "close" => Some(()),
                "retry" => {
                    report.error(
                        pos,
                        "write_timeout \"retry\" is not supported by this version of shoal yet",
                    );
                    None
                }
                _ => {
                    report.error(pos, "write_timeout must be 'default', 'close' or 'retry'");
                    None
                }
            }),
            _ if HARMLESS.contains(&lower.as_str()) => harmless(&lower, v, report),
            _ if NOT_YET.contains(&lower.as_str()) || gated(&lower, v) == Some(true) => {
                report.not_yet(key, pos);
                None
            }
            _ if gated(&lower, v).is_some() => Some(()),
            _ if v.used_as_variable => Some(()),
            _ => {
                report.error(pos, format!("unknown field {key:?}"));
                None
            }
        };
        let _ = ok;
    }
    if let Some(a) = &s.accounts {
        crate::accountsconf::cross_check(s.auth.as_ref(), a, report);
    }
}

/// Type checks for the harmless keys, so a typo'd value is still an error.
fn harmless(key: &str, v: &Value, report: &mut Report) -> Option<()> {
    match key {
        "server_tags" => match &v.kind {
            Kind::String(_) => Some(()),
            Kind::Array(items) if items.iter().all(|i| i.as_str().is_some()) => Some(()),
            _ => {
                report.error(
                    &v.pos,
                    "error parsing tags: unsupported type where string is expected",
                );
                None
            }
        },
        "server_metadata" => match &v.kind {
            Kind::Map(m) if m.iter().all(|(_, i)| i.as_str().is_some()) => Some(()),
            _ => {
                report.error(
                    &v.pos,
                    "error parsing server_metadata: expected a map of strings",
                );
                None
            }
        },
        "disable_sublist_cache"
        | "no_sublist_cache"
        | "no_fast_producer_stall"
        | "no_system_account"
        | "no_system"
        | "no_sys_acc" => boolean(v, report).map(drop),
        "ocsp_cache" => match &v.kind {
            Kind::Bool(_) | Kind::Map(_) => Some(()),
            _ => {
                report.error(
                    &v.pos,
                    format!("error parsing tags: unsupported type {}", v.go_type()),
                );
                None
            }
        },
        "default_js_domain" => match &v.kind {
            Kind::Map(m) if m.iter().all(|(_, d)| d.as_str().is_some()) => Some(()),
            _ => {
                report.error(
                    &v.pos,
                    format!(
                        "error default_js_domain config: unsupported type {}",
                        v.go_type()
                    ),
                );
                None
            }
        },
        "feature_flags" => match &v.kind {
            Kind::Map(m) => {
                for (name, flag) in m.iter() {
                    if flag.as_bool().is_none() {
                        report.error(
                            &flag.pos,
                            format!(
                                "error parsing feature flag {name:?}: expected bool, got {}",
                                flag.go_type()
                            ),
                        );
                        return None;
                    }
                }
                Some(())
            }
            _ => {
                report.error(
                    &v.pos,
                    format!(
                        "error parsing feature flags: unsupported type {}",
                        v.go_type()
                    ),
                );
                None
            }
        },
        _ => int(v, report).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Settings, Report) {
        let map = shoal_conf::parse_str(text, "t.conf").unwrap();
        let mut s = Settings::default();
        let mut r = Report::default();
        apply(&map, &mut s, &mut r);
        (s, r)
    }

    #[test]
    fn core_keys_and_aliases_map() {
        let (s, r) = run(
            "listen: 127.0.0.1:4333\nSERVER_NAME: n1\nmax_payload: 1KB\nmax_conn: 5\n\
             max_subs: 6\nping_interval: \"30s\"\nhttp: \"localhost:8222\"\n\
             logfile: /tmp/x\npidfile: /tmp/p\ncores: 2\nring_capacity: 64\n",
        );
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(s.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(s.port, Some(4333));
        assert_eq!(s.server_name.as_deref(), Some("n1"));
        assert_eq!(s.max_payload, Some(1024));
        assert_eq!((s.max_connections, s.max_subscriptions), (Some(5), Some(6)));
        assert_eq!(s.ping_interval, Some(Duration::from_secs(30)));
        assert_eq!(
            (s.http_host.as_deref(), s.http_port),
            (Some("localhost"), Some(8222))
        );
        assert_eq!(s.log_file.as_deref(), Some("/tmp/x"));
        assert_eq!(s.pid_file.as_deref(), Some("/tmp/p"));
        assert_eq!((s.cores, s.ring_capacity), (Some(2), Some(64)));
    }

    #[test]
    fn problems_carry_positions_in_nats_server_words() {
        let (_, r) = run("port: 1\n  foo: 1\nhttps: 1\nping_interval: 5\nport: \"x\"\n");
        assert_eq!(
            r.warnings,
            ["t.conf:4:1: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"]
        );
        assert_eq!(
            r.errors,
            [
                "t.conf:5:1: interface conversion: interface {} is string, not int64",
                "t.conf:2:3: unknown field \"foo\"",
                "t.conf:3:1: \"https\" is not supported by this version of shoal yet",
            ]
        );
    }

    #[test]
    fn variables_only_keys_are_not_unknown() {
        let (s, r) = run("pay = 2048\nmax_payload: $pay\n");
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(s.max_payload, Some(2048));
        let (_, r) = run("pay = 2048\n");
        assert_eq!(r.errors, ["t.conf:1:0: unknown field \"pay\""]);
    }

    #[test]
    fn lame_duck_rules() {
        let (_, r) = run("lame_duck_duration: \"10s\"\n");
        assert_eq!(
            r.errors,
            ["t.conf:1:0: invalid lame_duck_duration of 10s, minimum is 30 seconds"]
        );
        let (_, r) = run("lame_duck_duration: 60\n");
        assert_eq!(
            r.errors,
            ["t.conf:1:0: interface conversion: interface {} is int64, not string"]
        );
    }

    #[test]
    fn harmless_keys_are_accepted_but_type_checked() {
        let (_, r) = run("store_dir: /tmp\nserver_tags: [a, b]\nmax_traced_msg_len: 10\n");
        assert!(r.is_clean(), "{r:?}");
        let (_, r) = run("max_traced_msg_len: x\n");
        assert_eq!(r.errors.len(), 1);
    }
}
