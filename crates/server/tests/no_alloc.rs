//! The publish path allocates nothing per message, cache hit or miss: a
//! counting global allocator watches publish → deliver on bare cores (the
//! parser, ops, router, registry lookups, outboxes, the peer's batch apply
//! and the return of emptied batches, the subscribers' outbound queues) after
//! a warm-up that lets scratch vectors and queues reach their size.
//!
//! Covered: local fan-out (cache hits), a subscriber on another core, a queue
//! group, and unique reply subjects under one wildcard (every lookup a miss,
//! none admitted to the cache). The read buffers themselves are built before
//! counting: the reader allocates one per read pass, not per message.

#[path = "../../subject/tests/support/counting_alloc.rs"]
mod counting_alloc;

use shoal_server::__bench::{Route, Scenario};

#[test]
fn publishing_allocates_nothing_per_message() {
    for route in [
        Route::Local(3),
        Route::Remote,
        Route::Queue,
        Route::UniqueReplies,
    ] {
        let s = Scenario::new(route, 128);
        // Warm-up passes four times the counted ones' size, so that every
        // subscriber's queue has reached the size a counted pass needs (a
        // queue member's share of a pass is random).
        let per_pass = 64;
        let warm = s.passes(100, per_pass * 4, 1_000_000);
        let counted = s.passes(100, per_pass, 0);
        s.run(&warm);
        let (sent_before, before) = (s.bare.out_msgs(), counting_alloc::allocations());
        let bytes = s.run(&counted);
        let allocs = counting_alloc::allocations() - before;
        assert!(before > 0, "the counter sees the set-up's allocations");
        let msgs = counted.len() * per_pass;
        let fan_out = if let Route::Local(n) = route { n } else { 1 };
        let delivered = (s.bare.out_msgs() - sent_before) as usize;
        assert_eq!(
            delivered,
            msgs * fan_out,
            "{route:?}: every message delivered"
        );
        assert!(bytes > delivered * 128, "{route:?}: {bytes} bytes written");
        assert_eq!(
            allocs, 0,
            "{route:?}: {allocs} allocations over {msgs} messages"
        );
    }
}
