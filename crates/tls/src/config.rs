//! nats-server's `tls {}` options → a rustls [`ServerConfig`], as its
//! `GenTLSConfig` builds a Go `tls.Config`: the same checks in the same order
//! and the same error texts (`missing 'key_file' in TLS configuration`,
//! `error parsing X509 certificate/key pair: open c.pem: no such file or
//! directory`, `failed to parse root ca certificate`).
//!
//! What Go has and rustls (with ring) does not is refused by name, never
//! dropped: CBC and RSA-key-exchange cipher suites, the P-521 and ML-KEM
//! curves. TLS 1.3's suites are not configurable in Go (`cipher_suites` only
//! shapes TLS 1.2) and are not here either.
//!
//! Reads files: runs on the main thread at start-up and on a reload, never on
//! a core.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::ring as provider;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, SupportedCipherSuite};

/// `min_version`: TLS 1.2 (the floor, as in nats-server) or 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    V12,
    V13,
}

/// The `tls {}` block (or the `--tls*` flags) as parsed, before any file is
/// read. Cipher and curve names were checked one by one when parsed (see
/// [`cipher_suite`]/[`curve`]), so the configuration file can say where a bad
/// one is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    pub cert_file: String,
    pub key_file: String,
    pub ca_file: String,
    /// `certs: [{cert_file, key_file}]`: several identities, chosen by SNI.
    pub certs: Vec<(String, String)>,
    /// `verify` (or `verify_and_map`): client certificates required.
    pub verify: bool,
    /// `verify_and_map`: the certificate names the user.
    pub map: bool,
    /// `timeout`, seconds; 0 = nats-server's default (2 s).
    pub timeout: f64,
    /// `handshake_first`: TLS before INFO; with `fallback`, INFO in clear
    /// after that long without a ClientHello.
    pub handshake_first: bool,
    pub fallback: Option<Duration>,
    /// `cipher_suites` (Go names; `None` = the defaults).
    pub ciphers: Option<Vec<String>>,
    /// `curve_preferences` (Go names; `None` = the defaults).
    pub curves: Option<Vec<String>>,
    pub min_version: Option<TlsVersion>,
    /// `pinned_certs`: SHA-256 digests of allowed client keys (SPKI DER).
    pub pinned: Option<Vec<[u8; 32]>>,
    /// `insecure`: a connection this server dials (a route) does not verify
    /// the peer's certificate.
    pub insecure: bool,
    /// `verify_cert_and_check_known_urls` (routes only): a peer whose
    /// certificate names one of the configured routes' hosts is admitted.
    pub check_known_urls: bool,
}

impl TlsOptions {
    /// The handshake limit (`timeout`, or nats-server's 2 s).
    pub fn timeout(&self) -> Duration {
        if self.timeout > 0.0 {
            Duration::try_from_secs_f64(self.timeout).unwrap_or(Duration::from_secs(2))
        } else {
            Duration::from_secs(2)
        }
    }
}

/// Why [`build`] failed, worded as nats-server's `GenTLSConfig` words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// Why a cipher suite or curve name is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CipherError {
    /// Go does not know the name: `unrecognized cipher X`.
    UnknownCipher(String),
    /// `unrecognized curve preference X`.
    UnknownCurve(String),
    /// Go knows it, rustls does not implement it.
    Unsupported(String),
    /// One of Go's insecure suites (allowed there only with
    /// `allow_insecure_cipher_suites`, and not implemented here).
    Insecure(String),
}

impl fmt::Display for CipherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CipherError::UnknownCipher(n) => write!(f, "unrecognized cipher {n}"),
            CipherError::UnknownCurve(n) => write!(f, "unrecognized curve preference {n}"),
            CipherError::Unsupported(n) => {
                write!(f, "{n} is not supported by this version of shoal")
            }
            CipherError::Insecure(n) => write!(f, "{n} is insecure and not supported by shoal"),
        }
    }
}

