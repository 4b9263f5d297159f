//! churn: how fast the server takes on and lets go of connections, the way real
//! fleets behave (health checks, crash loops, clients that give up). `--conns`
//! connections are opened and closed by `--threads` threads, round-robin over
//! five styles: (a) connect and close at once; (b) connect and reset at once
//! (SO_LINGER 0, so RST); (c) read INFO, then close; (d) `CONNECT {}` + PING,
//! read until PONG, close; (e) CONNECT + SUB + PUB, then reset. Every connect
//! and read has a 5 s deadline, so a server that stops accepting or answering
//! shows up as failures and time, never as a hang; `--duration` (default 60 s)
//! caps the whole run, and the report says how many connections it got through.
//! Reports connections per second over the whole run, per-connection time
//! percentiles (all, and per style) and failures by kind.

use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::conn::{dial, read_until, reset};
use crate::{Args, Report};

const DEADLINE: Duration = Duration::from_secs(5);
const STYLES: [&str; 5] = ["close", "reset", "info", "ping", "pub_reset"];

enum Failure {
    Connect,
    Timeout,
    Other(String),
}

fn classify(e: std::io::Error) -> Failure {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Failure::Timeout,
        _ => Failure::Other(e.to_string()),
    }
}

/// One connection in `style` (an index into STYLES).
fn one(url: &str, style: usize) -> Result<(), Failure> {
    let mut s = dial(url, DEADLINE).map_err(|e| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Failure::Timeout,
        _ => Failure::Connect,
    })?;
    let deadline = Instant::now() + DEADLINE;
    let mut buf = Vec::new();
    match style {
        0 => drop(s),
        1 => reset(s),
        2 => {
            read_until(&mut s, &mut buf, b"\r\n", deadline).map_err(classify)?;
            if !buf.starts_with(b"INFO ") {
                return Err(Failure::Other(format!(
                    "expected INFO, got {:?}",
                    String::from_utf8_lossy(&buf[..buf.len().min(40)])
                )));
            }
        }
        3 => {
            s.write_all(b"CONNECT {}\r\nPING\r\n").map_err(classify)?;
            read_until(&mut s, &mut buf, b"PONG\r\n", deadline).map_err(classify)?;
        }
        _ => {
            s.write_all(b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\n")
                .map_err(classify)?;
            reset(s);
        }
    }
    Ok(())
}

struct Tally {
    done: u64,
    hist: Histogram<u64>,
    /// The same times, per style: which way of leaving costs the server.
    style_hist: Vec<Histogram<u64>>,
    per_style: [u64; 5],
    connect: u64,
    timeouts: u64,
    other: u64,
    first_error: Option<String>,
}

fn worker(url: &str, from: u64, step: u64, n: u64, until: Instant) -> Tally {
    let hist = || Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds");
    let mut t = Tally {
        done: 0,
        hist: hist(),
        style_hist: (0..STYLES.len()).map(|_| hist()).collect(),
        per_style: [0; 5],
        connect: 0,
        timeouts: 0,
        other: 0,
        first_error: None,
    };
    let mut i = from;
    while i < n && Instant::now() < until {
        let style = (i % STYLES.len() as u64) as usize;
        let t0 = Instant::now();
        match one(url, style) {
            Ok(()) => {}
            Err(f) => {
                t.per_style[style] += 1;
                match f {
                    Failure::Connect => t.connect += 1,
                    Failure::Timeout => t.timeouts += 1,
                    Failure::Other(e) => {
                        t.other += 1;
                        t.first_error
                            .get_or_insert(format!("{}: {e}", STYLES[style]));
                    }
                }
            }
        }
        let us = t0.elapsed().as_micros().max(1) as u64;
        let _ = t.hist.record(us);
        let _ = t.style_hist[style].record(us);
        t.done += 1;
        i += step;
    }
    t
}

pub fn run(a: &Args, r: &mut Report) {
    let (n, threads) = (a.conns, a.threads.max(1) as u64);
    let t0 = Instant::now();
    let until = t0 + a.duration.unwrap_or(Duration::from_secs(60));
    let hs: Vec<_> = (0..threads)
        .map(|k| {
            let url = a.url.clone();
            std::thread::spawn(move || worker(&url, k, threads, n, until))
        })
        .collect();
    let mut all: Vec<Tally> = hs
        .into_iter()
        .map(|h| h.join().expect("churn thread"))
        .collect();
    let secs = t0.elapsed().as_secs_f64();
    let mut t = all.remove(0);
    for o in all {
        t.hist.add(&o.hist).expect("merge histograms");
        for (a, b) in t.style_hist.iter_mut().zip(&o.style_hist) {
            a.add(b).expect("merge histograms");
        }
        for (a, b) in t.per_style.iter_mut().zip(o.per_style) {
            *a += b;
        }
        t.done += o.done;
        t.connect += o.connect;
        t.timeouts += o.timeouts;
        t.other += o.other;
        t.first_error = t.first_error.or(o.first_error);
    }
    r.num("conns", n as f64);
    r.num("threads", threads as f64);
    r.num("secs", (secs * 1000.0).round() / 1000.0);
    r.num("conns_done", t.done as f64);
    r.text("complete", if t.done == n { "yes" } else { "no" });
    r.num("conns_per_s", (t.done as f64 / secs).round());
    let ms = |us: u64| (us as f64 / 10.0).round() / 100.0;
    r.num("conn_p50_ms", ms(t.hist.value_at_quantile(0.5)));
    r.num("conn_p99_ms", ms(t.hist.value_at_quantile(0.99)));
    r.num("conn_max_ms", ms(t.hist.max()));
    for (name, h) in STYLES.iter().zip(&t.style_hist) {
        r.num(&format!("p99_ms_{name}"), ms(h.value_at_quantile(0.99)));
    }
    r.num("failures", (t.connect + t.timeouts + t.other) as f64);
    r.num("connect_errors", t.connect as f64);
    r.num("timeouts", t.timeouts as f64);
    r.num("other_errors", t.other as f64);
    for (name, k) in STYLES.iter().zip(t.per_style) {
        if k > 0 {
            r.num(&format!("failures_{name}"), k as f64);
        }
    }
    if let Some(e) = t.first_error {
        r.text("first_error", &e);
    }
}
