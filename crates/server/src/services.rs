//! Service imports between accounts: account B's `imports: [{service:
//! {account: A, subject: "svc.time"}, to: "time"}]` of A's `exports:
//! [{service: "svc.>"}]`. A request published in B on `time` is also
//! delivered in A on `svc.time`, its reply subject replaced by
//! `_R_.<core>.<token>`; a response published in A on that subject goes back
//! into B on the request's own reply subject — once (`single`, the default)
//! or until the export's response threshold passes (`stream`, `chunked`).
//!
//! Thread-per-core: the core that rewrote the request keeps the pending
//! reply (no shared state); the reply subject names that core, and the
//! core subscribes its internal publisher to `_R_.<core>.>` in the exporting
//! account before the first such request leaves it, so a response published
//! on any core finds its way back through the ordinary routing (the
//! subscription's interest reaches each peer ahead of the request on the
//! same ring). A response is re-published only after the routing that
//! delivered it has finished ([`Replies::queue`]).
//!
//! Pure bookkeeping: the router does the routing.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::Bytes;
use shoal_subject::Transform;

use crate::msg::{Msg, Spans};

/// How many responses a request may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Single,
    /// `stream` and `chunked`: any number until the threshold.
    Stream,
}

/// nats-server's default `response_threshold`: how long a request's reply
/// mapping waits for its response.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(120);

/// One service import: into `exporter`, from the importer's subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceImport {
    pub exporter: u16,
    /// From the importer's local subject to the exporter's.
    pub transform: Transform,
    pub response: ResponseType,
    /// How long a request's reply mapping lives (nats-server's
    /// `response_threshold`, 2 minutes by default).
    pub threshold: Duration,
    /// `share`: the requester's details go with each request
    /// (`Nats-Request-Info`), not only its account.
    pub share: bool,
}

/// Every account's service imports, by importing account id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceImports {
    by_importer: Vec<Vec<ServiceImport>>,
}

impl ServiceImports {
    pub fn add(&mut self, importer: u16, import: ServiceImport) {
        let i = usize::from(importer);
        if self.by_importer.len() <= i {
            self.by_importer.resize(i + 1, Vec::new());
        }
        self.by_importer[i].push(import);
    }

    /// A length test (checked per publish): `add` makes a slot only to
    /// push into it.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.by_importer.is_empty()
    }

    /// The services `importer` imports.
    #[inline]
    pub fn of(&self, importer: u16) -> &[ServiceImport] {
        self.by_importer
            .get(usize::from(importer))
            .map_or(&[], Vec::as_slice)
    }
}

/// A request waiting for its response.
#[derive(Debug, Clone)]
struct Pending {
    account: u16,
    /// The account the response must be published in (the exporter's, or
    /// for a reply mapped back the requester's): a token seen elsewhere is
    /// not its response.
    from: u16,
    reply: Bytes,
    single: bool,
    deadline: Instant,
    /// A stream response's idle limit: each response moves the deadline.
    threshold: Duration,
}

/// One core's pending replies and the responses waiting to be re-published.
#[derive(Default)]
pub struct Replies {
    pending: RefCell<AHashMap<u64, Pending>>,
    /// Accounts whose `_R_.<core>.>` this core subscribes to (exporters,
    /// and requesters a response's own reply maps back from).
    subscribed: RefCell<Vec<u16>>,
    /// Accounts to subscribe so, once the routing that asked is done.
    to_subscribe: RefCell<Vec<u16>>,
    queue: RefCell<std::collections::VecDeque<(Bytes, Spans)>>,
    next_sweep: Cell<Option<Instant>>,
}

/// The reply subject a request rewritten on `core` gets.
pub fn reply_subject(core: usize, token: u64) -> String {
    format!("_R_.{core}.{token:x}")
}

/// This core's wildcard for its reply subjects.
pub fn reply_wildcard(core: usize) -> String {
    format!("_R_.{core}.>")
}

/// The token of a reply subject of `core`.
pub fn token_of(core: usize, subject: &[u8]) -> Option<u64> {
    let rest = subject.strip_prefix(b"_R_.")?;
    let dot = rest.iter().position(|&b| b == b'.')?;
    let (c, t) = (&rest[..dot], &rest[dot + 1..]);
    if std::str::from_utf8(c).ok()?.parse::<usize>().ok()? != core {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(t).ok()?, 16).ok()
}

impl Replies {
    /// Whether this core already subscribes to its replies in `exporter`;
    /// marks it so.
    pub fn subscribe_once(&self, exporter: u16) -> bool {
        let mut s = self.subscribed.borrow_mut();
        if s.contains(&exporter) {
            return false;
        }
        s.push(exporter);
        true
    }

