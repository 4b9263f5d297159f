//! Operator mode: the trusted operators' keys, the accounts their JWTs
//! describe, and the login of a client that presents a user JWT, decided
//! as nats-server 2.15's `processClientOrLeafAuthentication` decides it:
//!
//! 1. The user JWT decodes, its signature verifies, and it is in its time
//!    window (`User JWT not valid` / `no longer valid`).
//! 2. Its account (`issuer_account`, else the issuer) is known to the
//!    resolver, was issued by a trusted operator key, and signed the user
//!    itself or through one of its signing keys; a scoped signing key's
//!    template replaces the user's permissions and limits.
//! 3. The account has not expired; a bearer token is allowed by it; the
//!    connection type is allowed (unknown types are ignored, but a list of
//!    only unknown ones allows nothing).
//! 4. Unless the JWT is a bearer token, `sig` is the user key's signature of
//!    the nonce (base64url, or standard base64).
//! 5. The user is not revoked by the account, connects from an allowed CIDR,
//!    and (connect time ranges are not supported yet: refused by name).
//!
//! Each step costs an Ed25519 verification or a JSON decode: the whole
//! decision runs where the caller runs [`crate::Plan::decide`], which is off
//! the core.
//!
//! Must never: read a clock (the request carries `now`) or do I/O.

use std::net::IpAddr;
use std::sync::Arc;

use ahash::AHashMap;

use crate::jwt::{self, NatsLimits};
use crate::nkey;
use crate::permissions::PermissionSpec;

/// The operators a server trusts and the accounts it knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Keys that may issue account JWTs: the operators' own keys (unless
    /// they use signing keys strictly) and their signing keys.
    pub keys: Vec<String>,
    pub operators: Vec<jwt::Operator>,
    /// The system account's public key (empty: none named).
    pub system_account: String,
    /// Signing keys of operators with `strict_signing_key_usage`: accounts
    /// they issue may not sign users with their own key.
    strict: Vec<String>,
    /// Account key → its id in [`crate::Logins::accounts`] and its claims.
    accounts: AHashMap<String, (u16, Arc<jwt::Account>)>,
    /// `resolver_pinned_accounts`: the only accounts whose users may log in.
    pinned: Option<Vec<String>>,
    /// `default_sentinel`: the user JWT of a client that sends none.
    sentinel: Option<String>,
}

/// The end of the refusal of a user whose account is not pinned.
pub const NOT_PINNED: &str = "not listed as operator pinned account";

/// The refusal of a user its account revoked.
pub const REVOKED: &str = "User authentication revoked";

/// The connection kinds of `allowed_connection_types`.
pub const CONNECTION_TYPES: &[&str] = &[
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
    "IN_PROCESS",
];

/// A user JWT login to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRequest {
    pub token: String,
    pub sig: String,
    pub nonce: Vec<u8>,
    /// Unix seconds.
    pub now: i64,
    pub peer: Option<IpAddr>,
    /// The connection's kind, one of [`CONNECTION_TYPES`].
    pub kind: &'static str,
    /// The server's local time's offset from UTC now, in seconds east (a
    /// user JWT's `times` without `times_location`).
    pub local_offset: i32,
}

/// The refusal of a user JWT outside its connect times (nats-server logs
/// it as an error).
pub const OUTSIDE_TIMES: &str = "Outside connect times";

/// Who a JWT login is, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtUser {
    /// The user's public key.
    pub key: String,
    pub name: String,
    pub account: u16,
    pub permissions: Option<PermissionSpec>,
    /// The user's and its account's limits combined (-1: none).
    pub limits: NatsLimits,
    /// When the user JWT expires (unix seconds; 0: never).
    pub expires: i64,
    /// When the account JWT expires (unix seconds; 0: never).
    pub account_expires: i64,
    /// The account's connection limit (-1: none).
    pub account_conns: i64,
    /// The key that signed the user JWT (the account's, or a signing key).
    pub issuer: String,
    pub bearer: bool,
    pub tags: Vec<String>,
}

