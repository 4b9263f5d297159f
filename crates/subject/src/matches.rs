//! The result of a lookup ([`Match`], [`Group`]) and the builder that merges the
//! entries of every matching trie node into one result.
//!
//! Invariants of a built [`Match`]:
//! * `plain` lists each key at most once, in the order the trie walk met them
//!   (nats-server's `matchLevel` order, see `Node::collect`), even when the key
//!   matches through several patterns (`foo.*` and `foo.>`): at its first place.
//! * `groups` holds one [`Group`] per queue name, merged across all matching
//!   patterns, in the order the walk first met each name; inside a group each
//!   key is listed once (at its first place) with its weights summed, and
//!   `total_weight` is the sum of the member weights.
//! * No weight in a result is zero (the trie never stores zero weights).
//!
//! Must never: be built on a cache hit (a hit hands out the cached `Rc`); the
//! builder allocates freely because it runs only on a miss.

use ahash::{AHashMap, AHashSet};
use std::hash::Hash;

use crate::trie::Entries;

/// Every subscription entry matching one literal subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<K> {
    /// Plain (non-queue) matching keys, each key at most once even if it matches
    /// through several patterns (e.g. core 3 has `foo.*` and `foo.>`); in
    /// nats-server's sublist match order (the key's first place in it).
    pub plain: Vec<K>,
    /// Matching queue groups, merged by name across all matching patterns
    /// (`SUB foo.* q` and `SUB foo.> q` are one group for `foo.bar`), in the
    /// order nats-server's sublist first meets each name.
    pub groups: Vec<Group<K>>,
}

/// One queue group of a [`Match`]: deliver to exactly one member, picked by weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group<K> {
    /// The queue name, as given on SUB (no validation: `a.*` is a literal name).
    pub name: bytes::Bytes,
    /// Members with their weights, in match order (a key appearing via several
    /// patterns in the same group: weights summed, listed once at its first place).
    pub members: Vec<(K, u32)>,
    /// Sum of the member weights.
    pub total_weight: u32,
}

impl<K> Match<K> {
    /// The empty result (no allocation: empty `Vec`s do not allocate).
    pub fn empty() -> Self {
        Match {
            plain: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// True when nothing matched: no plain key and no group.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.groups.is_empty()
    }
}

impl<K> Default for Match<K> {
    fn default() -> Self {
        Self::empty()
    }
}

/// Merges the entries of matching trie nodes; see the module invariants.
pub(crate) struct MatchBuilder<'a, K> {
    seen_plain: AHashSet<K>,
    plain: Vec<K>,
    /// Queue name -> index into `groups`.
    group_at: AHashMap<&'a [u8], usize>,
    groups: Vec<Group<K>>,
    /// (group index, key) -> index into that group's `members`.
    member_at: AHashMap<(usize, K), usize>,
}

impl<'a, K: Copy + Eq + Hash> MatchBuilder<'a, K> {
    pub(crate) fn new() -> Self {
        MatchBuilder {
            seen_plain: AHashSet::new(),
            plain: Vec::new(),
            group_at: AHashMap::new(),
            groups: Vec::new(),
            member_at: AHashMap::new(),
        }
    }

    /// Folds one matching node's entries into the result.
    pub(crate) fn add(&mut self, entries: &'a Entries<K>) {
        for (&key, _) in entries.plain.iter() {
            // A plain key's weight only says how many identical subscriptions it
            // holds; the result needs each key once, so weights are not kept.
            if self.seen_plain.insert(key) {
                self.plain.push(key);
            }
        }
        for (name, members) in entries.queues.iter() {
            let gi = match self.group_at.get(&name[..]) {
                Some(&gi) => gi,
                None => {
                    let gi = self.groups.len();
                    self.groups.push(Group {
                        name: name.clone(),
                        members: Vec::new(),
                        total_weight: 0,
                    });
                    self.group_at.insert(&name[..], gi);
                    gi
                }
            };
            let group = &mut self.groups[gi];
            for (&key, &weight) in members.iter() {
                // Saturate rather than overflow: 2^32 identical subscriptions are
                // not a real workload, and a wrong pick weight beats a panic.
                group.total_weight = group.total_weight.saturating_add(weight);
                match self.member_at.get(&(gi, key)) {
                    Some(&mi) => {
                        let w = &mut group.members[mi].1;
                        *w = w.saturating_add(weight);
                    }
                    None => {
                        self.member_at.insert((gi, key), group.members.len());
                        group.members.push((key, weight));
                    }
                }
            }
        }
    }

    pub(crate) fn finish(self) -> Match<K> {
        Match {
            plain: self.plain,
            groups: self.groups,
        }
    }
}