    /// Records a request's reply under `token`: `route` is (the account the
    /// reply subject is in, the account its response will come from).
    pub fn insert(
        &self,
        token: u64,
        route: (u16, u16),
        reply: &[u8],
        single: bool,
        at: Instant,
        threshold: Duration,
    ) {
        self.pending.borrow_mut().insert(
            token,
            Pending {
                account: route.0,
                from: route.1,
                reply: Bytes::copy_from_slice(reply),
                single,
                deadline: at + threshold,
                threshold,
            },
        );
    }

    /// Forgets `token` (its request reached no one).
    pub fn remove(&self, token: u64) {
        self.pending.borrow_mut().remove(&token);
    }

    /// Where the response under `token` goes: (account, reply subject). A
    /// single response's mapping ends here.
    /// A stream response keeps the mapping for another threshold (nats-server
    /// stamps the response import on each delivery); an empty one is the end
    /// of the stream (nats-server's `shouldRemove`) and ends it.
    pub fn take(&self, token: u64, from: u16, now: Instant, empty: bool) -> Option<(u16, Bytes)> {
        let mut p = self.pending.borrow_mut();
        let e = p.get_mut(&token).filter(|e| e.from == from)?;
        if e.deadline <= now {
            p.remove(&token);
            return None;
        }
        e.deadline = now + e.threshold;
        let out = (e.account, e.reply.clone());
        if e.single || empty {
            p.remove(&token);
        }
        Some(out)
    }

    /// Drops the mappings whose time is up (at most once a second).
    pub fn expire(&self, now: Instant) {
        if self.next_sweep.get().is_some_and(|t| now < t) {
            return;
        }
        self.next_sweep.set(Some(now + Duration::from_secs(1)));
        self.pending.borrow_mut().retain(|_, e| e.deadline > now);
    }

    pub fn push_response(&self, frame: Bytes, spans: Spans) {
        self.queue.borrow_mut().push_back((frame, spans));
    }

    /// Asks for `account`'s reply wildcard (made by the drain, outside any
    /// routing).
    pub fn want_subscription(&self, account: u16) {
        self.to_subscribe.borrow_mut().push(account);
    }

    /// The accounts [`Replies::want_subscription`] asked for.
    pub fn take_wanted(&self) -> Vec<u16> {
        std::mem::take(&mut *self.to_subscribe.borrow_mut())
    }

    /// Whether responses wait to be routed.
    #[inline]
    pub fn has_queued(&self) -> bool {
        !self.queue.borrow().is_empty()
    }

    pub fn pop_response(&self) -> Option<(Bytes, Spans)> {
        self.queue.borrow_mut().pop_front()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.pending.borrow().len()
    }
}

/// The header nats-server adds to every request a service import carries
/// into the exporter: who asked.
pub const REQUEST_INFO: &str = "Nats-Request-Info";

/// The requester's `ClientInfo` as nats-server writes it for an import that
/// does not share details: its account, and its RTT when known (ns).
pub fn request_info(account: &str, rtt_ns: u128) -> String {
    let acc = serde_json::to_string(account).unwrap_or_default();
    if rtt_ns == 0 {
        format!("{{\"acc\":{acc}}}")
    } else {
        format!("{{\"acc\":{acc},\"rtt\":{rtt_ns}}}")
    }
}

/// A chained request's info: the first importer's, with `"svc"` (the
/// account it passes through now) after its `"acc"`, as nats-server's
/// `ClientInfo.Service`.
pub fn through(origin: &str, service: &str) -> String {
    let svc = serde_json::to_string(service).unwrap_or_default();
    // `"acc":"<name>"` is in every info; the name is a JSON string.
    let Some(at) = origin.find("\"acc\":") else {
        return origin.to_string();
    };
    // Where the name's string ends: parse one JSON value from there.
    let mut stream =
        serde_json::Deserializer::from_str(&origin[at + 6..]).into_iter::<serde_json::Value>();
    if !matches!(stream.next(), Some(Ok(_))) {
        return origin.to_string();
    }
    let cut = at + 6 + stream.byte_offset();
    format!("{},\"svc\":{svc}{}", &origin[..cut], &origin[cut..])
}

