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
//! announcement goes to every link listed that carries its account (see
//! `RouteScope`: a pool connection carries the accounts hashed to it, a
//! dedicated one its account, without naming it) when it is made, so a link
//! gets the snapshot and then exactly the changes after it.
//!
//! Leaf connections are links too, with a table each (nats-server's
//! `smap`): a leaf hears the account's client interest and the interest
//! of the other leaves ([`Routes::leaf_interest`]), never its own nor a
//! leaf's of its own cluster, and a connection this server dialled to a
//! hub hears another hub's interest only for loop detection (`$LDS.`), as
//! nats-server's `updateSmap` decides. Every leaf link lives on the leaf
//! core (see `leaf/mod.rs`), so the leaves' interest is all at hand there.
//!
//! A hub that is a cluster node joins the two: the interest of the leaves
//! it accepted goes to the routes as their cluster's
//! ([`Routes::hub_leaf_interest`]: `LS+ <origin>`, counted per origin so
//! that it never merges with the clients'), and the routes' interest goes
//! to those leaves but for a leaf of the cluster it is for
//! ([`Routes::route_interest`], kept on the leaf core for leaves that
//! connect later). A spoke's connection (one this server dialled) hears
//! neither, and its interest stays off the routes: its hub's cluster has
//! it.
//!
//! Off the message path (interest changes only), never waits, never touches
//! a socket: lines go to the links' outbound queues.

use std::cell::{Ref, RefCell};
use std::rc::Rc;

use ahash::AHashMap;
use bytes::{Bytes, BytesMut};
use shoal_proto::encode;
use shoal_subject::routes::{Advertised, Announce};

use crate::auth::Auth;
use crate::client::{Client, RouteScope};
use crate::imports::StreamImports;
use shoal_auth::{PermissionSpec, Rules};

/// This core's routes and the server's interest they advertise.
#[derive(Default)]
pub struct Routes {
    on: bool,
    /// A cluster node (routes, not only leaves).
    cluster: bool,
    /// This core holds the leaves of a hub that is a cluster node: they
    /// hear the routes' interest, kept in `routed`.
    leaf_hub: bool,
    /// The cluster's permissions (import as publish, export as subscribe,
    /// as nats-server maps them), compiled for this core.
    perms: RefCell<Option<Rules>>,
    links: RefCell<Vec<Rc<Client>>>,
    advertised: RefCell<Advertised>,
    /// What each leaf link (by cid) has been told.
    leaf_tables: RefCell<AHashMap<u64, Advertised>>,
    /// The interest of the leaves this server is hub to, per leaf cluster
    /// (id, name), as the routes are told it (`LS+ <origin> …`).
    by_origin: RefCell<AHashMap<u16, (Bytes, Advertised)>>,
    /// The routes' interest (of every core), per leaf cluster it is for
    /// (0: the peer's own), as the hub's leaves hear it.
    routed: RefCell<AHashMap<u16, Advertised>>,
    /// Per account id, its name as route lines spell it and the name's
    /// FNV-1a hash (its pool index's source), made once.
    names: RefCell<Vec<Option<(Bytes, u32)>>>,
    /// The accounts pinned to routes of their own (never on a pool's).
    pinned: Vec<Bytes>,
}

