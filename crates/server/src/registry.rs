//! A core's subscription registry: its own subscriptions (a slab of [`Sub`]s,
//! found through the subject [`Index`] by slot key), the interest summary of its
//! peer cores, and the ids of its queue groups. Owned by one core, never shared.
//!
//! Invariants: every live slot is in the index under its (subject, queue) and
//! in its client's sid map; the summary holds, per peer core, exactly the
//! (pattern, queue) entries that peer announced and has not withdrawn, keyed by
//! (peer, the peer's queue id — 0 for plain interest), weighted by member
//! count; a queue id names one group name for as long as a subscription of
//! this core uses it, and is never reused for another name.
//!
//! Must never: allocate on the lookup path ([`Registry::lookup_local`] and
//! [`Registry::lookup_remote`] build into scratch the registry keeps), know of
//! rings or sockets.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ahash::AHashMap;
use bytes::Bytes;
use shoal_subject::{Index, IndexStats, MatchScratch};
use slab::Slab;

use crate::client::Client;
use crate::ring::QueueId;

/// A local subscription.
pub struct Sub {
    pub client: Rc<Client>,
    pub sid: Bytes,
    pub subject: Bytes,
    /// The queue group: this core's id for it, and its name.
    pub queue: Option<(QueueId, Bytes)>,
    /// Auto-unsubscribe after this many deliveries (0 = never).
    pub max: Cell<u64>,
    pub delivered: Cell<u64>,
    /// Queue members it counts for: 1 for a client's; a route's queue
    /// interest counts as the members the peer announced.
    pub weight: Cell<u32>,
    /// A route's entry for a leaf behind the peer: the leaf's cluster
    /// (`origins.rs` id; 0 = the peer's own interest).
    pub origin: Cell<u16>,
}

/// Key of a summary entry: the peer core (with [`ROUTE_PEER`] set for
/// interest a route connection of that core holds), and its queue id
/// (0 = plain).
pub type PeerKey = (u16, QueueId);

/// Marks a summary entry as a route's interest on that peer core: a
/// message from a client goes there for it, one from a route never does.
pub const ROUTE_PEER: u16 = 1 << 15;

/// This core's queue group names and their ids.
#[derive(Default)]
struct Interner {
    ids: AHashMap<Bytes, (QueueId, u32)>,
    names: AHashMap<QueueId, Bytes>,
    last: QueueId,
}

impl Interner {
    /// The id of `name`, with one more subscription using it.
    fn acquire(&mut self, name: &[u8]) -> (QueueId, Bytes) {
        if let Some((id, refs)) = self.ids.get_mut(name) {
            *refs += 1;
            let id = *id;
            return (id, self.names[&id].clone());
        }
        // Ids only grow: a message routed here with an id whose group is gone
        // finds nothing, never another group. After 2^32 groups they wrap,
        // skipping ids still in use (a live group's name is never replaced).
        loop {
            // Ids stay below the bit that marks a route pick (`ring.rs`).
            self.last = match self.last + 1 {
                n if n >= crate::ring::ROUTE_MEMBER => 1,
                n => n,
            };
            if !self.names.contains_key(&self.last) {
                break;
            }
        }
        let name = Bytes::copy_from_slice(name);
        self.ids.insert(name.clone(), (self.last, 1));
        self.names.insert(self.last, name.clone());
        (self.last, name)
    }

    fn release(&mut self, id: QueueId) {
        let Some(name) = self.names.get(&id) else {
            return;
        };
        if let Some((_, refs)) = self.ids.get_mut(name) {
            *refs -= 1;
            if *refs == 0 {
                let name = name.clone();
                self.ids.remove(&name);
                self.names.remove(&id);
            }
        }
    }
}

#[derive(Default)]
pub struct Registry {
    subs: RefCell<Slab<Sub>>,
    index: RefCell<Index<u32>>,
    summary: RefCell<Index<PeerKey>>,
    queues: RefCell<Interner>,
    local_scratch: RefCell<MatchScratch<u32>>,
    remote_scratch: RefCell<MatchScratch<PeerKey>>,
    /// Queue subscriptions of routes on this core: while there are none,
    /// every local group member is a client (queue picks need not ask).
    route_queue_subs: Cell<usize>,
}

impl Registry {
    /// Adds a subscription of `client` (the caller validated it and knows the
    /// sid is new). Returns its slot and its queue group (id, name).
    pub fn add(
        &self,
        client: &Rc<Client>,
        sid: Bytes,
        subject: Bytes,
        queue: Option<&[u8]>,
    ) -> (u32, Option<(QueueId, Bytes)>) {
        self.add_weighted(client, sid, subject, queue, 1)
    }

