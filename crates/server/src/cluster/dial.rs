//! Dialling a route: explicit routes (configured) until the server stops,
//! re-dialled after every close; implicit ones (gossiped) once plus
//! `connect_retries` retries, as nats-server's `connectToRoute`. Every
//! second between attempts, or with `connect_backoff` doubling up to 30 s.
//!
//! A dialled connection that turns out to duplicate a registered route (the
//! peer dialled us too) is dropped, and this dialer waits until that route
//! is gone before it dials again.
//!
//! Never blocks its core: the host name is resolved on the blocking pool,
//! the connect is an io_uring one, the waits are timers.

use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::client::CloseReason;
use crate::config::RouteUrl;
use crate::core::Core;
use crate::mesh::Mesh;
use crate::rt;

/// The delay between attempts, and its cap with `connect_backoff`.
const DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// How long one connect may take (nats-server's `DEFAULT_ROUTE_DIAL`).
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);
/// How often failures are logged as errors on a first connect (every one
/// is, after the route has been up once): nats-server's defaults.
const CONNECT_ERROR_REPORTS: u32 = 3600;

/// Logs a failed dial as nats-server does: as an error once it had been
/// up (`!first`), and on a first connect at the first attempt and every
/// `CONNECT_ERROR_REPORTS`th; otherwise at debug level.
pub(crate) fn report_dial_error(text: &str, first: bool, attempts: u32) {
    if !first || attempts == 1 || attempts.is_multiple_of(CONNECT_ERROR_REPORTS) {
        log::error!("{text}");
    } else {
        log::debug!("{text}");
    }
}

/// Dials `url` from this core (explicit: forever) until the server stops.
pub async fn dial(core: Rc<Core>, mesh: Arc<Mesh>, url: RouteUrl, explicit: bool) {
    if !mesh.start_dialing(&url.url) {
        return;
    }
    let mut attempts = 0u32;
    let mut delay = DELAY;
    let mut first = true;
    while !stopping(&core) {
        if explicit && !mesh.route_valid(&url.url) {
            log::debug!(
                "Not attempting to connect to explicit route {:?}, no longer part of configured routes",
                url.url
            );
            break;
        }
        match connect_and_serve(&core, &mesh, &url, None).await {
            Ok(ended) => {
                attempts = 0;
                delay = DELAY;
                let own = &core.shared().server_id;
                if ended.reason == CloseReason::DuplicateRoute && ended.peer.as_ref() == Some(own) {
                    // A route to this server itself (a routes list shared by
                    // every node names each node too): never dialled again.
                    log::debug!("Detected route to self, ignoring {:?}", url.url);
                    break;
                }
                if ended.reason == CloseReason::DuplicateRoute {
                    // The peer's own route to us carries it: wait for that
                    // one to go before dialling again.
                    while let Some(id) = &ended.peer {
                        if stopping(&core) || !mesh.connected(id) {
                            break;
                        }
                        rt::sleep(DELAY).await;
                    }
                    if !explicit {
                        break;
                    }
                } else if ended.peer.is_some() {
                    first = false;
                } else if !explicit {
                    break;
                }
                // nats-server's reconnect delay: a random 0–100 ms, plus a
                // second for an explicit route.
                let jitter = Duration::from_millis(core.rand(100));
                rt::sleep(jitter + if explicit { DELAY } else { Duration::ZERO }).await;
            }
            Err(e) => {
                attempts += 1;
                let text = format!(
                    "Error trying to connect to route (attempt {attempts}): dial tcp {}:{}: {}",
                    url.host,
                    url.port,
                    shoal_go::errno_text(&e)
                );
                report_dial_error(&text, first, attempts);
                if !explicit && attempts > mesh.cfg.connect_retries {
                    break;
                }
                rt::sleep(delay).await;
                if mesh.cfg.connect_backoff {
                    delay = (delay * 2).min(MAX_DELAY);
                }
            }
        }
    }
    mesh.stop_dialing(&url.url);
}

/// Dials one more connection to `peer`, already routed at `url`: the next
/// connection of its pool (which, once registered, asks for the one after
/// it), or pinned `account`'s. Re-dialled after a close while the peer
/// stays routed; given up when the peer refuses it (a full pool, a
/// duplicate, an account it does not pin) or cannot be reached.
pub async fn dial_extra(
    core: Rc<Core>,
    mesh: Arc<Mesh>,
    url: RouteUrl,
    account: Option<String>,
    peer: String,
) {
    let mut failures = 0;
    // An explicit route's extra connections go with it when a reload
    // removes it (a gossiped route's live as long as the peer).
    let explicit = mesh.route_valid(&url.url);
    while !stopping(&core) && mesh.connected(&peer) {
        if explicit && !mesh.route_valid(&url.url) {
            return;
        }
        match connect_and_serve(&core, &mesh, &url, account.clone()).await {
            Ok(ended) => {
                failures = 0;
                if !ended.registered {
                    return;
                }
            }
            Err(e) => {
                failures += 1;
                log::debug!(
                    "Error trying to connect to route {:?}: {}",
                    url.url,
                    shoal_go::errno_text(&e)
                );
                if failures > 3 {
                    return;
                }
            }
        }
        let jitter = Duration::from_millis(core.rand(100));
        rt::sleep(DELAY + jitter).await;
    }
}

fn stopping(core: &Core) -> bool {
    core.life().stopping.get()
        || core
            .shared()
            .stop
            .load(std::sync::atomic::Ordering::Relaxed)
}

/// Connects to `url` and serves the route (dialled for `account`, if any)
/// until it closes.
async fn connect_and_serve(
    core: &Rc<Core>,
    mesh: &Arc<Mesh>,
    url: &RouteUrl,
    account: Option<String>,
) -> std::io::Result<super::link::Ended> {
    let (rh, wh, addr) = connect(url).await?;
    let (core, mesh) = (core.clone(), mesh.clone());
    Ok(super::link::serve(core, mesh, rh, wh, addr, Some(url.clone()), account).await)
}

/// Resolves (on the blocking pool) and connects (routes and leaf remotes).
pub(crate) async fn connect(
    url: &RouteUrl,
) -> std::io::Result<(rt::ReadHalf, rt::WriteHalf, SocketAddr)> {
    let target = (url.host.clone(), url.port);
    let addr = rt::blocking(move || target.to_socket_addrs().map(|mut a| a.next()))
        .await?
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::AddrNotAvailable))?;
    let (rh, wh) = rt::connect(addr, DIAL_TIMEOUT).await?;
    Ok((rh, wh, addr))
}
