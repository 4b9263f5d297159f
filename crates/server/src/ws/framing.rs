//! A WebSocket client's framing state ([`WsOut`], one per connection, in
//! its `Client`): what the writer hands over in one pass becomes binary
//! frames, as nats-server's `wsCollapsePtoNB` makes them. The rules are in
//! `out.rs`'s header; this part knows nothing of clients or sockets, so
//! its accounting is tested alone against any partial write.
//!
//! Core-local; allocates only for browsers' and compressed passes.

use std::io::IoSlice;

use bytes::BytesMut;
use shoal_proto::ws::{self as frames, Op};
use shoal_proto::ws_deflate::Deflater;

use crate::outbound::Outbound;

/// Most payload bytes in one frame to a browser (nats-server's
/// `wsFrameSizeForBrowsers`).
const BROWSER_FRAME: usize = 4096;
/// A pass of at most this many bytes is not worth compressing
/// (`wsCompressThreshold`).
const COMPRESS_THRESHOLD: usize = 64;
/// Slices given to one `sendmsg` or one `encrypt`.
pub(super) const MAX_SLICES: usize = 64;

/// See the module header. One per WebSocket connection, in its `Client`.
pub struct WsOut {
    /// Bytes ready for the wire, sent before any queued byte: the `101`
    /// response at first, then control frames, copied frames and the
    /// header of the frame whose payload the queue still holds.
    pub(super) framed: BytesMut,
    pub(super) sent: usize,
    /// Queued bytes that belong to the frame whose header is in `framed`.
    pub(super) frame_left: usize,
    /// Control frames waiting for the frame in flight to end.
    pub(super) controls: BytesMut,
    /// The close frame was queued (it is sent once).
    pub(super) close_queued: bool,
    browser: bool,
    /// Compressed messages go in one frame (Safari).
    no_compressed_fragments: bool,
    deflater: Option<Box<Deflater>>,
    /// Scratch for a compressed message.
    scratch: Vec<u8>,
}

impl WsOut {
    /// `response` (the upgrade's `101`) goes out before any frame.
    pub fn new(response: &[u8], browser: bool, compress: bool, no_frag: bool) -> WsOut {
        WsOut {
            framed: BytesMut::from(response),
            sent: 0,
            frame_left: 0,
            controls: BytesMut::new(),
            close_queued: false,
            browser,
            no_compressed_fragments: no_frag,
            deflater: compress.then(|| Box::new(Deflater::new())),
            scratch: Vec::new(),
        }
    }

    /// Queues a control frame (a pong, or the close frame, which is then
    /// the last one sent).
    pub fn control(&mut self, op: Op, payload: &[u8]) {
        if self.close_queued {
            return;
        }
        frames::put_header(&mut self.controls, op, true, false, payload.len());
        self.controls.extend_from_slice(payload);
        if op == Op::Close {
            self.close_queued = true;
        }
    }

    pub(super) fn framed_left(&self) -> usize {
        self.framed.len() - self.sent
    }

    /// At a frame boundary, turns what is queued into frames: control
    /// frames first, then the queue's bytes (framed in place, copied, or
    /// compressed). Returns the queue bytes taken off the queue.
    pub(super) fn absorb(&mut self, o: &mut Outbound) -> usize {
        if self.framed_left() > 0 || self.frame_left > 0 {
            return 0;
        }
        self.framed.clear();
        self.sent = 0;
        self.framed.extend_from_slice(&self.controls);
        self.controls.clear();
        o.seal();
        let pending = o.pending();
        if pending == 0 {
            return 0;
        }
        if let Some(d) = self
            .deflater
            .as_mut()
            .filter(|_| pending > COMPRESS_THRESHOLD)
        {
            self.scratch.clear();
            let mut taken = 0;
            while o.pending() > 0 {
                o.seal();
                let parts: Vec<&[u8]> = o.slices().collect();
                let n: usize = parts.iter().map(|p| p.len()).sum();
                // One message per pass; the queue may hold more than one
                // sendmsg's worth of slices.
                d.compress_parts(&parts, &mut self.scratch);
                o.consume(n);
                taken += n;
                if o.pending() > 0 {
                    // More than one round of slices: they are one more
                    // message (each message stands alone).
                    put_frames(
                        &mut self.framed,
                        &self.scratch,
                        true,
                        self.browser && !self.no_compressed_fragments,
                    );
                    self.scratch.clear();
                }
            }
            if !self.scratch.is_empty() {
                put_frames(
                    &mut self.framed,
                    &self.scratch,
                    true,
                    self.browser && !self.no_compressed_fragments,
                );
            }
            return taken;
        }
        if self.browser {
            // Frames of at most 4 KiB, copied.
            let mut taken = 0;
            while o.pending() > 0 {
                o.seal();
                let mut n = 0;
                for s in o.slices() {
                    for part in s.chunks(BROWSER_FRAME) {
                        frames::put_header(&mut self.framed, Op::Binary, true, false, part.len());
                        self.framed.extend_from_slice(part);
                    }
                    n += s.len();
                }
                o.consume(n);
                taken += n;
            }
            return taken;
        }
        // One frame whose payload is the queue as it is now.
        frames::put_header(&mut self.framed, Op::Binary, true, false, pending);
        self.frame_left = pending;
        0
    }

