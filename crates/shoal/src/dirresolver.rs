//! The full directory resolver (`resolver { type: full, dir: … }`), as
//! nats-server 2.15's `DirAccResolver` keeps it: one `<account key>.jwt` file
//! per account in `dir` (created when missing), the preloads stored there
//! at start when newer, and claims pushed over the system account
//! (`$SYS.REQ.CLAIMS.UPDATE`, …) saved there and put in force at once.
//!
//! The store answers on the monitoring thread's blocking pool (file reads
//! and writes, and an update waits for the main thread to rebuild the
//! accounts — the same path as a reload — before it answers "jwt updated").
//! The main thread reads the directory when it loads the options (start-up,
//! SIGHUP, a pushed claim), never a core.
//!
//! Not here (refused by name at start): `type: cache` (a cache that fetches
//! from other servers: Shoal has no cluster), `allow_delete` (accounts are
//! never removed while Shoal runs), `ttl`, `hard_delete`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, SyncSender};
use std::sync::Mutex;
use std::time::Duration;

use shoal_auth::jwt;
use shoal_conf::{Kind, Value};
use shoal_server::claims::{ClaimReply, ClaimStore};

use crate::report::Report;

/// How long a pushed claim may wait for the accounts to be rebuilt.
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// `resolver { type: full, dir, limit, interval, timeout }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSettings {
    pub dir: PathBuf,
    /// Most accounts kept (nats-server: 0 is no limit).
    pub limit: u64,
}

/// Parses the map form of `resolver`, with nats-server's checks.
pub fn parse(v: &Value, report: &mut Report) -> Option<DirSettings> {
    let m = v.as_map()?;
    let mut dir = String::new();
    let mut kind = String::new();
    let mut limit = 0u64;
    for (key, item) in m.iter() {
        let text = || item.as_str().map(str::to_string);
        match key.to_ascii_lowercase().as_str() {
            "dir" => dir = text().unwrap_or_default(),
            "type" => kind = text().unwrap_or_default(),
            "limit" => match &item.kind {
                Kind::Integer(n) if *n >= 0 => limit = *n as u64,
                _ => report.error(&item.pos, "limit must be a non-negative integer"),
            },
            // The store's sync with other servers and its fetch timeout:
            // Shoal has no peers to sync with or fetch from.
            "interval" | "timeout" => match text().map(|t| crate::units::parse_duration(&t)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => report.error(&item.pos, e),
                None => report.error(&item.pos, format!("{key} must be a duration string")),
            },
            "allow_delete" | "hard_delete" => {
                if item.as_bool() == Some(true) {
                    report.error(
                        &item.pos,
                        format!("resolver {key} is not supported by this version of shoal yet (accounts are never removed while it runs)"),
                    );
                }
            }
            "ttl" => report.error(&item.pos, "FULL does not accept ttl"),
            other => report.error(
                &item.pos,
                format!("resolver option {other:?} is not supported by this version of shoal"),
            ),
        }
    }
    match kind.to_ascii_uppercase().as_str() {
        "FULL" => {}
        "CACHE" => {
            report.error(
                &v.pos,
                "the cache directory resolver (resolver { type: cache }) is not supported by this version of shoal yet (use type: full)",
            );
            return None;
        }
        _ => {
            report.error(
                &v.pos,
                "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])",
            );
            return None;
        }
    }
    if dir.is_empty() {
        report.error(&v.pos, "dir has no value and needs to point to a directory");
        return None;
    }
    let path = PathBuf::from(&dir);
    if path.exists() && !path.is_dir() {
        report.error(&v.pos, "dir needs to point to an accessible directory");
        return None;
    }
    Some(DirSettings { dir: path, limit })
}

/// `<dir>/<key>.jwt`, for a key that is an account's public key.
fn path_for(dir: &Path, key: &str) -> Option<PathBuf> {
    (key.len() == 56 && key.starts_with('A') && key.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| dir.join(format!("{key}.jwt")))
}

/// Every stored account: (key, JWT), by key.
fn stored(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(key) = name.strip_suffix(".jwt") else {
            continue;
        };
        if let Ok(text) = std::fs::read_to_string(e.path()) {
            out.push((key.to_string(), text.trim().to_string()));
        }
    }
    out.sort();
    out
}

