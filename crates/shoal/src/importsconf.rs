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
use shoal_server::imports::{tokenize, StreamImport, StreamImports};
use shoal_subject::Transform;

use crate::report::{self, Report};

/// A stream export: a subject (with wildcards) and who may import it
/// (`None`: anyone).
#[derive(Debug, Clone)]
pub struct Export {
    pub subject: String,
    pub accounts: Option<Vec<String>>,
}

/// A stream import as written.
#[derive(Debug, Clone)]
pub struct Import {
    pub account: String,
    pub subject: String,
    pub prefix: String,
    pub to: String,
}

fn strings(v: &Value, report: &mut Report) -> Option<Vec<String>> {
    match &v.kind {
        Kind::Array(items) => items.iter().map(|i| report::string(i, report)).collect(),
        _ => report::string(v, report).map(|s| vec![s]),
    }
}

/// `exports: [...]`.
pub fn exports(v: &Value, report: &mut Report) -> Vec<Export> {
    let Kind::Array(items) = &v.kind else {
        report.error(
            &v.pos,
            format!("Exports should be an array, got {}", v.go_type()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(m) = item.as_map() else {
            report.error(
                &item.pos,
                format!(
                    "Export Items should be a map with type entry, got {}",
                    item.go_type()
                ),
            );
            continue;
        };
        let (mut subject, mut accounts) = (None, None);
        for (k, x) in m.iter() {
            match k.to_ascii_lowercase().as_str() {
                "stream" => subject = report::string(x, report),
                "accounts" => accounts = strings(x, report),
                "service"
                | "response"
                | "response_type"
                | "threshold"
                | "response_threshold"
                | "latency"
                | "account_token_position"
                | "allow_trace" => report.not_yet(k, &x.pos),
                _ if x.used_as_variable => {}
                _ => report.error(&x.pos, format!("Unknown field {k:?} parsing export")),
            }
        }
        if let Some(subject) = subject {
            out.push(Export { subject, accounts });
        }
    }
    out
}

/// `imports: [...]`.
pub fn imports(v: &Value, report: &mut Report) -> Vec<Import> {
    let Kind::Array(items) = &v.kind else {
        report.error(
            &v.pos,
            format!("Imports should be an array, got {}", v.go_type()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(m) = item.as_map() else {
            report.error(
                &item.pos,
                format!(
                    "Import Items should be a map with type entry, got {}",
                    item.go_type()
                ),
            );
            continue;
        };
        let mut imp = Import {
            account: String::new(),
            subject: String::new(),
            prefix: String::new(),
            to: String::new(),
        };
        let mut stream = false;
        for (k, x) in m.iter() {
            match k.to_ascii_lowercase().as_str() {
                "stream" => {
                    let Some(sm) = x.as_map() else {
                        report.error(
                            &x.pos,
                            format!("Stream entry should be an account map, got {}", x.go_type()),
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
                    if !imp.prefix.is_empty() {
                        report.error(
                            &x.pos,
                            "Stream import can not have a 'prefix' and a 'to' property",
                        );
                    }
                }
                "service" | "share" | "allow_trace" => report.not_yet(k, &x.pos),
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
    Transform::new(subject, &dest).map_err(|e| {
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
) -> StreamImports {
    let id = |n: &str| names.iter().position(|x| x == n).map(|i| i as u16 + 1);
    let q = |s: &str| shoal_go::quote(s.as_bytes());
    for list in exports {
        for e in list {
            for a in e.accounts.iter().flatten() {
                if id(a).is_none() {
                    report.error(
                        at,
                        format!("{} account not defined for stream export", q(a)),
                    );
                }
            }
        }
    }
    let mut out = StreamImports::default();
    for (i, list) in imports.iter().enumerate() {
        let importer = i as u16 + 1;
        for imp in list {
            let Some(exporter) = id(&imp.account) else {
                report.error(
                    at,
                    format!("{} account not defined for stream import", q(&imp.account)),
                );
                continue;
            };
            let fail = |why: &str, report: &mut Report| {
                report.error(
                    at,
                    format!("Error adding stream import {}: {why}", q(&imp.subject)),
                );
            };
            if !authorized(&exports[usize::from(exporter) - 1], &names[i], &imp.subject) {
                fail("stream import not authorized", report);
                continue;
            }
            match stream_transform(&imp.subject, &imp.prefix, &imp.to) {
                Ok(transform) => out.add(
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
    out
}
