//! One stream: its configuration, its store, and what a publish into it
//! checks, in nats-server's order (spec/jetstream.md §2.3), and answers
//! (the PubAck, or the error with `"stream"` and `"seq":0` after it).
//! Limits are applied after each store, as nats-server's limits
//! retention does; `max_age` by [`Stream::expire`], which the runtime
//! calls on a timer.

use std::collections::VecDeque;

use ahash::AHashMap;
use bytes::Bytes;

use crate::config::{Discard, Retention, StreamConfig};
use crate::errors::ApiError;
use crate::headers;
use crate::store::{Store, StoredMsg};

/// A stream and its bookkeeping.
#[derive(Debug)]
pub struct Stream {
    pub cfg: StreamConfig,
    /// When it was created (ns since the epoch).
    pub created: i64,
    pub store: Store,
    /// `Nats-Msg-Id`s within the duplicate window: id → (seq, time), and
    /// the ids in the order they came (to forget the old ones).
    dedupe: AHashMap<String, (u64, i64)>,
    dedupe_order: VecDeque<(i64, String)>,
    /// The `Nats-Msg-Id` of the last stored message (empty: none).
    last_msg_id: String,
    /// Messages with a `Nats-TTL`: (when they expire, seq); `never` ones
    /// are in `never`, kept from `max_age` too.
    ttls: std::collections::BTreeSet<(i64, u64)>,
    never: ahash::AHashSet<u64>,
}

/// What a publish was answered.
#[derive(Debug, PartialEq, Eq)]
pub enum Ack {
    Stored { seq: u64 },
    Duplicate { seq: u64 },
}

impl Stream {
    pub fn new(cfg: StreamConfig, created: i64) -> Stream {
        let store = Store::new(cfg.storage, cfg.first_seq);
        Stream {
            cfg,
            created,
            store,
            dedupe: AHashMap::new(),
            dedupe_order: VecDeque::new(),
            last_msg_id: String::new(),
            ttls: Default::default(),
            never: Default::default(),
        }
    }

    /// Stores a message published on `subject` (with header block `hdr`
    /// and payload `data`) at time `now`, or says why not.
    pub fn publish(
        &mut self,
        subject: &[u8],
        hdr: &[u8],
        data: &[u8],
        now: i64,
    ) -> Result<Ack, ApiError> {
        self.publish_owned(
            Bytes::copy_from_slice(subject),
            Bytes::copy_from_slice(hdr),
            Bytes::copy_from_slice(data),
            now,
        )
    }

