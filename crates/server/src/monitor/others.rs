//! The smaller pages: `/routez` (the cluster routes of every core), `/leafz`
//! (the leaf connections), `/healthz`
//! (healthy while the client listeners are up: they are before this thread
//! serves anything, and close in lame duck mode, when it answers 500 as
//! nats-server does; JetStream parameters are checked as nats-server checks
//! them), `/accountz` and the HTML index.

use std::sync::atomic::Ordering;

use serde::Serialize;

use super::format::{go_quote, rfc3339, to_json};
use super::query::{decode_bool, decode_subs, BadParam, Target};
use super::subsz::SublistStats;
use super::{Ctx, Reply, GLOBAL_ACCOUNT};
use crate::records::Request;

#[derive(Serialize)]
struct Routez<'a> {
    server_id: &'a str,
    server_name: &'a str,
    now: String,
    num_routes: usize,
    routes: Vec<RouteInfo<'a>>,
}

/// One route, in nats-server's `RouteInfo` keys and order.
#[derive(Serialize)]
struct RouteInfo<'a> {
    rid: u64,
    remote_id: &'a str,
    remote_name: String,
    did_solicit: bool,
    is_configured: bool,
    ip: &'a str,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    rtt: String,
    uptime: String,
    idle: String,
    pending_size: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<super::connz::SubDetail<'a>>>,
    /// The account a dedicated route carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    compression: String,
}

/// `/routez` parameters (decoded before the request is counted): `subs`
/// (bool, or `detail`).
pub fn decode_routez(t: &Target) -> Result<(bool, bool), BadParam> {
    decode_subs(t)
}

/// `/routez`: every core's registered routes, oldest first.
pub async fn routez(ctx: &Ctx<'_>, (subs, detail): (bool, bool)) -> Reply {
    let s = &ctx.shared;
    let snaps = ctx
        .gather(Request {
            routes: true,
            conn_subs: subs || detail,
            ..Request::default()
        })
        .await;
    let peers = s.mesh.as_ref().map(|m| m.peers()).unwrap_or_default();
    let now = ctx.now.get();
    let mut routes: Vec<&crate::records::ConnRecord> =
        snaps.iter().flat_map(|snap| snap.routes.iter()).collect();
    routes.sort_by_key(|r| (r.start, r.cid));
    let infos = routes
        .into_iter()
        .map(|r| {
            let peer = peers.iter().find(|p| p.cid == r.cid);
            let since = |t: std::time::SystemTime| now.duration_since(t).unwrap_or_default();
            RouteInfo {
                rid: r.cid,
                remote_id: &r.name,
                remote_name: peer.map_or_else(String::new, |p| p.server_name.clone()),
                did_solicit: peer.is_some_and(|p| p.solicited),
                is_configured: peer.is_some_and(|p| p.configured),
                ip: &r.ip,
                port: r.port,
                start: rfc3339(r.start),
                last_activity: rfc3339(r.last),
                rtt: if r.rtt.is_zero() {
                    String::new()
                } else {
                    super::format::rtt(r.rtt)
                },
                uptime: super::format::uptime(since(r.start)),
                idle: super::format::uptime(since(r.last)),
                pending_size: r.pending,
                in_msgs: r.in_msgs,
                out_msgs: r.out_msgs,
                in_bytes: r.in_bytes,
                out_bytes: r.out_bytes,
                subscriptions: r.num_subs,
                subscriptions_list: (subs && !detail && !r.subs.is_empty())
                    .then(|| r.subs.iter().map(|x| x.subject.as_str()).collect()),
                subscriptions_list_detail: (detail && !r.subs.is_empty()).then(|| {
                    r.subs
                        .iter()
                        .map(|x| super::connz::SubDetail::of(x, false))
                        .collect()
                }),
                account: peer.and_then(|p| match &p.slot {
                    crate::mesh::Slot::Account(a) => Some(a.clone()),
                    crate::mesh::Slot::Pool(_) => None,
                }),
                compression: peer.map_or_else(|| "off".to_string(), |p| p.compression.clone()),
            }
        })
        .collect::<Vec<_>>();
    Reply::Json(to_json(
        &Routez {
            server_id: &s.server_id,
            server_name: &s.server_name,
            now: ctx.now(),
            num_routes: infos.len(),
            routes: infos,
        },
        true,
    ))
}

#[derive(Serialize)]
struct Leafz<'a> {
    server_id: &'a str,
    now: String,
    leafnodes: usize,
    leafs: Vec<LeafInfo<'a>>,
}

