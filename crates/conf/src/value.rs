//! The parsed tree: [`Value`]s that each carry the [`Pos`] nats-server would
//! report for them, and [`Map`]s that keep keys in file order.
//!
//! Invariants: a value stored in a map carries the position of its *key* (as
//! nats-server's errors point at the key); a value in an array carries its own.
//! A later duplicate key replaces the earlier value in place. Keys are kept as
//! written; matching them case-insensitively is the caller's choice
//! ([`Map::get_ignore_case`]).

use std::fmt;
use std::sync::Arc;

/// Where a value came from, as nats-server prints it: `file:line:col`.
///
/// `col` is nats-server's column: the byte offset from the line start on line 1,
/// from the preceding newline on later lines (so 0-based on the first line and
/// 1-based after it). Keeping its numbers makes Shoal's messages match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pos {
    /// The file as nats-server names it (the `-c` path, or an include path joined
    /// to its directory); empty for text that came from no file.
    pub file: Arc<str>,
    pub line: u32,
    pub col: i64,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Quoted, unquoted or block string (escapes already decoded).
    String(String),
    /// An integer, size suffixes applied (`1MB` = 1,048,576, `2m` = 2,000,000).
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// A Zulu datetime, kept as its (validated) text `YYYY-MM-DDTHH:MM:SSZ`.
    DateTime(String),
    Array(Vec<Value>),
    Map(Map),
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub pos: Pos,
    /// Some `$name` referred to this key: nats-server does not call such a key
    /// unknown.
    pub used_as_variable: bool,
}

impl Value {
    pub fn new(kind: Kind, pos: Pos) -> Value {
        Value {
            kind,
            pos,
            used_as_variable: false,
        }
    }

    /// The type name nats-server's Go code would print for this value
    /// (`string`, `int64`, `float64`, `bool`, `time.Time`, `[]interface {}`,
    /// `map[string]interface {}`).
    pub fn go_type(&self) -> &'static str {
        match self.kind {
            Kind::String(_) => "string",
            Kind::Integer(_) => "int64",
            Kind::Float(_) => "float64",
            Kind::Bool(_) => "bool",
            Kind::DateTime(_) => "time.Time",
            Kind::Array(_) => "[]interface {}",
            Kind::Map(_) => "map[string]interface {}",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.kind {
            Kind::Integer(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Give this value and everything inside it the position `pos` (values from
    /// an environment variable belong where the `$name` was written).
    pub(crate) fn relocate(&mut self, pos: &Pos) {
        self.pos = pos.clone();
        match &mut self.kind {
            Kind::Array(items) => items.iter_mut().for_each(|v| v.relocate(pos)),
            Kind::Map(map) => map.entries.iter_mut().for_each(|(_, v)| v.relocate(pos)),
            _ => {}
        }
    }
}

/// Keys and values in the order they were first written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    /// Set `key`; an existing key keeps its place and takes the new value.
    pub fn insert(&mut self, key: String, value: Value) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// The value of `key`, matched exactly (as variables are).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The last value whose key matches `key` ignoring ASCII case, as nats-server
    /// matches option names.
    pub fn get_ignore_case(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}
