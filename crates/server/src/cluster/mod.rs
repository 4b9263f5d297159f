//! Cluster routes at run time: the route connections a core owns
//! ([`link`]), the dialers of explicit and gossiped routes ([`dial`]), and
//! what both send of this server (its route INFO and CONNECT), plus each
//! core's cluster agent, which hands gossip other cores left for its routes.
//!
//! How routes map to cores: a route connection is owned by the core that
//! accepted it (the route listener is bound on every core with
//! `SO_REUSEPORT`, like the client listener) or that dialled it (explicit
//! route `i` is dialled by core `i mod N`; the rest of its pool and its
//! pinned accounts' connections by the next cores). A peer is reached over
//! a pool of connections, each account on the one its name hashes to, as
//! nats-server shares them out. A peer's interest arrives on
//! its route's core, becomes subscriptions of that route there, and reaches
//! the other cores as route interest on the rings; a message published on
//! any core for a route's interest crosses the ring to the route's core
//! (one payload handle per core, as for clients) and leaves as one `RMSG`.
//! What a route delivers is routed on its core like a client's publish, to
//! this server's clients only.
//!
//! Never blocks a core: sockets through io_uring, host names resolved on
//! the blocking pool, the shared [`Mesh`] locked only by handshakes, closes
//! and dialers.

mod cert;
pub mod dial;
pub mod link;

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use shoal_proto::route_info::{RouteConnect, RouteInfo};

use crate::core::Core;
use crate::mesh::{Mail, Mesh};
use crate::rt;

/// The route protocol level Shoal speaks: accounts on every line, no
/// message tracing (a peer at 3 would forward trace-only messages).
pub const ROUTE_PROTO: i32 = 2;

/// How often a core's agent looks for gossip other cores left.
const AGENT_TICK: Duration = Duration::from_millis(100);

/// This server's route INFO.
pub fn info(core: &Core, mesh: &Mesh) -> RouteInfo {
    let s = core.shared();
    let (cluster, dynamic) = mesh.name();
    RouteInfo {
        server_id: s.server_id.clone(),
        server_name: s.server_name.clone(),
        version: crate::NATS_VERSION.to_string(),
        proto: ROUTE_PROTO,
        go: format!("shoal {}", crate::SHOAL_VERSION),
        host: mesh.info_host.clone(),
        port: mesh.info_port,
        headers: !core.cfg().no_header_support,
        auth_required: mesh.cfg.auth.is_some(),
        tls_required: mesh.cfg.tls.is_some(),
        tls_verify: mesh.cfg.tls.is_some(),
        max_payload: core.live().max_payload as u64,
        nonce: nonce(core),
        cluster,
        cluster_dynamic: dynamic,
        // Omitted when not supported, as nats-server's `not supported`.
        compression: if mesh.cfg.compression == "not supported" {
            String::new()
        } else {
            mesh.cfg.compression.clone()
        },
        connect_urls: if mesh.cfg.no_advertise {
            Vec::new()
        } else {
            mesh.client_urls.clone()
        },
        ws_connect_urls: match (&core.shared().ws, mesh.cfg.no_advertise) {
            (Some(w), false) => w.urls.clone(),
            _ => Vec::new(),
        },
        // A pool is advertised; without one a peer sees an old server.
        route_pool_size: mesh.cfg.pool_size as i64,
        // Leaf origins are read and written (`LS+ <origin>`, `LMSG
        // <origin>`, `LS- <origin>`).
        lnoc: true,
        lnocu: true,
        // The spokes of a peer may reconnect here.
        leafnode_urls: s.leaf.as_ref().map(|l| l.urls.clone()).unwrap_or_default(),
        ..RouteInfo::default()
    }
}

/// nats-server's `needsCompression`: whether this mode negotiates.
pub fn needs_compression(mode: &str) -> bool {
    !mode.is_empty() && mode != "off" && mode != "not supported"
}

