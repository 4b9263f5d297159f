//! Bare cores: the runtime's cores, registry, links, router and ops built and
//! driven on one thread with no socket, no glommio and no rings — for the unit
//! tests below, the micro-benchmark (`benches/runtime.rs`) and the
//! counting-allocator test (`tests/no_alloc.rs`).
//!
//! A "read pass" is [`Bare::feed`]: the bytes go through the protocol parser
//! and `ops::handle` exactly as the reader's pass sends them, and the pass ends
//! as the reader ends it (outboxes flushed, writers woken). The rings between
//! cores are replaced by [`Bare::pump`], which hands each core's waiting
//! batches to their peer's `router::apply_batch` — the drain a core's ring
//! task runs — until nothing moves. Emptied batches go back through the same
//! return lanes boot wires. What a client was sent is read from its outbound
//! queue ([`Bare::take_output`]).
//!
//! Not part of the API (`#[doc(hidden)]` through `__bench`); never used by the
//! running server.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use shoal_proto::{parse, Limits, Parsed};

use crate::client::Client;
use crate::config::Config;
use crate::core::{Core, Shared};

/// A connection of a bare core (an index into [`Bare`]'s clients).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conn(usize);

/// Cores wired to each other by hand.
pub struct Bare {
    cores: Vec<Rc<Core>>,
    clients: Vec<(usize, Rc<Client>)>,
}

impl Bare {
    /// `n` cores with the default configuration.
    pub fn new(n: usize) -> Bare {
        Bare::with_config(n, Config::default())
    }

    pub fn with_config(n: usize, cfg: Config) -> Bare {
        let info = (cfg.host.clone(), 4222);
        let shared = Arc::new(Shared::new(cfg, "NBARE".into(), info, false));
        let cores: Vec<Rc<Core>> = (0..n)
            .map(|i| Rc::new(Core::new(i, n, shared.clone())))
            .collect();
        // The lanes that bring emptied batches back, as boot wires them.
        let mut to: Vec<Vec<_>> = (0..n).map(|_| Vec::new()).collect();
        let mut from: Vec<Vec<_>> = (0..n).map(|_| Vec::new()).collect();
        for (i, from_i) in from.iter_mut().enumerate() {
            for (j, to_j) in to.iter_mut().enumerate().filter(|&(j, _)| j != i) {
                let (tx, rx) = rtrb::RingBuffer::new(crate::peers::RETURN_SLOTS);
                to_j.push((i, tx));
                from_i.push((j, rx));
            }
        }
        for ((core, to), from) in cores.iter().zip(to).zip(from) {
            core.links().set_return_lanes(to, from);
        }
        Bare {
            cores,
            clients: Vec::new(),
        }
    }

    /// A connected client on `core` (CONNECT with verbose and pedantic off,
    /// headers on, echo on, protocol 1).
    pub fn connect(&mut self, core: usize) -> Conn {
        let c = &self.cores[core];
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_000 + self.clients.len() as u16));
        let client = Rc::new(Client::new(c.next_cid(), peer, c.env().clone(), None));
        let mut o = client.opts.get();
        o.verbose = false;
        o.pedantic = false;
        o.headers = true;
        o.protocol = 1;
        client.opts.set(o);
        client.connected.set(true);
        client.sent_connect_info.set(true);
        c.add_client(client.clone());
        self.clients.push((core, client));
        Conn(self.clients.len() - 1)
    }

    /// One read pass of `conn`: every op in `data` (whole ops only) applied in
    /// order, then the pass ended. A PING that waits for the barrier is
    /// answered once [`Bare::pump`] has carried the barrier both ways.
    pub fn feed(&self, conn: Conn, data: &Bytes) {
        let (core, client) = &self.clients[conn.0];
        let core = &self.cores[*core];
        core.env().now.set(Instant::now());
        core.links().take_pass_peers();
        let mut pass = pin!(run_ops(core, client, data));
        let mut cx = Context::from_waker(Waker::noop());
        while pass.as_mut().poll(&mut cx) == Poll::Pending {
            assert!(self.pump(), "an op waits for something no ring brings");
        }
        core.end_pass();
    }

    /// Carries every waiting batch to its peer until nothing moves. Whether
    /// anything moved.
    pub fn pump(&self) -> bool {
        let mut moved = false;
        loop {
            for c in &self.cores {
                c.end_pass();
            }
            let mut any = false;
            for (src, from) in self.cores.iter().enumerate() {
                for (dst, to) in self.cores.iter().enumerate() {
                    while let Some(batch) = from.links().pop_backlog(dst) {
                        to.env().now.set(Instant::now());
                        crate::router::apply_batch(to, src, batch);
                        any = true;
                    }
                }
            }
            if !any {
                return moved;
            }
            moved = true;
        }
    }

    /// What `conn` has been sent since the last call.
    pub fn take_output(&self, conn: Conn) -> Vec<u8> {
        let mut out = self.clients[conn.0].1.out.borrow_mut();
        out.seal();
        let mut v = Vec::new();
        for s in out.slices() {
            v.extend_from_slice(s);
        }
        out.consume(v.len());
        v
    }

    /// Drops what `conn` has been sent, as a writer that wrote it all would.
    /// Returns the byte count.
    pub fn discard_output(&self, conn: Conn) -> usize {
        let mut out = self.clients[conn.0].1.out.borrow_mut();
        out.seal();
        let n = out.slices().map(<[u8]>::len).sum();
        out.consume(n);
        n
    }

    /// Subscriptions registered on `core`.
    pub fn subscriptions(&self, core: usize) -> usize {
        self.cores[core].registry().sub_keys().len()
    }

    /// Messages delivered to the clients of every core so far.
    pub fn out_msgs(&self) -> u64 {
        self.cores
            .iter()
            .map(|c| c.env().stats.out_msgs.get())
            .sum()
    }

    /// Messages core `core` handed to its peers so far.
    pub fn ring_msgs_out(&self, core: usize) -> u64 {
        self.cores[core].env().stats.ring_msgs_out.get()
    }
}

