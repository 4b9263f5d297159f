//! A scoped signing key's permission templates, as nats-server's
//! `processUserPermissionsTemplate` expands them for each user it signs:
//! `{{name()}}`, `{{subject()}}`, `{{account-name()}}`,
//! `{{account-subject()}}`, `{{tag(x)}}` and `{{account-tag(x)}}` (every
//! value of the user's or the account's tags `x:value`, each combination of
//! a subject's templates emitted, at most 4096 subjects). A template whose
//! result is not a valid subject is dropped from an allow list (an allow
//! list left empty denies `>`) and refuses the login in a deny list.
//!
//! Pure functions.

use crate::jwt::{Account, User, UserTemplate};

/// nats-server's `maxPermTemplateSubjectExpansions`.
const MAX_EXPANSIONS: usize = 4096;

/// The `{{…}}` in `s`, with their byte ranges.
fn mustaches(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = s[from..].find("{{") {
        let start = from + at;
        let Some(len) = s[start + 2..].find("}}") else {
            break;
        };
        // `{{2}([^}]+)}{2}`: at least one character, none of them `}`.
        let inner = &s[start + 2..start + 2 + len];
        if inner.is_empty() || inner.contains('}') {
            from = start + 1;
            continue;
        }
        out.push((start, start + 2 + len + 2));
        from = start + 2 + len + 2;
    }
    out
}

/// The values `{{tag(x)}}` takes: each `x:value` tag's value.
fn tag_values(tags: &[String], name: &str) -> Vec<String> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    tags.iter()
        .filter_map(|t| t.strip_prefix(&prefix).map(str::to_string))
        .collect()
}

fn valid(subject: &str) -> bool {
    shoal_subject::is_valid_subscribe_subject(subject.as_bytes())
}

/// One list expanded. `strict`: an invalid result refuses the login.
fn expand(
    list: &[String],
    user: &User,
    account: &Account,
    strict: bool,
) -> Result<Vec<String>, String> {
    if !list.iter().any(|e| !mustaches(e).is_empty()) {
        return Ok(list.to_vec());
    }
    let mut out: Vec<String> = Vec::new();
    for entry in list {
        let spots = mustaches(entry);
        let mut values: Vec<Vec<String>> = Vec::new();
        for &(a, b) in &spots {
            let op = entry[a + 2..b - 2].trim();
            let lower = op.to_ascii_lowercase();
            let tag = |prefix: &str| {
                (lower.starts_with(prefix) && op.ends_with(')'))
                    .then(|| op[prefix.len()..op.len() - 1].to_string())
            };
            let v = match lower.as_str() {
                "name()" => vec![user.claims.name.clone()],
                "subject()" => vec![user.claims.subject.clone()],
                "account-name()" => vec![if account.claims.name.is_empty() {
                    account.claims.subject.clone()
                } else {
                    account.claims.name.clone()
                }],
                "account-subject()" => vec![user.issuer_account.clone()],
                _ => {
                    let (tags, name) = match (tag("tag("), tag("account-tag(")) {
                        (Some(n), _) => (&user.tags, n),
                        (None, Some(n)) => (&account.tags, n),
                        (None, None) => {
                            return Err(format!(
                                "template operation in {entry:?}: {op:?} is not defined"
                            ))
                        }
                    };
                    let found = tag_values(tags, &name);
                    if found.is_empty() {
                        if strict {
                            return Err(format!(
                                "generated invalid subject {entry:?}: {name:?} is not defined"
                            ));
                        }
                        vec![" ".to_string()]
                    } else {
                        found
                    }
                }
            };
            values.push(v);
        }
        // Every combination of the values, in order.
        let count = values.iter().map(Vec::len).product::<usize>();
        if count > MAX_EXPANSIONS || out.len() + count > MAX_EXPANSIONS {
            return Err(format!(
                "permission template expansion limit exceeded: {MAX_EXPANSIONS}"
            ));
        }
        let mut pick = vec![0usize; values.len()];
        for _ in 0..count {
            let mut subject = entry.clone();
            for (i, &(a, b)) in spots.iter().enumerate() {
                subject = subject.replace(&entry[a..b], &values[i][pick[i]]);
            }
            if valid(&subject) {
                out.push(subject);
            } else if strict {
                return Err("generated invalid subject".into());
            }
            for j in (0..pick.len()).rev() {
                pick[j] += 1;
                if pick[j] < values[j].len() {
                    break;
                }
                pick[j] = 0;
            }
        }
    }
    Ok(out)
}

