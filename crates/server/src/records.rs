//! What monitoring reads of a core, as plain owned data (`Send`): a core's
//! counters, its connections (open, and recently closed), its subscriptions,
//! and the clock that turns a core's `Instant`s into the wall-clock times the
//! pages show. Built on the core that owns the state (see `core::snapshot`),
//! read by the monitoring thread; nothing here touches a socket or a core.
//!
//! Closed connections are kept per core in a bounded ring: each core's share
//! of `max_closed_clients`.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use shoal_subject::IndexStats;

/// What a page wants from each core besides the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Open connections.
    pub open: bool,
    /// The closed-connection ring.
    pub closed: bool,
    /// Each open connection's subscriptions.
    pub conn_subs: bool,
    /// Every subscription of the core (`/subsz?subs=1`).
    pub all_subs: bool,
    /// The core's cluster routes (`/routez`; their interest too with
    /// `conn_subs`).
    pub routes: bool,
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
    /// A WebSocket client (`/connz` `type: websocket`).
    pub websocket: bool,
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
    /// Who the connection logged in (or tried to log in) as: nats-server's
    /// `getRawAuthUser` (the user, `[REDACTED]` for a token), empty if none.
    pub user: String,
    /// The account it is in, and its name tag.
    pub account: String,
    pub name_tag: String,
    /// A JWT login: the JWT (none for a bearer token), the key that signed
    /// it, and its tags.
    pub jwt: String,
    pub issuer_key: String,
    pub tags: Vec<String>,
    /// Its TLS (`None`: clear text), and whether it came before INFO.
    /// Shared with the connection: a snapshot copies no certificate.
    pub tls: Option<std::sync::Arc<shoal_tls::SessionInfo>>,
    pub tls_first: bool,
    /// A leaf whose other side is this server's hub (`/leafz` `is_spoke`).
    pub spoke: bool,
    /// A leaf's negotiated compression.
    pub compression: String,
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

/// Everything one core reports for one request.
#[derive(Debug, Default)]
pub struct CoreSnapshot {
    pub core: usize,
    pub counters: Counters,
    pub index: IndexStats,
    pub open: Vec<ConnRecord>,
    pub closed: Vec<ConnRecord>,
    pub subs: Vec<SubRecord>,
    /// The core's registered routes (`remote_id` in `name`).
    pub routes: Vec<ConnRecord>,
    /// The core's registered leaf connections (with `routes`).
    pub leafs: Vec<ConnRecord>,
    /// Per account id.
    pub accounts: Vec<AccountCounters>,
}

/// The wall clock and the monotonic clock read together at boot.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    boot_wall: SystemTime,
    boot_instant: Instant,
}

impl Clock {
    pub fn now() -> Clock {
        Clock {
            boot_wall: SystemTime::now(),
            boot_instant: Instant::now(),
        }
    }

    /// When the server started.
    pub fn boot_wall(&self) -> SystemTime {
        self.boot_wall
    }

    /// The wall-clock time of an `Instant`.
    pub fn wall(&self, t: Instant) -> SystemTime {
        match t.checked_duration_since(self.boot_instant) {
            Some(d) => self.boot_wall + d,
            None => self.boot_wall - self.boot_instant.duration_since(t),
        }
    }
}

/// A core's recently closed connections, oldest first.
#[derive(Default)]
pub struct ClosedRing {
    ring: VecDeque<ConnRecord>,
}

impl ClosedRing {
    /// Appends `rec`, dropping the oldest records beyond this core's share of
    /// `max_closed_clients` (split evenly over `cores`).
    pub fn push(&mut self, rec: ConnRecord, max_closed_clients: usize, cores: usize) {
        let cap = closed_capacity(max_closed_clients, cores);
        while self.ring.len() >= cap.max(1) {
            self.ring.pop_front();
        }
        self.ring.push_back(rec);
    }

    pub fn iter(&self) -> impl Iterator<Item = &ConnRecord> {
        self.ring.iter()
    }
}

/// The closed connections one core keeps: its share of `max_closed_clients`.
fn closed_capacity(max_closed_clients: usize, cores: usize) -> usize {
    max_closed_clients.div_ceil(cores.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cid: u64) -> ConnRecord {
        ConnRecord {
            websocket: false,
            cid,
            core: 0,
            ip: String::new(),
            port: 0,
            start: SystemTime::UNIX_EPOCH,
            last: SystemTime::UNIX_EPOCH,
            stop: None,
            rtt: Duration::ZERO,
            pending: 0,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            num_subs: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            user: String::new(),
            account: "$G".to_string(),
            name_tag: "$G".to_string(),
            jwt: String::new(),
            issuer_key: String::new(),
            tags: Vec::new(),
            tls: None,
            tls_first: false,
            spoke: false,
            compression: String::new(),
            subs: Vec::new(),
        }
    }

    #[test]
    fn closed_rings_share_max_closed_clients() {
        assert_eq!(closed_capacity(10_000, 1), 10_000);
        assert_eq!(closed_capacity(10_000, 2), 5_000);
        assert_eq!(closed_capacity(10_000, 3), 3_334);
        assert_eq!(closed_capacity(10_000, 128), 79);
        let mut ring = ClosedRing::default();
        for i in 0..10 {
            ring.push(rec(i), 8, 2);
        }
        let cids: Vec<u64> = ring.iter().map(|r| r.cid).collect();
        assert_eq!(cids, vec![6, 7, 8, 9]);
    }

    #[test]
    fn wall_clock_follows_instants() {
        let c = Clock::now();
        let later = c.boot_instant + Duration::from_secs(3);
        assert_eq!(c.wall(later), c.boot_wall + Duration::from_secs(3));
        if let Some(earlier) = c.boot_instant.checked_sub(Duration::from_secs(1)) {
            assert_eq!(c.wall(earlier), c.boot_wall - Duration::from_secs(1));
        }
    }
}

/// One account's traffic on one core (`/accstatz`): what its clients
/// published (`received`), what was delivered of it (`sent`), and its slow
/// consumers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountCounters {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
}

/// Where the server's own request subjects start.
pub const SYS_REQ_PREFIX: &[u8] = b"$SYS.REQ.";

/// A request on one of the server's own subjects (`$SYS.REQ.SERVER.PING…`,
/// `$SYS.REQ.SERVER.<id>.…`), as delivered to the system account's internal
/// subscription on core 0, for the monitoring thread to answer.
#[derive(Clone, Debug)]
pub struct SysRequest {
    pub subject: String,
    pub reply: String,
    /// The subscription that matched (its subject pattern), the account the
    /// request was published in, and that account's name.
    pub pattern: String,
    pub account: u16,
    pub account_name: String,
    pub body: Vec<u8>,
}

/// Its answer: `payload`, to publish on `reply` in `account` (the
/// request's, or [`SYSTEM_ACCOUNT`] for the server's own broadcasts).
#[derive(Clone, Debug)]
pub struct SysAnswer {
    pub reply: String,
    pub payload: Vec<u8>,
    pub account: u16,
}

/// A [`SysAnswer::account`] that stands for the system account, whichever
/// id core 0 knows it by (the monitoring thread's heartbeats).
pub const SYSTEM_ACCOUNT: u16 = u16::MAX;
