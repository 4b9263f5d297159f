//! NATS over WebSocket (`websocket {}`), Shoal beside nats-server 2.15: the
//! upgrade and its refusals, RFC 6455 framing both ways (masked, fragmented,
//! text and binary frames, ping/pong, the close handshake, framing errors),
//! permessage-deflate, the listener's auth override and cookies, TLS (wss),
//! max_payload, slow consumers, `/varz` and `/connz`, and
//! `ws_connect_urls` across a cluster. The client here is a small RFC 6455
//! client over a plain or TLS socket; real client libraries are in
//! `websocket_clients.rs`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::{with_conf, Kind};
use crate::monitor::{get, http_port};
use crate::util::{escape, ServerProc};

const DEADLINE: Duration = Duration::from_secs(5);
const LISTENING: &str = "Listening for websocket clients on ";

/// The WebSocket port a server logged.
pub fn ws_port(p: &ServerProc) -> u16 {
    assert!(
        p.wait_for_log(LISTENING, DEADLINE),
        "no websocket line in {:?}",
        p.log()
    );
    let line = p.log().into_iter().find(|l| l.contains(LISTENING)).unwrap();
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// A server of `kind` with `websocket { port: -1, <ws> }` and `conf`.
pub fn server(kind: Kind, ws: &str, conf: &str) -> ServerProc {
    let conf = format!("{conf}\nwebsocket {{\n  port: -1\n  {ws}\n}}\n");
    with_conf(kind, &conf, &["-m", "-1"])
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One frame as received.
#[derive(Debug)]
pub struct Frame {
    pub b0: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn op(&self) -> u8 {
        self.b0 & 0x0f
    }
}

/// A minimal RFC 6455 client: masks what it sends (unless told not to).
pub struct Ws {
    s: Box<dyn Stream>,
    sock: TcpStream,
    buf: Vec<u8>,
    /// The upgrade's response head.
    pub response: String,
    /// NATS bytes decoded from data frames, not yet taken.
    data: Vec<u8>,
    pub mask: bool,
}

/// How a read ended without what was wanted.
#[derive(Debug, PartialEq)]
pub enum End {
    Closed,
    TimedOut,
}

impl Ws {
    /// Upgrades with the usual headers plus `extra` (`Name: value\r\n`…).
    pub fn connect(port: u16, extra: &str) -> Ws {
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        Ws::over(Box::new(sock.try_clone().unwrap()), sock, extra)
    }

    /// The same over TLS (`cfg` trusts the test CA).
    pub fn connect_tls(port: u16, cfg: std::sync::Arc<rustls::ClientConfig>, extra: &str) -> Ws {
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(cfg, name).unwrap();
        let tls = rustls::StreamOwned::new(conn, sock.try_clone().unwrap());
        Ws::over(Box::new(tls), sock, extra)
    }

    fn over(s: Box<dyn Stream>, sock: TcpStream, extra: &str) -> Ws {
        sock.set_nodelay(true).unwrap();
        let mut ws = Ws {
            s,
            sock,
            buf: Vec::new(),
            response: String::new(),
            data: Vec::new(),
            mask: true,
        };
        let req = format!(
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        );
        ws.write(req.as_bytes());
        ws.response = ws.head().expect("an upgrade response");
        ws
    }

    fn write(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
        self.s.flush().unwrap();
    }

    fn fill(&mut self, deadline: Instant) -> Result<(), End> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(End::TimedOut);
        }
        self.sock.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0u8; 65536];
        match self.s.read(&mut chunk) {
            Ok(0) => Err(End::Closed),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(End::TimedOut)
            }
            Err(_) => Err(End::Closed),
        }
    }

    fn head(&mut self) -> Result<String, End> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let h: Vec<u8> = self.buf.drain(..i + 4).collect();
                return Ok(String::from_utf8_lossy(&h).into_owned());
            }
            self.fill(deadline)?;
        }
    }

    /// Sends one frame: `b0` (FIN, RSV, opcode) and `payload`, masked
    /// with a fixed key when `self.mask`.
    pub fn frame(&mut self, b0: u8, payload: &[u8]) {
        let mut f = vec![b0];
        let m = if self.mask { 0x80 } else { 0 };
        let n = payload.len();
        if n < 126 {
            f.push(m | n as u8);
        } else if n < 65536 {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
        if self.mask {
            let key = [0x37, 0xfa, 0x21, 0x3d];
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        self.write(&f);
    }

    /// NATS bytes in one final binary frame.
    pub fn send(&mut self, nats: &[u8]) {
        self.frame(0x82, nats);
    }

    /// The next frame.
    pub fn read_frame(&mut self, deadline: Instant) -> Result<Frame, End> {
        loop {
            if let Some((f, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                return Ok(f);
            }
            self.fill(deadline)?;
        }
    }

    /// Reads data frames until the NATS bytes contain `want`; returns the
    /// bytes up to its end. Control frames are skipped.
    pub fn read_until(&mut self, want: &[u8]) -> Result<Vec<u8>, End> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(at) = self.data.windows(want.len()).position(|w| w == want) {
                return Ok(self.data.drain(..at + want.len()).collect());
            }
            let f = self.read_frame(deadline)?;
            if f.op() <= 2 {
                self.data.extend(inflate_frame(&f));
            }
        }
    }

    /// Sends PING and returns everything up to the PONG.
    pub fn ping_pong(&mut self) -> Vec<u8> {
        self.send(b"PING\r\n");
        self.read_until(b"PONG\r\n").expect("a PONG")
    }

    /// The INFO at the start, as JSON.
    pub fn info(&mut self) -> Value {
        let line = self.read_until(b"\r\n").expect("an INFO");
        let text = String::from_utf8_lossy(&line);
        let json = text.strip_prefix("INFO ").expect("INFO first").trim();
        serde_json::from_str(json).unwrap()
    }

    /// Frames until the connection closes: the close frame's payload, if
    /// one came.
    pub fn until_closed(&mut self) -> Option<Vec<u8>> {
        let deadline = Instant::now() + DEADLINE;
        let mut close = None;
        loop {
            match self.read_frame(deadline) {
                Ok(f) if f.op() == 8 => close = Some(f.payload),
                Ok(f) => self.data.extend_from_slice(&f.payload),
                Err(End::Closed) => return close,
                Err(End::TimedOut) => panic!("still open; close frame {close:?}"),
            }
        }
    }

    /// NATS bytes decoded so far and not yet taken.
    pub fn take_data(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.data)
    }
}

