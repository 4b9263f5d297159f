//! The WebSocket opening handshake as nats-server's `wsUpgrade` decides it
//! (RFC 6455 §4.2), apart from the connection: given the request line's
//! method and the headers (already parsed by the caller), either the
//! `101 Switching Protocols` response and what it settled — compression
//! (`permessage-deflate`, when configured and offered), no masking (the
//! `Nats-No-Masking` header), the client IP from `X-Forwarded-For`, the
//! auth cookies — or the HTTP error status and nats-server's reason.
//!
//! Also the origin check (`same_origin`, `allowed_origins`), given the
//! listener's configuration ([`Origins`]). Pure: no I/O, no clock.

use data_encoding::BASE64;
use sha1::{Digest, Sha1};

/// RFC 6455's key suffix.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What the listener offers.
#[derive(Debug, Clone, Default)]
pub struct Offer<'a> {
    /// `compression: true`.
    pub compression: bool,
    /// Cookie names whose values are credentials (empty: none).
    pub jwt_cookie: &'a str,
    pub username_cookie: &'a str,
    pub password_cookie: &'a str,
    pub token_cookie: &'a str,
    /// Extra response headers, already formatted (`Name: value\r\n`…).
    pub raw_headers: &'a str,
}

/// An accepted upgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upgrade {
    /// The whole `101` response.
    pub response: Vec<u8>,
    pub compress: bool,
    /// The client asked for unmasked frames (`Nats-No-Masking: true`).
    pub no_masking: bool,
    /// A valid IP from `X-Forwarded-For`.
    pub client_ip: Option<String>,
    /// A browser (`User-Agent: Mozilla/…`), and Safari (compressed frames
    /// are then not fragmented).
    pub browser: bool,
    pub no_compressed_fragments: bool,
    pub cookie_jwt: Option<String>,
    pub cookie_user: Option<String>,
    pub cookie_pass: Option<String>,
    pub cookie_token: Option<String>,
}

/// A refused upgrade: the HTTP status and nats-server's reason (logged as
/// `<addr> - websocket handshake error: <reason>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub reason: String,
}

impl Refused {
    /// The error response Go's `http.Error` writes, with the
    /// `Sec-Websocket-Version: 13` header nats-server adds and the `Date`
    /// Go's server adds (`date`, an HTTP date). The connection stays open
    /// (keep-alive), as with Go's server.
    pub fn response(&self, date: &str) -> Vec<u8> {
        let text = status_text(self.status);
        format!(
            "HTTP/1.1 {} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: {date}\r\nContent-Length: {}\r\n\r\n{text}\n",
            self.status,
            text.len() + 1
        )
        .into_bytes()
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    }
}

fn refuse<T>(status: u16, reason: impl Into<String>) -> Result<T, Refused> {
    Err(Refused {
        status,
        reason: reason.into(),
    })
}

/// The request's headers, names compared case-insensitively (as Go's
/// canonical header map does).
pub struct Headers<'a>(pub &'a [(&'a str, &'a [u8])]);

impl<'a> Headers<'a> {
    fn all(&self, name: &'a str) -> impl Iterator<Item = &'a str> + '_ {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
    }

    fn first(&self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// nats-server's `wsHeaderContains`: a comma-separated token equal to
    /// `value`, case-insensitively.
    fn contains(&self, name: &'a str, value: &str) -> bool {
        self.all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(value))
    }
}

/// The `Sec-WebSocket-Accept` value for `key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID);
    BASE64.encode(&h.finalize())
}

/// Decides the upgrade (RFC 6455 §4.2.1's points in nats-server's order,
/// the origin excepted).
pub fn upgrade(method: &str, headers: &Headers<'_>, offer: &Offer<'_>) -> Result<Upgrade, Refused> {
    if method != "GET" {
        return refuse(405, "request method must be GET");
    }
    if headers.first("Host").is_none_or(str::is_empty) {
        return refuse(400, "'Host' missing in request");
    }
    if !headers.contains("Upgrade", "websocket") {
        return refuse(400, "invalid value for header 'Upgrade'");
    }
    if !headers.contains("Connection", "Upgrade") {
        return refuse(400, "invalid value for header 'Connection'");
    }
    let Some(key) = headers.first("Sec-Websocket-Key").filter(|k| !k.is_empty()) else {
        return refuse(400, "key missing");
    };
    if BASE64
        .decode(key.as_bytes())
        .map_or(true, |d| d.len() != 16)
    {
        return refuse(400, "invalid websocket key");
    }
    if !headers.contains("Sec-Websocket-Version", "13") {
        return refuse(400, "invalid version");
    }
    let compress = offer.compression && offers_deflate(headers);
    let no_masking = headers.first("Nats-No-Masking") == Some("true");
    let mut response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".to_vec();
    response.extend_from_slice(accept_key(key).as_bytes());
    response.extend_from_slice(b"\r\n");
    if compress {
        response.extend_from_slice(
            b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n",
        );
    }
    if no_masking {
        response.extend_from_slice(b"Nats-No-Masking: true\r\n");
    }
    response.extend_from_slice(offer.raw_headers.as_bytes());
    response.extend_from_slice(b"\r\n");
    let client_ip = headers
        .first("X-Forwarded-For")
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        .map(str::to_string);
    let ua = headers.first("User-Agent").unwrap_or("");
    let browser = ua.starts_with("Mozilla/");
    let mut up = Upgrade {
        response,
        compress,
        no_masking,
        client_ip,
        browser,
        no_compressed_fragments: browser
            && compress
            && ua.contains("Version/")
            && ua.contains("Safari/"),
        ..Upgrade::default()
    };
    for (name, value) in headers.all("Cookie").flat_map(cookies) {
        let v = Some(value.to_string());
        if name == offer.jwt_cookie {
            up.cookie_jwt = v;
        } else if name == offer.username_cookie {
            up.cookie_user = v;
        } else if name == offer.password_cookie {
            up.cookie_pass = v;
        } else if name == offer.token_cookie {
            up.cookie_token = v;
        }
    }
    Ok(up)
}

