//! `/connz`: client connections, open (from the cores' snapshots) and closed
//! (from the cores' rings), with nats-server 2.15's parameters, sort orders,
//! pagination and quirks (`total` counts before the `user`/`cid` filters; an
//! unknown `acc` answers an empty envelope with `connections: null`). Each
//! connection also carries `core`, the Shoal core that owns it.

use std::cmp::Reverse;
use std::time::SystemTime;

use serde::Serialize;

use super::format::{rfc3339, rtt, to_json, uptime};
use super::query::{decode_bool, decode_int, decode_state, decode_subs, decode_uint, ConnState};
use super::query::{BadParam, Target};
use super::{Ctx, Reply, GLOBAL_ACCOUNT};
use crate::records::{ConnRecord, Request, SubRecord};

/// nats-server's `DefaultConnListSize` (and `DefaultSubListSize`).
pub(super) const DEFAULT_LIST_SIZE: i64 = 1024;

/// A subscription as `subscriptions_list_detail` and `/subsz` show it.
#[derive(Serialize)]
pub(super) struct SubDetail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_tag: Option<&'static str>,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    qgroup: Option<&'a str>,
    sid: &'a str,
    msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    max: u64,
    cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<'a> SubDetail<'a> {
    /// `with_account`: `/subsz` and closed connections name the account.
    pub(super) fn of(s: &'a SubRecord, with_account: bool) -> SubDetail<'a> {
        let account = with_account.then_some(GLOBAL_ACCOUNT);
        SubDetail {
            account,
            account_tag: account,
            subject: &s.subject,
            qgroup: s.queue.as_deref(),
            sid: &s.sid,
            msgs: s.msgs,
            max: s.max,
            cid: s.cid,
        }
    }
}

#[derive(Serialize)]
struct ConnInfo<'a> {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    kind_type: &'static str,
    ip: &'a str,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    lang: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    tls_version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    tls_cipher_suite: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_peer_certs: Option<Vec<PeerCert<'a>>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_first: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorized_user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubDetail<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'a [String]>,
    /// Shoal: the core that owns the connection.
    core: usize,
}

/// A client certificate as `/connz?auth=1` shows it.
#[derive(Serialize)]
struct PeerCert<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    subject: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    spki_sha256: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cert_sha256: &'a str,
}

#[derive(Serialize)]
struct Connz<'a> {
    server_id: &'a str,
    now: String,
    num_connections: usize,
    total: usize,
    offset: i64,
    limit: i64,
    connections: Option<Vec<ConnInfo<'a>>>,
}

/// `sort=` values; `cid` when absent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortBy {
    fn parse(s: &str) -> Result<SortBy, BadParam> {
        Ok(match s {
            "" | "cid" => SortBy::Cid,
            // nats-server sorts `start` by cid, which is the same there; Shoal's
            // per-core cids are not in connection order, so it sorts by time.
            "start" => SortBy::Start,
            "subs" => SortBy::Subs,
            "pending" => SortBy::Pending,
            "msgs_to" => SortBy::MsgsTo,
            "msgs_from" => SortBy::MsgsFrom,
            "bytes_to" => SortBy::BytesTo,
            "bytes_from" => SortBy::BytesFrom,
            "last" => SortBy::Last,
            "idle" => SortBy::Idle,
            "uptime" => SortBy::Uptime,
            "stop" => SortBy::Stop,
            "reason" => SortBy::Reason,
            "rtt" => SortBy::Rtt,
            other => return Err(format!("invalid sorting option: {other}")),
        })
    }
}

/// The parameters, decoded in nats-server's order (a bad one is a 400 that the
/// request counter does not see).
pub struct Params {
    auth: bool,
    subs: bool,
    detail: bool,
    offset: i64,
    limit: i64,
    cid: u64,
    state: ConnState,
}

