//! Deciding a client's login from the configuration's nkey users, users
//! list, single user or token, and `no_auth_user`, in nats-server 2.15's
//! order (`processClientOrLeafAuthentication`, the parts without JWTs,
//! certificates or proxies, which come later):
//!
//! 0. With nkey users: a client that sent no credentials at all is the
//!    `no_auth_user` if that is an nkey (and needs no signature); a client
//!    that names an nkey must be one of them and sign the nonce, and nothing
//!    else is tried.
//! 1. With a users list: a client that sent no user, password or token is
//!    `no_auth_user` (when that user exists), with that user's configured
//!    password as its own; a named user must exist and its password match
//!    (a user configured without one logs in with none).
//! 2. Otherwise (or when the client named no user): the token, if one is
//!    configured (the client's user and password are then ignored); else the
//!    single user, whose name must be the client's and password match.
//! 3. Anything else is refused.
//!
//! A decision is a [`Plan`]: refused at once, or one secret comparison left
//! to make. The caller makes it ([`Plan::decide`]) inline for a plain secret
//! and on a blocking thread for a bcrypt hash ([`Plan::needs_bcrypt`]): the
//! comparison is the expensive part, and it must not run on a core.
//!
//! Must never: do I/O, or compare secrets other than through
//! [`crate::password::matches`] (constant time or bcrypt).

use std::net::IpAddr;
use std::sync::Arc;

use ahash::AHashMap;

use crate::nkey::{self, NkeyUser};
use crate::operator::{JwtRequest, JwtUser, Trust};
use crate::password;
use crate::permissions::PermissionSpec;

/// A user of the `users` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// Plain or a bcrypt hash; empty: the user logs in with no password.
    pub password: String,
    pub permissions: Option<PermissionSpec>,
    /// The account the user is in: an index into [`Logins::accounts`]
    /// (0: the global account `$G`).
    pub account: u16,
}

/// The configured ways in (see the module header). nats-server refuses a
/// token together with a users list at load time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logins {
    users: Vec<User>,
    by_name: AHashMap<String, usize>,
    nkeys: Vec<NkeyUser>,
    by_key: AHashMap<String, usize>,
    single: Option<(String, String)>,
    token: Option<String>,
    no_auth_user: Option<String>,
    /// The accounts users may be in; `[0]` is the global account `$G`.
    /// Empty: no `accounts` block (everyone is in `$G`).
    accounts: Vec<String>,
    /// Accounts a reload dropped: their ids stay taken, nobody logs in to
    /// them, and the server no longer shows them.
    retired: Vec<String>,
    /// Operator mode: every client logs in with a user JWT.
    trust: Option<Arc<Trust>>,
    /// The configured accounts' limits, by account id (none for `$G`).
    limits: Vec<AccountLimits>,
    /// The account named `system_account` (operator mode: the operator's).
    system_account: Option<String>,
    /// `tls { verify_and_map }`: a client certificate names the user.
    tls_map: bool,
    /// The logins of WebSocket clients: a user JWT's connection type is
    /// `WEBSOCKET`.
    websocket: bool,
}

/// The `websocket { authorization {} no_auth_user }` override: when any of
/// user, token or `no_auth_user` is set, WebSocket clients log in with these
/// instead of the top-level single user, token and `no_auth_user`
/// (nats-server's `authOverride`); the users lists stay the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Override {
    pub user: String,
    pub pass: String,
    pub token: String,
    pub no_auth_user: String,
}

/// An account's limits from the configuration (-1: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    pub conn: i64,
    pub subs: i64,
    pub payload: i64,
    pub leafs: i64,
}

impl AccountLimits {
    pub const NONE: AccountLimits = AccountLimits {
        conn: -1,
        subs: -1,
        payload: -1,
        leafs: -1,
    };
}

/// What the client's CONNECT carried (empty: absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub user: &'a str,
    pub pass: &'a str,
    pub token: &'a str,
    pub nkey: &'a str,
    /// The signature of the nonce (base64), with `nkey`.
    pub sig: &'a str,
    /// The nonce this connection was sent.
    pub nonce: &'a [u8],
    /// A user JWT (operator mode).
    pub jwt: &'a str,
    /// Now, in unix seconds (JWT validity).
    pub now: i64,
    /// The client's address (a user JWT's `src`).
    pub peer: Option<IpAddr>,
    /// The server's local offset from UTC now, in seconds east.
    pub local_offset: i32,
    /// The client certificate's identities (a TLS connection with one).
    pub cert: Option<&'a shoal_tls::identity::Identity>,
}

