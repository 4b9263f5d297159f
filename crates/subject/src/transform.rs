//! Subject transforms, as nats-server 2.15 applies them to subject mappings
//! (`mappings { "orders.*": "shipping.$1" }`): a source subject (with
//! wildcards) and a destination whose tokens are literals, references to
//! the source's `*` wildcards (`$1`, `{{wildcard(1)}}`), and a final `>`
//! when the source ends in one.
//!
//! nats-server's other destination functions (`partition`, `split`,
//! `splitFromLeft`, `random`, …) are refused by name
//! ([`TransformError::Unsupported`]), never treated as literals.
//!
//! Pure and allocation-light: [`Transform::apply`] writes into a buffer the
//! caller keeps.

use crate::validate::subject_matches;

/// Why a transform cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    /// Either side is not a valid subject, the destination has a `*`, or a
    /// `>` is on one side only (nats-server's `ErrBadSubject`).
    BadSubject,
    /// A wildcard reference past the source's wildcards.
    IndexOutOfRange(String),
    /// A reference without a wildcard in the source.
    NoWildcards(String),
    /// A destination function Shoal does not have yet.
    Unsupported(String),
    /// A strict (import) transform with a function other than `wildcard`.
    NotForImport(String),
    /// A strict (import) transform that leaves a source wildcard unused.
    NotAllWildcards(String),
}

impl std::fmt::Display for TransformError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransformError::BadSubject => f.write_str("invalid subject"),
            TransformError::IndexOutOfRange(t) | TransformError::NoWildcards(t) => write!(
                f,
                "invalid mapping destination: mapping destination index out of range in {t}"
            ),
            TransformError::NotForImport(t) => write!(
                f,
                "invalid mapping destination: the only mapping function allowed for import transforms is {{{{Wildcard()}}}} in {t}"
            ),
            TransformError::NotAllWildcards(t) => write!(
                f,
                "invalid mapping destination: not using all of the token wildcard(s) in {t}"
            ),
            TransformError::Unsupported(t) => write!(
                f,
                "mapping destination function {t} is not supported by this version of shoal yet"
            ),
        }
    }
}

impl std::error::Error for TransformError {}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    /// The source token at this index (a `*`).
    Token(usize),
    /// The source's `>` tail.
    Rest,
}

/// A source pattern and how to build the destination from a subject it
/// matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    source: Vec<u8>,
    parts: Vec<Part>,
    /// Tokens before the source's `>` (the tail starts there).
    fixed: usize,
}

fn valid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').enumerate().all(|(i, t)| {
            !t.is_empty()
                && (t != ">" || i == s.split('.').count() - 1)
                && (t.len() == 1 || !t.contains(['*', '>']))
        })
}

/// The wildcard index a destination token refers to: `Some(Ok(n))` for
/// `$n` or `{{wildcard(n)}}`, `Some(Err(_))` for another function, `None`
/// for a literal. Indexes parse as Go's `Atoi` does (a sign is allowed; `$x`
/// that is no number is a literal).
fn reference(token: &str) -> Option<Result<i64, String>> {
    if let Some(n) = token.strip_prefix('$') {
        return n.parse::<i64>().ok().map(Ok);
    }
    let inner = token.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let (name, args) = inner.split_once('(')?;
    let args = args.strip_suffix(')')?.trim();
    if name.trim().eq_ignore_ascii_case("wildcard") {
        return Some(args.parse::<i64>().map_err(|_| token.to_string()));
    }
    Some(Err(name.trim().to_string()))
}

impl Transform {
    /// The transform from `source` (empty: `>`) to `dest`.
    pub fn new(source: &str, dest: &str) -> Result<Transform, TransformError> {
        Self::build(source, dest, false)
    }

    /// A transform an import may use (nats-server's
    /// `NewSubjectTransformStrict`): only wildcard references, and every
    /// source wildcard used, so that the import stays reversible.
    pub fn new_strict(source: &str, dest: &str) -> Result<Transform, TransformError> {
        Self::build(source, dest, true)
    }

    fn build(source: &str, dest: &str, strict: bool) -> Result<Transform, TransformError> {
        let source = if source.is_empty() { ">" } else { source };
        if !valid(source) || !valid(dest) {
            return Err(TransformError::BadSubject);
        }
        let stoks: Vec<&str> = source.split('.').collect();
        let dtoks: Vec<&str> = dest.split('.').collect();
        let src_fwc = stoks.last() == Some(&">");
        let dst_fwc = dtoks.last() == Some(&">");
        if dtoks.contains(&"*") || src_fwc != dst_fwc {
            return Err(TransformError::BadSubject);
        }
        // Wildcard n (1-based) is at source token wild[n - 1].
        let wild: Vec<usize> = (0..stoks.len()).filter(|&i| stoks[i] == "*").collect();
        let mut parts = Vec::with_capacity(dtoks.len());
        let mut references = 0;
        for t in &dtoks {
            parts.push(match reference(t) {
                None if *t == ">" => Part::Rest,
                None => Part::Literal(t.as_bytes().to_vec()),
                Some(Err(_)) if strict && (!wild.is_empty() || src_fwc) => {
                    return Err(TransformError::NotForImport(t.to_string()))
                }
                Some(Err(function)) => return Err(TransformError::Unsupported(function)),
                Some(Ok(_)) if wild.is_empty() && !src_fwc => {
                    return Err(TransformError::NoWildcards(t.to_string()));
                }
                Some(Ok(n)) => {
                    references += 1;
                    match usize::try_from(n) {
                        // nats-server looks `n` up in a map from wildcard
                        // number to token index; a number it lacks (0, a
                        // negative one) reads as index 0, the first token.
                        Ok(0) | Err(_) => Part::Token(0),
                        Ok(n) => match wild.get(n - 1) {
                            Some(&at) => Part::Token(at),
                            None => {
                                return Err(TransformError::IndexOutOfRange(format!("{t}: [{n}]")))
                            }
                        },
                    }
                }
            });
        }
        if strict && references < wild.len() {
            return Err(TransformError::NotAllWildcards(dest.to_string()));
        }
        Ok(Transform {
            source: source.as_bytes().to_vec(),
            fixed: if src_fwc {
                stoks.len() - 1
            } else {
                stoks.len()
            },
            parts,
        })
    }

