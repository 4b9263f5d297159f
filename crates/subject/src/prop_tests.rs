//! Property tests: [`Index`] against two naive models:
//! * which entries match: a list of weighted (pattern, queue, key) entries
//!   filtered with [`subject_matches`] (sets, order ignored);
//! * in which order: [`RefTrie`], a naive trie (vectors, linear searches, no
//!   pruning) walked by a direct, recursive transcription of nats-server's
//!   `matchLevel`/`addNodeToResults` (server/sublist.go), with our dedup rules
//!   (a key listed once, at its first place; group weights summed).
//!
//! Owns nothing at run time. After every step the index's answer (exact order of
//! `plain`, of `groups` and of each group's members), its `len` and its trie
//! structure (pruning, no zero weights) must agree with the models, with the
//! cache on, off, and tiny (constant eviction).

use proptest::prelude::*;
use std::collections::BTreeMap;

use crate::{is_valid_publish_subject, is_valid_subscribe_subject, subject_matches, Index, Match};

#[path = "../tests/support/naive_index.rs"]
mod naive;

type Key = u32;
type Entry = naive::Entry<Key>;

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
    (pattern(), queue, 0..8u32).prop_map(|(pattern, queue, key)| Entry {
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

/// Weighted keys in listing order.
type Members = Vec<(Key, u32)>;
/// A result in listing order: plain keys, then (queue name, members).
type Ordered = (Vec<Key>, Vec<(Vec<u8>, Members)>);

/// The order reference: a naive trie. Entries of a node are vectors in
/// insertion order (a removed entry's place is gone; inserted again, it goes
/// last), queue names too (a group emptied at a node is dropped there).
#[derive(Default)]
struct RefTrie {
    literal: BTreeMap<Vec<u8>, RefTrie>,
    pwc: Option<Box<RefTrie>>,
    fwc: Option<Box<RefTrie>>,
    plain: Members,
    queues: Vec<(Vec<u8>, Members)>,
}

impl RefTrie {
    fn toks(s: &[u8]) -> impl Iterator<Item = &[u8]> {
        s.split(|&b| b == b'.')
    }

    fn insert(&mut self, e: &Entry) {
        let mut n = self;
        for t in Self::toks(&e.pattern) {
            n = match t {
                b"*" => n.pwc.get_or_insert_with(Default::default),
                b">" => n.fwc.get_or_insert_with(Default::default),
                _ => n.literal.entry(t.to_vec()).or_default(),
            };
        }
        let members = match &e.queue {
            None => &mut n.plain,
            Some(q) => {
                let gi = match n.queues.iter().position(|(name, _)| name == q) {
                    Some(gi) => gi,
                    None => {
                        n.queues.push((q.clone(), Vec::new()));
                        n.queues.len() - 1
                    }
                };
                &mut n.queues[gi].1
            }
        };
        match members.iter_mut().find(|(k, _)| *k == e.key) {
            Some((_, w)) => *w += 1,
            None => members.push((e.key, 1)),
        }
    }

    fn remove(&mut self, e: &Entry) -> bool {
        let mut n = self;
        for t in Self::toks(&e.pattern) {
            let next = match t {
                b"*" => n.pwc.as_deref_mut(),
                b">" => n.fwc.as_deref_mut(),
                _ => n.literal.get_mut(t),
            };
            let Some(next) = next else {
                return false;
            };
            n = next;
        }
        let (members, gi) = match &e.queue {
            None => (&mut n.plain, None),
            Some(q) => match n.queues.iter().position(|(name, _)| name == q) {
                Some(gi) => (&mut n.queues[gi].1, Some(gi)),
                None => return false,
            },
        };
        let Some(i) = members.iter().position(|(k, _)| *k == e.key) else {
            return false;
        };
        members[i].1 -= 1;
        if members[i].1 == 0 {
            members.remove(i);
            if let (true, Some(gi)) = (members.is_empty(), gi) {
                n.queues.remove(gi);
            }
        }
        true
    }

    /// nats-server's `addNodeToResults`, plus our dedup.
    fn add_node(&self, r: &mut Ordered) {
        for &(k, _) in &self.plain {
            if !r.0.contains(&k) {
                r.0.push(k);
            }
        }
        for (name, members) in &self.queues {
            let gi = match r.1.iter().position(|(n, _)| n == name) {
                Some(gi) => gi,
                None => {
                    r.1.push((name.clone(), Vec::new()));
                    r.1.len() - 1
                }
            };
            for &(k, w) in members {
                match r.1[gi].1.iter_mut().find(|(m, _)| *m == k) {
                    Some((_, mw)) => *mw += w,
                    None => r.1[gi].1.push((k, w)),
                }
            }
        }
    }

    /// nats-server's `matchLevel`, transcribed (recursion and all).
    fn match_level(mut l: Option<&RefTrie>, toks: &[&[u8]], r: &mut Ordered) {
        let mut pwc: Option<&RefTrie> = None;
        let mut n: Option<&RefTrie> = None;
        for (i, t) in toks.iter().enumerate() {
            let Some(level) = l else {
                return;
            };
            if let Some(f) = level.fwc.as_deref() {
                f.add_node(r);
            }
            pwc = level.pwc.as_deref();
            if let Some(p) = pwc {
                Self::match_level(Some(p), &toks[i + 1..], r);
            }
            n = level.literal.get(*t);
            l = n;
        }
        if let Some(n) = n {
            n.add_node(r);
        }
        if let Some(p) = pwc {
            p.add_node(r);
        }
    }

    fn matches(&self, subject: &[u8]) -> Ordered {
        let mut r = Ordered::default();
        let toks: Vec<&[u8]> = Self::toks(subject).collect();
        // nats-server's `match` answers an empty token with the empty result.
        if toks.iter().all(|t| !t.is_empty()) {
            Self::match_level(Some(self), &toks, &mut r);
        }
        r
    }
}

/// The naive models: distinct entries with their weights, and the same entries
/// in the order reference trie.
#[derive(Default)]
struct Model {
    list: naive::Naive<Key>,
    trie: RefTrie,
}

impl Model {
    fn insert(&mut self, e: Entry) {
        self.trie.insert(&e);
        self.list.insert(e);
    }

    fn remove(&mut self, e: &Entry) -> bool {
        let in_trie = self.trie.remove(e);
        let in_list = self.list.remove(e);
        assert_eq!(in_trie, in_list, "models disagree on {e:?}");
        in_list
    }
}

fn run(ops: Vec<Op>, cache_capacity: usize) {
    let mut ix: Index<Key> = Index::with_cache_capacity(cache_capacity);
    let mut scratch = crate::MatchScratch::new();
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
                if model.list.entries.is_empty() {
                    continue;
                }
                let e = model.list.entries[i % model.list.entries.len()].0.clone();
                assert!(
                    ix.remove(&e.pattern, e.queue.as_deref(), e.key),
                    "remove {e:?}"
                );
                assert!(model.remove(&e));
            }
            Op::Match(s) => {
                // One scratch reused across every lookup, as a core does.
                let found = ix.lookup(&s, &mut scratch);
                let m: Match<Key> = (*found).clone();
                let subject = String::from_utf8_lossy(&s);
                assert_eq!(
                    naive::observed(&m),
                    model.list.matches(&s),
                    "subject {subject:?}"
                );
                let listed: Ordered = (
                    m.plain.clone(),
                    m.groups
                        .iter()
                        .map(|g| (g.name.to_vec(), g.members.clone()))
                        .collect(),
                );
                assert_eq!(listed, model.trie.matches(&s), "order, subject {subject:?}");
            }
        }
        ix.check_invariants();
        assert_eq!(ix.len(), model.list.entries.len());
        assert_eq!(ix.is_empty(), model.list.entries.is_empty());
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