pub fn decode(t: &Target) -> Result<Params, BadParam> {
    let auth = decode_bool(t, "auth")?;
    let (subs, detail) = decode_subs(t)?;
    let offset = decode_int(t, "offset")?;
    let limit = decode_int(t, "limit")?;
    let cid = decode_uint(t, "cid")?;
    let state = decode_state(t)?;
    Ok(Params {
        auth,
        subs,
        detail,
        offset,
        limit,
        cid,
        state,
    })
}

/// Sorts in place: ascending cid first, so equal keys stay in cid order.
fn sort(conns: &mut [&ConnRecord], by: SortBy, now: SystemTime) {
    conns.sort_by_key(|c| c.cid);
    let stop = |c: &ConnRecord| c.stop.map(|(t, _)| t);
    match by {
        SortBy::Cid => {}
        SortBy::Start => conns.sort_by_key(|c| c.start),
        SortBy::Subs => conns.sort_by_key(|c| Reverse(c.num_subs)),
        SortBy::Pending => conns.sort_by_key(|c| Reverse(c.pending)),
        SortBy::MsgsTo => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        SortBy::MsgsFrom => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        SortBy::BytesTo => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        SortBy::BytesFrom => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        SortBy::Last => conns.sort_by_key(|c| Reverse(c.last)),
        // Longest idle first.
        SortBy::Idle => conns.sort_by_key(|c| c.last),
        // Shortest-lived first (nats-server does not reverse this one).
        SortBy::Uptime => conns.sort_by_key(|c| {
            stop(c)
                .unwrap_or(now)
                .duration_since(c.start)
                .unwrap_or_default()
        }),
        SortBy::Stop => conns.sort_by_key(|c| Reverse(stop(c))),
        SortBy::Reason => conns.sort_by_key(|c| c.stop.map(|(_, r)| r)),
        SortBy::Rtt => conns.sort_by_key(|c| Reverse(c.rtt)),
    }
}

fn info<'a>(c: &'a ConnRecord, p: &Params, now: SystemTime) -> ConnInfo<'a> {
    let closed = c.stop.is_some();
    let until = c.stop.map_or(now, |(t, _)| t);
    let since = |t: SystemTime| uptime(until.duration_since(t).unwrap_or_default());
    let has_subs = !c.subs.is_empty();
    ConnInfo {
        cid: c.cid,
        kind: "Client",
        kind_type: if c.websocket { "websocket" } else { "nats" },
        ip: &c.ip,
        port: c.port,
        start: rfc3339(c.start),
        last_activity: rfc3339(c.last),
        stop: c.stop.map(|(t, _)| rfc3339(t)),
        reason: c.stop.map(|(_, r)| r),
        rtt: rtt(c.rtt),
        uptime: since(c.start),
        idle: since(c.last),
        pending_bytes: c.pending,
        in_msgs: c.in_msgs,
        out_msgs: c.out_msgs,
        in_bytes: c.in_bytes,
        out_bytes: c.out_bytes,
        subscriptions: c.num_subs,
        name: &c.name,
        lang: &c.lang,
        version: &c.version,
        tls_version: c.tls.as_ref().map_or("", |t| t.version.as_str()),
        tls_cipher_suite: c.tls.as_ref().map_or("", |t| t.cipher.as_str()),
        tls_peer_certs: c
            .tls
            .as_ref()
            .filter(|t| p.auth && !t.peers.is_empty())
            .map(|t| {
                t.peers
                    .iter()
                    .map(|x| PeerCert {
                        subject: &x.subject,
                        spki_sha256: &x.spki_sha256,
                        cert_sha256: &x.cert_sha256,
                    })
                    .collect()
            }),
        tls_first: c.tls_first,
        subscriptions_list: (has_subs && p.subs && !p.detail)
            .then(|| c.subs.iter().map(|s| s.subject.as_str()).collect()),
        subscriptions_list_detail: (has_subs && p.detail)
            .then(|| c.subs.iter().map(|s| SubDetail::of(s, closed)).collect()),
        authorized_user: (p.auth && !c.user.is_empty()).then_some(c.user.as_str()),
        // The account's name tag: nats-server shows it for open connections
        // (in the global account from accept on), for closed ones only
        // outside the global account.
        account: (p.auth && c.account != GLOBAL_ACCOUNT).then_some(c.account.as_str()),
        jwt: (p.auth && !c.jwt.is_empty()).then_some(c.jwt.as_str()),
        issuer_key: (p.auth && !c.issuer_key.is_empty()).then_some(c.issuer_key.as_str()),
        name_tag: (p.auth && (!closed || c.account != GLOBAL_ACCOUNT))
            .then_some(c.name_tag.as_str()),
        tags: (p.auth && !c.tags.is_empty()).then_some(c.tags.as_slice()),
        core: c.core,
    }
}

