//! Index match cost in ns per lookup, as the server looks up (`Index::lookup`
//! into a scratch reused across lookups): literal and wildcard subscriptions,
//! 10k and 100k subscriptions, with the match cache (hits) and without it (a
//! trie walk every time), and fresh reply subjects under one wildcard (misses
//! never admitted to the cache). `cargo bench -p shoal-subject`.

use std::hint::black_box;
use std::time::Instant;

use shoal_subject::{Index, MatchScratch};

fn build(n: usize, wildcard: bool, cache: usize) -> Index<u32> {
    let mut ix = Index::with_cache_capacity(cache);
    for i in 0..n {
        let p = if wildcard && i % 2 == 1 {
            format!("orders.{}.*.>", i % 1000)
        } else {
            format!("orders.{}.{}.created", i % 1000, i)
        };
        ix.insert(p.as_bytes(), None, i as u32);
    }
    ix
}

fn measure(ix: &mut Index<u32>, subjects: &[Vec<u8>]) -> f64 {
    let rounds = 2_000_000 / subjects.len().max(1);
    let mut scratch = MatchScratch::new();
    let t = Instant::now();
    let mut found = 0usize;
    for _ in 0..rounds {
        for s in subjects {
            found += black_box(ix.lookup(black_box(s), &mut scratch)).plain.len();
        }
    }
    black_box(found);
    t.elapsed().as_nanos() as f64 / (rounds * subjects.len()) as f64
}

fn main() {
    println!(
        "{:>8} {:>9} {:>6} {:>10}",
        "subs", "patterns", "cache", "ns/lookup"
    );
    for n in [10_000usize, 100_000] {
        for wildcard in [false, true] {
            for cache in [4096usize, 0] {
                let mut ix = build(n, wildcard, cache);
                let subjects: Vec<Vec<u8>> = (0..256)
                    .map(|i| {
                        format!("orders.{}.{}.created", (i * 7) % 1000, (i * 7) % n).into_bytes()
                    })
                    .collect();
                let ns = measure(&mut ix, &subjects);
                println!(
                    "{:>8} {:>9} {:>6} {:>10.1}",
                    n,
                    if wildcard { "wildcard" } else { "literal" },
                    if cache > 0 { "on" } else { "off" },
                    ns
                );
            }
        }
    }
    // Request/reply: one `_INBOX.<id>.*` per requester, a fresh reply token
    // per request; every lookup misses and none is admitted.
    for n in [10_000usize, 100_000] {
        let mut ix = build(n, true, 4096);
        for r in 0..100 {
            ix.insert(format!("_INBOX.req{r}.*").as_bytes(), None, (n + r) as u32);
        }
        let subjects: Vec<Vec<u8>> = (0..2_000_000)
            .map(|i| format!("_INBOX.req{}.{i}", i % 100).into_bytes())
            .collect();
        let mut scratch = MatchScratch::new();
        let t = Instant::now();
        let mut found = 0usize;
        for s in &subjects {
            found += black_box(ix.lookup(black_box(s), &mut scratch)).plain.len();
        }
        black_box(found);
        let ns = t.elapsed().as_nanos() as f64 / subjects.len() as f64;
        println!("{n:>8} {:>9} {:>6} {ns:>10.1}", "replies", "miss");
    }
}
