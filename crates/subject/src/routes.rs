//! Interest bookkeeping for cluster routes, as nats-server keeps it
//! (spec/cluster.md §3), without the wire or the runtime:
//!
//! * [`Advertised`]: what this server tells its routes about its **own**
//!   clients' interest, per account. A plain subject is counted by its exact
//!   text: the first subscription announces it (`RS+`), the last one gone
//!   withdraws it (`RS-`), duplicates in between say nothing. A queue group is
//!   counted per (subject, queue): every change of its member count is
//!   announced with the new count (`RS+ … <queue> <n>`, also when it drops),
//!   and 0 withdraws it (`RS- … <queue>`). Interest learned from routes never
//!   enters it (a server never re-advertises what a route told it).
//!
//! What a peer tells this server is kept by the runtime as subscriptions
//! of its route (`crates/server`'s `cluster/link.rs`, weights replaced).
//!
//! Accounts are interned ids (`u16`), as everywhere on a core. Allocates only
//! when interest changes, never per message.

use ahash::AHashMap;

/// An announcement for the routes (an `RS+` or `RS-` line to write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announce {
    /// `RS+ <acc> <subject>` or, for a queue group, `RS+ <acc> <subject> <queue> <count>`.
    Sub {
        account: u16,
        subject: Box<[u8]>,
        queue: Option<(Box<[u8]>, u32)>,
    },
    /// `RS- <acc> <subject>[ <queue>]`.
    Unsub {
        account: u16,
        subject: Box<[u8]>,
        queue: Option<Box<[u8]>>,
    },
}

type Key = (u16, Box<[u8]>);
type QueueKey = (u16, Box<[u8]>, Box<[u8]>);

/// This server's own interest, as its routes have been told it.
#[derive(Debug, Default)]
pub struct Advertised {
    plain: AHashMap<Key, u32>,
    queues: AHashMap<QueueKey, u32>,
}

impl Advertised {
    /// A local subscription was added: what to announce, if anything.
    pub fn add(&mut self, account: u16, subject: &[u8], queue: Option<&[u8]>) -> Option<Announce> {
        match queue {
            None => {
                let n = self.plain.entry((account, subject.into())).or_insert(0);
                *n += 1;
                (*n == 1).then(|| Announce::Sub {
                    account,
                    subject: subject.into(),
                    queue: None,
                })
            }
            Some(q) => {
                let n = self
                    .queues
                    .entry((account, subject.into(), q.into()))
                    .or_insert(0);
                *n += 1;
                Some(Announce::Sub {
                    account,
                    subject: subject.into(),
                    queue: Some((q.into(), *n)),
                })
            }
        }
    }

    /// A local subscription went away: what to announce, if anything. One
    /// that was never added announces nothing.
    pub fn remove(
        &mut self,
        account: u16,
        subject: &[u8],
        queue: Option<&[u8]>,
    ) -> Option<Announce> {
        match queue {
            None => {
                let key: Key = (account, subject.into());
                let n = self.plain.get_mut(&key)?;
                *n -= 1;
                if *n > 0 {
                    return None;
                }
                self.plain.remove(&key);
                Some(Announce::Unsub {
                    account,
                    subject: subject.into(),
                    queue: None,
                })
            }
            Some(q) => {
                let key: QueueKey = (account, subject.into(), q.into());
                let n = self.queues.get_mut(&key)?;
                *n -= 1;
                if *n > 0 {
                    return Some(Announce::Sub {
                        account,
                        subject: subject.into(),
                        queue: Some((q.into(), *n)),
                    });
                }
                self.queues.remove(&key);
                Some(Announce::Unsub {
                    account,
                    subject: subject.into(),
                    queue: Some(q.into()),
                })
            }
        }
    }

    /// A copy of account `id`'s entries, counts kept (a leaf's table
    /// starts from it).
    pub fn of_account(&self, id: u16) -> Advertised {
        Advertised {
            plain: self
                .plain
                .iter()
                .filter(|((a, _), _)| *a == id)
                .map(|(k, n)| (k.clone(), *n))
                .collect(),
            queues: self
                .queues
                .iter()
                .filter(|((a, _, _), _)| *a == id)
                .map(|(k, n)| (k.clone(), *n))
                .collect(),
        }
    }

