//! The cores' half of monitoring: what a core hands the HTTP thread, and how.
//!
//! The HTTP thread never touches a core's state. It posts a [`Request`] in each
//! core's [`Slot`] and waits (bounded) on the slot's condition variable; each
//! core's 100 ms ticker calls [`Core::serve_monitor_requests`], which sees the
//! flag, builds a [`CoreSnapshot`] of plain owned data on the core, and fills the
//! slot. Nothing here runs on the message path: the message path only bumps the
//! `Cell` counters this reads.
//!
//! Closed connections are kept per core in a bounded ring (nats-server's
//! `max_closed_clients`, 10,000, split across the cores), recorded by the
//! reader's clean-up when monitoring is on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use shoal_subject::IndexStats;

use crate::client::{Client, CloseReason};
use crate::core::{Core, Sub};

/// What the HTTP thread wants from each core besides the counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request {
    /// Open connections.
    pub open: bool,
    /// The closed-connection ring.
    pub closed: bool,
    /// Each open connection's subscriptions.
    pub conn_subs: bool,
    /// Every subscription of the core (`/subsz?subs=1`).
    pub all_subs: bool,
}

/// One subscription, as `/connz` and `/subsz` list it.
#[derive(Clone, Debug)]
pub struct SubRecord {
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    pub msgs: u64,
    /// Auto-unsubscribe limit (0 = none).
    pub max: u64,
    pub cid: u64,
}

/// One client connection, open or closed, in wall-clock terms.
#[derive(Clone, Debug)]
pub struct ConnRecord {
    pub cid: u64,
    pub core: usize,
    pub ip: String,
    pub port: u16,
    pub start: SystemTime,
    pub last: SystemTime,
    /// Closed connections: when and why.
    pub stop: Option<(SystemTime, &'static str)>,
    pub rtt: Duration,
    pub pending: usize,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub num_subs: usize,
    pub name: String,
    pub lang: String,
    pub version: String,
    /// Filled for closed connections always, for open ones when asked.
    pub subs: Vec<SubRecord>,
}

/// A core's counters at the time of the snapshot.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub connections: u64,
    pub total_connections: u64,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
    pub stale_connections: u64,
    pub subscriptions: u64,
    pub ring_msgs_out: u64,
    pub ring_msgs_in: u64,
    pub ring_backlogged: u64,
}

/// Everything one core reports for one request; plain owned data (`Send`).
#[derive(Debug, Default)]
pub struct CoreSnapshot {
    pub core: usize,
    pub counters: Counters,
    pub index: IndexStats,
    pub open: Vec<ConnRecord>,
    pub closed: Vec<ConnRecord>,
    pub subs: Vec<SubRecord>,
}

enum SlotState {
    Idle,
    Asked(Request),
    Building,
    Ready(Box<CoreSnapshot>),
}

/// One core's mailbox: the HTTP thread asks, the core's ticker answers.
struct Slot {
    asked: AtomicBool,
    state: Mutex<SlotState>,
    ready: Condvar,
}

/// Monitoring state every core and the HTTP thread share (in `Shared`).
pub struct Hub {
    slots: Vec<Slot>,
    /// Wall clock and monotonic clock read together at boot: turns the cores'
    /// `Instant`s into the wall-clock times the pages show.
    boot_wall: SystemTime,
    boot_instant: Instant,
    /// When the configuration was last loaded (boot, then each reload).
    config_load: Mutex<SystemTime>,
    /// Whether monitoring is on (cores keep closed connections only then).
    pub enabled: bool,
}

impl Hub {
    pub fn new(cores: usize, enabled: bool) -> Hub {
        let boot_wall = SystemTime::now();
        Hub {
            slots: (0..cores)
                .map(|_| Slot {
                    asked: AtomicBool::new(false),
                    state: Mutex::new(SlotState::Idle),
                    ready: Condvar::new(),
                })
                .collect(),
            boot_wall,
            boot_instant: Instant::now(),
            config_load: Mutex::new(boot_wall),
            enabled,
        }
    }

    /// When the server started (`start`, `config_load_time`).
    pub fn boot_wall(&self) -> SystemTime {
        self.boot_wall
    }

