//! The `websocket {}` block (alias `ws`) → [`WsSettings`], as nats-server's
//! `parseWebsocket` reads it (keys, aliases, texts, every problem collected
//! with its position), then its `validateWebsocketOptions` checks once the
//! whole file is read ([`validate`]: `websocket requires TLS
//! configuration`, the allowed origins, `no_auth_user`, the override
//! against users lists, the JWT cookie, the forbidden response headers),
//! and the runtime's [`shoal_server::Websocket`] ([`resolve`]).
//!
//! A block without a port (or with port 0) is inert, as in nats-server.

use std::sync::Arc;
use std::time::Duration;

use shoal_auth::{Logins, Override};
use shoal_conf::{Kind, Value};

use crate::report::{boolean, int, mismatch, string, Report};

/// What the file's `websocket` block says.
#[derive(Debug, Clone, Default)]
pub struct WsSettings {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub advertise: Option<String>,
    pub no_tls: bool,
    pub tls: Option<crate::tlsconf::TlsSettings>,
    pub same_origin: bool,
    pub allowed_origins: Vec<String>,
    pub handshake_timeout: Duration,
    pub compression: bool,
    pub auth: Override,
    /// `authorization.timeout`, seconds (0: the server's).
    pub auth_timeout: f64,
    pub jwt_cookie: String,
    pub user_cookie: String,
    pub pass_cookie: String,
    pub token_cookie: String,
    /// `headers {}`, in the file's order.
    pub headers: Vec<(String, String)>,
    pub ping_interval: Option<Duration>,
}

/// Parses the `websocket` block.
pub fn websocket(v: &Value, report: &mut Report) -> Option<WsSettings> {
    let Some(m) = v.as_map() else {
        report.error(
            &v.pos,
            format!("Expected websocket to be a map, got {}", v.go_type()),
        );
        return None;
    };
    let mut w = WsSettings::default();
    let before = report.errors.len();
    for (k, x) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "listen" => {
                if let Some((host, port)) = crate::report::listen(x, report) {
                    w.host = host;
                    w.port = Some(port);
                }
            }
            "port" => w.port = int(x, report),
            "host" | "net" => w.host = string(x, report),
            "advertise" => w.advertise = string(x, report),
            "no_tls" => w.no_tls = boolean(x, report).unwrap_or(false),
            "tls" => w.tls = crate::tlsconf::tls(x, report),
            "same_origin" => w.same_origin = boolean(x, report).unwrap_or(false),
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => w.allowed_origins = origins(x, report),
            "handshake_timeout" => match &x.kind {
                Kind::Integer(n) => {
                    w.handshake_timeout = Duration::from_secs(u64::try_from(*n).unwrap_or(0))
                }
                Kind::String(t) => match crate::units::parse_go_duration(t) {
                    Ok(d) => w.handshake_timeout = d,
                    Err(e) => report.error(&x.pos, e),
                },
                _ => report.error(
                    &x.pos,
                    format!(
                        "error parsing handshake timeout: unsupported type {}",
                        x.go_type()
                    ),
                ),
            },
            "compress" | "compression" => w.compression = boolean(x, report).unwrap_or(false),
            "authorization" | "authentication" => authorization(x, &mut w, report),
            "jwt_cookie" => w.jwt_cookie = string(x, report).unwrap_or_default(),
            "user_cookie" => w.user_cookie = string(x, report).unwrap_or_default(),
            "pass_cookie" => w.pass_cookie = string(x, report).unwrap_or_default(),
            "token_cookie" => w.token_cookie = string(x, report).unwrap_or_default(),
            "no_auth_user" => w.auth.no_auth_user = string(x, report).unwrap_or_default(),
            "headers" => headers(x, &mut w, report),
            "ping_interval" => {
                w.ping_interval = crate::report::duration("ping_interval", x, report)
            }
            _ if x.used_as_variable => {}
            _ => report.error(&x.pos, format!("unknown field {k:?}")),
        }
    }
    (report.errors.len() == before).then_some(w)
}

/// `allowed_origins`: a string or a list of strings.
fn origins(x: &Value, report: &mut Report) -> Vec<String> {
    match &x.kind {
        Kind::String(s) => vec![s.clone()],
        Kind::Array(items) => items
            .iter()
            .filter_map(|i| match &i.kind {
                Kind::String(s) => Some(s.clone()),
                _ => {
                    report.error(
                        &i.pos,
                        format!(
                            "error parsing allowed origins: unsupported type in array {}",
                            i.go_type()
                        ),
                    );
                    None
                }
            })
            .collect(),
        _ => {
            report.error(
                &x.pos,
                format!(
                    "error parsing allowed origins: unsupported type {}",
                    x.go_type()
                ),
            );
            Vec::new()
        }
    }
}

