//! Go's `encoding/json` output: compact, keys in declaration order (the
//! structs' order is nats-server's), `<`, `>` and `&` escaped as `\u003c`,
//! `\u003e`, `\u0026`, times as RFC 3339 with trimmed nanoseconds, and the
//! texts of Go's decoding errors that the API puts in its replies.

use serde::{Serialize, Serializer};

/// `v` as Go writes it.
pub fn to_go<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    let raw = serde_json::to_vec(v).expect("API values serialise");
    escape_html(raw)
}

/// Escapes `<`, `>` and `&` (they only occur inside strings in JSON).
fn escape_html(raw: Vec<u8>) -> Vec<u8> {
    if !raw.iter().any(|b| matches!(b, b'<' | b'>' | b'&')) {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len() + 16);
    for b in raw {
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            _ => out.push(b),
        }
    }
    out
}

/// Nanoseconds since the epoch as Go's `time.Time` (zero → Go's zero time).
pub fn time<S: Serializer>(nanos: &i64, s: S) -> Result<S::Ok, S::Error> {
    if *nanos == 0 {
        s.serialize_str("0001-01-01T00:00:00Z")
    } else {
        s.serialize_str(&shoal_go::rfc3339_nano(*nanos))
    }
}

/// A request body as a JSON object: empty means none (`Ok(None)`), else
/// Go's error text for what does not parse, or is not an object.
pub fn object(body: &[u8]) -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => Ok(Some(m)),
        // Go decodes `null` into a struct as nothing at all.
        Ok(serde_json::Value::Null) => Ok(None),
        Ok(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_type(&other)
        )),
        Err(e) => Err(syntax_error(body, &e)),
    }
}

/// The JSON type's name as Go's decoder reports it.
pub fn go_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Go's text for a syntax error: `invalid character 'b' looking for
/// beginning of object key string at offset 2` (the offset counts the
/// bytes read, the bad one included), `unexpected end of JSON input`.
fn syntax_error(body: &[u8], e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    // serde's line and column (1-based, in bytes for ASCII input) of the
    // offending byte.
    let mut at = 0usize;
    let mut line = 1;
    for (i, &b) in body.iter().enumerate() {
        if line == e.line() {
            at = i + e.column().saturating_sub(1);
            break;
        }
        if b == b'\n' {
            line += 1;
        }
    }
    let at = at.min(body.len().saturating_sub(1));
    let c = body[at] as char;
    let before = body[..at]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    let looking = match before {
        Some(b'{') => "looking for beginning of object key string",
        Some(b',') if inside_object(&body[..at]) => "looking for beginning of object key string",
        Some(b'"') => "after object key",
        _ => "looking for beginning of value",
    };
    format!("invalid character '{c}' {looking} at offset {}", at + 1)
}

/// Whether the innermost open bracket before the end of `prefix` is `{`.
fn inside_object(prefix: &[u8]) -> bool {
    let mut depth: Vec<u8> = Vec::new();
    let mut in_str = false;
    let mut esc = false;
    for &b in prefix {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => depth.push(b),
            b'}' | b']' => {
                depth.pop();
            }
            _ => {}
        }
    }
    depth.last() == Some(&b'{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escapes_and_errors() {
        assert_eq!(to_go(&["s.>"]), br#"["s.\u003e"]"#.to_vec());
        assert_eq!(
            object(b"{bad").unwrap_err(),
            "invalid character 'b' looking for beginning of object key string at offset 2"
        );
        assert_eq!(
            object(b"{\"a\":").unwrap_err(),
            "unexpected end of JSON input"
        );
        assert!(object(b"  ").unwrap().is_none());
        assert!(object(b"{}").unwrap().unwrap().is_empty());
    }
}
