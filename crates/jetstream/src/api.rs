//! An account's streams and the `$JS.API` requests they answer (the stream
//! endpoints, account info), each reply in nats-server's JSON; and what a
//! message captured by a stream is answered (the PubAck).
//!
//! A request names its endpoint by subject (the part after `$JS.API.`); one
//! that names none gets no reply, as nats-server's import has no responder
//! for it. Consumers are not built yet: their endpoints answer an error
//! that says so, never silence.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::StreamConfig;
use crate::errors::ApiError;
use crate::json::to_go;
use crate::store::State;
use crate::stream::{Ack, Stream};

const PREFIX: &str = "io.nats.jetstream.api.v1.";
const NAMES_LIMIT: u64 = 1024;
const LIST_LIMIT: u64 = 256;
const SUBJECTS_LIMIT: u64 = 100_000;

/// What a request is answered with, beyond its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The stream's subjects may have changed (created or updated).
    Subjects(String),
    /// The stream is gone.
    Deleted(String),
}

/// A request's outcome: the reply's body, and what changed.
#[derive(Debug)]
pub struct Outcome {
    pub reply: Vec<u8>,
    pub change: Option<Change>,
}

/// What a request is handled with: the server's name (`cluster.leader`)
/// and the time (ns since the epoch).
pub struct Ctx<'a> {
    pub server_name: &'a str,
    pub now: i64,
}

/// What a file stream needs written, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Io {
    /// Its configuration and creation time (`meta.json`), replaced.
    Meta { stream: String, json: Vec<u8> },
    /// Log records to append (`msgs.log`).
    Append { stream: String, bytes: Vec<u8> },
    /// The stream is gone: its directory too.
    Delete { stream: String },
}

/// One JetStream account's streams.
#[derive(Debug, Default)]
pub struct Account {
    pub streams: BTreeMap<String, Stream>,
    pub api_total: u64,
    pub api_errors: u64,
    /// The writes the changes so far need (see [`Account::take_io`]).
    io: Vec<Io>,
}

/// A file stream's `meta.json`.
#[derive(Serialize, serde::Deserialize)]
struct Meta {
    config: serde_json::Value,
    created: i64,
}

#[derive(Serialize)]
struct Limits {
    max_memory: i64,
    max_storage: i64,
    max_streams: i64,
    max_consumers: i64,
    max_ack_pending: i64,
    memory_max_stream_bytes: i64,
    storage_max_stream_bytes: i64,
    max_bytes_required: bool,
}

#[derive(Serialize)]
struct ApiStats {
    level: u32,
    total: u64,
    errors: u64,
}

#[derive(Serialize)]
struct AccountInfo {
    r#type: String,
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    streams: usize,
    consumers: usize,
    limits: Limits,
    api: ApiStats,
}

#[derive(Serialize)]
struct Leader<'a> {
    leader: &'a str,
}

/// The replies with a stream's info in them; what a reply lacks is left
/// out, as Go's `omitempty` pointers are.
#[derive(Serialize, Default)]
struct InfoReply<'a> {
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<StreamConfig>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_time")]
    created: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<State>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<Leader<'a>>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_time")]
    ts: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    did_create: bool,
}

fn opt_time<S: serde::Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    crate::json::time(&t.unwrap_or(0), s)
}

/// What a message get (MSG.GET, DIRECT.GET) asks for: exactly one of a
/// sequence, the last message on a subject, or the next one on a subject
/// from a sequence.
struct GetRequest<'a> {
    seq: u64,
    last: Option<&'a str>,
    next: Option<&'a str>,
}

impl<'a> GetRequest<'a> {
    /// The request's ask, or `None` when it names none or conflicting ones.
    fn of(req: &'a Map<String, Value>) -> Option<GetRequest<'a>> {
        let text = |k: &str| req.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let g = GetRequest {
            seq: req.get("seq").and_then(Value::as_u64).unwrap_or(0),
            last: text("last_by_subj"),
            next: text("next_by_subj"),
        };
        let none = g.seq == 0 && g.last.is_none() && g.next.is_none();
        let conflict = g.last.is_some() && (g.seq > 0 || g.next.is_some());
        (!none && !conflict).then_some(g)
    }

    /// The sequence of the message asked for, if the stream has one.
    fn find(&self, s: &Stream) -> Option<u64> {
        match (self.last, self.next) {
            (Some(l), _) => s.store.last_by_subject(l.as_bytes()),
            (None, Some(n)) => s.store.next_by_subject(n.as_bytes(), self.seq),
            (None, None) => Some(self.seq),
        }
    }
}

/// A DIRECT.GET answer: the header block and the payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Direct {
    pub hdr: Vec<u8>,
    pub data: Vec<u8>,
}

impl Direct {
    /// A status answer (`NATS/1.0 404 Message Not Found`).
    fn status(line: &str) -> Direct {
        Direct {
            hdr: format!("NATS/1.0 {line}\r\n\r\n").into_bytes(),
            data: Vec::new(),
        }
    }
}

