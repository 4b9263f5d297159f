//! Operator mode in the configuration file → [`OperatorSettings`], and the
//! checks that turn it into `shoal-auth`'s [`Trust`], with nats-server
//! 2.15's shapes and wording (`operator`, `resolver`, `resolver_preload`,
//! `system_account`, `trusted` in its opts.go; `validateTrustedOperators`
//! in its jwt.go):
//!
//! ```text
//! operator: /path/op.jwt            # or the JWT inline, or a list
//! resolver: MEMORY
//! resolver_preload: { ACC_PUBLIC_KEY: "eyJ..." }
//! system_account: ACC_PUBLIC_KEY
//! ```
//!
//! Two resolvers: `MEMORY` (the accounts are the preloaded ones, fixed at
//! start) and the full directory resolver (`{ type: full, dir: ... }`, see
//! `dirresolver.rs`: the directory's accounts, and those pushed over the
//! system account while the server runs). A `URL(...)` resolver and the
//! cache directory resolver are refused by name. `trusted_keys` trusts
//! operator keys without their JWTs; `resolver_pinned_accounts` lets only
//! the listed accounts' users in.
//!
//! Account ids are handed out in load order and never change while the
//! server runs: a reload (or a pushed claim) keeps the known accounts'
//! ids ([`OperatorSettings::known`]) and appends new accounts.
//!
//! Reads operator JWT files at load time, before any core runs (as the
//! configuration file itself is read).

use shoal_auth::{jwt, Trust};
use shoal_conf::{Kind, Pos, Value};
use shoal_server::imports::{StreamImport, StreamImports};
use shoal_server::mappings::Mappings;
use shoal_server::services::{ResponseType, ServiceImport, ServiceImports};

use crate::report::{self, Report};

/// What the file says about operators (`None` fields: not set).
#[derive(Debug, Default, Clone)]
pub struct OperatorSettings {
    pub operators: Vec<jwt::Operator>,
    /// Where `operator` was set.
    pub pos: Option<Pos>,
    pub memory_resolver: bool,
    /// `(account key, JWT)` in file order.
    pub preload: Vec<(String, String)>,
    pub system_account: Option<String>,
    /// `resolver { type: full, dir: … }`.
    pub dir_resolver: Option<crate::dirresolver::DirSettings>,
    /// The accounts' keys in id order as the running server has them (empty
    /// at start): a reload keeps their ids.
    pub known: Vec<String>,
    /// `trusted` / `trusted_keys`: operator keys trusted without their JWTs.
    pub trusted_keys: Vec<String>,
    /// `resolver_pinned_accounts`.
    pub pinned: Option<Vec<String>>,
    /// `default_sentinel`: the user JWT of clients that send none.
    pub default_sentinel: Option<String>,
}

/// A string or a list of strings, worded as nats-server's errors for `what`.
fn string_list(v: &Value, what: &str, report: &mut Report) -> Vec<String> {
    match &v.kind {
        Kind::String(s) => vec![s.clone()],
        Kind::Array(items) => items
            .iter()
            .filter_map(|i| match i.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    report.error(
                        &i.pos,
                        format!(
                            "error parsing {what}: unsupported type in array {}",
                            i.go_type()
                        ),
                    );
                    None
                }
            })
            .collect(),
        _ => {
            report.error(
                &v.pos,
                format!("error parsing {what}: unsupported type {}", v.go_type()),
            );
            Vec::new()
        }
    }
}

/// `trusted` / `trusted_keys`: each a public operator key.
pub fn trusted_keys(v: &Value, s: &mut OperatorSettings, report: &mut Report) {
    s.trusted_keys = string_list(v, "trusted", report);
    // nats-server reports the position of the list's last item.
    let pos = v
        .as_array()
        .and_then(|a| a.last())
        .map_or(&v.pos, |i| &i.pos);
    for key in &s.trusted_keys {
        if !jwt::is_public_key(key, 'O') {
            report.error(
                pos,
                format!("trust key {key:?} required to be a valid public operator nkey"),
            );
        }
    }
}

/// `resolver_pinned_accounts`.
pub fn pinned_accounts(v: &Value, s: &mut OperatorSettings, report: &mut Report) {
    s.pinned = Some(string_list(v, "resolver_pinned_accounts", report));
}

