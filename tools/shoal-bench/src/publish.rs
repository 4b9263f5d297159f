//! The publisher side: batched PUB frames written with one `write_all` per ~64 KiB,
//! each payload stamped with (publisher id, sequence) in place, and the longest
//! single write timed — a publisher stall shows up there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::scan::{stamp, STAMP};

/// When a publisher stops.
#[derive(Clone, Copy)]
pub enum Limit {
    Count(u64),
    Until(Instant),
}

/// End-to-end flow control of the load itself: publishers stay at most `window`
/// messages ahead of the slowest reading subscriber (or, for a queue group, of the
/// group as a whole). Without it a load generator on a small machine measures how
/// fast the server absorbs a burst into subscriber queues until its subscriber
/// thread falls `max_pending` behind and is cut off as a slow consumer (Shoal
/// never slows the publisher down for it; nats-server stalls it). Both servers get
/// the same gate.
pub struct Gate {
    pub sent: Arc<AtomicU64>,
    pub readers: Vec<Arc<AtomicU64>>,
    pub queue_group: bool,
    pub window: u64,
}

impl Gate {
    fn received(&self) -> Option<u64> {
        if self.readers.is_empty() {
            return None;
        }
        let it = self.readers.iter().map(|r| r.load(Ordering::Relaxed));
        Some(if self.queue_group {
            it.sum()
        } else {
            it.min().unwrap_or(0)
        })
    }

    /// Waits while the publishers are more than `window` ahead.
    fn wait(&self) {
        while let Some(recv) = self.received() {
            if self.sent.load(Ordering::Relaxed) <= recv + self.window {
                return;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

pub struct Published {
    pub sent: u64,
    pub secs: f64,
    /// The longest single batched write (the socket refused more for that long).
    pub max_stall: Duration,
}

pub fn publish(
    url: &str,
    subject: &str,
    id: u32,
    size: usize,
    limit: Limit,
    gate: &Gate,
) -> std::io::Result<Published> {
    let mut c = Conn::connect(url)?;
    let head = format!("PUB {subject} {size}\r\n").into_bytes();
    let frame_len = head.len() + size + 2;
    let per_batch = (64 * 1024 / frame_len).clamp(1, 4096);
    let mut batch = Vec::with_capacity(per_batch * frame_len);
    for _ in 0..per_batch {
        batch.extend_from_slice(&head);
        batch.extend(std::iter::repeat_n(b'x', size));
        batch.extend_from_slice(b"\r\n");
    }
    let track = size >= STAMP;
    let mut seq = 0u64;
    let mut max_stall = Duration::ZERO;
    let t0 = Instant::now();
    loop {
        let k = match limit {
            Limit::Count(n) if seq >= n => break,
            Limit::Count(n) => per_batch.min((n - seq) as usize),
            Limit::Until(t) if Instant::now() >= t => break,
            Limit::Until(_) => per_batch,
        };
        if track {
            for i in 0..k {
                let at = i * frame_len + head.len();
                stamp(&mut batch[at..at + STAMP], id, seq + i as u64);
            }
        }
        let w = Instant::now();
        c.send(&batch[..k * frame_len])?;
        max_stall = max_stall.max(w.elapsed());
        seq += k as u64;
        gate.sent.fetch_add(k as u64, Ordering::Relaxed);
        gate.wait();
    }
    // Everything sent has been processed by the server once its PONG arrives.
    c.ping()?;
    Ok(Published {
        sent: seq,
        secs: t0.elapsed().as_secs_f64(),
        max_stall,
    })
}
