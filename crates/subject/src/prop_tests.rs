//! Property tests: [`Index`] against a naive model (a list of weighted
//! (pattern, queue, key) entries filtered with [`subject_matches`]).
//!
//! Owns nothing at run time. After every step the index's answer, its `len` and
//! its trie structure (pruning, no zero weights) must agree with the model, with
//! the cache on, off, and tiny (constant eviction).

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

use crate::{is_valid_publish_subject, is_valid_subscribe_subject, subject_matches, Index, Match};

type Key = u32;

#[derive(Debug, Clone)]
struct Entry {
    pattern: Vec<u8>,
    queue: Option<Vec<u8>>,
    key: Key,
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Entry),
    Remove(Entry),
    /// Remove an entry the model holds (index taken modulo its length), so
    /// removals hit far more often than random triples would.
    RemoveExisting(usize),
    Match(Vec<u8>),
}

fn join(tokens: Vec<&str>) -> Vec<u8> {
    tokens.join(".").into_bytes()
}

fn pattern() -> impl Strategy<Value = Vec<u8>> {
    let tok = prop_oneof![Just("a"), Just("b"), Just("c"), Just("*")];
    (prop::collection::vec(tok, 1..=4), any::<bool>()).prop_map(|(mut toks, fwc)| {
        if fwc {
            if let Some(last) = toks.last_mut() {
                *last = ">";
            }
        }
        join(toks)
    })
}

fn subject() -> impl Strategy<Value = Vec<u8>> {
    // Mostly a/b/c; sometimes a published `*`/`>` (matched as a literal token)
    // or an empty token (matches nothing).
    let tok = prop_oneof![
        8 => prop_oneof![Just("a"), Just("b"), Just("c")],
        1 => prop_oneof![Just("*"), Just(">")],
        1 => Just(""),
    ];
    prop::collection::vec(tok, 1..=4).prop_map(join)
}

fn entry() -> impl Strategy<Value = Entry> {
    let queue = prop_oneof![
        2 => Just(None),
        1 => Just(Some(b"q1".to_vec())),
        1 => Just(Some(b"q2".to_vec())),
    ];
    (pattern(), queue, 0..5u32).prop_map(|(pattern, queue, key)| Entry {
        pattern,
        queue,
        key,
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => entry().prop_map(Op::Insert),
        1 => entry().prop_map(Op::Remove),
        2 => any::<usize>().prop_map(Op::RemoveExisting),
        5 => subject().prop_map(Op::Match),
    ]
}

type Groups = BTreeMap<Vec<u8>, BTreeMap<Key, u32>>;

/// The naive model: distinct entries with their weights.
#[derive(Default)]
struct Model {
    entries: Vec<(Entry, u32)>,
}

impl Model {
    fn position(&self, e: &Entry) -> Option<usize> {
        self.entries
            .iter()
            .position(|(m, _)| m.pattern == e.pattern && m.queue == e.queue && m.key == e.key)
    }

    fn insert(&mut self, e: Entry) {
        match self.position(&e) {
            Some(i) => self.entries[i].1 += 1,
            None => self.entries.push((e, 1)),
        }
    }

    fn remove(&mut self, e: &Entry) -> bool {
        let Some(i) = self.position(e) else {
            return false;
        };
        self.entries[i].1 -= 1;
        if self.entries[i].1 == 0 {
            self.entries.remove(i);
        }
        true
    }

    fn matches(&self, subject: &[u8]) -> (BTreeSet<Key>, Groups) {
        let mut plain = BTreeSet::new();
        let mut groups = Groups::new();
        for (e, w) in &self.entries {
            if !subject_matches(&e.pattern, subject) {
                continue;
            }
            match &e.queue {
                None => {
                    plain.insert(e.key);
                }
                Some(q) => {
                    *groups
                        .entry(q.clone())
                        .or_default()
                        .entry(e.key)
                        .or_default() += w;
                }
            }
        }
        (plain, groups)
    }
}

/// The index's answer in the model's shape, checking the listing rules on the way.
fn observed(m: &Match<Key>) -> (BTreeSet<Key>, Groups) {
    let plain: BTreeSet<Key> = m.plain.iter().copied().collect();
    assert_eq!(plain.len(), m.plain.len(), "plain key listed twice");
    let mut groups = Groups::new();
    for g in &m.groups {
        let members: BTreeMap<Key, u32> = g.members.iter().copied().collect();
        assert_eq!(members.len(), g.members.len(), "group member listed twice");
        assert_eq!(
            g.total_weight,
            members.values().sum::<u32>(),
            "total_weight"
        );
        let dup = groups.insert(g.name.to_vec(), members);
        assert!(dup.is_none(), "group listed twice");
    }
    assert_eq!(m.is_empty(), plain.is_empty() && groups.is_empty());
    (plain, groups)
}

fn run(ops: Vec<Op>, cache_capacity: usize) {
    let mut ix: Index<Key> = Index::with_cache_capacity(cache_capacity);
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Insert(e) => {
                assert!(is_valid_subscribe_subject(&e.pattern));
                ix.insert(&e.pattern, e.queue.as_deref(), e.key);
                model.insert(e);
            }
            Op::Remove(e) => {
                let got = ix.remove(&e.pattern, e.queue.as_deref(), e.key);
                assert_eq!(got, model.remove(&e), "remove {e:?}");
            }
            Op::RemoveExisting(i) => {
                if model.entries.is_empty() {
                    continue;
                }
                let e = model.entries[i % model.entries.len()].0.clone();
                assert!(
                    ix.remove(&e.pattern, e.queue.as_deref(), e.key),
                    "remove {e:?}"
                );
                assert!(model.remove(&e));
            }
            Op::Match(s) => {
                let got = observed(&ix.matches(&s));
                assert_eq!(
                    got,
                    model.matches(&s),
                    "subject {:?}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
        ix.check_invariants();
        assert_eq!(ix.len(), model.entries.len());
        assert_eq!(ix.is_empty(), model.entries.is_empty());
        assert!(ix.cache_len() <= cache_capacity);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn index_matches_model_with_cache(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, crate::DEFAULT_CACHE_CAPACITY);
    }

    #[test]
    fn index_matches_model_without_cache(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, 0);
    }

    #[test]
    fn index_matches_model_with_tiny_cache(ops in prop::collection::vec(op(), 1..80)) {
        run(ops, 3);
    }

    #[test]
    fn validation_never_panics_and_is_consistent(s in prop::collection::vec(
        prop_oneof![Just(b'a'), Just(b'.'), Just(b'*'), Just(b'>'), Just(b' '), any::<u8>()], 0..12)) {
        let sub = is_valid_subscribe_subject(&s);
        let publ = is_valid_publish_subject(&s);
        // Every valid publish subject is a valid (literal) subscribe subject
        // that matches exactly itself.
        if publ {
            prop_assert!(sub);
            prop_assert!(subject_matches(&s, &s));
        }
        let _ = subject_matches(&s, b"a.b");
    }
}
