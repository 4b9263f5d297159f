//! One core: everything a glommio executor owns, single-threaded and lock-free —
//! its connections, its subscription index, the interest summary of its peers, its
//! outboxes and rings, its counters — and the tasks that drive it (accept loop,
//! ring drains and flushers, the ticker).
//!
//! Invariants: nothing here is shared with another thread except through the
//! rings and the `Shared` atomics (connection count, stop flag), which are off the
//! message path. A pass (one read of one connection, or one ring batch) ends with
//! [`Core::end_pass`]: outboxes go into their rings as one batch each and every
//! touched writer is woken once.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::Bytes;
use shoal_subject::Index;
use slab::Slab;

use crate::client::{Client, CloseReason};
use crate::config::Config;
use crate::event::Event;
use crate::ring::{Batch, Item, Outbox};
use crate::rt::{self, RingRx, RingTx};
use crate::stats::Stats;

/// What every core shares, read-mostly, across threads (never on the message path).
pub struct Shared {
    pub cfg: Config,
    pub server_id: String,
    pub server_name: String,
    /// The host and port INFO gives clients: the listen address, or
    /// `client_advertise`.
    pub info_host: String,
    pub info_port: u16,
    pub connections: AtomicUsize,
    pub stop: AtomicBool,
    /// Lame duck mode requested (SIGUSR2).
    pub lame_duck: AtomicBool,
    /// Bumped by each reload; cores pick up `reloaded` when it changes.
    pub reload_gen: std::sync::atomic::AtomicU64,
    pub reloaded: std::sync::Mutex<Option<Config>>,
    /// Monitoring: each core's snapshot slot and the boot clocks.
    pub monitor: crate::monitor::Hub,
}

/// A local subscription.
pub struct Sub {
    pub client: Rc<Client>,
    pub sid: Bytes,
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    /// Auto-unsubscribe after this many deliveries (0 = never).
    pub max: Cell<u64>,
    pub delivered: Cell<u64>,
}

/// Per-peer scratch for one publish.
#[derive(Default)]
pub struct PeerPlan {
    pub wanted: bool,
    pub queues: Vec<Bytes>,
}

/// Reused buffers of the routing path.
#[derive(Default)]
pub struct Scratch {
    pub peers: Vec<PeerPlan>,
    pub expired: Vec<u32>,
}

pub struct Core {
    pub id: usize,
    pub n: usize,
    pub cfg: Config,
    pub shared: Arc<Shared>,
    pub subs: RefCell<Slab<Sub>>,
    pub index: RefCell<Index<u32>>,
    /// Which peer cores want which subjects (key = core id, weight = member count).
    pub summary: RefCell<Index<u16>>,
    pub clients: RefCell<AHashMap<u64, Rc<Client>>>,
    /// Clients with output queued during the current pass.
    pub touched: RefCell<Vec<Rc<Client>>>,
    pub outboxes: Vec<RefCell<Outbox>>,
    tx: RefCell<Vec<Option<Rc<RingTx<Batch>>>>>,
    flusher_ev: Vec<Event>,
    /// Fired when a backlog shrinks: paused readers re-check.
    pub backlog_ev: Event,
    /// Peers an in-progress reader pass handed messages to (bit per core).
    pass_peers: Cell<u128>,
    /// Last barrier sent to the peers (see [`Core::barrier`]).
    sync_seq: Cell<u64>,
    /// The highest barrier a PING waits for (at most `sync_seq + 1`: one is
    /// in flight, the next collects every PING that came after it was sent).
    want_seq: Cell<u64>,
    acked: Vec<Cell<u64>>,
    ack_ev: Event,
    pub stop_ev: Event,
    pub stopping: Cell<bool>,
    /// The reloadable limits in force on this core.
    pub live: Cell<crate::lifecycle::Live>,
    pub seen_reload: Cell<u64>,
    pub lame: crate::lifecycle::LameDuck,
    next_cid: Cell<u64>,
    rng: Cell<u64>,
    pub stats: Stats,
    pub scratch: RefCell<Scratch>,
    /// When the current pass (a read, a ring batch) began: the `last_activity`
    /// deliveries give their subscribers, without reading the clock per message.
    pub now: Cell<Instant>,
    /// Recently closed connections (`/connz?state=closed`), when monitoring is on.
    pub closed: RefCell<crate::monitor::ClosedRing>,
}