/// `authorization { user, password, token, timeout }` (`parseSimpleAuth`).
fn authorization(x: &Value, w: &mut WsSettings, report: &mut Report) {
    let Some(m) = x.as_map() else {
        mismatch(x, "map[string]interface {}", report);
        return;
    };
    for (k, y) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "user" | "username" => w.auth.user = string(y, report).unwrap_or_default(),
            "pass" | "password" => w.auth.pass = string(y, report).unwrap_or_default(),
            "token" => w.auth.token = string(y, report).unwrap_or_default(),
            "timeout" => {
                w.auth_timeout = match &y.kind {
                    Kind::Integer(n) => *n as f64,
                    Kind::Float(f) => *f,
                    _ => 1.0,
                }
            }
            _ if y.used_as_variable => {}
            _ => report.error(&y.pos, format!("unknown field {k:?}")),
        }
    }
}

fn headers(x: &Value, w: &mut WsSettings, report: &mut Report) {
    let Some(m) = x.as_map() else {
        report.error(
            &x.pos,
            format!("error parsing headers: unsupported type {}", x.go_type()),
        );
        return;
    };
    for (k, y) in m.iter() {
        match &y.kind {
            Kind::String(v) => w.headers.push((k.to_string(), v.clone())),
            _ => report.error(
                &y.pos,
                format!(
                    "error parsing header key {k}: unsupported type {}",
                    y.go_type()
                ),
            ),
        }
    }
}

/// nats-server's `validateWebsocketOptions` (no position in its texts).
/// `users`: the server has a users or nkeys list; `trusted`: operators or
/// trusted keys.
pub fn validate(w: &WsSettings, logins: &Logins, trusted: bool) -> Result<(), String> {
    if w.port.unwrap_or(0) == 0 {
        return Ok(());
    }
    if w.tls.is_none() && !w.no_tls {
        return Err("websocket requires TLS configuration".into());
    }
    for o in &w.allowed_origins {
        check_origin(o)?;
    }
    let users = !logins.users().is_empty() || !logins.nkeys().is_empty();
    if !w.auth.no_auth_user.is_empty() {
        let u = &w.auth.no_auth_user;
        if !users {
            return Err(format!(
                "no_auth_user: {u:?} present, but users/nkeys are not defined"
            ));
        }
        if !logins.has_user(u) && !logins.has_nkey(u) {
            return Err(format!(
                "no_auth_user: {u:?} not present as user or nkey in authorization block or account configuration"
            ));
        }
    }
    if users {
        if !w.auth.user.is_empty() {
            return Err(
                "websocket authentication username not compatible with presence of users/nkeys"
                    .into(),
            );
        }
        if !w.auth.token.is_empty() {
            return Err(
                "websocket authentication token not compatible with presence of users/nkeys".into(),
            );
        }
    }
    if !w.jwt_cookie.is_empty() && !trusted {
        return Err(format!(
            "trusted operators or trusted keys configuration is required for JWT authentication via cookie {:?}",
            w.jwt_cookie
        ));
    }
    for (key, _) in &w.headers {
        let k = key.to_ascii_lowercase();
        if matches!(
            k.as_str(),
            "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking"
        ) {
            return Err(format!("websocket: invalid header {key:?} not allowed"));
        }
        if k.starts_with("sec-websocket-") {
            return Err(format!(
                "websocket: invalid header {key:?}, \"Sec-WebSocket-\" prefix not allowed"
            ));
        }
    }
    Ok(())
}

/// One allowed origin as nats-server checks it: an absolute http(s) URL
/// with a host (and a valid port, if any).
fn check_origin(o: &str) -> Result<(), String> {
    let Some((scheme, rest)) = o.split_once("://") else {
        return Err(format!(
            "unable to parse allowed origin: parse {o:?}: invalid URI for request"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "unable to parse allowed origin {o:?}: allowed origins must be absolute URLs with http or https scheme"
        ));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!(
            "unable to parse allowed origin {o:?}: host is required"
        ));
    }
    if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']')) {
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return Err(format!(
                "unable to parse allowed origin: parse {o:?}: invalid port {:?} after host",
                format!(":{port}")
            ));
        }
    }
    Ok(())
}