/// Go's secure TLS 1.2 suites that rustls implements, by Go's name.
const TLS12_SUITES: &[(&str, SupportedCipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// TLS 1.3 suites: Go lists them, and ignores them in `cipher_suites`.
const TLS13_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Go's secure suites rustls lacks (CBC).
const UNSUPPORTED_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

/// Go's `tls.InsecureCipherSuites()`.
const INSECURE_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// The `cipher_suites` names honoured here (`--help_tls`).
pub fn cipher_names() -> impl Iterator<Item = &'static str> {
    TLS13_NAMES
        .iter()
        .copied()
        .chain(TLS12_SUITES.iter().map(|(n, _)| *n))
}

/// The `curve_preferences` names honoured here.
pub const CURVE_NAMES: &[&str] = &["X25519", "CurveP256", "CurveP384"];

/// Checks one `cipher_suites` name: known to Go and honoured here.
pub fn cipher_suite(name: &str) -> Result<(), CipherError> {
    if TLS12_SUITES.iter().any(|(n, _)| *n == name) || TLS13_NAMES.contains(&name) {
        Ok(())
    } else if UNSUPPORTED_SUITES.contains(&name) {
        Err(CipherError::Unsupported(format!("cipher suite {name}")))
    } else if INSECURE_SUITES.contains(&name) {
        Err(CipherError::Insecure(format!("cipher suite {name}")))
    } else {
        Err(CipherError::UnknownCipher(name.to_string()))
    }
}

/// Checks one `curve_preferences` name.
pub fn curve(name: &str) -> Result<(), CipherError> {
    match name {
        "X25519" | "CurveP256" | "CurveP384" => Ok(()),
        "CurveP521" | "X25519MLKEM768" | "SecP256r1MLKEM768" | "SecP384r1MLKEM1024" => {
            Err(CipherError::Unsupported(format!("curve preference {name}")))
        }
        _ => Err(CipherError::UnknownCurve(name.to_string())),
    }
}

/// The rustls configuration the options describe, files read and checked.
pub fn build(o: &TlsOptions) -> Result<Arc<rustls::ServerConfig>, BuildError> {
    let err = |m: String| BuildError(m);
    let identities: Vec<Arc<CertifiedKey>> = match (o.cert_file.is_empty(), o.key_file.is_empty()) {
        (false, true) => return Err(err("missing 'key_file' in TLS configuration".into())),
        (true, false) => return Err(err("missing 'cert_file' in TLS configuration".into())),
        (false, false) => vec![load_pair(&o.cert_file, &o.key_file)
            .map_err(|e| err(format!("error parsing X509 certificate/key pair: {e}")))?],
        (true, true) => {
            let n = o.certs.len();
            let mut v = Vec::with_capacity(n);
            for (i, (c, k)) in o.certs.iter().enumerate() {
                v.push(load_pair(c, k).map_err(|e| {
                    err(format!(
                        "error parsing X509 certificate/key pair {}/{n}: {e}",
                        i + 1
                    ))
                })?);
            }
            v
        }
    };
    if identities.is_empty() {
        // Go starts and fails every handshake; a server that can never
        // complete one is refused here instead.
        return Err(err(
            "TLS Server certificate must be present and valid".into()
        ));
    }
    let roots = if o.ca_file.is_empty() {
        None
    } else {
        Some(load_roots(&o.ca_file).map_err(err)?)
    };
    let provider = Arc::new(crypto_provider(o)?);
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(o))
        .map_err(|e| err(e.to_string()))?;
    let builder = if o.verify {
        // Go verifies against the system roots when no ca_file is given.
        let roots = match roots {
            Some(r) => r,
            None => system_roots(),
        };
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| err(format!("failed to parse root ca certificate: {e}")))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(Arc::new(BySni(identities)));
    // The server's order of suites wins, as nats-server asks Go for
    // (PreferServerCipherSuites).
    config.ignore_client_order = true;
    // Session tickets, as Go's server issues them (one per TLS 1.3
    // handshake): a client that keeps them (rustls clients do) resumes
    // without the certificate work. Stateless (the ticket carries the
    // session, the client's verified certificates included), so no session
    // cache is shared between cores; 0-RTT stays off.
    config.ticketer = provider::Ticketer::new().map_err(|e| err(e.to_string()))?;
    config.send_tls13_tickets = 1;
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(Arc::new(config))
}

/// `min_version`'s protocol versions.
pub(crate) fn versions(o: &TlsOptions) -> &'static [&'static rustls::SupportedProtocolVersion] {
    static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static BOTH: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    match o.min_version {
        Some(TlsVersion::V13) => &TLS13_ONLY,
        _ => &BOTH,
    }
}

