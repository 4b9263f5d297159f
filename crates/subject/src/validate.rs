//! Subject lexing, validation and the reference (naive) wildcard matcher.
//!
//! Owns the rules of protocol.md §1.2: what a SUB subject and a (pedantic) PUB
//! subject may look like, and what it means for a pattern to match a subject.
//!
//! Invariants:
//! * Tokens are the byte runs between `.`; a token is a wildcard only when it is
//!   *exactly* `*` or `>` (`foo*`, `f>o`, `>x` are literals).
//! * [`subject_matches`] is the single source of truth for matching semantics; the
//!   trie in `trie.rs` must agree with it (the property tests check that), and the
//!   match cache uses it to decide which cached subjects a changed pattern touches.
//!
//! Must never: allocate, panic on any input, or interpret bytes other than `.`,
//! `*`, `>` and the four whitespace bytes (UTF-8 passes through untouched).

/// The token separator.
pub(crate) const SEP: u8 = b'.';
/// Partial wildcard token: matches exactly one token.
pub(crate) const PWC: &[u8] = b"*";
/// Full wildcard token: matches one or more trailing tokens; must be last.
pub(crate) const FWC: &[u8] = b">";

/// The whitespace bytes the protocol forbids in subjects (they delimit fields on
/// the control line, so a subject containing one could never have been parsed).
#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits a subject (or pattern) into its `.`-separated tokens.
///
/// An empty input yields one empty token, and leading, trailing or doubled dots
/// yield empty tokens: callers detect invalid subjects by looking for them.
#[inline]
pub fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| b == SEP)
}

/// True when `s` has at least one empty token (this includes the empty string).
/// Such a subject matches no subscription at all.
#[inline]
pub(crate) fn has_empty_token(s: &[u8]) -> bool {
    tokens(s).any(<[u8]>::is_empty)
}

/// True when the pattern contains a `*` or `>` token, i.e. may match more than
/// the one subject spelled exactly like it.
#[inline]
pub(crate) fn has_wildcard(pattern: &[u8]) -> bool {
    tokens(pattern).any(|t| t == PWC || t == FWC)
}

/// SUB subject rule (always applied): non-empty, no empty token (leading, trailing
/// or double dot), `>` only as the last token (a token exactly `>`), no whitespace
/// bytes (space, tab, CR, LF).
pub fn is_valid_subscribe_subject(s: &[u8]) -> bool {
    if s.is_empty() {
        return false;
    }
    let mut after_fwc = false;
    for t in tokens(s) {
        // Any token after `>` means `>` was not last.
        if after_fwc || t.is_empty() || t.iter().any(|&b| is_ws(b)) {
            return false;
        }
        after_fwc = t == FWC;
    }
    true
}

/// Pedantic PUB rule: a valid literal subject: non-empty, no empty tokens, no
/// token exactly `*` or `>`, no whitespace.
pub fn is_valid_publish_subject(s: &[u8]) -> bool {
    // `tokens` of an empty input is one empty token, so emptiness is covered.
    tokens(s).all(|t| !t.is_empty() && t != PWC && t != FWC && !t.iter().any(|&b| is_ws(b)))
}

