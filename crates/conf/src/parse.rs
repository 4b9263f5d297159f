//! The parser: the lexer's items → a [`Map`] tree, with variables resolved and
//! included files merged, the way nats-server's `conf` package builds its tree.
//!
//! * Integers get their size suffix applied (64-bit, wrapping on overflow as Go
//!   does); an integer with a suffix nats-server does not know (`1kbb`) sets no
//!   value at all, and its key silently vanishes — as in nats-server.
//! * `$name` looks for `name` among the keys already set in the enclosing maps,
//!   innermost first (arrays are skipped), then in the environment, whose text is
//!   parsed as the value of a one-key document. `$2a$…` (a bcrypt hash) is a
//!   plain string. An environment variable that leads back to itself is an error.
//! * `include path` parses `dir(current file)/path` (Go's `filepath.Join`, so an
//!   absolute path is joined too) and sets its keys in the current map.
//! * Positions: see [`crate::Pos`]; a map entry takes its key's position.

use std::sync::Arc;

use crate::lex::{Item, ItemType, Lexer};
use crate::value::{Kind, Map, Value};
use crate::{Error, Pos, MAX_INCLUDE_DEPTH};

/// A map or array being filled.
enum Ctx {
    Map(Map),
    Array(Vec<Value>),
}

pub(crate) struct Parser<'a> {
    lx: Lexer<'a>,
    ctxs: Vec<Ctx>,
    /// Keys waiting for their value, with their positions.
    keys: Vec<(String, u32, i64)>,
    /// The file as named to the user (`""` for environment text).
    file: Arc<str>,
    /// Go's `filepath.Dir(file)`: where includes are looked up.
    dir: String,
    /// Environment variables being expanded by the parsers above this one.
    env_refs: Vec<String>,
    /// How many includes deep this file is.
    depth: usize,
}

/// Parse `text` that was read from `file` (named as the user named it).
pub(crate) fn parse(
    text: &[u8],
    file: &str,
    env_refs: Vec<String>,
    depth: usize,
) -> Result<Map, Error> {
    let mut p = Parser {
        lx: Lexer::from_bytes(text),
        ctxs: vec![Ctx::Map(Map::new())],
        keys: Vec::new(),
        file: Arc::from(file),
        dir: go_dir(file),
        env_refs,
        depth,
    };
    let mut prev: Option<Item> = None;
    loop {
        let it = p.lx.next_item();
        if it.typ == ItemType::Eof {
            // nats-server allows a trailing `}` key (JSON); any other key left
            // without a value at the end is an error.
            if let Some(prev) = &prev {
                if prev.typ == ItemType::Key && prev.val != "}" {
                    return Err(Error::Invalid {
                        file: file.to_string(),
                        line: it.line,
                        col: it.pos,
                    });
                }
            }
            break;
        }
        p.process(&it)?;
        prev = Some(it);
    }
    match p.ctxs.into_iter().next() {
        Some(Ctx::Map(m)) => Ok(m),
        _ => unreachable!("the root context is a map"),
    }
}

/// Read and parse a file. `name` is the path as it should appear in messages.
pub(crate) fn parse_file(name: &str, env_refs: Vec<String>, depth: usize) -> Result<Map, Error> {
    let text = read(name)?;
    parse(&text, name, env_refs, depth)
}

/// `os.ReadFile`, with Go's error wording (`open …` or `read …`).
fn read(name: &str) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut file = std::fs::File::open(name).map_err(|e| Error::io("open", name, &e))?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|e| Error::io("read", name, &e))?;
    Ok(text)
}