impl Credentials<'_> {
    fn none(&self) -> bool {
        self.user.is_empty() && self.pass.is_empty() && self.token.is_empty()
    }
}

/// Who a login is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// `users[i]`.
    User(usize),
    /// The nkey user `nkeys[i]`.
    Nkey(usize),
    /// The configured token.
    Token,
    /// The single `user`/`password`.
    SingleUser,
    /// A user JWT's user (operator mode).
    Jwt(Box<JwtUser>),
}

/// A login decision before its one secret comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Refused,
    /// Decided without a secret left to compare (an nkey's signature).
    Granted(Identity),
    Compare {
        who: Identity,
        configured: String,
        given: String,
    },
    /// A user JWT to verify against the operators' accounts.
    Jwt(Box<JwtRequest>, Arc<Trust>),
}

impl Plan {
    /// Whether [`Plan::decide`] will run bcrypt (milliseconds) or verify a
    /// JWT chain: either belongs off the core.
    pub fn needs_blocking(&self) -> bool {
        match self {
            Plan::Compare { configured, .. } => password::is_bcrypt(configured),
            Plan::Jwt(..) => true,
            _ => false,
        }
    }

    /// The identity the login has, or `None` when it is refused.
    pub fn decide(&self) -> Option<Identity> {
        self.decide_why().ok()
    }

    /// [`Plan::decide`], with why a refusal was made when nats-server logs
    /// it (in its debug log, or `[ERR]` when the text starts with `!`).
    pub fn decide_why(&self) -> Result<Identity, String> {
        match self {
            Plan::Refused => Err(String::new()),
            Plan::Granted(who) => Ok(who.clone()),
            Plan::Compare {
                who,
                configured,
                given,
            } => match password::matches(configured, given) {
                true => Ok(who.clone()),
                false => Err(String::new()),
            },
            Plan::Jwt(req, trust) => trust.login(req).map(|u| Identity::Jwt(Box::new(u))),
        }
    }
}