/// A stream's entry in STREAM.LIST.
#[derive(Serialize)]
struct ListEntry {
    config: StreamConfig,
    #[serde(serialize_with = "crate::json::time")]
    created: i64,
    state: State,
    #[serde(serialize_with = "crate::json::time")]
    ts: i64,
}

#[derive(Serialize)]
struct Paged<T: Serialize> {
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
    total: u64,
    offset: u64,
    limit: u64,
    streams: T,
}

#[derive(Serialize)]
struct Success {
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
}

#[derive(Serialize)]
struct Purged {
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
    purged: u64,
}

#[derive(Serialize)]
struct StoredMessage {
    subject: String,
    seq: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    hdrs: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    data: String,
    #[serde(serialize_with = "crate::json::time")]
    time: i64,
}

#[derive(Serialize)]
struct MsgGet {
    r#type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<StoredMessage>,
}

#[derive(Serialize)]
struct ErrorOnly<'a> {
    r#type: &'a str,
    error: ApiError,
}

/// The PubAck's failure form: the error, then the stream and `seq` 0.
#[derive(Serialize)]
struct PubAckError<'a> {
    error: ApiError,
    stream: &'a str,
    seq: u64,
}

fn kind(name: &str) -> String {
    format!("{PREFIX}{name}")
}

impl Account {
    /// Handles the request on `$JS.API.<api>` with `body`; `None` when no
    /// endpoint has that subject (nothing is answered).
    pub fn request(&mut self, ctx: &Ctx, api: &str, body: &[u8]) -> Option<Outcome> {
        let tokens: Vec<&str> = api.split('.').collect();
        let out = match tokens.as_slice() {
            ["INFO"] => Ok((self.account_info(), None)),
            ["STREAM", "CREATE", s] => Ok(self.create(ctx, s, body)),
            ["STREAM", "UPDATE", s] => Ok(self.update(ctx, s, body)),
            ["STREAM", "INFO", s] => Ok((self.info(ctx, s, body), None)),
            ["STREAM", "DELETE", s] => Ok(self.delete(s, body)),
            ["STREAM", "PURGE", s] => Ok((self.purge(s, body), None)),
            ["STREAM", "NAMES"] => Ok((self.names(body), None)),
            ["STREAM", "LIST"] => Ok((self.list(ctx, body), None)),
            ["STREAM", "MSG", "GET", s] => Ok((self.msg_get(s, body), None)),
            ["STREAM", "MSG", "DELETE", s] => Ok((self.msg_delete(s, body), None)),
            ["CONSUMER", op, ..] => Err(consumer_type(op)),
            _ => return None,
        };
        let (reply, change) = match out {
            Ok(r) => r,
            Err(t) => (
                to_go(&ErrorOnly {
                    r#type: &t,
                    error: ApiError::new(
                        500,
                        10012,
                        "consumers are not supported by this version of shoal yet",
                    ),
                }),
                None,
            ),
        };
        // nats-server's counters, as observed: a message get that finds
        // its message is not counted, a failed message delete is no error.
        let failed = reply.windows(9).any(|w| w == b"\"error\":{");
        let get = matches!(tokens.as_slice(), ["STREAM", "MSG", "GET", _]);
        let delete = matches!(tokens.as_slice(), ["STREAM", "MSG", "DELETE", _]);
        if !get || failed {
            self.api_total += 1;
        }
        if failed && !delete {
            self.api_errors += 1;
        }
        match &change {
            Some(Change::Subjects(name)) => {
                if let Some(json) = self.meta_json(name) {
                    self.io.push(Io::Meta {
                        stream: name.clone(),
                        json,
                    });
                }
            }
            Some(Change::Deleted(name)) => self.io.push(Io::Delete {
                stream: name.clone(),
            }),
            None => {}
        }
        self.sweep(None);
        Some(Outcome { reply, change })
    }

    /// The writes the changes since the last call need, in order.
    pub fn take_io(&mut self) -> Vec<Io> {
        std::mem::take(&mut self.io)
    }

    /// Moves file streams' journals (`only` one, or all) into the writes.
    fn sweep(&mut self, only: Option<&str>) {
        for (name, s) in self.streams.iter_mut() {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let bytes = s.store.take_journal();
            if bytes.is_empty() {
                continue;
            }
            // Appends to one stream in a row are one write.
            match self.io.last_mut() {
                Some(Io::Append { stream, bytes: b }) if stream == name => {
                    b.extend_from_slice(&bytes)
                }
                _ => self.io.push(Io::Append {
                    stream: name.clone(),
                    bytes,
                }),
            }
        }
    }

    /// A file stream's `meta.json` (`None` for a memory stream).
    fn meta_json(&self, name: &str) -> Option<Vec<u8>> {
        let s = self.streams.get(name)?;
        if s.cfg.storage != crate::config::Storage::File {
            return None;
        }
        let config = serde_json::to_value(&s.cfg).ok()?;
        serde_json::to_vec(&Meta {
            config,
            created: s.created,
        })
        .ok()
    }