    /// [`Registry::add`] for a subscription worth `weight` queue members
    /// (a route's queue interest).
    pub fn add_weighted(
        &self,
        client: &Rc<Client>,
        sid: Bytes,
        subject: Bytes,
        queue: Option<&[u8]>,
        weight: u32,
    ) -> (u32, Option<(QueueId, Bytes)>) {
        let weight = weight.max(1);
        if client.route && queue.is_some() {
            self.route_queue_subs.set(self.route_queue_subs.get() + 1);
        }
        let queue = queue.map(|q| self.queues.borrow_mut().acquire(q));
        let key = self.subs.borrow_mut().insert(Sub {
            client: client.clone(),
            sid: sid.clone(),
            subject: subject.clone(),
            queue: queue.clone(),
            max: Cell::new(0),
            delivered: Cell::new(0),
            weight: Cell::new(weight),
            origin: Cell::new(0),
        }) as u32;
        let mut index = self.index.borrow_mut();
        for _ in 0..weight {
            index.insert(&subject, queue.as_ref().map(|(_, n)| &n[..]), key);
        }
        drop(index);
        client.subs.borrow_mut().insert(sid, key);
        (key, queue)
    }

    /// Sets the weight of subscription `key` (a route's queue interest whose
    /// member count changed). Returns the old weight.
    pub fn reweight(&self, key: u32, weight: u32) -> Option<u32> {
        let weight = weight.max(1);
        let subs = self.subs.borrow();
        let sub = subs.get(key as usize)?;
        let old = sub.weight.replace(weight);
        let queue = sub.queue.as_ref().map(|(_, n)| &n[..]);
        let mut index = self.index.borrow_mut();
        for _ in weight..old {
            index.remove(&sub.subject, queue, key);
        }
        for _ in old..weight {
            index.insert(&sub.subject, queue, key);
        }
        Some(old)
    }

    /// Removes a subscription from the slab, the index and its client's sid
    /// map; `None` if the slot was already free.
    pub fn remove(&self, key: u32) -> Option<Sub> {
        let sub = self.subs.borrow_mut().try_remove(key as usize)?;
        if sub.client.route && sub.queue.is_some() {
            self.route_queue_subs.set(self.route_queue_subs.get() - 1);
        }
        let mut index = self.index.borrow_mut();
        for _ in 0..sub.weight.get() {
            index.remove(&sub.subject, sub.queue.as_ref().map(|(_, n)| &n[..]), key);
        }
        drop(index);
        sub.client.subs.borrow_mut().remove(&sub.sid);
        if let Some((id, _)) = &sub.queue {
            self.queues.borrow_mut().release(*id);
        }
        Some(sub)
    }

    /// Applies a peer's interest change to the summary: `weight` members
    /// added or removed, held by a client or (`route`) a route of that core.
    pub fn apply_interest(
        &self,
        peer: u16,
        pattern: &[u8],
        queue: &Option<(QueueId, Bytes)>,
        add: bool,
        (route, weight): (bool, u32),
    ) {
        let (qid, name) = match queue {
            Some((id, name)) => (*id, Some(&name[..])),
            None => (0, None),
        };
        let peer = if route { peer | ROUTE_PEER } else { peer };
        let mut sm = self.summary.borrow_mut();
        for _ in 0..weight.max(1) {
            if add {
                sm.insert(pattern, name, (peer, qid));
            } else {
                sm.remove(pattern, name, (peer, qid));
            }
        }
    }

    /// This core's subscriptions matching `subject`, into the registry's
    /// scratch (no allocation). The guard keeps the scratch borrowed while
    /// the result is read.
    pub fn lookup_local<R>(
        &self,
        subject: &[u8],
        f: impl FnOnce(&shoal_subject::Match<u32>) -> R,
    ) -> R {
        let mut scratch = self.local_scratch.borrow_mut();
        let found = self.index.borrow_mut().lookup(subject, &mut scratch);
        f(&found)
    }

    /// Both lookups at once, for a publish that may go local and remote.
    pub fn lookup_both<R>(
        &self,
        subject: &[u8],
        f: impl FnOnce(&shoal_subject::Match<u32>, &shoal_subject::Match<PeerKey>) -> R,
    ) -> R {
        let mut ls = self.local_scratch.borrow_mut();
        let mut rs = self.remote_scratch.borrow_mut();
        let local = self.index.borrow_mut().lookup(subject, &mut ls);
        let remote = self.summary.borrow_mut().lookup(subject, &mut rs);
        f(&local, &remote)
    }

    /// Whether any local queue group may have a route member.
    #[inline]
    pub fn has_route_queue_subs(&self) -> bool {
        self.route_queue_subs.get() > 0
    }

    /// The subscription in slot `key`, if live.
    pub fn with_sub<R>(&self, key: u32, f: impl FnOnce(&Sub) -> R) -> Option<R> {
        self.subs.borrow().get(key as usize).map(f)
    }