/// One leaf connection, in nats-server's `LeafInfo` keys and order.
#[derive(Serialize)]
struct LeafInfo<'a> {
    id: u64,
    name: &'a str,
    is_spoke: bool,
    account: &'a str,
    ip: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    rtt: String,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<&'a str>>,
    compression: &'a str,
}

/// `/leafz` parameters: `subs` (bool) and `acc` (only that account's).
pub fn decode_leafz(t: &Target) -> Result<(bool, String), BadParam> {
    Ok((decode_bool(t, "subs")?, t.get("acc").to_string()))
}

/// `/leafz`: the leaf connections (all on the leaf core), oldest first.
pub async fn leafz(ctx: &Ctx<'_>, (subs, acc): (bool, String)) -> Reply {
    let s = &ctx.shared;
    let snaps = ctx
        .gather(Request {
            routes: true,
            conn_subs: subs,
            ..Request::default()
        })
        .await;
    let mut leafs: Vec<&crate::records::ConnRecord> = snaps
        .iter()
        .flat_map(|snap| snap.leafs.iter())
        .filter(|l| acc.is_empty() || l.account == acc)
        .collect();
    leafs.sort_by_key(|r| (r.start, r.cid));
    let infos = leafs
        .into_iter()
        .map(|r| LeafInfo {
            id: r.cid,
            name: &r.name,
            is_spoke: r.spoke,
            account: &r.account,
            ip: &r.ip,
            port: r.port,
            rtt: if r.rtt.is_zero() {
                String::new()
            } else {
                super::format::rtt(r.rtt)
            },
            in_msgs: r.in_msgs,
            out_msgs: r.out_msgs,
            in_bytes: r.in_bytes,
            out_bytes: r.out_bytes,
            subscriptions: r.num_subs,
            subscriptions_list: (subs && !r.subs.is_empty())
                .then(|| r.subs.iter().map(|x| x.subject.as_str()).collect()),
            compression: if r.compression.is_empty() {
                "off"
            } else {
                &r.compression
            },
        })
        .collect::<Vec<_>>();
    Reply::Json(to_json(
        &Leafz {
            server_id: &s.server_id,
            now: ctx.now(),
            leafnodes: infos.len(),
            leafs: infos,
        },
        true,
    ))
}

#[derive(Serialize)]
struct HealthError {
    #[serde(rename = "type")]
    kind: &'static str,
    error: String,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<HealthError>>,
}

/// nats-server's readiness error once the client listeners are closed (lame
/// duck mode).
const NOT_READY: &str = "failed to be ready for connections after 1ms: server";

pub fn healthz(ctx: &Ctx, t: &Target) -> Reply {
    let mut details = false;
    for param in [
        "js-enabled",
        "js-enabled-only",
        "js-server-only",
        "js-meta-only",
        "details",
    ] {
        match decode_bool(t, param) {
            Ok(v) if param == "details" => details = v,
            Ok(_) => {}
            Err(e) => return Reply::BadRequest(e),
        }
    }
    let problem = if !t.get("consumer").is_empty() && t.get("stream").is_empty() {
        Some((
            400,
            "BAD_REQUEST",
            "\"stream\" must not be empty when checking consumer health",
        ))
    } else if !t.get("stream").is_empty() && t.get("account").is_empty() {
        Some((
            400,
            "BAD_REQUEST",
            "\"account\" must not be empty when checking stream health",
        ))
    } else if ctx.shared.lame_duck.load(Ordering::Relaxed) {
        Some((500, "CONNECTION", NOT_READY))
    } else {
        None
    };
    match problem {
        Some(_) if details => log::warn!("Healthcheck failed: 1 errors"),
        Some((_, _, e)) => log::warn!("Healthcheck failed: {}", go_quote(e)),
        None => {}
    }
    let (status, health) = match problem {
        None => (
            200,
            Health {
                status: "ok",
                error: None,
                errors: None,
            },
        ),
        Some((code, kind, e)) if details => (
            code,
            Health {
                status: "error",
                error: None,
                errors: Some(vec![HealthError {
                    kind,
                    error: e.to_string(),
                }]),
            },
        ),
        Some((code, _, e)) => (
            code,
            Health {
                status: "error",
                error: Some(e.to_string()),
                errors: None,
            },
        ),
    };
    Reply::JsonStatus(status, to_json(&health, false))
}

#[derive(Serialize)]
struct AccountDetail {
    account_name: String,
    update_time: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_system: bool,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: u64,
    client_connections: u64,
    subscriptions: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    jwt: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    issuer_key: String,
    name_tag: String,
    sublist_stats: SublistStats,
}

#[derive(Serialize)]
struct Accountz<'a> {
    server_id: &'a str,
    now: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    system_account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountDetail>,
}