    /// [`Stream::publish`] of a message the caller already owns (stored
    /// without another copy).
    pub fn publish_owned(
        &mut self,
        subject_b: Bytes,
        hdr_b: Bytes,
        data_b: Bytes,
        now: i64,
    ) -> Result<Ack, ApiError> {
        let (subject, hdr, data) = (&subject_b[..], &hdr_b[..], &data_b[..]);
        if self.cfg.sealed {
            return Err(ApiError::sealed());
        }
        if let Some(name) = headers::get(hdr, headers::EXPECTED_STREAM) {
            if name != self.cfg.name.as_bytes() {
                return Err(ApiError::expected_stream());
            }
        }
        let ttl = headers::get(hdr, headers::TTL);
        if ttl.is_some() && !self.cfg.allow_msg_ttl {
            return Err(ApiError::ttl_disabled());
        }
        if let Some(v) = headers::get(hdr, headers::EXPECTED_LAST_SUBJ_SEQ) {
            let on = headers::get(hdr, headers::EXPECTED_LAST_SUBJ_SEQ_SUBJ).unwrap_or(subject);
            let last = self.store.last_by_subject(on).unwrap_or(0);
            if parse_u64(v) != Some(last) {
                return Err(ApiError::wrong_last_seq(last));
            }
        } else if headers::get(hdr, headers::EXPECTED_LAST_SUBJ_SEQ_SUBJ).is_some() {
            return Err(ApiError::missing_subject_seq());
        }
        if let Some(v) = headers::get(hdr, headers::EXPECTED_LAST_SEQ) {
            let last = self.store.last_seq();
            if parse_u64(v) != Some(last) {
                return Err(ApiError::wrong_last_seq(last));
            }
        }
        self.forget_ids(now);
        let msg_id = headers::text(hdr, headers::MSG_ID).filter(|s| !s.is_empty());
        if let Some(id) = &msg_id {
            if let Some((seq, _)) = self.dedupe.get(id) {
                return Ok(Ack::Duplicate { seq: *seq });
            }
        }
        if let Some(want) = headers::text(hdr, headers::EXPECTED_LAST_MSG_ID) {
            if want != self.last_msg_id {
                return Err(ApiError::wrong_last_msg_id(&self.last_msg_id));
            }
        }
        let rollup = match headers::get(hdr, headers::ROLLUP) {
            None => None,
            Some(_) if !self.cfg.allow_rollup_hdrs => {
                return Err(ApiError::rollup("rollup not permitted"));
            }
            Some(b"sub") => Some(false),
            Some(b"all") => Some(true),
            Some(v) => {
                return Err(ApiError::rollup(format!(
                    "rollup value invalid: {:?}",
                    String::from_utf8_lossy(v)
                )));
            }
        };
        if self.cfg.max_msg_size >= 0 && (hdr.len() + data.len()) as i64 > self.cfg.max_msg_size {
            return Err(ApiError::msg_too_big());
        }
        if hdr.len() > 65535 {
            return Err(ApiError::header_too_big());
        }
        let ttl = match ttl {
            Some(v) => Some(parse_ttl(v).ok_or_else(ApiError::ttl_invalid)?),
            None => None,
        };
        if self.cfg.retention == Retention::Interest {
            // No consumer yet has interest: acknowledged, not kept.
            let seq = self.store.last_seq() + 1;
            self.store.purge(None, seq + 1, 0);
            return Ok(Ack::Stored { seq });
        }
        self.refuse_if_full(subject, hdr.len(), data.len())?;
        let seq = self.store.append(StoredMsg {
            subject: subject_b.clone(),
            hdr: hdr_b.clone(),
            data: data_b.clone(),
            ts: now,
        });
        match rollup {
            Some(true) => {
                self.store.purge(None, seq, 0);
            }
            Some(false) => {
                self.store.purge(Some(subject), seq, 0);
            }
            None => {}
        }
        self.note_ttl(seq, now, ttl);
        self.enforce_limits(subject);
        self.last_msg_id = msg_id.clone().unwrap_or_default();
        if let Some(id) = msg_id {
            self.dedupe.insert(id.clone(), (seq, now));
            self.dedupe_order.push_back((now, id));
        }
        Ok(Ack::Stored { seq })
    }

    /// `discard: new`: a message that would go past a limit is refused.
    fn refuse_if_full(&self, subject: &[u8], hdr: usize, data: usize) -> Result<(), ApiError> {
        if self.cfg.discard != Discard::New {
            return Ok(());
        }
        let c = &self.cfg;
        if c.max_msgs > 0 && self.store.msgs() as i64 >= c.max_msgs {
            return Err(ApiError::store_refused("maximum messages exceeded"));
        }
        let size = Store::record_size(c.storage, subject.len(), hdr, data);
        if c.max_bytes > 0 && (self.store.bytes() + size) as i64 > c.max_bytes {
            return Err(ApiError::store_refused("maximum bytes exceeded"));
        }
        if c.discard_new_per_subject
            && c.max_msgs_per_subject > 0
            && self.store.subject_count(subject) as i64 >= c.max_msgs_per_subject
        {
            return Err(ApiError::store_refused(
                "maximum messages per subject exceeded",
            ));
        }
        Ok(())
    }

    /// `discard: old` limits after a store: the oldest messages go.
    fn enforce_limits(&mut self, subject: &[u8]) {
        let c = &self.cfg;
        if c.max_msgs_per_subject > 0 {
            while self.store.subject_count(subject) as i64 > c.max_msgs_per_subject {
                let Some(first) = self.store.next_by_subject(subject, 0) else {
                    break;
                };
                self.store.remove(first);
            }
        }
        while c.max_msgs > 0 && self.store.msgs() as i64 > c.max_msgs {
            let Some((s, _)) = self.store.oldest() else {
                break;
            };
            self.store.remove(s);
        }
        while c.max_bytes > 0 && self.store.bytes() as i64 > c.max_bytes {
            let Some((s, _)) = self.store.oldest() else {
                break;
            };
            self.store.remove(s);
        }
    }

