//! A core's main future, from boot to shutdown: bind its listener, connect its
//! rings, report ready, start its tasks — one drain per inbound ring (batches
//! to the router), one flusher per outbound ring, the ticker, the monitoring
//! agent when monitoring is on — then accept connections until told to stop,
//! and finally close every connection (flushing, bounded) and return, which
//! ends the executor.
//!
//! This is where the layers meet: nothing below it spawns tasks or knows
//! which ones a core runs.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::CloseReason;
use crate::core::{Core, Shared};
use crate::monitor::hub::{self, CoreLink};
use crate::ring::Batch;
use crate::rt::{self, RingRx, SharedReceiver, SharedSender};

/// Everything a core is handed at boot besides the shared state.
pub struct Wiring {
    pub txs: Vec<(usize, SharedSender<Batch>)>,
    pub rxs: Vec<(usize, SharedReceiver<Batch>)>,
    /// Lanes returning emptied batches: to each peer (what it sent us), and
    /// from each peer (what we sent it).
    pub returns_to: Vec<(usize, rtrb::Producer<Batch>)>,
    pub returns_from: Vec<(usize, rtrb::Consumer<Batch>)>,
    pub monitor: Option<CoreLink>,
    /// Core 0, with a system account: the rings to the thread that answers
    /// the server's own requests.
    pub sys: Option<crate::monitor::sysreq::CoreSysLink>,
}

