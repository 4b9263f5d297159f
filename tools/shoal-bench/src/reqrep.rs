//! reqrep: requesters send a request and wait for its reply, one at a time each;
//! responders (one queue group, so each request is answered once) echo the payload
//! to the reply subject. Latency of every round trip goes into an HDR histogram
//! (microsecond resolution); the report gives p50, p90, p99, p99.9 and max.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::conn::Conn;
use crate::scan::parse_num;
use crate::{Args, Report};

/// Answers every request on `svc` until `stop`.
fn responder(mut c: Conn, stop: Arc<AtomicBool>) {
    let _ = c.stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = vec![0u8; 1 << 20];
    let (mut len, mut pos) = (0usize, 0usize);
    let mut out = Vec::with_capacity(1 << 16);
    while !stop.load(Ordering::Relaxed) {
        if buf.len() - len < (1 << 16) {
            buf.copy_within(pos..len, 0);
            len -= pos;
            pos = 0;
            if buf.len() - len < (1 << 16) {
                buf.resize(buf.len() * 2, 0);
            }
        }
        match c.stream.read(&mut buf[len..]) {
            Ok(0) => return,
            Ok(n) => len += n,
            Err(_) => continue,
        }
        while let Some(nl) = memchr::memchr(b'\n', &buf[pos..len]) {
            let line = &buf[pos..pos + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.starts_with(b"PING") {
                out.extend_from_slice(b"PONG\r\n");
                pos += nl + 1;
                continue;
            }
            if !line.starts_with(b"MSG ") {
                pos += nl + 1;
                continue;
            }
            // MSG <subject> <sid> <reply> <size>
            let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
            let (_, _, _, reply, size) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next().unwrap_or_default().to_vec(),
                parse_num(parts.next().unwrap_or_default()),
            );
            let total = nl + 1 + size + 2;
            if len - pos < total {
                break;
            }
            out.extend_from_slice(b"PUB ");
            out.extend_from_slice(&reply);
            out.extend_from_slice(format!(" {size}\r\n").as_bytes());
            out.extend_from_slice(&buf[pos + nl + 1..pos + total]);
            pos += total;
        }
        if !out.is_empty() {
            if c.stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
    }
}

/// Sends requests one at a time until `n` are answered or `until` passes.
fn requester(url: &str, id: usize, size: usize, n: u64, until: Option<Instant>) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut c = Conn::connect(url).expect("requester connects");
    let inbox = format!("_INBOX.bench{}.{id}", std::process::id());
    c.subscribe(&format!("{inbox}.*"), None, 1).expect("inbox");
    let _ = c.stream.set_read_timeout(Some(Duration::from_secs(10)));
    let payload = vec![b'r'; size];
    let mut req = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        if until.map_or(done >= n, |t| Instant::now() >= t) {
            break;
        }
        req.clear();
        req.extend_from_slice(format!("PUB svc {inbox}.{done} {size}\r\n").as_bytes());
        req.extend_from_slice(&payload);
        req.extend_from_slice(b"\r\n");
        let t0 = Instant::now();
        c.stream.write_all(&req).expect("request");
        // Read until this reply's MSG and its payload are in.
        let mut len = 0;
        loop {
            let k = c.stream.read(&mut buf[len..]).expect("reply");
            assert!(k > 0, "server closed the requester");
            len += k;
            if let Some(at) = memchr::memmem::find(&buf[..len], b"MSG ") {
                if let Some(nl) = memchr::memchr(b'\n', &buf[at..len]) {
                    let line = &buf[at..at + nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let sp = memchr::memrchr(b' ', line).unwrap_or(0);
                    let need = at + nl + 1 + parse_num(&line[sp + 1..]) + 2;
                    if len >= need {
                        break;
                    }
                }
            }
        }
        h.record(t0.elapsed().as_micros().max(1) as u64).unwrap();
        done += 1;
    }
    h
}

pub fn run(a: &Args, r: &mut Report) {
    let stop = Arc::new(AtomicBool::new(false));
    let resp: Vec<_> = (0..a.subs.max(1))
        .map(|i| {
            let mut c = Conn::connect(&a.url).expect("responder connects");
            c.subscribe("svc", Some("responders"), i as u32 + 1)
                .expect("svc");
            let stop = stop.clone();
            std::thread::spawn(move || responder(c, stop))
        })
        .collect();
    let until = a.duration.map(|d| Instant::now() + d);
    let per = (a.msgs / a.pubs as u64).max(1);
    let t0 = Instant::now();
    let reqs: Vec<_> = (0..a.pubs)
        .map(|i| {
            let (url, size) = (a.url.clone(), a.size);
            std::thread::spawn(move || requester(&url, i, size, per, until))
        })
        .collect();
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for q in reqs {
        h.add(q.join().unwrap()).unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in resp {
        let _ = t.join();
    }
    r.num("requests", h.len() as f64);
    r.num("req_per_s", (h.len() as f64 / secs).round());
    for (k, q) in [
        ("p50_us", 0.5),
        ("p90_us", 0.9),
        ("p99_us", 0.99),
        ("p999_us", 0.999),
    ] {
        r.num(k, h.value_at_quantile(q) as f64);
    }
    r.num("max_us", h.max() as f64);
}
