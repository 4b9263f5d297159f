//! What a client certificate says about who it is, in the forms nats-server
//! looks users up by for `verify_and_map` (`checkClientTLSCertSubject`):
//!
//! 1. each SAN e-mail address, then each SAN DNS name, then each SAN URI,
//!    as a user name;
//! 2. the subject as a DN ([`crate::dn`]) against every user whose name parses
//!    as one: equal, else the same RDNs in another order;
//! 3. the subject in Go's `RDNSequence.String()` form followed by its `DC`
//!    components (`CN=app,O=Acme,DC=example,DC=com`), when it has any;
//! 4. that string alone (`CN=app,OU=ops,O=Acme,C=US`).
//!
//! Also the digest `pinned_certs` compares: SHA-256 of the leaf's
//! SubjectPublicKeyInfo. Pure functions of the certificate's DER bytes.

use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

use crate::dn::{Attr, Dn};

/// A certificate's identities, parsed once after the handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub emails: Vec<String>,
    pub dns: Vec<String>,
    pub uris: Vec<String>,
    /// Go's `cert.Subject.ToRDNSequence().String()`.
    pub subject: String,
    /// The raw subject as a DN (`None` where go-ldap would refuse it: an
    /// attribute type it has no name for, or a value that is not a string).
    pub dn: Option<Dn>,
    /// `DC=a,DC=b` from the raw subject, in certificate order.
    pub dcs: String,
}

impl Identity {
    /// The names to try as plain user names, in nats-server's order; the DN
    /// comes between the URIs and the subject strings (see the module
    /// header), which [`Identity::subject_names`] gives.
    pub fn san_names(&self) -> impl Iterator<Item = &str> {
        self.emails
            .iter()
            .chain(&self.dns)
            .chain(&self.uris)
            .map(String::as_str)
    }

    /// Steps 3 and 4 of the module header.
    pub fn subject_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.dcs.is_empty() {
            v.push(format!("{},{}", self.subject, self.dcs));
        }
        v.push(self.subject.clone());
        v
    }
}

/// The identities of a DER certificate (`None` if it does not parse).
pub fn identity(der: &[u8]) -> Option<Identity> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut id = Identity::default();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for g in &san.value.general_names {
            match g {
                GeneralName::RFC822Name(e) => id.emails.push(e.to_string()),
                GeneralName::DNSName(d) => id.dns.push(d.to_string()),
                GeneralName::URI(u) => id.uris.push(u.to_string()),
                _ => {}
            }
        }
    }
    let subject = cert.subject();
    id.subject = go_subject_string(subject);
    id.dn = raw_dn(subject);
    id.dcs = subject
        .iter()
        .flat_map(|rdn| rdn.iter())
        .filter(|a| a.attr_type().to_id_string() == OID_DC)
        .filter_map(|a| a.as_str().ok())
        .map(|v| format!("DC={v}"))
        .collect::<Vec<_>>()
        .join(",");
    Some(id)
}

/// The SAN DNS names of a DER certificate.
pub fn dns_names(der: &[u8]) -> Vec<String> {
    identity(der).map(|i| i.dns).unwrap_or_default()
}

/// What `/connz` shows of a peer certificate (`tls_peer_certs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerCert {
    /// Go's `cert.Subject.String()`.
    pub subject: String,
    pub spki_sha256: String,
    pub cert_sha256: String,
}

/// The `/connz` summary of a DER certificate.
pub fn peer_cert(der: &[u8]) -> PeerCert {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let cert_sha256 = hex(&Sha256::digest(der));
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => PeerCert {
            subject: go_name_string(cert.subject()),
            spki_sha256: hex(&Sha256::digest(cert.public_key().raw)),
            cert_sha256,
        },
        Err(_) => PeerCert {
            cert_sha256,
            ..PeerCert::default()
        },
    }
}

/// Go's `pkix.Name.String()`: the attributes Go has no field for come first
/// in the sequence (so last in the text), as `OID=#hex` of their value
/// re-encoded the way Go's `asn1.Marshal` encodes a string.
fn go_name_string(name: &X509Name<'_>) -> String {
    let mut extras = Vec::new();
    for atv in name.iter().flat_map(|rdn| rdn.iter()) {
        let oid = atv.attr_type().to_id_string();
        if type_name(&oid).is_some() {
            continue;
        }
        let value = atv.as_str().unwrap_or_default();
        extras.push(format!("{oid}=#{}", go_marshal_string(value)));
    }
    let std = go_subject_string(name);
    extras.reverse();
    let mut parts = Vec::new();
    if !std.is_empty() {
        parts.push(std);
    }
    parts.extend(extras);
    parts.join(",")
}

/// Hex of Go's `asn1.Marshal(s)`: a PrintableString when every byte is
/// printable, else a UTF8String.
fn go_marshal_string(s: &str) -> String {
    let printable = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?*".contains(&b));
    let tag = if printable { 0x13u8 } else { 0x0c };
    let mut der = vec![tag];
    let n = s.len();
    if n < 128 {
        der.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        der.push(0x80 | bytes.len() as u8);
        der.extend(bytes);
    }
    der.extend_from_slice(s.as_bytes());
    der.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 of the certificate's SubjectPublicKeyInfo (`pinned_certs`).
pub fn spki_sha256(der: &[u8]) -> Option<[u8; 32]> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(Sha256::digest(cert.public_key().raw).into())
}

/// RFC 6125 host matching of a SAN DNS name against a host: equal labels
/// (case-insensitive), a `*` only as the whole leftmost label.
pub fn host_matches(san: &str, host: &str) -> bool {
    let san = san.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let a: Vec<&str> = san.split('.').collect();
    let b: Vec<&str> = host.split('.').collect();
    if a.len() != b.len() {
        return false;
    }
    let skip = usize::from(a[0] == "*");
    a[skip..] == b[skip..]
}

