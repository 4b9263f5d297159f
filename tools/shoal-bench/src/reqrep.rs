//! reqrep: requesters send a request and wait for its reply, one at a time each
//! (closed loop); responders (one queue group `q`, so each request is answered
//! once) echo the payload to the reply subject. Latency of every round trip goes
//! into an HDR histogram (microsecond resolution); the report gives the
//! aggregate rate and p50, p90, p99, p99.9 and max over all requesters.
//!
//! `--reqs N` requesters and `--reps M` responders (default 1 and 1). `--reply
//! unique` (default, what modern clients do and what earlier `perf/runs` of
//! `reqrep` measured): each requester subscribes once to `_INBOX.<random id>.*`
//! and names a fresh `_INBOX.<id>.<counter>` per request, so the server sees a
//! new subject every time. `--reply fixed`: each requester subscribes to one
//! inbox subject and every request names it as the reply.
//! Every reply is checked: it must arrive within 5 s, on the subject the request
//! named, with the request's payload (which carries the requester and sequence
//! when it is 12 bytes or more). Late, stray or duplicated replies count as
//! `mismatched`, missing ones as `timeouts`; both make the run fail.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::conn::{Conn, Rng};
use crate::scan::{parse_num, stamp, STAMP};
use crate::{Args, Report};

/// How long a requester waits for one reply before counting it missing.
const REPLY_DEADLINE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    Fixed,
    Unique,
}

impl ReplyMode {
    pub fn parse(s: &str) -> Result<ReplyMode, String> {
        match s {
            "fixed" => Ok(ReplyMode::Fixed),
            "unique" => Ok(ReplyMode::Unique),
            _ => Err(format!("--reply must be fixed or unique, not {s:?}")),
        }
    }
    fn name(self) -> &'static str {
        match self {
            ReplyMode::Fixed => "fixed",
            ReplyMode::Unique => "unique",
        }
    }
}

fn fail(what: &str, e: std::io::Error) -> ! {
    eprintln!("shoal-bench: reqrep: {what}: {e}");
    std::process::exit(1);
}

fn histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

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
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(_) => return,
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
            // MSG <subject> <sid> [reply] <size>
            let parts: Vec<&[u8]> = line
                .split(|&b| b == b' ')
                .filter(|p| !p.is_empty())
                .collect();
            let (reply, size) = match parts.len() {
                5 => (Some(parts[3].to_vec()), parse_num(parts[4])),
                _ => (None, parse_num(parts.last().copied().unwrap_or_default())),
            };
            let total = nl + 1 + size + 2;
            if len - pos < total {
                break;
            }
            if let Some(reply) = reply {
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(&reply);
                out.extend_from_slice(format!(" {size}\r\n").as_bytes());
                out.extend_from_slice(&buf[pos + nl + 1..pos + total]);
            }
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

/// What one requester saw.
struct Outcome {
    hist: Histogram<u64>,
    timeouts: u64,
    mismatched: u64,
    error: Option<String>,
}

/// A requester's connection, subscribed to its inbox before the clock starts.
struct Requester {
    c: Conn,
    id: u32,
    inbox: String,
    mode: ReplyMode,
}

impl Requester {
    fn new(url: &str, id: u32, token: u64, mode: ReplyMode) -> std::io::Result<Requester> {
        let mut c = Conn::connect(url)?;
        let inbox = format!("_INBOX.{token:016x}{id}");
        let sub = match mode {
            ReplyMode::Fixed => inbox.clone(),
            ReplyMode::Unique => format!("{inbox}.*"),
        };
        c.subscribe(&sub, None, 1)?;
        Ok(Requester { c, id, inbox, mode })
    }

