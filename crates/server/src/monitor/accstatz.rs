//! `/accstatz`: each account's connections, subscriptions and traffic,
//! summed over the cores, as nats-server 2.15 shows them — only accounts
//! with a connection unless `unused=1`; `received` is what the account's
//! clients published, `sent` what was delivered of its messages, with the
//! gateway, route and leaf parts nats-server adds (always zero here).
//!
//! Counted per core by the message path (`Stats::account`); the page reads
//! them from the cores' snapshots.

use serde::Serialize;

use super::format::to_json;
use super::query::{decode_bool, Target};
use super::{Ctx, Reply};
use crate::records::{AccountCounters, Request};

#[derive(Serialize, Default)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct DataStats {
    msgs: u64,
    bytes: u64,
    gateways: MsgBytes,
    routes: MsgBytes,
    leafs: MsgBytes,
}

impl DataStats {
    fn of(msgs: u64, bytes: u64) -> DataStats {
        DataStats {
            msgs,
            bytes,
            gateways: MsgBytes::default(),
            routes: MsgBytes::default(),
            leafs: MsgBytes::default(),
        }
    }
}

#[derive(Serialize)]
struct AccountStat {
    acc: String,
    name: String,
    conns: u64,
    leafnodes: u64,
    total_conns: u64,
    num_subscriptions: u64,
    sent: DataStats,
    received: DataStats,
    slow_consumers: u64,
}

#[derive(Serialize)]
struct AccountStatz<'a> {
    server_id: &'a str,
    now: String,
    account_statz: Vec<AccountStat>,
}

pub async fn page(ctx: &Ctx<'_>, t: &Target) -> Reply {
    match decode_bool(t, "unused") {
        Ok(unused) => Reply::Json(render(ctx, unused, &[]).await.0),
        Err(e) => Reply::BadRequest(e),
    }
}

/// The page (indented JSON) and how many accounts it lists: those named in
/// `only` (all when empty), without connections only if `unused`.
pub async fn render(ctx: &Ctx<'_>, unused: bool, only: &[String]) -> (Vec<u8>, usize) {
    let logins = ctx.shared.config().logins;
    let snaps = ctx
        .gather(Request {
            open: true,
            ..Request::default()
        })
        .await;
    let count = logins.accounts().len().max(1);
    let mut sums = vec![AccountCounters::default(); count];
    for s in &snaps {
        for (i, a) in s.accounts.iter().enumerate().take(count) {
            let sum = &mut sums[i];
            sum.in_msgs += a.in_msgs;
            sum.in_bytes += a.in_bytes;
            sum.out_msgs += a.out_msgs;
            sum.out_bytes += a.out_bytes;
            sum.slow_consumers += a.slow_consumers;
        }
    }
    let mut out = Vec::new();
    for (i, sum) in sums.iter().enumerate() {
        let name = logins.account_name(i as u16);
        if (!only.is_empty() && !only.iter().any(|o| o == name)) || logins.is_retired(name) {
            continue;
        }
        let open: Vec<_> = snaps
            .iter()
            .flat_map(|s| s.open.iter())
            .filter(|c| c.account == name)
            .collect();
        if open.is_empty() && !unused {
            continue;
        }
        let conns = open.len() as u64;
        out.push(AccountStat {
            acc: name.to_string(),
            name: open
                .first()
                .map(|c| c.name_tag.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| name.to_string()),
            conns,
            leafnodes: 0,
            total_conns: conns,
            num_subscriptions: open.iter().map(|c| c.num_subs as u64).sum(),
            sent: DataStats::of(sum.out_msgs, sum.out_bytes),
            received: DataStats::of(sum.in_msgs, sum.in_bytes),
            slow_consumers: sum.slow_consumers,
        });
    }
    let listed = out.len();
    let page = AccountStatz {
        server_id: &ctx.shared.server_id,
        now: ctx.now(),
        account_statz: out,
    };
    (to_json(&page, true), listed)
}
