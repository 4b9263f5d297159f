//! The INFO lines a client connection is sent: the greeting on accept, the
//! `connect_info` INFO after a protocol-1 client's first PONG, and lame duck
//! mode's `ldm:true`, built from [`ServerInfo`]'s own fields in nats-server's
//! key order.

use shoal_proto::ServerInfo;

use crate::client::Client;
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
pub fn info_line(core: &Core, client: &Client, kind: InfoKind) -> Vec<u8> {
    info_with_tls(core, client, kind, client.tls_first.get())
}

/// [`info_line`] saying whether the connection does TLS first: such a
/// connection's INFO says `tls_required` even where clear text is allowed
/// (`allow_non_tls`), as nats-server's does.
pub fn info_with_tls(core: &Core, client: &Client, kind: InfoKind, tls_first: bool) -> Vec<u8> {
    let s = core.shared();
    let tls = core.tls();
    let (mut tls_required, tls_verify, mut tls_available) = match &tls {
        Some(t) => (
            tls_first || !t.allow_non_tls,
            t.options.verify,
            t.allow_non_tls,
        ),
        None => (false, false, false),
    };
    let lame_duck = s.lame_duck.load(std::sync::atomic::Ordering::Relaxed);
    let (mut host, mut port) = (s.info_host.clone(), s.info_port);
    let mut connect_urls = match &s.mesh {
        Some(m) => m.connect_urls(lame_duck),
        None => Vec::new(),
    };
    let ws = client.websocket.get();
    if let (true, Some(w)) = (ws, &s.ws) {
        // nats-server's INFO to a WebSocket client: the WebSocket
        // listener's host, port and TLS (the client TLS's verify stays).
        (host, port) = (w.host.clone(), w.port);
        (tls_required, tls_available) = (w.tls, w.tls);
        connect_urls = match &s.mesh {
            Some(m) => m.ws_connect_urls(&w.urls, lame_duck),
            None => Vec::new(),
        };
    }
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
        host,
        port,
        headers: !core.cfg().no_header_support,
        auth_required: core.auth().info_required(ws),
        tls_required,
        tls_verify,
        tls_available,
        max_payload: core.live().max_payload as u64,
        jetstream: core.cfg().jetstream.is_some(),
        client_id: Some(client.cid),
        client_ip: Some(client.peer.ip().to_string()),
        nonce: match kind {
            InfoKind::Greeting(Some(n)) => Some(String::from_utf8_lossy(&n).into_owned()),
            _ => None,
        },
        cluster: match &s.mesh {
            Some(m) => Some(m.name().0),
            None => core.cfg().cluster_name.clone(),
        },
        connect_urls,
        ldm: kind == InfoKind::LameDuck,
        connect_info,
        remote_account: connect_info.then(|| core.auth().account_name(account)),
        api_lvl: core
            .cfg()
            .jetstream
            .is_some()
            .then_some(shoal_jetstream::API_LEVEL),
    }
    .to_line()
}
