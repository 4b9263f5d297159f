//! The `accounts` block → [`AccountSettings`], with nats-server 2.15's
//! shapes and wording (`parseAccounts` in its opts.go):
//!
//! ```text
//! accounts: [ A, B ]                       names only
//! accounts {
//!   A { users: [ ... ], default_permissions: { ... } }
//!   B: {}
//! }
//! ```
//!
//! Accounts isolate subjects: a message never crosses from one to another.
//! What nats-server lets accounts share or limit — message tracing, an
//! account `nkey`, JetStream limits per account — is refused by name until
//! Shoal has it, never ignored (`imports`, `exports`, `limits`, `mappings`
//! and `jetstream: enabled` are honoured).

use shoal_auth::{AccountLimits, NkeyUser, User};
use shoal_conf::{Kind, Pos, Value};

use crate::report::Report;

/// The accounts the file configures, in file order (index + 1 is the
/// account's id: 0 is the global account `$G`), and their users.
#[derive(Debug, Default, Clone)]
pub struct AccountSettings {
    pub names: Vec<String>,
    pub users: Vec<User>,
    pub nkeys: Vec<NkeyUser>,
    /// Where the first account with users wrote them (for the cross-checks
    /// with the `authorization` block, reported there as nats-server does).
    pub users_pos: Option<Pos>,
    /// Each account's `limits` (`names[i]`'s are `limits[i]`).
    pub limits: Vec<AccountLimits>,
    /// Each account's `mappings`, by the same index.
    pub mappings: Vec<Vec<shoal_server::mappings::Mapping>>,
    /// The stream and service imports between the accounts, checked.
    pub stream_imports: shoal_server::imports::StreamImports,
    pub service_imports: shoal_server::services::ServiceImports,
    /// Accounts of the running server the file no longer names (a reload).
    pub retired: Vec<String>,
    /// The accounts with `jetstream: enabled`.
    pub jetstream: Vec<String>,
}

/// The checks nats-server makes between the `authorization` block and the
/// accounts' users, once both are read: a single user or a token cannot be
/// used with users in accounts, and a name is one user only.
pub fn cross_check(
    auth: Option<&crate::authconf::AuthSettings>,
    accounts: &AccountSettings,
    report: &mut Report,
) {
    let Some(at) = &accounts.users_pos else {
        return;
    };
    if let Some(auth) = auth {
        let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        if set(&auth.user) {
            report.error(
                &auth.pos,
                "Can not have a single user/pass and a users array",
            );
        } else if set(&auth.token) {
            report.error(&auth.pos, "Can not have a token and a users array");
        }
        let mut seen: std::collections::HashSet<&str> = auth
            .users
            .iter()
            .flatten()
            .map(|u| u.name.as_str())
            .chain(auth.nkeys.iter().map(|u| u.key.as_str()))
            .collect();
        // Reported where the later of the two blocks is, as nats-server reads
        // the file in order and checks when it meets the second.
        let later = (auth.pos.line, auth.pos.col) > (at.line, at.col);
        let at = if later { &auth.pos } else { at };
        let names = accounts.users.iter().map(|u| ("user", u.name.as_str()));
        let keys = accounts.nkeys.iter().map(|u| ("nkey", u.key.as_str()));
        for (what, name) in names.chain(keys) {
            if !seen.insert(name) {
                report.error(at, format!("Duplicate {what} {name:?} detected"));
                return;
            }
        }
    }
}

/// The accounts' order, which is their ids: a running server's (`known`,
/// kept even when the file no longer names one: an id is never reused)
/// first, then the file's new ones in file order.
fn order(file: Vec<String>, known: &[String], retired: &mut Vec<String>) -> Vec<String> {
    retired.extend(known.iter().filter(|k| !file.contains(k)).cloned());
    let mut out: Vec<String> = known.to_vec();
    out.extend(file.into_iter().filter(|n| !known.contains(n)));
    out
}

