//! A published message as the routing path carries it: one `Bytes` handle on the
//! whole PUB frame as it was read (control line and payload), plus the spans of
//! its subject, reply and payload inside it. Local deliveries read the spans as
//! slices; only a peer core (one clone per destination core) or a large payload
//! riding as its own iovec takes a refcount. No allocation, one atomic at most
//! per destination.

use bytes::Bytes;

/// Byte ranges of one message inside its frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spans {
    pub subject: (u32, u32),
    /// Empty (0, 0) when there is no reply subject.
    pub reply: (u32, u32),
    /// Headers then body.
    pub payload: (u32, u32),
    /// Header bytes at the start of the payload (0 = none).
    pub hdr: u32,
    /// The publisher's account (see `accounts.rs`; 0 = `$G`).
    pub account: u16,
    /// The message stays on this server: it goes to its clients only, never
    /// out over a route — it came in over one, or it is an account import's
    /// copy (the peers make their own from the exporter's message).
    pub local_only: bool,
}

/// A message: its frame and where its parts are.
#[derive(Clone, Copy)]
pub struct Msg<'a> {
    pub frame: &'a Bytes,
    pub spans: Spans,
}

impl<'a> Msg<'a> {
    #[inline]
    fn at(&self, r: (u32, u32)) -> &'a [u8] {
        &self.frame[r.0 as usize..r.1 as usize]
    }
    #[inline]
    pub fn subject(&self) -> &'a [u8] {
        self.at(self.spans.subject)
    }
    #[inline]
    pub fn reply(&self) -> &'a [u8] {
        self.at(self.spans.reply)
    }
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.at(self.spans.payload)
    }
    #[inline]
    pub fn hdr(&self) -> usize {
        self.spans.hdr as usize
    }
    /// A refcounted slice of the payload from `from` (for a large body iovec).
    pub fn payload_bytes(&self, from: usize) -> Bytes {
        let (s, e) = self.spans.payload;
        self.frame.slice(s as usize + from..e as usize)
    }
}

/// A ready-made `PUB s <size>` frame and its spans (for tests and benchmarks).
#[doc(hidden)]
pub fn sample(size: usize) -> (Bytes, Spans) {
    let mut frame = format!("PUB s {size}\r\n").into_bytes();
    let start = frame.len() as u32;
    frame.extend(std::iter::repeat_n(b'x', size));
    frame.extend_from_slice(b"\r\n");
    let spans = Spans {
        subject: (4, 5),
        reply: (0, 0),
        payload: (start, start + size as u32),
        hdr: 0,
        account: 0,
        local_only: false,
    };
    (Bytes::from(frame), spans)
}
