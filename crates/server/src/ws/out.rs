//! A WebSocket client's output: what the writer hands over in one pass
//! becomes binary frames, as nats-server's `wsCollapsePtoNB` makes them.
//!
//! - A client that is not a browser gets one frame for everything queued,
//!   and the frame's payload is the queue itself: the header goes first in
//!   the same `sendmsg` as the queued slices, nothing is copied. A frame
//!   the socket took only part of stays open ([`WsOut::frame_left`]) until
//!   the queue has given it all its bytes.
//! - A browser (`User-Agent: Mozilla/…`) gets frames of at most 4 KiB,
//!   which browsers handle better; those are copied into [`WsOut::framed`].
//! - With permessage-deflate, a pass over 64 bytes is compressed as one
//!   message (no context takeover), split into 4 KiB frames for a browser
//!   that is not Safari; smaller passes go uncompressed.
//! - Control frames (pongs, the close frame) wait for the frame in flight
//!   to end, then go first; the close frame goes last and only once.
//!
//! The same contract as a TLS session's (`tls.rs`) and a compressed
//! route's (`compress.rs`): [`send_now`] takes bytes off the connection's
//! outbound queue and writes what the socket accepts without waiting;
//! [`flush`] waits for a full socket, up to the write deadline. Over TLS,
//! [`feed`] gives the same bytes to the session instead of the socket.
//!
//! The framing state ([`WsOut`]) and its accounting are `framing.rs`'s;
//! this part drives it for a connection and its socket.
//!
//! Core-local, never borrowed across an await.

use std::io::{self, IoSlice};

use shoal_proto::ws::{self as frames, Op};

pub use super::framing::WsOut;
use super::framing::MAX_SLICES;
use crate::client::{Client, CloseReason};
use crate::outbound::Outbound;
use crate::rt::{WriteHalf, WriteOutcome};

/// The close status nats-server's `wsEnqueueCloseMessage` sends for a
/// server-side close.
pub fn close_status(reason: CloseReason) -> u16 {
    use frames::status;
    match reason {
        CloseReason::ClientClosed => status::NORMAL,
        CloseReason::AuthTimeout
        | CloseReason::AuthViolation
        | CloseReason::SlowConsumerPendingBytes
        | CloseReason::SlowConsumerWriteDeadline
        | CloseReason::MaxAccountConnections
        | CloseReason::MaxConnections
        | CloseReason::MaxControlLine
        | CloseReason::MaxSubscriptions
        | CloseReason::MissingAccount
        | CloseReason::AuthExpired
        | CloseReason::Revoked => status::POLICY_VIOLATION,
        CloseReason::TlsHandshakeFailure => status::TLS_HANDSHAKE,
        CloseReason::ParseError
        | CloseReason::ProtocolViolation
        | CloseReason::BadClientProtocolVersion => status::PROTOCOL_ERROR,
        CloseReason::MaxPayload => status::MESSAGE_TOO_BIG,
        CloseReason::WriteError
        | CloseReason::ReadError
        | CloseReason::StaleConnection
        | CloseReason::ServerShutdown => status::GOING_AWAY,
        _ => status::INTERNAL_ERROR,
    }
}

fn with_ws<T>(client: &Client, f: impl FnOnce(&mut WsOut) -> T) -> T {
    let mut g = client.ws.borrow_mut();
    f(g.as_mut().expect("a WebSocket connection has its framing"))
}

/// Whether the connection writes WebSocket frames.
pub fn on(client: &Client) -> bool {
    client.ws.borrow().is_some()
}

/// Whether framed bytes wait for the wire (the queue aside).
pub fn wants_write(client: &Client) -> bool {
    client
        .ws
        .borrow()
        .as_ref()
        .is_some_and(|w| w.framed_left() > 0 || !w.controls.is_empty())
}

/// Queues a control frame and wakes the writer.
pub fn control(client: &Client, op: Op, payload: &[u8]) {
    with_ws(client, |w| w.control(op, payload));
    client.out.borrow_mut().kick();
}

/// The writer found the queue empty on a closing connection: queues the
/// close frame for `reason` once. Returns whether there is one to send.
pub fn closing(client: &Client) -> bool {
    let reason = client
        .close_reason
        .get()
        .unwrap_or(CloseReason::ClientClosed);
    with_ws(client, |w| {
        if w.close_queued {
            return false;
        }
        let body = frames::close_payload(close_status(reason), reason.as_str());
        w.control(Op::Close, &body);
        true
    })
}

/// Frames what is queued and writes what the socket takes now. Returns
/// the queue bytes taken and whether the socket was full.
pub fn send_now(client: &Client, o: &mut Outbound, wh: &WriteHalf) -> io::Result<(usize, bool)> {
    with_ws(client, |w| {
        let mut taken = 0;
        loop {
            taken += w.absorb(o);
            if w.framed_left() == 0 && w.frame_left == 0 {
                return Ok((taken, false));
            }
            let written = {
                let mut io = [IoSlice::new(&[]); MAX_SLICES];
                let k = w.slices(o, &mut io);
                wh.send_now(io[..k].iter().map(|s| &**s))?
            };
            match written {
                Some(n) => taken += w.advance(o, n),
                None => return Ok((taken, true)),
            }
        }
    })
}

/// Over TLS: frames what is queued and gives it to `encrypt` (which
/// returns the bytes it took) until it takes no more. Returns the queue
/// bytes taken.
pub fn feed(
    client: &Client,
    o: &mut Outbound,
    mut encrypt: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
) -> io::Result<usize> {
    with_ws(client, |w| {
        let mut taken = 0;
        loop {
            taken += w.absorb(o);
            if w.framed_left() == 0 && w.frame_left == 0 {
                return Ok(taken);
            }
            let n = {
                let mut io = [IoSlice::new(&[]); MAX_SLICES];
                let k = w.slices(o, &mut io);
                encrypt(&io[..k])?
            };
            if n == 0 {
                return Ok(taken);
            }
            taken += w.advance(o, n);
        }
    })
}

/// Waits for a full socket to take the framed bytes and the open frame's
/// payload, up to the write deadline. The queue bytes it writes are
/// consumed here (the result counts none).
pub async fn flush(client: &Client, wh: &mut WriteHalf) -> io::Result<WriteOutcome> {
    loop {
        // The bytes a wait needs, copied out (only when the socket is full).
        let rest = {
            let g = client.ws.borrow();
            let w = g.as_ref().expect("a WebSocket connection has its framing");
            if w.framed_left() > 0 {
                w.framed[w.sent..].to_vec()
            } else if w.frame_left > 0 {
                let o = client.out.borrow();
                match o.front() {
                    Some(f) => f[..f.len().min(w.frame_left)].to_vec(),
                    None => break,
                }
            } else {
                break;
            }
        };
        match wh.send_when_writable(&rest).await? {
            WriteOutcome::Wrote(n) => {
                let mut o = client.out.borrow_mut();
                let queued = with_ws(client, |w| w.advance(&mut o, n));
                client.env().stats.out_bytes_written(queued);
            }
            WriteOutcome::TimedOut => return Ok(WriteOutcome::TimedOut),
        }
    }
    Ok(WriteOutcome::Wrote(0))
}
