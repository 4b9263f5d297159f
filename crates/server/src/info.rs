//! The INFO lines a client connection is sent: the greeting on accept, the
//! `connect_info` INFO after a protocol-1 client's first PONG, and lame duck
//! mode's `ldm:true`, built from [`ServerInfo`]'s own fields in nats-server's
//! key order.

use shoal_proto::ServerInfo;

use crate::core::Core;

/// Which INFO a connection is sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InfoKind {
    /// The greeting on accept, with the connection's nonce if it has one.
    Greeting(Option<[u8; shoal_auth::nkey::NONCE_LEN]>),
    /// After the first PONG of a protocol-1 client: `connect_info` and its account.
    ConnectInfo(u16),
    /// Lame duck mode: `ldm:true`.
    LameDuck,
}

/// Builds an INFO line for one connection.
pub fn info_line(core: &Core, cid: u64, ip: &str, kind: InfoKind) -> Vec<u8> {
    let s = core.shared();
    let (connect_info, account) = match kind {
        InfoKind::ConnectInfo(a) => (true, a),
        _ => (false, 0),
    };
    ServerInfo {
        server_id: s.server_id.clone(),
        server_name: s.server_name.clone(),
        version: crate::NATS_VERSION.to_string(),
        proto: 1,
        go: format!("shoal {}", crate::SHOAL_VERSION),
        host: s.info_host.clone(),
        port: s.info_port,
        headers: !core.cfg().no_header_support,
        auth_required: core.auth().info_required(),
        max_payload: core.live().max_payload as u64,
        client_id: Some(cid),
        client_ip: Some(ip.to_string()),
        nonce: match kind {
            InfoKind::Greeting(Some(n)) => Some(String::from_utf8_lossy(&n).into_owned()),
            _ => None,
        },
        cluster: core.cfg().cluster_name.clone(),
        ldm: kind == InfoKind::LameDuck,
        connect_info,
        remote_account: connect_info.then(|| core.auth().account_name(account)),
        ..Default::default()
    }
    .to_line()
}
