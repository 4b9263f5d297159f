//! The hub's side of a leaf connection's start, as nats-server's
//! `createLeafNode` (accept), `processLeafNodeConnect` and
//! `isLeafNodeAuthorized` run it: the INFO a spoke is greeted with, the
//! auth timeout, then the spoke's CONNECT — checked (a client on the leaf
//! port, a gateway, a cluster of the same name), logged in and bound to an
//! account — answered with the `connect_info` INFO that names the account,
//! and the connection registered.
//!
//! The login: the leaf listener's own user (bound to its `account`), else
//! its `users` (each bound to its account), else the server's logins as a
//! client's (its user's account), else, on a server without logins, the
//! global account.
//!
//! Never blocks its core: a client login that needs bcrypt or a JWT chain
//! runs on the blocking pool (`auth::login`).

use std::rc::Rc;
use std::time::Duration;

use shoal_proto::leaf_info::{LeafConnect, LeafInfo};

use super::link::{register, Link, Role};
use crate::client::{Client, CloseReason, Creds, RouteScope};
use crate::config::LeafAuth;
use crate::core::Core;
use crate::rt;

/// nats-server's leaf auth timeout when none is configured.
const AUTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Which of the hub's INFOs a spoke is sent.
#[derive(Clone, Copy)]
pub enum Info<'a> {
    /// The first, with the nonce a spoke signs.
    First,
    /// The answer to an accepted CONNECT (`connect_info`), naming the
    /// account the spoke is bound to.
    Connected(&'a str),
    /// A later one: the cluster's leaf URLs changed (nats-server's
    /// `sendAsyncLeafNodeInfo`).
    Update,
}

/// The hub's INFO of kind `kind`; `compression`: the mode it names (none
/// for "not supported").
pub(super) fn info(core: &Core, conn: &Client, kind: Info, compression: &str) -> Vec<u8> {
    let account = match kind {
        Info::Connected(a) => Some(a),
        _ => None,
    };
    let s = core.shared();
    let l = s.leaf.as_ref().expect("a leaf listener");
    let mode = if compression == "not supported" {
        ""
    } else {
        compression
    };
    LeafInfo {
        host: l.host.clone(),
        port: l.port,
        auth_required: true,
        tls_required: tls(core).is_some(),
        tls_verify: tls(core).is_some_and(|t| t.options.verify),
        // The nonce a spoke signs with an nkey (the first INFO only).
        nonce: match (kind, conn.nonce.get()) {
            (Info::First, Some(n)) => String::from_utf8_lossy(&n).into_owned(),
            _ => String::new(),
        },
        cluster: s.mesh.as_ref().map(|m| m.name().0).unwrap_or_default(),
        connect_info: account.is_some(),
        remote_account: account.unwrap_or_default().to_string(),
        info_on_connect: true,
        leafnode_urls: match &s.mesh {
            Some(m) => m.leafnode_urls(&l.urls),
            None => l.urls.clone(),
        },
        ..super::link::base_info(core, conn, mode)
    }
    .to_line()
}

/// The leaf listener's compression (nats-server's default `s2_auto`).
pub(super) fn compression(core: &Core) -> crate::config::LeafCompression {
    core.cfg()
        .leaf
        .as_ref()
        .and_then(|l| l.listen.as_ref())
        .map(|l| l.compression.clone())
        .unwrap_or_default()
}

/// The leaf listener's TLS.
pub(super) fn tls(core: &Core) -> Option<crate::config::LeafTls> {
    core.cfg()
        .leaf
        .as_ref()
        .and_then(|l| l.listen.as_ref())
        .and_then(|l| l.tls.clone())
}

fn auth_cfg(core: &Core) -> LeafAuth {
    core.cfg()
        .leaf
        .as_ref()
        .and_then(|l| l.listen.as_ref())
        .map(|l| l.auth.clone())
        .unwrap_or_default()
}

/// Greets an accepted spoke and starts its auth timer.
/// Returns the INFO line (the caller sends it: queued, or in clear before
/// a TLS handshake).
pub(super) fn greet(core: &Rc<Core>, conn: &Rc<Client>) -> Vec<u8> {
    let raw: [u8; shoal_auth::nkey::NONCE_RAW_LEN] = rand::random();
    conn.nonce.set(Some(shoal_auth::nkey::nonce(&raw)));
    let line = info(core, conn, Info::First, &compression(core).mode);
    let after = auth_cfg(core).timeout.unwrap_or(AUTH_TIMEOUT);
    conn.auth_deadline.set(Some(conn.start + after));
    rt::spawn(auth_timer(conn.clone(), after));
    line
}

