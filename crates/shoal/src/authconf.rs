//! The `authorization` block → [`AuthSettings`], with nats-server 2.15's
//! keys, aliases and error wording (`parseAuthorization`, `parseUsers` and
//! the checks of the `authorization` case in its opts.go):
//!
//! ```text
//! authorization {
//!   user | username: u      password | pass: p      token: t
//!   timeout: 2 | 0.5 | "2s"
//!   users: [ { user | username, password | pass, permissions | permission | authorization }
//!            | { nkey: U..., permissions } ]
//!   default_permissions | default_permission | permissions: { ... }
//! }
//! ```
//!
//! Parts of nats-server's security model Shoal does not have yet are
//! refused by name, never ignored: `allowed_connection_types`,
//! `proxy_required: true`, `auth_callout`.

use shoal_auth::{NkeyUser, PermissionSpec, User};
use shoal_conf::{Kind, Value};

use crate::perms;
use crate::report::{mismatch, string, Report};

/// What the file's `authorization` block says (`None`: not given).
#[derive(Debug, Default, Clone)]
pub struct AuthSettings {
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// Seconds.
    pub timeout: Option<f64>,
    /// `Some` as soon as `users` is present, even empty (as in nats-server).
    pub users: Option<Vec<User>>,
    /// The entries of `users` with an `nkey`.
    pub nkeys: Vec<NkeyUser>,
    /// Where the block is (for the checks made once the file is read).
    pub pos: shoal_conf::Pos,
}

/// Parses the `authorization` block.
pub fn authorization(v: &Value, report: &mut Report) -> Option<AuthSettings> {
    let Some(m) = v.as_map() else {
        mismatch(v, "map[string]interface {}", report);
        return None;
    };
    let mut a = AuthSettings {
        pos: v.pos.clone(),
        ..AuthSettings::default()
    };
    let mut defaults: Option<PermissionSpec> = None;
    for (k, v) in m.iter() {
        let lower = k.to_ascii_lowercase();
        match lower.as_str() {
            "user" | "username" => a.user = string(v, report),
            "pass" | "password" => a.password = string(v, report),
            "token" => a.token = string(v, report),
            "timeout" => a.timeout = timeout(k, v, report),
            "users" => {
                if let Some((users, nkeys)) = users(v, report) {
                    a.users = Some(users);
                    a.nkeys = nkeys;
                }
            }
            "default_permission" | "default_permissions" | "permissions" => {
                defaults = perms::permissions(v, report);
            }
            "auth_callout" | "auth_hook" => report.not_yet(k, &v.pos),
            "proxy_required" => proxy_required(k, v, report),
            _ if v.used_as_variable => {}
            _ => report.error(&v.pos, format!("unknown field {k:?}")),
        }
    }
    // nats-server gives the users without permissions the block's defaults.
    if let Some(d) = defaults {
        for u in a.users.iter_mut().flatten() {
            u.permissions.get_or_insert_with(|| d.clone());
        }
        for u in a.nkeys.iter_mut() {
            u.permissions.get_or_insert_with(|| d.clone());
        }
    }
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    if (set(&a.user) || set(&a.password)) && set(&a.token) {
        report.error(&v.pos, "Cannot have a user/pass and token");
        return None;
    }
    if let Some(users) = &a.users {
        if set(&a.user) {
            report.error(&v.pos, "Can not have a single user/pass and a users array");
            return None;
        }
        if set(&a.token) {
            report.error(&v.pos, "Can not have a token and a users array");
            return None;
        }
        let mut seen = std::collections::HashSet::new();
        for u in users {
            if !seen.insert(u.name.as_str()) {
                report.error(&v.pos, format!("Duplicate user {:?} detected", u.name));
                return None;
            }
        }
        for u in &a.nkeys {
            if !seen.insert(u.key.as_str()) {
                report.error(&v.pos, format!("Duplicate nkey {:?} detected", u.key));
                return None;
            }
        }
    }
    Some(a)
}

/// `proxy_required`: `false` is nats-server's default; `true` needs trusted
/// proxies, which Shoal does not have yet.
fn proxy_required(key: &str, v: &Value, report: &mut Report) {
    match v.as_bool() {
        Some(false) => {}
        Some(true) => report.not_yet(key, &v.pos),
        None => mismatch(v, "bool", report),
    }
}

/// `timeout`: seconds as an integer or a float, or a Go duration string;
/// over a minute is allowed with nats-server's warning.
fn timeout(key: &str, v: &Value, report: &mut Report) -> Option<f64> {
    let secs = match &v.kind {
        Kind::Integer(n) => *n as f64,
        Kind::Float(f) => *f,
        Kind::String(t) => match crate::units::parse_go_duration(t) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => {
                report.error(
                    &v.pos,
                    format!("error parsing authorization config, 'timeout' {e}"),
                );
                return None;
            }
        },
        _ => {
            report.error(
                &v.pos,
                "error parsing authorization config, 'timeout' wrong type",
            );
            return None;
        }
    };
    if secs > 60.0 {
        let shown = match &v.kind {
            Kind::String(t) => t.clone(),
            Kind::Float(f) => f.to_string(),
            _ => (secs as i64).to_string(),
        };
        report.warn_field(
            &v.pos,
            key,
            format!(
                "timeout of {shown} ({secs:.6} seconds) is high, consider keeping it under 60 \
                 seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for example"
            ),
        );
    }
    Some(secs)
}

