//! An account's `exports` and `imports` → stream imports between accounts,
//! with nats-server 2.15's shapes and wording (`parseAccountExports`,
//! `parseAccountImports`, `parseExportStreamOrService`,
//! `parseImportStreamOrService` and the checks of `parseAccounts`):
//!
//! ```text
//! A: { exports: [ { stream: "events.>", accounts: [B] } ] }
//! B: { imports: [ { stream: { account: A, subject: "events.>" }, prefix: "a" } ] }
//! ```
//!
//! Service exports and imports (request/reply across accounts, with
//! response tracking) are refused by name until Shoal has them, as are
//! `allow_trace` and token-protected exports.

use shoal_conf::{Kind, Pos, Value};
use std::time::Duration;

use shoal_server::imports::{tokenize, StreamImport, StreamImports};
use shoal_server::services::{ResponseType, ServiceImport, ServiceImports};
use shoal_subject::Transform;

use crate::report::{self, Report};

/// A stream export: a subject (with wildcards) and who may import it
/// (`None`: anyone).
#[derive(Debug, Clone)]
pub struct Export {
    pub subject: String,
    pub accounts: Option<Vec<String>>,
    /// A service export (else a stream), its response type and threshold.
    pub service: bool,
    pub response: ResponseType,
    pub threshold: Duration,
}

/// A stream import as written.
#[derive(Debug, Clone)]
pub struct Import {
    pub account: String,
    pub subject: String,
    pub prefix: String,
    pub to: String,
    pub service: bool,
    /// A service import that shares the requester's details.
    pub share: bool,
}

fn strings(v: &Value, report: &mut Report) -> Option<Vec<String>> {
    match &v.kind {
        Kind::Array(items) => items.iter().map(|i| report::string(i, report)).collect(),
        _ => report::string(v, report).map(|s| vec![s]),
    }
}