/// Answers after [`decode`] succeeded and the request was counted.
pub async fn page(ctx: &Ctx<'_>, t: &Target, p: Params) -> Reply {
    let by = match SortBy::parse(t.get("sort")) {
        Ok(by) => by,
        Err(e) => return Reply::BadRequest(e),
    };
    if p.state != ConnState::Closed {
        match by {
            SortBy::Stop => {
                return Reply::BadRequest("sort by stop only valid on closed connections".into())
            }
            SortBy::Reason => {
                return Reply::BadRequest("sort by reason only valid on closed connections".into())
            }
            _ => {}
        }
    }
    let offset = p.offset.max(0);
    let limit = match (p.cid, p.limit) {
        (1.., _) => 1,
        (_, l) if l <= 0 => DEFAULT_LIST_SIZE,
        (_, l) => l,
    };
    let acc = t.get("acc");
    let logins = ctx.shared.config().logins;
    let known = acc == GLOBAL_ACCOUNT
        || (logins.accounts().iter().any(|a| a == acc) && !logins.is_retired(acc));
    if !acc.is_empty() && !known {
        // nats-server answers an unknown account before filling anything in.
        let connz = Connz {
            server_id: "",
            now: ctx.now(),
            num_connections: 0,
            total: 0,
            offset,
            limit,
            connections: None,
        };
        return Reply::Json(to_json(&connz, true));
    }
    let want_open = p.state != ConnState::Closed;
    let want_closed = p.state != ConnState::Open;
    let snaps = ctx
        .gather(Request {
            open: want_open,
            closed: want_closed,
            conn_subs: p.subs || p.detail,
            ..Request::default()
        })
        .await;
    let in_account = |c: &&ConnRecord| acc.is_empty() || c.account == acc;
    let open: Vec<&ConnRecord> = snaps
        .iter()
        .flat_map(|s| &s.open)
        .filter(in_account)
        .collect();
    let closed: Vec<&ConnRecord> = snaps.iter().flat_map(|s| &s.closed).collect();
    // nats-server counts the closed connections before it keeps the
    // account's.
    let total = open.len() + closed.len();
    let all = open
        .into_iter()
        .chain(closed.into_iter().filter(in_account));
    // Shoal has no MQTT: that filter keeps nothing.
    let user = t.get("user");
    let filtered_out = !t.get("mqtt_client").is_empty();
    let mut picked: Vec<&ConnRecord> = all
        .filter(|c| {
            !filtered_out && (p.cid == 0 || c.cid == p.cid) && (user.is_empty() || c.user == user)
        })
        .collect();
    sort(&mut picked, by, ctx.now.get());
    let from = (offset as usize).min(picked.len());
    let to = (offset.saturating_add(limit) as usize).min(picked.len());
    let conns: Vec<ConnInfo> = picked[from..to]
        .iter()
        .map(|c| info(c, &p, ctx.now.get()))
        .collect();
    let connz = Connz {
        server_id: &ctx.shared.server_id,
        now: ctx.now(),
        num_connections: conns.len(),
        total,
        offset,
        limit,
        connections: Some(conns),
    };
    Reply::Json(to_json(&connz, true))
}
