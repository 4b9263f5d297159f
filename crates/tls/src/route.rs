//! TLS between servers (`cluster { tls {} }`): the two configurations one
//! `tls` block makes, as nats-server's `getTLSConfig` makes them for routes.
//! A server both accepts routes (server side, peers' certificates always
//! required and verified: mutual TLS whatever `verify` says) and dials them
//! (client side, presenting its own certificate and verifying the peer's
//! against the same `ca_file`, or the system roots without one). `insecure`
//! skips the dialled peer's chain and name check, as Go's
//! `InsecureSkipVerify` does, but never the handshake's signatures.
//!
//! Reads files: runs on the main thread at start-up and on a reload, never on
//! a core.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::{self, BuildError, TlsOptions};
use crate::{ClientConfig, ServerConfig};

/// Both sides of a route's TLS.
#[derive(Debug, Clone)]
pub struct RouteConfigs {
    /// For routes this server accepts.
    pub server: ServerConfig,
    /// For routes it dials.
    pub client: ClientConfig,
}

/// The route configurations the options describe, files read and checked
/// (the server side's checks and texts first, as [`crate::build`]'s).
pub fn build_route(o: &TlsOptions) -> Result<RouteConfigs, BuildError> {
    let server = crate::build(&TlsOptions {
        verify: true,
        ..o.clone()
    })?;
    let err = BuildError;
    // The dialling side presents the first identity (Go's client picks its
    // first certificate too).
    let (cert, key) = if o.cert_file.is_empty() {
        o.certs.first().cloned().unwrap_or_default()
    } else {
        (o.cert_file.clone(), o.key_file.clone())
    };
    let me = config::load_pair(&cert, &key)
        .map_err(|e| err(format!("error parsing X509 certificate/key pair: {e}")))?;
    let builder = client_builder(o)?;
    let client = builder.with_client_cert_resolver(Arc::new(Present(me)));
    Ok(RouteConfigs {
        server,
        client: Arc::new(client),
    })
}

/// The client side of a dialled leaf connection: the hub verified against
/// `ca_file` (else the system's roots; not at all with `insecure`), this
/// server's certificate offered only when one is configured.
pub fn build_client(o: &TlsOptions) -> Result<crate::ClientConfig, BuildError> {
    let err = BuildError;
    let cert = if o.cert_file.is_empty() {
        o.certs.first().cloned()
    } else {
        Some((o.cert_file.clone(), o.key_file.clone()))
    };
    let builder = client_builder(o)?;
    let client = match cert {
        Some((cert, key)) => {
            let me = config::load_pair(&cert, &key)
                .map_err(|e| err(format!("error parsing X509 certificate/key pair: {e}")))?;
            builder.with_client_cert_resolver(Arc::new(Present(me)))
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(client))
}

/// A client configuration's start: the crypto and protocol versions of
/// `o`, the peer verified against `ca_file` (else the system's roots; only
/// its signatures with `insecure`).
fn client_builder(
    o: &TlsOptions,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>, BuildError>
{
    let err = BuildError;
    let provider = Arc::new(config::crypto_provider(o)?);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(config::versions(o))
        .map_err(|e| err(e.to_string()))?;
    Ok(if o.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Insecure(provider)))
    } else {
        let roots = if o.ca_file.is_empty() {
            config::system_roots()
        } else {
            config::load_roots(&o.ca_file).map_err(err)?
        };
        builder.with_root_certificates(roots)
    })
}

/// The name a dialled route's certificate is checked against: the URL's
/// host (an IP address is checked against the certificate's IP names), or
/// `fallback` for an IP host when one is known (nats-server's
/// `routeTLSName`: the first configured route given by a host name).
pub fn server_name(host: &str, fallback: Option<&str>) -> Option<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = match (host.parse::<std::net::IpAddr>(), fallback) {
        (Ok(_), Some(f)) => f,
        _ => host,
    };
    ServerName::try_from(name.to_string()).ok()
}

/// This server's certificate, offered whatever the peer asks.
#[derive(Debug)]
struct Present(Arc<CertifiedKey>);

impl ResolvesClientCert for Present {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// `insecure`: any certificate chain and name, signatures still checked.
#[derive(Debug)]
struct Insecure(Arc<CryptoProvider>);

impl ServerCertVerifier for Insecure {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_checked_is_the_host_or_the_known_name_for_an_ip() {
        let n = |h, f| server_name(h, f).map(|s| s.to_str().into_owned());
        assert_eq!(n("nats-a", None).as_deref(), Some("nats-a"));
        assert_eq!(n("127.0.0.1", None).as_deref(), Some("127.0.0.1"));
        assert_eq!(n("127.0.0.1", Some("nats-a")).as_deref(), Some("nats-a"));
        assert_eq!(n("[::1]", None).as_deref(), Some("::1"));
    }

    #[test]
    fn a_missing_key_is_refused_in_go_words() {
        let o = TlsOptions {
            cert_file: "c.pem".into(),
            ..TlsOptions::default()
        };
        assert_eq!(
            build_route(&o).unwrap_err().0,
            "missing 'key_file' in TLS configuration"
        );
    }
}