    /// Brings back a file stream from its `meta.json` and `msgs.log` at
    /// `now`: its name, how many messages it has, and whether the log's
    /// tail was torn (then cut off).
    pub fn restore(
        &mut self,
        meta: &[u8],
        log: &[u8],
        now: i64,
    ) -> Result<(String, u64, bool), String> {
        let m: Meta = serde_json::from_slice(meta).map_err(|e| e.to_string())?;
        let map = m.config.as_object().cloned().unwrap_or_default();
        let cfg = StreamConfig::from_json(&map, &[])
            .and_then(|c| c.checked())
            .map_err(|e| e.description)?;
        let name = cfg.name.clone();
        let mut s = Stream::new(cfg, m.created);
        let (recs, good) = crate::log::replay(log);
        s.store.restore(recs);
        s.rebuild_ids(now);
        s.expire(now);
        let _ = s.store.take_journal();
        let n = s.store.msgs();
        self.streams.insert(name.clone(), s);
        Ok((name, n, good < log.len()))
    }

    /// Stream `name`'s whole log, rewritten (after a restore).
    pub fn snapshot_log(&self, name: &str) -> Option<Vec<u8>> {
        self.streams.get(name).map(|s| s.store.snapshot_log())
    }

    fn account_info(&self) -> Vec<u8> {
        let (mut memory, mut storage) = (0, 0);
        for s in self.streams.values() {
            match s.cfg.storage {
                crate::config::Storage::Memory => memory += s.store.bytes(),
                crate::config::Storage::File => storage += s.store.bytes(),
            }
        }
        to_go(&AccountInfo {
            r#type: kind("account_info_response"),
            memory,
            storage,
            reserved_memory: 0,
            reserved_storage: 0,
            streams: self.streams.len(),
            consumers: 0,
            limits: Limits {
                max_memory: -1,
                max_storage: -1,
                max_streams: -1,
                max_consumers: -1,
                max_ack_pending: -1,
                memory_max_stream_bytes: -1,
                storage_max_stream_bytes: -1,
                max_bytes_required: false,
            },
            api: ApiStats {
                level: crate::API_LEVEL,
                total: self.api_total,
                errors: self.api_errors,
            },
        })
    }

    /// A configuration from a create or update request for stream `name`.
    fn config_of(name: &str, body: &[u8]) -> Result<StreamConfig, ApiError> {
        let map = object(body)?.unwrap_or_default();
        let cfg = StreamConfig::from_json(&map, &["pedantic"])?;
        if cfg.name != name {
            return Err(ApiError::name_mismatch());
        }
        cfg.checked()
    }

    /// Whether `cfg`'s subjects collide with another stream's.
    fn overlaps(&self, cfg: &StreamConfig) -> bool {
        self.streams
            .values()
            .filter(|s| s.cfg.name != cfg.name)
            .any(|s| {
                s.cfg.subjects.iter().any(|a| {
                    cfg.subjects
                        .iter()
                        .any(|b| shoal_subject::subjects_collide(a.as_bytes(), b.as_bytes()))
                })
            })
    }

    fn create(&mut self, ctx: &Ctx, name: &str, body: &[u8]) -> (Vec<u8>, Option<Change>) {
        let t = kind("stream_create_response");
        let cfg = match Self::config_of(name, body) {
            Ok(c) => c,
            Err(e) => return (error_reply(&t, e), None),
        };
        // jsStreamCreateRequest's own checks.
        let refused = if cfg.sealed {
            Some("stream configuration for create can not be sealed")
        } else if cfg.mirror_direct {
            Some("stream has no mirror but does have mirror direct")
        } else {
            None
        };
        if let Some(why) = refused {
            return (error_reply(&t, ApiError::invalid_config(why)), None);
        }
        if let Some(s) = self.streams.get(name) {
            if s.cfg != cfg {
                return (error_reply(&t, ApiError::name_in_use()), None);
            }
        } else {
            if self.overlaps(&cfg) {
                return (error_reply(&t, ApiError::subjects_overlap()), None);
            }
            self.streams
                .insert(name.to_string(), Stream::new(cfg, ctx.now));
        }
        let s = &self.streams[name];
        let reply = to_go(&InfoReply {
            r#type: t,
            config: Some(s.cfg.with_versions()),
            created: Some(s.created),
            state: Some(s.store.state(None, false)),
            ts: Some(ctx.now),
            did_create: true,
            ..Default::default()
        });
        (reply, Some(Change::Subjects(name.to_string())))
    }

