//! The `tls {}` block → [`TlsOptions`], as nats-server's `parseTLS` reads it
//! (keys case-insensitive, its error texts, the first error ends the block),
//! then the files loaded by `shoal_tls::build` with `GenTLSConfig`'s texts,
//! both reported at the block's position as nats-server reports them.
//!
//! Keys nats-server accepts whose feature Shoal lacks are refused by name
//! (`connection_rate_limit`, the Windows certificate store keys, `ocsp_peer`);
//! `insecure` and `allow_insecure_cipher_suites` are accepted: the first only
//! concerns connections a server dials (routes), the second only allows
//! suites that are then refused by name. A `cluster { tls {} }` block is read
//! the same way ([`route_tls`]) and also takes
//! `verify_cert_and_check_known_urls`.

use std::time::Duration;

use shoal_conf::{Kind, Value};
use shoal_tls::{TlsOptions, TlsVersion};

use crate::report::{mismatch, Report};
use crate::units;

/// The `tls` block's options and the configuration they build.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub options: TlsOptions,
    pub config: shoal_tls::ServerConfig,
}

/// A `cluster { tls {} }` block: its options and both sides' configurations.
#[derive(Debug, Clone)]
pub struct RouteTlsSettings {
    pub options: TlsOptions,
    pub configs: shoal_tls::RouteConfigs,
}

/// Where a `tls` block is: nats-server's `parseTLS` allows
/// `verify_cert_and_check_known_urls` only between servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Clients,
    Routes,
}

/// Parses and builds the `tls` block; problems go to `report`.
pub fn tls(v: &Value, report: &mut Report) -> Option<TlsSettings> {
    let o = options(v, Context::Clients, report)?;
    match shoal_tls::build(&o) {
        Ok(config) => Some(TlsSettings { options: o, config }),
        Err(e) => {
            report.error(&v.pos, e);
            None
        }
    }
}

/// Parses and builds a leaf `tls {}` block: the hub's listener (`server`)
/// or a remote's (the client side).
pub fn leaf_tls(v: &Value, server: bool, report: &mut Report) -> Option<shoal_server::LeafTls> {
    let o = options(v, Context::Clients, report)?;
    let built = if server {
        shoal_tls::build(&o).map(|c| (Some(c), None))
    } else {
        shoal_tls::build_client(&o).map(|c| (None, Some(c)))
    };
    match built {
        Ok((server, client)) => Some(shoal_server::LeafTls {
            options: o,
            server,
            client,
        }),
        Err(e) => {
            report.error(&v.pos, e);
            None
        }
    }
}

/// A remote's TLS when only its `tls://` URL asks for it: the defaults.
pub fn leaf_default_client() -> Option<shoal_server::LeafTls> {
    let o = shoal_tls::TlsOptions::default();
    let client = shoal_tls::build_client(&o).ok()?;
    Some(shoal_server::LeafTls {
        options: o,
        server: None,
        client: Some(client),
    })
}

/// Parses and builds a `cluster { tls {} }` block.
pub fn route_tls(v: &Value, report: &mut Report) -> Option<RouteTlsSettings> {
    let o = options(v, Context::Routes, report)?;
    match shoal_tls::build_route(&o) {
        Ok(configs) => Some(RouteTlsSettings {
            options: o,
            configs,
        }),
        Err(e) => {
            report.error(&v.pos, e);
            None
        }
    }
}

