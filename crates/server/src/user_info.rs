//! `$SYS.REQ.USER.INFO`: a client asks who it is, in its own account, and
//! the server answers as nats-server 2.15 does (its system imports give
//! every account this service): `{"server":…,"data":{"user","account",
//! "account_name","user_name","permissions","expires"}}`.
//!
//! Each core answers its own clients: it subscribes its internal client to
//! the subject in every account *locally* (the interest is not sent to the
//! other cores, as nats-server does not propagate it to other servers), so
//! only the publisher's own core sees the request, with the publisher at
//! hand. The answer is queued and published after the routing that
//! delivered the request. Never on any other message's path.
//!
//! Also here: the requester's details a service import that shares them
//! puts in each request's `Nats-Request-Info` ([`shared_request_info`]).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::client::Client;
use crate::core::Core;
use crate::monitor::format::to_json;
use crate::monitor::server_info::server_info;
use crate::msg::{Msg, Spans};

pub const SUBJECT: &[u8] = b"$SYS.REQ.USER.INFO";

/// Subscribes the accounts this core has not yet (at start and after a
/// reload that added accounts). Only with a system account, as nats-server.
pub fn subscribe_all(core: &Core, done: &Cell<usize>) {
    if core.auth().system_account_id().is_none() {
        return;
    }
    let accounts = core.auth().logins().accounts().len().max(1);
    let internal = core.internal_publisher();
    for account in done.get()..accounts {
        let key = core.key(account as u16, SUBJECT);
        core.subscribe_local(&internal, Bytes::from_static(b"user-info"), key);
    }
    done.set(accounts);
}

#[derive(Serialize)]
struct Subjects<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    allow: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    deny: &'a [String],
}

#[derive(Serialize)]
struct Responses {
    max: i64,
    ttl: u128,
}

#[derive(Serialize)]
struct Permissions<'a> {
    publish: Subjects<'a>,
    subscribe: Subjects<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    responses: Option<Responses>,
}

#[derive(Serialize)]
struct UserInfo<'a> {
    user: &'a str,
    account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    account_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<Permissions<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    expires: u128,
}

fn is_zero(n: &u128) -> bool {
    *n == 0
}

/// Queues the answer to `publisher`'s request `m`.
pub fn answer(core: &Core, publisher: &Rc<Client>, m: &Msg) {
    if m.reply().is_empty() {
        return;
    }
    let creds = publisher.kept_creds();
    let auth = core.auth();
    let account = publisher.account.get();
    let spec = publisher.perm_spec.borrow();
    let none: &[String] = &[];
    let permissions = spec.as_ref().map(|p| Permissions {
        publish: Subjects {
            allow: p
                .publish
                .as_ref()
                .and_then(|r| r.allow.as_deref())
                .unwrap_or(none),
            deny: p.publish.as_ref().map_or(none, |r| &r.deny),
        },
        subscribe: Subjects {
            allow: p
                .subscribe
                .as_ref()
                .and_then(|r| r.allow.as_deref())
                .unwrap_or(none),
            deny: p.subscribe.as_ref().map_or(none, |r| &r.deny),
        },
        responses: p.responses.as_ref().map(|r| Responses {
            max: r.max_msgs,
            ttl: r.expires.map_or(0, |d| d.as_nanos()),
        }),
    });
    // Until the login expires, in whole seconds (nats-server's
    // `claimExpiration`).
    let expires = publisher.expires.get().map_or(0, |(at, _)| {
        u128::from(at.saturating_duration_since(Instant::now()).as_secs()) * 1_000_000_000
    });
    let info = UserInfo {
        user: creds.raw_user(),
        account: auth.account_name(account),
        account_name: auth.account_tag(account),
        user_name: creds.jwt_name.clone(),
        permissions,
        expires,
    };
    let data = to_json(&info, false);
    let server = to_json(&server_info(core.shared(), SystemTime::now()), false);
    let reply = m.reply();
    let mut frame = BytesMut::with_capacity(reply.len() + data.len() + server.len() + 20);
    frame.extend_from_slice(reply);
    frame.extend_from_slice(b"{\"server\":");
    frame.extend_from_slice(&server);
    frame.extend_from_slice(b",\"data\":");
    frame.extend_from_slice(&data);
    frame.extend_from_slice(b"}");
    let s = reply.len() as u32;
    let spans = Spans {
        subject: (0, s),
        reply: (0, 0),
        payload: (s, frame.len() as u32),
        hdr: 0,
        account,
        source: crate::msg::Source::Here,
        copy: false,
    };
    core.replies().push_response(frame.freeze(), spans);
}

/// nats-server's `getClientInfo(true)` with its server and cluster: what a
/// service import with `share: true` tells the exporter about `c`.
#[derive(Serialize)]
struct SharedInfo<'a> {
    start: String,
    host: String,
    id: u64,
    acc: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    user: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    ver: String,
    #[serde(skip_serializing_if = "is_zero")]
    rtt: u128,
    server: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cluster: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    jwt: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    issuer_key: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    name_tag: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tags: &'a [String],
    kind: &'static str,
    client_type: &'static str,
}

/// The `Nats-Request-Info` value for a sharing import's request from `c`.
pub fn shared_request_info(core: &Core, c: &Client) -> String {
    let creds = c.kept_creds();
    let shared = core.shared();
    let info = SharedInfo {
        start: crate::monitor::format::rfc3339(shared.clock.wall(c.start)),
        host: c.peer.ip().to_string(),
        id: c.cid,
        acc: core.auth().account_name(c.account.get()),
        user: creds.raw_user(),
        name: c.name.borrow().clone(),
        lang: c.lang.borrow().clone(),
        ver: c.version.borrow().clone(),
        rtt: c.rtt.get().as_nanos(),
        server: &shared.server_name,
        cluster: shared.cfg.cluster_name.as_deref().unwrap_or(""),
        jwt: &creds.jwt,
        issuer_key: &creds.jwt_issuer,
        name_tag: &creds.jwt_name,
        tags: &creds.jwt_tags,
        kind: "Client",
        client_type: "nats",
    };
    String::from_utf8(to_json(&info, false)).unwrap_or_default()
}