/// HTTP/1.1 requests on one connection.
struct Http {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    fn connect(port: u16) -> Http {
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(DEADLINE)).unwrap();
        Http {
            sock,
            buf: Vec::new(),
        }
    }

    /// Sends `request`; the response head and its body (by
    /// `Content-Length`; none on a 101).
    fn exchange(&mut self, request: &str) -> (String, String) {
        self.sock.write_all(request.as_bytes()).unwrap();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..i + 4]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map_or(0, |n| n.trim().parse().unwrap());
                if self.buf.len() >= i + 4 + len {
                    let body = String::from_utf8_lossy(&self.buf[i + 4..i + 4 + len]).into_owned();
                    self.buf.drain(..i + 4 + len);
                    return (head, body);
                }
            }
            let n = self.sock.read(&mut chunk).expect("a response");
            assert!(
                n > 0,
                "closed after {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// One server frame from the front of `b`, with the bytes it took.
fn parse_frame(b: &[u8]) -> Option<(Frame, usize)> {
    if b.len() < 2 {
        return None;
    }
    assert_eq!(b[1] & 0x80, 0, "a server frame is never masked");
    let (len, at) = match b[1] & 0x7f {
        126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
        127 if b.len() >= 10 => (
            u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        n => (usize::from(n), 2),
    };
    if b.len() < at + len {
        return None;
    }
    Some((
        Frame {
            b0: b[0],
            payload: b[at..at + len].to_vec(),
        },
        at + len,
    ))
}

/// A logged-in client of `p`'s WebSocket listener, its INFO read.
fn login(p: &ServerProc, extra: &str, connect: &str) -> (Ws, Value) {
    let mut ws = Ws::connect(ws_port(p), extra);
    assert!(ws.response.starts_with("HTTP/1.1 101"), "{}", ws.response);
    let info = ws.info();
    ws.send(format!("CONNECT {connect}\r\n").as_bytes());
    (ws, info)
}

fn both() -> [(Kind, ServerProc); 2] {
    [
        (Kind::Shoal, server(Kind::Shoal, "no_tls: true", "")),
        (Kind::Nats, server(Kind::Nats, "no_tls: true", "")),
    ]
}

#[test]
fn upgrade_response_and_info_as_nats_server() {
    for (kind, p) in both() {
        let (mut ws, info) = login(&p, "", "{\"verbose\":false}");
        let r = &ws.response;
        for line in [
            "HTTP/1.1 101 Switching Protocols\r\n",
            "Upgrade: websocket\r\n",
            "Connection: Upgrade\r\n",
            // RFC 6455's example key and its accept value.
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
        ] {
            assert!(r.contains(line), "{kind:?}: {r}");
        }
        assert!(!r.contains("Sec-WebSocket-Extensions"), "{kind:?}: {r}");
        // INFO names the WebSocket listener.
        assert_eq!(info["port"], ws_port(&p), "{kind:?}: {info}");
        assert_eq!(info["host"], "0.0.0.0", "{kind:?}: {info}");
        assert!(info.get("tls_required").is_none(), "{kind:?}: {info}");
        assert!(info.get("connect_urls").is_none(), "{kind:?}: {info}");
        ws.ping_pong();
    }
}

#[test]
fn refused_upgrades_as_nats_server() {
    let base =
        "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let cases = [
        (
            format!("POST / HTTP/1.1\r\n{base}{key}\r\n"),
            "405 Method Not Allowed",
        ),
        (format!("GET / HTTP/1.1\r\n{base}\r\n"), "400 Bad Request"),
        (
            format!("GET / HTTP/1.1\r\n{}{key}\r\n", base.replace("13", "8")),
            "400 Bad Request",
        ),
        (
            format!(
                "GET / HTTP/1.1\r\n{}{key}\r\n",
                base.replace("Upgrade: websocket\r\n", "")
            ),
            "400 Bad Request",
        ),
        (
            format!("GET / HTTP/1.1\r\n{base}{key}Origin: http://evil.com\r\n\r\n"),
            "403 Forbidden",
        ),
        (
            format!("GET /mqtt HTTP/1.1\r\n{base}{key}\r\n"),
            "404 Not Found",
        ),
    ];
    let upgrade = format!("GET / HTTP/1.1\r\n{base}{key}\r\n");
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(
            kind,
            "no_tls: true\n  allowed_origins: [\"http://good.com\"]",
            "",
        );
        let port = ws_port(&p);
        for (req, want) in &cases {
            let mut c = Http::connect(port);
            let (head, body) = c.exchange(req);
            let status = head.lines().next().unwrap_or("");
            assert_eq!(
                status,
                format!("HTTP/1.1 {want}"),
                "{kind:?}: {req:?} → {head}"
            );
            for h in [
                "Content-Type: text/plain; charset=utf-8\r\n",
                "Sec-Websocket-Version: 13\r\n",
                "X-Content-Type-Options: nosniff\r\n",
                "Date: ",
            ] {
                assert!(head.contains(h), "{kind:?}: {head}");
            }
            assert!(!head.contains("Connection"), "{kind:?}: {head}");
            let text = want.split_once(' ').unwrap().1;
            assert_eq!(body, format!("{text}\n"), "{kind:?}");
            // Keep-alive: the same connection may ask again.
            let (head, _) = c.exchange(&upgrade);
            assert!(head.starts_with("HTTP/1.1 101 "), "{kind:?}: {head}");
        }
        // The listener keeps serving after refusals.
        let (mut ws, _) = login(&p, "Origin: http://good.com\r\n", "{}");
        ws.ping_pong();
    }
}