/// `operator` (and its aliases): JWT files or inline JWTs.
pub fn operators(v: &Value, s: &mut OperatorSettings, report: &mut Report) {
    let items: Vec<&Value> = match &v.kind {
        Kind::String(_) => vec![v],
        Kind::Array(a) => a.iter().collect(),
        _ => {
            report.error(
                &v.pos,
                format!("error parsing operators: unsupported type {}", v.go_type()),
            );
            return;
        }
    };
    s.pos = Some(v.pos.clone());
    s.operators.clear();
    for item in items {
        let Some(text) = item.as_str() else {
            report.error(
                &v.pos,
                format!(
                    "error parsing operators: unsupported type {} where string is expected",
                    item.go_type()
                ),
            );
            continue;
        };
        match read_operator(text) {
            Ok(o) => s.operators.push(o),
            Err(e) => report.error(&v.pos, format!("error parsing operator JWT: {e}")),
        }
    }
}

/// nats-server's `readOperatorJWT`: a file, else (when it starts as a JWT
/// does) the text itself; a decorated file's JWT block.
fn read_operator(text: &str) -> Result<jwt::Operator, String> {
    let contents = match std::fs::read_to_string(text) {
        Ok(c) => c,
        Err(_) if text.starts_with("eyJ") => text.to_owned(),
        Err(e) => return Err(shoal_go::path_error("open", text.as_ref(), &e)),
    };
    jwt::decode_operator(jwt::undecorate(&contents)).map_err(|e| e.to_string())
}

/// `resolver` (and its aliases).
pub fn resolver(v: &Value, s: &mut OperatorSettings, report: &mut Report) {
    match &v.kind {
        // nats-server matches `(?i)(MEM|MEMORY)` anywhere in the string.
        Kind::String(t) if t.to_ascii_uppercase().contains("MEM") => s.memory_resolver = true,
        Kind::String(t) if t.to_ascii_uppercase().contains("URL") => report.error(
            &v.pos,
            "resolver URL(...) is not supported by this version of shoal yet (use MEMORY)",
        ),
        Kind::String(_) => s.memory_resolver = false,
        Kind::Map(_) => {
            s.memory_resolver = false;
            s.dir_resolver = crate::dirresolver::parse(v, report);
        }
        _ => report::mismatch(v, "string", report),
    }
}

/// `resolver_preload: { KEY: JWT }`: each must be an account JWT.
pub fn preload(v: &Value, s: &mut OperatorSettings, report: &mut Report) {
    let Some(m) = v.as_map() else {
        report.error(
            &v.pos,
            "preload should be a map of account_public_key:account_jwt",
        );
        return;
    };
    s.preload.clear();
    for (key, item) in m.iter() {
        let Some(text) = item.as_str() else {
            report.error(&item.pos, "preload map value should be a string JWT");
            continue;
        };
        if jwt::decode_account(text).is_err() {
            report.error(&item.pos, "invalid account JWT");
            continue;
        }
        s.preload.push((key.to_string(), text.to_owned()));
    }
}

/// Operator mode as the server runs it.
pub struct OperatorMode {
    pub trust: Trust,
    /// The accounts' keys, in id order (ids from 1).
    pub keys: Vec<String>,
    /// The accounts' stream imports of each other and their mappings.
    pub imports: StreamImports,
    pub mappings: Mappings,
    pub services: ServiceImports,
}

