//! The token trie behind [`crate::Index`]: nodes keyed by token, with separate
//! slots for the `*` and `>` children, and the weighted entries stored per node.
//!
//! Invariants:
//! * Every non-root node holds at least one entry or one child: `remove` prunes
//!   the chain of nodes it empties (tests check this after every step).
//! * Stored weights are never zero; an entry whose weight falls to zero is
//!   dropped, and an [`Entries`] that becomes empty is dropped from its node.
//! * A node's entries iterate in insertion order (plain keys, queue names, and
//!   the members of each queue), so a lookup's order is a function of the
//!   sequence of inserts and removals, never of hashing.
//! * Insert, remove, lookup and drop are iterative: a subject may have thousands
//!   of tokens and none of these may use stack proportional to its depth.
//!
//! Must never: validate (the caller does), panic on any pattern (an invalid one
//! is stored and removed consistently but is unreachable by lookups, exactly as
//! [`crate::subject_matches`] says it matches nothing), or touch the match cache.

use ahash::AHashMap;
use std::collections::hash_map;
use std::hash::Hash;
use std::mem;

use crate::ordered::OrderedMap;
use crate::validate::{tokens, FWC, PWC};

/// Weighted subscription entries of one node (the patterns ending here).
pub(crate) struct Entries<K> {
    /// Plain key -> weight (number of identical inserts), in insertion order.
    pub(crate) plain: OrderedMap<K, u32>,
    /// Queue name -> (key -> weight), names and members in insertion order.
    pub(crate) queues: OrderedMap<bytes::Bytes, OrderedMap<K, u32>>,
}

impl<K: Copy + Eq + Hash> Entries<K> {
    fn new() -> Self {
        Entries {
            plain: OrderedMap::default(),
            queues: OrderedMap::default(),
        }
    }

    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// Adds one unit of weight; true when the (queue, key) entry is new.
    fn insert(&mut self, queue: Option<&[u8]>, key: K) -> bool {
        let members = match queue {
            None => &mut self.plain,
            Some(q) => {
                // Look up first so an existing group costs no allocation.
                if !self.queues.contains_key(q) {
                    self.queues
                        .get_or_insert(bytes::Bytes::copy_from_slice(q), OrderedMap::default());
                }
                match self.queues.get_mut(q) {
                    Some(m) => m,
                    None => return false, // unreachable: inserted just above
                }
            }
        };
        let Some(w) = members.get_or_insert(key, 0) else {
            return false; // unreachable: OrderedMap invariants
        };
        *w = w.saturating_add(1);
        *w == 1
    }

    /// Removes one unit of weight; false when the entry was absent.
    fn remove(&mut self, queue: Option<&[u8]>, key: K) -> Removed {
        let members = match queue {
            None => &mut self.plain,
            Some(q) => match self.queues.get_mut(q) {
                Some(m) => m,
                None => return Removed::Absent,
            },
        };
        let Some(w) = members.get_mut(&key) else {
            return Removed::Absent;
        };
        *w -= 1; // stored weights are >= 1
        if *w > 0 {
            return Removed::Decremented;
        }
        members.remove(&key);
        if let Some(q) = queue {
            if members.is_empty() {
                self.queues.remove(q);
            }
        }
        Removed::Dropped
    }
}

/// Outcome of removing one unit of weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removed {
    /// The (pattern, queue, key) triple was not present.
    Absent,
    /// Its weight went down but it is still present.
    Decremented,
    /// Its weight reached zero and the entry is gone.
    Dropped,
}

/// One trie node: the children reached by the next token, and the entries of the
/// patterns that end here.
pub(crate) struct Node<K> {
    literal: AHashMap<Box<[u8]>, Node<K>>,
    pwc: Option<Box<Node<K>>>,
    fwc: Option<Box<Node<K>>>,
    /// Boxed and optional: most nodes are interior and hold no entries, so this
    /// keeps a node one pointer wide here instead of two hash maps.
    entries: Option<Box<Entries<K>>>,
}

