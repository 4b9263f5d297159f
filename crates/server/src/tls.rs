//! TLS on a client or route connection, on its own core: the start of a
//! route (handshake first on both sides, [`start_route`]); the start of a
//! client connection in
//! nats-server's order (INFO in clear then the client's handshake; or
//! `handshake_first`, with its fallback to INFO-first; or, with
//! `allow_non_tls`, a peek at the first byte), the handshake within
//! `tls.timeout`, and the two halves of the data path: the reader's
//! decryption of what it received, and the writer's encryption of a whole
//! wake-up's queue into few records sent with one `sendmsg`.
//!
//! The session lives in the connection (`Client::tls`), borrowed only inside
//! synchronous calls, never across an await. The handshake's CPU work runs
//! in slices on the core: each flight the client sends is processed when it
//! arrives, and at most [`MAX_HANDSHAKES`] flights are being processed (or
//! queued to be) on a core at once (the rest wait, costing nothing), so a
//! burst of new connections delays the core's established ones by a few
//! flights' work, never by the burst's. A client that stalls mid-handshake
//! holds no place (only its timeout).
//!
//! Never: a write outside the writer except the handshake's own flights
//! (the writer is not running yet), a blocking call, an allocation per
//! message.

use std::io::{self, IoSlice, Write};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use shoal_tls::{HandshakeError, Session};

use crate::client::{Client, CloseReason};
use crate::config::Tls;
use crate::outbound::Outbound;
use crate::places::Places;
use crate::rt::{self, ReadHalf, WriteHalf, WriteOutcome};

/// How a connection goes on after its start.
pub enum Started {
    /// In clear text (`allow_non_tls`, or TLS not configured), with the bytes
    /// already read.
    Plain(BytesMut),
    /// Over TLS (the session is in the client), with the plaintext that came
    /// with the handshake's last flight.
    Tls(BytesMut),
    /// Closed (the reason is set).
    Closed,
}

/// Most TLS records' worth of slices given to rustls per writer pass.
const MAX_SLICES: usize = 64;

/// Handshake flights being processed on one core at once. A ClientHello's
/// flight costs the server a key exchange and a signature (~0.1–1 ms by key
/// type): this many of them is the most an established connection of the
/// core waits behind.
const MAX_HANDSHAKES: usize = 4;

thread_local! {
    /// This core's places for flights in progress (a core is one thread).
    static FLIGHTS: Rc<Places> = Places::new(MAX_HANDSHAKES);
}

/// The start of a connection on a TLS listener: `info` is the greeting,
/// sent in clear before the handshake or encrypted after it.
pub async fn start(
    client: &Rc<Client>,
    rh: &mut ReadHalf,
    wh: &mut WriteHalf,
    tls: &Tls,
    info: &[u8],
    info_first_fallback: &[u8],
) -> Started {
    let o = &tls.options;
    let timeout = o.timeout();
    let mut pre = BytesMut::new();
    if o.handshake_first {
        if let Some(delay) = o.fallback {
            // Wait that long for a ClientHello; none: INFO in clear, then
            // the usual TLS handshake after it.
            match rt::timeout(delay, rh.read(&mut pre, 4096)).await {
                Some(Ok(0)) | Some(Err(_)) => {
                    client.set_close_reason(CloseReason::ClientClosed);
                    return Started::Closed;
                }
                Some(Ok(_)) => {
                    client.tls_first.set(true);
                }
                None => {
                    if !write_plain(wh, info_first_fallback, timeout).await {
                        client.set_close_reason(CloseReason::WriteError);
                        return Started::Closed;
                    }
                }
            }
        } else {
            client.tls_first.set(true);
        }
    } else {
        if !write_plain(wh, info, timeout).await {
            client.set_close_reason(CloseReason::WriteError);
            return Started::Closed;
        }
        if tls.allow_non_tls {
            // The first byte decides (0x16: a ClientHello); nothing within the
            // TLS timeout is a clear-text client that waits for us.
            match rt::timeout(timeout, rh.read(&mut pre, 4096)).await {
                Some(Ok(0)) | Some(Err(_)) => {
                    client.set_close_reason(CloseReason::ClientClosed);
                    return Started::Closed;
                }
                Some(Ok(_)) if pre[0] == 0x16 => {}
                Some(Ok(_)) | None => return Started::Plain(pre),
            }
        }
    }
    let side = Side {
        session: Session::new(&tls.config),
        timeout: tls.options.timeout(),
        pinned: tls.options.pinned.as_deref(),
        route: None,
        leaf: false,
    };
    match handshake(client, rh, wh, side, pre).await {
        Some(plain) => {
            if client.tls_first.get() {
                // The greeting goes first, encrypted, before anything else.
                client.send(info);
            }
            Started::Tls(plain)
        }
        None => Started::Closed,
    }
}