#[test]
fn frames_both_ways_as_nats_server() {
    for (kind, p) in both() {
        let (mut sub, _) = login(&p, "", "{\"verbose\":false}");
        sub.send(b"SUB foo 1\r\n");
        sub.ping_pong();
        let (mut publ, _) = login(&p, "", "{\"verbose\":false}");
        // An op split across frames, a fragmented message (text, then a
        // continuation), and a ping in the middle of the fragments.
        publ.send(b"PUB foo 5\r\nhel");
        publ.send(b"lo\r\nPUB foo 2\r\n");
        publ.frame(0x01, b"o");
        publ.frame(0x89, b"are you there");
        publ.frame(0x80, b"k\r\n");
        let pong = publ.read_frame(Instant::now() + DEADLINE).unwrap();
        assert_eq!(
            (pong.op(), &pong.payload[..]),
            (10, &b"are you there"[..]),
            "{kind:?}"
        );
        publ.ping_pong();
        let got = sub.ping_pong();
        assert_eq!(
            escape(&got),
            escape(b"MSG foo 1 5\r\nhello\r\nMSG foo 1 2\r\nok\r\nPONG\r\n"),
            "{kind:?}"
        );
        // A large message crosses in one piece, in order.
        let big = vec![b'x'; 200_000];
        let mut pubop = format!("PUB foo {}\r\n", big.len()).into_bytes();
        pubop.extend_from_slice(&big);
        pubop.extend_from_slice(b"\r\n");
        publ.send(&pubop);
        publ.ping_pong();
        let got = sub.ping_pong();
        assert!(got.starts_with(b"MSG foo 1 200000\r\nxxx"), "{kind:?}");
        assert_eq!(got.len(), 18 + 200_000 + 2 + 6, "{kind:?}");
        // The close handshake: the status and text come back, then EOF.
        let mut body = 1000u16.to_be_bytes().to_vec();
        body.extend_from_slice(b"bye");
        sub.frame(0x88, &body);
        assert_eq!(sub.until_closed(), Some(body), "{kind:?}");
    }
}

