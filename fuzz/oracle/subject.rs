//! Oracle for subject validation and the subscription index
//! (`shoal_subject`), shared by the `subject` fuzz target and
//! `crates/subject/tests/fuzz_corpus.rs`. It checks the index
//! against the same naive model as `crates/subject/src/prop_tests.rs`
//! (`crates/subject/tests/support/naive_index.rs`; the property tests also
//! check the listing order, this oracle sets), driven by bytes instead of
//! proptest strategies.
//!
//! Input: byte 0 picks the match-cache capacity from [`CACHES`]; the rest is a
//! program, one op after another until the bytes run out (a missing byte reads
//! as 0). Each op starts with a byte whose value modulo 6 selects:
//!
//! * 0, 1: insert (pattern, queue, key); 2: remove (pattern, queue, key);
//! * 3: match a subject;
//! * 4: remove an entry the model holds (the next byte picks which);
//! * 5: raw bytes (a length byte, then up to 32 bytes): validated, then, if
//!   they are a valid SUB subject, inserted as a pattern with key 7, else
//!   matched as a subject.
//!
//! A pattern or subject is a length byte (1 + b % 5 tokens), then one byte per
//! token choosing from [`TOKENS`] (`*`, `>`, empty and a whitespace token
//! included). A queue is a byte (None, `q1`, `q2`), a key a byte (modulo 8).
//! Patterns that are not valid SUB subjects are not inserted (the server
//! validates before inserting); removes and matches take anything.
//!
//! The checks: validation agrees with a naive token-by-token definition and
//! never panics; after each op the index's `matches` equals a scan of the
//! model's entries with the reference [`subject_matches`] (plain keys and, per
//! queue group, each member's weight), no key or group is listed twice,
//! `total_weight` is the sum of the weights, `remove` says what the model says,
//! and `len`/`is_empty` agree.

use shoal_subject::{
    is_valid_publish_subject, is_valid_subscribe_subject, subject_matches, Index, Match,
};

/// Match-cache capacities: the default, off, tiny (constant eviction).
pub const CACHES: [usize; 4] = [shoal_subject::DEFAULT_CACHE_CAPACITY, 0, 1, 3];
/// The token alphabet of generated patterns and subjects.
pub const TOKENS: [&[u8]; 10] = [
    b"a", b"b", b"c", b"*", b">", b"ab", b"", b"a b", b"*a", b">>",
];

#[path = "../../crates/subject/tests/support/naive_index.rs"]
mod naive;

type Key = u8;
type Entry = naive::Entry<Key>;
type Model = naive::Naive<Key>;

struct Bytes<'a>(std::slice::Iter<'a, u8>);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }
    fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
    fn tokens(&mut self) -> Vec<u8> {
        let n = 1 + self.next() % 5;
        let toks: Vec<&[u8]> = (0..n)
            .map(|_| TOKENS[self.next() as usize % TOKENS.len()])
            .collect();
        toks.join(&b"."[..])
    }
    fn entry(&mut self) -> Entry {
        let pattern = self.tokens();
        let queue = match self.next() % 3 {
            0 => None,
            1 => Some(b"q1".to_vec()),
            _ => Some(b"q2".to_vec()),
        };
        Entry {
            pattern,
            queue,
            key: self.next() % 8,
        }
    }
    fn raw(&mut self) -> Vec<u8> {
        let n = (self.next() % 33) as usize;
        (0..n).map(|_| self.next()).collect()
    }
}

/// Validation by its definition, token by token (protocol.md §1.2).
fn naive_valid(s: &[u8], subscribe: bool) -> bool {
    let toks: Vec<&[u8]> = s.split(|&b| b == b'.').collect();
    let ws = |t: &[u8]| t.iter().any(|b| b" \t\r\n".contains(b));
    toks.iter().enumerate().all(|(i, t)| {
        !t.is_empty()
            && !ws(t)
            && if subscribe {
                *t != b">" || i == toks.len() - 1
            } else {
                *t != b"*" && *t != b">"
            }
    })
}

fn check_validation(s: &[u8]) {
    let sub = is_valid_subscribe_subject(s);
    let publ = is_valid_publish_subject(s);
    assert_eq!(sub, naive_valid(s, true), "SUB validity of {s:?}");
    assert_eq!(publ, naive_valid(s, false), "PUB validity of {s:?}");
    if publ {
        assert!(sub && subject_matches(s, s), "{s:?} must match itself");
    }
}

fn check_match(ix: &mut Index<Key>, model: &Model, subject: &[u8]) {
    let m = ix.matches(subject);
    assert_eq!(
        naive::observed(&m),
        model.matches(subject),
        "matches({:?})",
        String::from_utf8_lossy(subject)
    );
}

pub fn check(data: &[u8]) {
    let mut b = Bytes(data.iter());
    let mut ix: Index<Key> = Index::with_cache_capacity(CACHES[b.next() as usize % CACHES.len()]);
    let mut model = Model::default();
    while !b.is_empty() {
        match b.next() % 6 {
            0 | 1 => {
                let e = b.entry();
                check_validation(&e.pattern);
                if is_valid_subscribe_subject(&e.pattern) {
                    ix.insert(&e.pattern, e.queue.as_deref(), e.key);
                    model.insert(e);
                }
            }
            2 => {
                let e = b.entry();
                let got = ix.remove(&e.pattern, e.queue.as_deref(), e.key);
                assert_eq!(got, model.remove(&e), "remove {e:?}");
            }
            3 => {
                let s = b.tokens();
                check_validation(&s);
                check_match(&mut ix, &model, &s);
            }
            4 => {
                let i = b.next() as usize;
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
            _ => {
                let s = b.raw();
                check_validation(&s);
                if is_valid_subscribe_subject(&s) {
                    ix.insert(&s, None, 7);
                    model.insert(Entry {
                        pattern: s,
                        queue: None,
                        key: 7,
                    });
                } else {
                    check_match(&mut ix, &model, &s);
                }
            }
        }
        assert_eq!(ix.len(), model.entries.len(), "len");
        assert_eq!(ix.is_empty(), model.entries.is_empty(), "is_empty");
        assert!(ix.cache_len() <= CACHES[0]);
    }
    // Every subject in the model is matched once more at the end, so a program
    // that only inserts still checks something.
    let patterns: Vec<Vec<u8>> = model
        .entries
        .iter()
        .map(|(e, _)| e.pattern.clone())
        .collect();
    for p in patterns {
        check_match(&mut ix, &model, &p);
    }
}
