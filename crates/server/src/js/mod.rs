//! JetStream on the runtime: the JetStream core's internal client, whose
//! subscriptions are the API (`$JS.API.INFO`, `STREAM.>`, `CONSUMER.>`),
//! each stream's subjects and each direct-get stream's `DIRECT.GET`
//! subjects; and the worker that answers what they were delivered.
//!
//! Ownership: in this version every stream lives on the JetStream core
//! ([`JS_CORE`]). Its subjects are subscribed like a client's, so a publish
//! on any core reaches it through the rings as any delivery does, and the
//! publisher's core never waits: the stream's reply (the PubAck) is routed
//! back like any message. The logic (configuration, store, log, API JSON)
//! is the `shoal-jetstream` crate's; this module moves bytes in and out.
//!
//! The worker takes every queued piece of work at once (a batch), applies
//! it to the streams, writes what the file streams' changes need (their
//! `meta.json` and log appends, one append per stream per batch), and only
//! then routes the replies: a PubAck goes out once its message is in the
//! kernel (glommio's io_uring buffered file). A write that fails turns the
//! batch's PubAcks for that stream into errors, logged.
//!
//! Layout: `<store_dir>/jetstream/<account>/streams/<stream>/meta.json`
//! and `msgs.log`. At start-up each file stream is read back (on the
//! blocking pool), its log replayed up to a torn tail and rewritten whole.
//!
//! Invariants: only the JetStream core has a [`Js`]; a stream's
//! subscriptions follow its configuration; work is taken during a routing
//! pass (copies of the message) and done by the worker after it, never
//! inside it. Never blocks its core: appends are io_uring writes, the rare
//! whole-file writes and directory changes go to the blocking pool.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use ahash::AHashMap;
use bytes::Bytes;
use shoal_jetstream::api::{Change, Io};

use crate::client::Client;
use crate::core::Core;
use crate::rt;

pub(crate) mod state;

use state::{now, Js, Work};

/// The core that owns JetStream.
pub const JS_CORE: usize = 0;

/// The API's subjects (not `$JS.API.>`: a direct get on a stream that
/// does not allow it has no responder, as in nats-server).
const API: [&[u8]; 3] = [b"$JS.API.INFO", b"$JS.API.STREAM.>", b"$JS.API.CONSUMER.>"];
/// How often `max_age` and per-message TTLs are applied.
const EXPIRE_TICK: Duration = Duration::from_millis(250);

/// On the JetStream core of a server with JetStream: its client, the API
/// subscription (the global account's), the worker and the `max_age`
/// timer.
pub fn start(core: &Rc<Core>) {
    if core.id() != JS_CORE || core.cfg().jetstream.is_none() {
        return;
    }
    let addr = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let mut c = Client::new(core.next_cid(), addr, core.env().clone(), None);
    c.jetstream = true;
    let client = Rc::new(c);
    // The accounts with JetStream; the others are answered 10039.
    let mut accounts = AHashMap::new();
    for name in &core
        .cfg()
        .jetstream
        .as_ref()
        .expect("checked above")
        .accounts
    {
        if let Some(id) = core.auth().account_id(name.as_bytes()) {
            accounts.insert(id, shoal_jetstream::Account::default());
        }
    }
    let js = Js {
        client: client.clone(),
        accounts: std::cell::RefCell::new(accounts),
        work: Default::default(),
        wake: Default::default(),
        idle: std::cell::Cell::new(false),
        subs: Default::default(),
    };
    if !core.set_js(js) {
        return;
    }
    rt::spawn(worker(core.clone()));
    rt::spawn(expire(core.clone()));
}

/// Where the streams of `account` live.
fn streams_dir(core: &Core, account: u16) -> Option<PathBuf> {
    let js = core.cfg().jetstream.as_ref()?;
    let name = core.auth().account_name(account);
    Some(js.dir.join(name).join("streams"))
}

async fn expire(core: Rc<Core>) {
    let life = core.life();
    while !life.stopping.get() {
        futures_lite::future::or(rt::sleep(EXPIRE_TICK), life.stop_ev.wait()).await;
        if let Some(js) = core.js() {
            js.work.borrow_mut().push_back(Work::Expire);
            kick(&core);
        }
    }
}

/// Wakes the worker if work is waiting (called after routing passes).
pub fn kick(core: &Core) {
    let Some(js) = core.js() else {
        return;
    };
    if js.idle.get() && !js.work.borrow().is_empty() {
        js.wake.notify();
    }
}

