//! What crosses between cores, and the per-peer outboxes that batch it.
//!
//! Between every ordered pair of cores there is one bounded SPSC ring of
//! [`Batch`]es. A core appends items for a peer to that peer's [`Outbox`] while it
//! processes a read (or a ring batch of its own), and at the end of the pass the
//! outbox goes into the ring as one batch. Items stay in order: a batch is either
//! sent straight away or queued behind the batches already waiting, and one
//! flusher task per ring sends the waiting ones when the peer has drained room.
//!
//! Guarantees kept here: one payload handle per (message, destination core); a full
//! ring neither drops nor blocks the core (the backlog grows, and the readers that
//! fed it pause until it shrinks); interest changes travel in the same order as
//! the messages around them.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::msg::{Msg, Spans};

/// One item on a ring.
pub enum Item {
    /// A message for the peer's local subscribers. `queues` indexes
    /// [`Batch::queues`]: the queue groups the publisher's core picked this core
    /// for; the peer chooses one of its own members in each.
    Msg {
        frame: Bytes,
        spans: Spans,
        queues: (u32, u32),
    },
    /// A subscription was added or removed on the sending core.
    Interest {
        pattern: Bytes,
        queue: Option<Bytes>,
        add: bool,
    },
    /// "Acknowledge when you have applied everything before this."
    Sync(u64),
    /// The answer to [`Item::Sync`].
    Ack(u64),
}

/// A batch of items, plus the queue-group names its messages refer to (kept in a
/// side vector so a message never allocates for its queue list).
#[derive(Default)]
pub struct Batch {
    pub items: Vec<Item>,
    pub queues: Vec<Bytes>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Waiting batches past which the readers feeding this peer pause.
pub const BACKLOG_PAUSE: usize = 64;

/// Items bound for one peer core.
#[derive(Default)]
pub struct Outbox {
    /// The batch being filled during the current pass.
    pub cur: Batch,
    /// Batches that found the ring full, oldest first.
    pub backlog: VecDeque<Batch>,
    /// The flusher holds a batch it is waiting to send; nothing may overtake it.
    pub in_flight: bool,
}

impl Outbox {
    pub fn push_msg(&mut self, m: &Msg, queues: &[Bytes]) {
        let start = self.cur.queues.len() as u32;
        self.cur.queues.extend(queues.iter().cloned());
        self.cur.items.push(Item::Msg {
            frame: m.frame.clone(),
            spans: m.spans,
            queues: (start, queues.len() as u32),
        });
    }

    pub fn push(&mut self, item: Item) {
        self.cur.items.push(item);
    }

    /// The batch to send now, if there is one and nothing older is waiting;
    /// otherwise moves it to the backlog and returns `None`.
    pub fn take_ready(&mut self) -> Option<Batch> {
        if self.cur.is_empty() {
            return None;
        }
        let b = std::mem::take(&mut self.cur);
        if self.backlog.is_empty() && !self.in_flight {
            Some(b)
        } else {
            self.backlog.push_back(b);
            None
        }
    }

    pub fn is_backlogged(&self) -> bool {
        self.backlog.len() >= BACKLOG_PAUSE
    }
}
