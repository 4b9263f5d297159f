//! Core 0's side of the server's own request subjects (`$SYS.REQ.SERVER…`,
//! answered by `monitor::sysreq`): the system account's subscriptions, held
//! by the core's internal publisher; the requests they are delivered, handed
//! to the monitoring thread in arrival order; and its answers, published in
//! the system account on each request's reply subject.
//!
//! Only core 0 subscribes, so a request published on any core reaches the
//! server once. A request is copied once, off the routing that delivered it
//! (`Core::queue_sys_request`); nothing here is on the message path.

use std::rc::Rc;

use bytes::Bytes;

use crate::core::Core;
use crate::monitor::sysreq::{subjects, CoreSysLink, ACCOUNT_SUBJECTS};
use crate::rt::{RingRx, RingTx};

/// Subscribes the accounts other than the system account that have not
/// been yet (at start, and after a reload that added accounts) to the
/// services nats-server imports into every account.
pub fn subscribe_accounts(core: &Core) {
    let Some(system) = core.auth().system_account_id() else {
        return;
    };
    if core.id() != 0 || core.cfg().logins.accounts().is_empty() {
        return;
    }
    let internal = core.internal_publisher();
    let done = core.sys_accounts();
    let accounts = core.auth().logins().accounts().len();
    for account in (done.get()..accounts).filter(|&a| a != usize::from(system)) {
        for subject in ACCOUNT_SUBJECTS {
            let key = core.key(account as u16, subject.as_bytes());
            core.subscribe(&internal, Bytes::from_static(subject.as_bytes()), key, None);
        }
    }
    done.set(accounts);
}

/// Subscribes, then relays requests and answers until either side goes.
pub async fn serve(core: Rc<Core>, link: CoreSysLink, system: u16) {
    let internal = core.internal_publisher();
    let mut all = subjects(&core.shared().server_id);
    if core.cfg().claims.is_some() {
        all.extend(crate::claims::SUBJECTS.iter().map(|s| s.to_string()));
    }
    for subject in all {
        let key = core.key(system, subject.as_bytes());
        core.subscribe(&internal, Bytes::from(subject), key, None);
    }
    subscribe_accounts(&core);
    let tx = RingTx::connect(link.requests).await;
    let rx = RingRx::connect(link.answers).await;
    let answers = async {
        while let Some(a) = rx.recv().await {
            let account = if a.account == crate::records::SYSTEM_ACCOUNT {
                system
            } else {
                a.account
            };
            crate::events::publish_payload(&core, account, &a.reply, &a.payload);
        }
    };
    let requests = async {
        loop {
            let r = core.next_sys_request().await;
            if tx.send(r).await.is_err() {
                return;
            }
        }
    };
    futures_lite::future::or(answers, requests).await;
}
