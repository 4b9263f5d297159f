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

mod inbound;
pub mod out;

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use shoal_proto::ws_handshake::{self, Headers, Offer, Origins, Refused};

pub use inbound::WsIn;
pub use out::WsOut;

use crate::client::{Client, CloseReason};
use crate::config::Websocket;
use crate::core::Core;
use crate::rt::{self, ReadHalf, WriteHalf};

/// Most bytes of an upgrade request (Go's `DefaultMaxHeaderBytes` and the
/// slack its server allows).
const MAX_REQUEST: usize = (1 << 20) + 4096;
/// Most headers one request may have.
const MAX_HEADERS: usize = 128;

/// Accepts WebSocket connections on this core's share of the listener
/// until the server stops or enters lame duck mode.
pub async fn listen(core: Rc<Core>, listener: rt::Listener) {
    let life = core.life();
    loop {
        match listener.accept_or(life.stop_ev.wait()).await {
            None => break,
            Some(Ok((rh, wh, peer))) => {
                rt::spawn(crate::reader::serve(core.clone(), rh, wh, peer, true));
            }
            Some(Err(e)) => {
                log::error!("Websocket Accept error: {e}");
                rt::sleep(Duration::from_millis(10)).await;
            }
        }
        if life.stopping.get() || life.closing_from.get().is_some() {
            break;
        }
    }
}

/// How a WebSocket connection's start ended.
pub enum Start {
    /// Upgraded: the writer sends the `101` first; frames follow.
    Up(Box<WsIn>),
    /// Refused with an HTTP error, queued for the writer: flush, then close.
    Refused,
    /// Closed (the reason is set).
    Closed,
}

/// The start of a connection on the WebSocket listener: the TLS handshake
/// (when configured), then the upgrade request, within
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
    let deadline = (!ws.handshake_timeout.is_zero()).then(|| Instant::now() + ws.handshake_timeout);
    let mut cipher = BytesMut::new();
    let end = loop {
        if let Some(i) = find_end(&req) {
            break i;
        }
        if req.len() > MAX_REQUEST {
            return refuse_raw(client, 431, "Request Header Fields Too Large");
        }
        let read = async {
            if ws.tls.is_some() {
                crate::tls::read(client, rh, &mut cipher, &mut req, 4096).await
            } else {
                rh.read(&mut req, 4096).await
            }
        };
        let n = match deadline {
            Some(d) => match rt::timeout(d.saturating_duration_since(Instant::now()), read).await {
                Some(r) => r,
                None => {
                    client.set_close_reason(CloseReason::ReadError);
                    return Start::Closed;
                }
            },
            None => read.await,
        };
        match n {
            Ok(0) | Err(_) => {
                client.set_close_reason(CloseReason::ClientClosed);
                return Start::Closed;
            }
            Ok(_) => {}
        }
    };
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut slots);
    let parsed = r.parse(&req[..end]);
    if !matches!(parsed, Ok(httparse::Status::Complete(_))) {
        return refuse_raw(client, 400, "Bad Request");
    }
    let method = r.method.unwrap_or("");
    let path = r.path.unwrap_or("");
    let pairs: Vec<(&str, &[u8])> = r.headers.iter().map(|h| (h.name, h.value)).collect();
    let headers = Headers(&pairs);
    let path = path.split('?').next().unwrap_or("");
    if path.ends_with("/leafnode") {
        // Leaf nodes over WebSocket come with the leaf node listener.
        log::error!("Not configured to accept leaf node connections");
        client.set_close_reason(CloseReason::ClientClosed);
        return Start::Closed;
    }
    if path.ends_with("/mqtt") {
        return refuse(
            client,
            Refused {
                status: 404,
                reason: "mqtt websocket endpoint not enabled".into(),
            },
        );
    }
    let offer = Offer {
        compression: ws.compression,
        jwt_cookie: &ws.jwt_cookie,
        username_cookie: &ws.username_cookie,
        password_cookie: &ws.password_cookie,
        token_cookie: &ws.token_cookie,
        raw_headers: &ws.raw_headers,
    };
    let up = match ws_handshake::upgrade(method, &headers, &offer) {
        Ok(up) => up,
        Err(refused) => return refuse(client, refused),
    };
    let origins = Origins::new(ws.same_origin, &ws.allowed_origins);
    if let Err(why) = origins.check(&headers, ws.tls.is_some()) {
        return refuse(
            client,
            Refused {
                status: 403,
                reason: format!("origin not allowed: {why}"),
            },
        );
    }
    if req.len() > end {
        log::error!(
            "{} - websocket handshake error: client sent data before handshake is complete",
            client.peer
        );
        client.set_close_reason(CloseReason::ClientClosed);
        return Start::Closed;
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
    let max_payload = core.live().max_payload;
    Start::Up(Box::new(WsIn::new(
        !up.no_masking,
        up.compress,
        ws.tls.is_some(),
        max_payload,
    )))
}

/// The end of the request's header block, past its blank line.
fn find_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// An upgrade refused in nats-server's words: logged, answered with the
/// HTTP error, closed once the writer has sent it.
fn refuse(client: &Client, refused: Refused) -> Start {
    log::error!(
        "{} - websocket handshake error: {}",
        client.peer,
        refused.reason
    );
    queue_raw(client, &refused.response());
    Start::Refused
}

/// A request Go's HTTP server refuses before any handler sees it.
fn refuse_raw(client: &Client, status: u16, text: &str) -> Start {
    let body = format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{status} {text}"
    );
    queue_raw(client, body.as_bytes());
    Start::Refused
}

/// Queues `bytes` to go out unframed, and no close frame after them.
fn queue_raw(client: &Client, bytes: &[u8]) {
    *client.ws.borrow_mut() = Some(Box::new(WsOut::raw_only(bytes)));
    client.set_close_reason(CloseReason::ClientClosed);
}