/// `/accountz`: the accounts (`$G`, the configured or preloaded ones), and
/// with `acc=<name>` one account's detail: its open connections and
/// subscriptions counted over the cores, its JWT in operator mode. Shoal
/// keeps every account in one index per core, so an account's
/// `sublist_stats` carry its subscription count and the index-wide cache
/// figures only for a server without accounts.
pub async fn accountz(ctx: &Ctx<'_>, t: &Target) -> Reply {
    let acc = t.get("acc");
    let logins = ctx.shared.config().logins;
    let mut names: Vec<String> = logins.accounts().to_vec();
    names.retain(|n| !logins.is_retired(n));
    if names.is_empty() {
        names.push(GLOBAL_ACCOUNT.to_string());
    }
    let system = logins.system_account().unwrap_or("").to_string();
    if logins.trust().is_some() {
        // An operator's accounts are loaded by their first login; the
        // system account at start.
        let used = &ctx.shared.accounts.used;
        let mut i = 0;
        names.retain(|name| {
            i += 1;
            i == 1 || *name == system || used.get(i - 1).is_some_and(|u| u.load(Ordering::Relaxed))
        });
    }
    let mut page = Accountz {
        server_id: &ctx.shared.server_id,
        now: ctx.now(),
        system_account: system.clone(),
        accounts: None,
        account_detail: None,
    };
    if acc.is_empty() {
        page.accounts = Some(names);
        return Reply::Json(to_json(&page, true));
    }
    if !names.iter().any(|n| n == acc) {
        return Reply::BadRequest(format!("Account {acc} does not exist"));
    }
    let snaps = ctx
        .gather(Request {
            open: true,
            ..Request::default()
        })
        .await;
    let open = snaps
        .iter()
        .flat_map(|s| s.open.iter())
        .filter(|c| c.account == acc);
    let (conns, subs) = open.fold((0, 0), |(n, s), c| (n + 1, s + c.num_subs as u64));
    let jwt_account = logins.trust().and_then(|t| t.account(acc)).map(|(_, a)| a);
    let stats = if logins.accounts().is_empty() {
        SublistStats::of(&snaps)
    } else {
        SublistStats::counting(subs)
    };
    page.account_detail = Some(AccountDetail {
        account_name: acc.to_string(),
        update_time: rfc3339(ctx.shared.clock.boot_wall()),
        is_system: !system.is_empty() && system == acc,
        expired: false,
        complete: true,
        jetstream_enabled: false,
        leafnode_connections: 0,
        client_connections: conns,
        subscriptions: subs,
        jwt: jwt_account.map_or(String::new(), |a| a.token.clone()),
        issuer_key: jwt_account.map_or(String::new(), |a| a.claims.issuer.clone()),
        name_tag: jwt_account
            .map(|a| a.claims.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| acc.to_string()),
        sublist_stats: stats,
    });
    Reply::Json(to_json(&page, true))
}

/// The index page: nats-server's layout, linking the pages Shoal serves.
pub fn root() -> Reply {
    let links = [
        ("varz", "General"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("accstatz", "Account Stats"),
        ("subsz", "Subscriptions"),
        ("routez", "Routes"),
        ("healthz", "Health Probe"),
    ];
    let mut body = String::from(
        "<html lang=\"en\">\n\t<head>\n\t<style type=\"text/css\">\n\
         \t\tbody { font-family: ui-sans-serif,system-ui,-apple-system,sans-serif; font-size: 18; margin-left: 32px }\n\
         \t\ta { display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }\n\
         \t\ta:hover { font-weight: 600; color: rgb(59 50 202) }\n\
         \t\ta.last { padding-bottom: 16px }\n\
         \t\t.endpoint { font-size: 12px; color: #999; font-family: monospace; display: none }\n\
         \t\ta:hover .endpoint { display: inline }\n\
         \t</style>\n\t</head>\n\t<body>\n",
    );
    body.push_str(&format!(
        "\t<h2>Shoal {} (NATS {})</h2>\n\t<br/>\n",
        crate::SHOAL_VERSION,
        crate::NATS_VERSION
    ));
    for (i, (path, name)) in links.iter().enumerate() {
        let class = if i + 1 == links.len() {
            " class=last"
        } else {
            ""
        };
        body.push_str(&format!(
            "\t<a href=./{path}{class}>{name}<span class=\"endpoint\"> /{path}</span></a>\n"
        ));
    }
    body.push_str(
        "    <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class=\"help\">Help</a>\n  </body>\n</html>\n",
    );
    Reply::Html(body)
}
