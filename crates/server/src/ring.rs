//! What crosses between cores, and the per-peer outboxes that batch it.
//!
//! Between every ordered pair of cores there is one bounded SPSC ring of
//! [`Batch`]es (see `peers.rs`). A core appends items for a peer to that peer's
//! [`Outbox`] while it processes a read (or a ring batch of its own), and at the
//! end of the pass the outbox goes into the ring as one batch. Items stay in
//! order: a batch is either sent straight away or queued behind the batches
//! already waiting, and one flusher task per ring sends the waiting ones when
//! the peer has drained room.
//!
//! Nothing here allocates per message: a batch holds each frame handle once per
//! (read pass, peer) — every message of one read shares one frame — and its
//! messages refer to it by index; queue groups travel as the receiving core's
//! interned ids, not names; and emptied batches come back from the peer (a
//! lock-free return lane) to be filled again, vectors and all.
//!
//! Guarantees kept here: a full ring neither drops nor blocks the core (the
//! backlog grows, and the readers that fed it pause until it shrinks); interest
//! changes travel in the same order as the messages around them.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::msg::{Msg, Spans};

/// A queue group's id on the core that subscribed to it (interned there; `0`
/// is never an id, nor is any with [`ROUTE_MEMBER`] set).
pub type QueueId = u32;

/// Set on a queue id a message carries to a peer core: pick one of that
/// core's route members of the group (a cluster peer takes the message),
/// not one of its clients.
pub const ROUTE_MEMBER: QueueId = 1 << 31;

/// One item on a ring.
pub enum Item {
    /// A message for the peer's local subscribers: `frame` indexes
    /// [`Batch::frames`] (the spans are inside that frame); `queues` is a range
    /// of [`Batch::queues`]: the groups (the peer's ids) the publisher's core
    /// picked this core for; the peer chooses one of its own members in each.
    Msg {
        frame: u32,
        spans: Spans,
        queues: (u32, u32),
    },
    /// A subscription was added or removed on the sending core. A queue
    /// subscription carries the group's id on the sending core, by which
    /// peers refer to the group when they route to it. `holder`: a
    /// client's is worth one member; a route's or a leaf's (a connection
    /// on the sending core holds it) is worth `weight`.
    Interest {
        pattern: Bytes,
        queue: Option<(QueueId, Bytes)>,
        add: bool,
        holder: Holder,
        weight: u32,
    },
    /// "Acknowledge when you have applied everything before this."
    Sync(u64),
    /// The answer to [`Item::Sync`].
    Ack(u64),
}

/// Who holds an interest a peer core is told of: a client (worth one
/// member), a route (for a leaf cluster behind the peer when `origin` is
/// set), or a leaf connection (`hub`: this server accepted it; `origin`:
/// the leaf's cluster). Routes and leaves are told different parts of it
/// (see `routes.rs`); the summary counts all of a route's or a leaf's as a
/// link's (`registry::ROUTE_PEER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Client,
    Route { origin: u16 },
    Leaf { hub: bool, origin: u16 },
}

impl Holder {
    /// The holder of a subscription of `client` (`origin`: a route entry's).
    pub fn of(client: &crate::client::Client, origin: u16) -> Holder {
        if client.leaf {
            Holder::Leaf {
                hub: !client.spoke.get(),
                origin: client.leaf_cluster.get(),
            }
        } else if client.route {
            Holder::Route { origin }
        } else {
            Holder::Client
        }
    }

    /// A route's or a leaf's: never a client's.
    pub fn is_link(&self) -> bool {
        *self != Holder::Client
    }
}

/// A batch of items, the frames its messages are slices of, and the queue ids
/// they refer to (side vectors, so a message never allocates).
#[derive(Default)]
pub struct Batch {
    pub items: Vec<Item>,
    pub frames: Vec<Bytes>,
    pub queues: Vec<QueueId>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The message at `items[i]`'s frame and spans, for delivery.
    pub fn msg(&self, frame: u32, spans: Spans) -> Msg<'_> {
        Msg {
            frame: &self.frames[frame as usize],
            spans,
        }
    }

    /// Empties the batch, keeping its vectors' capacity (for reuse).
    pub fn clear(&mut self) {
        self.items.clear();
        self.frames.clear();
        self.queues.clear();
    }
}