    fn update(&mut self, ctx: &Ctx, name: &str, body: &[u8]) -> (Vec<u8>, Option<Change>) {
        let t = kind("stream_update_response");
        let cfg = match Self::config_of(name, body) {
            Ok(c) => c,
            Err(e) => return (error_reply(&t, e), None),
        };
        let Some(old) = self.streams.get(name) else {
            return (error_reply(&t, ApiError::stream_not_found()), None);
        };
        if let Some(e) = old.cfg.update_refused(&cfg) {
            return (error_reply(&t, e), None);
        }
        if self.overlaps(&cfg) {
            return (error_reply(&t, ApiError::subjects_overlap()), None);
        }
        let s = self.streams.get_mut(name).expect("checked above");
        let mut cfg = cfg;
        if cfg.sealed {
            cfg.discard = crate::config::Discard::New;
        }
        s.cfg = cfg;
        let reply = to_go(&InfoReply {
            r#type: t,
            config: Some(s.cfg.with_versions()),
            created: Some(s.created),
            state: Some(s.store.state(None, false)),
            ts: Some(ctx.now),
            ..Default::default()
        });
        (reply, Some(Change::Subjects(name.to_string())))
    }

    fn info(&mut self, ctx: &Ctx, name: &str, body: &[u8]) -> Vec<u8> {
        let t = kind("stream_info_response");
        let paged_error = |e| {
            to_go(&InfoReply {
                r#type: t.clone(),
                error: Some(e),
                total: Some(0),
                offset: Some(0),
                limit: Some(0),
                ..Default::default()
            })
        };
        let req = match fields(body, &["deleted_details", "subjects_filter", "offset"]) {
            Ok(m) => m,
            Err(e) => return paged_error(e),
        };
        let Some(s) = self.streams.get(name) else {
            return paged_error(ApiError::stream_not_found());
        };
        let deleted = req
            .get("deleted_details")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let filter = req.get("subjects_filter").and_then(Value::as_str);
        let state = s.store.state(filter.map(str::as_bytes), deleted);
        let (total, limit) = match &state.subjects {
            Some(m) => (m.len() as u64, SUBJECTS_LIMIT),
            None => (0, 0),
        };
        to_go(&InfoReply {
            r#type: t,
            total: Some(total),
            offset: Some(0),
            limit: Some(limit),
            config: Some(s.cfg.with_versions()),
            created: Some(s.created),
            state: Some(state),
            cluster: Some(Leader {
                leader: ctx.server_name,
            }),
            ts: Some(ctx.now),
            ..Default::default()
        })
    }

    fn delete(&mut self, name: &str, body: &[u8]) -> (Vec<u8>, Option<Change>) {
        let t = kind("stream_delete_response");
        if !empty_request(body) {
            return (error_reply(&t, ApiError::not_empty()), None);
        }
        if self.streams.remove(name).is_none() {
            return (error_reply(&t, ApiError::stream_not_found()), None);
        }
        let reply = to_go(&Success {
            r#type: t,
            error: None,
            success: true,
        });
        (reply, Some(Change::Deleted(name.to_string())))
    }

    fn purge(&mut self, name: &str, body: &[u8]) -> Vec<u8> {
        let t = kind("stream_purge_response");
        let fail = |e| {
            to_go(&Purged {
                r#type: t.clone(),
                error: Some(e),
                success: false,
                purged: 0,
            })
        };
        let req = match fields(body, &["filter", "seq", "keep"]) {
            Ok(m) => m,
            Err(e) => return fail(e),
        };
        let Some(s) = self.streams.get_mut(name) else {
            return fail(ApiError::stream_not_found());
        };
        if s.cfg.deny_purge {
            return fail(ApiError::purge_denied());
        }
        if s.cfg.sealed {
            return fail(ApiError::sealed());
        }
        let seq = req.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let keep = req.get("keep").and_then(Value::as_u64).unwrap_or(0);
        if seq > 0 && keep > 0 {
            return fail(ApiError::bad_request());
        }
        let filter = req.get("filter").and_then(Value::as_str).map(str::as_bytes);
        let purged = s.store.purge(filter, seq, keep);
        to_go(&Purged {
            r#type: t,
            error: None,
            success: true,
            purged,
        })
    }

    fn names(&self, body: &[u8]) -> Vec<u8> {
        let t = kind("stream_names_response");
        let (offset, subject) = match paging(body) {
            Ok(p) => p,
            Err(e) => {
                return to_go(&Paged::<Option<Vec<String>>> {
                    r#type: t,
                    error: Some(e),
                    total: 0,
                    offset: 0,
                    limit: 0,
                    streams: None,
                })
            }
        };
        let all: Vec<&Stream> = self.filtered(subject.as_deref());
        let names: Vec<String> = all
            .iter()
            .skip(offset as usize)
            .take(NAMES_LIMIT as usize)
            .map(|s| s.cfg.name.clone())
            .collect();
        to_go(&Paged {
            r#type: t,
            error: None,
            total: all.len() as u64,
            offset,
            limit: NAMES_LIMIT,
            streams: (!names.is_empty()).then_some(names),
        })
    }

