//! [`Index`]: the subscription index (trie + match cache) used both as a core's
//! local index (K = subscription slot, each key inserted once) and as the
//! interest summary of peer cores (K = core id, the same triple inserted many
//! times; the count is the weight queue-group picks use).
//!
//! Invariants:
//! * `len` is the number of distinct (pattern, queue, key) triples in the trie.
//! * The cache never disagrees with the trie: every insert, and every remove that
//!   found its triple, invalidates the cached subjects the pattern matches
//!   (weight changes included, since group weights are part of a result).
//! * Results that match nothing share one preallocated empty `Match`.
//!
//! Must never: allocate in [`Index::lookup`], hit or miss (only admitting a
//! subject into the cache allocates); validate patterns (the caller does, with
//! [`crate::is_valid_subscribe_subject`]); panic on any input.

use std::fmt;
use std::hash::Hash;
use std::rc::Rc;

use crate::cache::MatchCache;
use crate::matches::{Match, MatchScratch};
use crate::trie::{Node, Removed};
use crate::validate::has_empty_token;

/// Where a lookup's result lives: shared from the cache, or built into the
/// caller's scratch (valid until the scratch is used again).
pub enum Found<'s, K> {
    Cached(Rc<Match<K>>),
    Built(&'s Match<K>),
}

impl<K> std::ops::Deref for Found<'_, K> {
    type Target = Match<K>;
    fn deref(&self) -> &Match<K> {
        match self {
            Found::Cached(rc) => rc,
            Found::Built(m) => m,
        }
    }
}

/// Default number of cached subjects.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// A subscription index: a trie keyed by tokens with separate slots for `*` and
/// `>` children, holding weighted entries (key `K`) per node, split into plain
/// entries and queue-group entries, with a cache of lookup results.
pub struct Index<K> {
    root: Node<K>,
    len: usize,
    cache: MatchCache<K>,
    empty: Rc<Match<K>>,
    counts: Counts,
}

/// Lifetime counters behind [`IndexStats`]: plain adds on paths that already
/// hold `&mut self`, never a separate pass.
#[derive(Default)]
struct Counts {
    inserts: u64,
    removes: u64,
    matches: u64,
    cache_hits: u64,
}

/// What nats-server's sublist statistics report (`/subsz`, `/accountz`): sizes,
/// lifetime counters, and the fan-out of the results now in the cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Distinct (pattern, queue, key) entries.
    pub entries: usize,
    /// Subjects in the match cache.
    pub cached: usize,
    pub inserts: u64,
    pub removes: u64,
    /// Lookups ([`Index::matches`] calls).
    pub matches: u64,
    /// Lookups answered from the cache.
    pub cache_hits: u64,
    /// Largest cached result (plain keys plus queue groups).
    pub max_fanout: usize,
    /// Sum of the cached results' fan-outs (average = this / `cached`).
    pub total_fanout: usize,
}

