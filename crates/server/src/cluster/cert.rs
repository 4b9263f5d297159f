//! Whether a route peer's certificate admits it, when the cluster's `tls`
//! block makes the certificate decide (nats-server's `isRouterAuthorized`
//! with `TLSMap` or `TLSCheckKnownURLs`): one of the certificate's names is
//! the cluster user (`verify_and_map`), or one of its DNS names matches a
//! configured route's host (`verify_cert_and_check_known_urls`, RFC 6125:
//! a `*` only as the whole leftmost label).
//!
//! Pure: the identities were parsed from the handshake's certificate.

use shoal_tls::identity::{host_matches, Identity};

use crate::config::RouteUrl;

/// The decision, in `checkClientTLSCertSubject`'s order: SAN e-mail
/// addresses, DNS names, URIs, then the subject strings. `user`: the
/// cluster user when `verify_and_map` is on; `known`: the configured routes
/// when `verify_cert_and_check_known_urls` is.
pub fn admits(id: &Identity, user: Option<&str>, known: Option<&[RouteUrl]>) -> bool {
    let is_user = |name: &str| !name.is_empty() && user == Some(name);
    let known_host = |name: &str| {
        known.is_some_and(|routes| {
            routes
                .iter()
                .any(|r| host_matches(name, r.host.trim_matches(['[', ']'])))
        })
    };
    id.emails.iter().any(|n| is_user(n))
        || id.dns.iter().any(|n| known_host(n) || is_user(n))
        || id.uris.iter().any(|n| is_user(n))
        || id.subject_names().iter().any(|n| is_user(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: &str) -> RouteUrl {
        RouteUrl {
            url: format!("nats://{host}:6222"),
            host: host.into(),
            port: 6222,
            user: None,
            pass: None,
        }
    }

    #[test]
    fn a_name_or_a_known_host_admits() {
        let id = Identity {
            dns: vec!["*.nats.example".into()],
            emails: vec!["ops@example.com".into()],
            subject: "CN=route,O=Acme".into(),
            ..Identity::default()
        };
        let routes = [route("a.nats.example")];
        assert!(admits(&id, None, Some(&routes)));
        assert!(!admits(&id, None, Some(&[route("a.b.nats.example")])));
        assert!(!admits(&id, None, Some(&[route("127.0.0.1")])));
        assert!(admits(&id, Some("ops@example.com"), None));
        assert!(admits(&id, Some("CN=route,O=Acme"), None));
        assert!(!admits(&id, Some("someone"), None));
        // A DNS name is never a known host unless that check is on.
        assert!(!admits(&id, Some("x"), None));
        assert!(!admits(&Identity::default(), Some(""), None));
    }
}