/// Closes a spoke that has not logged in in time.
async fn auth_timer(conn: Rc<Client>, after: Duration) {
    rt::sleep(after).await;
    if conn.is_open() && conn.auth_deadline.get().is_some() {
        log::error!("{} - Authentication Timeout", conn.log_prefix());
        conn.send(b"-ERR 'Authentication Timeout'\r\n");
        conn.close_after_flush(CloseReason::AuthTimeout);
        conn.env().wake_touched();
    }
}

/// Refuses the spoke with `-ERR '<text>'` and closes it.
fn refuse(conn: &Rc<Client>, text: &str, why: CloseReason) {
    log::error!("{} - {text}", conn.log_prefix());
    conn.send(format!("-ERR '{text}'\r\n").as_bytes());
    conn.close_after_flush(why);
}

/// The spoke's CONNECT.
pub(super) async fn on_connect(link: &mut Link, json: &[u8]) {
    let core = link.core.clone();
    let conn = link.conn.clone();
    if serde_json::from_slice::<serde_json::Value>(json)
        .ok()
        .is_some_and(|v| v.get("lang").is_some())
    {
        // A client on the leaf port (clients say what language they are).
        return refuse(
            &conn,
            "Client Connected to Leafnode Port",
            CloseReason::IncorrectPort,
        );
    }
    let Some(c) = LeafConnect::parse(json) else {
        log::error!("{} - Leafnode CONNECT parse error", conn.log_prefix());
        conn.close_after_flush(CloseReason::ParseError);
        return;
    };
    if c.cluster.contains(' ') {
        return refuse(
            &conn,
            "cluster name cannot contain spaces or new lines",
            CloseReason::ProtocolViolation,
        );
    }
    if !c.gateway.is_empty() {
        let text = format!(
            "Rejecting connection from gateway {:?} on the leafnode port",
            c.gateway
        );
        return refuse(&conn, &text, CloseReason::WrongGateway);
    }
    // A server that declares itself the hub: this side takes the
    // spoke's role on the link.
    conn.spoke.set(c.hub);
    let Some(account) = login(&core, &conn, &c).await else {
        return;
    };
    if !conn.is_open() {
        return;
    }
    conn.auth_deadline.set(None);
    let mut o = conn.opts.get();
    o.headers = c.headers && !core.cfg().no_header_support;
    conn.opts.set(o);
    *conn.name.borrow_mut() = c.name.clone();
    // The spoke's cluster: its interest and messages carry it as their
    // origin across the routes, and never come back to its cluster.
    conn.leaf_cluster
        .set(core.shared().origins.id(c.cluster.as_bytes()));
    conn.route_scope.set(RouteScope::Account(Some(account)));
    *conn.leaf_rules.borrow_mut() = super::link::deny_rules(&c.deny_pub, &[]);
    link.account = account;
    link.account_name = core.auth().account_name(account);
    link.role = Role::Hub { connected: true };
    if !link.negotiated {
        // No INFO came first: the spoke does not compress.
        *conn.leaf_compression.borrow_mut() = if c.compression.is_empty() {
            "not supported".into()
        } else {
            c.compression.clone()
        };
    }
    // The `connect_info` INFO names no compression (nats-server's).
    conn.send(&info(
        &core,
        &conn,
        Info::Connected(&link.account_name),
        "not supported",
    ));
    register(link);
}

/// Logs the spoke in; returns the account it binds, or `None` (refused).
async fn login(core: &Rc<Core>, conn: &Rc<Client>, c: &LeafConnect) -> Option<u16> {
    let auth = auth_cfg(core);
    let bind = |name: Option<&String>| -> Option<u16> {
        let name = name.map_or("$G", |s| s.as_str());
        let id = core.auth().account_id(name.as_bytes());
        if id.is_none() {
            refuse(conn, "Authorization Violation", CloseReason::MissingAccount);
        }
        id
    };
    let denied = |user: &str| {
        log::error!(
            "{} - authentication error - User {:?}",
            conn.log_prefix(),
            user
        );
        conn.send(shoal_proto::encode::ERR_AUTH_VIOLATION);
        conn.close_after_flush(CloseReason::AuthViolation);
        None
    };
    if let Some((user, pass)) = &auth.user {
        if c.user != *user || c.pass != *pass {
            return denied(&c.user);
        }
        return bind(auth.account.as_ref());
    }
    if !auth.users.is_empty() {
        return match auth.users.iter().find(|u| u.user == c.user) {
            Some(u) if u.pass == c.pass => bind(u.account.as_ref()),
            _ => denied(&c.user),
        };
    }
    if !core.auth().required(false) {
        return bind(None);
    }
    let creds = Creds {
        user: c.user.clone(),
        pass: c.pass.clone(),
        token: c.token.clone(),
        nkey: c.nkey.clone(),
        sig: c.sig.clone(),
        jwt: c.jwt.clone(),
        ..Creds::default()
    };
    if crate::auth::login(core.auth(), conn, &creds).await {
        Some(conn.account.get())
    } else {
        None
    }
}
