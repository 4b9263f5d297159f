//! The blocking validation issues of an account JWT, as nats-io/jwt's
//! `AccountClaims.Validate` reports them and nats-server acts on them: a
//! preloaded account with issues is warned about at start-up, and a user of
//! it cannot log in (`fetchAccount` fails with `ErrAccountValidation`).
//!
//! Covered: imports (type, account, subject, `local_subject` renaming, `to`
//! beside it), exports (type, response type and threshold, subject, account
//! token position), mappings (subjects, weights), and the import, export and
//! wildcard-export limits. Not covered (nats-io/jwt's overlap checks between
//! exports, and between service imports of one account): such a JWT is
//! accepted by Shoal.
//!
//! Pure: no I/O, no clock.

use crate::jwt::{Account, Export, Import};

/// Every blocking issue of `a`, in nats-io/jwt's words (empty: valid).
pub fn account_issues(a: &Account) -> Vec<String> {
    let mut v = Vec::new();
    for i in &a.imports {
        import(i, &mut v);
    }
    for e in &a.exports {
        export(e, &mut v);
    }
    for (src, dests) in &a.mappings {
        subject(src, &mut v);
        let mut total = 0u32;
        let mut clusters: Vec<(&str, u32)> = Vec::new();
        for (d, w, cluster) in dests {
            subject(d, &mut v);
            if *w > 100 {
                v.push(format!(
                    "Mapping {} has a weight {w} that exceeds 100",
                    q(src)
                ));
            }
            if cluster.is_empty() {
                total += u32::from(*w);
                continue;
            }
            let t = match clusters.iter_mut().find(|(c, _)| c == cluster) {
                Some((_, t)) => t,
                None => {
                    clusters.push((cluster, 0));
                    &mut clusters.last_mut().expect("pushed").1
                }
            };
            *t += u32::from(*w);
            if *t > 100 {
                v.push(format!(
                    "Mapping {} in cluster {} exceeds 100% among all of it's weighted to mappings",
                    q(src),
                    q(cluster)
                ));
            }
        }
        if total > 100 {
            v.push(format!(
                "Mapping {} exceeds 100% among all of it's weighted to mappings",
                q(src)
            ));
        }
    }
    let l = &a.limits;
    let more_imports = a.imports.len() as i64 > l.imports;
    // nats-io/jwt checks the import limit twice (once only when any limit
    // is set), and says so twice.
    let any_limit = *l != crate::jwt::AccountLimits::default();
    if any_limit && l.imports >= 0 && more_imports {
        v.push("the account contains more imports than allowed by the operator".into());
    }
    if l.imports != -1 && more_imports {
        v.push("the account contains more imports than allowed by the operator".into());
    }
    if l.exports != -1 {
        if a.exports.len() as i64 > l.exports {
            v.push("the account contains more exports than allowed by the operator".into());
        }
        if !l.wildcards {
            for e in &a.exports {
                if has_wildcards(&e.subject) {
                    v.push(
                        "the account contains wildcard exports that are not allowed by the operator"
                            .into(),
                    );
                }
            }
        }
    }
    v
}

/// Go's `%q`.
fn q(s: &str) -> String {
    shoal_go::quote(s.as_bytes())
}

fn has_wildcards(s: &str) -> bool {
    s == "*" || s == ">" || s.split('.').any(|t| t == "*" || t == ">")
}

/// nats-io/jwt's `Subject.Validate`.
fn subject(s: &str, v: &mut Vec<String>) {
    if s.is_empty() {
        v.push("subject cannot be empty".into());
        return;
    }
    if s.contains(' ') {
        v.push(format!("subject {} cannot have spaces", q(s)));
    }
    if s.starts_with('.') || s.ends_with('.') {
        v.push(format!("subject {} cannot start or end with a `.`", q(s)));
    }
    if s.contains("..") {
        v.push(format!("subject {} cannot contain consecutive `.`", q(s)));
    }
}

fn import(i: &Import, v: &mut Vec<String>) {
    if i.kind != "stream" && i.kind != "service" {
        v.push(format!("invalid import type: {}", q(&i.kind)));
    }
    if i.account.is_empty() {
        v.push("account to import from is not specified".into());
    }
    subject(&i.subject, v);
    if !i.local_subject.is_empty() {
        renaming(&i.local_subject, &i.subject, v);
        if !i.to.is_empty() {
            v.push("Local Subject replaces To".into());
        }
    }
}