/// A reply to route once the batch's writes are done.
struct Reply {
    account: u16,
    to: Bytes,
    hdr: Vec<u8>,
    body: Vec<u8>,
    /// A PubAck of this stream's (an error instead if its write failed).
    ack_of: Option<String>,
}

/// Restores the file streams, subscribes the API, then answers batches of
/// work until the server stops.
async fn worker(core: Rc<Core>) {
    let Some(js) = core.js() else {
        return;
    };
    let mut files: AHashMap<(u16, String), rt::AppendFile> = AHashMap::new();
    let enabled: Vec<u16> = js.accounts.borrow().keys().copied().collect();
    for account in enabled {
        restore(&core, js, account, &mut files).await;
    }
    // Every account's requests are answered (10039 where it has none).
    for account in core.auth().account_ids() {
        for subject in API {
            let key = core.key(account, subject);
            core.subscribe(&js.client, Bytes::from_static(b"api"), key, None);
        }
    }
    core.end_pass();
    let life = core.life();
    loop {
        if js.work.borrow().is_empty() {
            js.idle.set(true);
            let wait = js.wake.wait();
            futures_lite::future::or(wait, life.stop_ev.wait()).await;
            js.idle.set(false);
            if life.stopping.get() {
                break;
            }
            continue;
        }
        let batch: Vec<Work> = js.work.borrow_mut().drain(..).collect();
        let replies = apply(&core, js, batch);
        let failed = write(&core, js, &mut files).await;
        for r in replies {
            let body = match &r.ack_of {
                Some(stream) if failed.iter().any(|(a, s)| *a == r.account && s == stream) => {
                    format!(
                        "{{\"error\":{{\"code\":503,\"err_code\":10077,\"description\":\"write failed\"}},\"stream\":{stream:?},\"seq\":0}}"
                    )
                    .into_bytes()
                }
                _ => r.body,
            };
            answer(&core, r.account, &r.to, &r.hdr, &body);
        }
        core.end_pass();
    }
}

/// Applies a batch to the streams: the replies it calls for.
fn apply(core: &Core, js: &Js, batch: Vec<Work>) -> Vec<Reply> {
    let mut out = Vec::new();
    for w in batch {
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
                let got = {
                    let mut accounts = js.accounts.borrow_mut();
                    match accounts.get_mut(&account) {
                        Some(a) => a.request(&ctx, &api, &body),
                        None => shoal_jetstream::api::not_enabled(&api),
                    }
                };
                let Some(got) = got else {
                    continue;
                };
                if let Some(change) = got.change {
                    resubscribe(core, js, account, change);
                }
                out.push(Reply {
                    account,
                    to: reply,
                    hdr: Vec::new(),
                    body: got.reply,
                    ack_of: None,
                });
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
                    out.push(Reply {
                        account,
                        to: reply,
                        hdr: d.hdr,
                        body: d.data,
                        ack_of: None,
                    });
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
                    .and_then(|a| a.capture_owned(&stream, subject, hdr, data, now()));
                if let Some(ack) = ack {
                    out.push(Reply {
                        account,
                        to: reply,
                        hdr: Vec::new(),
                        body: ack,
                        ack_of: Some(stream),
                    });
                }
            }
            Work::Expire => {
                let now = now();
                for a in js.accounts.borrow_mut().values_mut() {
                    a.expire(now);
                }
            }
        }
    }
    out
}

/// Does the writes the applied changes need; the (account, stream) pairs
/// whose writes failed (logged).
async fn write(
    core: &Core,
    js: &Js,
    files: &mut AHashMap<(u16, String), rt::AppendFile>,
) -> Vec<(u16, String)> {
    let ios: Vec<(u16, Vec<Io>)> = js
        .accounts
        .borrow_mut()
        .iter_mut()
        .map(|(id, a)| (*id, a.take_io()))
        .filter(|(_, io)| !io.is_empty())
        .collect();
    let mut failed = Vec::new();
    for (account, list) in ios {
        let Some(dir) = streams_dir(core, account) else {
            continue;
        };
        for io in list {
            let (stream, r) = match io {
                Io::Meta { stream, json } => {
                    let d = dir.join(&stream);
                    let r = rt::blocking(move || write_meta(&d, &json)).await;
                    (stream, r)
                }
                Io::Append { stream, bytes } => {
                    let key = (account, stream.clone());
                    let r = append(files, &key, &dir.join(&stream), bytes).await;
                    (stream, r)
                }
                Io::Delete { stream } => {
                    files.remove(&(account, stream.clone()));
                    let d = dir.join(&stream);
                    let r = rt::blocking(move || match std::fs::remove_dir_all(&d) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                        _ => Ok(()),
                    })
                    .await;
                    (stream, r)
                }
            };
            if let Err(e) = r {
                log::error!(
                    "JetStream failed to store stream '{} > {stream}': {e}",
                    core.auth().account_name(account)
                );
                failed.push((account, stream));
            }
        }
    }
    failed
}