/// nats-server's `saveIfNewer`: writes unless the stored JWT is the same
/// one (same `jti`) or was issued later.
fn save_if_newer(dir: &Path, key: &str, token: &str) -> Result<(), String> {
    let path = path_for(dir, key).ok_or("invalid public key")?;
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let new = jwt::decode_generic(token).map_err(|e| e.to_string())?;
        if let Ok(old) = jwt::decode_generic(existing.trim()) {
            if old.id == new.id || old.issued_at > new.issued_at {
                return Ok(());
            }
            if new.subject != key {
                return Err("jwt subject nkey and provided nkey do not match".into());
            }
        }
    }
    std::fs::write(&path, token).map_err(|e| e.to_string())
}

/// The directory's accounts at load: the directory created when missing,
/// each preload stored when newer, then every stored JWT.
pub fn load(
    d: &DirSettings,
    preload: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    std::fs::create_dir_all(&d.dir).map_err(|e| {
        format!(
            "could not create resolver directory {}: {e}",
            d.dir.display()
        )
    })?;
    for (key, token) in preload {
        save_if_newer(&d.dir, key, token)?;
    }
    Ok(stored(&d.dir))
}

/// A request from the store to the main thread: rebuild the accounts from
/// the directory, then answer on the channel.
pub type Apply = SyncSender<Result<(), String>>;

/// The store the server asks (see `shoal_server::claims`).
pub struct DirStore {
    settings: DirSettings,
    /// The first operator's key and whether it may sign accounts itself.
    operator: (String, bool),
    apply: Mutex<Sender<Apply>>,
}

impl DirStore {
    /// `operator`: the first trusted operator JWT (none with `trusted_keys`).
    pub fn new(
        settings: DirSettings,
        operator: Option<&jwt::Operator>,
        apply: Sender<Apply>,
    ) -> DirStore {
        DirStore {
            settings,
            operator: operator.map_or((String::new(), false), |o| {
                (o.claims.subject.clone(), o.strict_signing_key_usage)
            }),
            apply: Mutex::new(apply),
        }
    }

    /// Asks the main thread to rebuild the accounts, and waits for it.
    fn put_in_force(&self) -> Result<(), String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let sent = self
            .apply
            .lock()
            .map_err(|_| "resolver poisoned".to_string())?
            .send(tx);
        sent.map_err(|_| "the server is stopping".to_string())?;
        rx.recv_timeout(APPLY_TIMEOUT)
            .map_err(|_| "the accounts were not rebuilt in time".to_string())?
    }

    /// nats-server's `save`: writes (the store's limit checked for a new
    /// account); `Ok(true)` when the file changed.
    fn save(&self, key: &str, token: &str) -> Result<bool, String> {
        let dir = &self.settings.dir;
        let path = path_for(dir, key).ok_or("invalid public key")?;
        match std::fs::read_to_string(&path) {
            Ok(old) if old.trim() == token => return Ok(false),
            Ok(_) => {}
            Err(_) => {
                let limit = self.settings.limit;
                if limit > 0 && stored(dir).len() as u64 >= limit {
                    return Err("jwt store is full".into());
                }
            }
        }
        std::fs::write(&path, token).map_err(|e| e.to_string())?;
        Ok(true)
    }
}

fn reply(account: &str, message: &str, error: Option<String>) -> ClaimReply {
    ClaimReply {
        account: account.to_string(),
        message: message.to_string(),
        error,
    }
}

impl ClaimStore for DirStore {
    fn update(&self, account: Option<&str>, token: &str) -> ClaimReply {
        const FAILED: &str = "jwt update resulted in error";
        let token = token.trim();
        let claim = match jwt::decode_account(token) {
            Ok(c) => c,
            Err(e) => return reply("n/a", FAILED, Some(e.to_string())),
        };
        let key = claim.claims.subject.clone();
        if let Some(acc) = account {
            if acc != key {
                let e = "subject does not match jwt content".to_string();
                return reply(acc, FAILED, Some(e));
            }
        }
        let (op, strict) = &self.operator;
        if *strict && claim.claims.issuer == *op {
            let e = "operator requires issuer to be a signing key".to_string();
            return reply(&key, FAILED, Some(e));
        }
        match self.save(&key, token) {
            Err(e) => reply(&key, FAILED, Some(e)),
            Ok(changed) => {
                if changed {
                    if let Err(e) = self.put_in_force() {
                        log::error!(
                            "DirResolver - Update for account {key:?} resulted in error {e}"
                        );
                    }
                }
                reply(&key, "jwt updated", None)
            }
        }
    }