impl<K> Default for Node<K> {
    fn default() -> Self {
        Node {
            literal: AHashMap::new(),
            pwc: None,
            fwc: None,
            entries: None,
        }
    }
}

/// A child slot still to be torn down by [`Node`]'s iterative drop.
enum Pending<K> {
    Map(hash_map::IntoIter<Box<[u8]>, Node<K>>),
    One(Box<Node<K>>),
}

/// One pending activation of nats' recursive `matchLevel`, see [`Node::collect`]:
/// the level it is at (`None` once the literal path died), the index of the next
/// token, and the literal and `*` nodes found at the last level it processed.
pub(crate) struct Frame<'a, K> {
    level: Option<&'a Node<K>>,
    next: usize,
    literal: Option<&'a Node<K>>,
    pwc: Option<&'a Node<K>>,
}

/// The frame stack's element type while no walk is running: the same layout
/// as any `Frame<'a, K>` (references are thin pointers whatever `K` is), so
/// the scratch can keep the stack's allocation between walks.
pub(crate) type ErasedFrame = Frame<'static, ()>;

/// An empty vector of one element type turned into an empty vector of
/// another with the same layout, keeping its allocation (std collects
/// `vec::IntoIter` adapters in place; nothing is ever mapped, it is empty).
fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

impl<K> Node<K> {
    fn child_count(&self) -> usize {
        self.literal.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    fn has_entries(&self) -> bool {
        self.entries.is_some()
    }

    fn child(&self, t: &[u8]) -> Option<&Node<K>> {
        match t {
            PWC => self.pwc.as_deref(),
            FWC => self.fwc.as_deref(),
            _ => self.literal.get(t),
        }
    }

    fn child_mut(&mut self, t: &[u8]) -> Option<&mut Node<K>> {
        match t {
            PWC => self.pwc.as_deref_mut(),
            FWC => self.fwc.as_deref_mut(),
            _ => self.literal.get_mut(t),
        }
    }

    fn child_or_insert(&mut self, t: &[u8]) -> &mut Node<K> {
        match t {
            PWC => self.pwc.get_or_insert_with(Box::default),
            FWC => self.fwc.get_or_insert_with(Box::default),
            // `entry` needs an owned key, so this allocates a token even when the
            // child exists. Inserts run at SUB rate, not message rate, and the
            // get-then-insert alternative cannot be written without a panic path.
            _ => self.literal.entry(Box::from(t)).or_default(),
        }
    }

    fn drop_child(&mut self, t: &[u8]) {
        match t {
            PWC => self.pwc = None,
            FWC => self.fwc = None,
            _ => {
                self.literal.remove(t);
            }
        }
    }

    /// Moves this node's children onto the teardown stack.
    fn drain_children(&mut self, stack: &mut Vec<Pending<K>>) {
        if !self.literal.is_empty() {
            stack.push(Pending::Map(mem::take(&mut self.literal).into_iter()));
        }
        if let Some(n) = self.pwc.take() {
            stack.push(Pending::One(n));
        }
        if let Some(n) = self.fwc.take() {
            stack.push(Pending::One(n));
        }
    }
}

impl<K> Drop for Node<K> {
    /// Iterative teardown: the derived drop recurses once per trie level, and a
    /// long subject could make that overflow a small executor stack. The stack
    /// here holds map iterators, so it stays proportional to depth, not width.
    fn drop(&mut self) {
        let mut stack = Vec::new();
        self.drain_children(&mut stack);
        loop {
            let mut node = match stack.last_mut() {
                None => break,
                Some(Pending::Map(it)) => match it.next() {
                    Some((_, n)) => n,
                    None => {
                        stack.pop();
                        continue;
                    }
                },
                Some(Pending::One(_)) => match stack.pop() {
                    Some(Pending::One(b)) => *b,
                    _ => continue,
                },
            };
            node.drain_children(&mut stack);
            // `node` drops here childless, so its own `drop` does no work.
        }
    }
}

impl<K: Copy + Eq + Hash> Node<K> {
    /// Adds one unit of weight of (pattern, queue, key) below this (root) node;
    /// true when the triple is new.
    pub(crate) fn insert(&mut self, pattern: &[u8], queue: Option<&[u8]>, key: K) -> bool {
        let mut node = self;
        for t in tokens(pattern) {
            node = node.child_or_insert(t);
        }
        node.entries
            .get_or_insert_with(|| Box::new(Entries::new()))
            .insert(queue, key)
    }