    /// After a restore: the message ids within the duplicate window at
    /// `now` and the last message's id, from the stored headers (as
    /// nats-server rebuilds them).
    pub fn rebuild_ids(&mut self, now: i64) {
        self.dedupe.clear();
        self.dedupe_order.clear();
        let mut last = String::new();
        let mut ttls = Vec::new();
        for (seq, m) in self.store.iter() {
            if let Some(d) = headers::get(&m.hdr, headers::TTL).and_then(parse_ttl) {
                ttls.push((seq, m.ts, d));
            }
            let id = headers::text(&m.hdr, headers::MSG_ID).unwrap_or_default();
            if !id.is_empty() && now - m.ts < self.cfg.duplicate_window {
                self.dedupe.insert(id.clone(), (seq, m.ts));
                self.dedupe_order.push_back((m.ts, id.clone()));
            }
            last = id;
        }
        self.last_msg_id = last;
        for (seq, ts, d) in ttls {
            self.note_ttl(seq, ts, Some(d));
        }
    }

    /// Removes the messages older than `max_age` at `now`; how many.
    pub fn expire(&mut self, now: i64) -> u64 {
        self.forget_ids(now);
        let mut n = 0;
        // Per-message TTLs (ADR-43).
        while let Some(&(at, seq)) = self.ttls.first() {
            if at > now {
                break;
            }
            self.ttls.pop_first();
            n += u64::from(self.store.remove(seq));
        }
        if self.cfg.max_age <= 0 {
            return n;
        }
        let doomed: Vec<u64> = self
            .store
            .iter()
            .take_while(|(_, m)| now - m.ts >= self.cfg.max_age)
            .map(|(s, _)| s)
            .filter(|s| !self.never.contains(s))
            .collect();
        for s in doomed {
            self.store.remove(s);
            n += 1;
        }
        n
    }

    /// Keeps message `seq`'s TTL (`never`: `i64::MAX`), if it has one.
    fn note_ttl(&mut self, seq: u64, ts: i64, ttl: Option<i64>) {
        match ttl {
            Some(i64::MAX) => {
                self.never.insert(seq);
            }
            Some(d) => {
                self.ttls.insert((ts.saturating_add(d), seq));
            }
            None => {}
        }
    }