impl Logins {
    pub fn new(
        users: Vec<User>,
        single: Option<(String, String)>,
        token: Option<String>,
        no_auth_user: Option<String>,
    ) -> Logins {
        let by_name = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.name.clone(), i))
            .collect();
        // nats-server only uses a token or a single user that is not empty.
        Logins {
            users,
            by_name,
            single: single.filter(|(user, _)| !user.is_empty()),
            token: token.filter(|t| !t.is_empty()),
            no_auth_user,
            ..Logins::default()
        }
    }

    /// The same logins with nkey users (nats-server keeps them apart from
    /// the users list; a name is in one or the other).
    pub fn with_nkeys(mut self, nkeys: Vec<NkeyUser>) -> Logins {
        self.by_key = nkeys
            .iter()
            .enumerate()
            .map(|(i, u)| (u.key.clone(), i))
            .collect();
        self.nkeys = nkeys;
        self
    }

    /// Operator mode: the trusted operators and their accounts, which are
    /// `accounts[1..]` in the order of [`Trust`]'s ids.
    pub fn with_trust(mut self, trust: Trust) -> Logins {
        self.trust = Some(Arc::new(trust));
        self
    }

    /// The operators and accounts, in operator mode.
    pub fn trust(&self) -> Option<&Trust> {
        self.trust.as_deref()
    }

    /// The same logins with the configured accounts (`$G` first).
    pub fn with_accounts(mut self, accounts: Vec<String>) -> Logins {
        self.accounts = accounts;
        self
    }

    /// The same logins with these accounts retired (see `retired`).
    pub fn with_retired(mut self, names: Vec<String>) -> Logins {
        self.retired = names;
        self
    }

    /// Whether a reload dropped account `name`.
    pub fn is_retired(&self, name: &str) -> bool {
        self.retired.iter().any(|r| r == name)
    }

    /// The configured accounts' limits, `limits[i]` for account `i + 1`.
    pub fn with_account_limits(mut self, limits: Vec<AccountLimits>) -> Logins {
        self.limits = limits;
        self
    }

    /// The same logins with a system account.
    pub fn with_system_account(mut self, name: String) -> Logins {
        self.system_account = Some(name).filter(|n| !n.is_empty());
        self
    }

    /// The system account's name, when one is configured.
    pub fn system_account(&self) -> Option<&str> {
        self.system_account.as_deref()
    }

    /// Account `id`'s configured limits.
    pub fn account_limits(&self, id: u16) -> AccountLimits {
        usize::from(id)
            .checked_sub(1)
            .and_then(|i| self.limits.get(i))
            .copied()
            .unwrap_or(AccountLimits::NONE)
    }

    /// The account names, `$G` first; empty without an `accounts` block.
    pub fn accounts(&self) -> &[String] {
        &self.accounts
    }

    /// The name of account `i`.
    pub fn account_name(&self, i: u16) -> &str {
        self.accounts.get(i as usize).map_or("$G", String::as_str)
    }

    /// Whether INFO must carry a nonce to sign.
    pub fn nonce_required(&self) -> bool {
        !self.nkeys.is_empty() || self.trust.is_some()
    }

    pub fn nkey_user(&self, i: usize) -> &NkeyUser {
        &self.nkeys[i]
    }

    pub fn nkeys(&self) -> &[NkeyUser] {
        &self.nkeys
    }

    /// Whether an nkey user has this public key.
    pub fn has_nkey(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// Whether clients must log in (INFO `auth_required`).
    pub fn required(&self) -> bool {
        !self.users.is_empty()
            || !self.nkeys.is_empty()
            || self.single.is_some()
            || self.token.is_some()
            || self.trust.is_some()
    }

    /// The users list (empty: none).
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The single user and password.
    pub fn single(&self) -> Option<&(String, String)> {
        self.single.as_ref()
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The `no_auth_user` as configured (whether or not it names a user).
    pub fn no_auth_user_name(&self) -> Option<&str> {
        self.no_auth_user.as_deref()
    }

    /// The account of the user `name`, or of the nkey user `key`.
    pub fn account_of(&self, name: &str, key: &str) -> Option<u16> {
        if !key.is_empty() {
            return self.by_key.get(key).map(|&i| self.nkeys[i].account);
        }
        self.by_name.get(name).map(|&i| self.users[i].account)
    }

    /// Whether a user of this name is in the list.
    pub fn has_user(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Whether nats-server would warn "Plaintext passwords detected": the
    /// single user's password, or any user's (even an empty one), is not a
    /// bcrypt hash.
    pub fn plaintext(&self) -> bool {
        let single = self
            .single
            .as_ref()
            .is_some_and(|(_, p)| !p.is_empty() && !password::is_bcrypt(p));
        // A user without a password is a certificate identity when
        // certificates name users (nats-server skips it).
        single
            || self
                .users
                .iter()
                .filter(|u| !(self.tls_map && u.password.is_empty()))
                .any(|u| !password::is_bcrypt(&u.password))
    }

    /// The logins of WebSocket clients: the same users, nkeys and
    /// operators, with the listener's override (see [`Override`]) and its
    /// own `verify_and_map`.
    pub fn for_websocket(&self, o: &Override, tls_map: bool) -> Logins {
        let mut l = self.clone();
        if !o.user.is_empty() || !o.token.is_empty() || !o.no_auth_user.is_empty() {
            l.single = Some((o.user.clone(), o.pass.clone())).filter(|(u, _)| !u.is_empty());
            l.token = Some(o.token.clone()).filter(|t| !t.is_empty());
            l.no_auth_user = Some(o.no_auth_user.clone()).filter(|n| !n.is_empty());
        }
        l.tls_map = tls_map;
        l.websocket = true;
        l
    }

    /// Certificates name users (`verify_and_map`).
    pub fn with_tls_map(mut self, on: bool) -> Logins {
        self.tls_map = on;
        self
    }

    pub fn tls_map(&self) -> bool {
        self.tls_map
    }

    /// nats-server's `checkClientTLSCertSubject` over the users list: the
    /// certificate's SAN e-mails, DNS names and URIs as user names, then its
    /// subject as a DN (equal, then reordered), then its subject as text
    /// (with its DCs, then without). Returns the user and how it matched
    /// (for the debug log).
    pub fn map_certificate(&self, id: &shoal_tls::identity::Identity) -> Option<(usize, String)> {
        for name in id.san_names() {
            if let Some(&i) = self.by_name.get(name) {
                return Some((
                    i,
                    format!("Using SAN or e-mail found in cert for auth [{name:?}]"),
                ));
            }
        }
        if let Some(dn) = &id.dn {
            let parsed: Vec<(usize, shoal_tls::dn::Dn)> = self
                .users
                .iter()
                .enumerate()
                .filter_map(|(i, u)| shoal_tls::dn::Dn::parse(&u.name).ok().map(|d| (i, d)))
                .collect();
            let hit = parsed
                .iter()
                .find(|(_, d)| d.equal(dn))
                .or_else(|| parsed.iter().find(|(_, d)| d.rdns_match(dn)));
            if let Some((i, _)) = hit {
                let name = &self.users[*i].name;
                return Some((
                    *i,
                    format!("Using DistinguishedNameMatch for auth [{name:?}]"),
                ));
            }
        }
        for name in id.subject_names() {
            if let Some(&i) = self.by_name.get(&name) {
                return Some((i, format!("Using certificate subject for auth [{name:?}]")));
            }
        }
        None
    }

    pub fn user(&self, i: usize) -> &User {
        &self.users[i]
    }

    /// The login `creds` ask for (see the module header).
    pub fn plan(&self, creds: &Credentials) -> Plan {
        if let Some(trust) = &self.trust {
            // With trusted operators a user JWT is required (and nats-server
            // refuses users, nkeys and accounts in the configuration); a
            // client that sends none (or not a user JWT) is the default
            // sentinel when there is one.
            let sent = !creds.jwt.is_empty() && crate::jwt::decode_user(creds.jwt).is_ok();
            let token = match (sent, trust.default_sentinel()) {
                (true, _) => creds.jwt,
                (false, Some(sentinel)) => sentinel,
                (false, None) if creds.jwt.is_empty() => return Plan::Refused,
                (false, None) => creds.jwt,
            };
            return Plan::Jwt(
                Box::new(JwtRequest {
                    token: token.to_owned(),
                    sig: creds.sig.to_owned(),
                    nonce: creds.nonce.to_vec(),
                    now: creds.now,
                    peer: creds.peer,
                    kind: if self.websocket {
                        "WEBSOCKET"
                    } else {
                        "STANDARD"
                    },
                    local_offset: creds.local_offset,
                }),
                trust.clone(),
            );
        }
        if let Some(plan) = self.nkey_plan(creds) {
            return plan;
        }
        if self.tls_map && !self.users.is_empty() {
            // The certificate alone decides; a password is not asked for.
            return match creds.cert.and_then(|id| self.map_certificate(id)) {
                Some((i, _)) => Plan::Granted(Identity::User(i)),
                None => Plan::Refused,
            };
        }
        if !self.users.is_empty() {
            let (mut name, mut pass) = (creds.user, creds.pass);
            let anonymous = creds.none();
            if let (true, Some(u)) = (anonymous, self.no_auth_user()) {
                // The configured password stands for the client's, so a
                // no_auth_user with a bcrypt password can never log in: the
                // hash is compared against itself (as in nats-server 2.15).
                name = &u.name;
                pass = &u.password;
            }
            if !name.is_empty() {
                return match self.by_name.get(name) {
                    None => Plan::Refused,
                    Some(&i) => Plan::Compare {
                        who: Identity::User(i),
                        configured: self.users[i].password.clone(),
                        given: pass.to_owned(),
                    },
                };
            }
        }
        if let Some(t) = &self.token {
            return Plan::Compare {
                who: Identity::Token,
                configured: t.clone(),
                given: creds.token.to_owned(),
            };
        }
        if let Some((user, password)) = &self.single {
            if user != creds.user {
                return Plan::Refused;
            }
            return Plan::Compare {
                who: Identity::SingleUser,
                configured: password.clone(),
                given: creds.pass.to_owned(),
            };
        }
        Plan::Refused
    }

    /// Step 0 of the module header: `None` when no nkey is involved.
    fn nkey_plan(&self, creds: &Credentials) -> Option<Plan> {
        if self.nkeys.is_empty() {
            return None;
        }
        let no_auth = self.no_auth_user.as_deref().unwrap_or("");
        let key = match creds.nkey {
            "" if creds.none() && self.by_key.contains_key(no_auth) => no_auth,
            "" => return None,
            k => k,
        };
        let Some(&i) = self.by_key.get(key) else {
            return Some(Plan::Refused);
        };
        // The no_auth_user's key needs no signature (nats-server's rule).
        let signed = key == no_auth || nkey::verify(key, creds.nonce, creds.sig);
        Some(match signed {
            true => Plan::Granted(Identity::Nkey(i)),
            false => Plan::Refused,
        })
    }

    /// nats-server's log line for a refused login (`[ERR] <client> - ...`):
    /// the user it tried to be (after `no_auth_user`), else a redacted token.
    pub fn failure_text(&self, creds: &Credentials) -> String {
        let anonymous = creds.none();
        if !creds.nkey.is_empty() {
            return format!(
                "authentication error - Nkey {}",
                shoal_go::quote(creds.nkey.as_bytes())
            );
        }
        let user = match (anonymous, self.no_auth_user()) {
            (true, Some(u)) if !self.users.is_empty() => u.name.as_str(),
            _ => creds.user,
        };
        if user.is_empty() && !creds.jwt.is_empty() {
            // nats-server names a JWT user by the key it logged in with:
            // none yet.
            return "authentication error".to_owned();
        }
        if !user.is_empty() {
            format!(
                "authentication error - User {}",
                shoal_go::quote(user.as_bytes())
            )
        } else if !creds.token.is_empty() {
            "authentication error - Token \"[REDACTED]\"".to_owned()
        } else {
            "authentication error".to_owned()
        }
    }

    /// The `no_auth_user`, when it names a user of the list.
    pub fn no_auth_user(&self) -> Option<&User> {
        let name = self.no_auth_user.as_deref()?;
        self.by_name.get(name).map(|&i| &self.users[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2a$04$B3QpD75SPqKcH0d5TRySjOXO83qJ8JtDlO0Bvhb7z0YBzXtk6M9vS"; // s3cr3t

    fn user(name: &str, password: &str) -> User {
        User {
            name: name.into(),
            password: password.into(),
            permissions: None,
            account: 0,
        }
    }

    fn login(l: &Logins, user: &str, pass: &str, token: &str) -> Option<Identity> {
        l.plan(&Credentials {
            user,
            pass,
            token,
            ..Default::default()
        })
        .decide()
    }

    /// Each case was run against nats-server 2.15.1 with the same
    /// configuration (2026-12-02): PONG = logged in, else
    /// `-ERR 'Authorization Violation'`.
    #[test]
    fn a_users_list() {
        let l = Logins::new(
            vec![user("a", "x"), user("b", ""), user("c", "")],
            None,
            None,
            None,
        );
        assert!(l.required());
        assert_eq!(login(&l, "a", "x", ""), Some(Identity::User(0)));
        assert_eq!(
            login(&l, "b", "", ""),
            Some(Identity::User(1)),
            "no password configured"
        );
        assert_eq!(login(&l, "b", "x", ""), None, "a wrong non-empty password");
        assert_eq!(login(&l, "c", "", ""), Some(Identity::User(2)));
        assert_eq!(login(&l, "", "x", ""), None, "a password without a user");
        assert_eq!(login(&l, "zz", "x", ""), None, "an unknown user");
        assert_eq!(login(&l, "", "", ""), None, "nobody, without no_auth_user");
    }

    #[test]
    fn no_auth_user() {
        let l = Logins::new(
            vec![user("a", HASH), user("b", "plain"), user("n", "pw")],
            None,
            None,
            Some("n".into()),
        );
        assert_eq!(login(&l, "", "", ""), Some(Identity::User(2)));
        assert_eq!(login(&l, "b", "plain", ""), Some(Identity::User(1)));
        assert_eq!(login(&l, "a", "s3cr3t", ""), Some(Identity::User(0)));
        assert_eq!(
            login(&l, "", "pw", ""),
            None,
            "credentials given: not anonymous"
        );
        // A no_auth_user with a bcrypt password never logs in.
        let l = Logins::new(vec![user("a", HASH)], None, None, Some("a".into()));
        let p = l.plan(&Credentials::default());
        assert!(p.needs_blocking());
        assert_eq!(p.decide(), None);
        assert_eq!(
            l.failure_text(&Credentials::default()),
            "authentication error - User \"a\""
        );
    }

    #[test]
    fn a_token() {
        let l = Logins::new(Vec::new(), None, Some("t0k".into()), None);
        assert_eq!(login(&l, "", "", "t0k"), Some(Identity::Token));
        assert_eq!(
            login(&l, "any", "any", "t0k"),
            Some(Identity::Token),
            "user and password ignored"
        );
        assert_eq!(login(&l, "", "", "bad"), None);
        assert_eq!(login(&l, "", "", ""), None);
        let bad = Credentials {
            token: "bad",
            ..Default::default()
        };
        assert_eq!(
            l.failure_text(&bad),
            "authentication error - Token \"[REDACTED]\""
        );
        assert_eq!(
            l.failure_text(&Credentials::default()),
            "authentication error"
        );
    }

    #[test]
    fn a_single_user() {
        let l = Logins::new(Vec::new(), Some(("u".into(), "p".into())), None, None);
        assert_eq!(login(&l, "u", "p", ""), Some(Identity::SingleUser));
        assert_eq!(
            login(&l, "u", "p", "x"),
            Some(Identity::SingleUser),
            "a token is ignored"
        );
        assert_eq!(login(&l, "U", "p", ""), None, "names are case-sensitive");
        assert_eq!(login(&l, "", "p", ""), None);
        let wrong = Credentials {
            user: "U",
            pass: "p",
            ..Default::default()
        };
        assert_eq!(l.failure_text(&wrong), "authentication error - User \"U\"");
    }

    #[test]
    fn bcrypt_comparisons_are_flagged_for_a_blocking_thread() {
        let l = Logins::new(vec![user("a", HASH), user("b", "plain")], None, None, None);
        let a = Credentials {
            user: "a",
            pass: "s3cr3t",
            ..Default::default()
        };
        let b = Credentials {
            user: "b",
            pass: "plain",
            ..Default::default()
        };
        assert!(l.plan(&a).needs_blocking());
        assert!(!l.plan(&b).needs_blocking());
        assert_eq!(l.plan(&a).decide(), Some(Identity::User(0)));
        assert!(!Logins::default().required());
        let empty = Logins::new(
            Vec::new(),
            Some((String::new(), "p".into())),
            Some(String::new()),
            None,
        );
        assert!(
            !empty.required(),
            "an empty token or user name configures nothing"
        );
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        let kp = nkeys::KeyPair::new_user();
        let key = kp.public_key();
        let l = Logins::new(vec![user("a", "pw")], None, None, None).with_nkeys(vec![NkeyUser {
            key: key.clone(),
            permissions: None,
            account: 0,
        }]);
        assert!(l.required() && l.nonce_required());
        let nonce = b"0123456789abcde";
        let sig = data_encoding::BASE64URL_NOPAD.encode(&kp.sign(nonce).unwrap());
        let with = |nkey: &str, sig: &str, user: &str| {
            l.plan(&Credentials {
                user,
                pass: "pw",
                nkey,
                sig,
                nonce,
                ..Default::default()
            })
            .decide()
        };
        assert_eq!(with(&key, &sig, ""), Some(Identity::Nkey(0)));
        assert_eq!(with(&key, "", ""), None, "no signature");
        let other = nkeys::KeyPair::new_user().public_key();
        assert_eq!(with(&other, &sig, ""), None, "an unknown key");
        // A named nkey decides alone: the user and password are not tried.
        assert_eq!(with(&other, &sig, "a"), None);
        assert_eq!(with("", "", "a"), Some(Identity::User(0)));
        let text = l.failure_text(&Credentials {
            nkey: &other,
            ..Default::default()
        });
        assert_eq!(text, format!("authentication error - Nkey \"{other}\""));
        // The no_auth_user may be an nkey: no credentials, no signature.
        let l = Logins::new(Vec::new(), None, None, Some(key.clone())).with_nkeys(vec![NkeyUser {
            key: key.clone(),
            permissions: None,
            account: 0,
        }]);
        assert_eq!(
            l.plan(&Credentials::default()).decide(),
            Some(Identity::Nkey(0))
        );
    }
}
