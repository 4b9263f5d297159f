//! The result of a lookup ([`Match`], [`Group`]) and the reusable scratch
//! ([`MatchScratch`]) that merges the entries of every matching trie node into
//! one result.
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
//! Must never: be built on a cache hit (a hit hands out the cached `Rc`), or
//! allocate once its scratch has grown: a miss builds into the caller's
//! [`MatchScratch`], whose buffers are cleared and reused.

use ahash::{AHashMap, AHashSet};
use std::hash::Hash;

use crate::trie::{Entries, Node};

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

/// The reusable state of a lookup that builds its result: the result being
/// built, the sets that keep keys unique, spare member vectors, and the walk's
/// token and frame stacks (kept type-erased between lookups). After the first
/// few lookups have grown them, building a result allocates nothing: every
/// buffer is cleared, never dropped.
pub struct MatchScratch<K> {
    pub(crate) m: Match<K>,
    seen_plain: AHashSet<K>,
    /// (group index, key) -> index into that group's `members`.
    member_at: AHashMap<(usize, K), usize>,
    spare_members: Vec<Vec<(K, u32)>>,
    /// Token boundaries of the subject being looked up.
    pub(crate) tokens: Vec<(u32, u32)>,
    /// The walk's frames, held empty between lookups (see `trie::collect`).
    pub(crate) frames: Vec<crate::trie::ErasedFrame>,
}

impl<K> Default for MatchScratch<K> {
    fn default() -> Self {
        MatchScratch {
            m: Match::empty(),
            seen_plain: AHashSet::new(),
            member_at: AHashMap::new(),
            spare_members: Vec::new(),
            tokens: Vec::new(),
            frames: Vec::new(),
        }
    }
}

impl<K: Copy + Eq + Hash> MatchScratch<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the result, keeping every buffer.
    pub(crate) fn reset(&mut self) {
        self.m.plain.clear();
        for g in self.m.groups.drain(..) {
            let mut v = g.members;
            v.clear();
            self.spare_members.push(v);
        }
        self.seen_plain.clear();
        self.member_at.clear();
    }

    /// Walks `root` for `subject`, merging every matching node's entries into
    /// the result (the walk itself is the trie's; its buffers are ours).
    pub(crate) fn collect_from(&mut self, root: &Node<K>, subject: &[u8]) {
        let mut tokens = std::mem::take(&mut self.tokens);
        let mut frames = std::mem::take(&mut self.frames);
        root.collect(subject, &mut tokens, &mut frames, |e| self.add(e));
        self.tokens = tokens;
        self.frames = frames;
    }

    /// Folds one matching node's entries into the result.
    pub(crate) fn add(&mut self, entries: &Entries<K>) {
        for (&key, _) in entries.plain.iter() {
            // A plain key's weight only says how many identical subscriptions it
            // holds; the result needs each key once, so weights are not kept.
            if self.seen_plain.insert(key) {
                self.m.plain.push(key);
            }
        }
        for (name, members) in entries.queues.iter() {
            // Groups are few: a linear search by name beats a map here.
            let gi = match self.m.groups.iter().position(|g| g.name == *name) {
                Some(gi) => gi,
                None => {
                    self.m.groups.push(Group {
                        name: name.clone(),
                        members: self.spare_members.pop().unwrap_or_default(),
                        total_weight: 0,
                    });
                    self.m.groups.len() - 1
                }
            };
            let group = &mut self.m.groups[gi];
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

    /// The result just built.
    pub fn result(&self) -> &Match<K> {
        &self.m
    }
}