fn options(v: &Value, ctx: Context, report: &mut Report) -> Option<TlsOptions> {
    let Some(m) = v.as_map() else {
        mismatch(v, "map[string]interface {}", report);
        return None;
    };
    let mut o = TlsOptions::default();
    let mut insecure: Vec<String> = Vec::new();
    let mut allow_insecure = false;
    for (k, x) in m.iter() {
        let lower = k.to_ascii_lowercase();
        let r: Result<(), Problem> = match lower.as_str() {
            "cert_file" | "key_file" | "ca_file" => file(&lower, x).map(|f| match lower.as_str() {
                "cert_file" => o.cert_file = f,
                "key_file" => o.key_file = f,
                _ => o.ca_file = f,
            }),
            "insecure" => boolean(&lower, x).map(|b| o.insecure = b),
            "verify" => boolean(&lower, x).map(|b| o.verify = b),
            "verify_and_map" => boolean(&lower, x).map(|b| {
                if b {
                    o.verify = true;
                }
                o.map = b;
            }),
            "verify_cert_and_check_known_urls" => boolean(&lower, x).and_then(|b| {
                if b && ctx == Context::Clients {
                    Err("verify_cert_and_check_known_urls not supported in this context".into())
                } else {
                    if b {
                        o.verify = true;
                    }
                    o.check_known_urls = b;
                    Ok(())
                }
            }),
            "allow_insecure_cipher_suites" => boolean(&lower, x).map(|b| allow_insecure = b),
            "cipher_suites" => names(x, "cipher_suites", &mut insecure, shoal_tls::cipher_suite)
                .map(|n| o.ciphers = Some(n)),
            "curve_preferences" => names(x, "curve_preferences", &mut Vec::new(), shoal_tls::curve)
                .map(|n| o.curves = Some(n)),
            "timeout" => timeout(x).map(|t| o.timeout = t),
            "connection_rate_limit" => match x.kind {
                Kind::Integer(0) => Ok(()),
                Kind::Integer(_) => Err(not_yet(k).into()),
                _ => Err("error parsing tls config, 'connection_rate_limit' wrong type".into()),
            },
            "pinned_certs" => pinned(x).map(|p| o.pinned = p),
            "cert_store"
            | "cert_match_by"
            | "cert_match"
            | "ca_certs_match"
            | "cert_match_skip_invalid" => Err(not_yet(k).into()),
            "handshake_first" | "first" | "immediate" => {
                handshake_first(k, x).map(|(on, fallback)| {
                    o.handshake_first = on;
                    o.fallback = fallback;
                })
            }
            "ocsp_peer" => match x.kind {
                Kind::Bool(false) => Ok(()),
                _ => Err(not_yet(k).into()),
            },
            "certs" | "certificates" => certs(x).map(|c| o.certs = c),
            "min_version" => min_version(x).map(|v| o.min_version = v),
            _ => Err(Problem::Here(format!(
                "error parsing tls config, unknown field {k:?}"
            ))),
        };
        match r {
            Ok(()) => {}
            Err(Problem::Here(e)) => {
                report.error(&x.pos, e);
                return None;
            }
            Err(Problem::Item(i, e)) => {
                let items = x.as_array().unwrap_or_default();
                report.error(items.get(i).map_or(&x.pos, |it| &it.pos), e);
                return None;
            }
        }
    }
    if !o.certs.is_empty() && !o.cert_file.is_empty() {
        report.error(
            &v.pos,
            "error parsing tls config, cannot combine 'cert_file' option with 'certs' option",
        );
        return None;
    }
    if !insecure.is_empty() && !allow_insecure {
        report.error(
            &v.pos,
            format!(
                "insecure cipher suites configured without 'allow_insecure_cipher_suites' option set: {}",
                insecure.join(", ")
            ),
        );
        return None;
    }
    if let Some(n) = insecure.first() {
        report.error(
            &v.pos,
            format!("cipher suite {n} is not supported by this version of shoal"),
        );
        return None;
    }
    Some(o)
}

/// A digest of the certificate, key and CA files as they are now, so that a
/// reload with rotated files at the same paths counts as a change.
pub fn files_digest(o: &TlsOptions) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let files = [&o.cert_file, &o.key_file, &o.ca_file]
        .into_iter()
        .chain(o.certs.iter().flat_map(|(c, k)| [c, k]));
    for f in files {
        std::hash::Hash::hash(&std::fs::read(f).unwrap_or_default(), &mut h);
    }
    format!("{:x}", std::hash::Hasher::finish(&h))
}

/// What is wrong with a key's value: the value as a whole, or one item of
/// its list (reported where that item is, as nats-server reports it).
enum Problem {
    Here(String),
    Item(usize, String),
}

impl From<String> for Problem {
    fn from(e: String) -> Problem {
        Problem::Here(e)
    }
}

impl From<&str> for Problem {
    fn from(e: &str) -> Problem {
        Problem::Here(e.to_string())
    }
}

fn not_yet(key: &str) -> String {
    format!("{key:?} is not supported by this version of shoal yet")
}

fn file(key: &str, x: &Value) -> Result<String, Problem> {
    x.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("error parsing tls config, expected '{key}' to be filename").into())
}

fn boolean(key: &str, x: &Value) -> Result<bool, Problem> {
    x.as_bool()
        .ok_or_else(|| format!("error parsing tls config, expected '{key}' to be a boolean").into())
}

/// `cipher_suites`/`curve_preferences`: a non-empty list of known names.
/// Go's insecure suites are collected (refused after the loop, as Go does).
fn names(
    x: &Value,
    key: &str,
    insecure: &mut Vec<String>,
    check: fn(&str) -> Result<(), shoal_tls::CipherError>,
) -> Result<Vec<String>, Problem> {
    let Some(items) = x.as_array() else {
        return Err(Problem::Here(format!(
            "interface conversion: interface {{}} is {}, not []interface {{}}",
            x.go_type()
        )));
    };
    if items.is_empty() {
        return Err(Problem::Here(format!(
            "error parsing tls config, '{key}' cannot be empty"
        )));
    }
    let mut out = Vec::new();
    for it in items {
        let Some(n) = it.as_str() else {
            return Err(Problem::Here(format!(
                "interface conversion: interface {{}} is {}, not string",
                it.go_type()
            )));
        };
        match check(n) {
            Ok(()) => {}
            Err(shoal_tls::CipherError::Insecure(_)) => insecure.push(n.to_string()),
            Err(e) => return Err(Problem::Item(out.len(), e.to_string())),
        }
        out.push(n.to_string());
    }
    Ok(out)
}

