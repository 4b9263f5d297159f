//! cuts: whether clients that vanish in the middle of a frame leave the server
//! able to serve the next one. `--conns` connections from `--threads` threads
//! each send CONNECT and then a `PUB foo <size>` frame cut at a random byte of
//! its control line or of its payload (seeded by `--seed`, so a failure can be
//! replayed), then go away: even-numbered ones with a FIN, odd-numbered ones with
//! a RST. A fresh client then connects and the report says how long INFO took
//! (`info_ms`, `info_ok` if within 2 s) and how long CONNECT + PING took to be
//! answered (`pong_ms`). The same probe runs once before the cuts as a
//! baseline. Every connect, write and read has a deadline, and `--duration`
//! (default 60 s) caps the cutting phase, so a wedged server is reported, not
//! waited on.

use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use crate::conn::{dial, read_until, reset, Rng};
use crate::{Args, Report};

const DEADLINE: Duration = Duration::from_secs(5);
/// INFO later than this counts as not served.
const INFO_OK: Duration = Duration::from_secs(2);
const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

/// What a fresh client saw.
struct Probe {
    /// Time to INFO, or how long it waited without one.
    info: Duration,
    info_arrived: bool,
    /// INFO did not come in the wait, but did come once CONNECT + PING was sent.
    info_late: bool,
    /// Time from CONNECT + PING to PONG, or how long it waited without one.
    pong: Duration,
    pong_arrived: bool,
    error: Option<String>,
}

fn probe(url: &str) -> Probe {
    let t0 = Instant::now();
    let mut p = Probe {
        info: Duration::ZERO,
        info_arrived: false,
        info_late: false,
        pong: Duration::ZERO,
        pong_arrived: false,
        error: None,
    };
    let mut s = match dial(url, DEADLINE) {
        Ok(s) => s,
        Err(e) => {
            p.info = t0.elapsed();
            p.error = Some(format!("connect: {e}"));
            return p;
        }
    };
    let mut buf = Vec::new();
    match read_until(&mut s, &mut buf, b"\r\n", t0 + DEADLINE) {
        Ok(()) => p.info_arrived = buf.starts_with(b"INFO "),
        Err(e) => p.error = Some(format!("waiting for INFO: {e}")),
    }
    p.info = t0.elapsed();
    if p.info_arrived {
        let end = memchr::memmem::find(&buf, b"\r\n").map_or(0, |i| i + 2);
        buf.drain(..end);
    } else {
        buf.clear();
    }
    // CONNECT + PING whether or not INFO came: a server that accepts but never
    // greets may still answer.
    let t1 = Instant::now();
    let r = s
        .write_all(CONNECT)
        .and_then(|()| s.write_all(b"PING\r\n"))
        .and_then(|()| read_until(&mut s, &mut buf, b"PONG\r\n", t1 + DEADLINE));
    p.pong = t1.elapsed();
    p.info_late = !p.info_arrived && buf.starts_with(b"INFO ");
    match r {
        Ok(()) => p.pong_arrived = true,
        Err(e) => {
            p.error.get_or_insert(format!("waiting for PONG: {e}"));
        }
    }
    p
}

#[derive(Default)]
struct Tally {
    done: u64,
    failures: u64,
    in_control: u64,
    in_payload: u64,
    first_error: Option<String>,
}

/// Sends connections `from`, `from + step`, ... below `n` their cut frames.
fn worker(
    url: &str,
    (from, step, n): (u64, u64, u64),
    until: Instant,
    seed: u64,
    size: usize,
) -> Tally {
    let head = format!("PUB foo {size}\r\n").into_bytes();
    let mut frame = CONNECT.to_vec();
    frame.extend_from_slice(&head);
    frame.extend(std::iter::repeat_n(b'x', size));
    frame.extend_from_slice(b"\r\n");
    let (c, h) = (CONNECT.len() as u64, head.len() as u64);
    let body = h + size as u64 + 2; // the PUB frame's length
    let mut t = Tally::default();
    let mut i = from;
    while i < n && Instant::now() < until {
        // One generator per connection, so the cut points do not depend on how
        // connections fall to threads.
        let mut rng = Rng(seed ^ i.wrapping_mul(0xd6e8_feb8_6659_fd93));
        rng.next();
        // Half in the control line (1 ..= h-1 bytes of it), half in the payload
        // and its CRLF (the whole control line and up to all but the last byte).
        let cut = if rng.next() & 1 == 0 {
            t.in_control += 1;
            rng.range(1, h - 1)
        } else {
            t.in_payload += 1;
            rng.range(h, body - 1)
        };
        let sent = dial(url, DEADLINE).and_then(|mut s| {
            s.set_write_timeout(Some(DEADLINE))?;
            s.write_all(&frame[..(c + cut) as usize])?;
            Ok(s)
        });
        match sent {
            Ok(s) if i.is_multiple_of(2) => drop(s),
            Ok(s) => reset(s),
            Err(e) => {
                t.failures += 1;
                let kind = if e.kind() == ErrorKind::TimedOut {
                    "timed out".to_string()
                } else {
                    e.to_string()
                };
                t.first_error
                    .get_or_insert(format!("connection {i} (cut at {cut}): {kind}"));
            }
        }
        t.done += 1;
        i += step;
    }
    t
}

fn report_probe(r: &mut Report, prefix: &str, p: &Probe) {
    let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    r.num(&format!("{prefix}info_ms"), ms(p.info));
    r.text(
        &format!("{prefix}info_ok"),
        if p.info_arrived && p.info <= INFO_OK {
            "yes"
        } else {
            "no"
        },
    );
    if !p.info_arrived {
        r.text(
            &format!("{prefix}info_after_ping"),
            if p.info_late { "yes" } else { "no" },
        );
    }
    r.num(&format!("{prefix}pong_ms"), ms(p.pong));
    r.text(
        &format!("{prefix}pong_ok"),
        if p.pong_arrived { "yes" } else { "no" },
    );
    if let Some(e) = &p.error {
        r.text(&format!("{prefix}probe_error"), e);
    }
}

pub fn run(a: &Args, r: &mut Report) {
    let (n, threads, seed, size) = (a.conns, a.threads.max(1) as u64, a.seed, a.size);
    let before = probe(&a.url);
    let t0 = Instant::now();
    let until = t0 + a.duration.unwrap_or(Duration::from_secs(60));
    let hs: Vec<_> = (0..threads)
        .map(|k| {
            let url = a.url.clone();
            std::thread::spawn(move || worker(&url, (k, threads, n), until, seed, size))
        })
        .collect();
    let mut t = Tally::default();
    for h in hs {
        let o = h.join().expect("cuts thread");
        t.done += o.done;
        t.failures += o.failures;
        t.in_control += o.in_control;
        t.in_payload += o.in_payload;
        t.first_error = t.first_error.or(o.first_error);
    }
    let cut_secs = t0.elapsed().as_secs_f64();
    let after = probe(&a.url);
    r.num("conns", n as f64);
    r.num("threads", threads as f64);
    r.num("seed", seed as f64);
    r.num("conns_done", t.done as f64);
    r.num("cut_in_control", t.in_control as f64);
    r.num("cut_in_payload", t.in_payload as f64);
    r.num("cut_secs", (cut_secs * 1000.0).round() / 1000.0);
    r.num("cut_failures", t.failures as f64);
    if let Some(e) = t.first_error {
        r.text("cut_first_error", &e);
    }
    report_probe(r, "before_", &before);
    report_probe(r, "", &after);
}
