//! A stream's messages: kept by sequence, with each subject's sequences at
//! hand, so that limits (`max_msgs`, `max_bytes`, `max_age`,
//! `max_msgs_per_subject`), purges, gets by subject and deletes never scan
//! the whole stream.
//!
//! Invariants: sequences only grow (`last_seq` is never reused; a purge
//! or delete leaves a gap); `first_seq` is the lowest stored sequence, or
//! `last_seq + 1` when the stream is empty; `bytes` is the sum of the
//! stored records' sizes as nats-server counts them (file store: 22 +
//! subject + payload + 8, and 4 + header with headers; memory store:
//! subject + header + payload + 16); each subject's deque holds exactly its
//! stored sequences, ascending.

use std::collections::{BTreeMap, VecDeque};

use ahash::AHashMap;
use bytes::Bytes;
use serde::Serialize;

use crate::config::Storage;
pub use crate::log::StoredMsg;

/// A stream's `state`, keys in nats-server's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct State {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    #[serde(serialize_with = "crate::json::time")]
    pub first_ts: i64,
    pub last_seq: u64,
    #[serde(serialize_with = "crate::json::time")]
    pub last_ts: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_subjects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero")]
    pub num_deleted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<u64>>,
    pub consumer_count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The messages of one stream.
#[derive(Debug)]
pub struct Store {
    storage: Storage,
    msgs: BTreeMap<u64, StoredMsg>,
    subjects: AHashMap<Bytes, VecDeque<u64>>,
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    bytes: u64,
    /// A file stream's changes not yet written, as log records
    /// (`log.rs`); `None` for a memory stream.
    journal: Option<Vec<u8>>,
}

impl Store {
    /// An empty store whose first message gets `first_seq` (1 when 0).
    pub fn new(storage: Storage, first_seq: u64) -> Store {
        let first = first_seq.max(1);
        Store {
            storage,
            msgs: BTreeMap::new(),
            subjects: AHashMap::new(),
            first_seq: first,
            last_seq: first - 1,
            last_ts: 0,
            bytes: 0,
            journal: (storage == Storage::File).then(Vec::new),
        }
    }

    /// The log records of the changes since the last call (empty for a
    /// memory stream).
    pub fn take_journal(&mut self) -> Vec<u8> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The whole store as log records (a rewritten log).
    pub fn snapshot_log(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.msgs.is_empty() {
            crate::log::put_bounds(&mut out, self.first_seq, self.last_seq);
        }
        for (seq, m) in &self.msgs {
            crate::log::put_msg(&mut out, *seq, m.ts, &m.subject, &m.hdr, &m.data);
        }
        out
    }

    /// Applies a replayed log (nothing is journaled).
    pub fn restore(&mut self, recs: Vec<crate::log::Rec>) {
        let journal = self.journal.take();
        for r in recs {
            match r {
                crate::log::Rec::Msg(seq, m) => {
                    if seq <= self.last_seq && !self.msgs.is_empty() {
                        continue;
                    }
                    self.last_seq = seq - 1;
                    if self.msgs.is_empty() {
                        self.first_seq = seq;
                    }
                    self.append(m);
                }
                crate::log::Rec::Removed(seq) => {
                    self.remove(seq);
                }
                crate::log::Rec::Bounds(first, last) => {
                    if self.msgs.is_empty() {
                        self.first_seq = first;
                        self.last_seq = last;
                    }
                }
            }
        }
        self.journal = journal;
    }

