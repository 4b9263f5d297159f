//! Subject relations the permission rules need beyond "does this pattern match
//! this subject" (which the subscription index answers): is a subject a subset
//! of a pattern when both may hold wildcards, can two patterns match one
//! literal subject, does a queue name satisfy a permission's queue entry, and
//! the `"<subject> <queue>"` form of permission entries.
//!
//! Each follows nats-server 2.15's function of the same purpose
//! (`subjectHasWildcard`, `isSubsetMatchTokenized`, `SubjectsCollide`,
//! `queueMatches`, `splitSubjectQueue`), quirks included, because the rules a
//! user wrote must admit exactly what they admit there.
//!
//! Must never: allocate (tokens are walked as slices), or panic on any input.

use shoal_subject::is_valid_subscribe_subject;

/// A subject's tokens (empty tokens included, as Go's split gives them).
fn toks(s: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    s.split(|&b| b == b'.')
}

fn is_pwc(t: &[u8]) -> bool {
    t == b"*"
}

fn is_fwc(t: &[u8]) -> bool {
    t == b">"
}

/// True when some whole token is `*` or `>`.
pub fn has_wildcard(s: &[u8]) -> bool {
    toks(s).any(|t| is_pwc(t) || is_fwc(t))
}

/// True when every subject `subject` stands for is also matched by `test`
/// (both may hold wildcards): `foo.*` is a subset of `>`, `*.*` and `foo.*`,
/// not of `foo.bar`. nats-server's `isSubsetMatchTokenized`.
pub fn is_subset_match(subject: &[u8], test: &[u8]) -> bool {
    let mut ours = toks(subject);
    let mut n_test = 0usize;
    for t2 in toks(test) {
        n_test += 1;
        let Some(t1) = ours.next() else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if is_fwc(t2) {
            return true;
        }
        if t1.is_empty() || is_fwc(t1) {
            return false;
        }
        if is_pwc(t1) {
            if !is_pwc(t2) {
                return false;
            }
            continue;
        }
        // A token of `test` starting with '*' counts as a wildcard here, as
        // Go compares only its first byte.
        if t2[0] != b'*' && t1 != t2 {
            return false;
        }
    }
    ours.next().is_none() && n_test > 0
}

/// Whether one token could match the other (Go looks at the first byte only).
fn tokens_can_match(t1: &[u8], t2: &[u8]) -> bool {
    match (t1.first(), t2.first()) {
        (Some(&a), Some(&b)) => a == b'*' || b == b'*' || a == b'>' || b == b'>' || t1 == t2,
        _ => false,
    }
}

/// True when some literal subject could match both patterns. nats-server's
/// `SubjectsCollide`.
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (pwc_a, fwc_a) = (toks(a).any(is_pwc), toks(a).any(is_fwc));
    let (pwc_b, fwc_b) = (toks(b).any(is_pwc), toks(b).any(is_fwc));
    let (lit_a, lit_b) = (!(pwc_a || fwc_a), !(pwc_b || fwc_b));
    if lit_a && lit_b {
        return false;
    }
    if lit_a {
        return is_subset_match(a, b);
    }
    if lit_b {
        return is_subset_match(b, a);
    }
    let (na, nb) = (toks(a).count(), toks(b).count());
    if !fwc_a && !fwc_b && na != nb {
        return false;
    }
    if (na < nb && !fwc_a) || (nb < na && !fwc_b) {
        return false;
    }
    toks(a).zip(toks(b)).all(|(x, y)| tokens_can_match(x, y))
}

/// Whether `queue` satisfies one of the permission entries' queue names: the
/// same name, or a name with wildcard tokens that the queue (taken as a
/// subject) is a subset of — `g.*` admits `g.1`, not `g` or `g.1.2`; `g*` is a
/// literal. No names at all admits any queue. nats-server's `queueMatches`.
pub fn queue_matches<'a>(queue: &[u8], mut names: impl Iterator<Item = &'a [u8]>) -> bool {
    let mut any = false;
    let hit = names.any(|name| {
        any = true;
        queue == name || (has_wildcard(name) && is_subset_match(queue, name))
    });
    hit || !any
}

/// Why a permission entry was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry(pub String);