/// The maps of an `exports`/`imports` array (`what`: `Export`/`Import`),
/// each wrong shape reported in nats-server's words.
fn entries<'a>(v: &'a Value, what: &str, report: &mut Report) -> Vec<&'a shoal_conf::Map> {
    let Kind::Array(items) = &v.kind else {
        report.error(
            &v.pos,
            format!("{what}s should be an array, got {}", v.go_type()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        match item.as_map() {
            Some(m) => out.push(m),
            None => report.error(
                &item.pos,
                format!(
                    "{what} Items should be a map with type entry, got {}",
                    item.go_type()
                ),
            ),
        }
    }
    out
}

/// `exports: [...]`.
pub fn exports(v: &Value, report: &mut Report) -> Vec<Export> {
    let mut out = Vec::new();
    for m in entries(v, "Export", report) {
        let (mut subject, mut accounts) = (None, None);
        let (mut service, mut response) = (false, ResponseType::Single);
        // nats-server's default response threshold.
        let mut threshold = shoal_server::services::DEFAULT_THRESHOLD;
        for (k, x) in m.iter() {
            match k.to_ascii_lowercase().as_str() {
                "stream" => subject = report::string(x, report),
                "service" => {
                    subject = report::string(x, report);
                    service = true;
                }
                "accounts" => accounts = strings(x, report),
                "response" | "response_type" => match report::string(x, report).as_deref() {
                    Some(t) if t.eq_ignore_ascii_case("single") => response = ResponseType::Single,
                    Some(t)
                        if t.eq_ignore_ascii_case("stream")
                            || t.eq_ignore_ascii_case("chunked") =>
                    {
                        response = ResponseType::Stream
                    }
                    Some(t) => report.error(&x.pos, format!("Unknown response type: {t:?}")),
                    None => {}
                },
                "threshold" | "response_threshold" => {
                    match x
                        .as_str()
                        .and_then(|t| crate::units::parse_duration(t).ok())
                    {
                        Some(d) => threshold = d,
                        None => report.error(
                            &x.pos,
                            "response threshold should be a duration such as \"2m\"",
                        ),
                    }
                }
                "latency" | "account_token_position" | "allow_trace" => report.not_yet(k, &x.pos),
                _ if x.used_as_variable => {}
                _ => report.error(&x.pos, format!("Unknown field {k:?} parsing export")),
            }
        }
        if let Some(subject) = subject {
            out.push(Export {
                subject,
                accounts,
                service,
                response,
                threshold,
            });
        }
    }
    out
}

/// `imports: [...]`.
pub fn imports(v: &Value, report: &mut Report) -> Vec<Import> {
    let mut out = Vec::new();
    for m in entries(v, "Import", report) {
        let mut imp = Import {
            account: String::new(),
            subject: String::new(),
            prefix: String::new(),
            to: String::new(),
            service: false,
            share: false,
        };
        let mut stream = false;
        for (k, x) in m.iter() {
            match k.to_ascii_lowercase().as_str() {
                "stream" | "service" => {
                    imp.service = k.eq_ignore_ascii_case("service");
                    let Some(sm) = x.as_map() else {
                        let what = if imp.service { "Service" } else { "Stream" };
                        report.error(
                            &x.pos,
                            format!("{what} entry should be an account map, got {}", x.go_type()),
                        );
                        continue;
                    };
                    for (sk, sv) in sm.iter() {
                        match sk.to_ascii_lowercase().as_str() {
                            "account" => {
                                imp.account = report::string(sv, report).unwrap_or_default()
                            }
                            "subject" => {
                                imp.subject = report::string(sv, report).unwrap_or_default()
                            }
                            _ if sv.used_as_variable => {}
                            _ => report.error(&sv.pos, format!("unknown field {sk:?}")),
                        }
                    }
                    if imp.account.is_empty() || imp.subject.is_empty() {
                        report.error(&x.pos, "Expect an account name and a subject");
                        continue;
                    }
                    stream = true;
                }
                "prefix" => imp.prefix = report::string(x, report).unwrap_or_default(),
                "to" => {
                    imp.to = report::string(x, report).unwrap_or_default();
                    if !imp.prefix.is_empty() && !imp.service {
                        report.error(
                            &x.pos,
                            "Stream import can not have a 'prefix' and a 'to' property",
                        );
                    }
                }
                "share" => match x.as_bool() {
                    Some(b) => imp.share = b,
                    None => report::mismatch(x, "bool", report),
                },
                "allow_trace" => report.not_yet(k, &x.pos),
                _ if x.used_as_variable => {}
                _ => report.error(&x.pos, format!("Unknown field {k:?} parsing import")),
            }
        }
        if stream {
            out.push(imp);
        }
    }
    out
}

/// nats-server's stream import subject: `prefix.subject`, or the `to`
/// mapping, or the subject as it is; `Err` in nats-server's words.
pub fn stream_transform(subject: &str, prefix: &str, to: &str) -> Result<Transform, String> {
    let q = |s: &str| shoal_go::quote(s.as_bytes());
    let to = if !prefix.is_empty() {
        if prefix.split('.').any(|t| t == "*" || t == ">") {
            return Err("stream import prefix can not contain wildcard tokens".into());
        }
        let sep = if prefix.ends_with('.') { "" } else { "." };
        format!("{prefix}{sep}{subject}")
    } else if !to.is_empty() {
        to.to_string()
    } else {
        subject.to_string()
    };
    let dest = if to.split('.').any(|t| t == "*") {
        tokenize(&to)
    } else {
        to.clone()
    };
    // A wildcard import remapped elsewhere must stay reversible
    // (nats-server's `NewSubjectTransformStrict`).
    let strict = to != subject && subject.split('.').any(|t| t == "*" || t == ">");
    let made = if strict {
        Transform::new_strict(subject, &dest)
    } else {
        Transform::new(subject, &dest)
    };
    made.map_err(|e| {
        format!(
            "failed to create mapping transform for stream import subject from {} to {}: {e}",
            q(subject),
            q(&to)
        )
    })
}

/// Whether `exports` lets `importer` import `subject`.
pub fn authorized(exports: &[Export], importer: &str, subject: &str) -> bool {
    exports.iter().any(|e| {
        shoal_auth::is_subset_match(subject.as_bytes(), e.subject.as_bytes())
            && e.accounts
                .as_ref()
                .is_none_or(|a| a.iter().any(|x| x == importer))
    })
}

/// The imports of every account (`names[i]` is account `i + 1`), checked as
/// nats-server checks them once all accounts are read (its errors then name
/// the position of the `accounts` block, `at`).
pub fn resolve(
    names: &[String],
    exports: &[Vec<Export>],
    imports: &[Vec<Import>],
    at: &Pos,
    report: &mut Report,
) -> (StreamImports, ServiceImports) {
    let id = |n: &str| names.iter().position(|x| x == n).map(|i| i as u16 + 1);
    let q = |s: &str| shoal_go::quote(s.as_bytes());
    for list in exports {
        for e in list {
            let kind = if e.service { "service" } else { "stream" };
            for a in e.accounts.iter().flatten() {
                if id(a).is_none() {
                    report.error(
                        at,
                        format!("{} account not defined for {kind} export", q(a)),
                    );
                }
            }
        }
    }
    let mut streams = StreamImports::default();
    let mut services = ServiceImports::default();
    for (i, list) in imports.iter().enumerate() {
        let importer = i as u16 + 1;
        for imp in list {
            let kind = if imp.service { "service" } else { "stream" };
            let Some(exporter) = id(&imp.account) else {
                report.error(
                    at,
                    format!("{} account not defined for {kind} import", q(&imp.account)),
                );
                continue;
            };
            let fail = |why: &str, report: &mut Report| {
                report.error(
                    at,
                    format!("Error adding {kind} import {}: {why}", q(&imp.subject)),
                );
            };
            let offered: Vec<Export> = exports[usize::from(exporter) - 1]
                .iter()
                .filter(|e| e.service == imp.service)
                .cloned()
                .collect();
            if !authorized(&offered, &names[i], &imp.subject) {
                fail(&format!("{kind} import not authorized"), report);
                continue;
            }
            if imp.service {
                // The request's local subject (`to`, else the service's own)
                // maps onto the exporter's.
                let local = if imp.to.is_empty() {
                    &imp.subject
                } else {
                    &imp.to
                };
                let export = offered.iter().find(|e| {
                    shoal_auth::is_subset_match(imp.subject.as_bytes(), e.subject.as_bytes())
                });
                let (response, threshold) = export.map_or(
                    (
                        ResponseType::Single,
                        shoal_server::services::DEFAULT_THRESHOLD,
                    ),
                    |e| (e.response, e.threshold),
                );
                match Transform::new(local, &tokenize(&imp.subject)) {
                    Ok(transform) => services.add(
                        importer,
                        ServiceImport {
                            exporter,
                            transform,
                            response,
                            threshold,
                            share: imp.share,
                        },
                    ),
                    Err(e) => fail(&e.to_string(), report),
                }
                continue;
            }
            match stream_transform(&imp.subject, &imp.prefix, &imp.to) {
                Ok(transform) => streams.add(
                    exporter,
                    StreamImport {
                        importer,
                        transform,
                    },
                ),
                Err(why) => fail(&why, report),
            }
        }
    }
    (streams, services)
}