    fn list(&self, ctx: &Ctx, body: &[u8]) -> Vec<u8> {
        let t = kind("stream_list_response");
        let (offset, subject) = match paging(body) {
            Ok(p) => p,
            Err(e) => {
                return to_go(&Paged::<Vec<ListEntry>> {
                    r#type: t,
                    error: Some(e),
                    total: 0,
                    offset: 0,
                    limit: 0,
                    streams: Vec::new(),
                })
            }
        };
        let all = self.filtered(subject.as_deref());
        let entries: Vec<ListEntry> = all
            .iter()
            .skip(offset as usize)
            .take(LIST_LIMIT as usize)
            .map(|s| ListEntry {
                config: s.cfg.clone(),
                created: s.created,
                state: s.store.state(None, false),
                ts: ctx.now,
            })
            .collect();
        to_go(&Paged {
            r#type: t,
            error: None,
            total: all.len() as u64,
            offset,
            limit: LIST_LIMIT,
            streams: entries,
        })
    }

    /// The streams (by name) with a subject matching `subject`, if given.
    fn filtered(&self, subject: Option<&str>) -> Vec<&Stream> {
        self.streams
            .values()
            .filter(|s| {
                subject.is_none_or(|f| {
                    s.cfg
                        .subjects
                        .iter()
                        .any(|x| shoal_subject::subjects_collide(x.as_bytes(), f.as_bytes()))
                })
            })
            .collect()
    }

    fn msg_get(&self, name: &str, body: &[u8]) -> Vec<u8> {
        let t = kind("stream_msg_get_response");
        let fail = |e| {
            to_go(&MsgGet {
                r#type: t.clone(),
                error: Some(e),
                message: None,
            })
        };
        let req = match fields(
            body,
            &[
                "seq",
                "last_by_subj",
                "next_by_subj",
                "start_time",
                "no_hdr",
                "batch",
                "max_bytes",
                "multi_last",
                "up_to_seq",
                "up_to_time",
            ],
        ) {
            Ok(m) => m,
            Err(e) => return fail(e),
        };
        let batch = req.contains_key("batch") || req.contains_key("max_bytes");
        let Some(want) = GetRequest::of(&req).filter(|_| !batch) else {
            return fail(ApiError::bad_request());
        };
        let Some(s) = self.streams.get(name) else {
            return fail(ApiError::stream_not_found());
        };
        let found = want.find(s);
        let Some((seq, m)) = found.and_then(|q| s.store.get(q).map(|m| (q, m))) else {
            return fail(ApiError::no_message());
        };
        let b64 = |b: &[u8]| data_encoding::BASE64.encode(b);
        to_go(&MsgGet {
            r#type: t,
            error: None,
            message: Some(StoredMessage {
                subject: String::from_utf8_lossy(&m.subject).into_owned(),
                seq,
                hdrs: b64(&m.hdr),
                data: b64(&m.data),
                time: m.ts,
            }),
        })
    }

    fn msg_delete(&mut self, name: &str, body: &[u8]) -> Vec<u8> {
        let t = kind("stream_msg_delete_response");
        let fail = |e| {
            to_go(&Success {
                r#type: t.clone(),
                error: Some(e),
                success: false,
            })
        };
        let req = match fields(body, &["seq", "no_erase"]) {
            Ok(m) => m,
            Err(e) => return fail(e),
        };
        let Some(s) = self.streams.get_mut(name) else {
            return fail(ApiError::stream_not_found());
        };
        if s.cfg.deny_delete {
            return fail(ApiError::store("message delete not permitted"));
        }
        if s.cfg.sealed {
            return fail(ApiError::sealed());
        }
        let seq = req.get("seq").and_then(Value::as_u64).unwrap_or(0);
        if seq > s.store.last_seq() {
            return fail(ApiError::store("stream store EOF"));
        }
        if !s.store.remove(seq) {
            return fail(ApiError::store("no message found"));
        }
        to_go(&Success {
            r#type: t,
            error: None,
            success: true,
        })
    }