#[test]
fn framing_errors_close_the_connection() {
    for (kind, p) in both() {
        // An unmasked client frame, RSV1 without deflate, a 126-byte ping.
        for (what, mask, b0, payload) in [
            ("unmasked", false, 0x82u8, b"PING\r\n".to_vec()),
            ("rsv1", true, 0xc2, b"PING\r\n".to_vec()),
            ("big control", true, 0x89, vec![b'p'; 126]),
        ] {
            let (mut ws, _) = login(&p, "", "{}");
            ws.ping_pong();
            ws.mask = mask;
            ws.frame(b0, &payload);
            let close = ws.until_closed();
            if let Some(c) = close {
                assert_eq!(
                    &c[..2],
                    &1002u16.to_be_bytes(),
                    "{kind:?} {what}: {}",
                    escape(&c)
                );
            }
            assert!(
                !String::from_utf8_lossy(&ws.take_data()).contains("PONG"),
                "{kind:?} {what}"
            );
        }
    }
}

#[test]
fn max_payload_over_websocket() {
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(kind, "no_tls: true", "max_payload: 100");
        let (mut ws, info) = login(&p, "", "{\"verbose\":false}");
        assert_eq!(info["max_payload"], 100);
        ws.send(b"PUB foo 101\r\n");
        let close = ws.until_closed();
        let data = String::from_utf8_lossy(&ws.take_data()).into_owned();
        assert!(
            data.contains("-ERR 'Maximum Payload Violation'"),
            "{kind:?}: {data}"
        );
        let c = close.expect("a close frame");
        assert_eq!(&c[..2], &1009u16.to_be_bytes(), "{kind:?}: {}", escape(&c));
    }
}

#[test]
fn permessage_deflate_both_ways() {
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(kind, "no_tls: true\n  compression: true", "");
        let (mut ws, _) = login(&p, offer, "{\"verbose\":false}");
        assert!(
            ws.response.contains(
                "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
            ),
            "{kind:?}: {}",
            ws.response
        );
        // A compressed client frame: "SUB a 1\r\nPING\r\n" deflated.
        let mut d = shoal_deflate(b"SUB a 1\r\nPING\r\n");
        ws.frame(0xc2, &d);
        let mut got = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while !String::from_utf8_lossy(&got).contains("PONG") {
            let f = ws.read_frame(deadline).unwrap();
            got.extend(inflate_frame(&f));
        }
        // A large message comes back compressed (RSV1), and inflates to it.
        let body = b"0123456789".repeat(100);
        let mut op = format!("PUB a {}\r\n", body.len()).into_bytes();
        op.extend_from_slice(&body);
        op.extend_from_slice(b"\r\n");
        d = shoal_deflate(&op);
        ws.frame(0xc2, &d);
        let mut got = Vec::new();
        let mut compressed = false;
        while got.len() < body.len() {
            let f = ws.read_frame(deadline).unwrap();
            compressed |= f.b0 & 0x40 != 0;
            got.extend(inflate_frame(&f));
        }
        assert!(compressed, "{kind:?}");
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("MSG a 1 1000\r\n0123456789"),
            "{kind:?}: {text}"
        );
    }
}