    /// Adds account `id`'s entries, counts and all, to `into` (a leaf's
    /// table takes the routes' interest this way).
    pub fn add_account_into(&self, id: u16, into: &mut Advertised) {
        for (k, n) in self.plain.iter().filter(|((a, _), _)| *a == id) {
            *into.plain.entry(k.clone()).or_insert(0) += n;
        }
        for (k, n) in self.queues.iter().filter(|((a, _, _), _)| *a == id) {
            *into.queues.entry(k.clone()).or_insert(0) += n;
        }
    }

    /// Everything there is, for a route that has just registered (its
    /// first batch of `RS+`).
    pub fn snapshot(&self) -> impl Iterator<Item = Announce> + '_ {
        let plain = self.plain.keys().map(|(a, s)| Announce::Sub {
            account: *a,
            subject: s.clone(),
            queue: None,
        });
        let queues = self.queues.iter().map(|((a, s, q), n)| Announce::Sub {
            account: *a,
            subject: s.clone(),
            queue: Some((q.clone(), *n)),
        });
        plain.chain(queues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line nats-server would write for an announcement.
    fn line(a: &Announce) -> String {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match a {
            Announce::Sub {
                subject,
                queue: None,
                ..
            } => format!("RS+ $G {}", s(subject)),
            Announce::Sub {
                subject,
                queue: Some((q, n)),
                ..
            } => format!("RS+ $G {} {} {n}", s(subject), s(q)),
            Announce::Unsub {
                subject,
                queue: None,
                ..
            } => format!("RS- $G {}", s(subject)),
            Announce::Unsub {
                subject,
                queue: Some(q),
                ..
            } => format!("RS- $G {} {}", s(subject), s(q)),
        }
    }

    /// spec/cluster.md §3's captured trace: after the snapshot of
    /// `SUB foo 1`, `SUB foo grp 2`, `SUB foo grp 3`, `SUB bar.* 4`, the
    /// steady-state lines of `SUB newsub 9`, `SUB foo grp 10`, `UNSUB 9`,
    /// `UNSUB 10`, `SUB foo grp2 11`.
    #[test]
    fn the_captured_trace() {
        let mut a = Advertised::default();
        for (s, q) in [
            ("foo", None),
            ("foo", Some("grp")),
            ("foo", Some("grp")),
            ("bar.*", None),
        ] {
            a.add(0, s.as_bytes(), q.map(str::as_bytes));
        }
        let mut snap: Vec<String> = a.snapshot().map(|x| line(&x)).collect();
        snap.sort();
        assert_eq!(snap, ["RS+ $G bar.*", "RS+ $G foo", "RS+ $G foo grp 2"]);
        let steady: Vec<String> = [
            a.add(0, b"newsub", None),
            a.add(0, b"foo", Some(b"grp")),
            a.remove(0, b"newsub", None),
            a.remove(0, b"foo", Some(b"grp")),
            a.add(0, b"foo", Some(b"grp2")),
        ]
        .iter()
        .flatten()
        .map(line)
        .collect();
        assert_eq!(
            steady,
            [
                "RS+ $G newsub",
                "RS+ $G foo grp 3",
                "RS- $G newsub",
                "RS+ $G foo grp 2",
                "RS+ $G foo grp2 1"
            ]
        );
    }

    #[test]
    fn plain_subjects_are_counted_and_queues_announce_every_change() {
        let mut a = Advertised::default();
        assert!(a.add(0, b"x", None).is_some());
        assert!(a.add(0, b"x", None).is_none(), "a duplicate says nothing");
        assert!(a.add(1, b"x", None).is_some(), "accounts are apart");
        assert!(a.remove(0, b"x", None).is_none());
        assert_eq!(line(&a.remove(0, b"x", None).unwrap()), "RS- $G x");
        assert!(a.remove(0, b"x", None).is_none(), "never added: nothing");
        a.add(0, b"q", Some(b"g"));
        assert_eq!(line(&a.remove(0, b"q", Some(b"g")).unwrap()), "RS- $G q g");
    }
}
