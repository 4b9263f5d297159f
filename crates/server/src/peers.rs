//! A core's links to its peer cores: one outbox per peer (see `ring.rs`), the
//! ring ends, the flusher that sends batches a full ring refused, the lanes
//! that return emptied batches, and the PING barrier.
//!
//! Invariants: items for a peer leave in the order they were pushed (a batch
//! is sent at once only when nothing older waits; otherwise it joins the
//! backlog, which one flusher per ring sends in order); a full ring never
//! blocks the core and never drops: the readers that fed it wait on
//! `backlog_ev` until it shrinks. The barrier's `Sync` travels behind every
//! item pushed before it, and the peer's `Ack` behind everything the peer had
//! pushed to us before it saw the `Sync`.
//!
//! Owns no subscription state: what an incoming batch means (interest,
//! messages) is the router's business; this module hands it over and takes
//! the batch back to return it. Never touches a socket.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::event::Event;
use crate::msg::Msg;
use crate::ring::{Batch, Item, Outbox, QueueId, BACKLOG_PAUSE};
use crate::rt::{self, RingRx, RingTx};
use crate::stats::Stats;

/// Slots of each lane that returns emptied batches to their sender.
pub const RETURN_SLOTS: usize = 64;

pub struct Links {
    id: usize,
    n: usize,
    outboxes: Vec<RefCell<Outbox>>,
    tx: RefCell<Vec<Option<Rc<RingTx<Batch>>>>>,
    /// Per peer: where batches that peer sent us go back to it, emptied.
    returns: Vec<RefCell<Option<rtrb::Producer<Batch>>>>,
    flusher_ev: Vec<Event>,
    /// Fired when a backlog shrinks: paused readers re-check.
    pub backlog_ev: Event,
    /// Peers the current reader pass handed messages to (bit per core).
    pass_peers: Cell<u128>,
    /// Last barrier sent to the peers (see [`Links::barrier`]).
    sync_seq: Cell<u64>,
    /// The highest barrier a PING waits for (at most `sync_seq + 1`: one is
    /// in flight, the next collects every PING that came after it was sent).
    want_seq: Cell<u64>,
    acked: Vec<Cell<u64>>,
    ack_ev: Event,
}

impl Links {
    pub fn new(id: usize, n: usize) -> Links {
        Links {
            id,
            n,
            outboxes: (0..n).map(|_| RefCell::default()).collect(),
            tx: RefCell::new((0..n).map(|_| None).collect()),
            returns: (0..n).map(|_| RefCell::new(None)).collect(),
            flusher_ev: (0..n).map(|_| Event::default()).collect(),
            backlog_ev: Event::default(),
            pass_peers: Cell::new(0),
            sync_seq: Cell::new(0),
            want_seq: Cell::new(0),
            acked: (0..n).map(|_| Cell::new(0)).collect(),
            ack_ev: Event::default(),
        }
    }

    /// Wires the lanes for emptied batches: `to_peer[c]` returns what peer
    /// `c` sent us; `from_peer[c]` brings back what we sent `c`.
    pub fn set_return_lanes(
        &self,
        to_peer: Vec<(usize, rtrb::Producer<Batch>)>,
        from_peer: Vec<(usize, rtrb::Consumer<Batch>)>,
    ) {
        for (c, p) in to_peer {
            *self.returns[c].borrow_mut() = Some(p);
        }
        for (c, r) in from_peer {
            self.outboxes[c].borrow_mut().set_spare(r);
        }
    }

