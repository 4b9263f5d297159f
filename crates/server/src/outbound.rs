//! A connection's outbound queue (the writer task that drains it is
//! `writer.rs`).
//!
//! Producers (this core's readers and ring drains) append MSG frames and protocol
//! replies; only the writer touches the socket. Small frames are copied into one
//! coalescing buffer; payloads above [`COPY_MAX`] ride as their own `Bytes` iovec
//! (a refcount, not a copy). `pending` counts every queued byte: a push that
//! would take it past `max_pending` makes the connection a slow consumer, and the
//! producer moves on. The writer is woken once per producer pass (the core's
//! touched list), not once per message, then writes everything queued with one
//! `sendmsg` per wake-up.
//!
//! Core-local (`Rc`/`RefCell`), never borrowed across an await.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use shoal_proto::encode;

use crate::msg::Msg;
use crate::rt::MAX_IOV;

/// Payloads up to this size are copied into the coalescing buffer.
pub const COPY_MAX: usize = 2048;
/// The size at which a filled coalescing buffer becomes a segment of its own,
/// and the most room it is ever given at once.
const CHUNK: usize = 64 * 1024;
/// The coalescing buffer's first size. It doubles up to [`CHUNK`] while
/// output keeps coming and stays while it flows; once a connection has had no
/// output for a tick of its core ([`Outbound::release_if_idle`]), the buffers
/// go back, so an idle connection holds none. A new buffer starts at the size
/// the last one reached.
const FIRST: usize = 1024;

/// What the writer should do when the queue runs dry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OutState {
    Open,
    /// Flush what is queued, then close (after `-ERR`, server shutdown, ...).
    Closing,
    /// Close now without flushing (slow consumer, I/O error).
    Dead,
}

/// The bytes waiting for one connection's socket.
pub struct Outbound {
    buf: BytesMut,
    segs: VecDeque<Bytes>,
    pending: usize,
    /// The size the coalescing buffer last grew to (its next first size).
    high_water: usize,
    /// Output was queued since the last idle check.
    active: bool,
    waker: Option<Waker>,
    /// The writer has work besides queued bytes (a TLS record the reader's
    /// processing produced, such as a key update's answer).
    kick: bool,
    pub state: OutState,
}

/// A compressed connection's S2 writer and the chunks its socket has not
/// taken yet (driven by `compress.rs` from the writer task).
pub struct S2Out {
    pub(crate) writer: shoal_proto::s2::S2Writer,
    pub(crate) buf: Vec<u8>,
    pub(crate) sent: usize,
}

impl S2Out {
    pub fn new(level: shoal_proto::s2::Level) -> S2Out {
        S2Out {
            writer: shoal_proto::s2::S2Writer::new(level),
            buf: Vec::new(),
            sent: 0,
        }
    }
}

/// Refused: queuing this would pass `max_pending`.
#[derive(Debug)]
pub struct SlowConsumer;

impl Outbound {
    pub fn new() -> Self {
        Outbound {
            buf: BytesMut::new(),
            segs: VecDeque::new(),
            pending: 0,
            high_water: FIRST,
            active: false,
            waker: None,
            kick: false,
            state: OutState::Open,
        }
    }

    #[inline]
    fn room(&mut self, n: usize) {
        self.active = true;
        if self.buf.capacity() - self.buf.len() < n {
            // Full chunks move to the segment list rather than growing (and
            // copying) one ever larger buffer: a subscriber that stops reading
            // costs its producers a chunk allocation per 64 KiB, never a realloc
            // of everything it has queued.
            if self.buf.len() >= CHUNK {
                let full = self.buf.split().freeze();
                self.segs.push_back(full);
            }
            let grow = if self.buf.capacity() == 0 {
                self.high_water
            } else {
                (self.buf.capacity() * 2).clamp(FIRST, CHUNK)
            };
            self.buf.reserve(n.max(grow));
            self.high_water = self.buf.capacity().clamp(FIRST, CHUNK);
        }
    }

    /// Queues a protocol reply (PONG, +OK, -ERR, INFO, PING). Replies count
    /// towards `max_pending` like messages, as in nats-server: a client that
    /// pipelines PINGs and never reads is a slow consumer, not a heap that
    /// grows until the write deadline.
    pub fn push_raw(&mut self, bytes: &[u8], max_pending: usize) -> Result<(), SlowConsumer> {
        if self.state != OutState::Open {
            return Ok(());
        }
        if self.pending + bytes.len() > max_pending {
            return Err(SlowConsumer);
        }
        self.room(bytes.len());
        self.buf.put_slice(bytes);
        self.pending += bytes.len();
        Ok(())
    }