/// The runtime's listener settings (`None` without a port). `logins`: the
/// server's, which WebSocket clients share with the listener's override.
pub fn resolve(w: Option<&WsSettings>, logins: &Logins) -> Option<Arc<shoal_server::Websocket>> {
    let w = w?;
    let port = w.port.filter(|&p| p != 0)?;
    let tls = w.tls.as_ref().map(|t| {
        Arc::new(shoal_server::Tls {
            digest: crate::tlsconf::files_digest(&t.options),
            options: t.options.clone(),
            config: t.config.clone(),
            allow_non_tls: false,
        })
    });
    let tls_map = w.tls.as_ref().is_some_and(|t| t.options.map);
    let raw_headers: String = w
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    Some(Arc::new(shoal_server::Websocket {
        // nats-server's DEFAULT_HOST, whatever the client listener's.
        host: w
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "0.0.0.0".to_string()),
        port: i32::try_from(port).unwrap_or(-1),
        advertise: w.advertise.clone().filter(|a| !a.is_empty()),
        tls,
        no_tls: w.no_tls,
        compression: w.compression,
        same_origin: w.same_origin,
        allowed_origins: w.allowed_origins.clone(),
        handshake_timeout: w.handshake_timeout,
        jwt_cookie: w.jwt_cookie.clone(),
        username_cookie: w.user_cookie.clone(),
        password_cookie: w.pass_cookie.clone(),
        token_cookie: w.token_cookie.clone(),
        raw_headers,
        logins: Arc::new(logins.for_websocket(&w.auth, tls_map)),
        // Unset: the server's (nats-server's `authorization.timeout`).
        auth_timeout: (w.auth_timeout > 0.0)
            .then(|| Duration::try_from_secs_f64(w.auth_timeout).ok())
            .flatten(),
        ping_interval: w.ping_interval.filter(|d| !d.is_zero()),
        auth_override: !w.auth.user.is_empty()
            || !w.auth.token.is_empty()
            || !w.auth.no_auth_user.is_empty(),
        no_auth_user: w.auth.no_auth_user.clone(),
        auth_timeout_secs: w.auth_timeout,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Option<WsSettings>, Report) {
        let map = shoal_conf::parse_str(text, "t.conf").unwrap();
        let mut r = Report::default();
        let w = websocket(map.get("websocket").unwrap(), &mut r);
        (w, r)
    }

    fn invalid(text: &str) -> String {
        let (w, r) = run(text);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        validate(&w.unwrap(), &Logins::default(), false).unwrap_err()
    }

    #[test]
    fn keys_and_aliases() {
        let (w, r) = run(
            "websocket { listen: \"127.0.0.1:8080\", no_tls: true, compress: true, origins: [\"http://a.com\"], handshake_timeout: \"2s\", authorization { user: u, pass: p, timeout: 3 }, user_cookie: uc, headers { X-A: \"1\" } }",
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let w = w.unwrap();
        assert_eq!(w.port, Some(8080));
        assert_eq!(w.host.as_deref(), Some("127.0.0.1"));
        assert!(w.no_tls && w.compression);
        assert_eq!(w.allowed_origins, ["http://a.com"]);
        assert_eq!(w.handshake_timeout, Duration::from_secs(2));
        assert_eq!((w.auth.user.as_str(), w.auth.pass.as_str()), ("u", "p"));
        assert_eq!(w.auth_timeout, 3.0);
        assert_eq!(w.user_cookie, "uc");
        assert_eq!(w.headers, [("X-A".to_string(), "1".to_string())]);
        let (_, r) = run("websocket { port: 1, bogus: 1 }");
        assert!(
            r.errors[0].contains("unknown field \"bogus\""),
            "{:?}",
            r.errors
        );
    }

    #[test]
    fn validation_in_nats_server_words() {
        assert_eq!(
            invalid("websocket { port: 8080 }"),
            "websocket requires TLS configuration"
        );
        assert_eq!(
            invalid("websocket { port: 8080, no_tls: true, allowed_origins: [\"ftp://a.com\"] }"),
            "unable to parse allowed origin \"ftp://a.com\": allowed origins must be absolute URLs with http or https scheme"
        );
        assert_eq!(
            invalid("websocket { port: 8080, no_tls: true, allowed_origins: [\"http://\"] }"),
            "unable to parse allowed origin \"http://\": host is required"
        );
        assert_eq!(
            invalid("websocket { port: 8080, no_tls: true, headers { Sec-WebSocket-Foo: x } }"),
            "websocket: invalid header \"Sec-WebSocket-Foo\", \"Sec-WebSocket-\" prefix not allowed"
        );
        assert_eq!(
            invalid("websocket { port: 8080, no_tls: true, headers { Upgrade: x } }"),
            "websocket: invalid header \"Upgrade\" not allowed"
        );
        assert_eq!(
            invalid("websocket { port: 8080, no_tls: true, no_auth_user: bob }"),
            "no_auth_user: \"bob\" present, but users/nkeys are not defined"
        );
        assert_eq!(
            invalid("websocket { port: 8080, no_tls: true, jwt_cookie: jc }"),
            "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"jc\""
        );
        // Without a port the block is inert.
        let (w, _) = run("websocket { no_tls: false }");
        assert!(validate(&w.unwrap(), &Logins::default(), false).is_ok());
    }
}