    /// Notes a configuration reload (`/varz` `config_load_time`).
    pub fn config_reloaded(&self) {
        *self.config_load.lock().unwrap() = SystemTime::now();
    }

    /// When the configuration was last loaded.
    pub fn config_load_time(&self) -> SystemTime {
        *self.config_load.lock().unwrap()
    }

    /// The wall-clock time of a core's `Instant`.
    pub fn wall(&self, t: Instant) -> SystemTime {
        match t.checked_duration_since(self.boot_instant) {
            Some(d) => self.boot_wall + d,
            None => self.boot_wall - self.boot_instant.duration_since(t),
        }
    }

    /// Asks every core for a snapshot and waits for them (up to `timeout` in
    /// all). A core that does not answer in time is left out.
    pub fn gather(&self, req: Request, timeout: Duration) -> Vec<CoreSnapshot> {
        for slot in &self.slots {
            *slot.state.lock().unwrap() = SlotState::Asked(req);
            slot.asked.store(true, Ordering::Release);
        }
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(self.slots.len());
        for (i, slot) in self.slots.iter().enumerate() {
            let mut st = slot.state.lock().unwrap();
            loop {
                if let SlotState::Ready(_) = *st {
                    if let SlotState::Ready(s) = std::mem::replace(&mut *st, SlotState::Idle) {
                        out.push(*s);
                    }
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    log::debug!("Monitoring: core {i} did not answer in {timeout:?}");
                    *st = SlotState::Idle;
                    slot.asked.store(false, Ordering::Release);
                    break;
                }
                st = slot.ready.wait_timeout(st, left).unwrap().0;
            }
        }
        out
    }
}

impl Core {
    /// Called by the ticker: answers the HTTP thread if it asked this core.
    pub fn serve_monitor_requests(&self) {
        let slot = &self.shared.monitor.slots[self.id];
        if !slot.asked.swap(false, Ordering::AcqRel) {
            return;
        }
        let req = {
            let mut st = slot.state.lock().unwrap();
            match std::mem::replace(&mut *st, SlotState::Building) {
                SlotState::Asked(req) => req,
                other => {
                    *st = other;
                    return;
                }
            }
        };
        // Built without the lock; kept only if the HTTP thread still waits.
        let snap = self.snapshot(req);
        let mut st = slot.state.lock().unwrap();
        if let SlotState::Building = *st {
            *st = SlotState::Ready(Box::new(snap));
            slot.ready.notify_all();
        }
    }

    fn snapshot(&self, req: Request) -> CoreSnapshot {
        let s = &self.stats;
        let clients = self.clients.borrow();
        let counters = Counters {
            connections: clients.len() as u64,
            total_connections: s.total_connections.get(),
            in_msgs: s.in_msgs.get(),
            in_bytes: s.in_bytes.get(),
            out_msgs: s.out_msgs.get(),
            out_bytes: s.out_bytes.get(),
            slow_consumers: s.slow_consumers.get(),
            stale_connections: s.stale_connections.get(),
            subscriptions: s.subscriptions.get().max(0) as u64,
            ring_msgs_out: s.ring_msgs_out.get(),
            ring_msgs_in: s.ring_msgs_in.get(),
            ring_backlogged: s.ring_backlogged.get(),
        };
        let mut snap = CoreSnapshot {
            core: self.id,
            counters,
            index: self.index.borrow().stats(),
            ..Default::default()
        };
        if req.open {
            snap.open = clients
                .values()
                .map(|c| {
                    let subs = if req.conn_subs {
                        sub_records(self, c)
                    } else {
                        Vec::new()
                    };
                    conn_record(self, c, None, subs)
                })
                .collect();
        }
        if req.closed {
            snap.closed = self.closed.borrow().iter().cloned().collect();
        }
        if req.all_subs {
            snap.subs = self
                .subs
                .borrow()
                .iter()
                .map(|(_, sub)| SubRecord::of(sub))
                .collect();
        }
        snap
    }
}

impl SubRecord {
    fn of(sub: &Sub) -> SubRecord {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        SubRecord {
            subject: text(&sub.subject),
            queue: sub.queue.as_deref().map(text),
            sid: text(&sub.sid),
            msgs: sub.delivered.get(),
            max: sub.max.get(),
            cid: sub.client.cid,
        }
    }
}