/// Go's order of preference (with AES hardware): AES-128-GCM, AES-256-GCM,
/// ChaCha20 (TLS 1.3); the same with ECDSA before RSA (TLS 1.2).
const PREFERENCE: &[SupportedCipherSuite] = &[
    provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
    provider::cipher_suite::TLS13_AES_256_GCM_SHA384,
    provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    provider::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// ring's provider, with the configured TLS 1.2 suites and curves.
pub(crate) fn crypto_provider(o: &TlsOptions) -> Result<CryptoProvider, BuildError> {
    let mut p = provider::default_provider();
    p.cipher_suites = PREFERENCE.to_vec();
    if let Some(names) = &o.ciphers {
        for n in names {
            cipher_suite(n).map_err(|e| BuildError(e.to_string()))?;
        }
        p.cipher_suites.retain(|s| match s {
            SupportedCipherSuite::Tls13(_) => true,
            SupportedCipherSuite::Tls12(_) => TLS12_SUITES
                .iter()
                .any(|(n, x)| x.suite() == s.suite() && names.iter().any(|m| m == n)),
        });
    }
    if let Some(names) = &o.curves {
        let mut groups = Vec::new();
        for n in names {
            curve(n).map_err(|e| BuildError(e.to_string()))?;
            let g: &'static dyn rustls::crypto::SupportedKxGroup = match n.as_str() {
                "X25519" => provider::kx_group::X25519,
                "CurveP256" => provider::kx_group::SECP256R1,
                _ => provider::kx_group::SECP384R1,
            };
            if !groups
                .iter()
                .any(|x: &&dyn rustls::crypto::SupportedKxGroup| x.name() == g.name())
            {
                groups.push(g);
            }
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

/// Go's `tls.LoadX509KeyPair`: the certificate chain and its key, which must
/// match.
pub(crate) fn load_pair(cert: &str, key: &str) -> Result<Arc<CertifiedKey>, String> {
    let cert_pem = read(cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(if PrivateKeyDer::from_pem_slice(&cert_pem).is_ok() {
            "tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"
        } else {
            "tls: failed to find any PEM data in certificate input"
        }
        .into());
    }
    let key_pem = read(key)?;
    let der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        if CertificateDer::pem_slice_iter(&key_pem).any(|c| c.is_ok()) {
            "tls: found a certificate rather than a key in the PEM for the private key"
        } else {
            "tls: failed to find any PEM data in key input"
        }
        .to_string()
    })?;
    let signer = provider::sign::any_supported_type(&der)
        .map_err(|_| "tls: failed to parse private key".to_string())?;
    let ck = CertifiedKey::new(chain, signer);
    ck.keys_match()
        .map_err(|_| "tls: private key does not match public key".to_string())?;
    Ok(Arc::new(ck))
}

/// `ca_file`: every certificate in it; none is Go's `failed to parse root ca
/// certificate`.
pub(crate) fn load_roots(path: &str) -> Result<RootCertStore, String> {
    let pem = read(path)?;
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
        let _ = roots.add(c);
    }
    if roots.is_empty() {
        return Err("failed to parse root ca certificate".into());
    }
    Ok(roots)
}

/// The host's CA bundle, where Go's `x509.SystemCertPool` finds it.
pub(crate) fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for path in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ] {
        if let Ok(pem) = std::fs::read(path) {
            for c in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
                let _ = roots.add(c);
            }
            break;
        }
    }
    roots
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| shoal_go::path_error("open", Path::new(path), &e))
}

/// Go's certificate choice: the first identity whose names match the
/// client's SNI, else the first one.
#[derive(Debug)]
struct BySni(Vec<Arc<CertifiedKey>>);

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if self.0.len() > 1 {
            if let Some(name) = hello.server_name() {
                for ck in &self.0 {
                    let Ok(leaf) = ck.end_entity_cert() else {
                        continue;
                    };
                    if crate::identity::dns_names(leaf)
                        .iter()
                        .any(|n| crate::identity::host_matches(n, name))
                    {
                        return Some(ck.clone());
                    }
                }
            }
        }
        self.0.first().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_knows_are_honoured_or_refused_by_name() {
        assert_eq!(
            cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            Ok(())
        );
        assert_eq!(cipher_suite("TLS_AES_128_GCM_SHA256"), Ok(()));
        assert_eq!(
            cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA").unwrap_err().to_string(),
            "cipher suite TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is not supported by this version of shoal"
        );
        assert!(matches!(
            cipher_suite("TLS_RSA_WITH_RC4_128_SHA"),
            Err(CipherError::Insecure(_))
        ));
        assert_eq!(
            cipher_suite("NOPE").unwrap_err().to_string(),
            "unrecognized cipher NOPE"
        );
        assert_eq!(curve("CurveP256"), Ok(()));
        assert!(matches!(
            curve("CurveP521"),
            Err(CipherError::Unsupported(_))
        ));
        assert_eq!(
            curve("CurveX").unwrap_err().to_string(),
            "unrecognized curve preference CurveX"
        );
        assert!(cipher_names().all(|n| cipher_suite(n).is_ok()));
    }

    #[test]
    fn build_checks_in_go_order_with_go_texts() {
        let o = |c: &str, k: &str| TlsOptions {
            cert_file: c.into(),
            key_file: k.into(),
            ..TlsOptions::default()
        };
        assert_eq!(
            build(&o("c.pem", "")).unwrap_err().0,
            "missing 'key_file' in TLS configuration"
        );
        assert_eq!(
            build(&o("", "k.pem")).unwrap_err().0,
            "missing 'cert_file' in TLS configuration"
        );
        assert_eq!(
            build(&o("/nonexistent/c.pem", "k.pem")).unwrap_err().0,
            "error parsing X509 certificate/key pair: open /nonexistent/c.pem: no such file or directory"
        );
        assert_eq!(TlsOptions::default().timeout(), Duration::from_secs(2));
    }
}
