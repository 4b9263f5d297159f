//! The match cache: literal subject -> shared [`Match`] result.
//!
//! Invariants:
//! * A cached result always equals what a fresh trie walk would return: every
//!   change to a pattern P calls [`MatchCache::invalidate`], which drops exactly
//!   the cached subjects P matches (as nats-server's sublist does). A literal P
//!   can only match the subject spelled like it, so that case is one hash
//!   removal; a wildcard P needs a scan, paid at SUB/UNSUB rate, never per message.
//! * Never more than `capacity` entries; capacity 0 disables caching entirely.
//! * Subjects with an empty token are never cached (they match nothing and are
//!   answered without the trie), so cached keys are always well-formed subjects.
//!
//! Must never: allocate on a hit (`get` is one hash lookup and an `Rc` clone,
//! the `Box<[u8]>` key is looked up through `&[u8]`).

use ahash::AHashMap;
use std::rc::Rc;

use crate::matches::Match;
use crate::validate::{has_wildcard, subject_matches};

pub(crate) struct MatchCache<K> {
    map: AHashMap<Box<[u8]>, Rc<Match<K>>>,
    capacity: usize,
}

impl<K> MatchCache<K> {
    pub(crate) fn new(capacity: usize) -> Self {
        MatchCache {
            map: AHashMap::new(),
            capacity,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// (largest, sum) of the cached results' fan-outs: plain keys plus queue
    /// groups, as nats-server counts a sublist result.
    pub(crate) fn fanout(&self) -> (usize, usize) {
        self.map.values().fold((0, 0), |(max, sum), m| {
            let f = m.plain.len() + m.groups.len();
            (max.max(f), sum + f)
        })
    }

    #[inline]
    pub(crate) fn get(&self, subject: &[u8]) -> Option<Rc<Match<K>>> {
        self.map.get(subject).cloned()
    }

    /// Remembers a result computed on a miss, evicting first when full.
    pub(crate) fn put(&mut self, subject: &[u8], m: Rc<Match<K>>) {
        if self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity {
            self.evict();
        }
        self.map.insert(Box::from(subject), m);
    }

    /// Drops about a quarter of the entries. Hash-map iteration order is
    /// effectively random, so this is random eviction (what nats-server does)
    /// without a second structure; one O(capacity) sweep buys capacity/4 inserts.
    fn evict(&mut self) {
        let target = (self.capacity / 4).max(1);
        let mut dropped = 0;
        self.map.retain(|_, _| {
            if dropped < target {
                dropped += 1;
                false
            } else {
                true
            }
        });
    }

    /// Forgets every cached subject that `pattern` matches; call on any insert
    /// or removal that changed the entries stored under `pattern`.
    pub(crate) fn invalidate(&mut self, pattern: &[u8]) {
        if self.map.is_empty() {
            return;
        }
        if has_wildcard(pattern) {
            self.map
                .retain(|subject, _| !subject_matches(pattern, subject));
        } else {
            self.map.remove(pattern);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc() -> Rc<Match<u32>> {
        Rc::new(Match {
            plain: vec![1],
            groups: Vec::new(),
        })
    }

    #[test]
    fn invalidation_is_exact() {
        let mut c = MatchCache::new(16);
        for s in [&b"a.b"[..], b"a.c", b"a.b.c", b"x.b", b"a"] {
            c.put(s, rc());
        }
        c.invalidate(b"a.*");
        assert!(c.get(b"a.b").is_none());
        assert!(c.get(b"a.c").is_none());
        assert!(c.get(b"a.b.c").is_some());
        assert!(c.get(b"x.b").is_some());
        c.invalidate(b"x.b");
        assert!(c.get(b"x.b").is_none());
        assert!(c.get(b"a").is_some());
        c.invalidate(b">");
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn eviction_bounds_the_size() {
        let mut c = MatchCache::new(8);
        for i in 0..100u32 {
            c.put(format!("s.{i}").as_bytes(), rc());
            assert!(c.len() <= 8);
        }
        // The newest entry always survives its own insertion.
        assert!(c.get(b"s.99").is_some());
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let mut c = MatchCache::new(0);
        c.put(b"a", rc());
        assert_eq!(c.len(), 0);
        assert!(c.get(b"a").is_none());
    }
}
