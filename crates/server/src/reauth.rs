//! A reload's logins applied to the connections already in, as nats-server's
//! `reloadAuthorization` applies them (it runs on every reload, whatever
//! changed):
//!
//! * a connection logged in under a user name the new users list lacks is
//!   closed, as `Client Closed`, with nothing said. (nats-server 2.15.1 also
//!   closes every connection that named a user when there is no users list at
//!   all — a single user, or no auth — on any reload; Shoal keeps those and
//!   checks them like the rest);
//! * every other connection is checked again with the credentials it logged
//!   in with (bcrypt and JWT chains on the blocking pool, as at CONNECT):
//!   refused, it gets `-ERR 'Authorization Violation'` (a JWT user its
//!   account now revokes: `-ERR 'User Authentication Revoked'`) and is
//!   closed;
//! * one still in gets its user's new permissions (the next publish is
//!   checked against them), and each subscription they no longer allow is
//!   removed with `-ERR 'Permissions Violation for Subscription to "s" (sid
//!   "1")'` and the server's notice `Removed sub "s" (sid "1") for User "u" -
//!   not authorized`.
//!
//! Runs on each core for its own connections, from the ticker; each check is
//! its own task, so a bcrypt check never holds up the core.

use std::rc::Rc;

use crate::auth;
use crate::client::{Client, CloseReason};
use crate::core::Core;
use crate::rt;

/// Applies the core's new logins (already in `core.auth()`) to its clients.
pub fn after_reload(core: &Rc<Core>) {
    let logins = core.auth().logins();
    for client in core.client_list() {
        if !client.connected.get() || !client.is_open() {
            continue;
        }
        let creds = client.kept_creds();
        let listed = !logins.users().is_empty() || !logins.nkeys().is_empty();
        let gone = if !creds.nkey.is_empty() {
            !logins.has_nkey(&creds.nkey)
        } else {
            !creds.user.is_empty() && !logins.has_user(&creds.user)
        };
        // A user now in another account is closed too (it reconnects into
        // the new one), as nats-server does.
        let moved = listed
            && !gone
            && logins.account_of(&creds.user, &creds.nkey) != Some(client.account.get())
            && !(creds.user.is_empty() && creds.nkey.is_empty());
        if listed && gone || moved {
            client.close_after_flush(CloseReason::ClientClosed);
            continue;
        }
        if !core.auth().required(client.websocket.get()) {
            *client.perms.borrow_mut() = None;
            continue;
        }
        let core = core.clone();
        rt::spawn(async move {
            if !auth::recheck(core.auth(), &client, &creds).await {
                return;
            }
            prune_subscriptions(&core, &client, &creds);
            core.end_pass();
        });
    }
}

/// Removes the subscriptions `client`'s new permissions no longer allow.
fn prune_subscriptions(core: &Core, client: &Rc<Client>, creds: &crate::client::Creds) {
    let keys: Vec<u32> = client.subs.borrow().values().copied().collect();
    for key in keys {
        let Some((sid, subject, queue)) = core.registry().with_sub(key, |s| {
            (
                s.sid.clone(),
                s.subject.clone(),
                s.queue.as_ref().map(|(_, name)| name.clone()),
            )
        }) else {
            continue;
        };
        let allowed = match client.perms.borrow_mut().as_mut() {
            Some(p) => p.may_subscribe(crate::accounts::strip(&subject), queue.as_deref()),
            None => true,
        };
        if allowed {
            continue;
        }
        core.unsubscribe(key, crate::trace::on());
        removed(
            client,
            creds,
            &sid,
            crate::accounts::strip(&subject),
            queue.as_deref(),
        );
    }
}

/// The `-ERR` and the notice for one removed subscription.
fn removed(
    client: &Rc<Client>,
    creds: &crate::client::Creds,
    sid: &[u8],
    subject: &[u8],
    queue: Option<&[u8]>,
) {
    let q = |b: &[u8]| shoal_go::quote(b);
    let (s, sid) = (q(subject), q(sid));
    let what = match queue {
        Some(g) => format!("{s} using queue {}", q(g)),
        None => s,
    };
    client.send_err(
        format!("-ERR 'Permissions Violation for Subscription to {what} (sid {sid})'\r\n")
            .as_bytes(),
    );
    // nats-server's getAuthUser: who the connection logged in as.
    let who = if !creds.nkey.is_empty() {
        format!("Nkey {}", q(creds.nkey.as_bytes()))
    } else if !creds.user.is_empty() {
        format!("User {}", q(creds.user.as_bytes()))
    } else if !creds.token.is_empty() {
        "Token \"[REDACTED]\"".to_string()
    } else {
        "User \"N/A\"".to_string()
    };
    log::info!("Removed sub {what} (sid {sid}) for {who} - not authorized");
}
