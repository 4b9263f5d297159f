//! A stream's configuration (nats-server's `StreamConfig`): read from a
//! request's JSON strictly (unknown keys, wrong types and unknown enum
//! values refused in Go's words), completed with the server's defaults and
//! checked as `checkStreamCfg` does, and written back in nats-server's key
//! order. Features Shoal does not have (mirrors, sources, transforms,
//! republish, counters, batches, schedules) are refused by name.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::errors::ApiError;

pub const NANOS_PER_MS: i64 = 1_000_000;
/// nats-server's `StreamDefaultDuplicatesWindow`: two minutes.
pub const DEFAULT_DUPLICATES: i64 = 120_000 * NANOS_PER_MS;
/// `JSMaxNameLen`, `JSMaxDescriptionLen`, `JSMaxMetadataLen`.
const MAX_NAME: usize = 255;
const MAX_DESCRIPTION: usize = 4096;
const MAX_METADATA: usize = 128 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    Workqueue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    #[default]
    Old,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    S2,
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}
fn is_zero_u(n: &u64) -> bool {
    *n == 0
}

/// `consumer_limits`: defaults and caps for the stream's consumers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ConsumerLimits {
    #[serde(skip_serializing_if = "is_zero")]
    pub inactive_threshold: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
}

/// A stream's configuration, keys in nats-server's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct StreamConfig {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    pub retention: Retention,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i64,
    pub discard: Discard,
    pub storage: Storage,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicate_window: i64,
    pub compression: Compression,
    #[serde(skip_serializing_if = "is_zero_u")]
    pub first_seq: u64,
    pub allow_direct: bool,
    pub mirror_direct: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub allow_rollup_hdrs: bool,
    pub consumer_limits: ConsumerLimits,
    pub allow_msg_ttl: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub subject_delete_marker_ttl: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// The keys a stream configuration may have, and those Shoal refuses by
/// name (features it lacks).
const KEYS: &[&str] = &[
    "name",
    "description",
    "subjects",
    "retention",
    "max_consumers",
    "max_msgs",
    "max_bytes",
    "max_age",
    "max_msgs_per_subject",
    "max_msg_size",
    "discard",
    "storage",
    "num_replicas",
    "no_ack",
    "duplicate_window",
    "compression",
    "first_seq",
    "allow_direct",
    "mirror_direct",
    "discard_new_per_subject",
    "sealed",
    "deny_delete",
    "deny_purge",
    "allow_rollup_hdrs",
    "consumer_limits",
    "allow_msg_ttl",
    "subject_delete_marker_ttl",
    "metadata",
    "template_owner",
];
const NOT_YET: &[&str] = &[
    "subject_transform",
    "republish",
    "mirror",
    "sources",
    "placement",
    "allow_msg_counter",
    "allow_atomic",
    "allow_msg_schedules",
    "persist_mode",
    "allow_batched",
];

/// A field's value read as Go's decoder would, or its error text.
struct Reader<'a> {
    map: &'a Map<String, Value>,
}

impl Reader<'_> {
    fn mismatch(key: &str, v: &Value, go: &str) -> ApiError {
        ApiError::invalid_json(format!(
            "json: cannot unmarshal {} into Go struct field StreamConfig.{key} of type {go}",
            crate::json::go_type(v)
        ))
    }

    fn int(&self, key: &str) -> Result<i64, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(v @ Value::Number(n)) => n.as_i64().ok_or_else(|| Self::mismatch(key, v, "int64")),
            Some(v) => Err(Self::mismatch(key, v, "int64")),
        }
    }

    fn uint(&self, key: &str) -> Result<u64, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(v @ Value::Number(n)) => {
                n.as_u64().ok_or_else(|| Self::mismatch(key, v, "uint64"))
            }
            Some(v) => Err(Self::mismatch(key, v, "uint64")),
        }
    }

    fn boolean(&self, key: &str) -> Result<bool, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(Self::mismatch(key, v, "bool")),
        }
    }

    fn string(&self, key: &str) -> Result<String, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(Self::mismatch(key, v, "string")),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(Self::mismatch(key, v, "string")),
                })
                .collect(),
            Some(v) => Err(Self::mismatch(key, v, "[]string")),
        }
    }

    /// An enum by its JSON names (`""` or absent: the default).
    fn choice<T: Copy + Default>(&self, key: &str, names: &[(&str, T)]) -> Result<T, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(T::default()),
            Some(Value::String(s)) => names
                .iter()
                .find(|(n, _)| n == s)
                .map(|(_, t)| *t)
                .ok_or_else(|| {
                    ApiError::invalid_json(format!(
                        "can not unmarshal {}",
                        serde_json::to_string(&format!("\"{s}\"")).unwrap_or_default()
                    ))
                }),
            Some(v) => Err(Self::mismatch(key, v, "string")),
        }
    }
}

