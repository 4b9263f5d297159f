//! Per-core counters: plain `Cell`s bumped on the owning core, read (later, by
//! monitoring) by asking each core. Never an atomic on the message path.

use std::cell::{Cell, RefCell};

use crate::records::AccountCounters;

#[derive(Default)]
pub struct Stats {
    pub in_msgs: Cell<u64>,
    pub in_bytes: Cell<u64>,
    pub out_msgs: Cell<u64>,
    pub out_bytes: Cell<u64>,
    pub written_bytes: Cell<u64>,
    pub slow_consumers: Cell<u64>,
    pub stale_connections: Cell<u64>,
    pub total_connections: Cell<u64>,
    pub subscriptions: Cell<i64>,
    /// Messages handed to peer cores (one per message and destination core).
    pub ring_msgs_out: Cell<u64>,
    /// Messages received from peer cores.
    pub ring_msgs_in: Cell<u64>,
    /// Batches that found their ring full and waited in a backlog.
    pub ring_backlogged: Cell<u64>,
    /// Per account id (grown when an account first has traffic here).
    pub accounts: RefCell<Vec<AccountCounters>>,
}

impl Stats {
    #[inline]
    pub fn inbound(&self, bytes: usize) {
        self.in_msgs.set(self.in_msgs.get() + 1);
        self.in_bytes.set(self.in_bytes.get() + bytes as u64);
    }
    #[inline]
    pub fn out(&self, bytes: usize) {
        self.out_msgs.set(self.out_msgs.get() + 1);
        self.out_bytes.set(self.out_bytes.get() + bytes as u64);
    }
    /// Account `acc`'s counters (no allocation once the account is known).
    #[inline]
    pub fn account(&self, acc: u16, f: impl FnOnce(&mut AccountCounters)) {
        let mut v = self.accounts.borrow_mut();
        let i = usize::from(acc);
        if v.len() <= i {
            v.resize(i + 1, AccountCounters::default());
        }
        f(&mut v[i]);
    }
    pub fn out_bytes_written(&self, n: usize) {
        self.written_bytes.set(self.written_bytes.get() + n as u64);
    }
    pub fn slow_consumer(&self) {
        self.slow_consumers.set(self.slow_consumers.get() + 1);
    }
    pub fn stale(&self) {
        self.stale_connections.set(self.stale_connections.get() + 1);
    }
    pub fn bump(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }
    pub fn subs_changed(&self, d: i64) {
        self.subscriptions.set(self.subscriptions.get() + d);
    }
}
