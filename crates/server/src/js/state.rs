//! JetStream's state on its core: the internal client, each account's
//! streams, the work deliveries left (taken during a routing pass, as
//! copies), and each stream's subscriptions.
//! Knows nothing of routing (so the core can hold it without a module
//! cycle); `js/mod.rs` does the work.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use ahash::AHashMap;
use bytes::Bytes;

use crate::client::Client;
use crate::msg::Msg;

/// The API's subjects' prefix.
const API_PREFIX: &[u8] = b"$JS.API.";

/// One piece of work a delivery left.
pub(super) enum Work {
    Api {
        account: u16,
        api: String,
        reply: Bytes,
        body: Bytes,
    },
    /// A direct get on stream `stream` (`tail`: the subject appended).
    Direct {
        account: u16,
        stream: String,
        tail: Option<String>,
        reply: Bytes,
        body: Bytes,
    },
    Capture {
        account: u16,
        stream: String,
        subject: Bytes,
        reply: Bytes,
        hdr: Bytes,
        data: Bytes,
    },
    /// `max_age` is due.
    Expire,
}

/// The JetStream core's JetStream.
pub struct Js {
    pub(super) client: Rc<Client>,
    pub(super) accounts: RefCell<AHashMap<u16, shoal_jetstream::Account>>,
    pub(super) work: RefCell<VecDeque<Work>>,
    /// Wakes the worker (`js/mod.rs`) when work is queued.
    pub(super) wake: crate::event::Event,
    /// The worker is between batches (a wake-up is due for new work).
    pub(super) idle: Cell<bool>,
    /// Each stream's subscriptions (by account and name): their slots.
    pub(super) subs: RefCell<AHashMap<(u16, String), Vec<u32>>>,
}

/// Nanoseconds since the epoch, now.
pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl Js {
    /// A delivery to the JetStream client (`sid` names the subscription):
    /// copied into the work queue, done after this routing pass.
    pub fn take(&self, sid: &[u8], m: &Msg) {
        let account = m.spans.account;
        let reply = Bytes::copy_from_slice(m.reply());
        let payload = m.payload();
        let (hdr, data) = payload.split_at(m.hdr().min(payload.len()));
        let work = if let Some(rest) = sid.strip_prefix(b"d:") {
            let stream = rest.rsplitn(2, |&b| b == b':').nth(1).unwrap_or_default();
            let stream = String::from_utf8_lossy(stream).into_owned();
            let prefix = format!("$JS.API.DIRECT.GET.{stream}.");
            let tail = m
                .subject()
                .strip_prefix(prefix.as_bytes())
                .map(|t| String::from_utf8_lossy(t).into_owned());
            Work::Direct {
                account,
                stream,
                tail,
                reply,
                body: Bytes::copy_from_slice(data),
            }
        } else if sid == b"api" {
            let api = m.subject().strip_prefix(API_PREFIX).unwrap_or_default();
            Work::Api {
                account,
                api: String::from_utf8_lossy(api).into_owned(),
                reply,
                body: Bytes::copy_from_slice(data),
            }
        } else {
            let Some(stream) = sid
                .strip_prefix(b"s:")
                .and_then(|r| r.rsplitn(2, |&b| b == b':').nth(1))
            else {
                return;
            };
            Work::Capture {
                account,
                stream: String::from_utf8_lossy(stream).into_owned(),
                subject: Bytes::copy_from_slice(m.subject()),
                reply,
                hdr: Bytes::copy_from_slice(hdr),
                data: Bytes::copy_from_slice(data),
            }
        };
        self.work.borrow_mut().push_back(work);
    }
}
