//! Stream imports between accounts: account B's `imports: [{stream:
//! {account: A, subject: "events.>"}, prefix: "a"}]` of A's `exports:
//! [{stream: "events.>"}]`. A message published in A on a subject the
//! import covers is also delivered in B, under the import's subject (the
//! prefix put before it, or its `to` mapping); one rewrite per message and
//! import, on the publisher's core, before the copy is routed in B like any
//! publish there.
//!
//! An imported message is not imported again from B (no chains).
//!
//! Pure: the routing is the caller's.

use shoal_subject::Transform;

/// One import: into `importer`, rewriting the exporter's subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamImport {
    pub importer: u16,
    pub transform: Transform,
}

impl StreamImport {
    /// The exporter's subject a cluster peer must send for the importer's
    /// subscription `subject` (nats-server's shadow subscription): the
    /// subscription mapped back when the import's own subject covers it,
    /// the import's whole subject when the subscription covers the import,
    /// `None` when the two do not meet.
    pub fn shadow(&self, subject: &[u8], out: &mut Vec<u8>) -> bool {
        let mut local = Vec::new();
        let source = self.transform.source();
        // The import's subject as the importer sees it (its wildcards kept).
        if !self.transform.apply(source, &mut local) {
            return false;
        }
        if is_within(subject, &local) {
            let src = String::from_utf8_lossy(source);
            let reverse = std::str::from_utf8(&local)
                .ok()
                .and_then(|l| Transform::new(l, &tokenize(&src)).ok());
            if let Some(r) = reverse {
                if r.apply(subject, out) {
                    return true;
                }
            }
        }
        if is_within(&local, subject) {
            out.clear();
            out.extend_from_slice(source);
            return true;
        }
        false
    }
}

/// Whether every subject `inner` matches is one `outer` matches (token by
/// token: `*` within `*` or `>`, a literal within itself or a wildcard).
fn is_within(inner: &[u8], outer: &[u8]) -> bool {
    let mut i = inner.split(|&b| b == b'.');
    let mut o = outer.split(|&b| b == b'.');
    loop {
        match (i.next(), o.next()) {
            (_, Some(b">")) => return true,
            (None, None) => return true,
            (Some(a), Some(b)) if b == b"*" && a != b">" => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// Every account's exported streams' imports, by exporting account id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamImports {
    by_exporter: Vec<Vec<StreamImport>>,
}

impl StreamImports {
    /// Adds an import of `exporter`'s subjects.
    pub fn add(&mut self, exporter: u16, import: StreamImport) {
        let i = usize::from(exporter);
        if self.by_exporter.len() <= i {
            self.by_exporter.resize(i + 1, Vec::new());
        }
        self.by_exporter[i].push(import);
    }

    /// A length test (checked per publish): `add` makes a slot only to
    /// push into it.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.by_exporter.is_empty()
    }

    /// Every import into `importer`, with its exporter.
    pub fn into_account(&self, importer: u16) -> impl Iterator<Item = (u16, &StreamImport)> {
        self.by_exporter.iter().enumerate().flat_map(move |(e, v)| {
            v.iter()
                .filter(move |i| i.importer == importer)
                .map(move |i| (e as u16, i))
        })
    }

    /// The imports of what `exporter` publishes.
    #[inline]
    pub fn of(&self, exporter: u16) -> &[StreamImport] {
        self.by_exporter
            .get(usize::from(exporter))
            .map_or(&[], Vec::as_slice)
    }
}

/// nats-server's `transformTokenize`: each `*` of a subject becomes the
/// reference to it (`a.*.b.*` → `a.$1.b.$2`), so a subject with wildcards
/// can be a transform's destination.
pub fn tokenize(subject: &str) -> String {
    let mut n = 0;
    subject
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_by_exporter() {
        let mut i = StreamImports::default();
        assert!(i.is_empty());
        let t = Transform::new("events.*", &tokenize("a.events.*")).unwrap();
        i.add(
            2,
            StreamImport {
                importer: 1,
                transform: t,
            },
        );
        assert_eq!(i.of(2).len(), 1);
        assert!(i.of(1).is_empty() && i.of(9).is_empty());
        let mut out = Vec::new();
        assert!(i.of(2)[0].transform.apply(b"events.x", &mut out));
        assert_eq!(out, b"a.events.x");
        assert_eq!(tokenize("a.*.b.*.>"), "a.$1.b.$2.>");
        assert_eq!(i.into_account(1).map(|(e, _)| e).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn shadow_interest_in_the_exporter() {
        let imp = |src: &str, dest: &str| StreamImport {
            importer: 1,
            transform: Transform::new(src, &tokenize(dest)).unwrap(),
        };
        let mut out = Vec::new();
        let same = imp("feed.>", "feed.>");
        assert!(same.shadow(b"feed.x", &mut out));
        assert_eq!(out, b"feed.x");
        assert!(
            same.shadow(b">", &mut out),
            "a wider subscription: the whole import"
        );
        assert_eq!(out, b"feed.>");
        assert!(!same.shadow(b"other", &mut out));
        let prefixed = imp("events.*", "a.events.*");
        assert!(prefixed.shadow(b"a.events.x", &mut out));
        assert_eq!(out, b"events.x");
        assert!(prefixed.shadow(b"a.events.*", &mut out));
        assert_eq!(out, b"events.*");
        assert!(prefixed.shadow(b"a.>", &mut out));
        assert_eq!(out, b"events.*");
        assert!(!prefixed.shadow(b"events.x", &mut out));
    }
}