    /// Sends requests one at a time until `n` are sent or `until` passes.
    fn run(mut self, size: usize, n: u64, until: Option<Instant>) -> Outcome {
        let mut o = Outcome {
            hist: histogram(),
            timeouts: 0,
            mismatched: 0,
            error: None,
        };
        let s = &mut self.c.stream;
        let mut payload = vec![b'r'; size];
        let mut req = Vec::with_capacity(size + 128);
        let mut buf = vec![0u8; (size + 4096).max(1 << 16)];
        let (mut len, mut pos) = (0usize, 0usize);
        let mut seq = 0u64;
        'requests: loop {
            if until.map_or(seq >= n, |t| Instant::now() >= t) {
                break;
            }
            let reply = match self.mode {
                ReplyMode::Fixed => self.inbox.clone(),
                ReplyMode::Unique => format!("{}.{seq}", self.inbox),
            };
            if size >= STAMP {
                stamp(&mut payload[..STAMP], self.id, seq);
            }
            req.clear();
            req.extend_from_slice(format!("PUB svc {reply} {size}\r\n").as_bytes());
            req.extend_from_slice(&payload);
            req.extend_from_slice(b"\r\n");
            let t0 = Instant::now();
            if let Err(e) = s.write_all(&req) {
                o.error = Some(format!("sending request {seq}: {e}"));
                break;
            }
            seq += 1;
            let deadline = t0 + REPLY_DEADLINE;
            loop {
                // Frames already buffered first: one may be this reply.
                while let Some(nl) = memchr::memchr(b'\n', &buf[pos..len]) {
                    let line = &buf[pos..pos + nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line.starts_with(b"PING") {
                        pos += nl + 1;
                        if let Err(e) = s.write_all(b"PONG\r\n") {
                            o.error = Some(format!("answering PING: {e}"));
                            break 'requests;
                        }
                        continue;
                    }
                    if line.starts_with(b"-ERR") {
                        o.error = Some(String::from_utf8_lossy(line).into_owned());
                        break 'requests;
                    }
                    if !line.starts_with(b"MSG ") {
                        pos += nl + 1;
                        continue;
                    }
                    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
                    let subject = parts.nth(1).unwrap_or_default();
                    let got = parse_num(parts.next_back().unwrap_or_default());
                    let total = nl + 1 + got + 2;
                    if len - pos < total {
                        break; // the rest of this MSG is still to come
                    }
                    let body = &buf[pos + nl + 1..pos + nl + 1 + got];
                    let ok = subject == reply.as_bytes() && body == payload.as_slice();
                    pos += total;
                    if ok {
                        o.hist
                            .record(t0.elapsed().as_micros().max(1) as u64)
                            .expect("latency within histogram bounds");
                        continue 'requests;
                    }
                    o.mismatched += 1;
                }
                if pos > 0 {
                    buf.copy_within(pos..len, 0);
                    len -= pos;
                    pos = 0;
                }
                if len == buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    o.timeouts += 1;
                    continue 'requests;
                }
                let _ = s.set_read_timeout(Some(left));
                match s.read(&mut buf[len..]) {
                    Ok(0) => {
                        o.error = Some("server closed the requester".into());
                        break 'requests;
                    }
                    Ok(k) => len += k,
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                        ) => {}
                    Err(e) => {
                        o.error = Some(format!("reading replies: {e}"));
                        break 'requests;
                    }
                }
            }
        }
        o
    }
}

pub fn run(a: &Args, r: &mut Report) {
    let stop = Arc::new(AtomicBool::new(false));
    let resp: Vec<_> = (0..a.subs.max(1))
        .map(|i| {
            let mut c = Conn::connect(&a.url).unwrap_or_else(|e| fail("responder connects", e));
            c.subscribe("svc", Some("q"), i as u32 + 1)
                .unwrap_or_else(|e| fail("responder subscribes", e));
            let stop = stop.clone();
            std::thread::spawn(move || responder(c, stop))
        })
        .collect();
    let mut rng = Rng::fresh();
    let requesters: Vec<Requester> = (0..a.pubs)
        .map(|i| {
            Requester::new(&a.url, i as u32, rng.next(), a.reply)
                .unwrap_or_else(|e| fail("requester connects", e))
        })
        .collect();
    let until = a.duration.map(|d| Instant::now() + d);
    let per = (a.msgs / a.pubs as u64).max(1);
    let t0 = Instant::now();
    let reqs: Vec<_> = requesters
        .into_iter()
        .map(|q| {
            let size = a.size;
            std::thread::spawn(move || q.run(size, per, until))
        })
        .collect();
    let mut h = histogram();
    let (mut timeouts, mut mismatched, mut failed) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    for q in reqs {
        let o = q.join().expect("requester thread");
        h.add(o.hist).expect("merge histograms");
        timeouts += o.timeouts;
        mismatched += o.mismatched;
        if let Some(e) = o.error {
            failed += 1;
            first_error.get_or_insert(e);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in resp {
        let _ = t.join();
    }
    r.num("reqs", a.pubs as f64);
    r.num("reps", a.subs.max(1) as f64);
    r.text("reply", a.reply.name());
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
    r.num("timeouts", timeouts as f64);
    r.num("mismatched", mismatched as f64);
    r.num("failed_requesters", failed as f64);
    r.num("reply_errors", (timeouts + mismatched + failed) as f64);
    if let Some(e) = first_error {
        r.text("error", &e);
    }
}
