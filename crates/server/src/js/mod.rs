//! JetStream on the runtime: the JetStream core's internal client, whose
//! subscriptions are the API (`$JS.API.>`) and each stream's subjects, and
//! the queue of what they were delivered, answered once the routing pass
//! that delivered it is over.
//!
//! Ownership: in this version every stream lives on the JetStream core
//! ([`JS_CORE`]). Its subjects are subscribed like a client's, so a publish
//! on any core reaches it through the rings as any delivery does, and the
//! publisher's core never waits: the stream's reply (the PubAck) is routed
//! back like any message. The logic (configuration, store, API JSON) is
//! the `shoal-jetstream` crate's; this module only moves bytes in and out.
//!
//! Invariants: only the JetStream core has a [`Js`]; a stream's
//! subscriptions are its subjects as its configuration names them, in its
//! account, under sids `s:<stream>:<i>`; work is taken during a routing
//! pass (copies of the message) and done after it, never inside it (the
//! replies are routed, which needs the registry the pass holds).
//!
//! Never blocks its core: streams are in memory here (file streams are
//! kept in memory too, and said so at start-up); no file I/O.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use ahash::AHashMap;
use bytes::{Bytes, BytesMut};
use shoal_jetstream::api::Change;

use crate::client::Client;
use crate::core::Core;
use crate::msg::{Msg, Source, Spans};
use crate::rt;

pub(crate) mod state;

use state::{now, Js, Work};

/// The core that owns JetStream.
pub const JS_CORE: usize = 0;

/// The API's subjects (not `$JS.API.>`: a direct get on a stream that
/// does not allow it has no responder, as in nats-server).
const API: [&[u8]; 3] = [b"$JS.API.INFO", b"$JS.API.STREAM.>", b"$JS.API.CONSUMER.>"];
/// How often `max_age` is applied.
const EXPIRE_TICK: Duration = Duration::from_secs(1);

/// On the JetStream core of a server with JetStream: its client, the API
/// subscription (the global account's), and the `max_age` timer.
pub fn start(core: &Rc<Core>) {
    if core.id() != JS_CORE || core.cfg().jetstream.is_none() {
        return;
    }
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let mut c = Client::new(core.next_cid(), addr, core.env().clone(), None);
    c.jetstream = true;
    let client = Rc::new(c);
    let mut accounts = AHashMap::new();
    accounts.insert(0u16, shoal_jetstream::Account::default());
    let js = Js {
        client: client.clone(),
        accounts: RefCell::new(accounts),
        work: RefCell::default(),
        draining: Cell::new(false),
        subs: RefCell::default(),
    };
    if !core.set_js(js) {
        return;
    }
    for subject in API {
        let key = core.key(0, subject);
        core.subscribe(&client, Bytes::from_static(b"api"), key, None);
    }
    core.end_pass();
    rt::spawn(expire(core.clone()));
}

async fn expire(core: Rc<Core>) {
    let life = core.life();
    while !life.stopping.get() {
        futures_lite::future::or(rt::sleep(EXPIRE_TICK), life.stop_ev.wait()).await;
        if let Some(js) = core.js() {
            let now = now();
            for a in js.accounts.borrow_mut().values_mut() {
                a.expire(now);
            }
        }
    }
}

/// Does the queued work (once no routing pass holds the registry): each
/// request and capture, its reply routed to its reply subject.
pub fn drain(core: &Core) {
    let Some(js) = core.js() else {
        return;
    };
    if js.draining.get() || js.work.borrow().is_empty() {
        return;
    }
    js.draining.set(true);
    loop {
        let Some(w) = js.work.borrow_mut().pop_front() else {
            break;
        };
        match w {
            Work::Api {
                account,
                api,
                reply,
                body,
            } => {
                let ctx = shoal_jetstream::Ctx {
                    server_name: &core.shared().server_name,
                    now: now(),
                };
                let out = {
                    let mut accounts = js.accounts.borrow_mut();
                    match accounts.get_mut(&account) {
                        Some(a) => a.request(&ctx, &api, &body),
                        None => shoal_jetstream::api::not_enabled(&api),
                    }
                };
                let Some(out) = out else {
                    continue;
                };
                if let Some(change) = out.change {
                    resubscribe(core, js, account, change);
                }
                answer(core, account, &reply, b"", &out.reply);
            }
            Work::Direct {
                account,
                stream,
                tail,
                reply,
                body,
            } => {
                let got = js
                    .accounts
                    .borrow()
                    .get(&account)
                    .and_then(|a| a.direct_get(&stream, tail.as_deref(), &body));
                if let Some(d) = got {
                    answer(core, account, &reply, &d.hdr, &d.data);
                }
            }
            Work::Capture {
                account,
                stream,
                subject,
                reply,
                hdr,
                data,
            } => {
                let ack = js
                    .accounts
                    .borrow_mut()
                    .get_mut(&account)
                    .and_then(|a| a.capture(&stream, &subject, &hdr, &data, now()));
                if let Some(ack) = ack {
                    answer(core, account, &reply, b"", &ack);
                }
            }
        }
    }
    js.draining.set(false);
}

/// Routes `hdr` (a header block, or empty) and `body` to `reply` in
/// `account` (nothing without a reply).
fn answer(core: &Core, account: u16, reply: &[u8], hdr: &[u8], body: &[u8]) {
    if reply.is_empty() {
        return;
    }
    let mut b = BytesMut::with_capacity(reply.len() + hdr.len() + body.len());
    b.extend_from_slice(reply);
    b.extend_from_slice(hdr);
    b.extend_from_slice(body);
    let frame = b.freeze();
    let s = reply.len() as u32;
    let spans = Spans {
        subject: (0, s),
        reply: (0, 0),
        payload: (s, s + (hdr.len() + body.len()) as u32),
        hdr: hdr.len() as u32,
        account,
        source: Source::Here,
        copy: false,
    };
    let publisher = core.internal_publisher();
    crate::router::publish(
        core,
        &publisher,
        &Msg {
            frame: &frame,
            spans,
        },
    );
}

/// A stream's subjects changed (or it is gone): its subscriptions follow.
fn resubscribe(core: &Core, js: &Js, account: u16, change: Change) {
    let (name, subjects, direct) = match change {
        Change::Deleted(n) => (n, Vec::new(), false),
        Change::Subjects(n) => {
            let (subjects, direct) = js
                .accounts
                .borrow()
                .get(&account)
                .and_then(|a| a.streams.get(&n))
                .map(|s| (s.cfg.subjects.clone(), s.cfg.allow_direct))
                .unwrap_or_default();
            (n, subjects, direct)
        }
    };
    let old = js
        .subs
        .borrow_mut()
        .remove(&(account, name.clone()))
        .unwrap_or_default();
    for slot in old {
        core.unsubscribe(slot, false);
    }
    let mut slots = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        let sid = Bytes::from(format!("s:{name}:{i}"));
        let key = core.key(account, subject.as_bytes());
        slots.push(core.subscribe(&js.client, sid, key, None));
    }
    if direct {
        // ADR-31: the stream answers direct gets itself, as queue group
        // `_sys_`.
        let base = format!("$JS.API.DIRECT.GET.{name}");
        for (i, subject) in [base.clone(), format!("{base}.>")].iter().enumerate() {
            let sid = Bytes::from(format!("d:{name}:{i}"));
            let key = core.key(account, subject.as_bytes());
            slots.push(core.subscribe(&js.client, sid, key, Some(b"_sys_")));
        }
    }
    if !slots.is_empty() {
        js.subs.borrow_mut().insert((account, name), slots);
    }
}
