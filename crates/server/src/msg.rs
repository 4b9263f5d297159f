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
    /// Where the message came in (which links it may go on to: see
    /// `router::may_forward`).
    pub source: Source,
    /// An account import's copy: never out over a route (the peers make
    /// their own from the exporter's message).
    pub copy: bool,
}

/// Where a message came in, as nats-server's routing rules read it: a
/// route's message goes to this server's clients and the leaves that
/// dialled it; a leaf's to the clients, the other leaves and, when this
/// server is that leaf's hub, the routes. `origin` is the leaf cluster the
/// message started in (an id of `origins.rs`, 0 = none): it never goes back
/// to a leaf of that cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// A client of this server, or the server itself.
    #[default]
    Here,
    /// A cluster route (`LMSG <origin>` names a leaf cluster).
    Route { origin: u16 },
    /// A leaf connection; `hub`: this server accepted it.
    Leaf { hub: bool, origin: u16 },
}

impl Spans {
    /// Whether the message came in over a route or leaf (or is an import's
    /// copy): a queue group's pick is then among this server's clients
    /// first.
    #[inline]
    pub fn linked(&self) -> bool {
        self.copy || self.source != Source::Here
    }
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
        source: Source::Here,
        copy: false,
    };
    (Bytes::from(frame), spans)
}