    /// Forgets message ids older than the duplicate window.
    fn forget_ids(&mut self, now: i64) {
        while let Some((ts, _)) = self.dedupe_order.front() {
            if now - ts < self.cfg.duplicate_window {
                break;
            }
            let (_, id) = self.dedupe_order.pop_front().expect("front exists");
            self.dedupe.remove(&id);
        }
    }
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// A `Nats-TTL` value: whole seconds, a Go duration, or `never`; at least
/// one second. Nanoseconds (`i64::MAX` for never).
pub fn parse_ttl(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?.trim();
    if s == "never" {
        return Some(i64::MAX);
    }
    let ns = match s.parse::<i64>() {
        Ok(secs) => secs.checked_mul(1_000_000_000)?,
        Err(_) => go_duration(s)?,
    };
    (ns >= 1_000_000_000).then_some(ns)
}

/// Go's `time.ParseDuration` for the units it knows.
fn go_duration(s: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(json: &str) -> Stream {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let cfg = StreamConfig::from_json(v.as_object().unwrap(), &[])
            .unwrap()
            .checked()
            .unwrap();
        Stream::new(cfg, 1)
    }

    #[test]
    fn dedupe_and_expectations_as_captured() {
        let mut s = stream(r#"{"name":"S","subjects":["s.>"]}"#);
        assert_eq!(
            s.publish(b"s.a", b"", b"hello", 10),
            Ok(Ack::Stored { seq: 1 })
        );
        let id = b"NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n";
        assert_eq!(s.publish(b"s.b", id, b"x", 11), Ok(Ack::Stored { seq: 2 }));
        assert_eq!(
            s.publish(b"s.b", id, b"x", 12),
            Ok(Ack::Duplicate { seq: 2 })
        );
        let mut e = |h: &str| s_err(&mut s, h);
        assert_eq!(
            e("Nats-Expected-Stream: P"),
            "expected stream does not match"
        );
        assert_eq!(
            e("Nats-Expected-Last-Sequence: 9"),
            "wrong last sequence: 2"
        );
        assert_eq!(
            e("Nats-Expected-Last-Subject-Sequence: 9"),
            "wrong last sequence: 0"
        );
        assert_eq!(e("Nats-Expected-Last-Msg-Id: zz"), "wrong last msg ID: m1");
        assert_eq!(e("Nats-Rollup: sub"), "rollup not permitted");
    }

    fn s_err(s: &mut Stream, h: &str) -> String {
        let hdr = format!("NATS/1.0\r\n{h}\r\n\r\n");
        s.publish(b"s.c", hdr.as_bytes(), b"y", 20)
            .unwrap_err()
            .description
    }

    #[test]
    fn limits_old_and_new() {
        let mut s =
            stream(r#"{"name":"L","max_msgs":2,"max_msgs_per_subject":1,"subjects":["l.*"]}"#);
        s.publish(b"l.a", b"", b"1", 1).unwrap();
        s.publish(b"l.a", b"", b"2", 2).unwrap();
        assert_eq!(s.store.msgs(), 1);
        s.publish(b"l.b", b"", b"3", 3).unwrap();
        s.publish(b"l.c", b"", b"4", 4).unwrap();
        assert_eq!((s.store.msgs(), s.store.first_seq()), (2, 3));
        let mut n = stream(r#"{"name":"N","max_msgs":1,"discard":"new"}"#);
        n.publish(b"N", b"", b"1", 1).unwrap();
        assert_eq!(n.publish(b"N", b"", b"2", 2).unwrap_err().err_code, 10077);
        let mut a = stream(r#"{"name":"A","max_age":1000000000}"#);
        a.publish(b"A", b"", b"1", 0).unwrap();
        a.publish(b"A", b"", b"2", 600_000_000).unwrap();
        assert_eq!(a.expire(1_100_000_000), 1);
        assert_eq!(a.store.msgs(), 1);
    }

    #[test]
    fn rollups_and_ttls() {
        let mut s = stream(r#"{"name":"R","subjects":["r.*"],"allow_rollup_hdrs":true}"#);
        s.publish(b"r.a", b"", b"1", 1).unwrap();
        s.publish(b"r.b", b"", b"2", 2).unwrap();
        s.publish(b"r.a", b"NATS/1.0\r\nNats-Rollup: sub\r\n\r\n", b"3", 3)
            .unwrap();
        assert_eq!(s.store.msgs(), 2);
        s.publish(b"r.c", b"NATS/1.0\r\nNats-Rollup: all\r\n\r\n", b"4", 4)
            .unwrap();
        assert_eq!(s.store.msgs(), 1);
        assert_eq!(parse_ttl(b"2"), Some(2_000_000_000));
        assert_eq!(parse_ttl(b"1h"), Some(3_600_000_000_000));
        assert_eq!(parse_ttl(b"500ms"), None);
        assert_eq!(parse_ttl(b"never"), Some(i64::MAX));
        // A TTL expires its message, `never` keeps it past `max_age`.
        let mut t = stream(r#"{"name":"T","allow_msg_ttl":true,"max_age":10000000000}"#);
        let h = |v: &str| format!("NATS/1.0\r\nNats-TTL: {v}\r\n\r\n");
        t.publish(b"T", h("2").as_bytes(), b"a", 0).unwrap();
        t.publish(b"T", h("never").as_bytes(), b"b", 0).unwrap();
        t.publish(b"T", b"", b"c", 0).unwrap();
        assert_eq!(t.expire(1_900_000_000), 0);
        assert_eq!(t.expire(2_000_000_000), 1);
        assert_eq!(t.expire(10_000_000_000), 1);
        assert_eq!(t.store.msgs(), 1);
        assert_eq!(t.store.get(2).map(|m| &m.data[..]), Some(&b"b"[..]));
        assert_eq!(
            t.publish(b"T", h("500ms").as_bytes(), b"x", 0)
                .unwrap_err()
                .err_code,
            10165
        );
    }
}
