//! Measurement entry points for `benches/runtime.rs` (not part of the API): the
//! ring between two cores and the outbound queue's coalescing, exercised through
//! the same code the server runs.

use std::time::Instant;

use crate::msg::Msg;
use crate::outbound::Outbound;
use crate::rt;

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
