//! The match path allocates nothing, hit or miss: a counting global allocator
//! watches 10,000 lookups of fresh reply subjects (misses that are never
//! admitted to the cache), hot subjects (hits), and queue-group matches, after
//! one warm-up pass that lets the scratch grow.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use shoal_subject::{Index, MatchScratch};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed through unchanged.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

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
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut fanout = 0;
    for s in &subjects {
        fanout += ix.lookup(s, &mut scratch).plain.len();
        fanout += ix.lookup(b"orders.eu", &mut scratch).groups.len();
        fanout += ix.lookup(b"nobody.home", &mut scratch).plain.len();
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(fanout, 20_000);
    assert_eq!(allocs, 0, "30,000 lookups allocated {allocs} times");
}
