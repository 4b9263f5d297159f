//! Leaf node connections: the remotes this server dials (`leafnodes {
//! remotes }`, a spoke's) and the spokes a hub accepts (`leafnodes { port
//! }`). Every leaf connection lives on the leaf core ([`LEAF_CORE`]): its
//! remotes are dialled there, its listener is bound there alone.
//!
//! Why one core: what a leaf is told depends on every other leaf's
//! interest (a hub tells each spoke the others', nats-server's `smap`), so
//! the leaves' tables and the interest they feed live where the leaves
//! are, and the interest items the other cores already send for routes
//! bring the clients' interest there. Leaf connections are few (a spoke
//! has a handful of remotes, a hub tens of spokes); their messages cross to
//! the clients' cores on the rings like a route's.
//!
//! A dialled connection lives from the hub's INFO to its close; then the
//! next URL is dialled after `reconnect` (30 s after a loop), among the
//! configured ones and those the hub's cluster named (`leafnode_urls`). A
//! hub that is a cluster node tells its spokes every node's leaf URL, and
//! again when one joins or leaves. The connection itself is `link.rs`'s,
//! the hub's login `hub.rs`'s.
//!
//! On a cluster node the leaf core's leaves meet the routes of every core
//! (see `routes.rs` for interest, `router::may_forward` for messages): a
//! leaf this server accepted is to the cluster what a client is, tagged
//! with its cluster's name; a spoke's connection stays apart from the
//! routes, as in nats-server.
//!
//! Never blocks its core: the host is resolved on the blocking pool, the
//! connect is an io_uring one, the waits are timers.

mod hub;
mod link;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Leaf, LeafRemote};
use crate::core::Core;
use crate::rt;

/// How long a spoke waits after the hub detected a loop.
const LOOP_DELAY: Duration = Duration::from_secs(30);

pub use crate::core::LEAF_CORE;

/// How often a hub in a cluster looks for a change in its peers' leaf URLs.
const URLS_TICK: Duration = Duration::from_millis(250);

/// On the leaf core: dials the remotes; a hub in a cluster keeps its
/// spokes told of the cluster's leaf URLs.
pub fn start(core: &Rc<Core>, leaf: &Arc<Leaf>) {
    if core.id() != LEAF_CORE {
        return;
    }
    for r in &leaf.remotes {
        rt::spawn(solicit(core.clone(), leaf.clone(), r.clone()));
    }
    if let (Some(mesh), true) = (&core.shared().mesh, leaf.listen.is_some()) {
        rt::spawn(tell_urls(core.clone(), mesh.clone()));
    }
}

/// Sends the spokes an INFO whenever the cluster's leaf URLs change (a
/// peer with a leaf listener joined or left: nats-server's
/// `sendAsyncLeafNodeInfo`), so that they can reconnect to any node.
async fn tell_urls(core: Rc<Core>, mesh: Arc<crate::mesh::Mesh>) {
    let mut seen = mesh.leafnode_urls(&[]);
    while !stopping(&core) {
        sleep_unless_stopping(&core, URLS_TICK).await;
        let now = mesh.leafnode_urls(&[]);
        if now == seen {
            continue;
        }
        seen = now;
        let spokes: Vec<Rc<crate::client::Client>> = core
            .routes()
            .links()
            .iter()
            .filter(|l| l.leaf && !l.solicited)
            .cloned()
            .collect();
        for l in spokes {
            l.send(&hub::info(&core, &l, hub::Info::Update, "not supported"));
        }
        core.end_pass();
    }
}

/// Accepts spokes on the leaf listener until the server stops or enters
/// lame duck mode.
pub async fn listen(core: Rc<Core>, listener: rt::Listener) {
    let life = core.life();
    loop {
        match listener.accept_or(life.stop_ev.wait()).await {
            None => break,
            Some(Ok((rh, wh, peer))) => {
                rt::spawn(link::accept(core.clone(), rh, wh, peer));
            }
            Some(Err(e)) => {
                log::error!("Leafnode Accept error: {e}");
                rt::sleep(Duration::from_millis(10)).await;
            }
        }
        if life.stopping.get() || life.closing_from.get().is_some() {
            break;
        }
    }
}

/// Dials `remote`'s URLs in turn until the server stops: the configured
/// ones and those the hub's cluster told (nats-server's
/// `updateLeafNodeURLs`: a hub node's peers, reached at the same scheme,
/// without the configured URL's credentials).
async fn solicit(core: Rc<Core>, leaf: Arc<Leaf>, remote: LeafRemote) {
    let mut attempts = 0u32;
    let mut first = true;
    let mut at = 0usize;
    let mut urls = remote.urls.clone();
    while !stopping(&core) {
        let url = urls[at % urls.len()].clone();
        let url = &url;
        at += 1;
        log::debug!(
            "Trying to connect as leafnode to remote server on {:?}",
            format!("{}:{}", url.host, url.port)
        );
        let delay = match crate::cluster::dial::connect(url).await {
            Ok((rh, wh, addr)) => {
                attempts = 0;
                let ended = link::serve(core.clone(), &remote, url, rh, wh, addr).await;
                if ended.registered {
                    first = false;
                }
                if !ended.discovered.is_empty() && !remote.ignore_discovered {
                    urls = with_discovered(&remote.urls, &ended.discovered);
                }
                if ended.loop_detected {
                    LOOP_DELAY
                } else {
                    leaf.reconnect
                }
            }
            Err(e) => {
                attempts += 1;
                let text = format!(
                    "Error trying to connect as leafnode to remote server {:?} (attempt {attempts}): dial tcp {}:{}: {}",
                    format!("{}:{}", url.host, url.port),
                    url.host,
                    url.port,
                    shoal_go::errno_text(&e)
                );
                crate::cluster::dial::report_dial_error(&text, first, attempts);
                leaf.reconnect
            }
        };
        // nats-server's jitter: up to the delay again, for reconnects.
        let jitter = Duration::from_millis(core.rand(delay.as_millis().max(1) as u64));
        sleep_unless_stopping(&core, delay + jitter / 10).await;
    }
}

/// The configured URLs and, after them, each discovered `host:port` that
/// is not one of them.
fn with_discovered(
    configured: &[crate::config::RouteUrl],
    discovered: &[String],
) -> Vec<crate::config::RouteUrl> {
    let mut all = configured.to_vec();
    for d in discovered {
        let Some((host, port)) = d.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if all.iter().any(|u| u.host == host && u.port == port) {
            continue;
        }
        all.push(crate::config::RouteUrl {
            url: format!("nats-leaf://{d}"),
            host: host.to_string(),
            port,
            user: None,
            pass: None,
        });
    }
    all
}

async fn sleep_unless_stopping(core: &Core, d: Duration) {
    let life = core.life();
    futures_lite::future::or(rt::sleep(d), life.stop_ev.wait()).await;
}

fn stopping(core: &Core) -> bool {
    core.life().stopping.get()
        || core
            .shared()
            .stop
            .load(std::sync::atomic::Ordering::Relaxed)
}