/// `t` (a scope's template) with its templates expanded for `user` of
/// `account`.
pub fn apply(t: &mut UserTemplate, user: &User, account: &Account) -> Result<(), String> {
    let (sub_allow_was, pub_allow_was) = (!t.sub_allow.is_empty(), !t.pub_allow.is_empty());
    t.sub_allow = expand(&t.sub_allow, user, account, false)?;
    t.sub_deny = expand(&t.sub_deny, user, account, true)?;
    t.pub_allow = expand(&t.pub_allow, user, account, false)?;
    t.pub_deny = expand(&t.pub_deny, user, account, true)?;
    // An allow list emptied by its templates denies everything.
    if sub_allow_was && t.sub_allow.is_empty() && !t.sub_deny.iter().any(|d| d == ">") {
        t.sub_deny.push(">".into());
    }
    if pub_allow_was && t.pub_allow.is_empty() && !t.pub_deny.iter().any(|d| d == ">") {
        t.pub_deny.push(">".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Claims;

    fn user(name: &str, tags: &[&str]) -> User {
        User {
            claims: Claims {
                name: name.into(),
                subject: "UABC".into(),
                ..Claims::default()
            },
            issuer_account: "AXYZ".into(),
            template: UserTemplate::default(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn account(name: &str, tags: &[&str]) -> Account {
        Account {
            claims: Claims {
                name: name.into(),
                subject: "AXYZ".into(),
                ..Claims::default()
            },
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Account::default()
        }
    }

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_function_expands_as_nats_server_does() {
        let mut t = UserTemplate {
            pub_allow: list(&[
                "a.{{name()}}.{{subject()}}",
                "b.{{account-name()}}.{{account-subject()}}",
                "c.{{tag(dept)}}.{{account-tag(region)}}",
                "plain",
            ]),
            ..UserTemplate::default()
        };
        let u = user("bob", &["dept:eng", "dept:ops", "other:x"]);
        apply(&mut t, &u, &account("acme", &["region:eu"])).unwrap();
        assert_eq!(
            t.pub_allow,
            list(&["a.bob.UABC", "b.acme.AXYZ", "c.eng.eu", "c.ops.eu", "plain"])
        );
    }

    #[test]
    fn missing_tags_and_unknown_functions() {
        let a = account("acme", &[]);
        let u = user("bob", &[]);
        // A tag the user lacks: dropped from an allow list (which then denies
        // `>`), refused in a deny list.
        let mut t = UserTemplate {
            sub_allow: list(&["x.{{tag(dept)}}"]),
            ..UserTemplate::default()
        };
        apply(&mut t, &u, &a).unwrap();
        assert!(t.sub_allow.is_empty());
        assert_eq!(t.sub_deny, list(&[">"]));
        let mut t = UserTemplate {
            pub_deny: list(&["x.{{tag(dept)}}"]),
            ..UserTemplate::default()
        };
        assert!(apply(&mut t, &u, &a).is_err());
        let mut t = UserTemplate {
            pub_allow: list(&["x.{{bogus()}}"]),
            ..UserTemplate::default()
        };
        assert_eq!(
            apply(&mut t, &u, &a).unwrap_err(),
            "template operation in \"x.{{bogus()}}\": \"bogus()\" is not defined"
        );
    }
}
