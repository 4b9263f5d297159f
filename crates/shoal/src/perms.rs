//! A `permissions` block of the configuration → [`PermissionSpec`], with
//! nats-server 2.15's keys, aliases, shapes and error wording
//! (`parseUserPermissions`, `parseVariablePermissions`, `parsePermSubjects`,
//! `parseAllowResponses`, `checkPermSubjectArray` in its opts.go):
//!
//! ```text
//! permissions: {
//!   publish | pub | import:    "s" | ["s", ...] | { allow: ..., deny: ... }
//!   subscribe | sub | export:  the same; entries may be "<subject> <queue>"
//!   allow_responses | publish_allow_responses: true | { max: N, expires: "1m" }
//! }
//! ```
//!
//! Errors carry the position of the offending value, as nats-server's do.
//! nats-server walks the block's keys in Go map order (random), so when a
//! block holds several errors their order there varies; here it is the file's.
//!

use std::time::Duration;

use shoal_auth::{PermissionSpec, ResponseRule, SubjectRules};
use shoal_conf::{Kind, Value};
use shoal_subject::is_valid_subscribe_subject;

use crate::report::Report;
use crate::units;

/// Go's `%q`.
fn q(s: &str) -> String {
    shoal_go::quote(s.as_bytes())
}

/// Parses a `permissions` value; `None` after an error that leaves no
/// permissions (the value is not a map).
pub fn permissions(v: &Value, report: &mut Report) -> Option<PermissionSpec> {
    let Some(m) = v.as_map() else {
        report.error(
            &v.pos,
            format!(
                "Expected permissions to be a map/struct, got {}",
                go_value(v)
            ),
        );
        return None;
    };
    let mut spec = PermissionSpec::default();
    for (k, v) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => {
                if let Some(p) = subject_rules(v, false, report) {
                    spec.publish = p;
                }
            }
            "sub" | "subscribe" | "export" => {
                if let Some(p) = subject_rules(v, true, report) {
                    spec.subscribe = p;
                }
            }
            "publish_allow_responses" | "allow_responses" => match &v.kind {
                Kind::Bool(true) => spec.responses = Some(ResponseRule::default()),
                Kind::Bool(false) => spec.responses = None,
                _ => spec.responses = allow_responses(v, report),
            },
            _ if v.used_as_variable => {}
            _ => report.error(
                &v.pos,
                format!("Unknown field {} parsing permissions", q(k)),
            ),
        }
    }
    Some(spec.normalized())
}

/// One direction: a subject, a list (the allow list), or `{allow, deny}`.
/// `Some(None)`: an empty map, which nats-server takes as no permission.
fn subject_rules(v: &Value, queues: bool, report: &mut Report) -> Option<Option<SubjectRules>> {
    let Some(m) = v.as_map() else {
        // nats-server hands this form's checks the bare value, not its
        // token, so these errors carry no position.
        let allow = subjects(v, queues, false, report)?;
        return Some(Some(SubjectRules {
            allow: (!allow.is_empty()).then_some(allow),
            deny: Vec::new(),
        }));
    };
    if m.is_empty() {
        return Some(None);
    }
    let mut rules = SubjectRules::default();
    for (k, v) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "allow" => {
                if let Some(s) = subjects(v, queues, true, report) {
                    // An empty list is no list, as nats-server loads it.
                    rules.allow = (!s.is_empty()).then_some(s);
                }
            }
            "deny" => {
                if let Some(s) = subjects(v, queues, true, report) {
                    rules.deny = s;
                }
            }
            _ if v.used_as_variable => {}
            _ => report.error(
                &v.pos,
                format!(
                    "Unknown field name {} parsing subject permissions, only 'allow' or 'deny' are permitted",
                    q(k)
                ),
            ),
        }
    }
    Some(Some(rules))
}

/// A subject or an array of subjects, each checked (queues: subscribe
/// entries may be `"<subject> <queue>"`); errors at `v`'s position when
/// `positioned`.
fn subjects(v: &Value, queues: bool, positioned: bool, report: &mut Report) -> Option<Vec<String>> {
    let error = |report: &mut Report, pos: &shoal_conf::Pos, msg: String| {
        if positioned {
            report.error(pos, msg);
        } else {
            report.errors.push(msg);
        }
    };
    let list: Vec<String> = match &v.kind {
        Kind::String(s) => vec![s.clone()],
        Kind::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                let Some(s) = i.as_str() else {
                    // This one is built from the item's own token in every
                    // form, so it always has a position.
                    report.error(
                        &i.pos,
                        "Subject in permissions array cannot be cast to string",
                    );
                    return None;
                };
                out.push(s.to_owned());
            }
            out
        }
        _ => {
            error(
                report,
                &v.pos,
                format!(
                    "Expected subject permissions to be a subject, or array of subjects, got {}",
                    go_type_name(v)
                ),
            );
            return None;
        }
    };
    for s in &list {
        if let Err(e) = check_subject(s, queues) {
            error(report, &v.pos, e);
            return None;
        }
    }
    Some(list)
}