/// nats-server's `selectCompressionMode`: the mode this side uses with a
/// peer whose INFO said `theirs` (`None`: an old server), `ours` being one
/// that negotiates; an unknown peer mode is refused in its words.
pub fn select_compression(ours: &str, theirs: Option<&str>) -> Result<String, String> {
    let theirs = match theirs {
        None | Some("") | Some("not supported") => return Ok("not supported".into()),
        Some(t) => t,
    };
    Ok(match theirs {
        "off" => "off".into(),
        "accept" if ours == "accept" => "off".into(),
        "accept" => ours.into(),
        "s2_auto" | "s2_uncompressed" | "s2_fast" | "s2_better" | "s2_best" => match ours {
            "accept" if theirs == "s2_auto" => "s2_fast".into(),
            "accept" => theirs.into(),
            _ => ours.into(),
        },
        other => return Err(format!("unsupported route compression mode {other:?}")),
    })
}

/// The S2 level of a negotiated mode (`s2_auto`: by the route's RTT and
/// the thresholds, as nats-server's `selectS2AutoModeBasedOnRTT`); `None`:
/// no compression.
pub fn compression_level(
    mode: &str,
    rtt: Duration,
    thresholds: &[Duration],
) -> Option<shoal_proto::s2::Level> {
    use shoal_proto::s2::Level;
    Some(match mode {
        "s2_uncompressed" => Level::Uncompressed,
        "s2_fast" => Level::Fast,
        "s2_better" => Level::Better,
        "s2_best" => Level::Best,
        "s2_auto" => {
            let idx = match thresholds.iter().position(|&d| rtt <= d) {
                Some(i) => i,
                None if thresholds.len() >= 3 => 3,
                None => thresholds.len().saturating_sub(1),
            };
            match idx {
                0 => Level::Uncompressed,
                1 => Level::Fast,
                2 => Level::Better,
                _ => Level::Best,
            }
        }
        _ => return None,
    })
}

/// A level's mode name (what an `s2_auto` route settled on).
pub fn level_name(l: shoal_proto::s2::Level) -> &'static str {
    use shoal_proto::s2::Level;
    match l {
        Level::Uncompressed => "s2_uncompressed",
        Level::Fast => "s2_fast",
        Level::Better => "s2_better",
        Level::Best => "s2_best",
    }
}

/// A nonce as nats-server puts in every INFO (unused on routes).
pub(crate) fn nonce(core: &Core) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..11)
        .map(|_| ALPHABET[core.rand(ALPHABET.len() as u64) as usize] as char)
        .collect()
}

/// The CONNECT a dialled route opens with (the URL's credentials).
pub fn connect(core: &Core, mesh: &Mesh, url: &crate::config::RouteUrl) -> Vec<u8> {
    let (cluster, dynamic) = mesh.name();
    RouteConnect {
        echo: true,
        user: url.user.clone().unwrap_or_default(),
        pass: url.pass.clone().unwrap_or_default(),
        headers: !core.cfg().no_header_support,
        tls: mesh.cfg.tls.is_some(),
        name: core.shared().server_id.clone(),
        cluster,
        cluster_dynamic: dynamic,
        lnoc: true,
        ..RouteConnect::default()
    }
    .to_line()
}

/// Accepts route connections on this core's share of the route listener
/// until the server stops.
pub async fn listen(core: Rc<Core>, mesh: Arc<Mesh>, listener: rt::Listener) {
    let life = core.life();
    loop {
        match listener.accept_or(life.stop_ev.wait()).await {
            None => break,
            Some(Ok((rh, wh, addr))) => {
                let (core, mesh) = (core.clone(), mesh.clone());
                rt::spawn(async move {
                    link::serve(core, mesh, rh, wh, addr, None, None).await;
                });
            }
            Some(Err(e)) => {
                log::error!("Route Accept error: {e}");
                rt::sleep(Duration::from_millis(10)).await;
            }
        }
        if life.stopping.get() {
            break;
        }
    }
}

/// Closes this core's routes (the server is stopping).
pub fn close_all(core: &Core) {
    for l in core.routes().links().iter() {
        l.close_after_flush(crate::client::CloseReason::ServerShutdown);
    }
}