/// Parses the `accounts` block; `known`: the accounts of the running server
/// (a reload), in id order.
pub fn accounts(v: &Value, known: &[String], report: &mut Report) -> Option<AccountSettings> {
    let mut a = AccountSettings::default();
    match &v.kind {
        Kind::Array(items) => {
            for item in items {
                let Some(name) = item.as_str() else {
                    crate::report::mismatch(item, "string", report);
                    continue;
                };
                if name == "$G" {
                    report.error(&item.pos, format!("{name:?} is a Reserved Account"));
                } else if a.names.iter().any(|n| n == name) {
                    report.error(&item.pos, format!("Duplicate Account Entry: {name}"));
                } else {
                    a.names.push(name.to_string());
                }
            }
            a.names = order(std::mem::take(&mut a.names), known, &mut a.retired);
        }
        Kind::Map(m) => {
            let file: Vec<String> = m
                .iter()
                .filter(|(name, acc)| {
                    !acc.used_as_variable && acc.as_map().is_some() && *name != "$G"
                })
                .map(|(name, _)| name.to_string())
                .collect();
            a.names = order(file, known, &mut a.retired);
            let n = a.names.len();
            a.limits = vec![AccountLimits::NONE; n];
            a.mappings = vec![Vec::new(); n];
            let (mut exports, mut imports) = (vec![Vec::new(); n], vec![Vec::new(); n]);
            for (name, acc) in m.iter() {
                if acc.used_as_variable {
                    continue;
                }
                let Some(fields) = acc.as_map() else {
                    report.error(&acc.pos, "Expected map entries for accounts");
                    continue;
                };
                if name == "$G" {
                    report.error(&acc.pos, format!("{name:?} is a Reserved Account"));
                    continue;
                }
                let Some(at) = a.names.iter().position(|x| x == name) else {
                    continue;
                };
                let id = at as u16 + 1;
                let (mut users, mut nkeys) = (Vec::new(), Vec::new());
                let mut defaults = None;
                let mut users_at = acc.pos.clone();
                for (k, v) in fields.iter() {
                    match k.to_ascii_lowercase().as_str() {
                        "users" => {
                            users_at = v.pos.clone();
                            if let Some((u, n)) = crate::authconf::users(v, report) {
                                (users, nkeys) = (u, n);
                                if a.users_pos.is_none() && !(users.is_empty() && nkeys.is_empty())
                                {
                                    a.users_pos = Some(v.pos.clone());
                                }
                            }
                        }
                        "default_permissions" => defaults = crate::perms::permissions(v, report),
                        "limits" => {
                            if let Some(l) = limits(v, report) {
                                a.limits[usize::from(id) - 1] = l;
                            }
                        }
                        "mappings" | "maps" => {
                            if let Some(m) = crate::mappingsconf::mappings(v, report) {
                                a.mappings[usize::from(id) - 1] = m;
                            }
                        }
                        "exports" => {
                            exports[usize::from(id) - 1] = crate::importsconf::exports(v, report)
                        }
                        "imports" => {
                            imports[usize::from(id) - 1] = crate::importsconf::imports(v, report)
                        }
                        "jetstream" => match &v.kind {
                            Kind::Bool(true) => a.jetstream.push(name.to_string()),
                            Kind::Bool(false) => {}
                            Kind::String(s)
                                if s.eq_ignore_ascii_case("enabled")
                                    || s.eq_ignore_ascii_case("enable") =>
                            {
                                a.jetstream.push(name.to_string())
                            }
                            Kind::String(s)
                                if s.eq_ignore_ascii_case("disabled")
                                    || s.eq_ignore_ascii_case("disable") => {}
                            // Limits per account are not enforced yet.
                            _ => report.not_yet("jetstream limits of an account", &v.pos),
                        },
                        "nkey" | "msg_trace" | "trace_dest" => report.not_yet(k, &v.pos),
                        _ if v.used_as_variable => {}
                        _ => report.error(&v.pos, format!("unknown field {k:?}")),
                    }
                }
                for u in users.iter_mut() {
                    u.account = id;
                    if u.permissions.is_none() {
                        u.permissions.clone_from(&defaults);
                    }
                }
                for u in nkeys.iter_mut() {
                    u.account = id;
                    if u.permissions.is_none() {
                        u.permissions.clone_from(&defaults);
                    }
                }
                for u in &users {
                    if a.users.iter().any(|x| x.name == u.name) {
                        report.error(&users_at, format!("Duplicate user {:?} detected", u.name));
                    }
                }
                a.users.extend(users);
                a.nkeys.extend(nkeys);
            }
            (a.stream_imports, a.service_imports) =
                crate::importsconf::resolve(&a.names, &exports, &imports, &v.pos, report);
        }
        _ => {
            crate::report::mismatch(v, "map[string]interface {}", report);
            return None;
        }
    }
    Some(a)
}