/// nats-server's `computeRoutePoolIdx` hash: 32-bit FNV-1a of the name.
pub fn fnv1a(name: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in name {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

impl Routes {
    /// The table of a core of a server with routes or leaves (`on`; a
    /// `cluster` node with the cluster's `permissions`; `leaf_hub`: this
    /// core holds the leaves of a hub in a cluster), or an inert one.
    pub fn new(
        (on, cluster, leaf_hub): (bool, bool, bool),
        permissions: Option<&PermissionSpec>,
        pinned: &[String],
    ) -> Routes {
        Routes {
            on,
            cluster,
            leaf_hub,
            perms: RefCell::new(permissions.map(|p| Rules::compile(p).0)),
            pinned: pinned
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect(),
            ..Routes::default()
        }
    }

    /// Whether account `id`'s interest goes on a route of `scope`.
    fn carries(&self, auth: &Auth, scope: RouteScope, id: u16) -> bool {
        match scope {
            RouteScope::All => true,
            RouteScope::Account(a) => a == Some(id),
            RouteScope::Pool { idx, size } => {
                let (name, hash) = self.account(auth, id);
                !self.pinned.contains(&name) && hash % size.max(1) == idx
            }
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

    /// Whether this server has routes or leaves.
    #[inline]
    pub fn on(&self) -> bool {
        self.on
    }

    /// Whether this server is a cluster node.
    #[inline]
    pub fn cluster(&self) -> bool {
        self.cluster
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
        self.account(auth, id).0
    }

    /// Account `id`'s name and its hash.
    fn account(&self, auth: &Auth, id: u16) -> (Bytes, u32) {
        let mut names = self.names.borrow_mut();
        let i = id as usize;
        if names.len() <= i {
            names.resize(i + 1, None);
        }
        names[i]
            .get_or_insert_with(|| {
                let n = Bytes::from(auth.account_name(id));
                let h = fnv1a(&n);
                (n, h)
            })
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
        if !self.any() {
            return;
        }
        if !self.leaf_tables.borrow().is_empty() {
            let mut pairs = vec![(account, Bytes::copy_from_slice(subject))];
            if !imports.is_empty() {
                let mut shadow = Vec::new();
                for (exporter, imp) in imports.into_account(account) {
                    if imp.shadow(subject, &mut shadow) {
                        pairs.push((exporter, Bytes::copy_from_slice(&shadow)));
                    }
                }
            }
            for l in self.links.borrow().iter().filter(|l| l.leaf) {
                for (a, s) in &pairs {
                    self.tell_leaf(auth, l, *a, s, queue, add, 1);
                }
            }
        }
        if changes.is_empty() {
            return;
        }
        // Each route hears of the accounts it carries (one line serves
        // every route that carries them all).
        let mut all: Option<BytesMut> = None;
        for l in self.links.borrow().iter().filter(|l| !l.leaf) {
            let scope = l.route_scope.get();
            if scope == RouteScope::All {
                let line = all.get_or_insert_with(|| {
                    let mut line = BytesMut::new();
                    for a in &changes {
                        self.put_announce(auth, l, b"", a, &mut line);
                    }
                    line
                });
                l.send(line);
                continue;
            }
            let mut line = BytesMut::new();
            for a in &changes {
                self.put_announce(auth, l, b"", a, &mut line);
            }
            if !line.is_empty() {
                l.send(&line);
            }
        }
    }

    /// Leaf link `src`'s interest in `key` changed by `weight` members
    /// (added or removed): every other leaf that may hear it is told
    /// (nats-server's `updateLeafNodes` and `updateSmap`: a connection to
    /// a hub hears only this server's clients and the leaves that dialled
    /// it, but for loop detection subjects).
    pub fn leaf_interest(
        &self,
        auth: &Auth,
        src: &Client,
        key: &[u8],
        queue: Option<&[u8]>,
        add: bool,
        weight: u32,
    ) {
        if self.leaf_tables.borrow().is_empty() {
            return;
        }
        let (account, subject) = crate::accounts::split(key);
        for l in self.links.borrow().iter() {
            if !l.leaf || !hears(l, src, subject) {
                continue;
            }
            self.tell_leaf(auth, l, account, subject, queue, add, weight);
        }
    }

    /// The interest of a leaf this server is hub to changed by `weight`
    /// members: the routes are told it as the leaf cluster `origin`'s (id,
    /// name), `LS+ <origin> …` to a peer that reads origins, `RS+` to one
    /// that does not (nats-server's `updateRouteSubscriptionMap` with
    /// `keyFromSubWithOrigin`). A leaf that dialled this server is a
    /// spoke's connection: its interest stays off the routes.
    #[allow(clippy::too_many_arguments)]
    pub fn hub_leaf_interest(
        &self,
        auth: &Auth,
        key: &[u8],
        queue: Option<&[u8]>,
        (origin, name): (u16, &Bytes),
        add: bool,
        weight: u32,
    ) {
        if !self.cluster {
            return;
        }
        let (account, subject) = crate::accounts::split(key);
        if !self.may_import(subject) {
            return;
        }
        let mut changes = Vec::new();
        {
            let mut tables = self.by_origin.borrow_mut();
            let (_, table) = tables
                .entry(origin)
                .or_insert_with(|| (name.clone(), Advertised::default()));
            for _ in 0..weight.max(1) {
                let a = if add {
                    table.add(account, subject, queue)
                } else {
                    table.remove(account, subject, queue)
                };
                // A queue group's every step is announced; the last says it all.
                match a {
                    Some(a @ Announce::Sub { queue: Some(_), .. })
                    | Some(a @ Announce::Unsub { queue: Some(_), .. }) => {
                        changes.clear();
                        changes.push(a);
                    }
                    Some(a) => changes.push(a),
                    None => {}
                }
            }
        }
        for l in self.links.borrow().iter().filter(|l| !l.leaf) {
            let mut line = BytesMut::new();
            for a in &changes {
                self.put_announce(auth, l, name, a, &mut line);
            }
            if !line.is_empty() {
                l.send(&line);
            }
        }
    }

    /// A route's interest in `key` changed by `weight` members (`origin`:
    /// the leaf cluster behind the peer it is for, 0 for the peer's own):
    /// the leaves this server is hub to hear it, but for a leaf of that
    /// cluster (nats-server's `updateLeafNodes`: a spoke's connection hears
    /// this server's clients and leaves only). Kept for leaves that
    /// connect later.
    pub fn route_interest(
        &self,
        auth: &Auth,
        key: &[u8],
        queue: Option<&[u8]>,
        origin: u16,
        add: bool,
        weight: u32,
    ) {
        if !self.leaf_hub {
            return;
        }
        let (account, subject) = crate::accounts::split(key);
        {
            let mut routed = self.routed.borrow_mut();
            let table = routed.entry(origin).or_default();
            for _ in 0..weight.max(1) {
                if add {
                    table.add(account, subject, queue);
                } else {
                    table.remove(account, subject, queue);
                }
            }
        }
        for l in self.links.borrow().iter() {
            if l.leaf && !l.spoke.get() && (origin == 0 || l.leaf_cluster.get() != origin) {
                self.tell_leaf(auth, l, account, subject, queue, add, weight);
            }
        }
    }

    /// Counts a change of `weight` members in leaf `link`'s table and
    /// sends what it announces, if the link carries the account.
    #[allow(clippy::too_many_arguments)]
    fn tell_leaf(
        &self,
        auth: &Auth,
        link: &Rc<Client>,
        account: u16,
        subject: &[u8],
        queue: Option<&[u8]>,
        add: bool,
        weight: u32,
    ) {
        if !self.carries(auth, link.route_scope.get(), account) {
            return;
        }
        if !told(link, subject) {
            return;
        }
        let mut tables = self.leaf_tables.borrow_mut();
        let Some(table) = tables.get_mut(&link.cid) else {
            return;
        };
        let mut last = None;
        for _ in 0..weight.max(1) {
            let a = if add {
                table.add(account, subject, queue)
            } else {
                table.remove(account, subject, queue)
            };
            if a.is_some() {
                last = a;
            }
        }
        drop(tables);
        if let Some(a) = last {
            let mut line = BytesMut::new();
            self.put_announce(auth, link, b"", &a, &mut line);
            link.send(&line);
        }
    }

    /// Appends `a`'s line if a route of `scope` carries its account (with
    /// no account name on a dedicated route); `origin`: the leaf cluster
    /// whose interest it is (the `LS+ <origin>` forms, to a peer that
    /// reads them), or empty.
    fn put_announce(
        &self,
        auth: &Auth,
        link: &Client,
        origin: &[u8],
        a: &Announce,
        out: &mut BytesMut,
    ) {
        let scope = link.route_scope.get();
        let (Announce::Sub { account, .. } | Announce::Unsub { account, .. }) = a;
        if !self.carries(auth, scope, *account) {
            return;
        }
        let name = match scope {
            RouteScope::Account(_) => Bytes::new(),
            _ => self.account_name(auth, *account),
        };
        let (lnoc, lnocu) = link.lnoc.get();
        let peer = |unsub: bool| {
            if origin.is_empty() || !lnoc || link.leaf {
                crate::client::peer_line(link, &name)
            } else {
                encode::Peer::Origin {
                    // `LS-` names its origin only to a peer with `lnocu`.
                    origin: if unsub && !lnocu { b"" } else { origin },
                    account: &name,
                }
            }
        };
        match a {
            Announce::Sub { subject, queue, .. } => {
                let q = queue.as_ref().map(|(q, w)| (&q[..], *w));
                encode::put_route_sub(out, peer(false), subject, q);
            }
            Announce::Unsub { subject, queue, .. } => {
                encode::put_route_unsub(out, peer(true), subject, queue.as_deref());
            }
        }
    }

    /// Registers a route of this core (its scope set): it is sent the
    /// advertised interest of the accounts it carries now, then every
    /// change.
    pub fn add_link(&self, auth: &Auth, link: &Rc<Client>) {
        if link.leaf {
            return self.add_leaf(auth, link, Vec::new());
        }
        let mut out = BytesMut::new();
        for a in self.advertised.borrow().snapshot() {
            self.put_announce(auth, link, b"", &a, &mut out);
        }
        for (name, table) in self.by_origin.borrow().values() {
            for a in table.snapshot() {
                self.put_announce(auth, link, name, &a, &mut out);
            }
        }
        if !out.is_empty() {
            link.send(&out);
        }
        self.links.borrow_mut().push(link.clone());
    }

    /// Registers leaf `link`: its table starts with the account's client
    /// interest and `leaves`' (key, queue, weight, source) entries that it
    /// may hear, and it is sent that table.
    pub fn add_leaf(
        &self,
        auth: &Auth,
        link: &Rc<Client>,
        leaves: Vec<(Bytes, Option<Bytes>, u32, Rc<Client>)>,
    ) {
        let crate::client::RouteScope::Account(Some(id)) = link.route_scope.get() else {
            return;
        };
        let mut table = self.advertised.borrow().of_account(id);
        if self.leaf_hub && !link.spoke.get() {
            let own = link.leaf_cluster.get();
            for (origin, t) in self.routed.borrow().iter() {
                if *origin == 0 || *origin != own {
                    t.add_account_into(id, &mut table);
                }
            }
        }
        for (key, queue, weight, src) in &leaves {
            let (account, subject) = crate::accounts::split(key);
            if account != id || !hears(link, src, subject) {
                continue;
            }
            for _ in 0..(*weight).max(1) {
                table.add(account, subject, queue.as_deref());
            }
        }
        let mut out = BytesMut::new();
        for a in table.snapshot() {
            // What the leaf may not send here, it is not told of.
            let (Announce::Sub { subject, .. } | Announce::Unsub { subject, .. }) = &a;
            if told(link, subject) {
                self.put_announce(auth, link, b"", &a, &mut out);
            }
        }
        if !out.is_empty() {
            link.send(&out);
        }
        self.leaf_tables.borrow_mut().insert(link.cid, table);
        self.links.borrow_mut().push(link.clone());
    }

    /// Forgets a closed route or leaf.
    pub fn remove_link(&self, cid: u64) {
        self.links.borrow_mut().retain(|l| l.cid != cid);
        self.leaf_tables.borrow_mut().remove(&cid);
    }
}

/// Whether leaf `link` hears leaf `src`'s interest in `subject`
/// (nats-server's `updateSmap` and `updateLeafNodes`): never its own, nor
/// that of a leaf of its own cluster; a spoke's connection (to this
/// server's hub) hears another such connection's only for loop detection.
fn hears(link: &Client, src: &Client, subject: &[u8]) -> bool {
    let lds = shoal_proto::leaf_info::is_loop_detection(subject);
    let cluster = src.leaf_cluster.get();
    let other_cluster = cluster == 0 || cluster != link.leaf_cluster.get();
    link.cid != src.cid && other_cluster && (!link.spoke.get() || !src.spoke.get() || lds)
}

/// Whether leaf `link` is told of interest in `subject`: not when its
/// deny lists keep that subject from coming here (loop detection always).
fn told(link: &Client, subject: &[u8]) -> bool {
    shoal_proto::leaf_info::is_loop_detection(subject) || link.leaf_may_receive(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_indexes_are_nats_servers() {
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    }
}