/// A message deflated as a permessage-deflate client sends it.
fn shoal_deflate(b: &[u8]) -> Vec<u8> {
    let mut c = miniz_oxide::deflate::core::CompressorOxide::default();
    c.set_format_and_level(miniz_oxide::DataFormat::Raw, 1);
    let mut out = vec![0u8; b.len() + 64];
    let r = miniz_oxide::deflate::core::compress(
        &mut c,
        b,
        &mut out,
        miniz_oxide::deflate::core::TDEFLFlush::Sync,
    );
    out.truncate(r.2);
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn inflate_frame(f: &Frame) -> Vec<u8> {
    if f.b0 & 0x40 == 0 {
        return f.payload.clone();
    }
    let mut input = f.payload.clone();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff]);
    miniz_oxide::inflate::decompress_to_vec(&input).unwrap()
}

#[test]
fn the_listener_authorization_overrides_the_server_s() {
    // The server needs no login; its WebSocket clients log in as ws/pw, or
    // with the cookies that carry them.
    let ws_conf = "no_tls: true\n  authorization { user: ws, password: pw }\n  user_cookie: u\n  pass_cookie: p";
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(kind, ws_conf, "");
        let (mut ws, info) = login(&p, "", "{\"verbose\":false}");
        assert_eq!(info["auth_required"], true, "{kind:?}: {info}");
        ws.send(b"PING\r\n");
        let data = ws.read_until(b"\r\n").unwrap();
        assert_eq!(
            escape(&data),
            "-ERR 'Authorization Violation'\\r\\n",
            "{kind:?}"
        );
        let (mut ok, _) = login(
            &p,
            "",
            "{\"verbose\":false,\"user\":\"ws\",\"pass\":\"pw\"}",
        );
        ok.ping_pong();
        let (mut cookie, _) = login(&p, "Cookie: u=ws; p=pw\r\n", "{\"verbose\":false}");
        cookie.ping_pong();
        // TCP clients are not asked for anything.
        let (mut raw, tinfo) = crate::util::Raw::connect(p.port);
        assert!(tinfo.get("auth_required").is_none(), "{kind:?}: {tinfo}");
        raw.send(b"CONNECT {\"verbose\":false}\r\n");
        raw.ping_pong();
    }
}

#[test]
fn websocket_and_tcp_clients_meet_across_cores() {
    let p = server(Kind::Shoal, "no_tls: true", "");
    let (mut tcp, _) = crate::util::Raw::connect(p.port);
    tcp.send(b"CONNECT {\"verbose\":false}\r\nSUB tcp.> 1\r\n");
    tcp.ping_pong();
    let mut subs = Vec::new();
    for _ in 0..4 {
        let (mut ws, _) = login(&p, "", "{\"verbose\":false}");
        ws.send(b"SUB ws.x 1\r\n");
        ws.ping_pong();
        subs.push(ws);
    }
    tcp.send(b"PUB ws.x 2\r\nhi\r\n");
    tcp.ping_pong();
    for ws in &mut subs {
        let got = ws.ping_pong();
        assert_eq!(escape(&got), escape(b"MSG ws.x 1 2\r\nhi\r\nPONG\r\n"));
        ws.send(b"PUB tcp.a 3\r\nabc\r\n");
        ws.ping_pong();
    }
    let got = tcp.read_until_pong_after(b"PING\r\n");
    assert_eq!(
        String::from_utf8_lossy(&got)
            .matches("MSG tcp.a 1 3\r\nabc\r\n")
            .count(),
        4
    );
}

#[test]
fn a_websocket_subscriber_that_never_reads_is_cut_off_alone() {
    let p = server(Kind::Shoal, "no_tls: true", "max_pending: 2000000");
    let (mut slow, _) = login(&p, "", "{\"verbose\":false}");
    slow.send(b"SUB big 1\r\n");
    slow.ping_pong();
    let (mut fast, _) = login(&p, "", "{\"verbose\":false}");
    fast.send(b"SUB big 1\r\n");
    fast.ping_pong();
    let (mut publ, _) = crate::util::Raw::connect(p.port);
    publ.send(b"CONNECT {\"verbose\":false}\r\n");
    let payload = vec![b'z'; 60_000];
    let mut op = format!("PUB big {}\r\n", payload.len()).into_bytes();
    op.extend_from_slice(&payload);
    op.extend_from_slice(b"\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = 0usize;
    // The fast one reads everything while the slow one's socket fills.
    loop {
        publ.send(&op);
        publ.ping_pong();
        let got = fast.ping_pong();
        seen += String::from_utf8_lossy(&got).matches("MSG big").count();
        let page = get(http_port(&p), "/varz").json();
        if page["slow_consumers"].as_u64() >= Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "no slow consumer: {page}");
    }
    assert!(seen > 0);
    fast.ping_pong();
    let conns = get(http_port(&p), "/connz?state=closed").json();
    let closed = conns["connections"].as_array().unwrap();
    assert!(
        closed
            .iter()
            .any(|c| c["type"] == "websocket" && c["reason"] == "Slow Consumer (Pending Bytes)"),
        "{conns}"
    );
}