    /// The slot of every subscription, in slot order (monitoring reads them
    /// with [`Registry::with_sub`], a few at a time).
    pub fn sub_keys(&self) -> Vec<u32> {
        self.subs.borrow().iter().map(|(k, _)| k as u32).collect()
    }

    /// The name of this core's queue group `id`, if a subscription still uses it.
    pub fn queue_name(&self, id: QueueId) -> Option<Bytes> {
        self.queues.borrow().names.get(&id).cloned()
    }

    /// The index's sizes and counters (`/subsz`).
    pub fn index_stats(&self) -> IndexStats {
        self.index.borrow().stats()
    }

    /// A lookup off the message path that returns its own result.
    pub fn matches_local(&self, subject: &[u8]) -> Rc<shoal_subject::Match<u32>> {
        self.index.borrow_mut().matches(subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::CoreEnv;
    use crate::config::{Config, Live};

    fn client(cid: u64) -> Rc<Client> {
        let env = CoreEnv::new(Live::from(&Config::default()));
        Rc::new(Client::new(cid, "127.0.0.1:1".parse().unwrap(), env, None))
    }

    #[test]
    fn queue_ids_are_interned_and_never_reused() {
        let r = Registry::default();
        let c = client(1);
        let (k1, q1) = r.add(&c, Bytes::from("1"), Bytes::from("a"), Some(b"w"));
        let (_, q2) = r.add(&c, Bytes::from("2"), Bytes::from("b"), Some(b"w"));
        assert_eq!(q1.as_ref().unwrap().0, q2.as_ref().unwrap().0);
        let id = q1.unwrap().0;
        r.remove(k1);
        assert_eq!(r.queue_name(id).as_deref(), Some(&b"w"[..]));
        let k2 = *c.subs.borrow().get(&b"2"[..]).unwrap();
        r.remove(k2);
        assert_eq!(r.queue_name(id), None);
        let (_, q3) = r.add(&c, Bytes::from("3"), Bytes::from("c"), Some(b"w"));
        assert_ne!(q3.unwrap().0, id, "a freed id is not reused");
    }

    #[test]
    fn a_routes_queue_weight_is_replaced_and_removed_whole() {
        let r = Registry::default();
        let env = CoreEnv::new(Live::from(&Config::default()));
        let mut link = Client::new(9, "127.0.0.1:1".parse().unwrap(), env, None);
        link.route = true;
        let link = Rc::new(link);
        let member = client(1);
        r.add(&member, Bytes::from("1"), Bytes::from("jobs"), Some(b"w"));
        let (slot, _) = r.add_weighted(
            &link,
            Bytes::from("jobs w"),
            Bytes::from("jobs"),
            Some(b"w"),
            5,
        );
        assert!(r.has_route_queue_subs());
        let weight = |r: &Registry| r.lookup_local(b"jobs", |m| m.groups[0].total_weight);
        assert_eq!(weight(&r), 6, "the peer's five and the local one");
        assert_eq!(r.reweight(slot, 2), Some(5), "replaced, not added to");
        assert_eq!(weight(&r), 3);
        r.remove(slot);
        assert_eq!(weight(&r), 1, "every unit goes with the entry");
        assert!(!r.has_route_queue_subs());
    }

    #[test]
    fn summary_keeps_peer_and_queue_id() {
        let r = Registry::default();
        r.apply_interest(1, b"foo.*", &Some((7, Bytes::from("w"))), true, (false, 1));
        r.apply_interest(1, b"foo.*", &Some((7, Bytes::from("w"))), true, (false, 1));
        r.apply_interest(2, b"foo.bar", &None, true, (false, 1));
        r.lookup_both(b"foo.bar", |_, m| {
            assert_eq!(m.plain, vec![(2, 0)]);
            assert_eq!(m.groups.len(), 1);
            assert_eq!(m.groups[0].members, vec![((1, 7), 2)]);
        });
        r.apply_interest(1, b"foo.*", &Some((7, Bytes::from("w"))), false, (false, 1));
        r.lookup_both(b"foo.bar", |_, m| assert_eq!(m.groups[0].total_weight, 1));
    }

    #[test]
    fn queue_ids_wrap_around_live_groups() {
        let mut q = Interner::default();
        let (a, _) = q.acquire(b"a");
        assert_eq!(a, 1);
        q.last = crate::ring::ROUTE_MEMBER - 2;
        let (b, _) = q.acquire(b"b");
        assert_eq!(b, crate::ring::ROUTE_MEMBER - 1);
        let (c, name) = q.acquire(b"c");
        assert_eq!(c, 2, "wraps past 0 and past 1, which group a still holds");
        assert_eq!(&name[..], b"c");
        assert_eq!(&q.names[&1][..], b"a");
        assert_eq!(q.acquire(b"a").0, 1, "the same name keeps its id");
    }
}
