//! The digest nats-server prints for a valid configuration
//! (`configuration file x.conf is valid (sha256:…)`): SHA-256 of the tree encoded
//! as Go's `encoding/json` encodes it (keys sorted bytewise, HTML-escaped strings,
//! Go's float format, a trailing newline). Matching it lets tools compare the two
//! servers' view of one file.

use sha2::{Digest, Sha256};

use crate::value::{Kind, Map, Value};

/// `sha256:<hex>` of the tree.
pub fn digest(map: &Map) -> String {
    let mut json = String::new();
    encode_map(&mut json, map);
    json.push('\n');
    let sum = Sha256::digest(json.as_bytes());
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The tree as Go's `json.Marshal` writes it.
pub fn go_json(map: &Map) -> String {
    let mut json = String::new();
    encode_map(&mut json, map);
    json
}

fn encode_map(out: &mut String, map: &Map) {
    let mut entries: Vec<(&str, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        encode_str(out, k);
        out.push(':');
        encode(out, v);
    }
    out.push('}');
}

fn encode(out: &mut String, v: &Value) {
    match &v.kind {
        Kind::String(s) | Kind::DateTime(s) => encode_str(out, s),
        Kind::Integer(n) => out.push_str(&n.to_string()),
        Kind::Float(f) => out.push_str(&go_float(*f)),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode(out, item);
            }
            out.push(']');
        }
        Kind::Map(m) => encode_map(out, m),
    }
}

/// Go's JSON string: `"` `\` and control characters escaped (`\b \f \n \r \t`,
/// else `\u00XX`), `< > &` and U+2028/U+2029 as `\uXXXX`.
fn encode_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `encoding/json` float: shortest digits, plain notation for
/// 1e-6 ≤ |f| < 1e21, else exponent form (`1e-7`, `1e+21`).
fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mant, exp)) if !exp.starts_with('-') => format!("{mant}e+{exp}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(2.5), "2.5");
        assert_eq!(go_float(1e-7), "1e-7");
        assert_eq!(go_float(1e23), "1e+23");
        assert_eq!(go_float(0.000001), "0.000001");
        assert_eq!(go_float(0.0), "0");
    }

    #[test]
    fn strings_like_go() {
        let mut s = String::new();
        encode_str(&mut s, "a\tb<&>\u{1}é\u{2028}\"\\");
        assert_eq!(s, r#""a\tb\u003c\u0026\u003e\u0001é\u2028\"\\""#);
    }
}
