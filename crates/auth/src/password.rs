//! Comparing a configured password or token with what a client sent, as
//! nats-server 2.15 does (`comparePasswords`, `isBcrypt`): a configured value
//! that looks like a bcrypt hash (`$2a$`, `$2b$`, `$2x$` or `$2y$`, two cost
//! digits, `$`) is checked with bcrypt, which reads only the first 72 bytes
//! of the password (a correct 72-byte prefix plus anything is accepted, as
//! with nats-server); anything else is compared in constant time.
//!
//! Must never: run on a core thread for a bcrypt hash — a check costs
//! milliseconds to tens of milliseconds by design (its cost factor); the
//! server hands [`matches`] to a blocking thread when [`is_bcrypt`] says so.

/// Whether a configured password or token is a bcrypt hash (nats-server's
/// `^\$2[abxy]\$\d{2}\$.*`).
pub fn is_bcrypt(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 7
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// Whether `client` (what CONNECT carried) matches `server` (the
/// configuration's value). A malformed hash matches nothing.
pub fn matches(server: &str, client: &str) -> bool {
    if is_bcrypt(server) {
        bcrypt::verify(client, server).unwrap_or(false)
    } else {
        constant_time_eq(server.as_bytes(), client.as_bytes())
    }
}

/// Equal bytes, taking the same time wherever the first difference is (the
/// length itself is not hidden, as with Go's `subtle.ConstantTimeCompare`).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with Python's bcrypt 4.2.0 (`hashpw(b"s3cr3t", gensalt(4, b"2a"))`
    /// and `hashpw(b"x" * 72, gensalt(4, b"2b"))`); nats-server 2.15.1 accepted
    /// exactly the passwords these tests accept (checked 2026-12-02).
    const S3CR3T: &str = "$2a$04$B3QpD75SPqKcH0d5TRySjOXO83qJ8JtDlO0Bvhb7z0YBzXtk6M9vS";
    const X72: &str = "$2b$04$Yne3a/hhbBMMt5c9Kt9KdeP/uhYXop3MnXJbeY3FF5i9RNUlTXFS6";

    #[test]
    fn bcrypt_hashes_are_recognised_as_nats_server_does() {
        assert!(is_bcrypt(S3CR3T));
        assert!(is_bcrypt(X72));
        assert!(is_bcrypt("$2y$10$anything"));
        assert!(is_bcrypt("$2x$99$"));
        assert!(!is_bcrypt("$2$10$abc"), "no version letter");
        assert!(!is_bcrypt("$2c$10$abc"));
        assert!(!is_bcrypt("$2a$1$abc"), "two cost digits");
        assert!(!is_bcrypt("2a$10$abc"));
        assert!(!is_bcrypt("plain"));
    }

    #[test]
    fn bcrypt_passwords() {
        assert!(matches(S3CR3T, "s3cr3t"));
        assert!(!matches(S3CR3T, "wrong"));
        assert!(!matches(S3CR3T, ""));
        let x72 = "x".repeat(72);
        assert!(matches(X72, &x72));
        assert!(matches(X72, &format!("{x72}extra")), "only 72 bytes count");
        assert!(!matches(X72, &"x".repeat(71)));
    }

    #[test]
    fn a_malformed_hash_matches_nothing() {
        assert!(!matches("$2a$04$short", "short"));
        assert!(!matches("$2a$04$short", "$2a$04$short"));
    }

    #[test]
    fn plain_values_compare_exactly() {
        assert!(matches("pass", "pass"));
        assert!(!matches("pass", "pas"));
        assert!(!matches("pass", "passs"));
        assert!(!matches("pass", "Pass"));
        assert!(matches("", ""));
    }
}