const OID_DC: &str = "0.9.2342.19200300.100.1.25";

/// Attribute types by OID, as Go's pkix and go-ldap name them (go-ldap adds
/// `DC`).
fn type_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

/// Go's `pkix.Name` round trip: the parsed subject keeps only the attributes
/// it has fields for (the last CN and serial number; every C, ST, L, STREET,
/// POSTALCODE, O, OU), rebuilt in its fixed order as one RDN per type, then
/// printed most specific first with `+` inside an RDN and RFC 2253 escapes.
fn go_subject_string(name: &X509Name<'_>) -> String {
    const ORDER: [&str; 9] = [
        "C",
        "ST",
        "L",
        "STREET",
        "POSTALCODE",
        "O",
        "OU",
        "CN",
        "SERIALNUMBER",
    ];
    let mut fields: Vec<(&str, Vec<String>)> = ORDER.iter().map(|t| (*t, Vec::new())).collect();
    for atv in name.iter().flat_map(|rdn| rdn.iter()) {
        let Some(t) = type_name(&atv.attr_type().to_id_string()) else {
            continue;
        };
        let Ok(v) = atv.as_str() else {
            continue;
        };
        let slot = &mut fields.iter_mut().find(|(n, _)| *n == t).expect("known").1;
        if matches!(t, "CN" | "SERIALNUMBER") {
            slot.clear();
        }
        slot.push(v.to_string());
    }
    let rdns: Vec<String> = fields
        .iter()
        .filter(|(_, vs)| !vs.is_empty())
        .map(|(t, vs)| {
            vs.iter()
                .map(|v| format!("{t}={}", escape(v)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// Go's escaping of an attribute value in `RDNSequence.String()`.
fn escape(v: &str) -> String {
    let n = v.chars().count();
    let mut out = String::with_capacity(v.len());
    for (k, c) in v.chars().enumerate() {
        let esc = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == n - 1,
            '#' => k == 0,
            _ => false,
        };
        if esc {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// go-ldap's `FromRawCertSubject`: RDNs and their attributes in reverse
/// order, every type named, every value a string.
fn raw_dn(name: &X509Name<'_>) -> Option<Dn> {
    let mut dn = Dn::default();
    let rdns: Vec<_> = name.iter().collect();
    for rdn in rdns.into_iter().rev() {
        let atvs: Vec<_> = rdn.iter().collect();
        if atvs.is_empty() {
            continue;
        }
        let mut attrs = Vec::new();
        for atv in atvs.into_iter().rev() {
            let oid = atv.attr_type().to_id_string();
            let typ = if oid == OID_DC {
                "DC"
            } else {
                type_name(&oid)?
            };
            attrs.push(Attr {
                typ: typ.to_string(),
                value: atv.as_str().ok()?.to_string(),
            });
        }
        dn.rdns.push(attrs);
    }
    Some(dn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    fn cert(dn: &[(DnType, &str)], sans: Vec<SanType>) -> Vec<u8> {
        let mut p = CertificateParams::default();
        let mut d = DistinguishedName::new();
        for (t, v) in dn {
            d.push(t.clone(), *v);
        }
        p.distinguished_name = d;
        p.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        p.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_forms_nats_server_maps_by() {
        let der = cert(
            &[
                (DnType::CountryName, "US"),
                (DnType::OrganizationName, "Acme, Inc"),
                (DnType::OrganizationalUnitName, "ops"),
                (DnType::CommonName, "app"),
                (
                    DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
                    "example",
                ),
            ],
            vec![
                SanType::Rfc822Name("app@example.com".try_into().unwrap()),
                SanType::DnsName("app.example.com".try_into().unwrap()),
                SanType::URI("nats://app".try_into().unwrap()),
            ],
        );
        let id = identity(&der).unwrap();
        assert_eq!(id.emails, ["app@example.com"]);
        assert_eq!(id.dns, ["app.example.com"]);
        assert_eq!(id.uris, ["nats://app"]);
        // Go drops DC from its Name and prints its own order, most specific first.
        assert_eq!(id.subject, "CN=app,OU=ops,O=Acme\\, Inc,C=US");
        assert_eq!(id.dcs, "DC=example");
        assert_eq!(
            id.subject_names(),
            [
                "CN=app,OU=ops,O=Acme\\, Inc,C=US,DC=example",
                "CN=app,OU=ops,O=Acme\\, Inc,C=US"
            ]
        );
        assert_eq!(
            peer_cert(&der).subject,
            "CN=app,OU=ops,O=Acme\\, Inc,C=US,0.9.2342.19200300.100.1.25=#13076578616d706c65"
        );
        let dn = id.dn.unwrap();
        assert!(dn.equal(&Dn::parse("DC=example,CN=app,OU=ops,O=Acme\\, Inc,C=US").unwrap()));
    }

    #[test]
    fn hosts_match_with_one_leftmost_wildcard() {
        assert!(host_matches("*.example.com", "a.EXAMPLE.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(host_matches("localhost", "localhost"));
        assert!(!host_matches("a.*.com", "a.b.com"));
    }

    #[test]
    fn pinned_digest_is_of_the_public_key() {
        let der = cert(&[(DnType::CommonName, "x")], vec![]);
        let (_, c) = X509Certificate::from_der(&der).unwrap();
        let want: [u8; 32] = Sha256::digest(c.public_key().raw).into();
        assert_eq!(spki_sha256(&der), Some(want));
    }
}
