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
//! * Admission: a miss is cached only the second time its subject misses
//!   within the doorkeeper's memory (recent miss hashes, 8 per bucket, the
//!   oldest of a bucket forgotten first), so subjects seen once — a fresh
//!   reply subject per request — never evict hot ones; eviction is first-in
//!   first-out, one entry per insertion. Buckets of several ways, not one slot
//!   per hash: with one slot, two hot subjects that shared it took turns
//!   overwriting each other and neither was ever cached (a tenth of the
//!   lookups of 256 hot subjects missed for good).
//!
//! Must never: allocate on a hit (`get` is one hash lookup and an `Rc` clone),
//! or on a miss that is not admitted (`admit` touches a fixed array).

use ahash::AHashMap;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::matches::Match;
use crate::validate::{has_wildcard, subject_matches};

/// Buckets of the admission filter (a power of two), and hashes per bucket
/// (one cache line).
const BUCKETS: usize = 512;
const WAYS: usize = 8;

pub(crate) struct MatchCache<K> {
    map: AHashMap<Rc<[u8]>, Rc<Match<K>>>,
    /// Keys in insertion order, for eviction (oldest first). May hold keys
    /// already invalidated; they are skipped when met and compacted away.
    order: VecDeque<Rc<[u8]>>,
    capacity: usize,
    /// Admission: the hashes of recent misses, newest first in each bucket. A
    /// subject is cached on its second miss within the filter's memory, so
    /// one-shot subjects (a fresh reply token per request) never push hot
    /// ones out.
    doorkeeper: Box<[[u64; WAYS]]>,
    hasher: ahash::RandomState,
}

impl<K> MatchCache<K> {
    pub(crate) fn new(capacity: usize) -> Self {
        MatchCache {
            map: AHashMap::new(),
            order: VecDeque::new(),
            capacity,
            doorkeeper: vec![[0; WAYS]; if capacity == 0 { 0 } else { BUCKETS }].into_boxed_slice(),
            hasher: ahash::RandomState::new(),
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

    /// Whether a result just computed for `subject` should be cached: true on
    /// its second miss while the filter still remembers the first (until
    /// `WAYS` newer misses have landed in its bucket). Never allocates.
    pub(crate) fn admit(&mut self, subject: &[u8]) -> bool {
        if self.capacity == 0 {
            return false;
        }
        let h = self.hasher.hash_one(subject) | 1; // 0 marks an empty way
        let bucket = &mut self.doorkeeper[(h >> 32) as usize & (BUCKETS - 1)];
        if let Some(i) = bucket.iter().position(|&x| x == h) {
            bucket[i..].rotate_left(1);
            bucket[WAYS - 1] = 0;
            return true;
        }
        bucket.rotate_right(1);
        bucket[0] = h;
        false
    }

    /// Remembers a result, evicting the oldest entry first when full (one
    /// eviction per insertion, never a sweep).
    pub(crate) fn put(&mut self, subject: &[u8], m: Rc<Match<K>>) {
        if self.capacity == 0 {
            return;
        }
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        let key: Rc<[u8]> = Rc::from(subject);
        self.order.push_back(key.clone());
        self.map.insert(key, m);
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order.retain(|k| map.contains_key(k));
        }
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
    fn hot_subjects_are_admitted_whatever_their_hashes() {
        // 256 hot subjects among a storm of one-shot ones. A hot subject is
        // cached on its second miss unless 8 newer misses landed in its bucket
        // in between (about 1 in 1,000 here, since 1,023 other misses fall
        // into 512 buckets per round); it is then remembered again and
        // cached on a later miss. With one slot per hash, colliding hot
        // subjects evicted each other's first miss and were never cached.
        let mut c = MatchCache::<u32>::new(4096);
        let mut unique = 0u64;
        for round in 0..10 {
            for i in 0..256 {
                let s = format!("orders.{i}.created");
                if c.get(s.as_bytes()).is_none() && c.admit(s.as_bytes()) {
                    c.put(s.as_bytes(), rc());
                }
                for _ in 0..3 {
                    unique += 1;
                    assert!(!c.admit(format!("_INBOX.x.{unique}").as_bytes()));
                }
            }
            if round == 1 {
                // After the second miss nearly all are in (a miss of more
                // than a handful would mean the buckets collide, not chance).
                assert!(c.len() >= 250, "{} of 256 after two rounds", c.len());
            }
        }
        assert_eq!(c.len(), 256);
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let mut c = MatchCache::new(0);
        c.put(b"a", rc());
        assert_eq!(c.len(), 0);
        assert!(c.get(b"a").is_none());
    }
}
