//! The account resolver's requests over the system account, as the server
//! relays them: `$SYS.REQ.CLAIMS.UPDATE`, `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE`
//! (and the older `$SYS.ACCOUNT.<acc>.CLAIMS.UPDATE`),
//! `$SYS.REQ.ACCOUNT.<acc>.CLAIMS.LOOKUP`, `$SYS.REQ.CLAIMS.LIST` and
//! `$SYS.REQ.CLAIMS.DELETE`, answered by a [`ClaimStore`] that whoever
//! configured the resolver provides (the binary's directory resolver).
//!
//! The store's calls may block (they read and write files, and an update
//! waits until the new account is in force): the monitoring thread makes
//! them on its blocking pool, never a core.

use std::sync::Arc;

/// The outcome of an update or delete, as nats-server's `respondToUpdate`
/// words it: `message` alone when it worked, `message - error` when not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimReply {
    /// The account concerned (`n/a` when the JWT could not be read; empty
    /// for a delete).
    pub account: String,
    pub message: String,
    pub error: Option<String>,
}

/// Where account JWTs are kept and how a new one takes effect.
pub trait ClaimStore: Send + Sync {
    /// A JWT pushed for `account` (`None`: the account the JWT names).
    fn update(&self, account: Option<&str>, jwt: &str) -> ClaimReply;
    /// The stored JWT of `account`.
    fn lookup(&self, account: &str) -> Option<String>;
    /// Every stored account's key.
    fn list(&self) -> Vec<String>;
    /// An operator-signed request to delete accounts.
    fn delete(&self, request: &str) -> ClaimReply;
}

/// A [`ClaimStore`] in the configuration (compared by identity).
#[derive(Clone)]
pub struct Claims(pub Arc<dyn ClaimStore>);

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Claims(..)")
    }
}

/// The subjects a server with a [`ClaimStore`] subscribes in its system
/// account.
pub const SUBJECTS: [&str; 6] = [
    "$SYS.REQ.CLAIMS.UPDATE",
    "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE",
    "$SYS.ACCOUNT.*.CLAIMS.UPDATE",
    "$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP",
    "$SYS.REQ.CLAIMS.LIST",
    "$SYS.REQ.CLAIMS.DELETE",
];

/// What a request on one of [`SUBJECTS`] asks.
#[derive(Debug, PartialEq, Eq)]
pub enum Ask<'a> {
    Update(Option<&'a str>),
    Lookup(&'a str),
    List,
    Delete,
}

/// The request on `subject`, if it is one.
pub fn ask(subject: &str) -> Option<Ask<'_>> {
    match subject {
        "$SYS.REQ.CLAIMS.UPDATE" => return Some(Ask::Update(None)),
        "$SYS.REQ.CLAIMS.LIST" => return Some(Ask::List),
        "$SYS.REQ.CLAIMS.DELETE" => return Some(Ask::Delete),
        _ => {}
    }
    let t: Vec<&str> = subject.split('.').collect();
    match t.as_slice() {
        ["$SYS", "REQ", "ACCOUNT", acc, "CLAIMS", "UPDATE"] => Some(Ask::Update(Some(acc))),
        ["$SYS", "ACCOUNT", acc, "CLAIMS", "UPDATE"] => Some(Ask::Update(Some(acc))),
        ["$SYS", "REQ", "ACCOUNT", acc, "CLAIMS", "LOOKUP"] => Some(Ask::Lookup(acc)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_by_subject() {
        assert_eq!(ask("$SYS.REQ.CLAIMS.UPDATE"), Some(Ask::Update(None)));
        assert_eq!(
            ask("$SYS.REQ.ACCOUNT.AB.CLAIMS.UPDATE"),
            Some(Ask::Update(Some("AB")))
        );
        assert_eq!(
            ask("$SYS.ACCOUNT.AB.CLAIMS.UPDATE"),
            Some(Ask::Update(Some("AB")))
        );
        assert_eq!(
            ask("$SYS.REQ.ACCOUNT.AB.CLAIMS.LOOKUP"),
            Some(Ask::Lookup("AB"))
        );
        assert_eq!(ask("$SYS.REQ.CLAIMS.LIST"), Some(Ask::List));
        assert_eq!(ask("$SYS.REQ.ACCOUNT.PING.STATZ"), None);
    }
}
