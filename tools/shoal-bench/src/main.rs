//! shoal-bench: a small raw-protocol NATS load generator. One publisher thread
//! writes batched `PUB`s; each subscriber thread reads with large buffers and a
//! frame scanner that skips payloads without looking at them, so the client is not
//! the bottleneck. Reports messages per second seen by the subscribers (from the
//! first message to the last) and the publisher's own rate.
//!
//! Usage: shoal-bench <pubsub|fanout> --url HOST:PORT [--msgs N] [--size B] [--subs M]
//!
//! The full harness (every scenario, HDR latencies, JSON output) is its own piece of
//! work; this is the first instrument.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

struct Args {
    scenario: String,
    url: String,
    msgs: usize,
    size: usize,
    subs: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let scenario = it.next().ok_or("missing scenario (pubsub|fanout)")?;
    let mut a = Args {
        subs: if scenario == "fanout" { 4 } else { 1 },
        scenario,
        url: "127.0.0.1:4222".into(),
        msgs: 1_000_000,
        size: 16,
    };
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let num = || {
            v.parse::<usize>()
                .map_err(|_| format!("bad number for {k}: {v}"))
        };
        match k.as_str() {
            "--url" => a.url = v.clone(),
            "--msgs" => a.msgs = num()?,
            "--size" => a.size = num()?,
            "--subs" => a.subs = num()?,
            _ => return Err(format!("unknown flag {k}")),
        }
    }
    if !matches!(a.scenario.as_str(), "pubsub" | "fanout") {
        return Err(format!("unknown scenario {}", a.scenario));
    }
    Ok(a)
}

fn connect(url: &str) -> TcpStream {
    let mut s = TcpStream::connect(url).unwrap_or_else(|e| panic!("connect {url}: {e}"));
    s.set_nodelay(true).unwrap();
    let mut info = [0u8; 4096];
    let _ = s.read(&mut info).unwrap();
    s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .unwrap();
    s
}

/// Sends PING and waits for PONG, skipping anything else.
fn ping(s: &mut TcpStream) {
    s.write_all(b"PING\r\n").unwrap();
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    while !buf.windows(6).any(|w| w == b"PONG\r\n") {
        let n = s.read(&mut b).unwrap();
        assert!(n > 0, "closed");
        buf.extend_from_slice(&b[..n]);
    }
}

/// Reads until `n` MSG frames have arrived; returns (first, last) arrival times.
fn subscriber(mut s: TcpStream, n: usize, ready: Arc<Barrier>) -> (Instant, Instant, usize) {
    s.write_all(b"SUB bench 1\r\n").unwrap();
    ping(&mut s);
    ready.wait();
    let mut buf = vec![0u8; 4 << 20];
    let (mut len, mut pos) = (0usize, 0usize);
    let mut got = 0usize;
    let mut first = None;
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    while got < n {
        if pos > 0 && (buf.len() - len) < (1 << 20) {
            buf.copy_within(pos..len, 0);
            len -= pos;
            pos = 0;
        }
        let k = match s.read(&mut buf[len..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => k,
        };
        first.get_or_insert_with(Instant::now);
        len += k;
        // Frames: "MSG <subject> <sid> <size>\r\n<payload>\r\n" (or PING).
        while let Some(nl) = buf[pos..len].iter().position(|&b| b == b'\n') {
            let line = &buf[pos..pos + nl];
            if line.starts_with(b"PING") {
                pos += nl + 1;
                continue;
            }
            let sp = line.iter().rposition(|&b| b == b' ').unwrap();
            let size: usize = line[sp + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .fold(0, |a, &b| a * 10 + (b - b'0') as usize);
            let total = nl + 1 + size + 2;
            if len - pos < total {
                break;
            }
            pos += total;
            got += 1;
        }
    }
    (first.unwrap_or_else(Instant::now), Instant::now(), got)
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("shoal-bench: {e}\nusage: shoal-bench <pubsub|fanout> --url HOST:PORT [--msgs N] [--size B] [--subs M]");
            std::process::exit(2);
        }
    };
    let ready = Arc::new(Barrier::new(a.subs + 1));
    let subs: Vec<_> = (0..a.subs)
        .map(|_| {
            let s = connect(&a.url);
            let (r, n) = (ready.clone(), a.msgs);
            std::thread::spawn(move || subscriber(s, n, r))
        })
        .collect();
    ready.wait();
    let mut p = connect(&a.url);
    let mut frame = format!("PUB bench {}\r\n", a.size).into_bytes();
    frame.extend(std::iter::repeat_n(b'x', a.size));
    frame.extend_from_slice(b"\r\n");
    let per_batch = (64 * 1024 / frame.len()).max(1);
    let batch: Vec<u8> = frame.repeat(per_batch);
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < a.msgs {
        let k = per_batch.min(a.msgs - sent);
        p.write_all(&batch[..k * frame.len()]).unwrap();
        sent += k;
    }
    ping(&mut p);
    let pub_secs = t0.elapsed().as_secs_f64();
    let mut total = 0usize;
    let mut worst: f64 = 0.0;
    for h in subs {
        let (first, last, got) = h.join().unwrap();
        if got < a.msgs {
            eprintln!("shoal-bench: a subscriber got {got} of {} messages", a.msgs);
        }
        total += got;
        worst = worst.max(last.duration_since(first).as_secs_f64().max(1e-9));
    }
    let sub_rate = total as f64 / worst;
    let line = format!(
        "{{\"scenario\":\"{}\",\"size\":{},\"msgs\":{},\"subs\":{},\"pub_msgs_per_s\":{:.0},\"sub_msgs_per_s\":{:.0},\"received\":{}}}",
        a.scenario,
        a.size,
        a.msgs,
        a.subs,
        a.msgs as f64 / pub_secs,
        sub_rate,
        total
    );
    println!("{line}");
}