    fn lookup(&self, account: &str) -> Option<String> {
        let path = path_for(&self.settings.dir, account)?;
        std::fs::read_to_string(path)
            .ok()
            .map(|t| t.trim().to_string())
    }

    fn list(&self) -> Vec<String> {
        stored(&self.settings.dir)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// Deletes are off (refused at start when asked for), so every delete
    /// request is answered as nats-server answers one with deletes off.
    fn delete(&self, request: &str) -> ClaimReply {
        let subject = jwt::decode_generic(request.trim()).map(|c| c.subject);
        let (subject, e) = match subject {
            Ok(s) => (s, "delete must be enabled in server config".to_string()),
            Err(e) => (String::new(), e.to_string()),
        };
        reply(
            "",
            &format!("delete accounts request by {subject} failed"),
            Some(e),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The errors `resolver { … }` gets, and what it parses to.
    fn parsed(body: &str) -> (Option<DirSettings>, Vec<String>) {
        let map = shoal_conf::parse_str(&format!("resolver {{ {body} }}"), "t.conf").unwrap();
        let (_, v) = map.iter().next().unwrap();
        let mut report = Report::default();
        let got = parse(v, &mut report);
        (got, report.errors)
    }

    #[test]
    fn settings_checked_as_nats_server_checks_them() {
        let (got, errors) =
            parsed("type: full, dir: /tmp/x, limit: 5, interval: \"2m\", timeout: \"1.9s\"");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            got,
            Some(DirSettings {
                dir: "/tmp/x".into(),
                limit: 5
            })
        );
        let refused = |body: &str, want: &str| {
            let (got, errors) = parsed(body);
            assert!(
                errors.iter().any(|e| e.contains(want)),
                "{body}: {errors:?}"
            );
            got
        };
        assert_eq!(refused("type: full", "dir has no value"), None);
        assert_eq!(
            refused("type: cache, dir: /tmp/x", "cache directory resolver"),
            None
        );
        assert_eq!(refused("type: nope, dir: /tmp/x", "should be MEM or"), None);
        refused(
            "type: full, dir: /tmp/x, allow_delete: true",
            "allow_delete is not supported",
        );
        refused(
            "type: full, dir: /tmp/x, ttl: \"1h\"",
            "FULL does not accept ttl",
        );
        refused("type: full, dir: /tmp/x, interval: \"soon\"", "");
        refused(
            "type: full, dir: /tmp/x, colour: blue",
            "\"colour\" is not supported",
        );
    }

    #[test]
    fn saves_only_newer_jwts_under_account_keys() {
        let dir = std::env::temp_dir().join(format!("shoal-dirres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = DirSettings {
            dir: dir.clone(),
            limit: 0,
        };
        assert_eq!(load(&d, &[]).unwrap(), Vec::<(String, String)>::new());
        assert!(dir.is_dir(), "created when missing");
        assert_eq!(path_for(&dir, "not-a-key"), None);
        let op = nkeys::KeyPair::new_operator();
        let acc = nkeys::KeyPair::new_account();
        let mint = |jti: &str, iat: i64| {
            let c = serde_json::json!({"jti": jti, "iat": iat, "sub": acc.public_key(), "name": "a",
                "nats": {"type": "account", "version": 2}});
            jwt::encode(&c, &op)
        };
        let (old, new) = (mint("J1", 100), mint("J2", 200));
        let key = acc.public_key();
        assert_eq!(
            load(&d, &[(key.clone(), new.clone())]).unwrap(),
            vec![(key.clone(), new.clone())]
        );
        // An older preload leaves the newer file alone.
        assert_eq!(load(&d, &[(key.clone(), old)]).unwrap(), vec![(key, new)]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
