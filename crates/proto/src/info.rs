//! The JSON bodies of INFO (server → client) and CONNECT (client → server).
//!
//! `ServerInfo` serialises with nats-server's key order and its "omit when empty"
//! rules, so the INFO line is byte-compatible apart from values. `ConnectOptions`
//! is decoded onto the connection's current options: absent keys keep their value,
//! a wrongly typed value is an error (nats-server closes silently).

use serde::{Deserialize, Serialize};

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// INFO's fields, in the order nats-server emits them. Fields Shoal has no feature
/// for yet (cluster, JetStream's `api_lvl`, the auth-callout `xkey`) are
/// omitted, as nats-server omits them when the feature is off.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    /// The client must start TLS right after this INFO (or did, first).
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// A client certificate is required.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// TLS is optional (`allow_non_tls`).
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    pub max_payload: u64,
    /// JetStream is on.
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// The challenge nkey users sign (per connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The cluster name (omitted when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_account: Option<String>,
    /// JetStream's API level (with JetStream on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_lvl: Option<u32>,
}

impl ServerInfo {
    /// The whole line: `INFO {json} \r\n` (nats-server puts a space before CRLF).
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = b"INFO ".to_vec();
        serde_json::to_writer(&mut v, self).expect("INFO serialises");
        v.extend_from_slice(b" \r\n");
        v
    }
}

/// CONNECT's fields. Every field is optional: absent means "unchanged".
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ConnectOptions {
    pub verbose: Option<bool>,
    pub pedantic: Option<bool>,
    pub tls_required: Option<bool>,
    pub auth_token: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub protocol: Option<i64>,
    pub echo: Option<bool>,
    pub headers: Option<bool>,
    pub no_responders: Option<bool>,
    pub account: Option<String>,
    pub new_account: Option<bool>,
}

impl ConnectOptions {
    /// Decodes CONNECT's JSON as Go's `json.Unmarshal` into nats-server's options
    /// does: `None` for invalid JSON, a value other than an object or `null`, or a
    /// mistyped field. `null` leaves everything unchanged; a repeated key's last
    /// value wins; invalid UTF-8 inside strings becomes U+FFFD (outside them it is
    /// a syntax error either way). Keys match case-insensitively, as Go's
    /// `encoding/json` matches them (`{"USER":"a"}` sets `user`).
    pub fn parse(json: &[u8]) -> Option<ConnectOptions> {
        // Going through a `Value` refuses what the derived deserialiser would
        // take but Go refuses (an array of the fields in order) and takes the
        // repeated keys it would refuse.
        let text = String::from_utf8_lossy(json);
        match serde_json::from_str::<Ordered>(&text).ok()? {
            Ordered::Null => Some(ConnectOptions::default()),
            Ordered::Object(pairs) => {
                // Every field name is lower-case ASCII: a key folded to lower
                // case names the field Go would match, and a later key
                // overwrites an earlier one, as Go assigns them in order.
                // A null leaves a Go value field as it was (the default, or
                // what an earlier key set): `{"user":"a","USER":null}` is "a".
                let mut folded = serde_json::Map::new();
                for (k, v) in pairs {
                    if !v.is_null() {
                        folded.insert(fold(&k), v);
                    }
                }
                ConnectOptions::deserialize(serde_json::Value::Object(folded)).ok()
            }
            Ordered::Other => None,
        }
    }
}

/// A JSON document's top level with an object's keys in document order
/// (`serde_json::Value` sorts them).
enum Ordered {
    Null,
    Object(Vec<(String, serde_json::Value)>),
    Other,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut pairs = Vec::new();
                while let Some(kv) = m.next_entry::<String, serde_json::Value>()? {
                    pairs.push(kv);
                }
                Ok(Ordered::Object(pairs))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<Ordered, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Ordered::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Go's case folding of a JSON key against ASCII field names: ASCII lower
/// case, plus the two non-ASCII letters that fold onto ASCII ones (`ſ` → `s`,
/// the Kelvin sign → `k`).
fn fold(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_keys_match_as_go_matches_them() {
        let c = ConnectOptions::parse(br#"{"USER":"a","Pass":"b","verbose":true,"VERBOSE":false}"#)
            .unwrap();
        assert_eq!(
            (c.user.as_deref(), c.pass.as_deref()),
            (Some("a"), Some("b"))
        );
        assert_eq!(c.verbose, Some(false), "the later key wins");
        let c = ConnectOptions::parse(br#"{"user":"a","USER":null,"protocol":null}"#).unwrap();
        assert_eq!(
            c.user.as_deref(),
            Some("a"),
            "a null leaves the field as it was"
        );
        let c = ConnectOptions::parse("{\"\u{212a}\u{17f}\":1}".as_bytes());
        assert!(c.is_some(), "an unknown folded key is ignored");
    }

    #[test]
    fn info_key_order_and_trailing_space() {
        let i = ServerInfo {
            server_id: "NID".into(),
            server_name: "n1".into(),
            version: "2.15.1".into(),
            proto: 1,
            go: "go".into(),
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            max_payload: 1048576,
            client_id: Some(5),
            client_ip: Some("127.0.0.1".into()),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(i.to_line()).unwrap(),
            "INFO {\"server_id\":\"NID\",\"server_name\":\"n1\",\"version\":\"2.15.1\",\"proto\":1,\
             \"go\":\"go\",\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":true,\"max_payload\":1048576,\
             \"client_id\":5,\"client_ip\":\"127.0.0.1\"} \r\n"
        );
    }

    #[test]
    fn connect_typing() {
        let c = ConnectOptions::parse(br#"{"verbose":false,"unknown":[1]}"#).unwrap();
        assert_eq!(c.verbose, Some(false));
        assert_eq!(c.pedantic, None);
        assert!(ConnectOptions::parse(br#"{"verbose":"yes"}"#).is_none());
        assert!(ConnectOptions::parse(b"{").is_none());
        assert_eq!(ConnectOptions::parse(b"null").unwrap().verbose, None);
    }

    /// Found by the `connect_json` fuzz target against its model of Go's
    /// `json.Unmarshal` (fuzz/oracle/connect_json.rs); the reproducers are in
    /// fuzz/corpus/connect_json/ and fuzz/artifacts/connect_json/.
    #[test]
    fn connect_json_as_go_decodes_it() {
        // A repeated key: the last value wins (was refused).
        let c = ConnectOptions::parse(br#"{"verbose":true,"verbose":false}"#).unwrap();
        assert_eq!(c.verbose, Some(false));
        // The fields as an array, in declaration order: refused (was accepted).
        let arr = br#"[true,true,true,"t","u","p","n","s","j","x","rust","1",1,true,true,true,"A",false]"#;
        assert!(ConnectOptions::parse(arr).is_none());
        assert!(ConnectOptions::parse(b"[]").is_none());
        assert!(ConnectOptions::parse(b"1").is_none());
        // Only JSON's whitespace around `null` (a form feed was accepted).
        assert!(ConnectOptions::parse(b"\x0cnull").is_none());
        assert!(ConnectOptions::parse(b" \t\r\nnull\n").is_some());
        // Invalid UTF-8 in a string is replaced, in a known field or an unknown
        // one alike (it was refused in the first, accepted in the second).
        let c = ConnectOptions::parse(b"{\"name\":\"a\xff\",\"x y\":\"\x9d\"}").unwrap();
        assert_eq!(c.name.as_deref(), Some("a\u{fffd}"));
        assert!(ConnectOptions::parse(b"{\"name\":\"a\"}\xff").is_none());
    }
}
