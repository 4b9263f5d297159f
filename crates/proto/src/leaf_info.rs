//! The JSON of a leaf node connection's INFO and CONNECT (spec/cluster.md
//! §6), in nats-server's key order and omit-when-empty rules (its `Info`
//! and `leafConnectInfo` structs), and the other side's as this server
//! reads it: a hub's INFO (what the spoke needs to answer: nonce, TLS,
//! `info_on_connect`, compression, the hub's leaf URLs for reconnects) and
//! a spoke's CONNECT (credentials, the account it binds to, its deny list,
//! its cluster for loop and echo checks).
//!
//! Pure: no I/O. Unknown keys are ignored, as Go's decoder ignores them.

use serde::{Deserialize, Serialize};

use crate::info::is_false;

/// The subject prefix of nats-server's loop detection: each server
/// subscribes to `$LDS.<random>` on every leaf connection, and a server
/// that is offered its own subject over a leaf sees a loop.
pub const LOOP_DETECTION_PREFIX: &str = "$LDS.";

/// Whether `subject` is a loop-detection subject.
pub fn is_loop_detection(subject: &[u8]) -> bool {
    subject.starts_with(LOOP_DETECTION_PREFIX.as_bytes())
}

/// What a hub says to a spoke that dialled it: first on accept, then
/// (with `connect_info`) once the CONNECT is accepted.
#[derive(Debug, Clone, Serialize, Default)]
pub struct LeafInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    /// Always true on accept (a 2.15 spoke expects it).
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: u64,
    /// The connection's id: a spoke refuses an INFO without one (it takes
    /// it for a client port).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// The compression mode offered (`s2_auto`, `off`, …); absent: none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    /// The spoke waits for the `connect_info` INFO before it registers.
    #[serde(skip_serializing_if = "is_false")]
    pub info_on_connect: bool,
    /// The hub's (and its cluster's) leaf URLs; a spoke checks the key is
    /// there (an empty list is enough).
    pub leafnode_urls: Vec<String>,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl LeafInfo {
    /// `INFO {json} \r\n`, as nats-server writes it.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = b"INFO ".to_vec();
        serde_json::to_writer(&mut v, self).expect("INFO serialises");
        v.extend_from_slice(b" \r\n");
        v
    }
}

/// A hub's INFO as a spoke reads it.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(default)]
pub struct HubInfo {
    pub server_id: String,
    pub server_name: String,
    pub proto: i32,
    pub headers: bool,
    pub auth_required: bool,
    pub tls_required: bool,
    pub max_payload: u64,
    pub client_id: u64,
    pub nonce: String,
    pub cluster: String,
    /// `None`: the hub does not support compression.
    pub compression: Option<String>,
    pub connect_info: bool,
    pub remote_account: String,
    pub info_on_connect: bool,
    /// `None`: the key is missing (a client port, not a leaf one).
    pub leafnode_urls: Option<Vec<String>>,
}

impl HubInfo {
    pub fn parse(json: &[u8]) -> Option<HubInfo> {
        serde_json::from_slice(json).ok()
    }

    /// nats-server's check that it dialled a leaf port: an INFO with a
    /// client id and a `leafnode_urls` key.
    pub fn is_leaf_port(&self) -> bool {
        self.client_id != 0 && self.leafnode_urls.is_some()
    }
}

/// The CONNECT a spoke sends (nats-server's `leafConnectInfo`, in its key
/// order), and a spoke's CONNECT as a hub reads it.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(default)]
pub struct LeafConnect {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nkey: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sig: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pass: String,
    #[serde(rename = "auth_token", skip_serializing_if = "String::is_empty")]
    pub token: String,
    #[serde(rename = "server_id", skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "is_hub", skip_serializing_if = "is_false")]
    pub hub: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny_pub: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub isolate: bool,
    /// The spoke's compression answer (`not supported` when the hub
    /// offered none it knows).
    #[serde(rename = "compress_mode", skip_serializing_if = "String::is_empty")]
    pub compression: String,
    /// Set by a gateway dialling the wrong port.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// The account the spoke binds on its side.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    #[serde(rename = "protocol", skip_serializing_if = "is_zero_i32")]
    pub proto: i32,
    /// Only a client sends one: a CONNECT with `lang` is a client on the
    /// leaf port.
    #[serde(skip_serializing)]
    pub lang: Option<String>,
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

impl LeafConnect {
    /// `CONNECT {json}\r\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = b"CONNECT ".to_vec();
        serde_json::to_writer(&mut v, self).expect("CONNECT serialises");
        v.extend_from_slice(b"\r\n");
        v
    }

