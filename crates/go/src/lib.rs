//! shoal-go: the Go spellings that nats-server's visible output depends on, so
//! that Shoal's log lines, `-ERR` texts and traces read byte for byte like
//! nats-server's. Today: Go's `%q` ([`quote`], `strconv.Quote`).
//!
//! Owns nothing but pure functions over bytes and strings. Must never do I/O or
//! allocate more than the text it returns; hot-path callers append into a
//! buffer they own ([`quote_into`]).

#![forbid(unsafe_code)]

/// Go's `%q` of a byte string (`strconv.Quote(string(b))`): in double quotes,
/// UTF-8 decoded rune by rune, printable runes as they are, `\a \b \f \n \r \t
/// \v \\ \"` escaped, other ASCII controls and invalid bytes as `\xNN`, other
/// non-printable runes as `\uNNNN` / `\UNNNNNNNN`.
pub fn quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    quote_into(&mut out, b);
    out.push('"');
    out
}

/// [`quote`] without the surrounding quotes, appended to `out`.
pub fn quote_into(out: &mut String, mut b: &[u8]) {
    use std::fmt::Write;
    while !b.is_empty() {
        let (ch, len) = match decode(b) {
            Some(x) => x,
            None => {
                let _ = write!(out, "\\x{:02x}", b[0]);
                b = &b[1..];
                continue;
            }
        };
        b = &b[len..];
        match ch {
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
}

/// The first UTF-8 scalar of `b` and its length, or `None` when `b` does not
/// start with a valid encoding (Go then quotes one byte as `\xNN`).
fn decode(b: &[u8]) -> Option<(char, usize)> {
    let len = match b[0] {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(b.get(..len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

/// Go's `unicode.IsPrint` for the runes that matter in practice: letters,
/// marks, numbers, punctuation, symbols and the ASCII space are printable;
/// controls, format characters, separators other than U+0020, surrogates and
/// private-use runes are not. (Unassigned code points, which Go also treats as
/// non-printable, are printed as they are: std has no Unicode tables.)
fn is_print(c: char) -> bool {
    let u = c as u32;
    if c.is_control() {
        return false;
    }
    !matches!(u,
        0x00a0 | 0x00ad | 0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064
        | 0x2066..=0x206f | 0x3000 | 0xfeff | 0xfff9..=0xfffb | 0x0600..=0x0605 | 0x061c
        | 0x06dd | 0x070f | 0x08e2 | 0x180e | 0x110bd | 0x110cd | 0x13430..=0x1343f
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        // Go's strconv.Quote rules (nats-server traces payloads with it).
        assert_eq!(quote(b"hello"), r#""hello""#);
        assert_eq!(quote(b"a\"b\\c'd"), r#""a\"b\\c'd""#);
        assert_eq!(quote(b"\r\n\t\x07\x08\x0c\x0b"), r#""\r\n\t\a\b\f\v""#);
        assert_eq!(quote(b"\x00\x01\x1f\x7f"), r#""\x00\x01\x1f\x7f""#);
        assert_eq!(quote("é☃😀".as_bytes()), "\"é☃😀\"");
        assert_eq!(quote(b"\xff\xc3"), r#""\xff\xc3""#);
        assert_eq!(
            quote("\u{a0}\u{200b}\u{85}".as_bytes()),
            r#""\u00a0\u200b\u0085""#
        );
        assert_eq!(
            quote("\u{e000}\u{f0000}".as_bytes()),
            r#""\ue000\U000f0000""#
        );
        // A character cut in two by truncation.
        assert_eq!(quote(&"éé".as_bytes()[..3]), r#""é\xc3""#);
        assert_eq!(quote(b""), r#""""#);
    }
}