#[test]
fn monitoring_shows_the_listener_as_nats_server() {
    let ws_conf =
        "no_tls: true\n  compression: true\n  same_origin: true\n  handshake_timeout: \"3s\"";
    let mut pages = Vec::new();
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(kind, ws_conf, "");
        let (mut ws, _) = login(&p, "", "{\"verbose\":false,\"name\":\"w\"}");
        ws.ping_pong();
        let varz = get(http_port(&p), "/varz").json();
        let mut w = varz["websocket"].clone();
        assert_eq!(w["port"], ws_port(&p), "{kind:?}: {w}");
        w["port"] = 0.into();
        let connz = get(http_port(&p), "/connz").json();
        let c = connz["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "w")
            .cloned()
            .unwrap_or_else(|| panic!("{kind:?}: {connz}"));
        pages.push((w, c["type"].clone(), c["kind"].clone()));
    }
    assert_eq!(pages[0], pages[1]);
    assert_eq!(pages[0].1, "websocket");
}

#[test]
fn wss_over_tls() {
    let ca = crate::tls::Ca::new("ws");
    let srv = ca.server();
    let block = crate::tls::tls_block(&srv, "");
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(kind, &block, "");
        assert!(p.wait_for_log("Listening for websocket clients on wss://", DEADLINE));
        let mut ws = Ws::connect_tls(ws_port(&p), crate::tls::client_config(&ca, None), "");
        assert!(
            ws.response.starts_with("HTTP/1.1 101"),
            "{kind:?}: {}",
            ws.response
        );
        let info = ws.info();
        assert_eq!(info["tls_required"], true, "{kind:?}: {info}");
        ws.send(b"CONNECT {\"verbose\":false}\r\nSUB s 1\r\nPUB s 2\r\nok\r\n");
        let got = ws.ping_pong();
        assert_eq!(
            escape(&got),
            escape(b"MSG s 1 2\r\nok\r\nPONG\r\n"),
            "{kind:?}"
        );
        // A large message over TLS and frames.
        let big = vec![b'q'; 300_000];
        let mut op = b"PUB s 300000\r\n".to_vec();
        op.extend_from_slice(&big);
        op.extend_from_slice(b"\r\n");
        ws.send(&op);
        let got = ws.ping_pong();
        assert_eq!(got.len(), 16 + 300_000 + 2 + 6, "{kind:?}");
    }
}

#[test]
fn configuration_errors_in_nats_server_words() {
    for (conf, want) in [
        ("websocket { port: 8080 }", "websocket requires TLS configuration"),
        (
            "websocket { port: 8080, no_tls: true, allowed_origins: [\"ws://a.com\"] }",
            "allowed origins must be absolute URLs with http or https scheme",
        ),
        (
            "websocket { port: 8080, no_tls: true, headers { Connection: x } }",
            "websocket: invalid header \"Connection\" not allowed",
        ),
        (
            "authorization { users: [{user: a, password: b}] }\nwebsocket { port: 8080, no_tls: true, authorization { user: x, password: y } }",
            "websocket authentication username not compatible with presence of users/nkeys",
        ),
    ] {
        for kind in [Kind::Shoal, Kind::Nats] {
            let path = crate::util::temp_path("conf");
            std::fs::write(&path, conf).unwrap();
            let bin = match kind {
                Kind::Shoal => env!("CARGO_BIN_EXE_shoal").to_string(),
                Kind::Nats => crate::util::reference_bin().display().to_string(),
            };
            // nats-server checks these when it starts (`-t` only parses).
            let out = std::process::Command::new(bin)
                .args(["-c", path.to_str().unwrap()])
                .output()
                .unwrap();
            let _ = std::fs::remove_file(&path);
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            assert!(!out.status.success(), "{kind:?}: {conf}: {text}");
            assert!(text.contains(want), "{kind:?}: {conf}: {text}");
        }
    }
}

