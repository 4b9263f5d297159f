//! Oracle for the configuration parser (`shoal_conf::parse_str`), shared by the
//! `conf` fuzz target and `crates/conf/tests/fuzz_corpus.rs`.
//!
//! The input is configuration text (invalid UTF-8 is replaced, as the public
//! API takes `&str`). It is parsed as the file [`FILE`], in a directory that does
//! not exist, so every `include` fails to open instead of reading this machine's
//! files; an input that could climb out of it (`include` and `..` both present)
//! has its `..` replaced by `._` (same length: positions are unchanged).
//!
//! The checks:
//!
//! * `parse_str` returns (no panic, no hang: the fuzzer's timeout) and never
//!   reports one of its own `BUG in parser` errors;
//! * errors carry positions where nats-server's do: a lexer error
//!   (`Parse error on line N: '…'`), `config is invalid (file:line:col)` and the
//!   variable errors name a line of this text (1 ..= lines), which their text
//!   shows; value conversion errors carry none (nats-server's wording has none);
//!   an include error wraps the failure to open the (missing) file;
//! * on success, every value in the tree is positioned in [`FILE`] on a line of
//!   the text with a column within the text's length, and the digest and the
//!   Go-style JSON of the tree can be computed.

use shoal_conf::{Error, Kind, Map, Value};

/// The name the text is parsed under; its directory does not exist.
pub const FILE: &str = "/nonexistent-shoal-fuzz/fuzz.conf";

pub fn check(data: &[u8]) {
    let mut text = String::from_utf8_lossy(data).into_owned();
    if text.to_ascii_lowercase().contains("include") && text.contains("..") {
        text = text.replace("..", "._");
    }
    let lines = text.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
    let width = text.len() as i64 + 1;
    match shoal_conf::parse_str(&text, FILE) {
        Ok(map) => {
            check_map(&map, lines, width);
            let _ = shoal_conf::digest(&map);
            let _ = shoal_conf::go_json(&map);
        }
        Err(e) => check_error(&e, lines, &text),
    }
}

fn check_map(map: &Map, lines: u32, width: i64) {
    for (key, value) in map.iter() {
        check_value(value, lines, width, key);
    }
}

fn check_value(v: &Value, lines: u32, width: i64, key: &str) {
    assert_eq!(&*v.pos.file, FILE, "value of {key:?} from another file");
    assert!(
        (1..=lines).contains(&v.pos.line),
        "value of {key:?} at line {} of {lines}",
        v.pos.line
    );
    assert!(
        v.pos.col.abs() <= width,
        "value of {key:?} at column {} of a {width}-byte text",
        v.pos.col
    );
    match &v.kind {
        Kind::Array(items) => items
            .iter()
            .for_each(|item| check_value(item, lines, width, key)),
        Kind::Map(m) => check_map(m, lines, width),
        _ => {}
    }
}

fn check_error(e: &Error, lines: u32, text: &str) {
    let shown = e.to_string();
    assert!(!shown.is_empty());
    assert!(
        !shown.contains("BUG in parser"),
        "parser bug: {shown} for {text:?}"
    );
    let on_a_line = |line: u32| {
        assert!(
            (1..=lines).contains(&line),
            "{shown}: line {line} of {lines} for {text:?}"
        );
        assert!(shown.contains(&format!("line {line}")), "{shown}");
    };
    match e {
        Error::Parse { line, .. } => on_a_line(*line),
        Error::VariableNotFound { line, .. } => on_a_line(*line),
        // The cause is about the environment variable's text, not this one.
        Error::VariableUnparsable { line, cause, .. } => {
            on_a_line(*line);
            assert!(!cause.to_string().contains("BUG in parser"), "{shown}");
        }
        Error::Invalid { file, line, col } => {
            assert_eq!(file, FILE);
            assert!((1..=lines).contains(line), "{shown}: line of {lines}");
            assert!(col.abs() <= text.len() as i64 + 1, "{shown}: column");
            assert!(shown.contains(&format!("{FILE}:{line}:{col}")), "{shown}");
        }
        Error::Include { cause, .. } => {
            assert!(
                matches!(**cause, Error::Io { .. }),
                "an include in a missing directory opened something: {shown}"
            );
        }
        Error::IntegerRange(_)
        | Error::NotInteger(_)
        | Error::FloatRange(_)
        | Error::NotFloat(_)
        | Error::NotBool(_)
        | Error::DateTime(_)
        | Error::VariableCycle(_) => {}
        Error::Io { .. } | Error::IncludeDepth(_) => {
            panic!("parse_str of text cannot fail on I/O itself: {shown}")
        }
    }
}