impl Parser<'_> {
    fn pos(&self, line: u32, col: i64) -> Pos {
        Pos {
            file: self.file.clone(),
            line,
            col,
        }
    }

    fn process(&mut self, it: &Item) -> Result<(), Error> {
        let pos = self.pos(it.line, it.pos);
        match it.typ {
            ItemType::Error => {
                return Err(Error::Parse {
                    line: it.line,
                    message: it.val.clone(),
                })
            }
            ItemType::Key => self.keys.push((it.val.clone(), it.line, it.pos)),
            ItemType::MapStart => self.ctxs.push(Ctx::Map(Map::new())),
            ItemType::MapEnd => {
                let map = match self.ctxs.pop() {
                    Some(Ctx::Map(m)) if !self.ctxs.is_empty() => m,
                    _ => return Err(bug("unbalanced map end")),
                };
                self.set(Value::new(Kind::Map(map), pos))?;
            }
            ItemType::ArrayStart => self.ctxs.push(Ctx::Array(Vec::new())),
            ItemType::ArrayEnd => {
                let items = match self.ctxs.pop() {
                    Some(Ctx::Array(a)) => a,
                    _ => return Err(bug("unbalanced array end")),
                };
                self.set(Value::new(Kind::Array(items), pos))?;
            }
            ItemType::String => self.set(Value::new(Kind::String(it.val.clone()), pos))?,
            ItemType::Integer => {
                if let Some(n) = integer(&it.val)? {
                    self.set(Value::new(Kind::Integer(n), pos))?;
                }
            }
            ItemType::Float => {
                let f: f64 = it
                    .val
                    .parse()
                    .map_err(|_| Error::NotFloat(it.val.clone()))?;
                if f.is_infinite() {
                    return Err(Error::FloatRange(it.val.clone()));
                }
                self.set(Value::new(Kind::Float(f), pos))?;
            }
            ItemType::Bool => {
                let b = match it.val.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" => true,
                    "false" | "no" | "off" => false,
                    _ => return Err(Error::NotBool(it.val.clone())),
                };
                self.set(Value::new(Kind::Bool(b), pos))?;
            }
            ItemType::Datetime => {
                if !valid_zulu(&it.val) {
                    return Err(Error::DateTime(it.val.clone()));
                }
                self.set(Value::new(Kind::DateTime(it.val.clone()), pos))?;
            }
            ItemType::Variable => {
                let mut value = match self.lookup(&it.val) {
                    Err(cause) => {
                        return Err(Error::VariableUnparsable {
                            name: it.val.clone(),
                            line: it.line,
                            cause: Box::new(cause),
                        })
                    }
                    Ok(None) => {
                        return Err(Error::VariableNotFound {
                            name: it.val.clone(),
                            line: it.line,
                        })
                    }
                    Ok(Some(v)) => v,
                };
                value.relocate(&pos);
                value.used_as_variable = false;
                self.set(value)?;
            }
            ItemType::Include => {
                if self.depth >= MAX_INCLUDE_DEPTH {
                    return Err(Error::IncludeDepth(it.val.clone()));
                }
                let path = go_join(&self.dir, &it.val);
                let map =
                    parse_file(&path, self.env_refs.clone(), self.depth + 1).map_err(|cause| {
                        Error::Include {
                            path: it.val.clone(),
                            cause: Box::new(cause),
                        }
                    })?;
                for (key, value) in map {
                    self.keys.push((key, value.pos.line, value.pos.col));
                    // Included values keep their own file and position.
                    let pos = value.pos.clone();
                    self.set_at(value, Some(pos))?;
                }
            }
            ItemType::Eof | ItemType::Text | ItemType::CommentStart => {}
        }
        Ok(())
    }

    /// Store `value` in the current map (under the pending key, taking the key's
    /// position) or array.
    fn set(&mut self, value: Value) -> Result<(), Error> {
        self.set_at(value, None)
    }

    fn set_at(&mut self, mut value: Value, keep: Option<Pos>) -> Result<(), Error> {
        match self.ctxs.last_mut() {
            Some(Ctx::Array(items)) => items.push(value),
            Some(Ctx::Map(_)) => {
                let (key, line, col) = self.keys.pop().ok_or_else(|| bug("no key for value"))?;
                value.pos = keep.unwrap_or_else(|| self.pos(line, col));
                if let Some(Ctx::Map(map)) = self.ctxs.last_mut() {
                    map.insert(key, value);
                }
            }
            None => return Err(bug("no context")),
        }
        Ok(())
    }

    /// Resolve `$name`: `Ok(None)` when it is nowhere to be found.
    fn lookup(&mut self, name: &str) -> Result<Option<Value>, Error> {
        if name.starts_with("2a$") {
            // A bcrypt hash written unquoted.
            return Ok(Some(Value::new(
                Kind::String(format!("${name}")),
                self.pos(0, 0),
            )));
        }
        for ctx in self.ctxs.iter_mut().rev() {
            if let Ctx::Map(map) = ctx {
                if let Some(v) = map.get_mut(name) {
                    v.used_as_variable = true;
                    return Ok(Some(v.clone()));
                }
            }
        }
        let Some(text) = std::env::var_os(name) else {
            return Ok(None);
        };
        if self.env_refs.iter().any(|r| r == name) {
            return Err(Error::VariableCycle(name.to_string()));
        }
        let mut refs = self.env_refs.clone();
        refs.push(name.to_string());
        let doc = format!("pk={}", text.to_string_lossy());
        let map = parse(doc.as_bytes(), "", refs, self.depth)?;
        Ok(map.get("pk").cloned())
    }
}