/// Go's `IsValidSubject`: the protocol's subject rules, and no form feed
/// (which the protocol itself lets through, in nats-server too).
fn valid(s: &str) -> bool {
    is_valid_subscribe_subject(s.as_bytes()) && !s.contains('\x0c')
}

/// nats-server's `checkPermSubjectArray` for one entry.
fn check_subject(s: &str, queues: bool) -> Result<(), String> {
    if valid(s) {
        return Ok(());
    }
    let bad = || format!("subject {} is not a valid subject", q(s));
    if !queues {
        return Err(bad());
    }
    let parts: Vec<&str> = s.split_whitespace().collect();
    match parts[..] {
        [subject, queue] => {
            if !valid(subject) {
                Err(format!("subject {} is not a valid subject", q(subject)))
            } else if !valid(queue) {
                Err(format!("queue {} is not a valid queue", q(queue)))
            } else {
                Ok(())
            }
        }
        _ => Err(bad()),
    }
}

/// `allow_responses: { max, expires }` (0 keeps a default; negative means
/// unlimited / no expiry).
fn allow_responses(v: &Value, report: &mut Report) -> Option<ResponseRule> {
    let Some(m) = v.as_map() else {
        report.error(
            &v.pos,
            "error parsing response permissions, expected a boolean or a map",
        );
        return None;
    };
    let mut rule = ResponseRule::default();
    for (k, v) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => match v.as_i64() {
                Some(0) => {}
                Some(n) => rule.max_msgs = n,
                // nats-server panics on the type assertion and reports it so.
                None => report.error(
                    &v.pos,
                    format!(
                        "interface conversion: interface {{}} is {}, not int64",
                        go_type_name(v)
                    ),
                ),
            },
            "expires" | "expiration" | "ttl" => {
                let Some(text) = v.as_str() else {
                    report.error(&v.pos, "error parsing expires, not a duration string");
                    return None;
                };
                match expires(text) {
                    Ok(Some(d)) if d.is_zero() => {}
                    Ok(e) => rule.expires = e,
                    Err(e) => {
                        report.error(&v.pos, format!("error parsing expires: {e}"));
                        return None;
                    }
                }
            }
            _ if v.used_as_variable => {}
            _ => report.error(
                &v.pos,
                format!("Unknown field {} parsing permissions", q(k)),
            ),
        }
    }
    Some(rule)
}

/// A Go duration where a negative one means "never expires" (`None`) and
/// zero keeps the default (`Some(0)`); Go's error text, quoting `text`.
fn expires(text: &str) -> Result<Option<Duration>, String> {
    let Some(rest) = text.strip_prefix('-') else {
        return units::parse_go_duration(text).map(Some);
    };
    if rest.starts_with(['+', '-']) {
        return Err(format!("time: invalid duration {}", q(text)));
    }
    match units::parse_go_duration(rest) {
        Ok(d) if d.is_zero() => Ok(Some(d)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.replace(&format!("{rest:?}"), &q(text))),
    }
}

/// Go's `%T` of a config value, as nats-server prints it.
fn go_type_name(v: &Value) -> &'static str {
    v.go_type()
}