    /// Peer cores other than this one.
    fn peers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.n).filter(move |&c| c != self.id)
    }

    /// Queues a message for peer `c` (its queue groups `queues`).
    pub fn push_msg(&self, c: usize, m: &Msg, queues: &[QueueId]) {
        self.outboxes[c].borrow_mut().push_msg(m, queues);
        self.pass_peers
            .set(self.pass_peers.get() | (1u128 << (c % 128)));
    }

    /// Queues an item for every peer.
    pub fn broadcast(&self, item: impl Fn() -> Item) {
        for c in self.peers() {
            self.outboxes[c].borrow_mut().push(item());
        }
    }

    /// The peers this pass handed messages to, and forget them.
    pub fn take_pass_peers(&self) -> u128 {
        self.pass_peers.replace(0)
    }

    /// Puts back peers taken by [`Links::take_pass_peers`] (a pass that had to
    /// wait resumes with its record).
    pub fn add_pass_peers(&self, peers: u128) {
        self.pass_peers.set(self.pass_peers.get() | peers);
    }

    /// Whether any of the given peers' outboxes is backlogged.
    pub fn backlogged(&self, peers: u128) -> bool {
        self.peers()
            .any(|c| peers & (1u128 << (c % 128)) != 0 && self.outboxes[c].borrow().is_backlogged())
    }

    /// Puts every outbox into its ring as one batch (or its backlog when the
    /// ring is full, or when an older batch still waits).
    pub fn flush(&self, stats: &Stats) {
        if self.n == 1 {
            return;
        }
        let tx = self.tx.borrow();
        for c in self.peers() {
            let mut ob = self.outboxes[c].borrow_mut();
            if let Some(b) = ob.take_ready() {
                match &tx[c] {
                    Some(tx) => {
                        if let Err(b) = tx.try_send(b) {
                            ob.backlog.push_back(b);
                            Stats::bump(&stats.ring_backlogged);
                        }
                    }
                    // Not connected (a bare core in a test): keep it.
                    None => ob.backlog.push_back(b),
                }
            }
            if !ob.backlog.is_empty() {
                self.flusher_ev[c].notify();
            }
        }
    }

    /// Handles a control item from peer `src`: a `Sync` is answered with an
    /// `Ack` (which travels behind everything queued for `src` so far), an
    /// `Ack` may complete the barrier in flight and start the next.
    pub fn on_sync(&self, src: usize, seq: u64) {
        self.outboxes[src].borrow_mut().push(Item::Ack(seq));
    }

    pub fn on_ack(&self, src: usize, seq: u64) {
        if seq > self.acked[src].get() {
            self.acked[src].set(seq);
        }
        self.start_barrier();
        self.ack_ev.notify();
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
    pub async fn barrier(&self, stats: &Stats) {
        if self.n == 1 {
            return;
        }
        let seq = self.sync_seq.get() + 1;
        self.want_seq.set(self.want_seq.get().max(seq));
        self.start_barrier();
        self.flush(stats);
        while !self.barrier_done(seq) {
            self.ack_ev.wait().await;
        }
    }

    fn barrier_done(&self, seq: u64) -> bool {
        self.peers().all(|c| self.acked[c].get() >= seq)
    }

    /// Sends the next barrier if a PING waits for it and none is in flight.
    fn start_barrier(&self) {
        let sent = self.sync_seq.get();
        if self.want_seq.get() <= sent || !self.barrier_done(sent) {
            return;
        }
        let seq = sent + 1;
        self.sync_seq.set(seq);
        for c in self.peers() {
            self.outboxes[c].borrow_mut().push(Item::Sync(seq));
        }
    }

    /// Gives a batch peer `src` sent us back to it, emptied (dropped when its
    /// return lane is full).
    pub fn give_back(&self, src: usize, mut batch: Batch) {
        batch.clear();
        if let Some(lane) = self.returns[src].borrow_mut().as_mut() {
            let _ = lane.push(batch);
        }
    }

    /// Connects this core's ring ends (all at once: each connect waits for its
    /// peer). Returns the receiving ends, one per peer, for the drains.
    pub async fn connect(
        &self,
        txs: Vec<(usize, rt::SharedSender<Batch>)>,
        rxs: Vec<(usize, rt::SharedReceiver<Batch>)>,
    ) -> Vec<(usize, RingRx<Batch>)> {
        let (tx, rx) = rt::connect_rings(txs, rxs).await;
        for (c, t) in tx {
            self.tx.borrow_mut()[c] = Some(Rc::new(t));
        }
        rx
    }

    /// Sends peer `c`'s backlogged batches in order as its ring makes room;
    /// one per ring (glommio keeps a single waker per channel). Returns when
    /// `done` says so, checked whenever the backlog is empty.
    pub async fn flusher(&self, c: usize, done: impl Fn() -> bool) {
        let Some(tx) = self.tx.borrow()[c].clone() else {
            return;
        };
        loop {
            let next = self.outboxes[c].borrow_mut().backlog.pop_front();
            let Some(b) = next else {
                if done() {
                    return;
                }
                self.flusher_ev[c].wait().await;
                continue;
            };
            self.outboxes[c].borrow_mut().in_flight = true;
            let _ = tx.send(b).await;
            let mut o = self.outboxes[c].borrow_mut();
            o.in_flight = false;
            // Paused readers resume once the backlog is down to half the pause
            // mark, not after every batch: waking each of them per batch while
            // it is still full would spend the core's time on re-checks.
            let resume = o.backlog.len() <= BACKLOG_PAUSE / 2;
            drop(o);
            if resume {
                self.backlog_ev.notify();
            }
        }
    }

    /// Takes the oldest batch waiting for peer `c` (a bare core in a test or
    /// the micro-benchmark, whose rings are not connected, delivers by hand).
    pub fn pop_backlog(&self, c: usize) -> Option<Batch> {
        self.outboxes[c].borrow_mut().backlog.pop_front()
    }
}
