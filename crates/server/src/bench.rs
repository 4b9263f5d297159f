//! Measurement entry points for `benches/runtime.rs` and `tests/no_alloc.rs`
//! (not part of the API): the ring between two cores, the outbound queue's
//! coalescing, and publish → deliver on bare cores ([`Bare`]), exercised
//! through the same code the server runs.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::msg::Msg;
use crate::outbound::Outbound;
use crate::rt;
pub use crate::testkit::{Bare, Conn};

/// `per_pass` PUBs of `size` bytes to `subject(i)` for the i-th message of
/// the pass, as one frozen read buffer (as the reader hands a pass's bytes
/// on: a shared handle, so cloning it is a refcount).
pub fn pass(per_pass: usize, size: usize, subject: impl Fn(usize) -> String) -> Bytes {
    let body = "x".repeat(size);
    let mut b = BytesMut::new();
    for i in 0..per_pass {
        b.extend_from_slice(format!("PUB {} {size}\r\n{body}\r\n", subject(i)).as_bytes());
    }
    b.split().freeze()
}

/// A bare-core delivery scenario.
#[derive(Clone, Copy, Debug)]
pub enum Route {
    /// `n` plain subscribers on the publisher's core.
    Local(usize),
    /// One subscriber on another core (both cores' work, on one thread).
    Remote,
    /// A queue group of four members on the publisher's core.
    Queue,
    /// One `_INBOX.<id>.*` subscriber, a fresh reply token per message (every
    /// lookup a cache miss), as request/reply clients do.
    UniqueReplies,
}

/// A scenario set up on bare cores: the publisher and the subscribers.
pub struct Scenario {
    pub bare: Bare,
    pub publisher: Conn,
    pub subscribers: Vec<Conn>,
    route: Route,
    size: usize,
}

impl Scenario {
    pub fn new(route: Route, size: usize) -> Scenario {
        let cores = if matches!(route, Route::Remote) { 2 } else { 1 };
        let mut bare = Bare::new(cores);
        let publisher = bare.connect(0);
        let subs: Vec<(usize, &str)> = match route {
            Route::Local(n) => vec![(0, "SUB bench.x 1\r\n"); n],
            Route::Remote => vec![(1, "SUB bench.x 1\r\n")],
            Route::Queue => vec![(0, "SUB bench.x q 1\r\n"); 4],
            Route::UniqueReplies => vec![(0, "SUB _INBOX.k3Xv9.* 1\r\n")],
        };
        let subscribers = subs
            .into_iter()
            .map(|(core, sub)| {
                let c = bare.connect(core);
                bare.feed(c, &Bytes::from_static(sub.as_bytes()));
                c
            })
            .collect();
        bare.pump();
        Scenario {
            bare,
            publisher,
            subscribers,
            route,
            size,
        }
    }

    /// `count` read passes of `per_pass` messages; unique reply subjects are
    /// numbered from `first`.
    pub fn passes(&self, count: usize, per_pass: usize, first: usize) -> Vec<Bytes> {
        (0..count)
            .map(|p| {
                pass(per_pass, self.size, |i| match self.route {
                    Route::UniqueReplies => format!("_INBOX.k3Xv9.{}", first + p * per_pass + i),
                    _ => "bench.x".to_string(),
                })
            })
            .collect()
    }

    /// Replays `passes`: publish, carry to peers, and let the subscribers'
    /// writers take what they were sent. Returns the bytes delivered.
    pub fn run(&self, passes: &[Bytes]) -> usize {
        let mut delivered = 0;
        for p in passes {
            self.bare.feed(self.publisher, p);
            self.bare.pump();
            for &s in &self.subscribers {
                delivered += self.bare.discard_output(s);
            }
        }
        delivered
    }
}

/// Nanoseconds per published message through bare cores: `rounds` replays
/// of 64 passes of 64 messages (4,096 passes for unique replies, each round's
/// subjects new), after one warm-up replay.
pub fn publish_deliver(route: Route, size: usize, rounds: usize) -> f64 {
    let unique = matches!(route, Route::UniqueReplies);
    let (count, per_pass) = (if unique { 4096 } else { 64 }, 64);
    let s = Scenario::new(route, size);
    std::hint::black_box(s.run(&s.passes(count, per_pass, usize::MAX / 2)));
    let rounds: Vec<Vec<Bytes>> = (0..rounds)
        .map(|r| {
            if unique || r == 0 {
                s.passes(count, per_pass, r * count * per_pass)
            } else {
                Vec::new()
            }
        })
        .collect();
    let t = Instant::now();
    let mut msgs = 0;
    for r in 0..rounds.len() {
        let passes = if unique { &rounds[r] } else { &rounds[0] };
        std::hint::black_box(s.run(passes));
        msgs += passes.len() * per_pass;
    }
    t.elapsed().as_nanos() as f64 / msgs as f64
}

/// Items per second through one ring between two executors, in batches.
pub fn ring_throughput(batches: usize, batch_len: usize) -> f64 {
    let (tx, rx) = rt::ring::<Vec<u64>>(256);
    let t = Instant::now();
    let prod = rt::spawn_core(0, None, move || async move {
        let tx = rt::RingTx::connect(tx).await;
        for b in 0..batches {
            let v: Vec<u64> = (0..batch_len as u64).map(|i| i + b as u64).collect();
            let _ = tx.send(v).await;
        }
    })
    .unwrap();
    let cons = rt::spawn_core(1, None, move || async move {
        let rx = rt::RingRx::connect(rx).await;
        let mut n = 0usize;
        while let Some(v) = rx.recv().await {
            n += v.len();
            std::hint::black_box(&v);
            if n >= batches * batch_len {
                break;
            }
        }
    })
    .unwrap();
    prod.join();
    cons.join();
    (batches * batch_len) as f64 / t.elapsed().as_secs_f64()
}

/// Queues `n` messages of `size` bytes and drains them in flushes of `per_flush`
/// (as a writer woken once per reader pass would). Returns (ns per message,
/// average iovecs per flush, average bytes per flush).
pub fn writer_coalescing(n: usize, size: usize, per_flush: usize) -> (f64, f64, f64) {
    let (frame, spans) = crate::msg::sample(size);
    let m = Msg {
        frame: &frame,
        spans,
    };
    let mut out = Outbound::new();
    let (mut flushes, mut iovs, mut bytes) = (0usize, 0usize, 0usize);
    let t = Instant::now();
    let mut queued = 0;
    while queued < n {
        for _ in 0..per_flush.min(n - queued) {
            out.push_msg(&m, b"1", false, usize::MAX).unwrap();
            queued += 1;
        }
        out.seal();
        let (n, total) = out.slices().fold((0, 0), |(n, t), b| (n + 1, t + b.len()));
        out.consume(total);
        flushes += 1;
        iovs += n;
        bytes += total;
    }
    (
        t.elapsed().as_nanos() as f64 / n as f64,
        iovs as f64 / flushes as f64,
        bytes as f64 / flushes as f64,
    )
}