/// Go's `%+v` of a config value (enough for the scalar cases users hit).
pub(crate) fn go_value(v: &Value) -> String {
    match &v.kind {
        Kind::String(s) => s.clone(),
        Kind::Integer(n) => n.to_string(),
        Kind::Float(f) => f.to_string(),
        Kind::Bool(b) => b.to_string(),
        Kind::DateTime(s) => s.clone(),
        Kind::Array(_) | Kind::Map(_) => format!("{:?}", v.kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `block` as the permissions of a user entry, in the file
    /// nats-server was given to produce the expected errors:
    /// `authorization { users: [ {user: a, password: b, permissions: BLOCK} ] }`.
    fn parse(block: &str) -> (Option<PermissionSpec>, Vec<String>) {
        let text = format!(
            "authorization {{\n  users: [\n    {{user: a, password: b, permissions: {block}}}\n  ]\n}}\n"
        );
        let map = shoal_conf::parse_str(&text, "t.conf").unwrap();
        let auth = map.get("authorization").unwrap().as_map().unwrap();
        let user = &auth.get("users").unwrap().as_array().unwrap()[0];
        let v = user.as_map().unwrap().get("permissions").unwrap();
        let mut report = Report::default();
        let spec = permissions(v, &mut report);
        (spec, report.errors)
    }

    fn rules(allow: Option<&[&str]>, deny: &[&str]) -> Option<SubjectRules> {
        Some(SubjectRules {
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn every_shape_of_the_spec_page() {
        let (spec, errors) = parse(
            "{ publish: { allow: [\"orders.>\", \"req.*\"], deny: [\"orders.secret\"] }, subscribe: { allow: [\"updates.*\", \"work.q1 workers\"], deny: \"updates.hidden\" }, allow_responses: true }",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let spec = spec.unwrap();
        assert_eq!(
            spec.publish,
            rules(Some(&["orders.>", "req.*"]), &["orders.secret"])
        );
        assert_eq!(
            spec.subscribe,
            rules(Some(&["updates.*", "work.q1 workers"]), &["updates.hidden"])
        );
        assert_eq!(spec.responses, Some(ResponseRule::default()));
    }

    #[test]
    fn aliases_lists_and_strings() {
        let (spec, errors) = parse("{ pub: \"a.>\", SUB: [\"b\", \"c\"] }");
        assert!(errors.is_empty(), "{errors:?}");
        let spec = spec.unwrap();
        assert_eq!(spec.publish, rules(Some(&["a.>"]), &[]));
        assert_eq!(spec.subscribe, rules(Some(&["b", "c"]), &[]));
        let (spec, _) = parse("{ import: x, export: y }");
        let spec = spec.unwrap();
        assert_eq!(spec.publish, rules(Some(&["x"]), &[]));
        assert_eq!(spec.subscribe, rules(Some(&["y"]), &[]));
    }

    #[test]
    fn empty_lists_and_maps_are_no_permission() {
        let (spec, errors) = parse("{ publish: { allow: [] }, subscribe: {} }");
        assert!(errors.is_empty(), "{errors:?}");
        let spec = spec.unwrap();
        assert_eq!(spec.publish, rules(None, &[]));
        assert_eq!(spec.subscribe, None);
    }

    #[test]
    fn responses_with_max_and_expires() {
        let (spec, errors) = parse("{ allow_responses: { max: 5, expires: \"1m\" } }");
        assert!(errors.is_empty(), "{errors:?}");
        let spec = spec.unwrap();
        assert_eq!(
            spec.responses,
            Some(ResponseRule {
                max_msgs: 5,
                expires: Some(Duration::from_secs(60))
            })
        );
        // Responses alone turn publishing off except to replies.
        assert_eq!(spec.publish, rules(Some(&[]), &[]));
        let (spec, _) = parse("{ allow_responses: { max: -1, expires: \"-1s\" } }");
        assert_eq!(
            spec.unwrap().responses,
            Some(ResponseRule {
                max_msgs: -1,
                expires: None
            })
        );
        let (spec, _) = parse("{ allow_responses: { max: 0, ttl: \"0s\" } }");
        assert_eq!(spec.unwrap().responses, Some(ResponseRule::default()));
        let (spec, _) = parse("{ allow_responses: { ttl: \"-0s\" } }");
        assert_eq!(spec.unwrap().responses, Some(ResponseRule::default()));
        let (spec, _) = parse("{ publish: \"x\", allow_responses: false }");
        assert_eq!(spec.unwrap().responses, None);
    }

    /// The texts nats-server 2.15.1 gives for the same files (`nats-server -t
    /// -c FILE`, recorded here on 2026-12-02; FILE as in [`parse`]). Errors of
    /// the bare-string and list forms carry no position there.
    #[test]
    fn errors_in_nats_server_words() {
        for (block, want) in [
            (
                "{ publish: { allw: x } }",
                "t.conf:3:54: Unknown field name \"allw\" parsing subject permissions, only 'allow' or 'deny' are permitted",
            ),
            ("{ publsh: x }", "t.conf:3:43: Unknown field \"publsh\" parsing permissions"),
            ("{ publish: \"a b\" }", "subject \"a b\" is not a valid subject"),
            ("{ publish: \"a\\x0cb\" }", "subject \"a\\fb\" is not a valid subject"),
            ("{ subscribe: \"a b c\" }", "subject \"a b c\" is not a valid subject"),
            ("{ subscribe: \"a ..\" }", "queue \"..\" is not a valid queue"),
            (
                "{ publish: 1 }",
                "Expected subject permissions to be a subject, or array of subjects, got int64",
            ),
            (
                "{ allow_responses: 1 }",
                "t.conf:3:43: error parsing response permissions, expected a boolean or a map",
            ),
            (
                "{ allow_responses: { expires: 5 } }",
                "t.conf:3:62: error parsing expires, not a duration string",
            ),
            (
                "{ allow_responses: { expires: \"5x\" } }",
                "t.conf:3:62: error parsing expires: time: unknown unit \"x\" in duration \"5x\"",
            ),
            ("5", "t.conf:3:28: Expected permissions to be a map/struct, got 5"),
            (
                "{ allow_responses: { expires: \"-5x\" } }",
                "t.conf:3:62: error parsing expires: time: unknown unit \"x\" in duration \"-5x\"",
            ),
            (
                "{ allow_responses: { max: \"x\" } }",
                "t.conf:3:62: interface conversion: interface {} is string, not int64",
            ),
        ] {
            let (_, errors) = parse(block);
            assert_eq!(errors, [want], "{block}");
        }
    }
}