    /// The source pattern.
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    /// Whether `subject` (a literal) is one this transform applies to.
    #[inline]
    pub fn matches(&self, subject: &[u8]) -> bool {
        subject_matches(&self.source, subject)
    }

    /// Writes the destination for `subject` into `out` (cleared first);
    /// false when the subject does not match the source.
    pub fn apply(&self, subject: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        if !self.matches(subject) {
            return false;
        }
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match p {
                Part::Literal(l) => out.extend_from_slice(l),
                Part::Token(at) => {
                    if let Some(t) = subject.split(|&b| b == b'.').nth(*at) {
                        out.extend_from_slice(t);
                    }
                }
                Part::Rest => {
                    // The tail from the byte after the `fixed`-th dot: a
                    // slice, not a per-message join.
                    let start = subject
                        .iter()
                        .enumerate()
                        .filter(|&(_, &b)| b == b'.')
                        .nth(self.fixed.wrapping_sub(1))
                        .map_or(0, |(i, _)| i + 1);
                    let start = if self.fixed == 0 { 0 } else { start };
                    out.extend_from_slice(&subject[start..]);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(src: &str, dst: &str, subject: &str) -> Option<String> {
        let t = Transform::new(src, dst).unwrap();
        let mut out = Vec::new();
        t.apply(subject.as_bytes(), &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn quirks_of_go_indexes() {
        // `$0` (and a negative index) is the subject's first token.
        assert_eq!(map("a.*", "x.$0", "a.b").as_deref(), Some("x.a"));
        assert_eq!(map("a.*", "x.$-1.$+1", "a.b").as_deref(), Some("x.a.b"));
        assert_eq!(map("a.>", "x.$0.>", "a.b.c").as_deref(), Some("x.a.b.c"));
        // `$x` is no number: a literal token.
        assert_eq!(map("a.*", "x.$y", "a.b").as_deref(), Some("x.$y"));
        assert!(matches!(
            Transform::new("a", "x.$0"),
            Err(TransformError::NoWildcards(_))
        ));
    }

    #[test]
    fn strict_transforms_use_every_wildcard() {
        assert!(Transform::new_strict("a.*.*", "b.$2.$1").is_ok());
        assert!(Transform::new_strict("a.>", "b.>").is_ok());
        let e = Transform::new_strict("a.*.*", "b.$2").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid mapping destination: not using all of the token wildcard(s) in b.$2"
        );
        let e = Transform::new_strict("a.*", "b.{{partition(2,1)}}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid mapping destination: the only mapping function allowed for import transforms is {{Wildcard()}} in {{partition(2,1)}}"
        );
        // The lax form keeps an unused wildcard.
        assert!(Transform::new("a.*.*", "b.$2").is_ok());
    }

    #[test]
    fn literals_wildcards_and_tails() {
        assert_eq!(map("foo", "bar", "foo").as_deref(), Some("bar"));
        assert_eq!(map("foo", "bar", "foo.x"), None);
        assert_eq!(
            map("orders.*.*", "ship.$2.{{wildcard(1)}}", "orders.eu.7").as_deref(),
            Some("ship.7.eu")
        );
        assert_eq!(
            map("a.*.>", "b.$1.>", "a.x.y.z").as_deref(),
            Some("b.x.y.z")
        );
        assert_eq!(map(">", "all.>", "p.q").as_deref(), Some("all.p.q"));
        assert_eq!(map("", "all.>", "p").as_deref(), Some("all.p"));
        assert_eq!(
            map("a.*", "{{ Wildcard( 1 ) }}.b", "a.z").as_deref(),
            Some("z.b")
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(Transform::new("a.>", "b"), Err(TransformError::BadSubject));
        assert_eq!(Transform::new("a", "b.*"), Err(TransformError::BadSubject));
        assert_eq!(Transform::new("a..b", "c"), Err(TransformError::BadSubject));
        assert!(matches!(
            Transform::new("a.*", "b.$2"),
            Err(TransformError::IndexOutOfRange(_))
        ));
        assert!(matches!(
            Transform::new("a", "b.$1"),
            Err(TransformError::NoWildcards(_))
        ));
        assert_eq!(
            Transform::new("a.*", "{{partition(3,1)}}"),
            Err(TransformError::Unsupported("partition".into()))
        );
    }
}