impl<K: Copy + Eq + Hash> Index<K> {
    /// An empty index with the cache on ([`DEFAULT_CACHE_CAPACITY`] subjects).
    pub fn new() -> Self {
        Self::with_cache_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// An empty index caching at most `n` subjects; 0 disables the cache.
    pub fn with_cache_capacity(n: usize) -> Self {
        Index {
            root: Node::default(),
            len: 0,
            cache: MatchCache::new(n),
            empty: Rc::new(Match::empty()),
            counts: Counts::default(),
        }
    }

    /// Adds one (pattern, queue, key). If that exact triple is already present,
    /// its weight goes up by one. The caller has validated the pattern.
    pub fn insert(&mut self, pattern: &[u8], queue: Option<&[u8]>, key: K) {
        if self.root.insert(pattern, queue, key) {
            self.len += 1;
        }
        self.counts.inserts += 1;
        self.cache.invalidate(pattern);
    }

    /// Removes one unit of weight of (pattern, queue, key), dropping the triple
    /// at zero and pruning trie nodes left empty. False if it was not present.
    pub fn remove(&mut self, pattern: &[u8], queue: Option<&[u8]>, key: K) -> bool {
        match self.root.remove(pattern, queue, key) {
            Removed::Absent => return false,
            Removed::Decremented => {}
            Removed::Dropped => self.len -= 1,
        }
        self.counts.removes += 1;
        self.cache.invalidate(pattern);
        true
    }

    /// All entries matching the literal `subject`, listed in nats-server's
    /// sublist match order (see [`Match`]; entries of one pattern in insertion
    /// order). A subject with an empty token (or the empty subject) matches
    /// nothing.
    ///
    /// No allocation, hit or miss: a hit is a hash lookup and an `Rc` clone; a
    /// miss walks the trie into `scratch` (cleared, not freed) and is cached
    /// only when its subject keeps coming (see the cache's admission), which is
    /// the one time a miss allocates.
    pub fn lookup<'s>(&mut self, subject: &[u8], scratch: &'s mut MatchScratch<K>) -> Found<'s, K> {
        self.counts.matches += 1;
        if let Some(hit) = self.cache.get(subject) {
            self.counts.cache_hits += 1;
            return Found::Cached(hit);
        }
        if has_empty_token(subject) {
            // Not cached: answering is as cheap as a lookup, and caching would let
            // garbage publishes push real subjects out.
            return Found::Cached(Rc::clone(&self.empty));
        }
        scratch.reset();
        scratch.collect_from(&self.root, subject);
        if self.cache.admit(subject) {
            let rc = if scratch.m.is_empty() {
                Rc::clone(&self.empty)
            } else {
                Rc::new(scratch.m.clone())
            };
            self.cache.put(subject, Rc::clone(&rc));
            return Found::Cached(rc);
        }
        Found::Built(&scratch.m)
    }

    /// [`Index::lookup`] with a result of its own (allocates on a miss): for
    /// tests, monitoring and other paths off the message path.
    pub fn matches(&mut self, subject: &[u8]) -> Rc<Match<K>> {
        let mut scratch = MatchScratch::new();
        let built = match self.lookup(subject, &mut scratch) {
            Found::Cached(rc) => return rc,
            Found::Built(m) => m.clone(),
        };
        if built.is_empty() {
            Rc::clone(&self.empty)
        } else {
            Rc::new(built)
        }
    }

    /// True when the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct (pattern, queue, key) entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Number of subjects currently cached.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Sizes and lifetime counters; walks the cache for the fan-out figures, so
    /// call it for monitoring, not per message.
    pub fn stats(&self) -> IndexStats {
        let (max_fanout, total_fanout) = self.cache.fanout();
        IndexStats {
            entries: self.len,
            cached: self.cache.len(),
            inserts: self.counts.inserts,
            removes: self.counts.removes,
            matches: self.counts.matches,
            cache_hits: self.counts.cache_hits,
            max_fanout,
            total_fanout,
        }
    }
}