/// Waiting batches past which the readers feeding this peer pause.
pub const BACKLOG_PAUSE: usize = 64;

/// Items bound for one peer core.
#[derive(Default)]
pub struct Outbox {
    /// The batch being filled during the current pass.
    cur: Batch,
    /// Batches that found the ring full, oldest first.
    pub backlog: VecDeque<Batch>,
    /// The flusher holds a batch it is waiting to send; nothing may overtake it.
    pub in_flight: bool,
    /// Emptied batches the peer sent back, to fill again.
    spare: Option<rtrb::Consumer<Batch>>,
}

impl Outbox {
    /// Where the peer returns emptied batches.
    pub fn set_spare(&mut self, spare: rtrb::Consumer<Batch>) {
        self.spare = Some(spare);
    }

    pub fn push_msg(&mut self, m: &Msg, queues: &[QueueId]) {
        // Every message of one read pass shares one frame: keep one handle.
        let same = self
            .cur
            .frames
            .last()
            .is_some_and(|f| f.as_ptr() == m.frame.as_ptr() && f.len() == m.frame.len());
        if !same {
            self.cur.frames.push(m.frame.clone());
        }
        let frame = (self.cur.frames.len() - 1) as u32;
        let start = self.cur.queues.len() as u32;
        self.cur.queues.extend_from_slice(queues);
        self.cur.items.push(Item::Msg {
            frame,
            spans: m.spans,
            queues: (start, queues.len() as u32),
        });
    }

    pub fn push(&mut self, item: Item) {
        self.cur.items.push(item);
    }

    /// The batch to send now, if there is one and nothing older is waiting;
    /// otherwise moves it to the backlog and returns `None`. The next batch
    /// starts from a returned one when the peer sent one back.
    pub fn take_ready(&mut self) -> Option<Batch> {
        if self.cur.is_empty() {
            return None;
        }
        let next = self
            .spare
            .as_mut()
            .and_then(|s| s.pop().ok())
            .unwrap_or_default();
        let b = std::mem::replace(&mut self.cur, next);
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

    /// The batch being filled (for tests and the bare-core benchmark).
    #[cfg(test)]
    pub fn current(&self) -> &Batch {
        &self.cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_handle_per_pass_and_peer() {
        let (frame, spans) = crate::msg::sample(16);
        let m = Msg {
            frame: &frame,
            spans,
        };
        let mut o = Outbox::default();
        for _ in 0..100 {
            o.push_msg(&m, &[7]);
        }
        let b = o.take_ready().unwrap();
        assert_eq!(b.items.len(), 100);
        assert_eq!(b.frames.len(), 1, "one handle for the whole pass");
        assert_eq!(b.queues.len(), 100);
        let (other, spans2) = crate::msg::sample(16);
        o.push_msg(&m, &[]);
        o.push_msg(
            &Msg {
                frame: &other,
                spans: spans2,
            },
            &[],
        );
        assert_eq!(o.current().frames.len(), 2);
    }

    #[test]
    fn returned_batches_are_refilled() {
        let (mut tx, rx) = rtrb::RingBuffer::<Batch>::new(4);
        let mut o = Outbox::default();
        o.set_spare(rx);
        let (frame, spans) = crate::msg::sample(16);
        let m = Msg {
            frame: &frame,
            spans,
        };
        for _ in 0..50 {
            o.push_msg(&m, &[]);
        }
        let mut b = o.take_ready().unwrap();
        let cap = b.items.capacity();
        b.clear();
        tx.push(b).ok().unwrap();
        o.push_msg(&m, &[]);
        assert!(o.take_ready().is_some());
        // The batch now being filled is the returned one.
        assert!(o.current().items.capacity() >= cap);
    }
}