    /// `$JS.API.DIRECT.GET.<name>` (`tail`: the subject appended to it, if
    /// any) with `body`, for a stream that allows direct gets (ADR-31): the
    /// message with `Nats-Stream`, `Nats-Subject`, `Nats-Sequence` and
    /// `Nats-Time-Stamp` added to its headers, or a status. `None`: no
    /// such stream (nothing is answered).
    pub fn direct_get(&self, name: &str, tail: Option<&str>, body: &[u8]) -> Option<Direct> {
        let s = self.streams.get(name).filter(|s| s.cfg.allow_direct)?;
        let (seq, no_hdr) = match tail {
            Some(subject) => {
                if !body.iter().all(|b| b.is_ascii_whitespace()) {
                    return Some(Direct::status("408 Bad Request"));
                }
                (s.store.last_by_subject(subject.as_bytes()), false)
            }
            None => {
                let req = match crate::json::object(body) {
                    Ok(Some(m)) if !m.is_empty() => m,
                    Ok(_) => return Some(Direct::status("408 Empty Request")),
                    Err(_) => return Some(Direct::status("408 Malformed Request")),
                };
                let no_hdr = req.get("no_hdr").and_then(Value::as_bool).unwrap_or(false);
                let batch = [
                    "batch",
                    "max_bytes",
                    "multi_last",
                    "up_to_seq",
                    "up_to_time",
                    "start_time",
                ]
                .iter()
                .any(|k| req.contains_key(*k));
                let Some(want) = GetRequest::of(&req).filter(|_| !batch) else {
                    return Some(Direct::status("408 Bad Request"));
                };
                let found = want.find(s);
                (found, no_hdr)
            }
        };
        let Some((seq, m)) = seq.and_then(|q| s.store.get(q).map(|m| (q, m))) else {
            return Some(Direct::status("404 Message Not Found"));
        };
        if no_hdr {
            return Some(Direct {
                hdr: Vec::new(),
                data: m.data.to_vec(),
            });
        }
        let mut hdr = if m.hdr.is_empty() {
            b"NATS/1.0\r\n".to_vec()
        } else {
            m.hdr[..m.hdr.len().saturating_sub(2)].to_vec()
        };
        hdr.extend_from_slice(
            format!(
                "Nats-Stream: {name}\r\nNats-Subject: {}\r\nNats-Sequence: {seq}\r\nNats-Time-Stamp: {}\r\n\r\n",
                String::from_utf8_lossy(&m.subject),
                shoal_go::rfc3339_nano(m.ts)
            )
            .as_bytes(),
        );
        Some(Direct {
            hdr,
            data: m.data.to_vec(),
        })
    }

    /// A message on one of stream `name`'s subjects: stored, and what the
    /// publisher is answered (nothing for a `no_ack` stream).
    pub fn capture(
        &mut self,
        name: &str,
        subject: &[u8],
        hdr: &[u8],
        data: &[u8],
        now: i64,
    ) -> Option<Vec<u8>> {
        let copy = bytes::Bytes::copy_from_slice;
        self.capture_owned(name, copy(subject), copy(hdr), copy(data), now)
    }

    /// [`Account::capture`] of a message the caller owns (stored as is).
    pub fn capture_owned(
        &mut self,
        name: &str,
        subject: bytes::Bytes,
        hdr: bytes::Bytes,
        data: bytes::Bytes,
        now: i64,
    ) -> Option<Vec<u8>> {
        let s = self.streams.get_mut(name)?;
        let r = s.publish_owned(subject, hdr, data, now);
        let no_ack = s.cfg.no_ack;
        self.sweep(Some(name));
        if no_ack {
            return None;
        }
        Some(match r {
            Ok(Ack::Stored { seq }) => {
                format!("{{\"stream\":{},\"seq\":{seq}}}", quote(name)).into_bytes()
            }
            Ok(Ack::Duplicate { seq }) => format!(
                "{{\"stream\":{},\"seq\":{seq},\"duplicate\": true}}",
                quote(name)
            )
            .into_bytes(),
            Err(e) => to_go(&PubAckError {
                error: e,
                stream: name,
                seq: 0,
            }),
        })
    }

    /// Applies `max_age` to every stream at `now`.
    pub fn expire(&mut self, now: i64) {
        for s in self.streams.values_mut() {
            s.expire(now);
        }
        self.sweep(None);
    }
}

/// What an account without JetStream is answered: the endpoint's reply
/// type with 10039 (`None` for a subject that is no endpoint).
pub fn not_enabled(api: &str) -> Option<Outcome> {
    let tokens: Vec<&str> = api.split('.').collect();
    let e = ApiError::not_enabled;
    // The paged and counted replies carry their fields with the error.
    let reply = match tokens.as_slice() {
        ["STREAM", "NAMES"] => Some(to_go(&Paged::<Option<Vec<String>>> {
            r#type: kind("stream_names_response"),
            error: Some(e()),
            total: 0,
            offset: 0,
            limit: 0,
            streams: None,
        })),
        ["STREAM", "LIST"] => Some(to_go(&Paged::<Vec<ListEntry>> {
            r#type: kind("stream_list_response"),
            error: Some(e()),
            total: 0,
            offset: 0,
            limit: 0,
            streams: Vec::new(),
        })),
        ["STREAM", "INFO", _] => Some(to_go(&InfoReply {
            r#type: kind("stream_info_response"),
            error: Some(e()),
            total: Some(0),
            offset: Some(0),
            limit: Some(0),
            ..Default::default()
        })),
        ["STREAM", "PURGE", _] => Some(to_go(&Purged {
            r#type: kind("stream_purge_response"),
            error: Some(e()),
            success: false,
            purged: 0,
        })),
        _ => None,
    };
    if let Some(reply) = reply {
        return Some(Outcome {
            reply,
            change: None,
        });
    }
    let name = match tokens.as_slice() {
        ["INFO"] => "account_info_response",
        ["STREAM", "CREATE", _] => "stream_create_response",
        ["STREAM", "UPDATE", _] => "stream_update_response",
        ["STREAM", "INFO", _] => "stream_info_response",
        ["STREAM", "DELETE", _] => "stream_delete_response",
        ["STREAM", "PURGE", _] => "stream_purge_response",
        ["STREAM", "NAMES"] => "stream_names_response",
        ["STREAM", "LIST"] => "stream_list_response",
        ["STREAM", "MSG", "GET", _] => "stream_msg_get_response",
        ["STREAM", "MSG", "DELETE", _] => "stream_msg_delete_response",
        ["CONSUMER", op, ..] => {
            return Some(Outcome {
                reply: error_reply(&consumer_type(op), ApiError::not_enabled()),
                change: None,
            })
        }
        _ => return None,
    };
    Some(Outcome {
        reply: error_reply(&kind(name), ApiError::not_enabled()),
        change: None,
    })
}

