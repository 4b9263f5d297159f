//! A core's side of the cluster: the route connections it owns and what they
//! are told. Every core keeps [`Advertised`], the whole server's client
//! interest as the routes have been told it (its own subscriptions directly,
//! its peer cores' from the interest items on the rings), so that whichever
//! core a route lands on can send it the `RS+` snapshot when it registers and
//! every change after, in the order the changes reached this core.
//!
//! Invariants: only client interest enters `Advertised` (never a route's:
//! nats-server never re-advertises what a route told it); a link is listed
//! here from its registration (peer INFO accepted) until it closes; an
//! announcement goes to every link listed when it is made, so a link gets
//! the snapshot and then exactly the changes after it.
//!
//! Off the message path (interest changes only), never waits, never touches
//! a socket: lines go to the links' outbound queues.

use std::cell::{Ref, RefCell};
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use shoal_proto::encode;
use shoal_subject::routes::{Advertised, Announce};

use crate::auth::Auth;
use crate::client::Client;
use crate::imports::StreamImports;
use shoal_auth::{PermissionSpec, Rules};

/// This core's routes and the server's interest they advertise.
#[derive(Default)]
pub struct Routes {
    on: bool,
    /// The cluster's permissions (import as publish, export as subscribe,
    /// as nats-server maps them), compiled for this core.
    perms: RefCell<Option<Rules>>,
    links: RefCell<Vec<Rc<Client>>>,
    advertised: RefCell<Advertised>,
    /// Per account id, its name as route lines spell it (made once).
    names: RefCell<Vec<Option<Bytes>>>,
}

impl Routes {
    /// The table of a core of a clustered server (`on`, with the cluster's
    /// `permissions`), or an inert one.
    pub fn new(on: bool, permissions: Option<&PermissionSpec>) -> Routes {
        Routes {
            on,
            perms: RefCell::new(permissions.map(|p| Rules::compile(p).0)),
            ..Routes::default()
        }
    }

    /// Whether the peers may be told of interest in `subject` (the import
    /// permission).
    fn may_import(&self, subject: &[u8]) -> bool {
        self.perms
            .borrow_mut()
            .as_mut()
            .is_none_or(|r| r.publish_allowed(subject))
    }

    /// Whether a peer's interest in `subject` is accepted (the export
    /// permission).
    pub fn may_export(&self, subject: &[u8]) -> bool {
        self.perms
            .borrow_mut()
            .as_mut()
            .is_none_or(|r| r.subscribe_allowed(subject, None))
    }

    /// Whether this server is a cluster node.
    #[inline]
    pub fn on(&self) -> bool {
        self.on
    }

    /// Whether this core owns any registered route.
    #[inline]
    pub fn any(&self) -> bool {
        !self.links.borrow().is_empty()
    }

    /// The routes this core owns.
    pub fn links(&self) -> Ref<'_, Vec<Rc<Client>>> {
        self.links.borrow()
    }

    /// Account `id`'s name, as `RS+`/`RMSG` lines carry it.
    pub fn account_name(&self, auth: &Auth, id: u16) -> Bytes {
        let mut names = self.names.borrow_mut();
        let i = id as usize;
        if names.len() <= i {
            names.resize(i + 1, None);
        }
        names[i]
            .get_or_insert_with(|| Bytes::from(auth.account_name(id)))
            .clone()
    }

    /// A client subscription of this server (on any core) was added or
    /// removed: `key` is its subject's key (see `accounts.rs`). The change,
    /// if routes must hear of it, goes to every route of this core. A
    /// subscription to a stream another account exports also counts as
    /// interest in the exporter (nats-server's shadow subscription): the
    /// peer sends the message in the exporter's account, and this server
    /// makes the importer's copy.
    pub fn client_interest(
        &self,
        auth: &Auth,
        imports: &StreamImports,
        key: &[u8],
        queue: Option<&[u8]>,
        add: bool,
    ) {
        if !self.on {
            return;
        }
        let (account, subject) = crate::accounts::split(key);
        let mut changes = Vec::new();
        let mut adv = self.advertised.borrow_mut();
        let mut change = |adv: &mut Advertised, account, subject: &[u8]| {
            if !self.may_import(subject) {
                return;
            }
            let c = if add {
                adv.add(account, subject, queue)
            } else {
                adv.remove(account, subject, queue)
            };
            changes.extend(c);
        };
        change(&mut adv, account, subject);
        if !imports.is_empty() {
            let mut shadow = Vec::new();
            for (exporter, imp) in imports.into_account(account) {
                if imp.shadow(subject, &mut shadow) {
                    change(&mut adv, exporter, &shadow);
                }
            }
        }
        drop(adv);
        if changes.is_empty() || !self.any() {
            return;
        }
        let mut line = BytesMut::new();
        for a in &changes {
            self.put_announce(auth, a, &mut line);
        }
        for l in self.links.borrow().iter() {
            l.send(&line);
        }
    }

    fn put_announce(&self, auth: &Auth, a: &Announce, out: &mut BytesMut) {
        match a {
            Announce::Sub {
                account,
                subject,
                queue,
            } => {
                let name = self.account_name(auth, *account);
                let q = queue.as_ref().map(|(q, w)| (&q[..], *w));
                encode::put_route_sub(out, &name, subject, q);
            }
            Announce::Unsub {
                account,
                subject,
                queue,
            } => {
                let name = self.account_name(auth, *account);
                encode::put_route_unsub(out, &name, subject, queue.as_deref());
            }
        }
    }

    /// Registers a route of this core: it is sent the whole advertised
    /// interest now, then every change.
    pub fn add_link(&self, auth: &Auth, link: &Rc<Client>) {
        let mut out = BytesMut::new();
        for a in self.advertised.borrow().snapshot() {
            self.put_announce(auth, &a, &mut out);
        }
        if !out.is_empty() {
            link.send(&out);
        }
        self.links.borrow_mut().push(link.clone());
    }

    /// Forgets a closed route.
    pub fn remove_link(&self, cid: u64) {
        self.links.borrow_mut().retain(|l| l.cid != cid);
    }
}