/// A route's start: TLS from the first byte, on both sides (nats-server's
/// `createRoute`), the acceptor as the server, the dialler of `dialled` as
/// the client verifying the peer by the URL's host (or `routeTLSName` for
/// an IP). Returns the plaintext that came with the last flight (the
/// dialler's CONNECT may), `None` when it failed (closed, the reason set).
pub async fn start_route(
    client: &Rc<Client>,
    rh: &mut ReadHalf,
    wh: &mut WriteHalf,
    tls: &crate::config::RouteTls,
    dialled: Option<&crate::config::RouteUrl>,
) -> Option<BytesMut> {
    let session = match dialled {
        None => Session::new(&tls.configs.server),
        Some(url) => match shoal_tls::server_name(&url.host, tls.name.as_deref()) {
            Some(name) => Session::client(&tls.configs.client, name),
            None => {
                log::error!(
                    "{} - TLS route handshake error: no server name for {:?}",
                    client.log_prefix(),
                    url.url
                );
                client.set_close_reason(CloseReason::TlsHandshakeFailure);
                return None;
            }
        },
    };
    let side = Side {
        session,
        timeout: tls.options.timeout(),
        pinned: tls.options.pinned.as_deref(),
        route: Some(dialled.is_some()),
        leaf: false,
    };
    handshake(client, rh, wh, side, BytesMut::new()).await
}

/// A leaf connection's TLS, after the hub's INFO went in clear (nats-server
/// without `handshake_first`): the hub as the server, the spoke that dialled
/// `dialled` as the client verifying the hub by the URL's host. Returns the
/// plaintext that came with the last flight, `None` when it failed (closed,
/// the reason set).
pub async fn start_leaf(
    client: &Rc<Client>,
    rh: &mut ReadHalf,
    wh: &mut WriteHalf,
    tls: &crate::config::LeafTls,
    dialled: Option<&crate::config::RouteUrl>,
) -> Option<BytesMut> {
    let session = match (dialled, &tls.server, &tls.client) {
        (None, Some(server), _) => Session::new(server),
        (Some(url), _, Some(config)) => match shoal_tls::server_name(&url.host, None) {
            Some(name) => Session::client(config, name),
            None => {
                log::error!(
                    "{} - TLS leafnode handshake error: no server name for {:?}",
                    client.log_prefix(),
                    url.url
                );
                client.set_close_reason(CloseReason::TlsHandshakeFailure);
                return None;
            }
        },
        _ => {
            client.set_close_reason(CloseReason::TlsHandshakeFailure);
            return None;
        }
    };
    let side = Side {
        session,
        timeout: tls.options.timeout(),
        pinned: tls.options.pinned.as_deref(),
        route: Some(dialled.is_some()),
        leaf: true,
    };
    handshake(client, rh, wh, side, BytesMut::new()).await
}

/// A WebSocket connection's start over TLS: the handshake from the first
/// byte, as an HTTPS server does it (the upgrade request follows, in the
/// plaintext returned). `None` when it failed (closed, the reason set).
pub async fn start_ws(
    client: &Rc<Client>,
    rh: &mut ReadHalf,
    wh: &mut WriteHalf,
    tls: &Tls,
) -> Option<BytesMut> {
    let side = Side {
        session: Session::new(&tls.config),
        timeout: tls.options.timeout(),
        pinned: tls.options.pinned.as_deref(),
        route: None,
        leaf: false,
    };
    handshake(client, rh, wh, side, BytesMut::new()).await
}