#[test]
fn ws_connect_urls_cross_the_cluster() {
    use crate::cluster::route_port;
    let ws = "no_tls: true\n  host: 127.0.0.1";
    let node = |kind: Kind, seed: Option<u16>| {
        let routes = seed.map_or(String::new(), |p| {
            format!("  routes: [\"nats://127.0.0.1:{p}\"]\n")
        });
        let conf = format!("cluster {{\n  name: C1\n  listen: \"127.0.0.1:-1\"\n{routes}}}\n");
        server(kind, ws, &conf)
    };
    for (k1, k2) in [
        (Kind::Shoal, Kind::Nats),
        (Kind::Nats, Kind::Shoal),
        (Kind::Shoal, Kind::Shoal),
    ] {
        let a = node(k1, None);
        let b = node(k2, Some(route_port(&a)));
        let want = |p: &ServerProc| format!("127.0.0.1:{}", ws_port(p));
        for (me, other, kind) in [(&a, &b, k1), (&b, &a, k2)] {
            // The peer's URLs arrive with its route INFO: poll /varz.
            let deadline = Instant::now() + DEADLINE;
            let urls = loop {
                let v = get(http_port(me), "/varz").json();
                let urls: Vec<String> = v["ws_connect_urls"]
                    .as_array()
                    .map(|a| a.iter().map(|u| u.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                if urls.contains(&want(other)) {
                    break urls;
                }
                assert!(Instant::now() < deadline, "{kind:?}: {v}");
                std::thread::sleep(Duration::from_millis(20));
            };
            assert_eq!(urls[0], want(me), "{kind:?}: own first: {urls:?}");
            // A WebSocket client is told the WebSocket URLs; a TCP client
            // the client ones.
            let (_, info) = login(me, "", "{}");
            assert_eq!(
                info["connect_urls"],
                serde_json::json!(urls),
                "{kind:?}: {info}"
            );
            let (_, tinfo) = crate::util::Raw::connect(me.port);
            let curls = tinfo["connect_urls"].as_array().unwrap();
            assert!(
                curls
                    .iter()
                    .all(|u| !urls.contains(&u.as_str().unwrap().to_string())),
                "{kind:?}: {tinfo}"
            );
        }
    }
}

#[test]
fn the_listener_ping_interval_paces_its_clients() {
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(kind, "no_tls: true\n  ping_interval: \"100ms\"", "");
        let (mut ws, _) = login(&p, "", "{\"verbose\":false}");
        ws.ping_pong();
        // The server's own interval is two minutes (its first PING two
        // seconds after CONNECT): a PING within a second is the listener's.
        let t = Instant::now();
        let got = ws.read_until(b"PING\r\n").expect("a PING");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{kind:?}: {:?}",
            t.elapsed()
        );
        assert_eq!(got, b"PING\r\n", "{kind:?}");
        ws.send(b"PONG\r\n");
        ws.ping_pong();
    }
}

#[test]
fn log_lines_name_wid_and_the_forwarded_address() {
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = with_conf(kind, "websocket { port: -1, no_tls: true }\n", &["-D"]);
        let mut ws = Ws::connect(ws_port(&p), "X-Forwarded-For: 10.1.2.3\r\n");
        ws.info();
        ws.send(b"CONNECT {\"verbose\":false}\r\n");
        ws.ping_pong();
        let want = "10.1.2.3/127.0.0.1:";
        assert!(p.wait_for_log(want, DEADLINE), "{kind:?}: {:?}", p.log());
        let line = p.log().into_iter().find(|l| l.contains(want)).unwrap();
        assert!(line.contains(" - wid:"), "{kind:?}: {line}");
    }
}