/// `same_origin` and `allowed_origins`, as nats-server keeps them
/// (`wsSetOriginOptions`): the allowed origins by host, each a scheme and
/// port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    pub same_origin: bool,
    allowed: Vec<(String, String, String)>,
}

impl Origins {
    /// From the configured list (each already validated as a URL; one that
    /// does not parse is left out, as nats-server logs and skips it).
    pub fn new(same_origin: bool, allowed: &[String]) -> Origins {
        let allowed = allowed
            .iter()
            .filter_map(|o| {
                let (scheme, host) = split_origin(o)?;
                let (h, p) = host_and_port(scheme == "https", host)?;
                Some((h, scheme.to_string(), p))
            })
            .collect();
        Origins {
            same_origin,
            allowed,
        }
    }

    /// nats-server's `checkOrigin`: `Origin` (or `Sec-Websocket-Origin`)
    /// against the request's own host (`same_origin`, `tls`: the listener
    /// speaks TLS) and the allowed list; no origin header is accepted. The
    /// error is the reason after `origin not allowed: ` (status 403).
    pub fn check(&self, headers: &Headers<'_>, tls: bool) -> Result<(), String> {
        if !self.same_origin && self.allowed.is_empty() {
            return Ok(());
        }
        let origin = headers
            .first("Origin")
            .filter(|o| !o.is_empty())
            .or_else(|| headers.first("Sec-Websocket-Origin"))
            .unwrap_or("");
        if origin.is_empty() {
            return Ok(());
        }
        let bad = || format!("parse {origin:?}: invalid URI for request");
        let (scheme, host) = split_origin(origin).ok_or_else(bad)?;
        let (oh, op) = host_and_port(scheme == "https", host).ok_or_else(bad)?;
        if self.same_origin {
            let rhost = headers.first("Host").unwrap_or("");
            let (rh, rp) = host_and_port(tls, rhost).ok_or_else(bad)?;
            let rs = if tls { "https" } else { "http" };
            if oh != rh || op != rp || !scheme.eq_ignore_ascii_case(rs) {
                return Err("not same origin".into());
            }
        }
        if !self.allowed.is_empty()
            && !self
                .allowed
                .iter()
                .any(|(h, s, p)| *h == oh && s == scheme && *p == op)
        {
            return Err("not in the allowed list".into());
        }
        Ok(())
    }
}

/// `scheme://host[:port][/path]` → (scheme, host[:port]).
fn split_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    Some((scheme, host))
}

/// nats-server's `wsGetHostAndPort`: the host lowercased and the port,
/// 443 or 80 by the scheme when none is given.
fn host_and_port(tls: bool, hostport: &str) -> Option<(String, String)> {
    let default = if tls { "443" } else { "80" };
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, p),
            None if after.is_empty() => (h, default),
            None => return None,
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => return None,
            Some((h, p)) => (h, p),
            None => (hostport, default),
        }
    };
    Some((host.to_ascii_lowercase(), port.to_string()))
}

/// nats-server's `wsPMCExtensionSupport(…, true)`: `permessage-deflate`
/// among the offered extensions' parameters.
fn offers_deflate(headers: &Headers<'_>) -> bool {
    headers
        .all("Sec-Websocket-Extensions")
        .flat_map(|v| v.split(','))
        .flat_map(|e| e.split(';'))
        .any(|p| {
            p.trim_matches([' ', '\t'])
                .eq_ignore_ascii_case("permessage-deflate")
        })
}

