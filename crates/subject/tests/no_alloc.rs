//! The match path allocates nothing, hit or miss: a counting global allocator
//! watches 10,000 lookups of fresh reply subjects (misses that are never
//! admitted to the cache), hot subjects (hits), and queue-group matches, after
//! one warm-up pass that lets the scratch grow.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use shoal_subject::{Index, MatchScratch};

#[test]
fn lookups_allocate_nothing() {
    let mut ix: Index<u32> = Index::new();
    ix.insert(b"_INBOX.x7Hq.*", None, 1);
    ix.insert(b"orders.>", None, 2);
    ix.insert(b"orders.*", Some(b"workers"), 3);
    ix.insert(b"orders.eu", Some(b"workers"), 4);
    ix.insert(b"orders.eu", None, 5);
    let mut scratch = MatchScratch::new();
    let subjects: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("_INBOX.x7Hq.{i}").into_bytes())
        .collect();
    // Warm up: the hot subjects are admitted, the scratch grows.
    for _ in 0..3 {
        for s in [&b"orders.eu"[..], b"orders.us", b"nobody.home"] {
            let _ = ix.lookup(s, &mut scratch);
        }
    }
    let _ = ix.lookup(b"_INBOX.x7Hq.warm", &mut scratch);
    let before = counting_alloc::allocations();
    let mut fanout = 0;
    for s in &subjects {
        fanout += ix.lookup(s, &mut scratch).plain.len();
        fanout += ix.lookup(b"orders.eu", &mut scratch).groups.len();
        fanout += ix.lookup(b"nobody.home", &mut scratch).plain.len();
    }
    let allocs = counting_alloc::allocations() - before;
    assert_eq!(fanout, 20_000);
    assert_eq!(allocs, 0, "30,000 lookups allocated {allocs} times");
}