    /// Removes one unit of weight of (pattern, queue, key) below this (root)
    /// node, pruning every node left without entries or children.
    pub(crate) fn remove(&mut self, pattern: &[u8], queue: Option<&[u8]>, key: K) -> Removed {
        let mut node = &mut *self;
        for t in tokens(pattern) {
            node = match node.child_mut(t) {
                Some(n) => n,
                None => return Removed::Absent,
            };
        }
        let Some(entries) = node.entries.as_mut() else {
            return Removed::Absent;
        };
        let outcome = entries.remove(queue, key);
        if outcome == Removed::Dropped {
            if entries.is_empty() {
                node.entries = None;
            }
            if !node.has_entries() && node.child_count() == 0 {
                self.prune(pattern);
            }
        }
        outcome
    }

    /// Cuts the longest chain of now-useless nodes at the end of `pattern`'s path.
    ///
    /// Two passes instead of recursion: the first (shared borrows) finds the
    /// deepest node on the path that must stay (the root, or a node with entries
    /// or a child off the path); the second walks to it and drops the edge below.
    fn prune(&mut self, pattern: &[u8]) {
        let depth = tokens(pattern).count();
        let mut keep_at = 0; // the root always stays
        let mut node: &Node<K> = self;
        for (i, t) in tokens(pattern).enumerate() {
            node = match node.child(t) {
                Some(n) => n,
                None => return, // path vanished: nothing of ours to prune
            };
            let level = i + 1;
            let on_path_children = usize::from(level < depth);
            if node.has_entries() || node.child_count() > on_path_children {
                keep_at = level;
            }
        }
        if keep_at == depth {
            return;
        }
        let mut node = &mut *self;
        for (i, t) in tokens(pattern).enumerate() {
            if i == keep_at {
                node.drop_child(t);
                return;
            }
            node = match node.child_mut(t) {
                Some(n) => n,
                None => return,
            };
        }
    }

