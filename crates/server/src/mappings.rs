//! Subject mappings (`mappings { src: dest }`, top-level for `$G` and per
//! account), chosen as nats-server's `selectMappedSubject` chooses them:
//! the first mapping (in file order) whose source is the published subject
//! or a wildcard pattern matching it; one of its destinations picked by
//! weight (percent), the original subject taking what the weights leave
//! unless it is listed itself (then the rest is dropped).
//!
//! The mapped subject is what the publisher's permissions, the reserved
//! prefixes and every subscriber see (nats-server maps in its parser, before
//! any check). A publish with no mapping costs one length test per message.
//!
//! Pure: the caller passes its random draw (0..100) and the buffer.

use shoal_subject::Transform;

/// One mapping: a source and its weighted destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Transforms from the source to each destination, with its weight.
    pub dests: Vec<(Transform, u8)>,
    /// Whether the source itself is one of the destinations (what the
    /// weights leave is then dropped, not delivered unmapped).
    pub lists_source: bool,
    pub source_is_literal: bool,
}

/// Every account's mappings, by account id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mappings {
    accounts: Vec<Vec<Mapping>>,
}

/// What a mapping made of a published subject.
#[derive(Debug, PartialEq, Eq)]
pub enum Mapped {
    /// No mapping applies (or the draw left it as it is).
    Unchanged,
    /// The new subject is in the buffer.
    To,
    /// The draw fell on weight no destination has: nothing is delivered.
    Dropped,
}

impl Mappings {
    /// Adds `account`'s mappings.
    pub fn set(&mut self, account: u16, mappings: Vec<Mapping>) {
        // Only accounts with mappings are kept: `is_empty`, checked per
        // publish, stays a length test.
        if mappings.is_empty() {
            return;
        }
        let i = usize::from(account);
        if self.accounts.len() <= i {
            self.accounts.resize(i + 1, Vec::new());
        }
        self.accounts[i] = mappings;
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Maps `subject` published in `account`, with a draw in 0..100.
    pub fn select(&self, account: u16, subject: &[u8], draw: u64, out: &mut Vec<u8>) -> Mapped {
        let Some(list) = self.accounts.get(usize::from(account)) else {
            return Mapped::Unchanged;
        };
        let found = list.iter().find(|m| {
            m.dests.first().is_some_and(|(t, _)| {
                if m.source_is_literal {
                    t.source() == subject
                } else {
                    t.matches(subject)
                }
            })
        });
        let Some(m) = found else {
            return Mapped::Unchanged;
        };
        let mut left = draw;
        for (t, w) in &m.dests {
            if left < u64::from(*w) {
                t.apply(subject, out);
                return Mapped::To;
            }
            left -= u64::from(*w);
        }
        if m.lists_source {
            Mapped::Dropped
        } else {
            Mapped::Unchanged
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(src: &str, dests: &[(&str, u8)]) -> Mapping {
        Mapping {
            dests: dests
                .iter()
                .map(|(d, w)| (Transform::new(src, d).unwrap(), *w))
                .collect(),
            lists_source: dests.iter().any(|(d, _)| *d == src),
            source_is_literal: !src.contains(['*', '>']),
        }
    }

    #[test]
    fn first_match_and_weights() {
        let mut m = Mappings::default();
        m.set(
            1,
            vec![
                mapping("a.*", &[("b.$1", 100)]),
                mapping("w", &[("w1", 20), ("w2", 30)]),
                mapping("l", &[("l1", 50), ("l", 10)]),
            ],
        );
        let mut out = Vec::new();
        assert_eq!(m.select(1, b"a.x", 99, &mut out), Mapped::To);
        assert_eq!(out, b"b.x");
        assert_eq!(m.select(0, b"a.x", 0, &mut out), Mapped::Unchanged);
        assert_eq!(m.select(1, b"w", 10, &mut out), Mapped::To);
        assert_eq!(out, b"w1");
        assert_eq!(m.select(1, b"w", 40, &mut out), Mapped::To);
        assert_eq!(out, b"w2");
        assert_eq!(m.select(1, b"w", 60, &mut out), Mapped::Unchanged);
        assert_eq!(m.select(1, b"l", 55, &mut out), Mapped::To);
        assert_eq!(out, b"l");
        assert_eq!(m.select(1, b"l", 70, &mut out), Mapped::Dropped);
        assert!(!m.is_empty());
    }
}