/// `m` under `subject` and `reply`, with `Nats-Request-Info: info` as the
/// last line of its header block (replacing one the publisher sent; a
/// block made for a message that had none), as nats-server's `setHeader`.
pub fn with_request_info(m: &Msg, subject: &[u8], reply: &[u8], info: &str) -> (Bytes, Spans) {
    let payload = m.payload();
    let (head, body) = payload.split_at(m.hdr());
    let mut b = bytes::BytesMut::with_capacity(subject.len() + reply.len() + payload.len() + 64);
    b.extend_from_slice(subject);
    b.extend_from_slice(reply);
    let start = b.len();
    // The block without its closing empty line, and without our header.
    let kept = head.strip_suffix(b"\r\n").filter(|h| !h.is_empty());
    match kept {
        Some(h) => {
            let mut lines = h.split_inclusive(|&c| c == b'\n');
            if let Some(first) = lines.next() {
                b.extend_from_slice(first);
            }
            for line in lines {
                let name = line.split(|&c| c == b':').next().unwrap_or(b"");
                if !name
                    .trim_ascii()
                    .eq_ignore_ascii_case(REQUEST_INFO.as_bytes())
                {
                    b.extend_from_slice(line);
                }
            }
        }
        None => b.extend_from_slice(b"NATS/1.0\r\n"),
    }
    b.extend_from_slice(REQUEST_INFO.as_bytes());
    b.extend_from_slice(b": ");
    b.extend_from_slice(info.as_bytes());
    b.extend_from_slice(b"\r\n\r\n");
    let hdr = b.len() - start;
    b.extend_from_slice(body);
    let s = subject.len() as u32;
    let r = s + reply.len() as u32;
    let spans = Spans {
        subject: (0, s),
        reply: if reply.is_empty() { (0, 0) } else { (s, r) },
        payload: (r, b.len() as u32),
        hdr: hdr as u32,
        ..m.spans
    };
    (b.freeze(), spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_info_is_the_last_header_replacing_one_sent() {
        let frame =
            Bytes::from_static(b"svcNATS/1.0\r\nX-A: 1\r\nnats-request-info: forged\r\n\r\nhi");
        let hdr = frame.len() as u32 - 2 - 3;
        let m = Msg {
            frame: &frame,
            spans: Spans {
                subject: (0, 3),
                reply: (0, 0),
                payload: (3, frame.len() as u32),
                hdr,
                account: 0,
                source: crate::msg::Source::Here,
                copy: false,
            },
        };
        let (f, s) = with_request_info(&m, b"to", b"r", &request_info("B", 0));
        let m = Msg {
            frame: &f,
            spans: s,
        };
        assert_eq!(m.subject(), b"to");
        assert_eq!(m.reply(), b"r");
        assert_eq!(
            &m.payload()[..m.hdr()],
            b"NATS/1.0\r\nX-A: 1\r\nNats-Request-Info: {\"acc\":\"B\"}\r\n\r\n"
        );
        assert_eq!(&m.payload()[m.hdr()..], b"hi");
        assert_eq!(request_info("B", 7), "{\"acc\":\"B\",\"rtt\":7}");
        assert_eq!(
            through("{\"acc\":\"B\",\"rtt\":7}", "A"),
            "{\"acc\":\"B\",\"svc\":\"A\",\"rtt\":7}"
        );
        assert_eq!(
            through("{\"acc\":\"B\"}", "A"),
            "{\"acc\":\"B\",\"svc\":\"A\"}"
        );
    }

    #[test]
    fn single_and_stream_replies() {
        let r = Replies::default();
        let now = Instant::now();
        let five = Duration::from_secs(5);
        r.insert(1, (2, 1), b"_INBOX.a", true, now, five);
        r.insert(2, (2, 1), b"_INBOX.b", false, now, five);
        assert_eq!(
            r.take(1, 1, now, false).map(|x| x.1),
            Some(Bytes::from_static(b"_INBOX.a"))
        );
        assert_eq!(r.take(1, 1, now, false), None, "a single response only");
        assert_eq!(r.take(2, 9, now, false), None, "not from another account");
        assert!(r.take(2, 1, now, false).is_some() && r.take(2, 1, now, false).is_some());
        // Each stream response moves the deadline: 4 s later it still lives,
        // and lives 4 s more.
        let later = now + Duration::from_secs(4);
        assert!(r.take(2, 1, later, false).is_some());
        assert!(r
            .take(2, 1, later + Duration::from_secs(4), false)
            .is_some());
        // An empty response ends the stream.
        assert!(r.take(2, 1, later, true).is_some());
        assert_eq!(r.take(2, 1, later, false), None);
        r.insert(3, (2, 1), b"_INBOX.c", false, now, five);
        r.remove(3);
        r.insert(4, (2, 1), b"_INBOX.d", false, now, five);
        r.expire(now + Duration::from_secs(6));
        assert_eq!(r.len(), 0);
        assert!(r.subscribe_once(3) && !r.subscribe_once(3));
    }

    #[test]
    fn reply_subjects_name_their_core() {
        let s = reply_subject(1, 0xab12);
        assert_eq!(s, "_R_.1.ab12");
        assert_eq!(token_of(1, s.as_bytes()), Some(0xab12));
        assert_eq!(token_of(0, s.as_bytes()), None);
        assert_eq!(token_of(1, b"_R_.1"), None);
        assert_eq!(token_of(1, b"_R_.1.zz"), None);
    }
}
