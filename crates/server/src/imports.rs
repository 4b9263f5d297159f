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
    }
}