/// Splits a subscribe permission entry `"<subject>"` or `"<subject> <queue>"`
/// (surrounding and separating whitespace, Unicode's as Go's, ignored); both parts must be valid
/// subjects (wildcards allowed). nats-server's `splitSubjectQueue`, with its
/// error text: `invalid subject-queue "<entry>"`.
pub fn split_subject_queue(entry: &str) -> Result<(&str, Option<&str>), BadEntry> {
    let bad = || {
        BadEntry(format!(
            "invalid subject-queue {}",
            shoal_go::quote(entry.as_bytes())
        ))
    };
    // Go's strings.Fields: any Unicode space separates (a non-breaking space
    // pasted into a config file splits an entry there too).
    let mut parts = entry.split_whitespace();
    let subject = parts.next().ok_or_else(bad)?;
    let queue = parts.next();
    if parts.next().is_some() {
        return Err(bad());
    }
    if !is_valid_subscribe_subject(subject.as_bytes())
        || queue.is_some_and(|q| !is_valid_subscribe_subject(q.as_bytes()))
    {
        return Err(bad());
    }
    Ok((subject, queue))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_whole_tokens() {
        assert!(has_wildcard(b"foo.*"));
        assert!(has_wildcard(b">"));
        assert!(!has_wildcard(b"foo*.bar"));
        assert!(!has_wildcard(b"foo.b>"));
    }

    #[test]
    fn subset_match_as_nats_server() {
        for (s, t, want) in [
            (&b"foo.*"[..], &b">"[..], true),
            (b"foo.*", b"*.*", true),
            (b"foo.*", b"foo.*", true),
            (b"foo.*", b"foo.bar", false),
            (b"foo.bar", b"foo.*", true),
            (b"foo.bar", b"foo.>", true),
            (b"foo", b"foo.>", false),
            (b"foo.>", b"foo.*", false),
            (b"foo.bar.baz", b"foo.*", false),
            (b"g.1", b"g.*", true),
            (b"g", b"g.*", false),
            (b"g.1.2", b"g.*", false),
            (b"foo.bar", b"foo.*x", true), // Go reads only the first byte
        ] {
            assert_eq!(
                is_subset_match(s, t),
                want,
                "{} in {}",
                String::from_utf8_lossy(s),
                String::from_utf8_lossy(t)
            );
        }
    }

    #[test]
    fn collisions_as_nats_server() {
        for (a, b, want) in [
            (&b"foo.bar"[..], &b"foo.bar"[..], true),
            (b"foo.bar", b"foo.baz", false),
            (b"foo.*", b"foo.bar", true),
            (b"foo.*", b"*.bar", true),
            (b"foo.*", b"bar.*", false),
            (b"foo.>", b"*.bar.baz", true),
            (b"foo.*", b"foo.*.*", false),
            (b"foo.>", b"foo", false),
            (b">", b"anything.at.all", true),
            (b"*.*", b"foo.>", true),
        ] {
            assert_eq!(subjects_collide(a, b), want, "{a:?} {b:?}");
            assert_eq!(subjects_collide(b, a), want, "{b:?} {a:?}");
        }
    }

    #[test]
    fn queue_names() {
        let names = |v: &'static [&'static str]| v.iter().map(|s| s.as_bytes());
        assert!(queue_matches(b"v1", names(&["v1"])));
        assert!(!queue_matches(b"v2", names(&["v1"])));
        assert!(queue_matches(b"g.1", names(&["g.*"])));
        assert!(!queue_matches(b"g", names(&["g.*"])));
        assert!(!queue_matches(b"g.1.2", names(&["g.*"])));
        assert!(!queue_matches(b"g1", names(&["g*"])), "g* is a literal");
        assert!(queue_matches(b"g*", names(&["g*"])));
        assert!(
            queue_matches(b"anything", names(&[])),
            "no names: any queue"
        );
    }

    #[test]
    fn subject_queue_entries() {
        assert_eq!(split_subject_queue("foo"), Ok(("foo", None)));
        assert_eq!(split_subject_queue("  foo   v1 "), Ok(("foo", Some("v1"))));
        assert_eq!(split_subject_queue("foo.* g.>"), Ok(("foo.*", Some("g.>"))));
        assert_eq!(
            split_subject_queue("a b c"),
            Err(BadEntry("invalid subject-queue \"a b c\"".into()))
        );
        assert!(split_subject_queue("").is_err());
        assert!(split_subject_queue("foo..bar").is_err());
        assert!(split_subject_queue("foo >.x").is_err());
        assert_eq!(
            split_subject_queue("secret\u{a0}"),
            Ok(("secret", None)),
            "NBSP is a space"
        );
        assert_eq!(split_subject_queue("foo\u{a0}v1"), Ok(("foo", Some("v1"))));
    }
}