/// nats-server's `minLimit`: the smaller of two limits where -1 is none.
fn min_limit(a: i64, b: i64) -> i64 {
    match (a, b) {
        (-1, b) => b,
        (a, -1) => a,
        (a, b) => a.min(b),
    }
}

impl Trust {
    pub fn new(operators: Vec<jwt::Operator>, system_account: String) -> Trust {
        let mut keys = Vec::new();
        let mut strict = Vec::new();
        for o in &operators {
            if !o.strict_signing_key_usage {
                keys.push(o.claims.subject.clone());
            } else {
                strict.extend(o.signing_keys.iter().cloned());
            }
            keys.extend(o.signing_keys.iter().cloned());
        }
        Trust {
            keys,
            operators,
            system_account,
            strict,
            accounts: AHashMap::new(),
            pinned: None,
            sentinel: None,
        }
    }

    /// Clients that send no user JWT log in as `token` (`default_sentinel`).
    pub fn with_sentinel(mut self, token: String) -> Trust {
        self.sentinel = Some(token);
        self
    }

    /// The `default_sentinel` JWT.
    pub fn default_sentinel(&self) -> Option<&str> {
        self.sentinel.as_deref()
    }

    /// Keys trusted as operators' without their JWTs (`trusted_keys`).
    pub fn with_keys(mut self, keys: &[String]) -> Trust {
        self.keys.extend(keys.iter().cloned());
        self
    }

    /// Only these accounts' users may log in (`resolver_pinned_accounts`).
    pub fn with_pinned(mut self, accounts: Vec<String>) -> Trust {
        self.pinned = Some(accounts);
        self
    }

    /// Adds an account the resolver knows, as account `id`.
    pub fn add_account(&mut self, id: u16, account: jwt::Account) {
        self.accounts
            .insert(account.claims.subject.clone(), (id, Arc::new(account)));
    }

    /// The account with public key `key`.
    pub fn account(&self, key: &str) -> Option<(u16, &jwt::Account)> {
        self.accounts.get(key).map(|(id, a)| (*id, &**a))
    }