/// The `users` array: its user/password entries and its nkey entries.
pub(crate) fn users(v: &Value, report: &mut Report) -> Option<(Vec<User>, Vec<NkeyUser>)> {
    let Kind::Array(items) = &v.kind else {
        report.error(
            &v.pos,
            format!(
                "Expected users field to be an array, got {}",
                perms::go_value(v)
            ),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut nkeys = Vec::new();
    for item in items {
        let Some(m) = item.as_map() else {
            report.error(
                &item.pos,
                format!(
                    "Expected user entry to be a map/struct, got {}",
                    perms::go_value(item)
                ),
            );
            continue;
        };
        let mut user = User::default();
        let mut nkey = String::new();
        // nats-server reports a user entry at the last key it read.
        let mut last = &item.pos;
        for (k, v) in m.iter() {
            last = &v.pos;
            match k.to_ascii_lowercase().as_str() {
                "user" | "username" => user.name = string(v, report).unwrap_or_default(),
                "pass" | "password" => user.password = string(v, report).unwrap_or_default(),
                "permission" | "permissions" | "authorization" => {
                    user.permissions = perms::permissions(v, report);
                }
                "nkey" => nkey = string(v, report).unwrap_or_default(),
                "allowed_connection_types" | "connection_types" | "clients" => {
                    report.not_yet(k, &v.pos);
                }
                "proxy_required" => proxy_required(k, v, report),
                _ if v.used_as_variable => {}
                _ => report.error(&v.pos, format!("unknown field {k:?}")),
            }
        }
        if user.name.is_empty() && nkey.is_empty() {
            report.error(last, "User entry requires a user");
            return None;
        }
        if nkey.is_empty() {
            out.push(user);
            continue;
        }
        if !shoal_auth::nkey::is_valid_user_key(&nkey) {
            report.error(last, "Not a valid public nkey for a user");
            return None;
        }
        if !user.name.is_empty() || !user.password.is_empty() {
            report.error(last, "Nkey users do not take usernames or passwords");
            return None;
        }
        nkeys.push(NkeyUser {
            key: nkey,
            permissions: user.permissions,
            account: 0,
        });
    }
    Some((out, nkeys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<AuthSettings>, Report) {
        let map = shoal_conf::parse_str(text, "t.conf").unwrap();
        let mut report = Report::default();
        let a = authorization(map.get("authorization").unwrap(), &mut report);
        (a, report)
    }

    #[test]
    fn users_with_defaults_and_own_permissions() {
        let (a, r) = parse(
            "authorization {\n  default_permissions: { publish: \"a.>\" }\n  users: [\n    {user: x, password: p}\n    {user: y, password: q, permissions: {subscribe: \"b\"}}\n  ]\n  timeout: 0.5\n}\n",
        );
        assert!(r.is_clean(), "{r:?}");
        let a = a.unwrap();
        let users = a.users.unwrap();
        assert_eq!(a.timeout, Some(0.5));
        assert_eq!(users[0].name, "x");
        let d = users[0].permissions.as_ref().unwrap();
        assert_eq!(
            d.publish.as_ref().unwrap().allow.as_deref(),
            Some(&["a.>".to_string()][..])
        );
        assert!(users[1].permissions.as_ref().unwrap().publish.is_none());
    }

    #[test]
    fn contradictions_in_nats_server_words() {
        for (text, want) in [
            (
                "authorization {\n  token: t\n  users: [ {user: a} ]\n}\n",
                "t.conf:1:0: Can not have a token and a users array",
            ),
            (
                "authorization {\n  user: u\n  token: t\n}\n",
                "t.conf:1:0: Cannot have a user/pass and token",
            ),
            (
                "authorization {\n  user: u\n  users: []\n}\n",
                "t.conf:1:0: Can not have a single user/pass and a users array",
            ),
            (
                "authorization {\n  users: [ {user: a}, {user: a} ]\n}\n",
                "t.conf:1:0: Duplicate user \"a\" detected",
            ),
            (
                "authorization {\n  users: [ {password: a} ]\n}\n",
                "t.conf:2:13: User entry requires a user",
            ),
            (
                "authorization {\n  users: [ {nkey: UABC} ]\n}\n",
                "t.conf:2:13: Not a valid public nkey for a user",
            ),
            (
                "authorization {\n  timeout: \"x\"\n}\n",
                "t.conf:2:3: error parsing authorization config, 'timeout' time: invalid duration \"x\"",
            ),
            (
                "authorization {\n  bogus: 1\n}\n",
                "t.conf:2:3: unknown field \"bogus\"",
            ),
        ] {
            let (_, r) = parse(text);
            assert_eq!(r.errors.first().map(String::as_str), Some(want), "{text}");
        }
    }

    #[test]
    fn a_long_timeout_warns() {
        let (a, r) = parse("authorization {\n  timeout: 120\n}\n");
        assert_eq!(a.unwrap().timeout, Some(120.0));
        assert_eq!(r.warnings.len(), 1, "{r:?}");
        assert!(r.warnings[0].contains("timeout of 120 (120.000000 seconds) is high"));
    }
}
