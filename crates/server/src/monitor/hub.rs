//! How a page gets each core's snapshot without touching a core: one request
//! channel and one reply channel per core (glommio's shared channels, which
//! wake the receiving executor), between the monitoring executor and each
//! core's agent task.
//!
//! Monitoring side ([`Gatherer`]): a page asks every core with a request id and
//! waits, bounded, for the answers, which one reader task per core files
//! under that id. Core side ([`serve`]): the agent builds the snapshot on the
//! core (plain reads of its state) and answers. Many pages may wait at once;
//! none waits for another, and a core that does not answer in time is left
//! out of that page. Nothing here runs on the message path.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use ahash::AHashMap;

use crate::core::Core;
use crate::event::Event;
use crate::records::{CoreSnapshot, Request};
use crate::rt::{self, RingRx, RingTx, SharedReceiver, SharedSender};

type Ask = (u64, Request);
type Answer = (u64, Box<CoreSnapshot>);

/// Requests waiting per core before a new one is refused (left out).
const DEPTH: usize = 64;

/// A core's ends of its monitoring channels.
pub struct CoreLink {
    requests: SharedReceiver<Ask>,
    replies: SharedSender<Answer>,
}

/// The monitoring executor's ends, one pair per core.
pub struct MonitorLink {
    requests: Vec<SharedSender<Ask>>,
    replies: Vec<SharedReceiver<Answer>>,
}

/// The channels for `cores` cores.
pub fn links(cores: usize) -> (MonitorLink, Vec<CoreLink>) {
    let mut m = MonitorLink {
        requests: Vec::new(),
        replies: Vec::new(),
    };
    let mut c = Vec::new();
    for _ in 0..cores {
        let (req_tx, req_rx) = rt::ring(DEPTH);
        let (rep_tx, rep_rx) = rt::ring(DEPTH);
        m.requests.push(req_tx);
        m.replies.push(rep_rx);
        c.push(CoreLink {
            requests: req_rx,
            replies: rep_tx,
        });
    }
    (m, c)
}

/// A core's agent: answers every request with a snapshot, until the
/// monitoring side goes away.
pub async fn serve(core: Rc<Core>, link: CoreLink) {
    let rx = RingRx::connect(link.requests).await;
    let tx = RingTx::connect(link.replies).await;
    while let Some((id, req)) = rx.recv().await {
        let snap = crate::snapshot::snapshot(&core, req).await;
        if tx.send((id, Box::new(snap))).await.is_err() {
            return;
        }
    }
}

struct Pending {
    snaps: Vec<CoreSnapshot>,
    left: usize,
}

/// The monitoring side.
pub struct Gatherer {
    tx: Vec<RingTx<Ask>>,
    pending: RefCell<AHashMap<u64, Pending>>,
    answered: Event,
    next: Cell<u64>,
}

impl Gatherer {
    /// Connects to every core and starts the reply readers.
    pub async fn connect(link: MonitorLink) -> Rc<Gatherer> {
        let mut tx = Vec::new();
        for s in link.requests {
            tx.push(RingTx::connect(s).await);
        }
        let g = Rc::new(Gatherer {
            tx,
            pending: RefCell::default(),
            answered: Event::default(),
            next: Cell::new(0),
        });
        for r in link.replies {
            let g = g.clone();
            rt::spawn(async move {
                let rx = RingRx::connect(r).await;
                while let Some((id, snap)) = rx.recv().await {
                    if let Some(p) = g.pending.borrow_mut().get_mut(&id) {
                        p.snaps.push(*snap);
                        p.left -= 1;
                    }
                    g.answered.notify();
                }
            });
        }
        g
    }

    /// Every core's snapshot for `req`, in core order; cores that did not
    /// answer within `timeout` are left out.
    pub async fn gather(&self, req: Request, timeout: Duration) -> Vec<CoreSnapshot> {
        let id = self.next.get() + 1;
        self.next.set(id);
        let mut asked = 0;
        for (i, tx) in self.tx.iter().enumerate() {
            match tx.try_send((id, req)) {
                Ok(()) => asked += 1,
                Err(_) => log::debug!("Monitoring: core {i} has too many requests waiting"),
            }
        }
        self.pending.borrow_mut().insert(
            id,
            Pending {
                snaps: Vec::new(),
                left: asked,
            },
        );
        let done = || self.pending.borrow().get(&id).is_none_or(|p| p.left == 0);
        let wait = async {
            while !done() {
                self.answered.wait().await;
            }
        };
        futures_lite::future::or(wait, rt::sleep(timeout)).await;
        let mut snaps = self
            .pending
            .borrow_mut()
            .remove(&id)
            .map(|p| p.snaps)
            .unwrap_or_default();
        if snaps.len() < self.tx.len() {
            log::debug!(
                "Monitoring: {} of {} cores answered in {timeout:?}",
                snaps.len(),
                self.tx.len()
            );
        }
        snaps.sort_by_key(|s| s.core);
        snaps
    }
}