/// nats-io/jwt's `RenamingSubject.Validate`: a local subject must end in
/// `>` as the import does, and refer to each of its `*`s once.
fn renaming(s: &str, from: &str, v: &mut Vec<String>) {
    subject(s, v);
    if from.is_empty() {
        v.push("subject cannot be empty".into());
    }
    if s.contains(' ') {
        v.push(format!("subject {} cannot have spaces", q(s)));
    }
    let tail = |x: &str| x == ">" || x.ends_with(".>");
    if tail(s) != tail(from) {
        v.push("both, renaming subject and subject, need to end or not end in >".into());
    }
    let from_count = if from == "*" {
        1
    } else {
        from.split('.').filter(|t| *t == "*").count() as i64
    };
    let mut refs = 0i64;
    for t in s.split('.') {
        if t == "*" {
            refs += 1;
        }
        if t.len() < 2 {
            continue;
        }
        if let Some(Ok(idx)) = t.strip_prefix('$').map(str::parse::<i64>) {
            if idx > from_count {
                v.push(format!(
                    "Reference ${idx} in {} reference * in {} that do not exist",
                    q(s),
                    q(from)
                ));
            } else {
                refs += 1;
            }
        }
    }
    if refs != from_count {
        v.push("subject does not contain enough * or reference wildcards $[0-9]".into());
    }
}

fn export(e: &Export, v: &mut Vec<String>) {
    let service = e.kind == "service";
    let stream = e.kind == "stream";
    if !service && !stream {
        v.push(format!("invalid export type: {}", q(&e.kind)));
    }
    if service
        && !matches!(
            e.response_type.as_str(),
            "" | "Singleton" | "Stream" | "Chunked"
        )
    {
        v.push(format!(
            "invalid response type for service: {}",
            q(&e.response_type)
        ));
    }
    if stream && !e.response_type.is_empty() {
        v.push(format!(
            "invalid response type for stream: {}",
            q(&e.response_type)
        ));
    }
    if e.service_latency.is_some() && !service {
        v.push("latency tracking only permitted for services".into());
    }
    if e.response_threshold < 0 {
        v.push("negative response threshold is invalid".into());
    }
    if e.response_threshold > 0 && !service {
        v.push("response threshold only valid for services".into());
    }
    subject(&e.subject, v);
    let p = e.account_token_position;
    if p > 0 {
        if !has_wildcards(&e.subject) {
            v.push(format!(
                "Account Token Position can only be used with wildcard subjects: {}",
                e.subject
            ));
        } else {
            let tokens: Vec<&str> = e.subject.split('.').collect();
            if p as usize > tokens.len() {
                v.push(format!(
                    "Account Token Position {p} exceeds length of subject '{}'",
                    e.subject
                ));
            } else if tokens[p as usize - 1] != "*" {
                v.push(format!(
                    "Account Token Position {p} matches '{}' but must match a * in: {}",
                    tokens[p as usize - 1],
                    e.subject
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::AccountLimits;

    fn unlimited() -> AccountLimits {
        AccountLimits {
            imports: -1,
            exports: -1,
            wildcards: true,
            ..AccountLimits::default()
        }
    }

    fn imp(subject: &str, local: &str) -> Import {
        Import {
            subject: subject.into(),
            account: "A".into(),
            local_subject: local.into(),
            kind: "stream".into(),
            ..Import::default()
        }
    }

    #[test]
    fn renaming_subjects_refer_to_every_wildcard() {
        let mut a = Account {
            limits: unlimited(),
            ..Account::default()
        };
        a.imports = vec![imp("e.*.*", "l.$2.$1"), imp("e.>", "l.>")];
        assert!(account_issues(&a).is_empty(), "{:?}", account_issues(&a));
        a.imports = vec![imp("e.*.*", "l.$1")];
        assert_eq!(
            account_issues(&a),
            ["subject does not contain enough * or reference wildcards $[0-9]"]
        );
        a.imports = vec![imp("e.*", "l.$2")];
        assert_eq!(
            account_issues(&a)[0],
            "Reference $2 in \"l.$2\" reference * in \"e.*\" that do not exist"
        );
        a.imports = vec![imp("e.>", "l")];
        assert_eq!(
            account_issues(&a),
            ["both, renaming subject and subject, need to end or not end in >"]
        );
    }

    #[test]
    fn limits_mappings_and_exports() {
        let a = Account {
            imports: vec![imp("e", "")],
            ..Account::default()
        };
        // No limits at all: the import limit 0 is checked once.
        assert_eq!(
            account_issues(&a),
            ["the account contains more imports than allowed by the operator"]
        );
        let mut a = Account {
            limits: unlimited(),
            ..Account::default()
        };
        a.mappings = vec![(
            "m".into(),
            vec![
                ("x".into(), 60, String::new()),
                ("y".into(), 50, String::new()),
            ],
        )];
        a.exports = vec![Export {
            subject: "s.>".into(),
            kind: "stream".into(),
            response_type: "Stream".into(),
            ..Export::default()
        }];
        assert_eq!(
            account_issues(&a),
            [
                "invalid response type for stream: \"Stream\"",
                "Mapping \"m\" exceeds 100% among all of it's weighted to mappings"
            ]
        );
    }
}