/// `name=value` pairs of a `Cookie` header (names not empty).
fn cookies(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|c| {
        let (n, v) = c.trim().split_once('=')?;
        let v = v.trim().trim_matches('"');
        (!n.is_empty()).then_some((n.trim(), v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(extra: &'a [(&'a str, &'a [u8])]) -> Vec<(&'a str, &'a [u8])> {
        let mut h: Vec<(&str, &[u8])> = vec![
            ("Host", b"localhost:8080"),
            ("Upgrade", b"websocket"),
            ("Connection", b"keep-alive, Upgrade"),
            ("Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", b"13"),
        ];
        h.extend_from_slice(extra);
        h
    }

    #[test]
    fn rfc_6455_accept_key() {
        // The RFC's own example (§1.3).
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn an_upgrade_with_compression_no_masking_and_cookies() {
        let h = req(&[
            (
                "Sec-WebSocket-Extensions",
                b"permessage-deflate; client_max_window_bits",
            ),
            ("Nats-No-Masking", b"true"),
            ("X-Forwarded-For", b"10.1.2.3"),
            ("User-Agent", b"Mozilla/5.0 Version/17 Safari/605"),
            ("Cookie", b"jwt=abc; other=1; tok=\"t1\""),
        ]);
        let offer = Offer {
            compression: true,
            jwt_cookie: "jwt",
            token_cookie: "tok",
            ..Offer::default()
        };
        let up = upgrade("GET", &Headers(&h), &offer).unwrap();
        let text = String::from_utf8(up.response.clone()).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\nNats-No-Masking: true\r\n\r\n"
        );
        assert!(up.compress && up.no_masking && up.browser && up.no_compressed_fragments);
        assert_eq!(up.client_ip.as_deref(), Some("10.1.2.3"));
        assert_eq!(up.cookie_jwt.as_deref(), Some("abc"));
        assert_eq!(up.cookie_token.as_deref(), Some("t1"));
        // Not configured: not compressed, whatever the client offers.
        let up = upgrade("GET", &Headers(&h), &Offer::default()).unwrap();
        assert!(!up.compress);
    }

    #[test]
    fn origins_as_nats_server_checks_them() {
        let with =
            |origin: &'static [u8]| vec![("Host", &b"nats.example:8080"[..]), ("Origin", origin)];
        let check = |o: &Origins, origin: &'static [u8], tls| o.check(&Headers(&with(origin)), tls);
        let same = Origins::new(true, &[]);
        assert_eq!(check(&same, b"http://NATS.example:8080", false), Ok(()));
        assert_eq!(
            check(&same, b"http://nats.example:8081", false),
            Err("not same origin".into())
        );
        assert_eq!(
            check(&same, b"https://nats.example:8080", false),
            Err("not same origin".into())
        );
        let listed = Origins::new(
            false,
            &["https://app.example".into(), "http://x:81/".into()],
        );
        assert_eq!(check(&listed, b"https://app.example:443", false), Ok(()));
        assert_eq!(check(&listed, b"http://x:81", false), Ok(()));
        assert_eq!(
            check(&listed, b"http://app.example", false),
            Err("not in the allowed list".into())
        );
        assert_eq!(check(&listed, b"", false), Ok(()), "no origin: accepted");
        assert_eq!(
            check(&listed, b"nope", false),
            Err("parse \"nope\": invalid URI for request".into())
        );
        assert_eq!(
            check(&Origins::default(), b"nope", false),
            Ok(()),
            "nothing to check"
        );
    }

    #[test]
    fn refusals_in_nats_server_words() {
        let r = |method: &str, h: Vec<(&str, &[u8])>| {
            upgrade(method, &Headers(&h), &Offer::default()).unwrap_err()
        };
        assert_eq!(
            r("POST", req(&[])),
            Refused {
                status: 405,
                reason: "request method must be GET".into()
            }
        );
        let without = |name: &str| {
            req(&[])
                .into_iter()
                .filter(|(n, _)| *n != name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            r("GET", without("Host")).reason,
            "'Host' missing in request"
        );
        assert_eq!(
            r("GET", without("Upgrade")).reason,
            "invalid value for header 'Upgrade'"
        );
        assert_eq!(
            r("GET", without("Connection")).reason,
            "invalid value for header 'Connection'"
        );
        assert_eq!(r("GET", without("Sec-WebSocket-Key")).reason, "key missing");
        assert_eq!(
            r("GET", without("Sec-WebSocket-Version")).reason,
            "invalid version"
        );
        let mut short = without("Sec-WebSocket-Key");
        short.push(("Sec-WebSocket-Key", b"c2hvcnQ="));
        assert_eq!(r("GET", short).reason, "invalid websocket key");
        let date = "Fri, 04 Dec 2026 04:38:52 GMT";
        let resp = String::from_utf8(r("GET", without("Host")).response(date)).unwrap();
        assert!(resp.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{resp}");
        assert!(
            resp.contains("\r\nDate: Fri, 04 Dec 2026 04:38:52 GMT\r\nContent-Length: 12\r\n\r\n")
        );
        assert!(
            resp.contains("Sec-Websocket-Version: 13\r\n")
                && resp.ends_with("\r\n\r\nBad Request\n")
        );
    }
}