    /// Walks the trie for a literal subject (already checked to have no empty
    /// token) and folds every matching node's entries into `out`, in exactly the
    /// order nats-server's `matchLevel` (server/sublist.go) visits them:
    ///
    /// ```text
    /// matchLevel(l, toks):
    ///   for i, t in toks:
    ///     if l == nil: return
    ///     if l.fwc: add(l.fwc)                      // `>` child first
    ///     pwc = l.pwc; if pwc: matchLevel(pwc.next, toks[i+1:])
    ///     n = l.nodes[t]; l = n ? n.next : nil      // then follow the literal
    ///   if n: add(n)                                // literal node's entries
    ///   if pwc: add(pwc)                            // then the last `*` node's
    /// ```
    ///
    /// Here a [`Node`] is both nats' `node` (its entries) and its `next` level
    /// (its children). The recursion is replaced by an explicit stack of
    /// [`Frame`]s: a frame's loop step is done (so its state already points at
    /// the next token) before the `*` frame it spawns is pushed, and since the
    /// literal lookup has no side effect, running the child to completion first
    /// yields nats' order. The stack holds at most one frame per `*` on the path;
    /// each trie node is visited at most once (its depth fixes the token index),
    /// so the cost is bounded by the trie size even for patterns full of `*`.
    ///
    /// `toks` and `frames` are the caller's reusable buffers (emptied, kept
    /// allocated); `add` receives each matching node's entries in order.
    pub(crate) fn collect(
        &self,
        subject: &[u8],
        toks: &mut Vec<(u32, u32)>,
        frames: &mut Vec<ErasedFrame>,
        mut add: impl FnMut(&Entries<K>),
    ) where
        K: Copy + Eq + Hash,
    {
        toks.clear();
        let mut at = 0usize;
        for t in tokens(subject) {
            toks.push((at as u32, (at + t.len()) as u32));
            at += t.len() + 1;
        }
        let tok = |i: usize| -> Option<&[u8]> {
            toks.get(i).map(|&(s, e)| &subject[s as usize..e as usize])
        };
        let mut stack: Vec<Frame<'_, K>> = recycle(std::mem::take(frames));
        stack.push(Frame {
            level: Some(self),
            next: 0,
            literal: None,
            pwc: None,
        });
        while let Some(f) = stack.last_mut() {
            let Some(t) = tok(f.next) else {
                // The loop ran to the end: the literal node, then the `*` node,
                // of the last level (either may be absent).
                let (literal, pwc) = (f.literal, f.pwc);
                stack.pop();
                for n in [literal, pwc].into_iter().flatten() {
                    if let Some(e) = n.entries.as_deref() {
                        add(e);
                    }
                }
                continue;
            };
            let Some(level) = f.level else {
                // The literal path died before the last token: nothing more here.
                stack.pop();
                continue;
            };
            // `>` takes this and all remaining tokens (at least one). Its node can
            // only have children if an invalid pattern put them there; those are
            // deliberately unreachable.
            if let Some(e) = level.fwc.as_deref().and_then(|n| n.entries.as_deref()) {
                add(e);
            }
            let pwc = level.pwc.as_deref();
            // A subject token that is `*` or `>` is looked up as a literal; no
            // literal child can be spelled that way, so it only meets wildcards.
            let literal = level.literal.get(t);
            f.level = literal;
            f.next += 1;
            f.literal = literal;
            f.pwc = pwc;
            let next = f.next;
            if let Some(p) = pwc {
                // A `*` frame with no token left would add nothing (its own
                // entries are added by this frame when it finishes): skip it.
                if next < toks.len() {
                    stack.push(Frame {
                        level: Some(p),
                        next,
                        literal: None,
                        pwc: None,
                    });
                }
            }
        }
        *frames = recycle(stack);
    }

    /// Test-only structural check; returns the number of distinct entries.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) -> usize {
        let mut count = 0;
        let mut stack: Vec<(&Node<K>, bool)> = vec![(self, true)];
        while let Some((node, is_root)) = stack.pop() {
            if !is_root {
                assert!(
                    node.has_entries() || node.child_count() > 0,
                    "unpruned empty node"
                );
            }
            if let Some(e) = node.entries.as_deref() {
                assert!(!e.is_empty(), "empty Entries left on a node");
                e.plain.check_invariants();
                e.queues.check_invariants();
                e.queues.values().for_each(OrderedMap::check_invariants);
                assert!(e.plain.values().all(|&w| w > 0), "zero plain weight");
                for members in e.queues.values() {
                    assert!(!members.is_empty(), "empty queue group left");
                    assert!(members.values().all(|&w| w > 0), "zero queue weight");
                    count += members.len();
                }
                count += e.plain.len();
            }
            stack.extend(node.literal.values().map(|n| (n, false)));
            stack.extend(node.pwc.as_deref().map(|n| (n, false)));
            stack.extend(node.fwc.as_deref().map(|n| (n, false)));
        }
        count
    }

    /// True when the trie holds nothing (only meaningful on the root).
    #[cfg(test)]
    pub(crate) fn is_bare(&self) -> bool {
        !self.has_entries() && self.child_count() == 0
    }
}