impl Core {
    pub fn new(id: usize, n: usize, shared: Arc<Shared>) -> Core {
        let seed = rand::random::<u64>() | 1;
        let live = crate::lifecycle::Live::from(&shared.cfg);
        Core {
            id,
            n,
            cfg: shared.cfg.clone(),
            shared,
            subs: RefCell::new(Slab::new()),
            index: RefCell::new(Index::new()),
            summary: RefCell::new(Index::new()),
            clients: RefCell::default(),
            touched: RefCell::new(Vec::new()),
            outboxes: (0..n).map(|_| RefCell::default()).collect(),
            tx: RefCell::new((0..n).map(|_| None).collect()),
            flusher_ev: (0..n).map(|_| Event::default()).collect(),
            backlog_ev: Event::default(),
            pass_peers: Cell::new(0),
            sync_seq: Cell::new(0),
            want_seq: Cell::new(0),
            acked: (0..n).map(|_| Cell::new(0)).collect(),
            ack_ev: Event::default(),
            stop_ev: Event::default(),
            stopping: Cell::new(false),
            live: Cell::new(live),
            seen_reload: Cell::new(0),
            lame: Default::default(),
            next_cid: Cell::new(id as u64 + 1),
            rng: Cell::new(seed),
            stats: Stats::default(),
            scratch: RefCell::new(Scratch {
                peers: (0..n).map(|_| PeerPlan::default()).collect(),
                expired: Vec::new(),
            }),
            now: Cell::new(Instant::now()),
            closed: RefCell::default(),
        }
    }

    /// Client ids are allocated per core so that `(cid - 1) % cores == core`: the
    /// core that owns a connection is visible from INFO's `client_id`.
    pub fn next_cid(&self) -> u64 {
        let c = self.next_cid.get();
        self.next_cid.set(c + self.n as u64);
        c
    }