    /// Queues one MSG/HMSG for subscription `sid`. A receiver that did not
    /// negotiate headers gets the body alone as a plain MSG. Returns the bytes
    /// queued (0 when the connection is closing).
    #[inline]
    pub fn push_msg(
        &mut self,
        m: &Msg,
        sid: &[u8],
        headers_ok: bool,
        max_pending: usize,
    ) -> Result<usize, SlowConsumer> {
        let line_max = m.subject().len() + sid.len() + m.reply().len() + 32;
        self.push_with_line(m, headers_ok, max_pending, line_max, |buf, hdr, len| {
            encode::put_msg_line(buf, m.subject(), sid, m.reply(), hdr, len)
        })
    }

    /// Queues one `RMSG`/`HMSG` for a cluster route: `account` and the queue
    /// groups the route was picked for on the line; headers stripped for a
    /// peer without them. Returns the bytes queued (0 when closing).
    pub fn push_routed(
        &mut self,
        m: &Msg,
        peer: encode::Peer<'_>,
        queues: &[Bytes],
        headers_ok: bool,
        max_pending: usize,
    ) -> Result<usize, SlowConsumer> {
        let names: usize = queues.iter().map(|q| q.len() + 1).sum();
        let line_max = peer.prefix_len() + m.subject().len() + m.reply().len() + names + 40;
        self.push_with_line(m, headers_ok, max_pending, line_max, |buf, hdr, len| {
            let qs = queues.iter().map(|q| &q[..]);
            encode::put_routed_msg_line(buf, peer, m.subject(), m.reply(), qs, hdr, len)
        })
    }

    /// Queues a message: the control line `put_line` writes (at most
    /// `line_max` bytes, given the header size and the payload length as
    /// delivered), then the payload — copied when small, its own iovec
    /// when large — and CRLF. Headers are stripped for a receiver without
    /// them.
    #[inline]
    fn push_with_line(
        &mut self,
        m: &Msg,
        headers_ok: bool,
        max_pending: usize,
        line_max: usize,
        put_line: impl FnOnce(&mut BytesMut, usize, usize),
    ) -> Result<usize, SlowConsumer> {
        if self.state != OutState::Open {
            return Ok(0);
        }
        let payload = m.payload();
        let (hdr, body_start) = if m.hdr() > 0 && !headers_ok {
            (0, m.hdr())
        } else {
            (m.hdr(), 0)
        };
        let body_len = payload.len() - body_start;
        if self.pending + line_max + body_len + 2 > max_pending {
            return Err(SlowConsumer);
        }
        let copied = body_len <= COPY_MAX;
        // Make room first: it may move a full buffer to the segments.
        self.room(line_max + if copied { body_len + 2 } else { 2 });
        let before = self.buf.len();
        put_line(&mut self.buf, hdr, body_len);
        let line = self.buf.len() - before;
        if copied {
            self.buf.put_slice(&payload[body_start..]);
        } else {
            let head = self.buf.split().freeze();
            self.segs.push_back(head);
            self.segs.push_back(m.payload_bytes(body_start));
        }
        self.buf.put_slice(encode::CRLF);
        let n = line + body_len + 2;
        self.pending += n;
        Ok(n)
    }

    /// Moves what the coalescing buffer holds to the segment list, so that
    /// [`Outbound::slices`] sees every queued byte.
    pub(crate) fn seal(&mut self) {
        if !self.buf.is_empty() {
            let b = self.buf.split().freeze();
            self.segs.push_back(b);
        }
    }

    /// The queued slices, oldest first (after [`Outbound::seal`]).
    pub(crate) fn slices(&self) -> impl Iterator<Item = &[u8]> {
        self.segs.iter().take(MAX_IOV).map(|b| &b[..])
    }

    /// The oldest queued slice (a refcount), for a write that must wait.
    pub(crate) fn front(&self) -> Option<Bytes> {
        self.segs.front().cloned()
    }