    /// Whether `key` may issue account JWTs.
    pub fn trusts(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    /// Decides a JWT login (see the module header); `Err` carries the debug
    /// line nats-server logs.
    pub fn login(&self, r: &JwtRequest) -> Result<JwtUser, String> {
        let mut user =
            jwt::decode_user(&r.token).map_err(|e| format!("User JWT not valid: {e}"))?;
        if let Some(why) = user.claims.time_problem(r.now) {
            return Err(format!("User JWT no longer valid: {why}"));
        }
        if !jwt::is_public_key(&user.claims.subject, 'U') {
            return Err("User JWT no longer valid: subject is not a user key".into());
        }
        let issuer = match user.issuer_account.as_str() {
            "" => user.claims.issuer.as_str(),
            a => a,
        };
        if self
            .pinned
            .as_ref()
            .is_some_and(|p| !p.iter().any(|a| a == issuer))
        {
            return Err(format!("Account {issuer} {NOT_PINNED}"));
        }
        let Some((id, account)) = self.account(issuer) else {
            return Err("Account JWT lookup error: account not found".into());
        };
        if !self.trusts(&account.claims.issuer) {
            return Err("Account JWT not signed by trusted operator".into());
        }
        // nats-io/jwt's blocking issues (`validate.rs`) keep every user out.
        if !crate::validate::account_issues(account).is_empty() {
            return Err("Account JWT lookup error: account validation failed".into());
        }
        if let Some(feature) = account.unsupported.first() {
            return Err(format!(
                "account {issuer} uses {feature}, which is not supported by this version of shoal yet"
            ));
        }
        // nats-server: under a strict operator an account signs users only
        // through its signing keys.
        if user.claims.issuer == account.claims.subject
            && self.strict.contains(&account.claims.issuer)
        {
            return Err("User JWT issuer is not known".into());
        }
        if user.claims.issuer != account.claims.subject {
            let Some(key) = account.signing_key(&user.claims.issuer) else {
                return Err("User JWT issuer is not known".into());
            };
            if let Some(scope) = &key.scope {
                if !user.template.is_empty() {
                    return Err(
                        "User JWT is not valid: scoped users require no permissions or limits set"
                            .into(),
                    );
                }
                let mut t = scope.clone();
                if key.templated {
                    crate::templates::apply(&mut t, &user, account)
                        .map_err(|_| "User JWT generated invalid permissions".to_string())?;
                }
                user.template = t;
            }
        }
        // nats-server marks an account expired by a timer at its expiry
        // time: from that second on.
        if account.claims.expires > 0 && r.now >= account.claims.expires {
            return Err("Account JWT has expired".into());
        }
        let t = &user.template;
        if t.bearer_token && account.limits.disallow_bearer {
            return Err("Account does not allow bearer tokens".into());
        }
        if !t.allowed_connection_types.is_empty() {
            let known: Vec<String> = t
                .allowed_connection_types
                .iter()
                .map(|c| c.to_ascii_uppercase())
                .filter(|c| CONNECTION_TYPES.contains(&c.as_str()))
                .collect();
            if known.is_empty() || !known.iter().any(|c| c == r.kind) {
                return Err("Connection type not allowed".into());
            }
        }
        if t.proxy_required {
            return Err(
                "proxy_required: trusted proxies are not supported by this version of shoal yet"
                    .into(),
            );
        }
        if !t.bearer_token {
            if r.sig.is_empty() {
                return Err("Signature missing".into());
            }
            if !nkey::verify(&user.claims.subject, &r.nonce, &r.sig) {
                return Err("Signature not verified".into());
            }
        }
        if account.revoked(&user.claims.subject, user.claims.issued_at) {
            return Err(REVOKED.into());
        }
        // A malformed entry (or a bare address) makes the JWT invalid, as
        // Go's `net.ParseCIDR` does in nats-io/jwt's validation.
        if t.src
            .iter()
            .any(|c| !c.contains('/') || c.trim().parse::<IpAddr>().is_ok())
        {
            return Err("User JWT no longer valid: invalid cidr".into());
        }
        if !t.src.is_empty()
            && !r
                .peer
                .is_some_and(|ip| t.src.iter().any(|c| cidr_contains(c, ip)))
        {
            return Err(format!(
                "Bad src Ip {}",
                r.peer.map(|p| p.to_string()).unwrap_or_default()
            ));
        }
        let mut expires = user.claims.expires;
        if !t.times.is_empty() || !t.locale.is_empty() {
            use crate::times;
            let ranges: Option<Vec<(i64, i64)>> = t
                .times
                .iter()
                .map(|(s, e)| Some((times::parse_time(s)?, times::parse_time(e)?)))
                .collect();
            let Some(ranges) = ranges else {
                return Err("User JWT no longer valid: invalid times".into());
            };
            let Some(now) = times::time_of_day(r.now, &t.locale, r.local_offset) else {
                return Err("User JWT no longer valid: invalid times_location".into());
            };
            if !ranges.is_empty() {
                let Some(left) = times::allowed(&ranges, now) else {
                    return Err(OUTSIDE_TIMES.into());
                };
                // The connection ends with its range, or its JWT if sooner.
                let until = r.now + left;
                expires = if expires == 0 {
                    until
                } else {
                    expires.min(until)
                };
            }
        }
        let permissions = t
            .permissions()
            .or_else(|| account.default_permissions.clone());
        let limits = NatsLimits {
            subs: min_limit(t.limits.subs, account.limits.nats.subs),
            data: min_limit(t.limits.data, account.limits.nats.data),
            payload: min_limit(t.limits.payload, account.limits.nats.payload),
        };
        Ok(JwtUser {
            key: user.claims.subject,
            name: user.claims.name,
            account: id,
            permissions,
            limits,
            expires,
            account_expires: account.claims.expires,
            account_conns: account.limits.conn,
            issuer: user.claims.issuer,
            bearer: t.bearer_token,
            tags: user.tags,
        })
    }
}

/// Whether the CIDR `cidr` (`a.b.c.d/n`, an IPv6 one, or a bare address)
/// contains `ip`; a malformed one contains nothing.
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match cidr.split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = addr.trim().parse::<IpAddr>() else {
        return false;
    };
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return false;
            }
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return false;
            }
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}
