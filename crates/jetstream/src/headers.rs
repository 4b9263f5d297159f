//! Reading a message's header block (`NATS/1.0␍␊Key: value␍␊…␍␊␍␊`) for
//! the `Nats-*` headers a stream acts on. Keys match exactly, as
//! nats-server's `getHeader` does for these.

/// The value of header `key` in `hdr` (the whole block), if present.
pub fn get<'a>(hdr: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    if hdr.is_empty() {
        return None;
    }
    for line in hdr.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if &line[..colon] == key {
            let v = &line[colon + 1..];
            let start = v
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(v.len());
            let end = v
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(start, |e| e + 1);
            return Some(&v[start..end.max(start)]);
        }
    }
    None
}

/// `get` as text (lossy).
pub fn text(hdr: &[u8], key: &[u8]) -> Option<String> {
    get(hdr, key).map(|v| String::from_utf8_lossy(v).into_owned())
}

pub const MSG_ID: &[u8] = b"Nats-Msg-Id";
pub const EXPECTED_STREAM: &[u8] = b"Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &[u8] = b"Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJ_SEQ: &[u8] = b"Nats-Expected-Last-Subject-Sequence";
pub const EXPECTED_LAST_SUBJ_SEQ_SUBJ: &[u8] = b"Nats-Expected-Last-Subject-Sequence-Subject";
pub const EXPECTED_LAST_MSG_ID: &[u8] = b"Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &[u8] = b"Nats-Rollup";
pub const TTL: &[u8] = b"Nats-TTL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values() {
        let h = b"NATS/1.0\r\nNats-Msg-Id:  m1 \r\nX: y\r\n\r\n";
        assert_eq!(get(h, MSG_ID), Some(&b"m1"[..]));
        assert_eq!(get(h, b"X"), Some(&b"y"[..]));
        assert_eq!(get(h, b"Nats"), None);
        assert_eq!(get(b"", MSG_ID), None);
    }
}