fn timeout(x: &Value) -> Result<f64, Problem> {
    match &x.kind {
        Kind::Integer(n) => Ok(*n as f64),
        Kind::Float(f) => Ok(*f),
        Kind::String(s) => units::parse_go_duration(s)
            .map(|d| d.as_secs_f64())
            .map_err(|e| format!("error parsing tls config, 'timeout' {e}").into()),
        _ => Err("error parsing tls config, 'timeout' wrong type".into()),
    }
}

fn pinned(x: &Value) -> Result<Option<Vec<[u8; 32]>>, Problem> {
    let Some(items) = x.as_array() else {
        return Err("error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo".into());
    };
    if items.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let entry = it.as_str().unwrap_or_default().to_ascii_lowercase();
        let bytes = (entry.len() == 64)
            .then(|| {
                (0..32)
                    .map(|i| u8::from_str_radix(&entry[2 * i..2 * i + 2], 16).ok())
                    .collect::<Option<Vec<u8>>>()
            })
            .flatten();
        match bytes {
            Some(b) => out.push(b.try_into().expect("32 bytes")),
            None => return Err(Problem::Item(i, format!("error parsing tls config, 'pinned_certs' key {entry} does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"))),
        }
    }
    Ok(Some(out))
}

/// nats-server's 50 ms when `handshake_first` is `auto`.
const FALLBACK_DELAY: Duration = Duration::from_millis(50);

fn handshake_first(key: &str, x: &Value) -> Result<(bool, Option<Duration>), Problem> {
    match &x.kind {
        Kind::Bool(b) => Ok((*b, None)),
        Kind::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "on" => Ok((true, None)),
            "false" | "off" => Ok((false, None)),
            "auto" | "auto_fallback" => Ok((true, Some(FALLBACK_DELAY))),
            _ => match units::parse_go_duration(s) {
                Ok(d) => Ok((true, Some(d))),
                Err(_) => Err(Problem::Here(format!(
                    "field {key:?}'s value {s:?} is invalid"
                ))),
            },
        },
        _ => Err(Problem::Here(format!(
            "field {key:?} should be a boolean or a string, got {}",
            x.go_type()
        ))),
    }
}

fn certs(x: &Value) -> Result<Vec<(String, String)>, Problem> {
    let Some(items) = x.as_array() else {
        return Err(Problem::Here(format!(
            "error parsing certificates config: unsupported type {}",
            x.go_type()
        )));
    };
    let mut out = Vec::new();
    for it in items {
        let Some(m) = it.as_map() else {
            return Err(Problem::Here(format!(
                "error parsing certificates config: unsupported type {}",
                it.go_type()
            )));
        };
        let (mut c, mut k) = (String::new(), String::new());
        for (name, f) in m.iter() {
            let Some(path) = f.as_str() else {
                return Err(Problem::Here(format!(
                    "error parsing certificates config: unsupported type {}",
                    f.go_type()
                )));
            };
            match name {
                "cert_file" => c = path.to_string(),
                "key_file" => k = path.to_string(),
                _ => {
                    return Err(Problem::Here(format!(
                        "error parsing tls certs config, unknown field {name:?}"
                    )))
                }
            }
        }
        if c.is_empty() || k.is_empty() {
            return Err("error parsing certificates config: both 'cert_file' and 'cert_key' options are required".into());
        }
        out.push((c, k));
    }
    Ok(out)
}

fn min_version(x: &Value) -> Result<Option<TlsVersion>, Problem> {
    let v = match &x.kind {
        Kind::String(s) => match s.as_str() {
            "1.2" => TlsVersion::V12,
            "1.3" => TlsVersion::V13,
            "1.0" | "1.1" => {
                return Err(Problem::Here(format!(
                    "error parsing tls config: unsupported TLS version: TLS {s}"
                )))
            }
            _ => {
                return Err(Problem::Here(format!(
                    "error parsing tls config: unknown version: {s}"
                )))
            }
        },
        _ => {
            return Err(Problem::Here(format!(
                "error parsing tls config: 'min_version' wrong type: {}",
                match &x.kind {
                    Kind::Integer(n) => n.to_string(),
                    Kind::Float(f) => f.to_string(),
                    Kind::Bool(b) => b.to_string(),
                    _ => x.go_type().to_string(),
                }
            )))
        }
    };
    Ok(Some(v))
}
