//! What reading a configuration file found wrong ([`Report`]: warnings and
//! errors, each with its file, line and column), and the type checks every
//! part of the file's reading shares, worded as nats-server words them (its
//! errors are recovered Go panics: `interface conversion: ...`). Leaf module:
//! the top-level keys (`config.rs`), the `authorization` block and the
//! `permissions` blocks all report through it; the value shapes they share
//! (durations, listen addresses) are read here too.

use std::time::Duration;

use shoal_conf::{Kind, Pos, Value};

use crate::units;

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

pub fn int(v: &Value, report: &mut Report) -> Option<i64> {
    match v.as_i64() {
        Some(n) => Some(n),
        None => {
            mismatch(v, "int64", report);
            None
        }
    }
}

pub fn boolean(v: &Value, report: &mut Report) -> Option<bool> {
    match v.as_bool() {
        Some(b) => Some(b),
        None => {
            mismatch(v, "bool", report);
            None
        }
    }
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

/// A duration: a Go duration string, or (with a warning) an integer of seconds.
pub fn duration(field: &str, v: &Value, report: &mut Report) -> Option<Duration> {
    match &v.kind {
        Kind::String(t) => match units::parse_go_duration(t) {
            Ok(d) => Some(d),
            Err(e) => {
                report.error(&v.pos, format!("error parsing {field}: {e}"));
                None
            }
        },
        Kind::Integer(n) => {
            report.warn_field(
                &v.pos,
                field,
                format!("{field} should be converted to a duration"),
            );
            Some(Duration::from_secs(u64::try_from(*n).unwrap_or(0)))
        }
        _ => {
            mismatch(v, "int64", report);
            None
        }
    }
}

/// `listen`/`http`: a port number, or `host:port` (nats-server's `parseListen`).
pub fn listen(v: &Value, report: &mut Report) -> Option<(Option<String>, i64)> {
    match &v.kind {
        Kind::Integer(port) => Some((None, *port)),
        Kind::String(text) => {
            let Some((host, port)) = split_host_port(text) else {
                report.error(&v.pos, format!("could not parse address string {text:?}"));
                return None;
            };
            match port.parse::<i64>() {
                Ok(port) => Some((Some(host.to_string()), port)),
                Err(_) => {
                    report.error(&v.pos, format!("could not parse port {port:?}"));
                    None
                }
            }
        }
        _ => {
            report.error(
                &v.pos,
                format!(
                    "expected port or host:port, got {}",
                    v.go_type().replace("64", "")
                ),
            );
            None
        }
    }
}

/// Go's `net.SplitHostPort` for the forms a listen address takes:
/// `host:port`, `[v6]:port`, `:port`.
fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host, port));
    }
    let (host, port) = text.rsplit_once(':')?;
    if host.contains(':') {
        return None; // "too many colons"
    }
    Some((host, port))
}
