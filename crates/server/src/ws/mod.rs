//! WebSocket clients (`websocket {}`), on the core that accepted them: each
//! core's share of the WebSocket listener ([`listen`]), the start of a
//! connection as nats-server's WebSocket server makes it ([`start`]: TLS
//! first when configured, then one HTTP/1.1 upgrade request judged by
//! `shoal_proto::ws_handshake`), and the two halves of the data path: the
//! reader's decoding of frames ([`WsIn`]) and the writer's framing of its
//! queue ([`out`]). After the upgrade a WebSocket client is a client like
//! any other: the same parser, ops, auth, permissions and slow-consumer
//! rules, with its own logins (the listener's `authorization` override).
//!
//! Never: a blocking call, a write outside the writer (the upgrade's
//! response is the first thing the writer sends), an allocation per
//! message on the uncompressed path.

pub mod framing;
mod inbound;
pub mod out;

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use shoal_proto::ws_handshake::{self, Headers, Offer, Origins, Refused};

pub use framing::WsOut;
pub use inbound::WsIn;

use crate::client::{Client, CloseReason};
use crate::config::Websocket;
use crate::core::Core;
use crate::rt::{self, ReadHalf, WriteHalf};

/// Most bytes of an upgrade request (Go's `DefaultMaxHeaderBytes` and the
/// slack its server allows).
const MAX_REQUEST: usize = (1 << 20) + 4096;
/// Most headers one request may have.
const MAX_HEADERS: usize = 128;

/// How a WebSocket connection's start ended.
pub enum Start {
    /// Upgraded: the writer sends the `101` first; frames follow.
    Up(Box<WsIn>),
    /// Closed (the reason is set).
    Closed,
}

/// What one request on the listener came to.
enum Answer {
    Upgraded(Box<WsIn>),
    /// An HTTP error, sent; the connection stays open for the next request
    /// (HTTP/1.1 keep-alive, as Go's server keeps it), unless the client
    /// asked to close.
    Refused {
        keep: bool,
    },
    Closed,
}

/// The start of a connection on the WebSocket listener: the TLS handshake
/// (when configured), then upgrade requests until one succeeds, each within
/// `handshake_timeout` when one is set.
pub async fn start(
    core: &Core,
    client: &Rc<Client>,
    rh: &mut ReadHalf,
    wh: &mut WriteHalf,
    ws: &Websocket,
) -> Start {
    let mut req = BytesMut::new();
    if let Some(tls) = &ws.tls {
        match crate::tls::start_ws(client, rh, wh, tls).await {
            Some(plain) => req = plain,
            None => return Start::Closed,
        }
    }
    let mut cipher = BytesMut::new();
    loop {
        let deadline =
            (!ws.handshake_timeout.is_zero()).then(|| Instant::now() + ws.handshake_timeout);
        let end = loop {
            if let Some(i) = find_end(&req) {
                break i;
            }
            if req.len() > MAX_REQUEST {
                let r = plain_error(431, "Request Header Fields Too Large");
                let _ = crate::tls::send_direct(client, wh, &r, WRITE_TIMEOUT).await;
                client.set_close_reason(CloseReason::ClientClosed);
                return Start::Closed;
            }
            let read = async {
                if ws.tls.is_some() {
                    crate::tls::read(client, rh, &mut cipher, &mut req, 4096).await
                } else {
                    rh.read(&mut req, 4096).await
                }
            };
            let n = match deadline {
                Some(d) => {
                    match rt::timeout(d.saturating_duration_since(Instant::now()), read).await {
                        Some(r) => r,
                        None => {
                            client.set_close_reason(CloseReason::ReadError);
                            return Start::Closed;
                        }
                    }
                }
                None => read.await,
            };
            if !matches!(n, Ok(k) if k > 0) {
                client.set_close_reason(CloseReason::ClientClosed);
                return Start::Closed;
            }
        };
        let answer = answer(core, client, &req[..end], req.len() > end, ws);
        let answer = match answer {
            Err((status, reason, keep)) => {
                if let Some(reason) = &reason {
                    log::error!("{} - websocket handshake error: {reason}", client.peer);
                }
                let r = match reason {
                    Some(_) => error_response(status),
                    None => plain_error(status, "Bad Request"),
                };
                if !crate::tls::send_direct(client, wh, &r, WRITE_TIMEOUT).await {
                    Answer::Closed
                } else {
                    Answer::Refused { keep }
                }
            }
            Ok(a) => a,
        };
        match answer {
            Answer::Upgraded(w) => return Start::Up(w),
            Answer::Refused { keep: true } => {
                let _ = req.split_to(end);
            }
            Answer::Refused { keep: false } | Answer::Closed => {
                client.set_close_reason(CloseReason::ClientClosed);
                return Start::Closed;
            }
        }
    }
}