    /// Drops `n` written bytes from the front.
    pub(crate) fn consume(&mut self, mut n: usize) {
        self.pending -= n;
        while n > 0 {
            let front = self.segs.front_mut().expect("wrote more than queued");
            if front.len() <= n {
                n -= front.len();
                self.segs.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }

    /// Called once per tick of the core: gives the buffers back if nothing was
    /// queued since the last call and everything is written. True if it did.
    pub fn release_if_idle(&mut self) -> bool {
        let idle = !self.active && self.pending == 0;
        self.active = false;
        if idle && (self.buf.capacity() > 0 || self.segs.capacity() > 0) {
            self.buf = BytesMut::new();
            self.segs = VecDeque::new();
            return true;
        }
        false
    }

    /// Discards everything queued (a dead connection).
    pub(crate) fn clear(&mut self) {
        self.segs.clear();
        self.buf.clear();
        self.pending = 0;
    }

    /// Bytes queued and not yet written (`/connz` `pending_bytes`).
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// The writer's wait: ready (with the state) when bytes are queued or the
    /// connection is closing; otherwise remembers the writer's waker.
    pub(crate) fn poll_work(&mut self, cx: &mut Context<'_>) -> Poll<OutState> {
        if self.pending > 0 || self.kick || self.state != OutState::Open {
            Poll::Ready(self.state)
        } else {
            self.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Queued segments (for the slow-consumer log line).
    pub(crate) fn chunks(&self) -> usize {
        self.segs.len() + usize::from(!self.buf.is_empty())
    }

    /// Wakes the writer for work that is not queued bytes (see `kick`).
    pub fn kick(&mut self) {
        self.kick = true;
        self.wake();
    }

    /// Clears the kick (the writer is doing that work now).
    pub(crate) fn take_kick(&mut self) {
        self.kick = false;
    }

    /// Wakes the writer (called once per producer pass).
    pub fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

impl Default for Outbound {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(o: &Outbound) -> usize {
        o.segs.iter().map(|b| b.len()).sum::<usize>() + o.buf.len()
    }

    /// `pending` always equals the bytes actually queued, across chunk boundaries,
    /// large payload segments and partial writes.
    #[test]
    fn pending_matches_queued_bytes() {
        for size in [16usize, 2000, 3000, 70_000] {
            let (frame, spans) = crate::msg::sample(size);
            let m = Msg {
                frame: &frame,
                spans,
            };
            let mut o = Outbound::new();
            for i in 0..2000 {
                o.push_msg(&m, b"12", false, usize::MAX).unwrap();
                o.push_raw(b"PONG\r\n", usize::MAX).unwrap();
                assert_eq!(o.pending, queued(&o), "size {size} after {i}");
                if i % 997 == 0 {
                    o.seal();
                    let total: usize = o.slices().map(|b| b.len()).sum();
                    assert!(total > 0);
                    o.consume(total / 2);
                    assert_eq!(o.pending, queued(&o));
                }
            }
        }
    }

    /// An idle connection holds no output buffer: the buffers stay while
    /// output flows (no allocation per write cycle) and go back at the first
    /// idle check after everything is written and nothing new was queued.
    #[test]
    fn buffers_go_back_when_idle() {
        let (frame, spans) = crate::msg::sample(100);
        let m = Msg {
            frame: &frame,
            spans,
        };
        let mut o = Outbound::new();
        o.push_raw(b"INFO {}\r\n", usize::MAX).unwrap();
        assert!(o.buf.capacity() <= 2 * FIRST, "first room is small");
        for _ in 0..1000 {
            o.push_msg(&m, b"1", false, usize::MAX).unwrap();
        }
        o.seal();
        let total: usize = o.slices().map(|b| b.len()).sum();
        o.consume(total);
        assert_eq!(o.pending(), 0);
        assert!(!o.release_if_idle(), "output flowed since the last check");
        assert!(o.release_if_idle(), "a quiet tick releases");
        assert_eq!(o.buf.capacity(), 0);
        assert_eq!(o.segs.capacity(), 0);
        o.push_raw(b"PONG\r\n", usize::MAX).unwrap();
        assert!(!o.release_if_idle(), "queued bytes are never released");
        assert!(!o.release_if_idle(), "nor while unwritten");
    }

    #[test]
    fn max_pending_refuses_without_queuing() {
        let (frame, spans) = crate::msg::sample(4);
        let m = Msg {
            frame: &frame,
            spans,
        };
        let mut o = Outbound::new();
        assert!(o.push_msg(&m, b"1", false, 100).is_ok());
        let before = o.pending;
        while o.push_msg(&m, b"1", false, 100).is_ok() {}
        assert!(o.pending <= 100);
        assert!(o.pending >= before);
        assert_eq!(o.pending, queued(&o));
    }

    /// Protocol replies count towards `max_pending` too (nats-server's
    /// queueOutbound checks every queued byte).
    #[test]
    fn max_pending_bounds_replies() {
        let mut o = Outbound::new();
        let mut n = 0;
        while o.push_raw(b"PONG\r\n", 64).is_ok() {
            n += 1;
        }
        assert_eq!(
            n, 10,
            "ten 6-byte PONGs fit in 64 bytes, the eleventh does not"
        );
        assert_eq!(o.pending, 60);
        assert_eq!(o.pending, queued(&o));
    }
}