    /// A uniform number in `0..n` (xorshift64*; not for secrets).
    pub fn rand(&self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) % n
    }

    pub fn mark_peer(&self, c: usize) {
        self.pass_peers
            .set(self.pass_peers.get() | (1u128 << (c % 128)));
    }

    pub fn take_pass_peers(&self) -> u128 {
        self.pass_peers.replace(0)
    }

    /// Whether any of the given peers' outboxes is backlogged.
    pub fn backlogged(&self, peers: u128) -> bool {
        (0..self.n).any(|c| {
            c != self.id
                && peers & (1u128 << (c % 128)) != 0
                && self.outboxes[c].borrow().is_backlogged()
        })
    }

    /// Ends a pass: outboxes into their rings, touched writers woken once.
    pub fn end_pass(&self) {
        self.flush_outboxes();
        let mut t = self.touched.borrow_mut();
        for c in t.drain(..) {
            c.touched.set(false);
            c.out.borrow_mut().wake();
        }
    }

    fn flush_outboxes(&self) {
        if self.n == 1 {
            return;
        }
        let tx = self.tx.borrow();
        for c in 0..self.n {
            if c == self.id {
                continue;
            }
            let mut ob = self.outboxes[c].borrow_mut();
            if let Some(b) = ob.take_ready() {
                if let Some(tx) = &tx[c] {
                    if let Err(b) = tx.try_send(b) {
                        ob.backlog.push_back(b);
                        Stats::bump(&self.stats.ring_backlogged);
                    }
                }
            }
            if !ob.backlog.is_empty() {
                self.flusher_ev[c].notify();
            }
        }
    }

    /// Records a local interest change for every peer.
    pub fn announce(&self, pattern: &Bytes, queue: &Option<Bytes>, add: bool) {
        if self.n == 1 {
            return;
        }
        for c in 0..self.n {
            if c != self.id {
                self.outboxes[c].borrow_mut().push(Item::Interest {
                    pattern: pattern.clone(),
                    queue: queue.clone(),
                    add,
                });
            }
        }
    }

    /// A barrier with every peer core: a `Sync` to each, then its `Ack`. A peer
    /// answers after applying everything this core sent it before (so our
    /// subscriptions are visible there), and its `Ack` travels behind everything
    /// it had already routed to us (so those messages are queued here first).
    /// A PONG sent after this proves both, as nats-server's single process does.
    ///
    /// Barriers are shared: a PING waits for the first barrier sent after it,
    /// so every PING (of any connection of this core) that arrives while one is
    /// in flight joins the next, which is sent when the one in flight completes.
    /// A core pays one round trip per in-flight period, not one per PING.
    pub async fn barrier(&self) {
        if self.n == 1 {
            return;
        }
        let seq = self.sync_seq.get() + 1;
        self.want_seq.set(self.want_seq.get().max(seq));
        self.start_barrier();
        self.end_pass();
        while !self.barrier_done(seq) {
            self.ack_ev.wait().await;
        }
    }

    fn barrier_done(&self, seq: u64) -> bool {
        (0..self.n).all(|c| c == self.id || self.acked[c].get() >= seq)
    }

    /// Sends the next barrier if a PING waits for it and none is in flight.
    fn start_barrier(&self) {
        let sent = self.sync_seq.get();
        if self.want_seq.get() <= sent || !self.barrier_done(sent) {
            return;
        }
        let seq = sent + 1;
        self.sync_seq.set(seq);
        for c in 0..self.n {
            if c != self.id {
                self.outboxes[c].borrow_mut().push(Item::Sync(seq));
            }
        }
    }

    /// Adds a subscription of `client`. The caller has validated it.
    pub fn add_sub(
        &self,
        client: &Rc<Client>,
        sid: Bytes,
        subject: Bytes,
        queue: Option<Bytes>,
    ) -> u32 {
        let key = self.subs.borrow_mut().insert(Sub {
            client: client.clone(),
            sid: sid.clone(),
            subject: subject.clone(),
            queue: queue.clone(),
            max: Cell::new(0),
            delivered: Cell::new(0),
        }) as u32;
        self.index
            .borrow_mut()
            .insert(&subject, queue.as_deref(), key);
        client.subs.borrow_mut().insert(sid, key);
        client.needs_barrier.set(true);
        self.announce(&subject, &queue, true);
        self.stats.subs_changed(1);
        key
    }

    /// Removes a subscription everywhere (index, its client's sid map, peers),
    /// traced as `<-> [DELSUB sid]`.
    pub fn remove_sub_by_key(&self, key: u32) {
        self.remove_sub(key, crate::trace::on());
    }

    /// [`Core::remove_sub_by_key`], tracing the removal or not (a closing
    /// connection traces its removals after its close line, as nats-server).
    pub fn remove_sub(&self, key: u32, trace: bool) {
        let Some(sub) = self.subs.borrow_mut().try_remove(key as usize) else {
            return;
        };
        if trace {
            crate::trace::delsub(&sub.client, &sub.sid);
        }
        self.index
            .borrow_mut()
            .remove(&sub.subject, sub.queue.as_deref(), key);
        sub.client.subs.borrow_mut().remove(&sub.sid);
        sub.client.needs_barrier.set(true);
        self.announce(&sub.subject, &sub.queue, false);
        self.stats.subs_changed(-1);
    }

    /// Applies one batch from peer `src`.
    fn apply_batch(&self, src: usize, batch: Batch) {
        let Batch { items, queues } = batch;
        for item in items {
            match item {
                Item::Msg {
                    frame,
                    spans,
                    queues: (s, l),
                } => {
                    let q = &queues[s as usize..(s + l) as usize];
                    let m = crate::msg::Msg {
                        frame: &frame,
                        spans,
                    };
                    crate::router::deliver_remote(self, &m, q);
                }
                Item::Interest {
                    pattern,
                    queue,
                    add,
                } => {
                    let mut sm = self.summary.borrow_mut();
                    if add {
                        sm.insert(&pattern, queue.as_deref(), src as u16);
                    } else {
                        sm.remove(&pattern, queue.as_deref(), src as u16);
                    }
                }
                Item::Sync(s) => self.outboxes[src].borrow_mut().push(Item::Ack(s)),
                Item::Ack(s) => {
                    if s > self.acked[src].get() {
                        self.acked[src].set(s);
                    }
                    // The barrier in flight may be complete: send the next one
                    // (end_pass after this batch puts it on the rings).
                    self.start_barrier();
                    self.ack_ev.notify();
                }
            }
        }
    }

    /// Connects this core's ring ends (all at once: each connect waits for its
    /// peer), then starts one drain task per inbound ring and one flusher per
    /// outbound ring.
    pub async fn connect_rings(
        self: &Rc<Self>,
        txs: Vec<(usize, rt::SharedSender<Batch>)>,
        rxs: Vec<(usize, rt::SharedReceiver<Batch>)>,
    ) {
        let tx_tasks: Vec<_> = txs
            .into_iter()
            .map(|(c, s)| (c, rt::spawn_task(RingTx::connect(s))))
            .collect();
        let rx_tasks: Vec<_> = rxs
            .into_iter()
            .map(|(c, r)| (c, rt::spawn_task(RingRx::connect(r))))
            .collect();
        for (c, t) in tx_tasks {
            let tx = Rc::new(t.await);
            self.tx.borrow_mut()[c] = Some(tx.clone());
            let core = self.clone();
            rt::spawn(async move { core.flusher(c, tx).await });
        }
        for (c, t) in rx_tasks {
            let rx = t.await;
            let core = self.clone();
            rt::spawn(async move { core.drain(c, rx).await });
        }
    }

    async fn flusher(self: Rc<Self>, c: usize, tx: Rc<RingTx<Batch>>) {
        loop {
            let next = self.outboxes[c].borrow_mut().backlog.pop_front();
            let Some(b) = next else {
                if self.shared.stop.load(Ordering::Relaxed) && self.clients.borrow().is_empty() {
                    return;
                }
                self.flusher_ev[c].wait().await;
                continue;
            };
            self.outboxes[c].borrow_mut().in_flight = true;
            let _ = tx.send(b).await;
            self.outboxes[c].borrow_mut().in_flight = false;
            self.backlog_ev.notify();
        }
    }

    async fn drain(self: Rc<Self>, src: usize, rx: RingRx<Batch>) {
        let delay = test_ring_delay();
        while let Some(batch) = rx.recv().await {
            if let Some(d) = delay {
                rt::sleep(d).await;
            }
            self.now.set(Instant::now());
            self.apply_batch(src, batch);
            self.end_pass();
            rt::yield_now().await;
        }
    }

    /// The core's clock: keepalive PINGs and stale connections, the stop flag, and
    /// a periodic wake-up so a missed glommio wake-up cannot stall the core long.
    pub async fn ticker(self: Rc<Self>) {
        loop {
            rt::sleep(Duration::from_millis(100)).await;
            if self.shared.stop.load(Ordering::Relaxed) && !self.stopping.get() {
                self.stopping.set(true);
                self.stop_ev.notify();
            }
            let now = Instant::now();
            self.apply_reload();
            self.lame_duck_step(now);
            self.check_pings(now);
            self.serve_monitor_requests();
            self.end_pass();
            if self.stopping.get() && self.clients.borrow().is_empty() {
                return;
            }
        }
    }

    fn check_pings(&self, now: Instant) {
        let live = self.live.get();
        let interval = live.ping_interval;
        let clients: Vec<Rc<Client>> = self.clients.borrow().values().cloned().collect();
        for c in clients {
            let p = &c.ping;
            if now < p.next_at.get() || !c.is_open() {
                continue;
            }
            p.next_at.set(now + interval);
            log::debug!("{} - Client Ping Timer", c.log_prefix());
            let since = now.duration_since(p.last_activity.get());
            if p.rtt_known.get() && since < interval {
                log::debug!(
                    "{} - Delaying PING due to remote client data or ping {} ago",
                    c.log_prefix(),
                    shoal_go::duration(shoal_go::round(since, Duration::from_secs(1)))
                );
                continue;
            }
            if p.outstanding.get() + 1 > live.ping_max {
                c.send(shoal_proto::encode::ERR_STALE_CONNECTION);
                self.stats.stale();
                log::debug!("{} - Stale Client Connection - Closing", c.log_prefix());
                c.close_after_flush(CloseReason::StaleConnection);
                continue;
            }
            p.outstanding.set(p.outstanding.get() + 1);
            p.last_sent.set(now);
            if crate::trace::on() {
                crate::trace::outbound(&c, "PING");
            }
            c.send(shoal_proto::encode::PING);
        }
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

/// A core's main future: bind, connect the rings, report ready, accept until told
/// to stop, then close every connection (flushing, bounded) and return — which
/// ends the executor.
pub async fn run(
    id: usize,
    n: usize,
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    txs: Vec<(usize, rt::SharedSender<Batch>)>,
    rxs: Vec<(usize, rt::SharedReceiver<Batch>)>,
    ready: crossbeam_channel::Sender<Result<(), std::io::Error>>,
) {
    let core = Rc::new(Core::new(id, n, shared));
    let listener = match rt::Listener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    core.connect_rings(txs, rxs).await;
    let _ = ready.send(Ok(()));
    rt::spawn(core.clone().ticker());

    let mut accept_backoff = Duration::from_millis(10);
    loop {
        let next = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            core.stop_ev.wait().await;
            None
        })
        .await;
        match next {
            None => break,
            Some(Ok((rh, wh, peer))) => {
                accept_backoff = Duration::from_millis(10);
                rt::spawn(crate::reader::serve(core.clone(), rh, wh, peer));
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
        if core.stopping.get() || core.lame.closing_from.get().is_some() {
            break;
        }
    }
    drop(listener);
    // Lame duck: the ticker closes the clients over time; wait for the stop.
    while !core.stopping.get() {
        core.stop_ev.wait().await;
    }

    let clients: Vec<Rc<Client>> = core.clients.borrow().values().cloned().collect();
    for c in clients {
        c.close_after_flush(CloseReason::ServerShutdown);
    }
    core.end_pass();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !core.clients.borrow().is_empty() && Instant::now() < deadline {
        futures_lite::future::or(core.stop_ev.wait(), rt::sleep(Duration::from_millis(50))).await;
    }
    let s = &core.stats;
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
