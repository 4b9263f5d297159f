//! The JSON of a route connection's INFO and CONNECT (spec/cluster.md §2.1,
//! §2.2), in nats-server's key order and omit-when-empty rules (its `Info`
//! and `connectInfo` structs), and the peer's INFO as this server reads it:
//! the fields that decide the handshake, everything else ignored, as Go's
//! decoder ignores unknown keys (2.15.1 sends an `ln` the source does not
//! have).

use serde::{Deserialize, Serialize};

use crate::info::is_false;

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The INFO this server sends on a route connection.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RouteInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    /// The route protocol level (2: accounts; 3 would claim message tracing).
    pub proto: i32,
    pub go: String,
    /// The cluster listen (or advertise) address: peers gossip it.
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// With `tls_required`: the peer must present a certificate too.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: u64,
    /// `nats-route://host:port/`, in an INFO gossiped about a new peer.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// Sent, unused on routes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    /// This server's client URLs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// The compression mode (`accept`, `off`, …); absent: not supported.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    #[serde(skip_serializing_if = "is_false")]
    pub lnoc: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub lnocu: bool,
    /// Absent (0): one connection carries every account, each line naming it.
    #[serde(skip_serializing_if = "is_zero")]
    pub route_pool_size: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub route_pool_idx: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub route_account: String,
    /// This server's leaf listener URL, for the peers' spokes to reconnect
    /// to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leafnode_urls: Vec<String>,
}

impl RouteInfo {
    /// `INFO {json} \r\n`, as nats-server writes it.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = b"INFO ".to_vec();
        serde_json::to_writer(&mut v, self).expect("INFO serialises");
        v.extend_from_slice(b" \r\n");
        v
    }
}

/// The CONNECT a soliciting server sends (no `lang`: that is how a route is
/// told from a client).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct RouteConnect {
    #[serde(default)]
    pub echo: bool,
    #[serde(default)]
    pub verbose: bool,
    #[serde(default)]
    pub pedantic: bool,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub pass: String,
    #[serde(rename = "tls_required", default)]
    pub tls: bool,
    #[serde(default)]
    pub headers: bool,
    /// The sender's server id.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false", default)]
    pub cluster_dynamic: bool,
    #[serde(skip_serializing_if = "is_false", default)]
    pub lnoc: bool,
    #[serde(skip_serializing_if = "is_false", default)]
    pub lnocu: bool,
    /// A gateway on the route port: refused.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub gateway: String,
    /// A client on the route port: refused (`attempted to connect to route port`).
    #[serde(skip_serializing, default)]
    pub lang: String,
}

impl RouteConnect {
    /// `CONNECT {json}\r\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = b"CONNECT ".to_vec();
        serde_json::to_writer(&mut v, self).expect("CONNECT serialises");
        v.extend_from_slice(b"\r\n");
        v
    }

    pub fn parse(json: &[u8]) -> Option<RouteConnect> {
        serde_json::from_slice(json).ok()
    }
}

/// A peer's route INFO: what decides the handshake and the mesh.
#[derive(Debug, Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(default)]
pub struct PeerInfo {
    pub server_id: String,
    pub server_name: String,
    pub proto: i32,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    pub max_payload: u64,
    pub ip: String,
    pub cluster: String,
    pub cluster_dynamic: bool,
    pub connect_urls: Vec<String>,
    pub ws_connect_urls: Vec<String>,
    pub ldm: bool,
    /// `None`: the peer does not support compression.
    pub compression: Option<String>,
    pub lnoc: bool,
    pub lnocu: bool,
    pub route_pool_size: i64,
    pub route_pool_idx: i64,
    pub route_account: String,
    pub auth_required: bool,
    pub tls_required: bool,
    pub leafnode_urls: Vec<String>,
}

impl PeerInfo {
    pub fn parse(json: &[u8]) -> Option<PeerInfo> {
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_in_nats_server_order() {
        let i = RouteInfo {
            server_id: "NBTM".into(),
            server_name: "srvA".into(),
            version: "2.15.1".into(),
            proto: 2,
            go: "shoal 0.1.0".into(),
            host: "127.0.0.1".into(),
            port: 16222,
            headers: true,
            max_payload: 1048576,
            nonce: "6X_IwJ9z-rc64PM".into(),
            cluster: "C1".into(),
            connect_urls: vec!["127.0.0.1:14222".into()],
            compression: "not supported".into(),
            ..RouteInfo::default()
        };
        assert_eq!(
            String::from_utf8(i.to_line()).unwrap(),
            "INFO {\"server_id\":\"NBTM\",\"server_name\":\"srvA\",\"version\":\"2.15.1\",\"proto\":2,\"go\":\"shoal 0.1.0\",\"host\":\"127.0.0.1\",\"port\":16222,\"headers\":true,\"max_payload\":1048576,\"nonce\":\"6X_IwJ9z-rc64PM\",\"cluster\":\"C1\",\"connect_urls\":[\"127.0.0.1:14222\"],\"compression\":\"not supported\"} \r\n"
        );
    }

    #[test]
    fn a_captured_peer_info_and_connect() {
        let p = PeerInfo::parse(br#"{"server_id":"NBTM","server_name":"srvA","version":"2.15.1","proto":3,"go":"go1.27.2","host":"127.0.0.1","port":16222,"headers":true,"max_payload":1048576,"nonce":"6X_IwJ9z-rc64PM","cluster":"C1","connect_urls":["127.0.0.1:14222"],"compression":"accept","lnoc":true,"lnocu":true,"route_pool_size":3,"ln":true}"#).unwrap();
        assert_eq!(p.server_id, "NBTM");
        assert_eq!(
            (p.route_pool_size, p.compression.as_deref()),
            (3, Some("accept"))
        );
        assert_eq!(p.connect_urls, ["127.0.0.1:14222"]);
        let c = RouteConnect::parse(br#"{"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NFAK","cluster":"C1","lnoc":true,"ln":true}"#).unwrap();
        assert_eq!(
            (c.name.as_str(), c.cluster.as_str(), c.lnoc),
            ("NFAK", "C1", true)
        );
        assert!(c.lang.is_empty());
        let mine = RouteConnect {
            echo: true,
            headers: true,
            name: "NFAK".into(),
            cluster: "C1".into(),
            ..RouteConnect::default()
        };
        assert_eq!(
            String::from_utf8(mine.to_line()).unwrap(),
            "CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"NFAK\",\"cluster\":\"C1\"}\r\n"
        );
        let client = RouteConnect::parse(br#"{"lang":"go","verbose":false}"#).unwrap();
        assert_eq!(client.lang, "go");
    }
}
