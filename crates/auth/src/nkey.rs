//! nkey users: the public-key check of the configuration, the nonce each
//! connection is challenged with, and the signature a client returns over it
//! (Ed25519, through the `nkeys` crate), as nats-server 2.15 checks them:
//! the signature is base64 (URL alphabet without padding, else the standard
//! one), over the nonce's 15 characters as sent in INFO.
//!
//! A verification is tens of microseconds: cheap enough for a core, as
//! nats-server does it inline too (bcrypt and JWT chains are the expensive
//! checks, and they are not here).

use data_encoding::{BASE64, BASE64URL_NOPAD};

/// Raw nonce bytes (nats-server's `nonceRawLen`).
pub const NONCE_RAW_LEN: usize = 11;
/// The nonce as sent: the raw bytes in unpadded URL-safe base64.
pub const NONCE_LEN: usize = 15;

/// An nkey user of the `users` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NkeyUser {
    /// The public user key (`U...`).
    pub key: String,
    pub permissions: Option<crate::PermissionSpec>,
    /// As [`crate::User::account`].
    pub account: u16,
}

/// Whether `key` is a valid public nkey of a user (`U...`, checksum right).
pub fn is_valid_user_key(key: &str) -> bool {
    key.starts_with('U') && nkeys::KeyPair::from_public_key(key).is_ok()
}

/// The nonce INFO carries, from `raw` random bytes.
pub fn nonce(raw: &[u8; NONCE_RAW_LEN]) -> [u8; NONCE_LEN] {
    let mut out = [0u8; NONCE_LEN];
    BASE64URL_NOPAD.encode_mut(raw, &mut out);
    out
}

/// Whether `sig` (as CONNECT carried it) is `key`'s signature of `nonce`.
pub fn verify(key: &str, nonce: &[u8], sig: &str) -> bool {
    let Ok(sig) = BASE64URL_NOPAD
        .decode(sig.as_bytes())
        .or_else(|_| BASE64.decode(sig.as_bytes()))
    else {
        return false;
    };
    let Ok(pk) = nkeys::KeyPair::from_public_key(key) else {
        return false;
    };
    pk.verify(nonce, &sig).is_ok()
}

/// A leaf remote's answer to a hub's `nonce` with the user `seed`
/// (`SU...`): the public key and the signature, as nats-server's spoke
/// sends them (unpadded URL-safe base64).
pub fn sign(seed: &str, nonce: &[u8]) -> Result<(String, String), String> {
    let kp = nkeys::KeyPair::from_seed(seed.trim()).map_err(|e| e.to_string())?;
    let sig = kp.sign(nonce).map_err(|e| e.to_string())?;
    Ok((kp.public_key(), BASE64URL_NOPAD.encode(&sig)))
}

/// Whether `seed` is a user's seed (`SU...`, checksum right).
pub fn is_valid_user_seed(seed: &str) -> bool {
    seed.starts_with("SU") && nkeys::KeyPair::from_seed(seed).is_ok()
}

/// A credentials file's user JWT and seed (its first two decorated
/// blocks), as nats-server's `credsRe` finds them.
pub fn creds_parts(text: &str) -> Option<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(l) = lines.next() {
        if l.starts_with("---") && l.ends_with("---") && l.len() > 6 && !l.contains("END") {
            if let Some(body) = lines.next().filter(|b| !b.is_empty()) {
                blocks.push(body.to_string());
            }
        }
    }
    let mut it = blocks.into_iter();
    Some((it.next()?, it.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spoke_signs_what_a_hub_verifies() {
        let user = nkeys::KeyPair::new_user();
        let (key, sig) = sign(&user.seed().unwrap(), b"abcdefghijklmno").unwrap();
        assert_eq!(key, user.public_key());
        assert!(verify(&key, b"abcdefghijklmno", &sig));
        assert!(is_valid_user_seed(&user.seed().unwrap()));
        assert!(!is_valid_user_seed(&user.public_key()));
        let creds = format!(
            "-----BEGIN NATS USER JWT-----\neyJ.a.b\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().unwrap()
        );
        assert_eq!(
            creds_parts(&creds),
            Some(("eyJ.a.b".to_string(), user.seed().unwrap()))
        );
        assert_eq!(creds_parts("nothing"), None);
    }

    #[test]
    fn signatures_over_the_nonce() {
        let user = nkeys::KeyPair::new_user();
        let key = user.public_key();
        assert!(is_valid_user_key(&key));
        assert!(!is_valid_user_key(
            &nkeys::KeyPair::new_account().public_key()
        ));
        assert!(!is_valid_user_key("UNOTAKEY"));
        let n = nonce(&[7; NONCE_RAW_LEN]);
        assert_eq!(n.len(), NONCE_LEN);
        let sig = user.sign(&n).unwrap();
        assert!(verify(&key, &n, &BASE64URL_NOPAD.encode(&sig)));
        assert!(
            verify(&key, &n, &BASE64.encode(&sig)),
            "standard base64 too"
        );
        assert!(!verify(
            &key,
            b"another nonce",
            &BASE64URL_NOPAD.encode(&sig)
        ));
        let other = nkeys::KeyPair::new_user();
        assert!(!verify(
            &other.public_key(),
            &n,
            &BASE64URL_NOPAD.encode(&sig)
        ));
        assert!(!verify(&key, &n, "not base64!"));
    }
}
