//! A compressed route's output: what the writer hands over in one pass
//! becomes S2 stream chunks (`shoal_proto::s2`), kept here until the socket
//! takes them. The same contract as a TLS session's (`tls.rs`): `send_now`
//! takes the queued bytes off the connection's outbound queue and writes
//! what the socket accepts without waiting; `flush` waits for a full
//! socket, up to the write deadline.
//!
//! On a TLS route the session encrypts the S2 stream ([`absorb`], then
//! [`hand_over`] from `tls::send_now`): compression first, then records.
//!
//! Core-local, never borrowed across an await: the bytes a wait needs are
//! copied out first (only when the socket is full).

use std::io;

use crate::client::Client;
use crate::outbound::Outbound;
use crate::rt::{WriteHalf, WriteOutcome};

/// Whether the connection writes through a compressor.
pub fn on(client: &Client) -> bool {
    client.s2.borrow().is_some()
}

/// Whether compressed bytes wait for the socket.
pub fn wants_write(client: &Client) -> bool {
    client
        .s2
        .borrow()
        .as_ref()
        .is_some_and(|s| s.sent < s.buf.len())
}

/// Compresses everything queued (sealed by the caller) and writes what the
/// socket takes now. Returns the plain bytes taken and whether the socket
/// was full.
pub fn send_now(client: &Client, o: &mut Outbound, wh: &WriteHalf) -> io::Result<(usize, bool)> {
    let taken = absorb(client, o);
    let mut guard = client.s2.borrow_mut();
    let s = guard
        .as_mut()
        .expect("a compressed connection has its writer");
    while s.sent < s.buf.len() {
        match wh.send_now(std::iter::once(&s.buf[s.sent..]))? {
            Some(n) => s.sent += n,
            None => return Ok((taken, true)),
        }
    }
    s.buf.clear();
    s.sent = 0;
    Ok((taken, false))
}

/// Compresses everything queued (sealed by the caller) into the
/// connection's S2 buffer. Returns the plain bytes taken.
pub fn absorb(client: &Client, o: &mut Outbound) -> usize {
    let mut guard = client.s2.borrow_mut();
    let s = guard
        .as_mut()
        .expect("a compressed connection has its writer");
    let mut taken = 0;
    while o.pending() > 0 {
        o.seal();
        let mut n = 0;
        for slice in o.slices() {
            s.writer.write(slice, &mut s.buf);
            n += slice.len();
        }
        o.consume(n);
        taken += n;
    }
    taken
}

/// Gives the compressed bytes not yet sent to `take` (a TLS session's
/// encryption, on a route that does both) until it takes no more. Returns
/// whether any are left.
pub fn hand_over(
    client: &Client,
    mut take: impl FnMut(&[u8]) -> io::Result<usize>,
) -> io::Result<bool> {
    let mut guard = client.s2.borrow_mut();
    let s = guard
        .as_mut()
        .expect("a compressed connection has its writer");
    while s.sent < s.buf.len() {
        match take(&s.buf[s.sent..])? {
            0 => return Ok(true),
            n => s.sent += n,
        }
    }
    s.buf.clear();
    s.sent = 0;
    Ok(false)
}

/// Writes the compressed bytes left, waiting for a full socket.
pub async fn flush(client: &Client, wh: &mut WriteHalf) -> io::Result<WriteOutcome> {
    loop {
        let rest = {
            let g = client.s2.borrow();
            let s = g.as_ref().expect("a compressed connection has its writer");
            if s.sent >= s.buf.len() {
                break;
            }
            s.buf[s.sent..].to_vec()
        };
        match wh.send_when_writable(&rest).await? {
            WriteOutcome::Wrote(n) => {
                let mut g = client.s2.borrow_mut();
                let s = g.as_mut().expect("a compressed connection has its writer");
                s.sent += n;
                if s.sent >= s.buf.len() {
                    s.buf.clear();
                    s.sent = 0;
                }
            }
            WriteOutcome::TimedOut => return Ok(WriteOutcome::TimedOut),
        }
    }
    Ok(WriteOutcome::Wrote(0))
}