fn quote(s: &str) -> String {
    String::from_utf8(to_go(s)).unwrap_or_default()
}

fn error_reply(t: &str, e: ApiError) -> Vec<u8> {
    to_go(&ErrorOnly {
        r#type: t,
        error: e,
    })
}

fn consumer_type(op: &str) -> String {
    let name = match op {
        "CREATE" | "DURABLE" => "consumer_create_response",
        "INFO" => "consumer_info_response",
        "NAMES" => "consumer_names_response",
        "LIST" => "consumer_list_response",
        "DELETE" => "consumer_delete_response",
        "PAUSE" => "consumer_pause_response",
        _ => "consumer_create_response",
    };
    kind(name)
}

/// The request's object, or its JSON error as the API words it.
fn object(body: &[u8]) -> Result<Option<Map<String, Value>>, ApiError> {
    crate::json::object(body).map_err(ApiError::invalid_json)
}

/// A request body's object (none: empty) with only the keys `allowed`.
fn fields(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let m = object(body)?.unwrap_or_default();
    check_fields(&m, allowed)?;
    Ok(m)
}

/// Refuses the keys an endpoint's request does not have.
fn check_fields(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::invalid_json(format!(
                "json: unknown field {}",
                serde_json::to_string(k).unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// An empty body, or an empty JSON object.
fn empty_request(body: &[u8]) -> bool {
    matches!(crate::json::object(body), Ok(None))
        || matches!(crate::json::object(body), Ok(Some(m)) if m.is_empty())
}

/// NAMES and LIST: `{offset?, subject?}`.
fn paging(body: &[u8]) -> Result<(u64, Option<String>), ApiError> {
    let m = object(body)?.unwrap_or_default();
    check_fields(&m, &["offset", "subject"])?;
    let offset = m.get("offset").and_then(Value::as_u64).unwrap_or(0);
    let subject = m
        .get("subject")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok((offset, subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx<'static> {
        Ctx {
            server_name: "srv",
            now: 1_764_880_832_427_642_627,
        }
    }

    fn ask(a: &mut Account, api: &str, body: &str) -> String {
        String::from_utf8(a.request(&ctx(), api, body.as_bytes()).unwrap().reply).unwrap()
    }

    #[test]
    fn a_file_stream_comes_back_from_its_writes() {
        let mut a = Account::default();
        ask(
            &mut a,
            "STREAM.CREATE.F",
            r#"{"name":"F","subjects":["f.*"]}"#,
        );
        ask(
            &mut a,
            "STREAM.CREATE.M",
            r#"{"name":"M","storage":"memory"}"#,
        );
        let id = b"NATS/1.0\r\nNats-Msg-Id: k1\r\n\r\n";
        a.capture("F", b"f.a", id, b"1", ctx().now).unwrap();
        a.capture("F", b"f.b", b"", b"2", ctx().now).unwrap();
        a.capture("F", b"f.a", b"", b"3", ctx().now).unwrap();
        a.capture("M", b"M", b"", b"m", ctx().now).unwrap();
        ask(&mut a, "STREAM.MSG.DELETE.F", r#"{"seq":2}"#);
        let (mut meta, mut log) = (Vec::new(), Vec::new());
        for io in a.take_io() {
            match io {
                Io::Meta { stream, json } if stream == "F" => meta = json,
                Io::Append { stream, bytes } if stream == "F" => log.extend(bytes),
                Io::Meta { stream, .. } | Io::Append { stream, .. } => {
                    panic!("memory stream {stream} written")
                }
                Io::Delete { .. } => panic!("nothing deleted"),
            }
        }
        // A torn last record is cut off.
        log.extend_from_slice(&[9, 0, 0]);
        let mut b = Account::default();
        let (name, n, torn) = b.restore(&meta, &log, ctx().now).unwrap();
        assert_eq!((name.as_str(), n, torn), ("F", 2, true));
        let (sa, sb) = (&a.streams["F"], &b.streams["F"]);
        assert_eq!(
            sa.store.state(Some(b">"), true),
            sb.store.state(Some(b">"), true)
        );
        assert_eq!(sa.created, sb.created);
        // The dedupe window survives the restart.
        assert_eq!(
            b.capture("F", b"f.a", id, b"1", ctx().now).unwrap(),
            br#"{"stream":"F","seq":1,"duplicate": true}"#
        );
        assert_eq!(
            b.capture("F", b"f.c", b"", b"4", ctx().now).unwrap(),
            br#"{"stream":"F","seq":4}"#
        );
    }

    #[test]
    fn the_stream_endpoints_answer_as_captured() {
        let mut a = Account::default();
        assert!(ask(&mut a, "INFO", "").starts_with(
            r#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,"#
        ));
        let c = ask(
            &mut a,
            "STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>"]}"#,
        );
        assert!(c.contains(r#""did_create":true"#), "{c}");
        assert!(c.contains(r#""state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0}"#), "{c}");
        assert_eq!(
            a.capture("S", b"s.a", b"", b"hello", 5).unwrap(),
            br#"{"stream":"S","seq":1}"#
        );
        let h = b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n";
        a.capture("S", b"s.b", h, b"x", 6).unwrap();
        assert_eq!(
            a.capture("S", b"s.b", h, b"x", 7).unwrap(),
            br#"{"stream":"S","seq":2,"duplicate": true}"#
        );
        assert_eq!(
            String::from_utf8(
                a.capture(
                    "S",
                    b"s.c",
                    b"NATS/1.0\r\nNats-Expected-Stream: P\r\n\r\n",
                    b"y",
                    8
                )
                .unwrap()
            )
            .unwrap(),
            r#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"S","seq":0}"#
        );
        assert_eq!(
            ask(&mut a, "STREAM.MSG.GET.S", r#"{"seq":2}"#),
            r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"s.b","seq":2,"hdrs":"TkFUUy8xLjANCk5hdHMtTXNnLUlkOiBtMQ0KDQo=","data":"eA==","time":"1970-01-01T00:00:00.000000006Z"}}"#
        );
        assert!(ask(&mut a, "STREAM.MSG.GET.S", "{}").contains("10003"));
        assert!(ask(&mut a, "STREAM.MSG.DELETE.S", r#"{"seq":1}"#).ends_with(r#""success":true}"#));
        assert!(ask(&mut a, "STREAM.MSG.DELETE.S", r#"{"seq":1}"#)
            .contains(r#""description":"no message found""#));
        assert!(ask(&mut a, "STREAM.MSG.DELETE.S", r#"{"seq":100}"#).contains("stream store EOF"));
        let i = ask(&mut a, "STREAM.INFO.S", r#"{"subjects_filter":">"}"#);
        assert!(i.contains(r#""total":1,"offset":0,"limit":100000,"#), "{i}");
        assert!(i.contains(r#""subjects":{"s.b":1}"#), "{i}");
        assert!(i.contains(r#""cluster":{"leader":"srv"}"#), "{i}");
        assert_eq!(
            ask(&mut a, "STREAM.PURGE.S", ""),
            r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":1}"#
        );
        assert_eq!(
            ask(&mut a, "STREAM.INFO.X", ""),
            r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0}"#
        );
        assert!(ask(
            &mut a,
            "STREAM.CREATE.S",
            r#"{"name":"S","subjects":["q.>"]}"#
        )
        .contains("10058"));
        assert!(ask(
            &mut a,
            "STREAM.CREATE.T",
            r#"{"name":"T","subjects":["s.x"]}"#
        )
        .contains("10065"));
        assert!(ask(&mut a, "STREAM.CREATE.T", r#"{"name":"U"}"#).contains("10056"));
        assert!(ask(&mut a, "STREAM.CREATE.T", "").contains("10056"));
        assert_eq!(
            ask(&mut a, "STREAM.NAMES", ""),
            r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":1,"offset":0,"limit":1024,"streams":["S"]}"#
        );
        assert!(ask(&mut a, "STREAM.DELETE.S", "x").contains("10038"));
        assert!(ask(&mut a, "STREAM.DELETE.S", "").ends_with(r#""success":true}"#));
        assert!(ask(&mut a, "STREAM.DELETE.S", "").contains("10059"));
        assert_eq!(
            ask(&mut a, "STREAM.NAMES", ""),
            r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":0,"offset":0,"limit":1024,"streams":null}"#
        );
        assert!(ask(&mut a, "STREAM.LIST", "").ends_with(r#""streams":[]}"#));
        assert!(a.request(&ctx(), "STREAM.BOGUS.S", b"").is_none());
        assert!(ask(&mut a, "CONSUMER.CREATE.S", "{}").contains("not supported"));
    }
}