#[test]
fn the_ports_file_lists_the_websocket_and_route_listeners() {
    for kind in [Kind::Shoal, Kind::Nats] {
        let dir = crate::util::temp_path("ports");
        std::fs::create_dir_all(&dir).unwrap();
        let conf = "websocket { listen: \"127.0.0.1:-1\", no_tls: true }\ncluster { name: C, listen: \"127.0.0.1:-1\" }\n";
        let p = with_conf(
            kind,
            conf,
            &["-a", "127.0.0.1", "--ports_file_dir", dir.to_str().unwrap()],
        );
        let route = crate::cluster::route_port(&p);
        let ws = ws_port(&p);
        let name = match kind {
            Kind::Shoal => "shoal",
            Kind::Nats => "nats-server",
        };
        let file = dir.join(format!("{name}_{}.ports", p.pid()));
        let deadline = Instant::now() + DEADLINE;
        while !file.exists() {
            assert!(Instant::now() < deadline, "{kind:?}: no {}", file.display());
            std::thread::sleep(Duration::from_millis(10));
        }
        let got: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            got,
            serde_json::json!({
                "nats": [format!("nats://127.0.0.1:{}", p.port)],
                "cluster": [format!("nats://127.0.0.1:{route}")],
                "websocket": [format!("ws://127.0.0.1:{ws}")],
            }),
            "{kind:?}"
        );
        drop(p);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_listener_no_auth_user_and_token_cookie() {
    // Users need a login on TCP; on the WebSocket listener a client that
    // sends none is `guest`, whose permissions apply.
    let users = "authorization { users: [{user: admin, password: a}, {user: guest, password: g, permissions: {publish: [\"pub.>\"], subscribe: [\"_INBOX.>\"]}}] }";
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(kind, "no_tls: true\n  no_auth_user: guest", users);
        let (mut ws, info) = login(&p, "", "{\"verbose\":false}");
        // The listener's own logins: INFO says so, whatever they are.
        assert_eq!(info["auth_required"], true, "{kind:?}: {info}");
        ws.send(b"PUB pub.a 1\r\nx\r\n");
        ws.ping_pong();
        ws.send(b"PUB other 1\r\nx\r\n");
        let got = ws.ping_pong();
        assert!(
            String::from_utf8_lossy(&got)
                .contains("Permissions Violation for Publish to \"other\""),
            "{kind:?}: {}",
            escape(&got)
        );
        let (mut raw, tinfo) = crate::util::Raw::connect(p.port);
        assert_eq!(tinfo["auth_required"], true, "{kind:?}: {tinfo}");
        raw.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        let got = raw.read_until_closed(DEADLINE);
        assert!(escape(&got).contains("Authorization Violation"), "{kind:?}");
    }
    // A token on the listener, carried by a cookie.
    for kind in [Kind::Shoal, Kind::Nats] {
        let p = server(
            kind,
            "no_tls: true\n  authorization { token: s3cr3t }\n  token_cookie: tk",
            "",
        );
        let (mut ws, _) = login(&p, "Cookie: other=1; tk=s3cr3t\r\n", "{\"verbose\":false}");
        ws.ping_pong();
        let (mut bad, _) = login(&p, "Cookie: tk=wrong\r\n", "{\"verbose\":false}");
        bad.send(b"PING\r\n");
        let data = bad.read_until(b"\r\n").unwrap();
        assert_eq!(
            escape(&data),
            "-ERR 'Authorization Violation'\\r\\n",
            "{kind:?}"
        );
    }
}

#[test]
fn a_reload_keeps_the_listener_but_follows_the_users() {
    let conf = |compression: bool, pass: &str| {
        format!("authorization {{ users: [{{user: u, password: {pass}}}] }}\nwebsocket {{ port: -1, no_tls: true, compression: {compression} }}\n")
    };
    for kind in [Kind::Shoal, Kind::Nats] {
        let path = crate::util::temp_path("conf");
        std::fs::write(&path, conf(false, "one")).unwrap();
        let p = match kind {
            Kind::Shoal => crate::util::shoal(&["-c", path.to_str().unwrap(), "--cores", "2"]),
            Kind::Nats => crate::util::nats_server(&["-c", path.to_str().unwrap()]),
        };
        // The users change: a WebSocket client logs in with the new password.
        std::fs::write(&path, conf(false, "two")).unwrap();
        p.signal(libc::SIGHUP);
        assert!(
            p.wait_for_log("Reloaded server configuration", DEADLINE),
            "{kind:?}"
        );
        let (mut ws, _) = login(
            &p,
            "",
            "{\"verbose\":false,\"user\":\"u\",\"pass\":\"two\"}",
        );
        ws.ping_pong();
        // The listener's own settings do not.
        std::fs::write(&path, conf(true, "two")).unwrap();
        p.signal(libc::SIGHUP);
        let refused = "config reload not supported for Websocket";
        assert!(p.wait_for_log(refused, DEADLINE), "{kind:?}: {:?}", p.log());
        let _ = std::fs::remove_file(&path);
    }
}