/// Reference matcher (naive, token by token): does `pattern` (may contain `*`/`>`
/// tokens) match the literal `subject`?
///
/// * A subject with an empty token (or the empty subject) matches nothing.
/// * Tokens of the subject that are `*` or `>` are compared as literal tokens:
///   PUB `w.*` is matched by SUB `w.*` (the pattern's `*` takes any one token) and
///   SUB `w.>`, but not by SUB `w.x`.
/// * A pattern whose `>` is not its last token is invalid and matches nothing.
pub fn subject_matches(pattern: &[u8], subject: &[u8]) -> bool {
    if has_empty_token(subject) {
        return false;
    }
    let mut pat = tokens(pattern);
    let mut sub = tokens(subject);
    loop {
        match (pat.next(), sub.next()) {
            (None, None) => return true,
            // `>` swallows this and every remaining subject token (at least one,
            // since we just got one), but only when it ends the pattern.
            (Some(FWC), Some(_)) => return pat.next().is_none(),
            (Some(PWC), Some(_)) => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

/// Whether some subject matches both patterns (nats-server's
/// `SubjectsCollide`): token by token, `*` meets any token and `>` any
/// non-empty rest.
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    let mut x = tokens(a);
    let mut y = tokens(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(FWC), Some(_)) | (Some(_), Some(FWC)) => return true,
            (Some(PWC), Some(_)) | (Some(_), Some(PWC)) => {}
            (Some(p), Some(q)) if p == q => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collisions_as_nats_server_finds_them() {
        assert!(subjects_collide(b"foo.*.>", b"foo.bar.>"));
        assert!(subjects_collide(b"s.>", b"s.x"));
        assert!(subjects_collide(b"a.*", b"*.b"));
        assert!(!subjects_collide(b"foo.>", b"foo"));
        assert!(!subjects_collide(b"a.b", b"a.c"));
        assert!(!subjects_collide(b"a.*", b"a.b.c"));
        assert!(subjects_collide(b">", b"x.y"));
    }

    #[test]
    fn subscribe_accepts_wildcards_in_place() {
        for s in [
            &b"foo"[..],
            b"foo.bar",
            b"foo.*",
            b"foo.>",
            b">",
            b"*",
            b"*.*",
            b"*.>",
            b"foo.*.bar.>",
        ] {
            assert!(
                is_valid_subscribe_subject(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn subscribe_treats_embedded_wildcard_bytes_as_literal() {
        // `foo*`, `f>o`, `>x` are plain tokens, so `>` rules do not apply to them.
        for s in [
            &b"foo*"[..],
            b"f>o",
            b">x",
            b">x.y",
            b"a.f>o.b",
            b"**",
            b">>",
        ] {
            assert!(
                is_valid_subscribe_subject(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn subscribe_rejects_empty_tokens() {
        for s in [&b""[..], b".", b"a..b", b".a", b"a.", b"..", b"a.b."] {
            assert!(
                !is_valid_subscribe_subject(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn subscribe_rejects_fwc_not_last() {
        for s in [&b"a.>.b"[..], b">.a", b">.>", b"a.>.*"] {
            assert!(
                !is_valid_subscribe_subject(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn subscribe_rejects_whitespace() {
        for s in [
            &b"a b"[..],
            b"a\tb",
            b"a\rb",
            b"a\nb",
            b" a",
            b"a.b ",
            b"a. .b",
        ] {
            assert!(
                !is_valid_subscribe_subject(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn subscribe_passes_utf8_through() {
        assert!(is_valid_subscribe_subject("héllo.wörld.*".as_bytes()));
    }

    #[test]
    fn publish_rules() {
        for s in [&b"foo"[..], b"foo.bar", b"foo*", b"f>o", b">x", b"a.b.c"] {
            assert!(
                is_valid_publish_subject(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
        for s in [
            &b""[..],
            b"foo.*",
            b"foo.>",
            b">",
            b"*",
            b"*.a",
            b"a..b",
            b".a",
            b"a.",
            b"a b",
            b"a\tb",
            b"a\r",
            b"\na",
        ] {
            assert!(
                !is_valid_publish_subject(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn matching_follows_the_spec_examples() {
        assert!(subject_matches(b"foo.*", b"foo.bar"));
        assert!(!subject_matches(b"foo.*", b"foo"));
        assert!(!subject_matches(b"foo.*", b"foo.bar.baz"));
        assert!(subject_matches(b"foo.>", b"foo.bar"));
        assert!(subject_matches(b"foo.>", b"foo.bar.baz"));
        assert!(!subject_matches(b"foo.>", b"foo"));
        assert!(subject_matches(b">", b"a"));
        assert!(subject_matches(b">", b"a.b.c"));
        assert!(subject_matches(b"*.*", b"a.b"));
        assert!(!subject_matches(b"*.*", b"a"));
        assert!(!subject_matches(b"*.*", b"a.b.c"));
        assert!(subject_matches(b"foo", b"foo"));
        assert!(!subject_matches(b"foo", b"Foo"));
        assert!(!subject_matches(b"foo", b"foo.bar"));
        assert!(!subject_matches(b"foo.bar", b"foo"));
    }

    #[test]
    fn embedded_wildcard_bytes_are_literal() {
        assert!(subject_matches(b"foo*", b"foo*"));
        assert!(!subject_matches(b"foo*", b"foobar"));
        assert!(subject_matches(b"f>o", b"f>o"));
        assert!(!subject_matches(b"f>o", b"f.o"));
        assert!(!subject_matches(b">x", b"a"));
    }

    #[test]
    fn wildcard_tokens_in_published_subjects_are_literal() {
        assert!(subject_matches(b"w.*", b"w.*"));
        assert!(subject_matches(b"w.>", b"w.*"));
        assert!(subject_matches(b"w.>", b"w.>"));
        assert!(!subject_matches(b"w.x", b"w.*"));
        assert!(!subject_matches(b"w.x", b"w.>"));
    }

    #[test]
    fn empty_tokens_match_nothing() {
        for s in [&b""[..], b"a..b", b".a", b"a.", b"."] {
            assert!(!subject_matches(b">", s));
            assert!(!subject_matches(b"*", s));
            assert!(!subject_matches(b"*.*", s));
            assert!(!subject_matches(s, s));
        }
    }

    #[test]
    fn fwc_not_last_matches_nothing() {
        assert!(!subject_matches(b"a.>.b", b"a.x.b"));
        assert!(!subject_matches(b"a.>.b", b"a.>.b"));
    }

    #[test]
    fn token_splitting() {
        let t: Vec<&[u8]> = tokens(b"a.bc..d").collect();
        assert_eq!(t, vec![&b"a"[..], b"bc", b"", b"d"]);
        assert_eq!(tokens(b"").count(), 1);
        assert!(has_empty_token(b""));
        assert!(!has_empty_token(b"a.b"));
        assert!(has_wildcard(b"a.*"));
        assert!(has_wildcard(b">"));
        assert!(!has_wildcard(b"a*.b>"));
    }
}
