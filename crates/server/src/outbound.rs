//! A connection's outbound queue and the writer task that drains it.
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
use std::rc::Rc;
use std::task::{Poll, Waker};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use shoal_proto::encode;

use crate::client::{Client, CloseReason};
use crate::msg::Msg;
use crate::rt::{self, WriteHalf, WriteOutcome, MAX_IOV};

/// Payloads up to this size are copied into the coalescing buffer.
pub const COPY_MAX: usize = 2048;
/// The size at which a filled coalescing buffer becomes a segment of its own,
/// and the most room it is ever given at once.
const CHUNK: usize = 64 * 1024;
/// The coalescing buffer's first size. It doubles up to [`CHUNK`] while
/// output keeps coming, and is dropped when everything is written, so an idle
/// connection holds no output buffer; the next one starts at the size the last
/// one reached, so a busy subscriber pays one allocation per write cycle, not
/// a growth of copies.
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
    waker: Option<Waker>,
    pub state: OutState,
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
            waker: None,
            state: OutState::Open,
        }
    }

    #[inline]
    fn room(&mut self, n: usize) {
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

    /// Queues a protocol reply (PONG, +OK, -ERR, INFO, PING).
    pub fn push_raw(&mut self, bytes: &[u8]) {
        if self.state != OutState::Open {
            return;
        }
        self.room(bytes.len());
        self.buf.put_slice(bytes);
        self.pending += bytes.len();
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
        if self.state != OutState::Open {
            return Ok(0);
        }
        let (subject, reply, payload) = (m.subject(), m.reply(), m.payload());
        let (hdr, body_start) = if m.hdr() > 0 && !headers_ok {
            (0, m.hdr())
        } else {
            (m.hdr(), 0)
        };
        let body_len = payload.len() - body_start;
        let line_max = subject.len() + sid.len() + reply.len() + 32;
        let total = line_max + body_len + 2;
        if self.pending + total > max_pending {
            return Err(SlowConsumer);
        }
        // Make room first: it may move a full buffer to the segments.
        self.room(
            line_max
                + if body_len <= COPY_MAX {
                    body_len + 2
                } else {
                    2
                },
        );
        let before = self.buf.len();
        encode::put_msg_line(&mut self.buf, subject, sid, reply, hdr, body_len);
        if body_len <= COPY_MAX {
            self.buf.put_slice(&payload[body_start..]);
            self.buf.put_slice(encode::CRLF);
            let n = self.buf.len() - before;
            self.pending += n;
            Ok(n)
        } else {
            let line = self.buf.len() - before;
            let head = self.buf.split().freeze();
            self.segs.push_back(head);
            self.segs.push_back(m.payload_bytes(body_start));
            self.buf.put_slice(encode::CRLF);
            let n = line + body_len + 2;
            self.pending += n;
            Ok(n)
        }
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
    fn front(&self) -> Option<Bytes> {
        self.segs.front().cloned()
    }

    /// Drops `n` written bytes from the front. Once nothing is left, the
    /// buffers go back to the allocator: idle connections hold none.
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
        if self.pending == 0 {
            self.buf = BytesMut::new();
            if self.segs.capacity() > 16 {
                self.segs = VecDeque::new();
            }
        }
    }

    /// Discards everything queued (a dead connection).
    fn clear(&mut self) {
        self.segs.clear();
        self.buf.clear();
        self.pending = 0;
    }

    /// Bytes queued and not yet written (`/connz` `pending_bytes`).
    pub fn pending(&self) -> usize {
        self.pending
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

/// The writer task: waits for queued bytes, writes them, and applies the write
/// deadline. Ends by shutting the socket down, which also ends the reader.
///
/// A wake-up writes everything queued with one `sendmsg` (the iovecs built on
/// the stack, inside a synchronous call); only a full socket makes it wait,
/// holding a refcount on the oldest slice, nothing else.
pub async fn run_writer(client: Rc<Client>, mut w: WriteHalf) {
    let mut deadline = client.core.live.get().write_deadline;
    w.set_deadline(deadline);
    loop {
        let state = std::future::poll_fn(|cx| {
            let mut o = client.out.borrow_mut();
            if o.pending > 0 || o.state != OutState::Open {
                Poll::Ready(o.state)
            } else {
                o.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        if state == OutState::Dead {
            break;
        }
        // A reload may have changed the deadline.
        if client.core.live.get().write_deadline != deadline {
            deadline = client.core.live.get().write_deadline;
            w.set_deadline(deadline);
        }
        let now = {
            let mut o = client.out.borrow_mut();
            if o.pending == 0 {
                // Closing and everything is flushed.
                break;
            }
            o.seal();
            w.send_now(o.slices())
        };
        let res = match now {
            Ok(Some(n)) => Ok(WriteOutcome::Wrote(n)),
            Ok(None) => {
                let first = client.out.borrow().front();
                match first {
                    Some(first) => w.send_when_writable(&first).await,
                    None => Ok(WriteOutcome::Wrote(0)),
                }
            }
            Err(e) => Err(e),
        };
        match res {
            Ok(WriteOutcome::Wrote(n)) => {
                client.out.borrow_mut().consume(n);
                client.core.stats.out_bytes_written(n);
            }
            Ok(WriteOutcome::TimedOut) => {
                let (pending, chunks) = {
                    let o = client.out.borrow();
                    (o.pending, o.segs.len().max(1))
                };
                client.core.stats.slow_consumer();
                log::warn!(
                    "{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded with {} chunks of {} total bytes.",
                    client.log_prefix(),
                    deadline,
                    chunks,
                    pending
                );
                client.set_close_reason(CloseReason::SlowConsumerWriteDeadline);
                break;
            }
            Err(e) => {
                log::debug!("{} - Write error: {e}", client.log_prefix());
                client.set_close_reason(CloseReason::WriteError);
                break;
            }
        }
    }
    {
        let mut o = client.out.borrow_mut();
        o.state = OutState::Dead;
        o.clear();
    }
    rt::shutdown_fd(w.fd());
    client.writer_done.set(true);
    client.done.notify();
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
                o.push_raw(b"PONG\r\n");
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

    /// An idle connection holds no output buffer: once everything queued is
    /// written, the buffers go back; the next push starts small.
    #[test]
    fn buffers_go_back_when_drained() {
        let (frame, spans) = crate::msg::sample(100);
        let m = Msg {
            frame: &frame,
            spans,
        };
        let mut o = Outbound::new();
        o.push_raw(b"INFO {}\r\n");
        assert!(o.buf.capacity() <= 2 * FIRST, "first room is small");
        for _ in 0..1000 {
            o.push_msg(&m, b"1", false, usize::MAX).unwrap();
        }
        o.seal();
        let total: usize = o.slices().map(|b| b.len()).sum();
        o.consume(total);
        assert_eq!(o.pending(), 0);
        assert_eq!(o.buf.capacity(), 0);
        assert!(o.segs.is_empty());
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
}