/// The ops of one pass, as the reader applies them.
async fn run_ops(core: &Rc<Core>, client: &Rc<Client>, data: &Bytes) {
    let live = core.live();
    let limits = Limits {
        max_control_line: live.max_control_line,
        max_payload: live.max_payload,
    };
    let mut at = 0;
    while at < data.len() {
        match parse(&data[at..], &limits, client.opts.get().headers) {
            Ok(Parsed::Op(op, len)) => {
                let r = crate::ops::handle(core, client, data, at, op).await;
                assert!(r.is_ok(), "op at {at} refused: {r:?}");
                at += len;
            }
            other => panic!("a whole op expected at {at}: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn text(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn local_fan_out_reaches_each_matching_subscription_once() {
        let mut w = Bare::new(1);
        let (a, c, p) = (w.connect(0), w.connect(0), w.connect(0));
        w.feed(a, &b("SUB foo 1\r\nSUB foo.* 2\r\nSUB > 3\r\n"));
        w.feed(c, &b("SUB foo 9\r\nSUB bar 8\r\n"));
        w.feed(p, &b("PUB foo 5\r\nhello\r\nPUB foo.x r 2\r\nhi\r\n"));
        // In nats-server's sublist order: `>` at a level before `*`, `*` before
        // the literal token.
        assert_eq!(
            text(w.take_output(a)),
            "MSG foo 3 5\r\nhello\r\nMSG foo 1 5\r\nhello\r\n\
             MSG foo.x 3 r 2\r\nhi\r\nMSG foo.x 2 r 2\r\nhi\r\n"
        );
        assert_eq!(text(w.take_output(c)), "MSG foo 9 5\r\nhello\r\n");
        assert_eq!(w.take_output(p), b"");
    }

    #[test]
    fn a_peer_core_gets_one_batch_per_pass_sharing_one_frame() {
        let mut w = Bare::new(2);
        let (s, p) = (w.connect(1), w.connect(0));
        w.feed(s, &b("SUB foo 1\r\n"));
        assert!(w.pump(), "the interest travels to core 0");
        // One read pass with three messages, two for core 1.
        let core0 = &w.cores[0];
        core0.env().now.set(Instant::now());
        let data = b("PUB foo 1\r\na\r\nPUB bar 1\r\nb\r\nPUB foo 1\r\nc\r\n");
        let mut pass = pin!(run_ops(core0, &w.clients[p.0].1, &data));
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(pass.as_mut().poll(&mut cx), Poll::Ready(()));
        core0.end_pass();
        let batch = core0.links().pop_backlog(1).expect("a batch for core 1");
        assert!(core0.links().pop_backlog(1).is_none(), "one batch per pass");
        assert_eq!(batch.items.len(), 2);
        assert_eq!(batch.frames.len(), 1, "one frame handle for the pass");
        crate::router::apply_batch(&w.cores[1], 0, batch);
        w.cores[1].end_pass();
        assert_eq!(
            text(w.take_output(s)),
            "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nc\r\n"
        );
        assert_eq!(w.ring_msgs_out(0), 2);
    }

    #[test]
    fn queue_groups_deliver_each_message_once_across_cores() {
        let mut w = Bare::new(2);
        let members = [w.connect(0), w.connect(0), w.connect(1), w.connect(1)];
        let plain = w.connect(1);
        let p = w.connect(0);
        for m in members {
            w.feed(m, &b("SUB work q 1\r\n"));
        }
        w.feed(plain, &b("SUB work 7\r\n"));
        w.pump();
        let n = 400;
        let one = "PUB work 1\r\nx\r\n".repeat(n);
        w.feed(p, &b(&one));
        w.pump();
        let got: Vec<usize> = members
            .iter()
            .map(|&m| text(w.take_output(m)).matches("MSG work 1 1").count())
            .collect();
        assert_eq!(
            got.iter().sum::<usize>(),
            n,
            "each message to one member: {got:?}"
        );
        // Both cores' members are chosen, and every member gets a share.
        assert!(got.iter().all(|&g| g > 0), "{got:?}");
        assert_eq!(
            text(w.take_output(plain)).matches("MSG work 7 1").count(),
            n
        );
    }

    /// A queue member that publishes with echo off never gets its own
    /// message; another member does, every time, even on another core
    /// (nats-server tries the next member it can deliver to).
    #[test]
    fn a_queue_publisher_without_echo_hands_its_messages_to_the_other_members() {
        let mut w = Bare::new(2);
        let (p, other) = (w.connect(0), w.connect(1));
        w.feed(
            p,
            &b("CONNECT {\"echo\":false,\"verbose\":false,\"pedantic\":false}\r\nSUB work q 1\r\n"),
        );
        w.feed(other, &b("SUB work q 2\r\n"));
        w.pump();
        let n = 200;
        w.feed(p, &b(&"PUB work 1\r\nx\r\n".repeat(n)));
        w.pump();
        assert_eq!(text(w.take_output(p)), "", "no echo");
        assert_eq!(
            text(w.take_output(other)).matches("MSG work 2 1").count(),
            n,
            "every message to the other member"
        );
    }

    #[test]
    fn unsub_max_stops_delivery_and_withdraws_interest_from_peers() {
        let mut w = Bare::new(2);
        let (s, local, p) = (w.connect(1), w.connect(0), w.connect(0));
        w.feed(s, &b("SUB foo 1\r\nUNSUB 1 2\r\n"));
        w.feed(local, &b("SUB foo 5\r\nUNSUB 5 1\r\n"));
        w.pump();
        w.feed(p, &b(&"PUB foo 1\r\nx\r\n".repeat(3)));
        w.pump();
        assert_eq!(text(w.take_output(local)), "MSG foo 5 1\r\nx\r\n");
        assert_eq!(
            text(w.take_output(s)),
            "MSG foo 1 1\r\nx\r\nMSG foo 1 1\r\nx\r\n"
        );
        assert_eq!((w.subscriptions(0), w.subscriptions(1)), (0, 0));
        // Core 0's summary no longer sends core 1 anything for `foo`.
        let before = w.ring_msgs_out(0);
        w.feed(p, &b("PUB foo 1\r\nx\r\n"));
        assert_eq!(w.ring_msgs_out(0), before);
    }

    #[test]
    fn a_pong_waits_for_the_barrier_and_proves_interest_on_peers() {
        let mut w = Bare::new(2);
        let (s, p, idle) = (w.connect(0), w.connect(1), w.connect(0));
        // SUB then PING: the PONG must not come before core 1 has the interest.
        let core0 = &w.cores[0];
        core0.env().now.set(Instant::now());
        let data = b("SUB foo 1\r\nPING\r\n");
        let mut pass = pin!(run_ops(core0, &w.clients[s.0].1, &data));
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(
            pass.as_mut().poll(&mut cx),
            Poll::Pending,
            "waits for the barrier"
        );
        assert_eq!(w.take_output(s), b"", "no PONG before the barrier");
        assert!(w.pump());
        assert_eq!(pass.as_mut().poll(&mut cx), Poll::Ready(()));
        assert_eq!(text(w.take_output(s)), "PONG\r\n");
        // Core 1 has the interest: its publisher reaches the subscriber.
        w.feed(p, &b("PUB foo 2\r\nok\r\n"));
        w.pump();
        assert_eq!(text(w.take_output(s)), "MSG foo 1 2\r\nok\r\n");
        // A connection with nothing since its last barrier (no interest change,
        // nothing published to or received from a peer) is answered at once.
        let ping = b("PING\r\n");
        let mut pass = pin!(run_ops(core0, &w.clients[idle.0].1, &ping));
        assert_eq!(pass.as_mut().poll(&mut cx), Poll::Ready(()));
        assert_eq!(text(w.take_output(idle)), "PONG\r\n");
    }
}