    pub fn parse(json: &[u8]) -> Option<LeafConnect> {
        serde_json::from_slice(json).ok()
    }
}

/// The text a server sends over a leaf (and logs) when it detects a loop
/// in `account`; the side that dialled waits 30 s before it tries again.
pub fn loop_error(account: &str) -> String {
    format!("Loop detected for leafnode account={account:?}. Delaying attempt to reconnect for 30s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_info_in_nats_server_key_order() {
        let i = LeafInfo {
            server_id: "NHUB".into(),
            server_name: "hub".into(),
            version: "2.15.1".into(),
            proto: 1,
            go: "shoal 0.1.0".into(),
            host: "0.0.0.0".into(),
            port: 7422,
            headers: true,
            auth_required: true,
            max_payload: 1048576,
            client_id: 3,
            nonce: "abc".into(),
            info_on_connect: true,
            ..LeafInfo::default()
        };
        assert_eq!(
            String::from_utf8(i.to_line()).unwrap(),
            "INFO {\"server_id\":\"NHUB\",\"server_name\":\"hub\",\"version\":\"2.15.1\",\"proto\":1,\"go\":\"shoal 0.1.0\",\"host\":\"0.0.0.0\",\"port\":7422,\"headers\":true,\"auth_required\":true,\"max_payload\":1048576,\"client_id\":3,\"nonce\":\"abc\",\"info_on_connect\":true,\"leafnode_urls\":[]} \r\n"
        );
    }

    #[test]
    fn a_spoke_connect_as_captured_from_2_15_1() {
        // spec/cluster.md §6.1's captured CONNECT.
        let c = LeafConnect::parse(br#"{"version":"2.15.1","server_id":"NSPOKE","name":"spoke","cluster":"spoke","headers":true,"compress_mode":"s2_auto","remote_account":"$G","protocol":3,"user":"u","pass":"p","deny_pub":["secret.>"]}"#).unwrap();
        assert_eq!(c.id, "NSPOKE");
        assert_eq!(c.remote_account, "$G");
        assert_eq!(c.compression, "s2_auto");
        assert_eq!(c.deny_pub, ["secret.>"]);
        assert_eq!((c.user.as_str(), c.pass.as_str()), ("u", "p"));
        assert_eq!(c.proto, 3);
        assert!(c.lang.is_none());
        let client = LeafConnect::parse(br#"{"verbose":false,"lang":"go"}"#).unwrap();
        assert_eq!(client.lang.as_deref(), Some("go"));
        // And written back in nats-server's order.
        let line = String::from_utf8(c.to_line()).unwrap();
        assert!(line.starts_with("CONNECT {\"version\":\"2.15.1\",\"user\":\"u\",\"pass\":\"p\",\"server_id\":\"NSPOKE\",\"name\":\"spoke\",\"cluster\":\"spoke\",\"headers\":true,\"deny_pub\":[\"secret.>\"],\"compress_mode\":\"s2_auto\",\"remote_account\":\"$G\",\"protocol\":3}"), "{line}");
    }

    #[test]
    fn a_hub_port_is_told_from_a_client_port() {
        let hub = HubInfo::parse(br#"{"server_id":"N","client_id":5,"leafnode_urls":[],"info_on_connect":true,"compression":"s2_auto","nonce":"n"}"#).unwrap();
        assert!(hub.is_leaf_port());
        assert_eq!(hub.compression.as_deref(), Some("s2_auto"));
        let client = HubInfo::parse(br#"{"server_id":"N","client_id":5}"#).unwrap();
        assert!(!client.is_leaf_port());
        assert_eq!(
            loop_error("$G"),
            "Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s"
        );
    }
}
