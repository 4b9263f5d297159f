//! idle: connection density, as an edge gateway sees it. `--threads` threads
//! open `--conns` connections between them, each doing what a device's client
//! does on connecting (read INFO, send CONNECT and PING, read PONG) and then
//! nothing. Reports how fast the server took them on (connections per second
//! until the last PONG, and per-connection time percentiles), then holds them
//! open for `--duration` seconds (default 5) so that the caller can read the
//! server's memory, printing `holding <n>` on stderr when all are up.
//!
//! Each connect and read has a 10 s deadline; a failure stops the run with its
//! cause (out of descriptors, refused), never a hang.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::conn::{dial, read_until};
use crate::{Args, Report};

const DEADLINE: Duration = Duration::from_secs(10);

/// One device's connect: INFO, CONNECT + PING, PONG.
fn connect(url: &str) -> std::io::Result<TcpStream> {
    let mut s = dial(url, DEADLINE)?;
    let deadline = Instant::now() + DEADLINE;
    let mut buf = Vec::with_capacity(512);
    read_until(&mut s, &mut buf, b"\r\n", deadline)?;
    s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"rust\",\"version\":\"1\",\"protocol\":1}\r\nPING\r\n")?;
    buf.clear();
    read_until(&mut s, &mut buf, b"PONG\r\n", deadline)?;
    Ok(s)
}

pub fn run(a: &Args, r: &mut Report) {
    let threads = a.threads.max(1);
    let per = (a.conns as usize).div_ceil(threads);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let url = a.url.clone();
            let n = per.min((a.conns as usize).saturating_sub(t * per));
            std::thread::spawn(move || {
                let mut hist = Histogram::<u64>::new(3).expect("histogram");
                let mut held = Vec::with_capacity(n);
                for _ in 0..n {
                    let t0 = Instant::now();
                    match connect(&url) {
                        Ok(s) => held.push(s),
                        Err(e) => return (held, hist, Some(e.to_string())),
                    }
                    let _ = hist.record(t0.elapsed().as_micros() as u64);
                }
                (held, hist, None)
            })
        })
        .collect();
    let mut held = Vec::new();
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let mut error = None;
    for h in handles {
        let (s, th, e) = h.join().expect("connect thread");
        held.extend(s);
        hist.add(th).expect("histogram add");
        error = error.or(e);
    }
    let secs = start.elapsed().as_secs_f64();
    r.num("conns", held.len() as f64);
    r.num("conns_per_s", (held.len() as f64 / secs).round());
    r.num("connect_p50_us", hist.value_at_quantile(0.5) as f64);
    r.num("connect_p99_us", hist.value_at_quantile(0.99) as f64);
    r.num("connect_max_us", hist.max() as f64);
    if let Some(e) = &error {
        r.text("error", e);
    }
    eprintln!("holding {}", held.len());
    std::thread::sleep(a.duration.unwrap_or(Duration::from_secs(5)));
    drop(held);
}