fn bug(what: &str) -> Error {
    Error::Parse {
        line: 0,
        message: format!("BUG in parser: {what}"),
    }
}

/// An integer item: digits (and `-`), then an optional suffix. `Ok(None)` for a
/// suffix nats-server does not know (it then sets nothing).
fn integer(text: &str) -> Result<Option<i64>, Error> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let n: i64 = digits.parse().map_err(|e: std::num::ParseIntError| {
        use std::num::IntErrorKind::*;
        match e.kind() {
            PosOverflow | NegOverflow => Error::IntegerRange(text.to_string()),
            _ => Error::NotInteger(text.to_string()),
        }
    })?;
    let k: i64 = 1000;
    let ki: i64 = 1024;
    let mult = match suffix.trim().to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => k,
        "kb" | "ki" | "kib" => ki,
        "m" => k.pow(2),
        "mb" | "mi" | "mib" => ki.pow(2),
        "g" => k.pow(3),
        "gb" | "gi" | "gib" => ki.pow(3),
        "t" => k.pow(4),
        "tb" | "ti" | "tib" => ki.pow(4),
        "p" => k.pow(5),
        "pb" | "pi" | "pib" => ki.pow(5),
        "e" => k.pow(6),
        "eb" | "ei" | "eib" => ki.pow(6),
        _ => return Ok(None),
    };
    Ok(Some(n.wrapping_mul(mult)))
}

/// Go's `time.Parse("2006-01-02T15:04:05Z", s)` acceptance for text the lexer
/// already shaped as `DDDD-DD-DDTDD:DD:DDZ`.
fn valid_zulu(s: &str) -> bool {
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d) && h < 24 && mi < 60 && se < 60
}

/// Go's `filepath.Clean`: the shortest equivalent path, lexically.
pub(crate) fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|p| *p != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// Go's `filepath.Dir`.
pub(crate) fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => go_clean(&path[..=i]),
        None => ".".to_string(),
    }
}

/// Go's `filepath.Join(dir, name)`: joined and cleaned, absolute `name` included.
pub(crate) fn go_join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, true) => String::new(),
        (true, false) => go_clean(name),
        (false, true) => go_clean(dir),
        (false, false) => go_clean(&format!("{dir}/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_paths() {
        assert_eq!(go_dir("t.conf"), ".");
        assert_eq!(go_dir("/tmp/ref/t.conf"), "/tmp/ref");
        assert_eq!(go_dir("/t.conf"), "/");
        assert_eq!(go_join(".", "./inc.conf"), "inc.conf");
        assert_eq!(
            go_join("/tmp/ref", "/tmp/ref/abs.conf"),
            "/tmp/ref/tmp/ref/abs.conf"
        );
        assert_eq!(go_join("a/b", "../c"), "a/c");
        assert_eq!(go_join(".", "../c"), "../c");
        assert_eq!(go_clean("/../a//b/./c/.."), "/a/b");
        assert_eq!(go_join("", "x"), "x");
    }

    #[test]
    fn integers_and_suffixes() {
        assert_eq!(integer("2m"), Ok(Some(2_000_000)));
        assert_eq!(integer("1MB"), Ok(Some(1 << 20)));
        assert_eq!(integer("2KiB"), Ok(Some(2048)));
        assert_eq!(integer("-5k"), Ok(Some(-5000)));
        assert_eq!(integer("1E"), Ok(Some(1_000_000_000_000_000_000)));
        assert_eq!(integer("1kbb"), Ok(None));
        assert_eq!(
            integer("99999999999999999999"),
            Err(Error::IntegerRange("99999999999999999999".into()))
        );
    }

    #[test]
    fn zulu_dates() {
        assert!(valid_zulu("2026-01-01T00:00:00Z"));
        assert!(valid_zulu("2024-02-29T23:59:59Z"));
        assert!(!valid_zulu("2026-02-29T00:00:00Z"));
        assert!(!valid_zulu("2026-13-01T00:00:00Z"));
        assert!(!valid_zulu("2026-01-01T24:00:00Z"));
    }
}