/// One handshake's side and limits.
struct Side<'a> {
    session: Session,
    timeout: Duration,
    /// `pinned_certs`: the peer's key must be one of these.
    pinned: Option<&'a [[u8; 32]]>,
    /// A route's or a leaf's (`Some(dialled)`), else a client's.
    route: Option<bool>,
    /// A leaf connection's (its log texts).
    leaf: bool,
}

/// The handshake, within the TLS timeout. Failures are logged as
/// nats-server logs them (`TLS handshake error: …`, at debug level for a
/// client's timeout or clear text; `TLS route handshake error: …`, always
/// an error) and close with `TLS Handshake Failure`.
async fn handshake(
    client: &Rc<Client>,
    rh: &mut ReadHalf,
    wh: &mut WriteHalf,
    side: Side<'_>,
    mut cipher: BytesMut,
) -> Option<BytesMut> {
    let deadline = Instant::now() + side.timeout;
    let (label, start) = match side.route {
        Some(false) if side.leaf => (
            "TLS leafnode handshake",
            "Starting TLS leafnode server handshake",
        ),
        Some(true) if side.leaf => (
            "TLS leafnode handshake",
            "Starting TLS leafnode client handshake",
        ),
        None => ("TLS handshake", "Starting TLS client connection handshake"),
        Some(false) => ("TLS route handshake", "Starting TLS route server handshake"),
        Some(true) => ("TLS route handshake", "Starting TLS route client handshake"),
    };
    log::debug!("{} - {start}", client.log_prefix());
    *client.tls.borrow_mut() = Some(side.session);
    let mut plain = BytesMut::new();
    let route = side.route.is_some();
    let failed = |why: &str, debug: bool| {
        // Route ports are not probed by load balancers: every failure there
        // is an error.
        let why = why.replacen("TLS handshake", label, 1);
        if debug && !route {
            log::debug!("{} - {why}", client.log_prefix());
        } else {
            log::error!("{} - {why}", client.log_prefix());
        }
        client.set_close_reason(CloseReason::TlsHandshakeFailure);
    };
    loop {
        if !cipher.is_empty() {
            // A place among the core's few flights in progress, then a turn
            // behind the tasks already runnable: the flight's crypto runs
            // after them, not before.
            let left = deadline.saturating_duration_since(Instant::now());
            let place = match rt::timeout(left, FLIGHTS.with(|f| f.acquire())).await {
                Some(p) if Instant::now() < deadline => p,
                _ => {
                    // Out of time while waiting: no crypto spent on it.
                    failed("TLS handshake timeout", true);
                    return None;
                }
            };
            rt::yield_now().await;
            let fed = with_session(client, |s| s.feed(&cipher, &mut plain));
            drop(place);
            cipher.clear();
            if let Err(e) = fed {
                failed(
                    &format!("TLS handshake error: {e}"),
                    matches!(e, HandshakeError::NotTls),
                );
                if !matches!(e, HandshakeError::NotTls) {
                    // The alert, if the socket takes it now.
                    let _ = with_session(client, |s| s.write_tls(&mut SendNow(wh)));
                }
                return None;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            failed("TLS handshake timeout", true);
            return None;
        }
        match rt::timeout(left, flush(client, wh)).await {
            Some(Ok(WriteOutcome::Wrote(_))) => {}
            Some(Ok(WriteOutcome::TimedOut)) | None => {
                failed("TLS handshake timeout", true);
                return None;
            }
            Some(Err(e)) => {
                failed(&format!("TLS handshake error: {e}"), false);
                return None;
            }
        }
        if !with_session(client, |s| s.handshaking()) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            failed("TLS handshake timeout", true);
            return None;
        }
        match rt::timeout(left, rh.read(&mut cipher, 4096)).await {
            None => {
                failed("TLS handshake timeout", true);
                return None;
            }
            Some(Ok(0)) => {
                failed("TLS handshake error: EOF", true);
                return None;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                failed(&format!("TLS handshake error: {e}"), true);
                return None;
            }
        }
    }
    let info = with_session(client, |s| s.info());
    if let Some(pinned) = side.pinned {
        let key = info
            .peer_certs
            .first()
            .and_then(|c| shoal_tls::identity::spki_sha256(c));
        if !key.is_some_and(|k| pinned.contains(&k)) {
            failed("TLS handshake error: certificate not pinned", false);
            return None;
        }
    }
    log::debug!("{} - TLS handshake complete", client.log_prefix());
    log::debug!(
        "{} - TLS version {}, cipher suite {}",
        client.log_prefix(),
        info.version,
        info.cipher
    );
    *client.tls_info.borrow_mut() = Some(std::sync::Arc::new(info));
    Some(plain)
}