/// Appends to a stream's log, opening it the first time.
async fn append(
    files: &mut AHashMap<(u16, String), rt::AppendFile>,
    key: &(u16, String),
    dir: &Path,
    bytes: Vec<u8>,
) -> std::io::Result<()> {
    if !files.contains_key(key) {
        let d = dir.to_path_buf();
        rt::blocking(move || std::fs::create_dir_all(d)).await?;
        let f = rt::AppendFile::open(&dir.join("msgs.log")).await?;
        files.insert(key.clone(), f);
    }
    files
        .get_mut(key)
        .expect("opened above")
        .append(bytes)
        .await
}

/// Replaces `dir/meta.json` (written aside, then renamed); on the
/// blocking pool.
fn write_meta(dir: &Path, json: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join("meta.json.tmp");
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, dir.join("meta.json"))
}

/// Reads back an account's file streams: each one's config, its log
/// replayed (a torn tail cut off) and rewritten whole; then its
/// subscriptions.
async fn restore(
    core: &Core,
    js: &Js,
    id: u16,
    files: &mut AHashMap<(u16, String), rt::AppendFile>,
) {
    let Some(dir) = streams_dir(core, id) else {
        return;
    };
    let found = rt::blocking(move || read_streams(&dir)).await;
    let account = core.auth().account_name(id);
    for (stream_dir, meta, log_bytes) in found {
        let shown = stream_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        log::info!("  Starting restore for stream '{account} > {shown}'");
        let restored = match js.accounts.borrow_mut().get_mut(&id) {
            Some(a) => a.restore(&meta, &log_bytes, now()),
            None => return,
        };
        let (name, n, torn) = match restored {
            Ok(r) => r,
            Err(e) => {
                log::error!("  Error recreating stream '{account} > {shown}': {e}");
                continue;
            }
        };
        if torn {
            log::warn!("  Stream '{account} > {name}': the log's torn end was cut off");
        }
        // The log is rewritten whole: only what is stored, nothing torn.
        let snapshot = js
            .accounts
            .borrow()
            .get(&id)
            .and_then(|a| a.snapshot_log(&name))
            .unwrap_or_default();
        let d = stream_dir.clone();
        let rewritten = rt::blocking(move || {
            let tmp = d.join("msgs.log.tmp");
            std::fs::write(&tmp, &snapshot)?;
            std::fs::rename(tmp, d.join("msgs.log"))
        })
        .await;
        if let Err(e) = rewritten {
            log::error!("  Error rewriting the log of stream '{account} > {name}': {e}");
        }
        match rt::AppendFile::open(&stream_dir.join("msgs.log")).await {
            Ok(f) => {
                files.insert((id, name.clone()), f);
            }
            Err(e) => log::error!("  Error opening the log of stream '{account} > {name}': {e}"),
        }
        log::info!("  Restored {n} messages for stream '{account} > {name}'");
        resubscribe(core, js, id, Change::Subjects(name));
    }
}

/// The stream directories under `dir` with their `meta.json` and
/// `msgs.log` (empty when missing); on the blocking pool.
fn read_streams(dir: &Path) -> Vec<(PathBuf, Vec<u8>, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Vec<u8>, Vec<u8>)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("meta.json").is_file())
        .map(|p| {
            let meta = std::fs::read(p.join("meta.json")).unwrap_or_default();
            let log = std::fs::read(p.join("msgs.log")).unwrap_or_default();
            (p, meta, log)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Routes `hdr` (a header block, or empty) and `body` to `reply` in
/// `account` (nothing without a reply).
fn answer(core: &Core, account: u16, reply: &[u8], hdr: &[u8], body: &[u8]) {
    if !reply.is_empty() {
        crate::router::publish_internal(core, account, reply, hdr, body);
    }
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