impl<K: Copy + Eq + Hash> Default for Index<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> fmt::Debug for Index<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("len", &self.len)
            .field("cache_len", &self.cache.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
impl<K: Copy + Eq + Hash> Index<K> {
    /// Structural check used by the tests: pruning done, `len` consistent.
    pub(crate) fn check_invariants(&self) {
        assert_eq!(self.root.check_invariants(), self.len, "len out of sync");
        assert_eq!(self.len == 0, self.root.is_bare(), "empty index not bare");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn plain(m: &Match<u32>) -> BTreeSet<u32> {
        let set: BTreeSet<u32> = m.plain.iter().copied().collect();
        assert_eq!(set.len(), m.plain.len(), "duplicate plain key");
        set
    }

    fn groups(m: &Match<u32>) -> BTreeMap<Vec<u8>, BTreeMap<u32, u32>> {
        m.groups
            .iter()
            .map(|g| {
                let members: BTreeMap<u32, u32> = g.members.iter().copied().collect();
                assert_eq!(members.len(), g.members.len(), "duplicate member");
                assert_eq!(g.total_weight, members.values().sum::<u32>());
                (g.name.to_vec(), members)
            })
            .collect()
    }

    fn set(keys: &[u32]) -> BTreeSet<u32> {
        keys.iter().copied().collect()
    }

    #[test]
    fn stats_count_like_a_sublist() {
        let mut ix = Index::new();
        ix.insert(b"foo", None, 1);
        ix.insert(b"foo", Some(b"q"), 2);
        ix.insert(b"foo.*", None, 3);
        assert!(ix.remove(b"foo.*", None, 3));
        assert!(!ix.remove(b"foo.*", None, 3));
        // A subject is cached on its second miss (admission), then hits.
        ix.matches(b"foo");
        ix.matches(b"foo");
        ix.matches(b"foo");
        ix.matches(b"bar");
        assert_eq!(
            ix.stats(),
            IndexStats {
                entries: 2,
                cached: 1,
                inserts: 3,
                removes: 1,
                matches: 4,
                cache_hits: 1,
                max_fanout: 2,
                total_fanout: 2,
            }
        );
    }

    #[test]
    fn literal_and_wildcard_matching() {
        let mut ix = Index::new();
        ix.insert(b"foo.bar", None, 1);
        ix.insert(b"foo.*", None, 2);
        ix.insert(b"foo.>", None, 3);
        ix.insert(b">", None, 4);
        ix.insert(b"*.*", None, 5);
        ix.insert(b"foo", None, 6);
        assert_eq!(plain(&ix.matches(b"foo.bar")), set(&[1, 2, 3, 4, 5]));
        assert_eq!(plain(&ix.matches(b"foo.baz")), set(&[2, 3, 4, 5]));
        assert_eq!(plain(&ix.matches(b"foo.bar.baz")), set(&[3, 4]));
        assert_eq!(plain(&ix.matches(b"foo")), set(&[4, 6]));
        assert_eq!(plain(&ix.matches(b"x.y")), set(&[4, 5]));
        assert_eq!(plain(&ix.matches(b"Foo")), set(&[4]));
        ix.check_invariants();
    }

    /// A group as listed: name, members in order.
    type Listed<'a> = (&'a [u8], Vec<(u32, u32)>);

    /// Order of `plain` and of `groups` (names and members), as listed.
    fn order(m: &Match<u32>) -> (Vec<u32>, Vec<Listed<'_>>) {
        let groups = m
            .groups
            .iter()
            .map(|g| (&g.name[..], g.members.clone()))
            .collect();
        (m.plain.clone(), groups)
    }

    #[test]
    fn plain_order_is_nats_match_level_order() {
        // `>` of a level first, then everything under its `*` (recursively),
        // then the literal path; at the end the literal node, then the `*` node.
        let mut ix = Index::new();
        ix.insert(b"wo.a.b", None, 1);
        ix.insert(b"wo.*.b", None, 2);
        ix.insert(b"wo.a.*", None, 3);
        ix.insert(b"wo.>", None, 4);
        ix.insert(b"wo.*.*", None, 5);
        assert_eq!(ix.matches(b"wo.a.b").plain, vec![4, 2, 5, 1, 3]);
        assert_eq!(ix.matches(b"wo.x.b").plain, vec![4, 2, 5]);
        assert_eq!(ix.matches(b"wo.a.x").plain, vec![4, 5, 3]);
        assert_eq!(ix.matches(b"wo.a").plain, vec![4]);

        let mut ix = Index::new();
        ix.insert(b"foo.bar", None, 1);
        ix.insert(b"foo.*", None, 2);
        ix.insert(b"foo.>", None, 3);
        ix.insert(b">", None, 4);
        ix.insert(b"*.bar", None, 5);
        ix.insert(b"*.*", None, 6);
        ix.insert(b"*", None, 7);
        ix.insert(b"foo", None, 8);
        assert_eq!(ix.matches(b"foo.bar").plain, vec![4, 5, 6, 3, 1, 2]);
        assert_eq!(ix.matches(b"foo.baz").plain, vec![4, 6, 3, 2]);
        assert_eq!(ix.matches(b"x.bar").plain, vec![4, 5, 6]);
        assert_eq!(ix.matches(b"foo").plain, vec![4, 8, 7]);
        assert_eq!(ix.matches(b"x").plain, vec![4, 7]);
        assert_eq!(ix.matches(b"foo.bar.baz").plain, vec![4, 3]);
    }

    #[test]
    fn same_node_keeps_insertion_order() {
        let mut ix = Index::new();
        for k in [3, 1, 2] {
            ix.insert(b"a.b", None, k);
        }
        assert_eq!(ix.matches(b"a.b").plain, vec![3, 1, 2]);
        // A removed key inserted again goes last; a weight change moves nothing.
        assert!(ix.remove(b"a.b", None, 1));
        ix.insert(b"a.b", None, 1);
        ix.insert(b"a.b", None, 3);
        assert!(ix.remove(b"a.b", None, 3));
        assert_eq!(ix.matches(b"a.b").plain, vec![3, 2, 1]);
        ix.check_invariants();
    }

    #[test]
    fn repeated_key_keeps_its_first_place() {
        let mut ix = Index::new();
        ix.insert(b"foo.bar", None, 9);
        ix.insert(b"foo.bar", None, 7);
        ix.insert(b"foo.>", None, 7);
        ix.insert(b"foo.*", None, 8);
        ix.insert(b"foo.*", None, 9);
        assert_eq!(ix.matches(b"foo.bar").plain, vec![7, 9, 8]);
    }

    #[test]
    fn group_order_follows_the_walk() {
        let q = Some(&b"q"[..]);
        let mut ix = Index::new();
        ix.insert(b"foo.bar", Some(b"r"), 1);
        ix.insert(b"foo.bar", q, 4);
        ix.insert(b"foo.*", q, 2);
        ix.insert(b"foo.>", q, 3);
        ix.insert(b"foo.>", Some(b"s"), 5);
        ix.insert(b"foo.>", q, 4);
        ix.insert(b"foo.bar", None, 6);
        let m = ix.matches(b"foo.bar");
        // `foo.>` first (q then s, its insertion order), then `foo.bar` (r is
        // new, q's 4 is summed in place), then `foo.*` (q's 2 appended).
        assert_eq!(
            order(&m),
            (
                vec![6],
                vec![
                    (&b"q"[..], vec![(3, 1), (4, 2), (2, 1)]),
                    (&b"s"[..], vec![(5, 1)]),
                    (&b"r"[..], vec![(1, 1)]),
                ]
            )
        );
        assert_eq!(m.groups[0].total_weight, 4);
    }

    #[test]
    fn deep_wildcard_chains_do_not_recurse() {
        // One walk frame per `*` level: 100k levels must not touch the stack.
        let pwc: Vec<u8> = b"*.".repeat(100_000);
        let pwc = &pwc[..pwc.len() - 1];
        let subj: Vec<u8> = b"a.".repeat(100_000);
        let subj = &subj[..subj.len() - 1];
        let mut ix = Index::new();
        ix.insert(pwc, None, 1);
        ix.insert(b"*.>", None, 2);
        ix.insert(b"a.*.>", None, 3);
        assert_eq!(ix.matches(subj).plain, vec![2, 1, 3]);
        ix.check_invariants();
    }

    #[test]
    fn embedded_wildcard_bytes_are_literal_tokens() {
        let mut ix = Index::new();
        ix.insert(b"foo*", None, 1);
        ix.insert(b"f>o", None, 2);
        assert_eq!(plain(&ix.matches(b"foo*")), set(&[1]));
        assert_eq!(plain(&ix.matches(b"foox")), set(&[]));
        assert_eq!(plain(&ix.matches(b"f>o")), set(&[2]));
    }

    #[test]
    fn wildcard_tokens_in_published_subjects() {
        let mut ix = Index::new();
        ix.insert(b"w.*", None, 1);
        ix.insert(b"w.>", None, 2);
        ix.insert(b"w.x", None, 3);
        assert_eq!(plain(&ix.matches(b"w.*")), set(&[1, 2]));
        assert_eq!(plain(&ix.matches(b"w.>")), set(&[1, 2]));
    }

    #[test]
    fn empty_tokens_match_nothing() {
        let mut ix = Index::new();
        ix.insert(b">", None, 1);
        for s in [&b""[..], b"a..b", b".a", b"a.", b"."] {
            assert!(ix.matches(s).is_empty());
        }
        assert_eq!(ix.cache_len(), 0, "empty-token subjects must not be cached");
    }

    #[test]
    fn plain_key_listed_once_across_patterns() {
        let mut ix: Index<u16> = Index::new();
        ix.insert(b"foo.*", None, 3);
        ix.insert(b"foo.>", None, 3);
        ix.insert(b"foo.bar", None, 3);
        assert_eq!(ix.matches(b"foo.bar").plain, vec![3]);
        assert_eq!(ix.len(), 3);
    }

    #[test]
    fn weights_count_repeated_inserts() {
        let mut ix = Index::new();
        for _ in 0..3 {
            ix.insert(b"foo.*", Some(&b"q"[..]), 7);
        }
        ix.insert(b"foo.*", None, 7);
        ix.insert(b"foo.*", None, 7);
        assert_eq!(ix.len(), 2);
        let m = ix.matches(b"foo.x");
        assert_eq!(plain(&m), set(&[7]));
        assert_eq!(groups(&m)[&b"q".to_vec()], BTreeMap::from([(7, 3)]));

        assert!(ix.remove(b"foo.*", Some(b"q"), 7));
        let m = ix.matches(b"foo.x");
        assert_eq!(groups(&m)[&b"q".to_vec()], BTreeMap::from([(7, 2)]));
        assert_eq!(ix.len(), 2);

        assert!(ix.remove(b"foo.*", None, 7));
        assert_eq!(plain(&ix.matches(b"foo.x")), set(&[7]), "weight 1 left");
        assert!(ix.remove(b"foo.*", None, 7));
        assert!(ix.matches(b"foo.x").plain.is_empty());
        assert!(!ix.remove(b"foo.*", None, 7));
        assert_eq!(ix.len(), 1);
        ix.check_invariants();
    }

    #[test]
    fn groups_merge_across_patterns() {
        let mut ix = Index::new();
        ix.insert(b"foo.*", Some(&b"q"[..]), 1);
        ix.insert(b"foo.>", Some(&b"q"[..]), 2);
        ix.insert(b"foo.>", Some(&b"q"[..]), 1);
        ix.insert(b"foo.bar", Some(&b"q"[..]), 1);
        ix.insert(b"foo.bar", Some(&b"r"[..]), 9);
        ix.insert(b"foo.bar", Some(&b"a.*"[..]), 5);
        ix.insert(b"foo.bar", None, 1);
        let m = ix.matches(b"foo.bar");
        assert_eq!(m.groups.len(), 3);
        let g = groups(&m);
        assert_eq!(g[&b"q".to_vec()], BTreeMap::from([(1, 3), (2, 1)]));
        assert_eq!(g[&b"r".to_vec()], BTreeMap::from([(9, 1)]));
        assert_eq!(g[&b"a.*".to_vec()], BTreeMap::from([(5, 1)]));
        let q = m
            .groups
            .iter()
            .find(|g| &*g.name == b"q")
            .map(|g| g.total_weight);
        assert_eq!(q, Some(4));
        assert_eq!(plain(&m), set(&[1]), "plain and groups are independent");

        let m = ix.matches(b"foo.baz.qux");
        assert_eq!(
            groups(&m),
            BTreeMap::from([(b"q".to_vec(), BTreeMap::from([(1, 1), (2, 1)]))])
        );
    }

    #[test]
    fn remove_prunes_nodes() {
        let mut ix = Index::new();
        ix.insert(b"a.b.c.d", None, 1);
        ix.insert(b"a.b", None, 2);
        ix.insert(b"a.*.c.>", Some(&b"q"[..]), 3);
        ix.check_invariants();
        assert!(ix.remove(b"a.b.c.d", None, 1));
        ix.check_invariants();
        assert!(!ix.remove(b"a.b.c.d", None, 1));
        assert!(!ix.remove(b"a.b", Some(&b"q"[..]), 2), "wrong queue");
        assert!(!ix.remove(b"a.b", None, 9), "wrong key");
        assert!(!ix.remove(b"a.b.c", None, 2), "interior node, no entry");
        assert!(ix.remove(b"a.*.c.>", Some(&b"q"[..]), 3));
        ix.check_invariants();
        assert!(ix.remove(b"a.b", None, 2));
        ix.check_invariants();
        assert!(ix.is_empty());
        assert!(ix.matches(b"a.b").is_empty());
    }

    #[test]
    fn insert_after_cached_miss_shows_up() {
        let mut ix = Index::new();
        ix.insert(b"other", None, 0);
        for _ in 0..2 {
            assert!(ix.matches(b"foo.bar").is_empty());
            assert!(ix.matches(b"foo.baz").is_empty());
            assert!(ix.matches(b"zzz").is_empty());
        }
        assert_eq!(ix.cache_len(), 3);
        ix.insert(b"foo.*", None, 1);
        // Exactly the subjects the new pattern matches were dropped.
        assert_eq!(ix.cache_len(), 1);
        assert_eq!(plain(&ix.matches(b"foo.bar")), set(&[1]));
        assert_eq!(plain(&ix.matches(b"foo.baz")), set(&[1]));
        ix.insert(b"zzz", Some(&b"q"[..]), 2);
        assert_eq!(groups(&ix.matches(b"zzz")).len(), 1);
    }

    #[test]
    fn remove_after_cached_hit_disappears() {
        let mut ix = Index::new();
        ix.insert(b"foo.>", None, 1);
        ix.insert(b"foo.bar", Some(&b"q"[..]), 2);
        assert_eq!(plain(&ix.matches(b"foo.bar")), set(&[1]));
        let before = ix.matches(b"foo.bar");
        assert!(
            Rc::ptr_eq(&before, &ix.matches(b"foo.bar")),
            "second call is a hit"
        );
        assert!(ix.remove(b"foo.>", None, 1));
        assert!(ix.matches(b"foo.bar").plain.is_empty());
        assert!(ix.remove(b"foo.bar", Some(&b"q"[..]), 2));
        assert!(ix.matches(b"foo.bar").is_empty());
        // The caller's snapshot is untouched.
        assert_eq!(plain(&before), set(&[1]));
    }

    #[test]
    fn weight_change_invalidates() {
        let mut ix: Index<u16> = Index::new();
        ix.insert(b"a.*", Some(&b"q"[..]), 0);
        assert_eq!(ix.matches(b"a.b").groups[0].total_weight, 1);
        ix.insert(b"a.*", Some(&b"q"[..]), 0);
        assert_eq!(ix.matches(b"a.b").groups[0].total_weight, 2);
        ix.remove(b"a.*", Some(&b"q"[..]), 0);
        assert_eq!(ix.matches(b"a.b").groups[0].total_weight, 1);
    }

    #[test]
    fn cache_hit_shares_the_result() {
        let mut ix = Index::new();
        ix.insert(b"a", None, 1);
        let _first_miss = ix.matches(b"a");
        let a = ix.matches(b"a");
        let b = ix.matches(b"a");
        assert!(Rc::ptr_eq(&a, &b));
        let e1 = ix.matches(b"nothing");
        let e2 = ix.matches(b"nothing.else");
        assert!(Rc::ptr_eq(&e1, &e2), "misses share the empty result");
    }

    /// One-shot subjects (a fresh reply subject per request) are never
    /// cached, so they cannot push a hot subject out; a subject is cached on
    /// its second miss.
    #[test]
    fn one_shot_subjects_are_not_cached() {
        let mut ix = Index::with_cache_capacity(8);
        ix.insert(b"_INBOX.abc.*", None, 1);
        ix.insert(b"hot", None, 2);
        let mut scratch = MatchScratch::new();
        for _ in 0..2 {
            let _ = ix.lookup(b"hot", &mut scratch);
        }
        assert_eq!(ix.cache_len(), 1);
        for i in 0..1000 {
            let subject = format!("_INBOX.abc.{i}");
            let m = ix.lookup(subject.as_bytes(), &mut scratch);
            assert_eq!(m.plain, vec![1]);
            assert!(matches!(m, Found::Built(_)), "not cached on its first miss");
        }
        assert_eq!(ix.cache_len(), 1);
        assert!(matches!(ix.lookup(b"hot", &mut scratch), Found::Cached(_)));
    }

    #[test]
    fn cache_disabled_and_bounded() {
        let mut ix = Index::with_cache_capacity(0);
        ix.insert(b">", None, 1);
        assert_eq!(plain(&ix.matches(b"a")), set(&[1]));
        assert_eq!(ix.cache_len(), 0);

        let mut ix = Index::with_cache_capacity(4);
        ix.insert(b">", None, 1);
        for i in 0..50 {
            for _ in 0..2 {
                assert_eq!(plain(&ix.matches(format!("s{i}").as_bytes())), set(&[1]));
            }
            assert!(ix.cache_len() <= 4);
        }
        assert_eq!(ix.cache_len(), 4);
    }

    #[test]
    fn deep_subjects_do_not_recurse() {
        // 100k tokens: recursive insert/match/drop would blow a small stack.
        let deep: Vec<u8> = b"a.".repeat(100_000);
        let deep = &deep[..deep.len() - 1];
        let mut ix = Index::new();
        ix.insert(deep, None, 1);
        ix.insert(b"a.>", None, 2);
        assert_eq!(plain(&ix.matches(deep)), set(&[1, 2]));
        assert!(ix.remove(deep, None, 1));
        ix.check_invariants();
        ix.insert(deep, Some(&b"q"[..]), 1);
        drop(ix);
    }

    #[test]
    fn invalid_patterns_do_not_panic() {
        let mut ix = Index::new();
        for p in [&b""[..], b"a..b", b".", b"a.>.b", b">.>", b"a b"] {
            ix.insert(p, None, 1);
            let _ = ix.matches(b"a.x.b");
            let _ = ix.matches(p);
        }
        // `a.>.b` is unreachable, as subject_matches says.
        assert!(ix.matches(b"a.x.b").is_empty());
        for p in [&b""[..], b"a..b", b".", b"a.>.b", b">.>", b"a b"] {
            assert!(ix.remove(p, None, 1));
            ix.check_invariants();
        }
        assert!(ix.is_empty());
    }
}