/// Core `core`'s cluster work besides its routes: dial the explicit routes
/// it owns, and hand its routes the gossip other cores left, until the
/// server stops.
pub async fn agent(core: Rc<Core>, mesh: Arc<Mesh>) {
    for (i, url) in mesh.cfg.routes.iter().enumerate() {
        if i % core.cores() == core.id() {
            rt::spawn(dial::dial(core.clone(), mesh.clone(), url.clone(), true));
        }
    }
    let mut urls_seen = mesh.urls_gen.load(Ordering::Relaxed);
    let mut told_ldm = false;
    while !core.life().stopping.get() {
        rt::sleep(AGENT_TICK).await;
        if !told_ldm && core.shared().lame_duck.load(Ordering::Relaxed) {
            // Lame duck: the peers drop this node's client URLs and tell
            // their clients (nats-server's `sendLDMToRoutes`).
            told_ldm = true;
            let line = RouteInfo {
                ldm: true,
                ..info(&core, &mesh)
            }
            .to_line();
            for l in core.routes().links().iter() {
                l.send(&line);
            }
            core.end_pass();
        }
        let gen = mesh.urls_gen.load(Ordering::Relaxed);
        if gen != urls_seen && !mesh.cfg.no_advertise {
            // The cluster's client URLs changed: protocol-1 clients are told.
            urls_seen = gen;
            for c in core.client_list() {
                if c.sent_connect_info.get() && c.opts.get().protocol >= 1 {
                    let line =
                        crate::info::info_line(&core, &c, crate::info::InfoKind::Greeting(None));
                    c.send(&line);
                }
            }
            core.end_pass();
        }
        let mail = mesh.take_mail(core.id());
        if mail.is_empty() {
            continue;
        }
        for m in mail {
            match m {
                Mail::Line { except, line } => {
                    for l in core.routes().links().iter() {
                        if *l.name.borrow() != except {
                            l.send(&line);
                        }
                    }
                }
                Mail::Dial(url) => {
                    rt::spawn(dial::dial(core.clone(), mesh.clone(), url, true));
                }
                Mail::DialExtra { url, account, peer } => {
                    rt::spawn(dial::dial_extra(
                        core.clone(),
                        mesh.clone(),
                        url,
                        account,
                        peer,
                    ));
                }
                Mail::Close(cid) => {
                    let l = core.routes().links().iter().find(|l| l.cid == cid).cloned();
                    if let Some(l) = l {
                        l.close_after_flush(crate::client::CloseReason::ClientClosed);
                    }
                }
            }
        }
        core.end_pass();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_chosen_as_nats_server_chooses_it() {
        let pick = |ours, theirs| select_compression(ours, theirs).unwrap();
        assert_eq!(pick("accept", None), "not supported");
        assert_eq!(pick("s2_fast", Some("off")), "off");
        assert_eq!(pick("accept", Some("accept")), "off");
        assert_eq!(pick("s2_best", Some("accept")), "s2_best");
        assert_eq!(pick("accept", Some("s2_better")), "s2_better");
        assert_eq!(pick("accept", Some("s2_auto")), "s2_fast");
        assert_eq!(pick("s2_uncompressed", Some("s2_best")), "s2_uncompressed");
        assert_eq!(
            select_compression("accept", Some("zstd")).unwrap_err(),
            "unsupported route compression mode \"zstd\""
        );
        use shoal_proto::s2::Level;
        let ms = Duration::from_millis;
        let d = [ms(10), ms(50), ms(100)];
        let at = |rtt, t: &[Duration]| compression_level("s2_auto", ms(rtt), t);
        assert_eq!(at(3, &d), Some(Level::Uncompressed));
        assert_eq!(at(30, &d), Some(Level::Fast));
        assert_eq!(at(80, &d), Some(Level::Better));
        assert_eq!(at(300, &d), Some(Level::Best));
        // [0, 0, 20]: better up to 20 ms, then best.
        let z = [ms(0), ms(0), ms(20)];
        assert_eq!(at(5, &z), Some(Level::Better));
        assert_eq!(at(50, &z), Some(Level::Best));
        assert_eq!(at(50, &[ms(10)]), Some(Level::Uncompressed));
        assert_eq!(compression_level("off", ms(3), &d), None);
        assert!(needs_compression("accept") && !needs_compression("off"));
    }
}
