//! [`OrderedMap`]: a hash map that iterates in insertion order, used for the
//! entries of a trie node so that a lookup lists them in a stable order (the
//! order they were subscribed in), not in hash order.
//!
//! Invariants:
//! * `at` maps every live key to the index of its slot in `slots`, and every
//!   `Some` slot is pointed at by exactly one `at` entry (so `len` is `at.len()`).
//! * Iteration yields live entries in the order their keys were first inserted
//!   since they were last removed (a removed key inserted again goes last).
//! * Removal leaves a hole; holes are compacted away once they outnumber the
//!   live entries, so memory stays proportional to `len` and a removal costs
//!   O(1) amortized.
//!
//! Must never: be touched on the match path except for iteration (lookups
//! iterate; inserts and removals run at SUB/UNSUB rate).

use ahash::AHashMap;
use std::borrow::Borrow;
use std::hash::Hash;

/// Fewer holes than this are never compacted (not worth a pass).
const MIN_HOLES_TO_COMPACT: usize = 8;

pub(crate) struct OrderedMap<K, V> {
    slots: Vec<Option<(K, V)>>,
    at: AHashMap<K, usize>,
}

impl<K, V> Default for OrderedMap<K, V> {
    fn default() -> Self {
        OrderedMap {
            slots: Vec::new(),
            at: AHashMap::new(),
        }
    }
}

impl<K: Clone + Eq + Hash, V> OrderedMap<K, V> {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    pub(crate) fn contains_key<Q>(&self, q: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.at.contains_key(q)
    }

    pub(crate) fn get_mut<Q>(&mut self, q: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let &i = self.at.get(q)?;
        self.slots.get_mut(i)?.as_mut().map(|(_, v)| v)
    }

    /// Inserts `k` -> `v` at the end unless `k` is present (then nothing changes).
    /// Returns the value stored under `k` (None only if the invariants broke).
    pub(crate) fn get_or_insert(&mut self, k: K, v: V) -> Option<&mut V> {
        let i = match self.at.get(&k) {
            Some(&i) => i,
            None => {
                let i = self.slots.len();
                self.at.insert(k.clone(), i);
                self.slots.push(Some((k, v)));
                i
            }
        };
        self.slots.get_mut(i)?.as_mut().map(|(_, v)| v)
    }

    /// Removes `q`, returning its value; compacts when holes dominate.
    pub(crate) fn remove<Q>(&mut self, q: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.at.remove(q)?;
        let (_, v) = self.slots.get_mut(i)?.take()?;
        let live = self.at.len();
        if live == 0 {
            self.slots.clear();
        } else {
            let holes = self.slots.len() - live;
            if holes >= MIN_HOLES_TO_COMPACT && holes > live {
                self.compact();
            }
        }
        Some(v)
    }

    /// Drops the holes, keeping the order of the live entries.
    fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some((k, _)) = slot {
                if let Some(at) = self.at.get_mut(k) {
                    *at = i;
                }
            }
        }
    }

    /// Live entries in insertion order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots
            .iter()
            .filter_map(|s| s.as_ref().map(|(k, v)| (k, v)))
    }

    #[cfg(test)]
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// Test-only structural check of the module invariants.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let live = self.slots.iter().filter(|s| s.is_some()).count();
        assert_eq!(live, self.at.len(), "slot/index count mismatch");
        for (k, &i) in self.at.iter() {
            match self.slots.get(i) {
                Some(Some((sk, _))) => assert!(sk == k, "index points at another key"),
                _ => panic!("index points at a hole"),
            }
        }
        let holes = self.slots.len() - live;
        assert!(
            holes < MIN_HOLES_TO_COMPACT || holes <= live,
            "holes not compacted"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(m: &OrderedMap<u32, u32>) -> Vec<u32> {
        m.iter().map(|(&k, _)| k).collect()
    }

    #[test]
    fn keeps_insertion_order_across_removals_and_compaction() {
        let mut m: OrderedMap<u32, u32> = OrderedMap::default();
        let mut model: Vec<u32> = Vec::new();
        for round in 0..5u32 {
            for k in 0..40u32 {
                if (k + round) % 3 != 0 && !model.contains(&k) {
                    m.get_or_insert(k, k);
                    model.push(k);
                }
            }
            for k in 0..40u32 {
                if (k * 7 + round) % 4 == 0 {
                    let want = model.iter().position(|&x| x == k).map(|i| model.remove(i));
                    assert_eq!(m.remove(&k), want);
                }
                m.check_invariants();
            }
            assert_eq!(keys(&m), model);
            assert_eq!(m.len(), model.len());
        }
        for k in 0..40u32 {
            m.remove(&k);
        }
        assert!(m.is_empty());
        assert!(m.slots.is_empty(), "emptied map keeps no holes");
    }

    #[test]
    fn existing_key_keeps_value_and_place() {
        let mut m: OrderedMap<Box<[u8]>, u32> = OrderedMap::default();
        *m.get_or_insert(Box::from(&b"a"[..]), 1).unwrap() += 10;
        m.get_or_insert(Box::from(&b"b"[..]), 2);
        assert_eq!(m.get_or_insert(Box::from(&b"a"[..]), 99).copied(), Some(11));
        assert!(m.contains_key(&b"b"[..]));
        assert_eq!(m.get_mut(&b"b"[..]).copied(), Some(2));
        let order: Vec<&[u8]> = m.iter().map(|(k, _)| &k[..]).collect();
        assert_eq!(order, vec![&b"a"[..], &b"b"[..]]);
    }
}