/// How long an HTTP answer may take to write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Judges one request (`head`, its header block; `more`: bytes followed
/// it). `Err`: the status to answer, nats-server's reason (`None`: a
/// request Go's server refuses before any handler), and whether the
/// connection stays open.
fn answer(
    core: &Core,
    client: &Client,
    head: &[u8],
    more: bool,
    ws: &Websocket,
) -> Result<Answer, (u16, Option<String>, bool)> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut slots);
    if !matches!(r.parse(head), Ok(httparse::Status::Complete(_))) {
        return Err((400, None, false));
    }
    let method = r.method.unwrap_or("");
    let path = r.path.unwrap_or("");
    let pairs: Vec<(&str, &[u8])> = r.headers.iter().map(|h| (h.name, h.value)).collect();
    let headers = Headers(&pairs);
    let keep = !pairs
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("Connection") && v.eq_ignore_ascii_case(b"close"));
    let path = path.split('?').next().unwrap_or("");
    if path.ends_with("/leafnode") {
        // Leaf nodes over WebSocket come with the leaf node listener.
        log::error!("Not configured to accept leaf node connections");
        return Ok(Answer::Closed);
    }
    if path.ends_with("/mqtt") {
        return Err((
            404,
            Some("mqtt websocket endpoint not enabled".into()),
            keep,
        ));
    }
    let offer = Offer {
        compression: ws.compression,
        jwt_cookie: &ws.jwt_cookie,
        username_cookie: &ws.username_cookie,
        password_cookie: &ws.password_cookie,
        token_cookie: &ws.token_cookie,
        raw_headers: &ws.raw_headers,
    };
    let up = ws_handshake::upgrade(method, &headers, &offer)
        .map_err(|Refused { status, reason }| (status, Some(reason), keep))?;
    let origins = Origins::new(ws.same_origin, &ws.allowed_origins);
    if let Err(why) = origins.check(&headers, ws.tls.is_some()) {
        return Err((403, Some(format!("origin not allowed: {why}")), keep));
    }
    if more {
        log::error!(
            "{} - websocket handshake error: client sent data before handshake is complete",
            client.peer
        );
        return Ok(Answer::Closed);
    }
    if let Some(ip) = &up.client_ip {
        *client.forwarded.borrow_mut() = Some(ip.clone());
        client.set_log_prefix(client.base_prefix());
    }
    // Cookies stand in for what the CONNECT leaves out.
    let mut creds = client.kept_creds();
    for (slot, v) in [
        (&mut creds.jwt, &up.cookie_jwt),
        (&mut creds.user, &up.cookie_user),
        (&mut creds.pass, &up.cookie_pass),
        (&mut creds.token, &up.cookie_token),
    ] {
        if let Some(v) = v {
            slot.clone_from(v);
        }
    }
    if !creds.is_empty() {
        *client.creds.borrow_mut() = Some(Box::new(creds));
    }
    *client.ws.borrow_mut() = Some(Box::new(WsOut::new(
        &up.response,
        up.browser,
        up.compress,
        up.no_compressed_fragments,
    )));
    Ok(Answer::Upgraded(Box::new(WsIn::new(
        !up.no_masking,
        up.compress,
        ws.tls.is_some(),
        core.live().max_payload,
    ))))
}

/// The error response Go's `http.Error` writes for a refused upgrade (with
/// nats-server's `Sec-Websocket-Version` and Go's `Date`).
fn error_response(status: u16) -> Vec<u8> {
    Refused {
        status,
        reason: String::new(),
    }
    .response(&shoal_go::http_date(std::time::SystemTime::now()))
}

/// The answer Go's HTTP server gives a request it cannot parse, before
/// closing.
fn plain_error(status: u16, text: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{status} {text}"
    )
    .into_bytes()
}

/// The end of the request's header block, past its blank line.
fn find_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}