/// The operators, checked as `validateTrustedOperators` and server start-up
/// check them, and their accounts. `None` without operators.
///
/// `has_users`: the configuration has users or nkeys; `has_accounts`: an
/// `accounts` block.
pub fn trust(
    s: &OperatorSettings,
    has_users: bool,
    has_accounts: bool,
) -> Result<Option<OperatorMode>, String> {
    let sentinel = s.default_sentinel.clone().filter(|t| !t.is_empty());
    if s.operators.is_empty() {
        // nats-server: `validateTrustedOperators`.
        if sentinel.is_some() {
            return Err("default sentinel requires operators and accounts".into());
        }
        if s.trusted_keys.is_empty() {
            return Ok(None);
        }
    }
    if let Some(t) = &sentinel {
        let user = jwt::decode_user(t).map_err(|_| "default sentinel JWT not valid".to_string())?;
        // A scoped user (no permissions of its own) is checked at login.
        let scoped = !user.issuer_account.is_empty() && user.template.is_empty();
        if !user.template.bearer_token && !scoped {
            return Err("default sentinel must be a bearer token".into());
        }
    }
    if !s.operators.is_empty() && !s.trusted_keys.is_empty() {
        return Err("conflicting options for 'TrustedKeys' and 'TrustedOperators'".into());
    }
    if !s.memory_resolver && s.dir_resolver.is_none() {
        if !s.preload.is_empty() {
            // nats-server makes a (read-only) URL resolver of the operator.
            return Err(
                "resolver preloads only available for writeable resolver types MEM/DIR/CACHE_DIR"
                    .into(),
            );
        }
        let url = s.operators.first().map_or("", |o| &o.account_server_url);
        if !url.is_empty() {
            return Err(
                "resolver URL(...) (the operator's account_server_url) is not supported by this version of shoal yet (use resolver: MEMORY)"
                    .into(),
            );
        }
        // What nats-server 2.15.1 answers for an operator without a URL.
        return Err(
            "could not fetch <\"/accounts/\">: Get \"/accounts/\": unsupported protocol scheme \"\""
                .into(),
        );
    }
    if has_accounts {
        return Err("operators do not allow Accounts to be configured directly".into());
    }
    if has_users {
        return Err("operators do not allow users to be configured directly".into());
    }
    let op_system = s.operators.first().map_or("", |o| &o.system_account);
    let system = match &s.system_account {
        Some(sys) => {
            let named: Vec<&String> = s
                .operators
                .iter()
                .map(|o| &o.system_account)
                .filter(|a| !a.is_empty())
                .collect();
            if !named.is_empty() && !named.contains(&sys) {
                return Err("system_account in config and operator JWT must be identical".into());
            }
            sys.clone()
        }
        None => op_system.to_string(),
    };
    for o in &s.operators {
        if !o.assert_server_version.is_empty() {
            return Err(format!(
                "operator {} asserts a server version ({}), which is not supported by this version of shoal yet",
                o.claims.subject, o.assert_server_version
            ));
        }
    }
    let mut trust = Trust::new(s.operators.clone(), system.clone()).with_keys(&s.trusted_keys);
    if let Some(p) = &s.pinned {
        trust = trust.with_pinned(p.clone());
    }
    if let Some(t) = sentinel {
        trust = trust.with_sentinel(t);
    }
    let entries = match &s.dir_resolver {
        Some(d) => crate::dirresolver::load(d, &s.preload)?,
        None => s.preload.clone(),
    };
    // The known accounts first, in their order (their ids stay), then the
    // new ones. The memory resolver's accounts are fixed while the server
    // runs: its ids are the file's order (a reload that changes them is
    // refused as one that changes the accounts).
    let known: &[String] = if s.dir_resolver.is_some() {
        &s.known
    } else {
        &[]
    };
    let mut ordered: Vec<&(String, String)> = Vec::new();
    for k in known {
        match entries.iter().find(|(key, _)| key == k) {
            Some(e) => ordered.push(e),
            None => {
                return Err(format!(
                    "account {k} is gone from the resolver: removing an account while the server runs is not supported by this version of shoal"
                ))
            }
        }
    }
    ordered.extend(entries.iter().filter(|(key, _)| !known.contains(key)));
    let mut keys = Vec::new();
    for (key, text) in ordered {
        let account = jwt::decode_account(text)
            .map_err(|e| format!("preload account error for {key:?}: {e}"))?;
        // An account is only found under its own key (nats-server's
        // `verifyAccountClaims`).
        if &account.claims.subject != key {
            if known.contains(key) {
                return Err(format!("account {key}: its JWT names another account"));
            }
            continue;
        }
        keys.push(key.clone());
        trust.add_account(keys.len() as u16, account);
    }
    if !system.is_empty() && trust.account(&system).is_none() {
        return Err("error resolving system account: account missing".into());
    }
    let (imports, mappings, services) = rewrites(&trust, &keys)?;
    Ok(Some(OperatorMode {
        trust,
        keys,
        imports,
        mappings,
        services,
    }))
}

