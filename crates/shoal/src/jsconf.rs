//! The `jetstream` key (`jetstream: enabled`, `true`, or a block) and the
//! `-js`/`--store_dir` flags → the runtime's [`shoal_server::JetStream`],
//! as nats-server's `parseJetStream` reads them.
//!
//! In the block, `store_dir` (aliases `store`, `storedir`) and `enabled`
//! are read; the limits and tunables Shoal does not enforce yet
//! (`max_memory_store`, `max_file_store`, `domain`, `sync_interval`, …) are
//! refused by name, never ignored.

use shoal_conf::{Kind, Value};

use crate::report::Report;

/// What the file says about JetStream.
#[derive(Debug, Clone, Default)]
pub struct JsSettings {
    pub enabled: bool,
    pub store_dir: Option<String>,
}

/// `jetstream: …`.
pub fn jetstream(v: &Value, report: &mut Report) -> Option<JsSettings> {
    match &v.kind {
        Kind::Bool(b) => Some(JsSettings {
            enabled: *b,
            store_dir: None,
        }),
        Kind::String(t) => match t.to_ascii_lowercase().as_str() {
            "enabled" | "enable" | "true" | "on" | "yes" => Some(JsSettings {
                enabled: true,
                store_dir: None,
            }),
            "disabled" | "disable" | "false" | "off" | "no" => Some(JsSettings::default()),
            _ => {
                report.error(
                    &v.pos,
                    format!("Expected 'enabled' or 'disabled' for string value, got '{t}'"),
                );
                None
            }
        },
        Kind::Map(m) => {
            let mut s = JsSettings {
                enabled: true,
                store_dir: None,
            };
            for (k, x) in m.iter() {
                match k.to_ascii_lowercase().as_str() {
                    "store_dir" | "store" | "storedir" => match &x.kind {
                        Kind::String(d) => s.store_dir = Some(d.clone()),
                        _ => report.error(&x.pos, "Expected store_dir to be a string"),
                    },
                    "enabled" | "enable" => match &x.kind {
                        Kind::Bool(b) => s.enabled = *b,
                        _ => report.error(&x.pos, "Expected enabled to be a boolean"),
                    },
                    "max_memory_store"
                    | "max_mem_store"
                    | "max_mem"
                    | "max_file_store"
                    | "max_file"
                    | "domain"
                    | "sync_interval"
                    | "sync"
                    | "strict"
                    | "limits"
                    | "unique_tag"
                    | "max_outstanding_catchup"
                    | "max_buffered_size"
                    | "max_buffered_msgs"
                    | "request_queue_limit"
                    | "key"
                    | "ek"
                    | "encryption_key"
                    | "prev_key"
                    | "prev_ek"
                    | "prev_encryption_key"
                    | "cipher"
                    | "extension_hint"
                    | "max_catchup" => {
                        report.not_yet(&format!("jetstream {k}"), &x.pos);
                    }
                    _ if x.used_as_variable => {}
                    _ => report.error(&x.pos, format!("unknown field {k:?}")),
                }
            }
            Some(s)
        }
        _ => {
            report.error(&v.pos, "Expected map, bool or string to define JetStream");
            None
        }
    }
}