/// An account's `limits { max_connections, max_subscriptions, max_payload,
/// max_leafnodes }` (nats-server's `parseAccountLimits`; unset: no limit).
/// `max_leafnodes` limits leaf node connections, which Shoal does not
/// accept at all: inert.
fn limits(v: &Value, report: &mut Report) -> Option<AccountLimits> {
    let Some(m) = v.as_map() else {
        // Go's `%+v` of a scalar is its text.
        let text = match (&v.kind, v.as_str(), v.as_i64()) {
            (_, Some(t), _) => t.to_string(),
            (_, _, Some(n)) => n.to_string(),
            (Kind::Bool(b), _, _) => b.to_string(),
            _ => v.go_type().to_string(),
        };
        report.error(
            &v.pos,
            format!("Expected account limits to be a map/struct, got {text}"),
        );
        return None;
    };
    let mut l = AccountLimits::NONE;
    for (k, x) in m.iter() {
        let slot = match k.to_ascii_lowercase().as_str() {
            "max_connections" | "max_conn" => &mut l.conn,
            "max_subscriptions" | "max_subs" => &mut l.subs,
            "max_payload" | "max_pay" => &mut l.payload,
            "max_leafnodes" | "max_leafs" => &mut l.leafs,
            _ if x.used_as_variable => continue,
            _ => {
                report.error(
                    &x.pos,
                    format!("Unknown field {k:?} parsing account limits"),
                );
                continue;
            }
        };
        match x.as_i64() {
            // nats-server keeps an int32.
            Some(n) => *slot = i64::from(n as i32),
            None => crate::report::mismatch(x, "int64", report),
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<AccountSettings>, Report) {
        let map = shoal_conf::parse_str(text, "t.conf").unwrap();
        let mut report = Report::default();
        let a = accounts(map.get("accounts").unwrap(), &[], &mut report);
        (a, report)
    }

    #[test]
    fn a_reload_keeps_the_known_accounts_ids() {
        let map = shoal_conf::parse_str(
            "accounts {\n  A { users: [ {user: a, password: p} ] }\n  B { users: [ {user: b, password: p} ] }\n}\n",
            "t.conf",
        )
        .unwrap();
        let mut report = Report::default();
        let known = ["B".to_string(), "GONE".to_string()];
        let a = accounts(map.get("accounts").unwrap(), &known, &mut report).unwrap();
        assert!(report.is_clean(), "{report:?}");
        // B keeps id 1, the account the file dropped keeps id 2 (no users),
        // A is new: id 3.
        assert_eq!(a.names, ["B", "GONE", "A"]);
        let id = |u: &str| a.users.iter().find(|x| x.name == u).unwrap().account;
        assert_eq!((id("a"), id("b")), (3, 1));
        assert_eq!(a.limits.len(), 3);
        assert_eq!(a.retired, ["GONE"]);
    }

    #[test]
    fn accounts_with_users_and_defaults() {
        let (a, r) = parse(
            "accounts {\n  A { users: [ {user: a, password: p} ], default_permissions: { publish: x } }\n  B { users: [ {user: b, password: p, permissions: {}} ] }\n}\n",
        );
        assert!(r.is_clean(), "{r:?}");
        let a = a.unwrap();
        assert_eq!(a.names, ["A", "B"]);
        assert_eq!((a.users[0].account, a.users[1].account), (1, 2));
        assert!(a.users[0].permissions.as_ref().unwrap().publish.is_some());
    }

    #[test]
    fn refusals_in_nats_server_words() {
        for (text, want) in [
            (
                "accounts: [ A, A ]\n",
                "t.conf:1:15: Duplicate Account Entry: A",
            ),
            (
                "accounts: [ \"$G\" ]\n",
                "t.conf:1:13: \"$G\" is a Reserved Account",
            ),
            (
                "accounts { A: 1 }\n",
                "t.conf:1:11: Expected map entries for accounts",
            ),
            (
                "accounts { A { jetstream: { max_mem: 1 } } }\n",
                "t.conf:1:15: \"jetstream limits of an account\" is not supported by this version of shoal yet",
            ),
            (
                "accounts { A { bogus: 1 } }\n",
                "t.conf:1:15: unknown field \"bogus\"",
            ),
            // Checked with nats-server 2.15.1 -t.
            (
                "accounts { A { limits: { bogus: 1 } } }\n",
                "t.conf:1:25: Unknown field \"bogus\" parsing account limits",
            ),
            (
                "accounts { A { limits: 5 } }\n",
                "t.conf:1:15: Expected account limits to be a map/struct, got 5",
            ),
        ] {
            let (_, r) = parse(text);
            assert_eq!(r.errors.first().map(String::as_str), Some(want), "{text}");
        }
    }
}
