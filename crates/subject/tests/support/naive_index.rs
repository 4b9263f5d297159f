//! The naive subscription index both the property tests
//! (`src/prop_tests.rs`) and the `subject` fuzz oracle check the real one
//! against: a list of distinct (pattern, queue, key) entries with weights,
//! matched by scanning it with the reference `subject_matches`. It answers
//! sets (plain keys; per queue group, each member's weight), not order.
//!
//! Included with `#[path]`; the including module provides `subject_matches`.

use std::collections::{BTreeMap, BTreeSet};

use super::subject_matches;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<K> {
    pub pattern: Vec<u8>,
    pub queue: Option<Vec<u8>>,
    pub key: K,
}

/// Queue name -> member key -> weight.
pub type Groups<K> = BTreeMap<Vec<u8>, BTreeMap<K, u32>>;

pub struct Naive<K> {
    pub entries: Vec<(Entry<K>, u32)>,
}

impl<K> Default for Naive<K> {
    fn default() -> Self {
        Naive {
            entries: Vec::new(),
        }
    }
}

impl<K: Copy + Ord> Naive<K> {
    pub fn position(&self, e: &Entry<K>) -> Option<usize> {
        self.entries.iter().position(|(m, _)| m == e)
    }

    pub fn insert(&mut self, e: Entry<K>) {
        match self.position(&e) {
            Some(i) => self.entries[i].1 += 1,
            None => self.entries.push((e, 1)),
        }
    }

    /// One unit of weight off `e`; false when it was not there.
    pub fn remove(&mut self, e: &Entry<K>) -> bool {
        let Some(i) = self.position(e) else {
            return false;
        };
        self.entries[i].1 -= 1;
        if self.entries[i].1 == 0 {
            self.entries.remove(i);
        }
        true
    }

    pub fn matches(&self, subject: &[u8]) -> (BTreeSet<K>, Groups<K>) {
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