/// The preloaded accounts' stream imports and mappings, as nats-server
/// applies an account JWT's (`UpdateAccountClaims`): an import of an
/// account that is not preloaded, or that no public stream export of it
/// covers, is skipped.
fn rewrites(
    trust: &Trust,
    keys: &[String],
) -> Result<(StreamImports, Mappings, ServiceImports), String> {
    let mut services = ServiceImports::default();
    let mut imports = StreamImports::default();
    let mut mappings = Mappings::default();
    for (i, key) in keys.iter().enumerate() {
        let id = i as u16 + 1;
        let Some((_, acc)) = trust.account(key) else {
            continue;
        };
        let mut list = Vec::new();
        for (src, dests) in &acc.mappings {
            let d: Vec<(String, u8)> = dests.iter().map(|(s, w, _)| (s.clone(), *w)).collect();
            // nats-server ignores a mapping it cannot add
            // (`UpdateAccountClaims` drops `AddWeightedMappings`' error).
            match crate::mappingsconf::build(src, &d) {
                Ok(m) => list.push(m),
                Err(e) => log::debug!("Account {key}: mapping {src:?} not added: {e}"),
            }
        }
        mappings.set(id, list);
        for imp in acc.imports.iter().filter(|i| i.kind == "service") {
            let Some((exporter, exp)) = trust.account(&imp.account) else {
                continue;
            };
            // `local_subject` is the importer's; else `subject` is, and
            // `to` (or `subject`) the exporter's (nats-server's
            // UpdateAccountClaims).
            let (local, remote) = if !imp.local_subject.is_empty() {
                (imp.local_subject.as_str(), imp.subject.as_str())
            } else if !imp.to.is_empty() {
                (imp.subject.as_str(), imp.to.as_str())
            } else {
                (imp.subject.as_str(), imp.subject.as_str())
            };
            let Some(export) = exp.exports.iter().find(|e| {
                e.kind == "service"
                    && shoal_auth::is_subset_match(remote.as_bytes(), e.subject.as_bytes())
            }) else {
                continue;
            };
            let response = match export.response_type.as_str() {
                "Stream" | "Chunked" => ResponseType::Stream,
                _ => ResponseType::Single,
            };
            let threshold = match export.response_threshold {
                n if n > 0 => std::time::Duration::from_nanos(n as u64),
                _ => shoal_server::services::DEFAULT_THRESHOLD,
            };
            // nats-server logs a service import it cannot add at debug level
            // and goes on without it.
            let transform = match shoal_subject::Transform::new(
                local,
                &shoal_server::imports::tokenize(remote),
            ) {
                Ok(t) => t,
                Err(e) => {
                    log::debug!("Error adding service import to account [{key}]: {e}");
                    continue;
                }
            };
            services.add(
                id,
                ServiceImport {
                    exporter,
                    transform,
                    response,
                    threshold,
                    share: imp.share,
                },
            );
        }
        for imp in acc.imports.iter().filter(|i| i.kind == "stream") {
            let Some((exporter, exp)) = trust.account(&imp.account) else {
                continue;
            };
            let public: Vec<crate::importsconf::Export> = exp
                .exports
                .iter()
                // Token-protected exports need activation tokens (refused).
                .filter(|e| e.kind == "stream" && !e.token_req && e.account_token_position == 0)
                .map(|e| crate::importsconf::Export {
                    subject: e.subject.clone(),
                    accounts: None,
                    service: false,
                    response: shoal_server::services::ResponseType::Single,
                    threshold: std::time::Duration::ZERO,
                })
                .collect();
            if !crate::importsconf::authorized(&public, key, &imp.subject) {
                continue;
            }
            // A stream import's `to` is its prefix; `local_subject` maps.
            let t = match crate::importsconf::stream_transform(
                &imp.subject,
                &imp.to,
                &imp.local_subject,
            ) {
                Ok(t) => t,
                Err(e) => {
                    log::debug!("Error adding stream import to account [{key}]: {e}");
                    continue;
                }
            };
            imports.add(
                exporter,
                StreamImport {
                    importer: id,
                    transform: t,
                },
            );
        }
    }
    Ok((imports, mappings, services))
}

/// nats-server's start-up lines for its trusted operators (`[INF] Trusted
/// Operators` ... and the warning without a system account).
pub fn banner(s: &OperatorSettings, system: &str) -> (Vec<String>, Vec<String>) {
    if s.operators.is_empty() && s.trusted_keys.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let mut lines = Vec::new();
    if !s.operators.is_empty() {
        lines.push("Trusted Operators".to_owned());
    }
    for o in &s.operators {
        // `System` is the JWT's audience, which operator JWTs leave empty.
        lines.push("  System  : \"\"".to_owned());
        lines.push(format!(
            "  Operator: {}",
            shoal_go::quote(o.claims.name.as_bytes())
        ));
        lines.push(format!(
            "  Issued  : {}",
            shoal_go::unix_time(o.claims.issued_at)
        ));
        lines.push(match o.claims.expires {
            0 => "  Expires : Never".to_owned(),
            t => format!("  Expires : {}", shoal_go::unix_time(t)),
        });
    }
    if let Some(d) = &s.dir_resolver {
        let dir = std::path::absolute(&d.dir).unwrap_or_else(|_| d.dir.clone());
        lines.push(format!(
            "Managing all jwt in exclusive directory {}",
            dir.display()
        ));
    }
    let mut warn = Vec::new();
    if system.is_empty() {
        warn.push("Trusted Operators should utilize a System Account".to_owned());
    }
    // nats-server's `checkResolvePreloads`: the issues of each preloaded
    // account (its users cannot log in).
    for (key, text) in &s.preload {
        let Ok(account) = jwt::decode_account(text) else {
            continue;
        };
        let issues = shoal_auth::validate::account_issues(&account);
        if !issues.is_empty() {
            warn.push(format!("Account [{key}] has validation issues:"));
            warn.extend(issues.iter().map(|i| format!("  - {i}")));
        }
    }
    (lines, warn)
}