fn with_session<T>(client: &Client, f: impl FnOnce(&mut Session) -> T) -> T {
    let mut t = client.tls.borrow_mut();
    f(t.as_mut().expect("a TLS connection has a session"))
}

/// Writes `bytes` before the writer runs (an HTTP answer on the
/// WebSocket listener): through the session on a TLS connection, else in
/// clear, within `timeout`. False when the connection failed.
pub async fn send_direct(
    client: &Client,
    wh: &mut WriteHalf,
    mut bytes: &[u8],
    timeout: Duration,
) -> bool {
    if client.tls.borrow().is_none() {
        return write_plain(wh, bytes, timeout).await;
    }
    while !bytes.is_empty() {
        let taken = match with_session(client, |s| s.encrypt(&[IoSlice::new(bytes)])) {
            Ok(n) => n,
            Err(_) => return false,
        };
        bytes = &bytes[taken..];
        match rt::timeout(timeout, flush(client, wh)).await {
            Some(Ok(WriteOutcome::Wrote(_))) => {}
            _ => return false,
        }
    }
    true
}

/// Writes `bytes` in clear (the INFO before a handshake), within `timeout`.
async fn write_plain(wh: &mut WriteHalf, mut bytes: &[u8], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !bytes.is_empty() {
        let n = match wh.send_now(std::iter::once(bytes)) {
            Ok(Some(n)) => n,
            Ok(None) => {
                let left = deadline.saturating_duration_since(Instant::now());
                match rt::timeout(left, wh.send_when_writable(bytes)).await {
                    Some(Ok(WriteOutcome::Wrote(n))) => n,
                    _ => return false,
                }
            }
            Err(_) => return false,
        };
        bytes = &bytes[n..];
    }
    true
}

