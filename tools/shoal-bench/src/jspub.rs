//! jspub: one publisher streams `--msgs` messages of `--size` bytes into a
//! JetStream stream and counts their PubAcks. `jspub` keeps up to 1024
//! publishes in flight (a client's async publish), `jspub-sync` waits for
//! each ack before the next (a client's `publish().await`). The stream is a
//! file stream unless `SHOAL_BENCH_JS_STORAGE=memory`; it is created before
//! and deleted after the run. Every ack is counted, an error ack fails the
//! run.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::{Args, Report};

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("shoal-bench: jspub: {what}: {e}");
    std::process::exit(1);
}

/// Sends `subject`'s request with `body` and waits for its reply on the
/// `_JB.*` subscription.
fn request(c: &mut Conn, subject: &str, body: &str) -> String {
    c.send(format!("PUB {subject} _JB.r {}\r\n{body}\r\n", body.len()).as_bytes())
        .unwrap_or_else(|e| fail("request", e));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(at) = memchr::memmem::find(&buf, b"MSG _JB.r ") {
            if let Some(end) = memchr::memmem::find(&buf[at..], b"}\r\n") {
                let text = String::from_utf8_lossy(&buf[at..at + end + 1]).into_owned();
                return text;
            }
        }
        if Instant::now() > deadline {
            fail("request", format!("no reply to {subject}"));
        }
        let _ = c.stream.set_read_timeout(Some(Duration::from_secs(1)));
        match c.stream.read(&mut chunk) {
            Ok(0) => fail("request", "closed"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => fail("request", e),
        }
    }
}

pub fn run(a: &Args, r: &mut Report) {
    let window: u64 = if a.scenario == "jspub-sync" { 1 } else { 1024 };
    let storage = std::env::var("SHOAL_BENCH_JS_STORAGE").unwrap_or_else(|_| "file".into());
    let mut c = Conn::connect(&a.url).unwrap_or_else(|e| fail("connect", e));
    c.subscribe("_JB.*", None, 1)
        .unwrap_or_else(|e| fail("subscribe", e));
    let id = std::process::id();
    let (stream, subject) = (format!("BENCH{id}"), format!("bench.js.{id}"));
    let cfg =
        format!("{{\"name\":\"{stream}\",\"subjects\":[\"{subject}\"],\"storage\":\"{storage}\"}}");
    let created = request(&mut c, &format!("$JS.API.STREAM.CREATE.{stream}"), &cfg);
    if created.contains("\"error\"") {
        fail("create", created);
    }
    let payload = vec![b'x'; a.size];
    let mut line = format!("PUB {subject} _JB.a {}\r\n", a.size).into_bytes();
    line.extend_from_slice(&payload);
    line.extend_from_slice(b"\r\n");
    let n = a.msgs;
    let (mut sent, mut acked, mut errors) = (0u64, 0u64, 0u64);
    let mut out = Vec::with_capacity(line.len() * 64);
    let mut chunk = vec![0u8; 1 << 16];
    let mut tail: Vec<u8> = Vec::new();
    let _ = c.stream.set_read_timeout(Some(Duration::from_secs(10)));
    let t0 = Instant::now();
    while acked < n {
        while sent < n && sent - acked < window {
            out.extend_from_slice(&line);
            sent += 1;
            if out.len() >= 32 * 1024 {
                break;
            }
        }
        if !out.is_empty() {
            c.send(&out).unwrap_or_else(|e| fail("publish", e));
            out.clear();
            if sent - acked < window && sent < n {
                continue;
            }
        }
        let got = match c.stream.read(&mut chunk) {
            Ok(0) => fail("acks", "closed"),
            Ok(k) => k,
            Err(e) => fail("acks", e),
        };
        // Count the acks (and errors) in what came, a split marker kept.
        tail.extend_from_slice(&chunk[..got]);
        acked += memchr::memmem::find_iter(&tail, b"\"seq\":").count() as u64;
        errors += memchr::memmem::find_iter(&tail, b"\"error\"").count() as u64;
        let keep = tail.len().saturating_sub(6);
        tail.drain(..keep);
        // A kept tail may hold half a marker only: never a whole one.
        if memchr::memmem::find(&tail, b"\"seq\":").is_some() {
            tail.clear();
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    request(&mut c, &format!("$JS.API.STREAM.DELETE.{stream}"), "");
    r.text("storage", &storage);
    r.num("window", window as f64);
    r.num("msgs", n as f64);
    r.num("acks_per_sec", (n as f64 / secs).round());
    r.num(
        "mb_per_sec",
        ((n as f64 * a.size as f64) / secs / 1e6 * 100.0).round() / 100.0,
    );
    r.num("error_acks", errors as f64);
    if errors > 0 {
        fail("acks", format!("{errors} error acks"));
    }
}