/// `null`, `false`, `""`, `[]`, `{}` or 0: a feature left off.
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

/// Refuses keys that are not `allowed` (Go's strict decoding), and the
/// ones of features Shoal lacks by name.
pub fn check_keys(map: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    for (k, v) in map {
        if NOT_YET.contains(&k.as_str()) && !is_empty_value(v) {
            return Err(ApiError::not_yet(&format!("stream {k}")));
        }
        if !allowed.contains(&k.as_str()) && !KEYS.contains(&k.as_str()) {
            return Err(ApiError::invalid_json(format!(
                "json: unknown field {}",
                serde_json::to_string(k).unwrap_or_default()
            )));
        }
    }
    Ok(())
}

impl StreamConfig {
    /// Reads a configuration from a request's object (`extra`: other keys
    /// the request may carry, such as `pedantic`).
    pub fn from_json(map: &Map<String, Value>, extra: &[&str]) -> Result<StreamConfig, ApiError> {
        check_keys(map, extra)?;
        let r = Reader { map };
        let limits = match map.get("consumer_limits") {
            None | Some(Value::Null) => ConsumerLimits::default(),
            Some(Value::Object(m)) => {
                let r = Reader { map: m };
                for k in m.keys() {
                    if k != "inactive_threshold" && k != "max_ack_pending" {
                        return Err(ApiError::invalid_json(format!("json: unknown field {k:?}")));
                    }
                }
                ConsumerLimits {
                    inactive_threshold: r.int("inactive_threshold")?,
                    max_ack_pending: r.int("max_ack_pending")?,
                }
            }
            Some(v) => {
                return Err(Reader::mismatch(
                    "consumer_limits",
                    v,
                    "server.StreamConsumerLimits",
                ))
            }
        };
        let metadata = match map.get("metadata") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    v => Err(Reader::mismatch("metadata", v, "string")),
                })
                .collect::<Result<_, _>>()?,
            Some(v) => return Err(Reader::mismatch("metadata", v, "map[string]string")),
        };
        Ok(StreamConfig {
            name: r.string("name")?,
            description: r.string("description")?,
            subjects: r.strings("subjects")?,
            retention: r.choice(
                "retention",
                &[
                    ("limits", Retention::Limits),
                    ("interest", Retention::Interest),
                    ("workqueue", Retention::Workqueue),
                ],
            )?,
            max_consumers: r.int("max_consumers")?,
            max_msgs: r.int("max_msgs")?,
            max_bytes: r.int("max_bytes")?,
            max_age: r.int("max_age")?,
            max_msgs_per_subject: r.int("max_msgs_per_subject")?,
            max_msg_size: r.int("max_msg_size")?,
            discard: r.choice("discard", &[("old", Discard::Old), ("new", Discard::New)])?,
            storage: r.choice(
                "storage",
                &[("file", Storage::File), ("memory", Storage::Memory)],
            )?,
            num_replicas: r.int("num_replicas")?,
            no_ack: r.boolean("no_ack")?,
            duplicate_window: r.int("duplicate_window")?,
            compression: r.choice(
                "compression",
                &[("none", Compression::None), ("s2", Compression::S2)],
            )?,
            first_seq: r.uint("first_seq")?,
            allow_direct: r.boolean("allow_direct")?,
            mirror_direct: r.boolean("mirror_direct")?,
            discard_new_per_subject: r.boolean("discard_new_per_subject")?,
            sealed: r.boolean("sealed")?,
            deny_delete: r.boolean("deny_delete")?,
            deny_purge: r.boolean("deny_purge")?,
            allow_rollup_hdrs: r.boolean("allow_rollup_hdrs")?,
            consumer_limits: limits,
            allow_msg_ttl: r.boolean("allow_msg_ttl")?,
            subject_delete_marker_ttl: r.int("subject_delete_marker_ttl")?,
            metadata,
        })
    }

    /// nats-server's `checkStreamCfg` on a single server: the defaults
    /// filled in, or the first thing wrong.
    pub fn checked(&self) -> Result<StreamConfig, ApiError> {
        let mut c = self.clone();
        if !valid_name(&c.name) {
            return Err(ApiError::invalid_config(
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if c.name.len() > MAX_NAME {
            return Err(ApiError::invalid_config(format!(
                "stream name is too long, maximum allowed is {MAX_NAME}"
            )));
        }
        if c.description.len() > MAX_DESCRIPTION {
            return Err(ApiError::invalid_config(format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION}"
            )));
        }
        let meta: usize = c.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if meta > MAX_METADATA {
            return Err(ApiError::invalid_config(format!(
                "stream metadata exceeds maximum size of {MAX_METADATA} bytes"
            )));
        }
        if c.num_replicas == 0 {
            c.num_replicas = 1;
        }
        if c.num_replicas > 5 {
            return Err(ApiError::invalid_config("maximum replicas is 5"));
        }
        if c.num_replicas < 0 {
            return Err(ApiError::new(
                400,
                10194,
                "replicas count cannot be negative",
            ));
        }
        for v in [
            &mut c.max_msgs,
            &mut c.max_msgs_per_subject,
            &mut c.max_bytes,
            &mut c.max_msg_size,
            &mut c.max_consumers,
        ] {
            if *v == 0 || *v < -1 {
                *v = -1;
            }
        }
        if c.max_age < 0 {
            return Err(ApiError::invalid_config("max age can not be negative"));
        }
        if c.max_age != 0 && c.max_age < 100 * NANOS_PER_MS {
            return Err(ApiError::invalid_config("max age needs to be >= 100ms"));
        }
        if c.duplicate_window == 0 {
            c.duplicate_window = if c.max_age != 0 && c.max_age < DEFAULT_DUPLICATES {
                c.max_age
            } else {
                DEFAULT_DUPLICATES
            };
        }
        if c.duplicate_window < 0 {
            return Err(ApiError::invalid_config(
                "duplicates window can not be negative",
            ));
        }
        if c.max_age != 0 && c.duplicate_window > c.max_age {
            return Err(ApiError::invalid_config(
                "duplicates window can not be larger then max age",
            ));
        }
        if c.duplicate_window > 0 && c.duplicate_window < 100 * NANOS_PER_MS {
            return Err(ApiError::invalid_config(
                "duplicates window needs to be >= 100ms",
            ));
        }
        if c.deny_purge && c.allow_rollup_hdrs {
            return Err(ApiError::invalid_config(
                "roll-ups require the purge permission",
            ));
        }
        if c.discard_new_per_subject {
            if c.discard != Discard::New {
                return Err(ApiError::invalid_config(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if c.max_msgs_per_subject <= 0 {
                return Err(ApiError::invalid_config(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        if c.subject_delete_marker_ttl > 0 {
            if c.subject_delete_marker_ttl < 1000 * NANOS_PER_MS {
                return Err(ApiError::invalid_config(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            // Not pedantic: markers turn on TTLs and roll-ups.
            c.allow_msg_ttl = true;
            c.allow_rollup_hdrs = true;
        } else if c.subject_delete_marker_ttl < 0 {
            return Err(ApiError::invalid_config(
                "subject delete marker TTL must not be negative",
            ));
        }
        if c.subjects.is_empty() {
            c.subjects.push(c.name.clone());
        } else {
            let mut seen: Vec<&str> = Vec::new();
            for (i, s) in c.subjects.iter().enumerate() {
                if !shoal_subject::is_valid_subscribe_subject(s.as_bytes()) {
                    return Err(ApiError::invalid_config("invalid subject"));
                }
                if seen.contains(&s.as_str()) {
                    return Err(ApiError::invalid_config("duplicate subjects detected"));
                }
                if s == ">" && !c.no_ack {
                    return Err(ApiError::invalid_config(
                        "capturing all subjects requires no-ack to be true",
                    ));
                }
                if !c.no_ack {
                    for ns in ["$JS.>", "$JSC.>", "$NRG.>"] {
                        if shoal_subject::subjects_collide(s.as_bytes(), ns.as_bytes())
                            && !shoal_subject::subject_matches(b"$JS.EVENT.>", s.as_bytes())
                        {
                            return Err(ApiError::invalid_config(
                                "subjects that overlap with jetstream api require no-ack to be true",
                            ));
                        }
                    }
                    if shoal_subject::subjects_collide(s.as_bytes(), b"$SYS.>")
                        && !shoal_subject::subject_matches(b"$SYS.ACCOUNT.>", s.as_bytes())
                    {
                        return Err(ApiError::invalid_config(
                            "subjects that overlap with system api require no-ack to be true",
                        ));
                    }
                }
                for t in &c.subjects[i + 1..] {
                    if shoal_subject::subjects_collide(t.as_bytes(), s.as_bytes()) {
                        return Err(ApiError::invalid_config(format!(
                            "subject {s:?} overlaps with {t:?}"
                        )));
                    }
                }
                seen.push(s);
            }
        }
        if c.num_replicas > 1 {
            return Err(ApiError::replicas());
        }
        // Delete markers are not placed yet: refused by name.
        if c.subject_delete_marker_ttl > 0 {
            return Err(ApiError::not_yet("stream subject_delete_marker_ttl"));
        }
        // The API level the configuration needs (jetstream_versioning.go).
        let level = if c.allow_msg_ttl || c.subject_delete_marker_ttl > 0 {
            "1"
        } else {
            "0"
        };
        c.metadata.insert("_nats.req.level".into(), level.into());
        c.metadata.remove("_nats.ver");
        c.metadata.remove("_nats.level");
        Ok(c)
    }

    /// The configuration with the server's version keys, as create,
    /// update and info responses show it.
    pub fn with_versions(&self) -> StreamConfig {
        let mut c = self.clone();
        c.metadata
            .insert("_nats.level".into(), crate::API_LEVEL.to_string());
        c.metadata.insert("_nats.ver".into(), crate::VERSION.into());
        c
    }

    /// What an update from `self` to `new` may not change
    /// (`checkStreamCfg`'s update rules), as nats-server words it.
    pub fn update_refused(&self, new: &StreamConfig) -> Option<ApiError> {
        let no = |what: &str| {
            Some(ApiError::invalid_config(format!(
                "stream configuration update can not change {what}"
            )))
        };
        if self.storage != new.storage {
            return no("storage type");
        }
        if self.retention != new.retention
            && (self.retention == Retention::Workqueue || new.retention == Retention::Workqueue)
        {
            return no("retention policy to/from workqueue");
        }
        if self.deny_purge && !new.deny_purge {
            return Some(ApiError::invalid_config(
                "stream configuration update can not cancel deny purge",
            ));
        }
        if self.deny_delete && !new.deny_delete {
            return Some(ApiError::invalid_config(
                "stream configuration update can not cancel deny message deletes",
            ));
        }
        if self.sealed && !new.sealed {
            return Some(ApiError::invalid_config(
                "stream configuration update can not unseal a sealed stream",
            ));
        }
        if self.allow_msg_ttl && !new.allow_msg_ttl {
            return Some(ApiError::invalid_config(
                "message TTL status can not be disabled",
            ));
        }
        None
    }
}

/// nats-server's `isValidAssetName`: not empty, none of ` \t\r\n\f.*>\/`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.bytes().any(|b| {
            matches!(
                b,
                b' ' | b'\t' | b'\r' | b'\n' | 0x0c | b'.' | b'*' | b'>' | b'\\' | b'/'
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<StreamConfig, ApiError> {
        let v: Value = serde_json::from_str(json).unwrap();
        StreamConfig::from_json(v.as_object().unwrap(), &[])?.checked()
    }

    #[test]
    fn defaults_as_nats_server_fills_them() {
        let c = parse(r#"{"name":"S","subjects":["s.>"]}"#)
            .unwrap()
            .with_versions();
        assert_eq!(
            String::from_utf8(crate::json::to_go(&c)).unwrap(),
            r#"{"name":"S","subjects":["s.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.1"}}"#
        );
        let m = parse(r#"{"name":"M","storage":"memory","max_age":5000000000}"#).unwrap();
        assert_eq!(
            (m.subjects, m.duplicate_window),
            (vec!["M".to_string()], 5_000_000_000)
        );
    }

    #[test]
    fn refusals_in_nats_servers_words() {
        let e = |j: &str| parse(j).unwrap_err().description;
        assert_eq!(
            e(r#"{"name":"T","bogus":1}"#),
            "invalid JSON: json: unknown field \"bogus\""
        );
        assert_eq!(
            e(r#"{"name":"T","retention":"bogus"}"#),
            r#"invalid JSON: can not unmarshal "\"bogus\"""#
        );
        assert_eq!(
            e(r#"{"name":"T","max_age":5}"#),
            "max age needs to be >= 100ms"
        );
        assert_eq!(
            e(r#"{"name":"a.b"}"#),
            "stream name is required and can not contain '.', '*', '>', '\\', '/'"
        );
        assert_eq!(
            e(r#"{"name":"T","subjects":["foo.*.>","foo.bar.>"]}"#),
            "subject \"foo.*.>\" overlaps with \"foo.bar.>\""
        );
        assert_eq!(
            parse(r#"{"name":"T","num_replicas":3}"#)
                .unwrap_err()
                .err_code,
            10074
        );
        assert!(e(r#"{"name":"T","subject_delete_marker_ttl":5000000000}"#)
            .contains("subject_delete_marker_ttl is not supported by this version of shoal"));
        assert!(parse(r#"{"name":"T","allow_msg_ttl":true}"#).is_ok());
        assert_eq!(
            e(r#"{"name":"T","mirror":{"name":"X"}}"#),
            "stream mirror is not supported by this version of shoal yet"
        );
        assert_eq!(e(r#"{"name":"T","max_msgs":"x"}"#), "invalid JSON: json: cannot unmarshal string into Go struct field StreamConfig.max_msgs of type int64");
    }
}