    /// The bytes for the wire now: `framed`'s, then the queue's share of
    /// the open frame.
    pub(super) fn slices<'a>(
        &'a self,
        o: &'a Outbound,
        io: &mut [IoSlice<'a>; MAX_SLICES],
    ) -> usize {
        let mut k = 0;
        if self.framed_left() > 0 {
            io[0] = IoSlice::new(&self.framed[self.sent..]);
            k = 1;
        }
        let mut budget = self.frame_left;
        for s in o.slices() {
            if budget == 0 || k == MAX_SLICES {
                break;
            }
            let s = &s[..s.len().min(budget)];
            budget -= s.len();
            io[k] = IoSlice::new(s);
            k += 1;
        }
        k
    }

    /// Accounts `n` bytes written from [`WsOut::slices`]. Returns the queue
    /// bytes among them (consumed from `o`).
    pub(super) fn advance(&mut self, o: &mut Outbound, mut n: usize) -> usize {
        let f = n.min(self.framed_left());
        self.sent += f;
        n -= f;
        if self.framed_left() == 0 {
            self.framed.clear();
            self.sent = 0;
        }
        debug_assert!(n <= self.frame_left);
        o.consume(n);
        self.frame_left -= n;
        n
    }
}

/// Appends `payload` (a compressed message when `compressed`) as frames:
/// one, or 4 KiB ones when `fragment` (only the first marked compressed).
fn put_frames(out: &mut BytesMut, payload: &[u8], compressed: bool, fragment: bool) {
    if !fragment || payload.len() <= BROWSER_FRAME {
        frames::put_header(out, Op::Binary, true, compressed, payload.len());
        out.extend_from_slice(payload);
        return;
    }
    let mut parts = payload.chunks(BROWSER_FRAME).peekable();
    let mut first = true;
    while let Some(p) = parts.next() {
        let op = if first { Op::Binary } else { Op::Continuation };
        frames::put_header(
            out,
            op,
            parts.peek().is_none(),
            compressed && first,
            p.len(),
        );
        out.extend_from_slice(p);
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_proto::ws::Decoder;

    /// What a client reads from the bytes the writer produced: the data
    /// bytes (inflated when compressed) and how many frames carried them.
    fn read_back(wire: &[u8]) -> (Vec<u8>, usize) {
        let mut at = 0;
        let mut data = Vec::new();
        let mut frames = 0;
        let mut message = Vec::new();
        let mut compressed = false;
        while at < wire.len() {
            let b0 = wire[at];
            let mut len = usize::from(wire[at + 1] & 0x7f);
            assert_eq!(wire[at + 1] & 0x80, 0, "server frames are not masked");
            at += 2;
            if len == 126 {
                len = usize::from(u16::from_be_bytes([wire[at], wire[at + 1]]));
                at += 2;
            } else if len == 127 {
                len = u64::from_be_bytes(wire[at..at + 8].try_into().unwrap()) as usize;
                at += 8;
            }
            if b0 & 0x0f != 0 {
                compressed = b0 & 0x40 != 0;
            }
            message.extend_from_slice(&wire[at..at + len]);
            at += len;
            frames += 1;
            if b0 & 0x80 != 0 {
                if compressed {
                    data.extend(shoal_proto::ws_deflate::inflate(&message, 1 << 26).unwrap());
                } else {
                    data.extend_from_slice(&message);
                }
                message.clear();
            }
        }
        (data, frames)
    }

    fn queue(bytes: &[&[u8]]) -> Outbound {
        let mut o = Outbound::new();
        for b in bytes {
            o.push_raw(b, usize::MAX).unwrap();
        }
        o
    }

    /// Drives `absorb`/`slices`/`advance` as a socket taking at most
    /// `step` bytes per write would.
    fn drain(w: &mut WsOut, o: &mut Outbound, step: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        loop {
            w.absorb(o);
            if w.framed_left() == 0 && w.frame_left == 0 {
                return wire;
            }
            let mut io = [IoSlice::new(&[]); MAX_SLICES];
            let k = w.slices(o, &mut io);
            let mut joined = Vec::new();
            for s in &io[..k] {
                joined.extend_from_slice(s);
            }
            let n = joined.len().min(step);
            wire.extend_from_slice(&joined[..n]);
            w.advance(o, n);
        }
    }

    #[test]
    fn one_frame_for_a_pass_whatever_the_socket_takes() {
        let payload = b"MSG a 1 5\r\nhello\r\n".repeat(1000);
        for step in [1usize, 7, 100, 1 << 20] {
            let mut w = WsOut::new(b"HTTP/1.1 101\r\n\r\n", false, false, false);
            let mut o = queue(&[b"INFO {}\r\n", &payload]);
            let wire = drain(&mut w, &mut o, step);
            let body = wire.strip_prefix(&b"HTTP/1.1 101\r\n\r\n"[..]).unwrap();
            let (data, frames) = read_back(body);
            assert_eq!(frames, 1, "step {step}");
            assert_eq!(&data[..9], b"INFO {}\r\n");
            assert_eq!(&data[9..], &payload[..]);
            assert_eq!(o.pending(), 0);
        }
    }

    #[test]
    fn control_frames_wait_for_the_open_frame() {
        let mut w = WsOut::new(b"", false, false, false);
        let mut o = queue(&[&[b'x'; 1000]]);
        w.absorb(&mut o);
        // Half the frame goes out, then a ping arrives.
        let mut io = [IoSlice::new(&[]); MAX_SLICES];
        let k = w.slices(&o, &mut io);
        let mut first: Vec<u8> = io[..k].iter().flat_map(|s| s.to_vec()).collect();
        first.truncate(500);
        w.advance(&mut o, 500);
        w.control(Op::Pong, b"hi");
        o.push_raw(b"PONG\r\n", usize::MAX).unwrap();
        let rest = drain(&mut w, &mut o, 1 << 20);
        first.extend_from_slice(&rest);
        // The data frame, the pong, then a frame with the PONG line.
        let mut d = Decoder::new(false, false, 1 << 20);
        let mut data = BytesMut::new();
        let got = d.decode(&mut first, &mut data).unwrap();
        assert_eq!(got.controls, vec![shoal_proto::ws::Control::Pong]);
        assert_eq!(data.len(), 1006);
        assert!(data.ends_with(b"PONG\r\n"));
    }

    #[test]
    fn browsers_get_4k_frames_and_compression_splits_unless_safari() {
        // Bytes that do not compress (an xorshift), so a compressed pass
        // still needs several 4 KiB frames.
        let mut x = 0x2545_f491u32;
        let payload: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for (browser, compress, safari, frames_at_least, frames_at_most) in [
            (true, false, false, 5, 5),
            (true, true, false, 2, 100),
            (true, true, true, 1, 1),
            (false, true, false, 1, 1),
        ] {
            let mut w = WsOut::new(b"", browser, compress, safari);
            let mut o = queue(&[&payload]);
            let wire = drain(&mut w, &mut o, 1 << 20);
            let (data, frames) = read_back(&wire);
            assert_eq!(data, payload);
            assert!(
                (frames_at_least..=frames_at_most).contains(&frames),
                "{browser} {compress} {safari}: {frames} frames"
            );
        }
        // A small pass is not compressed.
        let mut w = WsOut::new(b"", false, true, false);
        let mut o = queue(&[b"PONG\r\n"]);
        let wire = drain(&mut w, &mut o, 1 << 20);
        assert_eq!(wire[0], 0x82, "final, binary, not compressed");
    }

    #[test]
    fn the_close_frame_goes_once_and_last() {
        let mut w = WsOut::new(b"", false, false, false);
        w.control(Op::Close, &frames::close_payload(1000, "Client Closed"));
        w.control(Op::Pong, b"late");
        let mut o = Outbound::new();
        let wire = drain(&mut w, &mut o, 1 << 20);
        assert_eq!(wire[0], 0x88);
        assert_eq!(&wire[2..4], &1000u16.to_be_bytes());
        assert_eq!(&wire[4..], b"Client Closed");
        assert!(w.close_queued);
    }
}
