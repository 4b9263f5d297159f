//! The smaller pages: `/routez` (Shoal has no cluster: no routes), `/healthz`
//! (healthy while the client listeners are up: they are before this thread
//! serves anything, and close in lame duck mode, when it answers 500 as
//! nats-server does; JetStream parameters are checked as nats-server checks
//! them), `/accountz` (the global account only) and the HTML index.

use std::sync::atomic::Ordering;

use serde::Serialize;

use super::format::{go_quote, rfc3339, to_json};
use super::query::{decode_bool, decode_subs, BadParam, Target};
use super::subsz::SublistStats;
use super::varz::total;
use super::{Ctx, Reply, GLOBAL_ACCOUNT};
use crate::records::Request;

#[derive(Serialize)]
struct Routez<'a> {
    server_id: &'a str,
    server_name: &'a str,
    now: String,
    num_routes: usize,
    routes: Vec<()>,
}

/// `/routez` parameters (decoded before the request is counted).
pub fn decode_routez(t: &Target) -> Result<(), BadParam> {
    decode_subs(t).map(|_| ())
}

pub fn routez(ctx: &Ctx) -> Reply {
    let s = &ctx.shared;
    Reply::Json(to_json(
        &Routez {
            server_id: &s.server_id,
            server_name: &s.server_name,
            now: ctx.now(),
            num_routes: 0,
            routes: Vec::new(),
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
    account_name: &'static str,
    update_time: String,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: u64,
    client_connections: u64,
    subscriptions: u64,
    name_tag: &'static str,
    sublist_stats: SublistStats,
}

#[derive(Serialize)]
struct Accountz<'a> {
    server_id: &'a str,
    now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountDetail>,
}

pub async fn accountz(ctx: &Ctx<'_>, t: &Target) -> Reply {
    let acc = t.get("acc");
    let mut page = Accountz {
        server_id: &ctx.shared.server_id,
        now: ctx.now(),
        accounts: None,
        account_detail: None,
    };
    if acc.is_empty() {
        page.accounts = Some(vec![GLOBAL_ACCOUNT]);
    } else if acc == GLOBAL_ACCOUNT {
        let snaps = ctx.gather(Request::default()).await;
        let stats = SublistStats::of(&snaps);
        let t = total(&snaps);
        page.account_detail = Some(AccountDetail {
            account_name: GLOBAL_ACCOUNT,
            update_time: rfc3339(ctx.shared.clock.boot_wall()),
            expired: false,
            complete: true,
            jetstream_enabled: false,
            leafnode_connections: 0,
            client_connections: t.connections,
            subscriptions: t.subscriptions,
            name_tag: GLOBAL_ACCOUNT,
            sublist_stats: stats,
        });
    } else {
        return Reply::BadRequest(format!("Account {acc} does not exist"));
    }
    Reply::Json(to_json(&page, true))
}

/// The index page: nats-server's layout, linking the pages Shoal serves.
pub fn root() -> Reply {
    let links = [
        ("varz", "General"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
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
