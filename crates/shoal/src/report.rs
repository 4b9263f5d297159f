//! What reading a configuration file found wrong ([`Report`]: warnings and
//! errors, each with its file, line and column), and the type checks every
//! part of the file's reading shares, worded as nats-server words them (its
//! errors are recovered Go panics: `interface conversion: ...`). Leaf module:
//! the top-level keys (`config.rs`), the `authorization` block and the
//! `permissions` blocks all report through it.

use shoal_conf::{Pos, Value};

/// What processing a file found wrong. nats-server prints warnings before errors.
#[derive(Debug, Default)]
pub struct Report {
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

impl Report {
    pub fn error(&mut self, pos: &Pos, msg: impl std::fmt::Display) {
        self.errors.push(format!("{pos}: {msg}"));
    }

    /// A key of a feature Shoal does not have yet, refused by name:
    /// `"https" is not supported by this version of shoal yet`.
    pub fn not_yet(&mut self, key: &str, pos: &Pos) {
        self.error(
            pos,
            format!("{key:?} is not supported by this version of shoal yet"),
        );
    }

    pub fn warn_field(&mut self, pos: &Pos, field: &str, msg: impl std::fmt::Display) {
        self.warnings
            .push(format!("{pos}: invalid use of field {field:?}: {msg}"));
    }

    #[cfg(test)]
    pub fn is_clean(&self) -> bool {
        self.warnings.is_empty() && self.errors.is_empty()
    }

    /// The lines nats-server prints, warnings first.
    pub fn lines(&self) -> impl Iterator<Item = &String> {
        self.warnings.iter().chain(self.errors.iter())
    }
}

/// nats-server's wording for a value of the wrong type (a recovered Go panic).
pub fn mismatch(v: &Value, want: &str, report: &mut Report) {
    report.error(
        &v.pos,
        format!(
            "interface conversion: interface {{}} is {}, not {want}",
            v.go_type()
        ),
    );
}

pub fn string(v: &Value, report: &mut Report) -> Option<String> {
    match v.as_str() {
        Some(s) => Some(s.to_string()),
        None => {
            mismatch(v, "string", report);
            None
        }
    }
}