/// A client's subscriptions, oldest first.
pub fn sub_records(core: &Core, client: &Client) -> Vec<SubRecord> {
    let subs = core.subs.borrow();
    let mut keys: Vec<u32> = client.subs.borrow().values().copied().collect();
    keys.sort_unstable();
    keys.iter()
        .filter_map(|&k| subs.get(k as usize))
        .map(SubRecord::of)
        .collect()
}

fn conn_record(
    core: &Core,
    c: &Client,
    stop: Option<(SystemTime, &'static str)>,
    subs: Vec<SubRecord>,
) -> ConnRecord {
    let hub = &core.shared.monitor;
    ConnRecord {
        cid: c.cid,
        core: core.id,
        ip: c.peer.ip().to_string(),
        port: c.peer.port(),
        start: hub.wall(c.start),
        last: hub.wall(c.last.get()),
        stop,
        rtt: c.rtt.get(),
        pending: c.out.borrow().pending(),
        in_msgs: c.in_msgs.get(),
        out_msgs: c.out_msgs.get(),
        in_bytes: c.in_bytes.get(),
        out_bytes: c.out_bytes.get(),
        num_subs: c.subs.borrow().len(),
        name: c.name.borrow().clone(),
        lang: c.lang.borrow().clone(),
        version: c.version.borrow().clone(),
        subs,
    }
}

/// The subscriptions a closing client still has, for its closed record (empty
/// when monitoring is off). Call before they are removed.
pub fn closing_subs(core: &Core, client: &Client) -> Vec<SubRecord> {
    if !core.shared.monitor.enabled {
        return Vec::new();
    }
    let mut subs = sub_records(core, client);
    // nats-server's closed records carry no auto-unsubscribe limits.
    for s in &mut subs {
        s.max = 0;
    }
    subs
}

/// Keeps a closed connection in the core's ring for `/connz?state=closed`
/// (oldest dropped first). Does nothing when monitoring is off.
pub fn record_closed(core: &Core, client: &Client, reason: CloseReason, subs: Vec<SubRecord>) {
    if !core.shared.monitor.enabled {
        return;
    }
    let stop = core.shared.monitor.wall(Instant::now());
    let mut rec = conn_record(core, client, Some((stop, reason.as_str())), subs);
    rec.num_subs = rec.subs.len();
    rec.pending = 0;
    let cap = closed_capacity(core.cfg.max_closed_clients, core.n);
    keep_bounded(&mut core.closed.borrow_mut(), rec, cap);
}

/// The closed connections one core keeps: its share of `max_closed_clients`.
fn closed_capacity(max_closed_clients: usize, cores: usize) -> usize {
    max_closed_clients.div_ceil(cores.max(1))
}

/// Appends `item`, dropping the oldest entries beyond `cap`.
fn keep_bounded<T>(ring: &mut VecDeque<T>, item: T, cap: usize) {
    while ring.len() >= cap.max(1) {
        ring.pop_front();
    }
    ring.push_back(item);
}

/// The ring type `Core` keeps.
pub type ClosedRing = VecDeque<ConnRecord>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_rings_share_max_closed_clients() {
        assert_eq!(closed_capacity(10_000, 1), 10_000);
        assert_eq!(closed_capacity(10_000, 2), 5_000);
        assert_eq!(closed_capacity(10_000, 3), 3_334);
        assert_eq!(closed_capacity(10_000, 128), 79);
        let mut ring = VecDeque::new();
        for i in 0..10 {
            keep_bounded(&mut ring, i, 4);
        }
        assert_eq!(ring, [6, 7, 8, 9]);
    }

    #[test]
    fn core_instants_become_wall_clock_times() {
        let hub = Hub::new(1, true);
        let later = hub.boot_instant + Duration::from_millis(1500);
        assert_eq!(hub.wall(later), hub.boot_wall + Duration::from_millis(1500));
        assert_eq!(hub.config_load_time(), hub.boot_wall);
        hub.config_reloaded();
        assert!(hub.config_load_time() >= hub.boot_wall);
    }
}
