//! Parser throughput (MB/s and ops/s) over buffers of PUBs at several payload
//! sizes, parsed op by op exactly as a reader does. `cargo bench -p shoal-proto`.

use std::hint::black_box;
use std::time::Instant;

use shoal_proto::{parse, Limits, Parsed};

fn buffer(size: usize, n: usize) -> Vec<u8> {
    let mut b = Vec::new();
    let payload = vec![b'x'; size];
    for i in 0..n {
        b.extend_from_slice(
            format!("PUB bench.subject.{} _INBOX.r.{i} {size}\r\n", i % 16).as_bytes(),
        );
        b.extend_from_slice(&payload);
        b.extend_from_slice(b"\r\n");
    }
    b
}

fn main() {
    let limits = Limits {
        max_control_line: 4096,
        max_payload: 1 << 20,
    };
    println!("{:>8} {:>12} {:>12}", "payload", "MB/s", "Mops/s");
    for size in [16usize, 128, 1024, 65536] {
        let n = (64 << 20) / (size + 40);
        let buf = buffer(size, n);
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let mut at = 0;
            let mut ops = 0;
            while at < buf.len() {
                match parse(black_box(&buf[at..]), &limits, true) {
                    Ok(Parsed::Op(op, len)) => {
                        black_box(op);
                        at += len;
                        ops += 1;
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(ops, n);
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{:>8} {:>12.0} {:>12.2}",
            size,
            buf.len() as f64 / best / 1e6,
            n as f64 / best / 1e6
        );
    }
}
