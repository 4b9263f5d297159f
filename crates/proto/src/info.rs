//! The JSON bodies of INFO (server → client) and CONNECT (client → server).
//!
//! `ServerInfo` serialises with nats-server's key order and its "omit when empty"
//! rules, so the INFO line is byte-compatible apart from values. `ConnectOptions`
//! is decoded onto the connection's current options: absent keys keep their value,
//! a wrongly typed value is an error (nats-server closes silently).

use serde::{Deserialize, Serialize};

fn is_false(b: &bool) -> bool {
    !*b
}

/// INFO's fields, in the order nats-server emits them. Fields Shoal has no feature
/// for yet (TLS, auth, cluster, JetStream's `api_lvl`, the auth-callout `xkey`) are
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
    pub max_payload: u64,
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
    /// a syntax error either way). Unlike Go, keys match case-sensitively.
    pub fn parse(json: &[u8]) -> Option<ConnectOptions> {
        // Going through a `Value` refuses what the derived deserialiser would
        // take but Go refuses (an array of the fields in order) and takes the
        // repeated keys it would refuse.
        let text = String::from_utf8_lossy(json);
        match serde_json::from_str::<serde_json::Value>(&text).ok()? {
            serde_json::Value::Null => Some(ConnectOptions::default()),
            v @ serde_json::Value::Object(_) => ConnectOptions::deserialize(v).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
