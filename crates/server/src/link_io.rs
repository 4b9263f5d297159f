//! The byte side of a route-like link (a cluster route or a leaf node
//! connection), shared by `cluster/link.rs` and `leaf/link.rs`: what a
//! read brings in (through the TLS session, then the S2 reader once the
//! link compresses), the switch to S2 at the byte after the INFO that
//! negotiated it, the end of a read's pass (the cut op kept, back-pressure
//! from backlogged peer cores), and the parser's errors in nats-server's
//! words.
//!
//! Owned by the link's core, used only by its reader task; never blocks
//! (reads and waits are io_uring and timers), allocates per read, not per
//! message.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use shoal_proto::route::RouteError;
use shoal_proto::s2::{Level, S2Reader};

use crate::client::{Client, CloseReason};
use crate::core::Core;
use crate::rt::{self, ReadHalf};

/// The least a read asks the socket for (a link carries many clients'
/// traffic: it starts big).
pub const READ_MIN: usize = 16 * 1024;

/// A link's input: clear, TLS, S2, or S2 inside TLS.
pub struct Input {
    /// `Route` or `Leafnode`: how errors are logged.
    label: &'static str,
    tls: bool,
    /// What the socket gives, before the session decrypts it.
    cipher: BytesMut,
    /// Once the link compresses: the reader, and what it is fed.
    s2: Option<S2Reader>,
    raw: BytesMut,
    /// Plaintext already in the caller's buffer (the handshake's last
    /// flight): parsed before the first read.
    parse_first: bool,
}

impl Input {
    /// The input of `conn` (TLS if it has a session), with `pre` bytes
    /// already in the buffer the caller reads into.
    pub fn new(conn: &Client, pre: &BytesMut, label: &'static str) -> Input {
        Input {
            label,
            tls: conn.tls.borrow().is_some(),
            cipher: BytesMut::new(),
            s2: None,
            raw: BytesMut::new(),
            parse_first: !pre.is_empty(),
        }
    }

    /// Reads (at least `want` bytes asked of the socket) into `buf` as
    /// plaintext. False when the link is done: closed by the peer, a read
    /// error, or S2 it cannot decode (the close reason set).
    pub async fn fill(
        &mut self,
        conn: &Rc<Client>,
        rh: &mut ReadHalf,
        buf: &mut BytesMut,
        want: usize,
    ) -> bool {
        let into = if self.s2.is_some() {
            &mut self.raw
        } else {
            &mut *buf
        };
        let got = if std::mem::take(&mut self.parse_first) {
            Ok(into.len())
        } else if self.tls {
            crate::tls::read(conn, rh, &mut self.cipher, into, want).await
        } else {
            rh.read(into, want).await
        };
        match got {
            Ok(0) => {
                conn.close_after_flush(CloseReason::ClientClosed);
                return false;
            }
            Ok(_) => {}
            Err(e) => {
                if self.tls {
                    log::debug!("{} - TLS read error: {e}", conn.log_prefix());
                }
                conn.kill(CloseReason::ReadError);
                return false;
            }
        }
        if let Some(d) = self.s2.as_mut() {
            let r = d.read(&self.raw, buf);
            self.raw.clear();
            if let Err(e) = r {
                log::error!("{} - {} Error {e}", conn.log_prefix(), self.label);
                conn.close_after_flush(CloseReason::ParseError);
                return false;
            }
        }
        true
    }

    /// Switches the link to S2 both ways at the byte after its INFO: the
    /// output (see [`compress`]) and the input — `rest`, what this read
    /// brought after the INFO, decoded into the plaintext returned, and
    /// everything read from now on. `None` when the link closed or `rest`
    /// is not S2.
    pub async fn switch_to_s2(
        &mut self,
        core: &Core,
        conn: &Rc<Client>,
        (level, info, clear_first): (Level, &[u8], bool),
        rest: &[u8],
    ) -> Option<BytesMut> {
        if !compress(core, conn, level, info, clear_first).await {
            return None;
        }
        let mut d = S2Reader::new();
        let mut plain = BytesMut::new();
        if let Err(e) = d.read(rest, &mut plain) {
            log::error!("{} - {} Error {e}", conn.log_prefix(), self.label);
            conn.close_after_flush(CloseReason::ParseError);
            return None;
        }
        self.s2 = Some(d);
        Some(plain)
    }
}

/// Turns the link's output to S2 once what is queued has left in clear
/// (nats-server flushes before it switches too), `info` sent before the
/// switch (`clear_first`, the side that dialled) or after it; false when
/// the link closed meanwhile.
async fn compress(
    core: &Core,
    conn: &Rc<Client>,
    level: Level,
    info: &[u8],
    clear_first: bool,
) -> bool {
    if clear_first {
        conn.send(info);
    }
    core.end_pass();
    let deadline = Instant::now() + Duration::from_secs(2);
    while conn.out.borrow().pending() > 0 {
        if !conn.is_open() || Instant::now() > deadline {
            conn.kill(CloseReason::WriteError);
            return false;
        }
        rt::sleep(Duration::from_millis(1)).await;
    }
    *conn.s2.borrow_mut() = Some(crate::outbound::S2Out::new(level));
    if !clear_first {
        conn.send(info);
        core.end_pass();
    }
    true
}

/// After a read's ops: the `tail` of the data (an op cut short) kept in
/// `buf` with room for the `need` bytes it wants, the pass ended, then —
/// while the peer cores this pass handed messages to are backlogged — a
/// wait (the link's back-pressure, as a client's), and a turn for the
/// core's other tasks.
pub async fn after_read(core: &Core, tail: &[u8], need: usize, buf: &mut BytesMut) {
    if !tail.is_empty() {
        let mut next = BytesMut::with_capacity(need.max(tail.len() + READ_MIN));
        next.extend_from_slice(tail);
        *buf = next;
    }
    core.end_pass();
    let peers = core.links().take_pass_peers();
    while peers != 0 && core.links().backlogged(peers) {
        core.links().backlog_ev.wait().await;
    }
    rt::yield_now().await;
}

/// A parse error, logged as nats-server logs it (`<label> parser ERROR`)
/// and answered with its `-ERR` line if it has one; the link closes.
pub fn parse_error(conn: &Rc<Client>, label: &str, e: RouteError, input: &[u8]) {
    match e {
        RouteError::Args(text) => log::error!("{} - {text}", conn.log_prefix()),
        RouteError::Proto(p) => {
            let end = input.len().min(32);
            log::error!(
                "{} - {label} parser ERROR: {p:?} proto='{}...'",
                conn.log_prefix(),
                shoal_go::quote(&input[..end])
            );
            if let Some(line) = p.err_line() {
                conn.send(line);
            }
        }
    }
    conn.close_after_flush(CloseReason::ParseError);
}