/// Runs core `id` of `n` until shutdown. `ready` hears whether it listens.
pub async fn run(
    id: usize,
    n: usize,
    shared: Arc<Shared>,
    addr: SocketAddr,
    wiring: Wiring,
    ready: std::sync::mpsc::SyncSender<Result<(), std::io::Error>>,
) {
    let core = Rc::new(Core::new(id, n, shared));
    let listener = match rt::Listener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    core.links()
        .set_return_lanes(wiring.returns_to, wiring.returns_from);
    let rxs = core.links().connect(wiring.txs, wiring.rxs).await;
    for c in (0..n).filter(|&c| c != id) {
        let core = core.clone();
        rt::spawn(async move {
            let done = || {
                core.shared()
                    .stop
                    .load(std::sync::atomic::Ordering::Relaxed)
                    && core.client_count() == 0
            };
            core.links().flusher(c, done).await
        });
    }
    for (c, rx) in rxs {
        rt::spawn(drain(core.clone(), c, rx));
    }
    if let Some(link) = wiring.monitor {
        rt::spawn(hub::serve(core.clone(), link));
    }
    crate::user_info::subscribe_all(&core, core.user_info_accounts());
    if let (Some(link), Some(system)) = (wiring.sys, core.auth().system_account_id()) {
        rt::spawn(crate::sys_relay::serve(core.clone(), link, system));
    }
    if let Some(mesh) = core.shared().mesh.clone() {
        match rt::Listener::bind(mesh.listen) {
            Ok(l) => rt::spawn(crate::cluster::listen(core.clone(), mesh.clone(), l)),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
        rt::spawn(crate::cluster::agent(core.clone(), mesh));
    }
    if let Some(leaf) = core.cfg().leaf.clone() {
        crate::leaf::start(&core, &leaf);
    }
    if let (Some(l), crate::leaf::LEAF_CORE) = (&core.shared().leaf, core.id()) {
        match rt::Listener::bind(l.listen) {
            Ok(l) => rt::spawn(crate::leaf::listen(core.clone(), l)),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
    }
    if let Some(ws) = &core.shared().ws {
        match rt::Listener::bind(ws.listen) {
            Ok(l) => rt::spawn(ws_listen(core.clone(), l)),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
    }
    crate::js::start(&core);
    let _ = ready.send(Ok(()));
    rt::spawn(crate::ticker::run(core.clone()));

    let life = core.life();
    let mut accept_backoff = Duration::from_millis(10);
    let mut accepted = 0u32;
    loop {
        match listener.accept_or(life.stop_ev.wait()).await {
            None => break,
            Some(Ok((rh, wh, peer))) => {
                accept_backoff = Duration::from_millis(10);
                rt::spawn(crate::reader::serve(core.clone(), rh, wh, peer, false));
                // accept() completes without waiting while connections are
                // pending: in a connection storm, let the core's other tasks
                // (connected clients) run every few accepts.
                accepted = accepted.wrapping_add(1);
                if accepted.is_multiple_of(16) {
                    rt::yield_now().await;
                }
            }
            Some(Err(e))
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) =>
            {
                // Out of descriptors or memory: nats-server's back-off, from
                // 10 ms doubling to 1 s while the condition lasts.
                log::error!(
                    "Temporary Client Accept Error(accept tcp {addr}: accept4: {}), sleeping {}ms",
                    shoal_go::errno_text(&e),
                    accept_backoff.as_millis()
                );
                rt::sleep(accept_backoff).await;
                accept_backoff = (accept_backoff * 2).min(Duration::from_secs(1));
                continue;
            }
            Some(Err(e)) => log::error!("Client Accept error: {e}"),
        }
        if life.stopping.get() || life.closing_from.get().is_some() {
            break;
        }
    }
    drop(listener);
    // Lame duck: the ticker closes the clients over time; wait for the stop.
    while !life.stopping.get() {
        life.stop_ev.wait().await;
    }

    for c in core.client_list() {
        c.close_after_flush(CloseReason::ServerShutdown);
    }
    crate::cluster::close_all(&core);
    core.end_pass();
    let deadline = Instant::now() + Duration::from_secs(2);
    while core.client_count() > 0 && Instant::now() < deadline {
        futures_lite::future::or(life.stop_ev.wait(), rt::sleep(Duration::from_millis(50))).await;
    }
    let s = &core.env().stats;
    log::debug!(
        "Core {id} stopped: in_msgs={} out_msgs={} ring_msgs_out={} ring_msgs_in={} ring_backlogged={} slow_consumers={} connections={}",
        s.in_msgs.get(),
        s.out_msgs.get(),
        s.ring_msgs_out.get(),
        s.ring_msgs_in.get(),
        s.ring_backlogged.get(),
        s.slow_consumers.get(),
        s.total_connections.get()
    );
}

/// Applies what peer `src` sends, batch by batch, each its own pass.
async fn drain(core: Rc<Core>, src: usize, rx: RingRx<Batch>) {
    let delay = test_ring_delay();
    while let Some(batch) = rx.recv().await {
        if let Some(d) = delay {
            rt::sleep(d).await;
        }
        core.env().now.set(Instant::now());
        crate::router::apply_batch(&core, src, batch);
        crate::js::kick(&core);
        core.end_pass();
        rt::yield_now().await;
    }
}

/// For tests only: `SHOAL_TEST_RING_DELAY_MS` makes every core wait that long
/// before applying each batch a peer sent it, so that an end-to-end test can
/// tell a guarantee kept by a barrier from one kept by luck (a ring that
/// happens to be fast). Never set in production; read once per core.
fn test_ring_delay() -> Option<Duration> {
    std::env::var("SHOAL_TEST_RING_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

/// Accepts WebSocket connections on this core's share of the listener
/// until the server stops or enters lame duck mode.
async fn ws_listen(core: Rc<Core>, listener: rt::Listener) {
    let life = core.life();
    loop {
        match listener.accept_or(life.stop_ev.wait()).await {
            None => break,
            Some(Ok((rh, wh, peer))) => {
                rt::spawn(crate::reader::serve(core.clone(), rh, wh, peer, true));
            }
            Some(Err(e)) => {
                log::error!("Websocket Accept error: {e}");
                rt::sleep(Duration::from_millis(10)).await;
            }
        }
        if life.stopping.get() || life.closing_from.get().is_some() {
            break;
        }
    }
}