    /// Every stored message, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &StoredMsg)> {
        self.msgs.iter().map(|(s, m)| (*s, m))
    }

    /// A record's size as nats-server accounts it.
    pub fn record_size(storage: Storage, subject: usize, hdr: usize, data: usize) -> u64 {
        let n = match storage {
            Storage::File => 22 + subject + data + 8 + if hdr > 0 { 4 + hdr } else { 0 },
            Storage::Memory => subject + hdr + data + 16,
        };
        n as u64
    }

    fn size(&self, m: &StoredMsg) -> u64 {
        Self::record_size(self.storage, m.subject.len(), m.hdr.len(), m.data.len())
    }

    pub fn msgs(&self) -> u64 {
        self.msgs.len() as u64
    }
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Appends a message: its sequence.
    pub fn append(&mut self, m: StoredMsg) -> u64 {
        let seq = self.last_seq + 1;
        self.last_seq = seq;
        self.last_ts = m.ts;
        if self.msgs.is_empty() {
            self.first_seq = seq;
        }
        self.bytes += self.size(&m);
        if let Some(j) = self.journal.as_mut() {
            crate::log::put_msg(j, seq, m.ts, &m.subject, &m.hdr, &m.data);
        }
        self.subjects
            .entry(m.subject.clone())
            .or_default()
            .push_back(seq);
        self.msgs.insert(seq, m);
        seq
    }

    /// Removes message `seq`; whether it was there.
    pub fn remove(&mut self, seq: u64) -> bool {
        let Some(m) = self.msgs.remove(&seq) else {
            return false;
        };
        if let Some(j) = self.journal.as_mut() {
            crate::log::put_removed(j, seq);
        }
        self.bytes -= self.size(&m);
        if let Some(q) = self.subjects.get_mut(&m.subject) {
            if q.front() == Some(&seq) {
                q.pop_front();
            } else if let Ok(i) = q.binary_search(&seq) {
                q.remove(i);
            }
            if q.is_empty() {
                self.subjects.remove(&m.subject);
            }
        }
        if seq == self.first_seq {
            self.first_seq = self
                .msgs
                .keys()
                .next()
                .copied()
                .unwrap_or(self.last_seq + 1);
        }
        true
    }

    pub fn get(&self, seq: u64) -> Option<&StoredMsg> {
        self.msgs.get(&seq)
    }

    /// The oldest message's sequence and time.
    pub fn oldest(&self) -> Option<(u64, i64)> {
        self.msgs.iter().next().map(|(s, m)| (*s, m.ts))
    }

    /// How many messages subject `subject` has stored.
    pub fn subject_count(&self, subject: &[u8]) -> usize {
        self.subjects.get(subject).map_or(0, |q| q.len())
    }

    /// The sequences of the subjects matching `filter` (all for `>`) that
    /// satisfy `pick` over each subject's deque.
    fn matching(&self, filter: &[u8]) -> impl Iterator<Item = (&Bytes, &VecDeque<u64>)> + '_ {
        let all = filter.is_empty() || filter == b">";
        let literal = !filter.contains(&b'*') && !filter.contains(&b'>');
        let single = if literal && !all {
            self.subjects.get_key_value(filter)
        } else {
            None
        };
        let filter = filter.to_vec();
        let many = (!literal || all).then(|| {
            self.subjects
                .iter()
                .filter(move |(s, _)| all || shoal_subject::subject_matches(&filter, s))
        });
        single.into_iter().chain(many.into_iter().flatten())
    }

    /// The last message on a subject matching `filter`.
    pub fn last_by_subject(&self, filter: &[u8]) -> Option<u64> {
        self.matching(filter)
            .filter_map(|(_, q)| q.back().copied())
            .max()
    }

    /// The first message at or after `from` on a subject matching `filter`.
    pub fn next_by_subject(&self, filter: &[u8], from: u64) -> Option<u64> {
        if filter.is_empty() || filter == b">" {
            return self.msgs.range(from..).next().map(|(s, _)| *s);
        }
        self.matching(filter)
            .filter_map(|(_, q)| {
                let i = q.partition_point(|&s| s < from);
                q.get(i).copied()
            })
            .min()
    }

    /// nats-server's purge (ADR-10): every message, those on subjects
    /// matching `filter`, those below `seq`, or all but the newest `keep`
    /// (per subject with a filter). Returns how many went. An unfiltered
    /// full purge moves `first_seq` past the end.
    pub fn purge(&mut self, filter: Option<&[u8]>, seq: u64, keep: u64) -> u64 {
        let doomed: Vec<u64> = match filter {
            Some(f) if !f.is_empty() && f != b">" => {
                let mut v = Vec::new();
                for (_, q) in self.matching(f) {
                    let n = q.len() as u64;
                    for (i, &s) in q.iter().enumerate() {
                        let kept_by_keep = keep > 0 && (i as u64) >= n.saturating_sub(keep);
                        let below = seq == 0 || s < seq;
                        if below && !kept_by_keep {
                            v.push(s);
                        }
                    }
                }
                v
            }
            _ => {
                let n = self.msgs.len() as u64;
                self.msgs
                    .keys()
                    .enumerate()
                    .filter(|(i, s)| {
                        let kept_by_keep = keep > 0 && (*i as u64) >= n.saturating_sub(keep);
                        (seq == 0 || **s < seq) && !kept_by_keep
                    })
                    .map(|(_, s)| *s)
                    .collect()
            }
        };
        let n = doomed.len() as u64;
        for s in doomed {
            self.remove(s);
        }
        if self.msgs.is_empty() {
            self.first_seq = self.first_seq.max(seq).max(self.last_seq + 1);
            if seq > self.last_seq + 1 {
                // A purge up to a sequence past the end starts the stream there.
                self.last_seq = seq - 1;
                self.first_seq = seq;
            }
            if let Some(j) = self.journal.as_mut() {
                crate::log::put_bounds(j, self.first_seq, self.last_seq);
            }
        }
        n
    }

    /// The stream's state (`subjects`: the counts of subjects matching a
    /// filter; `deleted`: the gaps' sequences).
    pub fn state(&self, subjects: Option<&[u8]>, deleted: bool) -> State {
        let first_ts = self.msgs.values().next().map_or(0, |m| m.ts);
        let span = if self.msgs.is_empty() {
            0
        } else {
            self.last_seq - self.first_seq + 1
        };
        let num_deleted = span - self.msgs.len() as u64;
        State {
            messages: self.msgs.len() as u64,
            bytes: self.bytes,
            first_seq: if self.msgs.is_empty() && self.last_seq == 0 {
                0
            } else {
                self.first_seq
            },
            first_ts,
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_subjects: self.subjects.len() as u64,
            // Left out when nothing matches, as nats-server does.
            subjects: subjects
                .map(|f| {
                    self.matching(f)
                        .map(|(s, q)| (String::from_utf8_lossy(s).into_owned(), q.len() as u64))
                        .collect::<BTreeMap<String, u64>>()
                })
                .filter(|m| !m.is_empty()),
            num_deleted,
            deleted: (deleted && num_deleted > 0).then(|| {
                (self.first_seq..=self.last_seq)
                    .filter(|s| !self.msgs.contains_key(s))
                    .collect()
            }),
            consumer_count: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(subject: &str, data: &str, ts: i64) -> StoredMsg {
        StoredMsg {
            subject: Bytes::copy_from_slice(subject.as_bytes()),
            hdr: Bytes::new(),
            data: Bytes::copy_from_slice(data.as_bytes()),
            ts,
        }
    }

    #[test]
    fn sequences_gaps_and_sizes_as_nats_server_counts_them() {
        let mut s = Store::new(Storage::File, 0);
        assert_eq!(s.state(None, false).first_seq, 0);
        assert_eq!(s.append(msg("s.a", "hello", 1)), 1);
        assert_eq!(s.bytes(), 38);
        let mut h = msg("s.b", "x", 2);
        h.hdr = Bytes::from_static(b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n");
        assert_eq!(s.append(h), 2);
        assert_eq!(s.bytes(), 105);
        assert!(s.remove(1));
        assert!(!s.remove(1));
        let st = s.state(Some(b">"), true);
        assert_eq!(
            (st.messages, st.bytes, st.first_seq, st.last_seq),
            (1, 67, 2, 2)
        );
        assert_eq!(st.subjects.unwrap().get("s.b"), Some(&1));
        assert_eq!(s.purge(None, 0, 0), 1);
        let st = s.state(None, false);
        assert_eq!((st.messages, st.first_seq, st.last_seq), (0, 3, 2));
        let mut m = Store::new(Storage::Memory, 0);
        m.append(msg("mb.a", &"x".repeat(20), 1));
        assert_eq!(m.bytes(), 40);
    }

    #[test]
    fn by_subject_and_purges_with_filters() {
        let mut s = Store::new(Storage::Memory, 0);
        for (i, subj) in ["a.1", "a.2", "b.1", "a.1", "b.1", "a.1"]
            .iter()
            .enumerate()
        {
            s.append(msg(subj, "x", i as i64));
        }
        assert_eq!(s.last_by_subject(b"a.1"), Some(6));
        assert_eq!(s.last_by_subject(b"b.*"), Some(5));
        assert_eq!(s.next_by_subject(b"a.*", 3), Some(4));
        assert_eq!(s.next_by_subject(b">", 6), Some(6));
        assert_eq!(s.next_by_subject(b"c", 1), None);
        // Keep the newest of each `a.*` subject.
        assert_eq!(s.purge(Some(b"a.*"), 0, 1), 2);
        assert_eq!(s.subject_count(b"a.1"), 1);
        // Below sequence 6.
        assert_eq!(s.purge(None, 6, 0), 3);
        assert_eq!(s.state(None, false).first_seq, 6);
    }
}
