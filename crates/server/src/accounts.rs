//! Accounts as the runtime keeps them apart: every subscription and every
//! lookup of a server with accounts uses a *key*, the subject behind its
//! account's token — `" <id>.<subject>"` — so one index, one interest summary
//! and one ring format serve every account and a message can never match
//! another account's subscription. The token starts with a space, which no
//! client subject can contain (the protocol splits arguments on it), so no
//! subject of one account can spell another's key; and every account,
//! `$G` included, has its token when accounts exist, so a `>` in one account
//! stays inside it. Without accounts a key is the subject itself: no cost.
//!
//! Pure functions; the core holds the buffer a publish builds its key in.

/// Writes `account`'s key for `subject` into `out` (cleared first).
pub fn key_into(account: u16, subject: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(b' ');
    out.extend_from_slice(shoal_proto::encode::decimal(
        u64::from(account),
        &mut [0; 20],
    ));
    out.push(b'.');
    out.extend_from_slice(subject);
}

/// The subject inside a key (a subject without a token is its own key).
pub fn strip(key: &[u8]) -> &[u8] {
    if key.first() != Some(&b' ') {
        return key;
    }
    match key.iter().position(|&b| b == b'.') {
        Some(dot) => &key[dot + 1..],
        None => key,
    }
}

/// The account and subject of a key (a subject without a token is `$G`'s).
pub fn split(key: &[u8]) -> (u16, &[u8]) {
    if key.first() != Some(&b' ') {
        return (0, key);
    }
    match key.iter().position(|&b| b == b'.') {
        Some(dot) => {
            let id = std::str::from_utf8(&key[1..dot])
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            (id, &key[dot + 1..])
        }
        None => (0, key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_subject::subject_matches;

    #[test]
    fn keys_keep_accounts_apart() {
        let mut a = Vec::new();
        key_into(3, b"foo.bar", &mut a);
        assert_eq!(a, b" 3.foo.bar");
        assert_eq!(strip(&a), b"foo.bar");
        assert_eq!(strip(b"foo.bar"), b"foo.bar");
        assert_eq!(split(&a), (3, &b"foo.bar"[..]));
        assert_eq!(split(b"foo.bar"), (0, &b"foo.bar"[..]));
        let mut wild = Vec::new();
        key_into(0, b">", &mut wild);
        assert!(
            !subject_matches(&wild, &a),
            "a > of $G does not see account 3"
        );
        key_into(3, b"*.bar", &mut wild);
        assert!(subject_matches(&wild, &a));
        key_into(12345, b"x", &mut a);
        assert_eq!(a, b" 12345.x");
    }
}