/// The reader's read on a TLS connection: ciphertext from the socket,
/// plaintext appended to `plain`. Returns the plaintext byte count, 0 at the
/// end of the stream (or the client's close_notify). Records that leave
/// something to send kick the writer (rustls holds a key update's answer
/// back until the next record, so that one rides with the next message).
pub async fn read(
    client: &Client,
    rh: &mut ReadHalf,
    cipher: &mut BytesMut,
    plain: &mut BytesMut,
    want: usize,
) -> io::Result<usize> {
    loop {
        // A close_notify that came with the last plaintext ends the stream
        // now, not at the next read (the peer may wait for ours).
        if client
            .tls
            .borrow()
            .as_ref()
            .is_some_and(|s| s.peer_closed())
        {
            return Ok(0);
        }
        let n = rh.read(cipher, want).await?;
        if n == 0 {
            return Ok(0);
        }
        let (fed, answer, closed) = with_session(client, |s| {
            let fed = s.feed(cipher, plain);
            (fed, s.wants_write(), s.peer_closed())
        });
        // Keep the buffer while data flows, drop it after a small read (an
        // idle connection holds none).
        if n < 4096 {
            *cipher = BytesMut::new();
        } else {
            cipher.clear();
        }
        if answer {
            client.out.borrow_mut().kick();
        }
        match fed {
            Ok(0) if closed => return Ok(0),
            Ok(0) => continue,
            Ok(k) => return Ok(k),
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
}

/// The writer's pass on a TLS connection: as much of the queue as rustls
/// takes is encrypted (the bytes leave the queue: `max_pending` counts
/// what is still plaintext) and every record goes out with one `sendmsg`
/// if the socket takes it. Returns whether records are left waiting for a
/// full socket ([`flush`] then waits).
pub fn send_now(client: &Client, o: &mut Outbound, wh: &WriteHalf) -> io::Result<(usize, bool)> {
    // A compressed route: the queue becomes S2 first, and the session
    // encrypts the S2 stream.
    let s2 = crate::compress::on(client);
    let absorbed = if s2 {
        crate::compress::absorb(client, o)
    } else {
        0
    };
    let ws = crate::ws::out::on(client);
    with_session(client, |s| {
        let taken = if ws {
            // A WebSocket client: the session encrypts the frames.
            let taken = crate::ws::out::feed(client, o, |io| s.encrypt(io))?;
            if crate::ws::out::wants_write(client) && !s.wants_write() {
                return Err(io::Error::other("TLS session takes no data"));
            }
            taken
        } else if s2 {
            let left = crate::compress::hand_over(client, |b| s.encrypt(&[IoSlice::new(b)]))?;
            if left && !s.wants_write() {
                return Err(io::Error::other("TLS session takes no data"));
            }
            absorbed
        } else {
            let mut io = [IoSlice::new(&[]); MAX_SLICES];
            let mut k = 0;
            for (slot, b) in io.iter_mut().zip(o.slices()) {
                *slot = IoSlice::new(b);
                k += 1;
            }
            let taken = s.encrypt(&io[..k])?;
            if taken == 0 && k > 0 && !s.wants_write() {
                // Nothing taken and nothing to flush: the session is broken.
                return Err(io::Error::other("TLS session takes no data"));
            }
            o.consume(taken);
            taken
        };
        while s.wants_write() {
            match s.write_tls(&mut SendNow(wh)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((taken, true)),
                Err(e) => return Err(e),
            }
        }
        Ok((taken, false))
    })
}

/// Queues close_notify and writes what the socket takes without waiting.
pub fn close_notify(client: &Client, wh: &WriteHalf) {
    with_session(client, |s| {
        s.close();
        while s.wants_write() {
            if s.write_tls(&mut SendNow(wh)).is_err() {
                break;
            }
        }
    });
}

/// Whether records wait to be written.
pub fn wants_write(client: &Client) -> bool {
    client
        .tls
        .borrow()
        .as_ref()
        .is_some_and(|s| s.wants_write())
}

/// Writes every pending record, waiting for a full socket through glommio
/// (up to the write deadline set on the socket).
pub async fn flush(client: &Client, wh: &WriteHalf) -> io::Result<WriteOutcome> {
    loop {
        let r = with_session(client, |s| {
            if s.wants_write() {
                Some(s.write_tls(&mut SendNow(wh)))
            } else {
                None
            }
        });
        match r {
            None => return Ok(WriteOutcome::Wrote(0)),
            Some(Ok(_)) => {}
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
            Some(Err(e)) => return Err(e),
        }
    }
    std::future::poll_fn(|cx| {
        with_session(client, |s| {
            while s.wants_write() {
                let mut w = PollWrite {
                    wh,
                    cx,
                    pending: false,
                };
                match s.write_tls(&mut w) {
                    Ok(_) => {}
                    Err(_) if w.pending => return Poll::Pending,
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                        return Poll::Ready(Ok(WriteOutcome::TimedOut))
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            Poll::Ready(Ok(WriteOutcome::Wrote(0)))
        })
    })
    .await
}

/// Records to the socket without waiting: `WouldBlock` when it is full.
struct SendNow<'a>(&'a WriteHalf);

impl Write for SendNow<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.0.send_now(bufs.iter().map(|b| &**b))? {
            Some(n) => Ok(n),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Records to the socket through glommio's write (which waits for room);
/// `pending` says the write is in flight and the task will be woken.
struct PollWrite<'a, 'b> {
    wh: &'a WriteHalf,
    cx: &'a mut Context<'b>,
    pending: bool,
}

impl Write for PollWrite<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.wh.poll_write(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => {
                self.pending = true;
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
