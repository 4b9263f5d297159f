//! Runtime micro-benchmarks: publish → deliver on bare cores (no sockets: the
//! parser, ops, router, registry, outbox and ring apply, and the subscriber's
//! outbound queue), the SPSC ring between two cores (items per second by
//! batch size) and the outbound queue's coalescing (ns per message, iovecs and
//! bytes per flush). `cargo bench -p shoal-server`.

use shoal_server::__bench as b;

fn main() {
    println!("publish -> deliver on bare cores (64 messages per read pass)");
    println!(
        "{:>34} {:>8} {:>10} {:>12}",
        "route", "payload", "ns/msg", "msgs/s"
    );
    for (name, route) in [
        ("local, 1 subscriber", b::Route::Local(1)),
        ("local, 10 subscribers", b::Route::Local(10)),
        ("other core, 1 subscriber", b::Route::Remote),
        ("queue group of 4", b::Route::Queue),
        ("unique reply subjects (misses)", b::Route::UniqueReplies),
    ] {
        for size in [16usize, 128] {
            let rounds = if matches!(route, b::Route::UniqueReplies) {
                4
            } else {
                200
            };
            let ns = b::publish_deliver(route, size, rounds);
            println!("{name:>34} {size:>8} {ns:>10.1} {:>12.0}", 1e9 / ns);
        }
    }
    println!();
    println!("ring between two cores");
    println!("{:>8} {:>14}", "batch", "items/s");
    for batch in [1usize, 16, 64, 256] {
        let batches = 2_000_000 / batch;
        println!(
            "{:>8} {:>14.0}",
            batch,
            b::ring_throughput(batches.max(1000), batch)
        );
    }
    println!();
    println!("writer coalescing (push + take + consume, no socket)");
    println!(
        "{:>8} {:>10} {:>10} {:>12} {:>14}",
        "payload", "per flush", "ns/msg", "iovecs/flush", "bytes/flush"
    );
    for size in [16usize, 128, 1024, 65536] {
        for per_flush in [1usize, 64] {
            let n = if size >= 65536 { 20_000 } else { 2_000_000 };
            let (ns, iovs, bytes) = b::writer_coalescing(n, size, per_flush);
            println!("{size:>8} {per_flush:>10} {ns:>10.1} {iovs:>12.1} {bytes:>14.0}");
        }
    }
}
