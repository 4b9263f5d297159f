//! The naive subscription index both the property tests
//! (`src/prop_tests.rs`) and the `subject` fuzz oracle check the real one
//! against: a list of distinct (pattern, queue, key) entries with weights,
//! matched by scanning it with the reference `subject_matches`. It answers
//! sets (plain keys; per queue group, each member's weight), not order.
//!
//! Included with `#[path]`; the including module provides `subject_matches`
//! and `Match`.

use std::collections::{BTreeMap, BTreeSet};

use super::{subject_matches, Match};

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

/// The real index's answer in the model's shape, checking its listing rules
/// on the way: no key or group listed twice, no zero weight, `total_weight`
/// the sum of the members' weights, `is_empty` right.
pub fn observed<K: Copy + Ord>(m: &Match<K>) -> (BTreeSet<K>, Groups<K>) {
    let plain: BTreeSet<K> = m.plain.iter().copied().collect();
    assert_eq!(plain.len(), m.plain.len(), "plain key listed twice");
    let mut groups = Groups::new();
    for g in &m.groups {
        let members: BTreeMap<K, u32> = g.members.iter().copied().collect();
        assert_eq!(members.len(), g.members.len(), "group member listed twice");
        assert!(members.values().all(|&w| w > 0), "zero weight");
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
