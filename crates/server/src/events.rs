//! The server's own events in the system account, as nats-server 2.15
//! publishes them: `$SYS.ACCOUNT.<account>.CONNECT` after each login and
//! `$SYS.ACCOUNT.<account>.DISCONNECT` when any client connection closes
//! (a refused one too, in the account it was in: `$G`), with nats-server's
//! JSON (`io.nats.server.advisory.v1.client_connect` / `client_disconnect`);
//! and the server's own `$SYS.SERVER.<id>.LAMEDUCK` and `.SHUTDOWN` (its
//! server info alone), which tell the cluster's other servers it is going.
//!
//! Each core publishes its own connections' events through its own router,
//! from an internal publisher in the system account: subscribers anywhere
//! get them as they get any message. Nothing is built without a system
//! account among the accounts.
//!
//! Never on the message path: one event per login and per close.

use std::rc::Rc;
use std::time::SystemTime;

use serde::Serialize;

use crate::client::Client;
use crate::core::Core;
use crate::monitor::format::rfc3339;
use crate::monitor::server_info::{server_info, ServerInfo};

#[derive(Serialize)]
struct ClientInfo {
    start: String,
    host: String,
    id: u64,
    acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    ver: String,
    #[serde(skip_serializing_if = "is_zero")]
    rtt: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    issuer_key: String,
    name_tag: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    kind: &'static str,
    client_type: &'static str,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    server: ServerInfo<'a>,
    client: ClientInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent: Option<MsgBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<MsgBytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// A nuid-like event id: 22 random base62 characters.
fn event_id(core: &Core) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..22)
        .map(|_| ALPHABET[core.rand(62) as usize] as char)
        .collect()
}

fn client_info(core: &Core, c: &Client, stop: Option<SystemTime>) -> ClientInfo {
    let creds = c.kept_creds();
    let auth = core.auth();
    let account = c.account.get();
    ClientInfo {
        start: rfc3339(core.shared().clock.wall(c.start)),
        host: c.peer.ip().to_string(),
        id: c.cid,
        acc: auth.account_name(account),
        user: creds.raw_user().to_string(),
        name: c.name.borrow().clone(),
        lang: c.lang.borrow().clone(),
        ver: c.version.borrow().clone(),
        rtt: if stop.is_some() {
            c.rtt.get().as_nanos() as u64
        } else {
            0
        },
        stop: stop.map(rfc3339),
        jwt: creds.jwt.clone(),
        issuer_key: creds.jwt_issuer.clone(),
        name_tag: auth.account_tag(account),
        tags: creds.jwt_tags.clone(),
        kind: "Client",
        client_type: "nats",
    }
}

/// Publishes `event` on `subject` in the system account, if there is one.
fn publish(core: &Core, system: u16, subject: &str, event: &Event) {
    let Ok(payload) = serde_json::to_vec(event) else {
        return;
    };
    publish_payload(core, system, subject, &payload);
}

/// Publishes `payload` on `subject` in account `system` from the server's
/// own publisher on this core.
pub fn publish_payload(core: &Core, system: u16, subject: &str, payload: &[u8]) {
    crate::router::publish_internal(core, system, subject.as_bytes(), b"", payload);
    core.end_pass();
}

/// A login succeeded: `$SYS.ACCOUNT.<account>.CONNECT`.
pub fn connected(core: &Core, c: &Rc<Client>) {
    let Some(system) = core.auth().system_account_id() else {
        return;
    };
    let now = SystemTime::now();
    let client = client_info(core, c, None);
    let subject = format!("$SYS.ACCOUNT.{}.CONNECT", client.acc);
    let event = Event {
        kind: "io.nats.server.advisory.v1.client_connect",
        id: event_id(core),
        timestamp: rfc3339(now),
        server: server_info(core.shared(), now),
        client,
        sent: None,
        received: None,
        reason: None,
    };
    publish(core, system, &subject, &event);
}

/// A connection closed: `$SYS.ACCOUNT.<account>.DISCONNECT`.
pub fn disconnected(core: &Core, c: &Rc<Client>, reason: &str) {
    let Some(system) = core.auth().system_account_id() else {
        return;
    };
    let now = SystemTime::now();
    let client = client_info(core, c, Some(now));
    let subject = format!("$SYS.ACCOUNT.{}.DISCONNECT", client.acc);
    let event = Event {
        kind: "io.nats.server.advisory.v1.client_disconnect",
        id: event_id(core),
        timestamp: rfc3339(now),
        server: server_info(core.shared(), now),
        client,
        sent: Some(MsgBytes {
            msgs: c.in_msgs.get(),
            bytes: c.in_bytes.get(),
        }),
        received: Some(MsgBytes {
            msgs: c.out_msgs.get(),
            bytes: c.out_bytes.get(),
        }),
        reason: Some(reason),
    };
    publish(core, system, &subject, &event);
}

/// This server enters lame duck mode (`$SYS.SERVER.<id>.LAMEDUCK`) or
/// stops (`.SHUTDOWN`): the body is its server info, as nats-server's.
/// Published by core 0 only.
pub fn server_going(core: &Core, stopping: bool) {
    let Some(system) = core.auth().system_account_id() else {
        return;
    };
    let shared = core.shared();
    let what = if stopping { "SHUTDOWN" } else { "LAMEDUCK" };
    let subject = format!("$SYS.SERVER.{}.{what}", shared.server_id);
    let Ok(payload) = serde_json::to_vec(&server_info(shared, SystemTime::now())) else {
        return;
    };
    publish_payload(core, system, &subject, &payload);
}
