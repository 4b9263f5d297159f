//! shoal-bench: a raw-protocol NATS load generator in the spirit of `nats bench`,
//! for Shoal and nats-server alike. Publishers write batched `PUB`s stamped with
//! (publisher, sequence); subscribers scan `MSG` frames in large buffers and check
//! what arrived (lost, duplicated, out of order), so the client is never the
//! bottleneck and never silently wrong.
//!
//! Scenarios: pub, sub, pubsub (N:M on one subject), fanout (1:M), queue (one
//! queue group, exactly-once checked), reqrep (latency percentiles from an HDR
//! histogram; N requesters, M responders, fixed or per-request reply subjects),
//! slowconsumer (the fast subscriber's and the publisher's rates without and
//! with a subscriber that never reads), ping (pipelined PING/PONG on one
//! connection), churn (connections opened and closed in five styles), cuts
//! (clients that vanish mid-frame, then whether a fresh client is served),
//! idle (connection density: connections opened, then held doing nothing).
//! Output: a human table on stderr-free stdout and one JSON line per run
//! (`--json` prints only the JSON).

mod churn;
mod conn;
mod cuts;
mod idle;
mod jspub;
mod ping;
mod publish;
mod reqrep;
mod scan;
mod tls;
mod ws;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conn::Conn;
use publish::{publish, Limit, Published};
use scan::{exactly_once, receive, Received};

const USAGE: &str = "usage: shoal-bench <pub|sub|pubsub|fanout|queue|reqrep|jspub|jspub-sync|slowconsumer|ping|churn|cuts|idle|handshakes> [--url HOST:PORT] [--msgs N] [--size BYTES] [--pubs N] [--subs N] [--duration SECS] [--subject S] [--json]
  reqrep: [--reqs N] [--reps M] [--reply fixed|unique]   (--reqs/--reps are --pubs/--subs)
  ping:   [--msgs N] [--duration SECS, default 30]
  churn:  [--conns N, default 5000] [--threads T, default 4] [--duration SECS cap, default 60]
  idle:   [--conns N, default 5000] [--threads T, default 4] [--duration SECS held, default 5]
  cuts:   [--conns N, default 1000] [--threads T, default 4] [--seed S] [--size BYTES] [--duration SECS cap, default 60]
  handshakes: [--threads T, default 4] [--duration SECS, default 10] (needs SHOAL_BENCH_TLS_CA)
Any scenario speaks TLS with SHOAL_BENCH_TLS_CA=<ca.pem> (and SHOAL_BENCH_TLS_FIRST=1 for handshake_first),
and WebSocket (to a websocket listener's port) with SHOAL_BENCH_WS=1 (SHOAL_BENCH_WS_NO_MASK=1: unmasked frames).";

#[derive(Clone)]
pub struct Args {
    pub scenario: String,
    pub url: String,
    /// Where subscribers connect (another node of a cluster); `None`: `url`.
    pub sub_url: Option<String>,
    pub msgs: u64,
    pub size: usize,
    pub pubs: usize,
    pub subs: usize,
    pub duration: Option<Duration>,
    pub json_only: bool,
    /// Subject to use (default: one unique to this process).
    pub subject: Option<String>,
    /// churn and cuts: connections in all, and the threads that open them.
    pub conns: u64,
    pub threads: usize,
    /// cuts: seeds the cut points.
    pub seed: u64,
    /// reqrep: one reply subject per requester, or a fresh one per request.
    pub reply: reqrep::ReplyMode,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let scenario = it.next().ok_or("missing scenario")?;
    let (pubs, subs) = match scenario.as_str() {
        "pub" => (1, 0),
        "sub" | "pubsub" | "slowconsumer" => (1, 1),
        "fanout" => (1, 4),
        "queue" => (1, 4),
        "reqrep" => (1, 1),
        "jspub" | "jspub-sync" => (1, 0),
        "ping" | "churn" | "cuts" | "idle" | "handshakes" => (1, 0),
        other => return Err(format!("unknown scenario {other:?}")),
    };
    let conns = if scenario == "cuts" { 1000 } else { 5000 };
    let mut a = Args {
        scenario,
        url: "127.0.0.1:4222".into(),
        sub_url: None,
        msgs: 1_000_000,
        size: 128,
        pubs,
        subs,
        duration: None,
        json_only: false,
        subject: None,
        conns,
        threads: 4,
        seed: 1,
        reply: reqrep::ReplyMode::Unique,
    };
    while let Some(k) = it.next() {
        if k == "--json" {
            a.json_only = true;
            continue;
        }
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let num = || {
            v.parse::<u64>()
                .map_err(|_| format!("bad number for {k}: {v:?}"))
        };
        match k.as_str() {
            "--url" => a.url = v.trim_start_matches("nats://").to_string(),
            "--sub-url" => a.sub_url = Some(v.trim_start_matches("nats://").to_string()),
            "--subject" => a.subject = Some(v.clone()),
            "--msgs" => a.msgs = num()?,
            "--size" => a.size = num()? as usize,
            "--pubs" | "--reqs" => a.pubs = num()? as usize,
            "--subs" | "--reps" => a.subs = num()? as usize,
            "--conns" => a.conns = num()?,
            "--threads" => a.threads = num()? as usize,
            "--seed" => a.seed = num()?,
            "--reply" => a.reply = reqrep::ReplyMode::parse(&v)?,
            "--duration" => {
                a.duration = Some(Duration::from_secs_f64(
                    v.parse().map_err(|_| format!("bad duration {v:?}"))?,
                ))
            }
            _ => return Err(format!("unknown flag {k}")),
        }
    }
    if a.pubs == 0 && a.scenario != "sub" {
        return Err("--pubs must be at least 1".into());
    }
    Ok(a)
}

/// One run's figures, printed as a table row and a JSON line.
#[derive(Default)]
pub struct Report {
    pub fields: Vec<(String, String)>,
}

impl Report {
    pub fn num(&mut self, k: &str, v: f64) {
        let s = if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{}", v as i64)
        } else {
            format!("{v:.3}")
        };
        self.fields.push((k.into(), s));
    }
    pub fn text(&mut self, k: &str, v: &str) {
        self.fields.push((k.into(), format!("{v:?}")));
    }
    pub fn json(&self) -> String {
        let body: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        format!("{{{}}}", body.join(","))
    }
}

/// Prints "sent/received" once a second on a terminal.
fn progress_line(sent: Arc<AtomicU64>, readers: Vec<Arc<AtomicU64>>, done: Arc<AtomicBool>) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
            eprint!(
                "\r  sent {:>12}  received {:>12}",
                sent.load(Ordering::Relaxed),
                readers
                    .iter()
                    .map(|r| r.load(Ordering::Relaxed))
                    .sum::<u64>()
            );
        }
        eprint!("\r{:60}\r", "");
    });
}

fn limit(a: &Args) -> Limit {
    match a.duration {
        Some(d) => Limit::Until(Instant::now() + d),
        None => Limit::Count(a.msgs),
    }
}

/// Starts `n` subscribers on `subject` (optionally in a queue group), each
/// confirmed with a round trip before any publisher starts. Returns their threads
/// and one progress counter each.
#[allow(clippy::type_complexity)]
fn subscribers(
    a: &Args,
    subject: &str,
    queue: Option<&str>,
    n: usize,
    expected: &Arc<AtomicU64>,
) -> (Vec<std::thread::JoinHandle<Received>>, Vec<Arc<AtomicU64>>) {
    let track = a.size >= scan::STAMP;
    let mut counters = Vec::new();
    let handles = (0..n)
        .map(|i| {
            let url = a.sub_url.as_deref().unwrap_or(&a.url);
            let mut c = Conn::connect(url).expect("subscriber connects");
            c.subscribe(subject, queue, i as u32 + 1)
                .expect("subscribe");
            if url != a.url {
                // Another node: its interest reaches the publishers' node
                // asynchronously, over the route.
                conn::await_interest(&mut c, &a.url, &format!("{subject}.probe.{i}"))
                    .expect("the subscriber's interest reaches the publishers' node");
            }
            let progress = Arc::new(AtomicU64::new(0));
            counters.push(progress.clone());
            let e = expected.clone();
            std::thread::spawn(move || {
                receive(c.stream, e, progress, Duration::from_secs(10), track)
            })
        })
        .collect();
    (handles, counters)
}

/// The publishers' flow-control window, in messages (about 8 MiB of payload).
fn window(size: usize) -> u64 {
    ((8 << 20) / size.max(1)).max(64) as u64
}

fn publishers(a: &Args, subject: &str, gate: &Arc<publish::Gate>) -> Vec<Published> {
    let lim = limit(a);
    let handles: Vec<_> = (0..a.pubs)
        .map(|i| {
            let (url, subject, gate, size) =
                (a.url.clone(), subject.to_string(), gate.clone(), a.size);
            std::thread::spawn(move || publish(&url, &subject, i as u32, size, lim, &gate))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("publisher"))
        .collect()
}

/// pub, sub, pubsub, fanout and queue: publishers on one subject, subscribers
/// (plain or one queue group) on it.
fn run_flow(a: &Args, r: &mut Report) {
    let subject = a
        .subject
        .clone()
        .unwrap_or_else(|| format!("bench.{}", std::process::id()));
    let queue = (a.scenario == "queue").then_some("q");
    let (sent, expected) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let done = Arc::new(AtomicBool::new(false));
    let (subs, readers) = subscribers(a, &subject, queue, a.subs, &expected);
    progress_line(sent.clone(), readers.clone(), done.clone());
    let gate = Arc::new(publish::Gate {
        sent: sent.clone(),
        readers: readers.clone(),
        queue_group: queue.is_some(),
        window: window(a.size),
    });
    let pubs = publishers(a, &subject, &gate);
    let recv_total = || {
        readers
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let total_sent: u64 = pubs.iter().map(|p| p.sent).sum();
    // Plain subscribers each expect everything; a queue group splits it, so each
    // member stops when the group as a whole has it all (or goes idle).
    let per_sub = if queue.is_some() {
        u64::MAX
    } else {
        total_sent
    };
    expected.store(per_sub.max(1), Ordering::Relaxed);
    let mut got: Vec<Received> = Vec::new();
    if queue.is_some() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while recv_total() < total_sent && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        expected.store(1, Ordering::Relaxed); // every member has ≥ 1 or idles out
    }
    for h in subs {
        got.push(h.join().unwrap());
    }
    done.store(true, Ordering::Relaxed);

    let pub_secs = pubs.iter().map(|p| p.secs).fold(0.0, f64::max);
    let pub_rate = total_sent as f64 / pub_secs;
    let received: u64 = got.iter().map(|g| g.msgs).sum();
    let first = got.iter().filter_map(|g| g.first).min();
    let last = got.iter().filter_map(|g| g.last).max();
    let sub_secs = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64().max(1e-9),
        _ => 0.0,
    };
    let sub_rate = if sub_secs > 0.0 {
        received as f64 / sub_secs
    } else {
        0.0
    };
    let sent_per_pub: Vec<u64> = pubs.iter().map(|p| p.sent).collect();
    let track = a.size >= scan::STAMP;
    let (lost, dups, ooo) = if queue.is_some() {
        let (_, d, m) = exactly_once(&got, &sent_per_pub);
        (m, d + got.iter().map(|g| g.duplicates).sum::<u64>(), 0)
    } else if a.subs > 0 {
        let mut lost = 0;
        for g in &got {
            let (_, _, m) = exactly_once(std::slice::from_ref(g), &sent_per_pub);
            lost += if track {
                m
            } else {
                total_sent.saturating_sub(g.msgs)
            };
        }
        (
            lost,
            got.iter().map(|g| g.duplicates).sum(),
            got.iter().map(|g| g.out_of_order).sum(),
        )
    } else {
        (0, 0, 0)
    };
    r.num("sent", total_sent as f64);
    r.num("received", received as f64);
    r.num("pub_msgs_per_s", pub_rate.round());
    r.num("sub_msgs_per_s", sub_rate.round());
    let rate = if a.subs > 0 { sub_rate } else { pub_rate };
    r.num(
        "mb_per_s",
        (rate * a.size as f64 / 1e6 * 100.0).round() / 100.0,
    );
    r.num("lost", lost as f64);
    r.num("duplicates", dups as f64);
    r.num("out_of_order", ooo as f64);
    r.num(
        "max_pub_stall_ms",
        pubs.iter()
            .map(|p| p.max_stall.as_secs_f64() * 1e3)
            .fold(0.0, f64::max)
            .round(),
    );
}

/// slowconsumer: one publisher and one fast subscriber, first alone, then with a
/// subscriber that subscribes and never reads. A third phase adds a second
/// subscriber that does read, to separate the cost of serving a second subscriber
/// at all from harm done by a stalled one.
fn run_slow(a: &Args, r: &mut Report) {
    let phase = |with_stalled: bool, second_reader: bool| -> (f64, f64, Duration, Option<bool>) {
        let subject = format!("slow.{}.{with_stalled}.{second_reader}", std::process::id());
        let (sent, expected) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let stalled: Option<tls::Stream> = with_stalled.then(|| {
            let mut c = Conn::connect(&a.url).expect("stalled subscriber connects");
            c.subscribe(&subject, None, 1).expect("subscribe");
            c.stream
        });
        let (fast, readers) = subscribers(a, &subject, None, 1 + second_reader as usize, &expected);
        // Only readers gate the publisher; the stalled subscriber never does.
        let gate = Arc::new(publish::Gate {
            sent: sent.clone(),
            readers,
            queue_group: false,
            window: window(a.size),
        });
        let pubs = publishers(a, &subject, &gate);
        let total: u64 = pubs.iter().map(|p| p.sent).sum();
        expected.store(total, Ordering::Relaxed);
        let mut all: Vec<Received> = fast.into_iter().map(|h| h.join().unwrap()).collect();
        let got = all.swap_remove(0);
        let secs = match (got.first, got.last) {
            (Some(f), Some(l)) => l.duration_since(f).as_secs_f64().max(1e-9),
            _ => f64::INFINITY,
        };
        let cut = stalled.map(|mut s| {
            // Cut off means the server closed it: reading drains what its socket
            // held, then ends in EOF or a reset rather than waiting for more.
            use std::io::Read;
            let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
            let mut b = vec![0u8; 1 << 20];
            loop {
                match s.read(&mut b) {
                    Ok(0) => break true,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                    Err(_) => break false,
                }
            }
        });
        (
            got.msgs as f64 / secs,
            total as f64 / pubs[0].secs,
            pubs[0].max_stall,
            cut,
        )
    };
    let (fast0, pub0, stall0, _) = phase(false, false);
    let (fast2, _, _, _) = phase(false, true);
    let (fast1, pub1, stall1, cut) = phase(true, false);
    r.num("fast_msgs_per_s_alone", fast0.round());
    r.num("fast_msgs_per_s_with_stalled", fast1.round());
    r.num("fast_rate_kept", (fast1 / fast0 * 1000.0).round() / 1000.0);
    r.num("fast_msgs_per_s_with_second_reader", fast2.round());
    r.num(
        "fast_rate_vs_second_reader",
        (fast1 / fast2 * 1000.0).round() / 1000.0,
    );
    r.num("pub_msgs_per_s_alone", pub0.round());
    r.num("pub_msgs_per_s_with_stalled", pub1.round());
    r.num("pub_rate_kept", (pub1 / pub0 * 1000.0).round() / 1000.0);
    r.num(
        "max_pub_stall_ms_alone",
        (stall0.as_secs_f64() * 1e3).round(),
    );
    r.num(
        "max_pub_stall_ms_with_stalled",
        (stall1.as_secs_f64() * 1e3).round(),
    );
    r.text(
        "stalled_cut_off",
        if cut == Some(true) { "yes" } else { "no" },
    );
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("shoal-bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut r = Report::default();
    r.text("scenario", &a.scenario);
    // ping and churn send no payloads and have no publishers or subscribers.
    let flows = !matches!(a.scenario.as_str(), "ping" | "churn" | "cuts" | "idle");
    if flows || a.scenario == "cuts" {
        r.num("size", a.size as f64);
    }
    if flows {
        r.num("pubs", a.pubs as f64);
        r.num("subs", a.subs as f64);
    }
    match a.scenario.as_str() {
        "reqrep" => reqrep::run(&a, &mut r),
        "jspub" | "jspub-sync" => jspub::run(&a, &mut r),
        "slowconsumer" => run_slow(&a, &mut r),
        "ping" => ping::run(&a, &mut r),
        "churn" => churn::run(&a, &mut r),
        "handshakes" => tls::run(&a, &mut r),
        "cuts" => cuts::run(&a, &mut r),
        "idle" => idle::run(&a, &mut r),
        _ => run_flow(&a, &mut r),
    }
    if !a.json_only {
        for (k, v) in &r.fields {
            println!("{k:>30}  {}", v.trim_matches('"'));
        }
    }
    println!("{}", r.json());
    let bad = |keys: &[&str]| {
        r.fields
            .iter()
            .any(|(k, v)| keys.contains(&k.as_str()) && v != "0")
    };
    if bad(&["lost", "duplicates", "out_of_order"]) {
        eprintln!("shoal-bench: messages were lost, duplicated or reordered");
        std::process::exit(1);
    }
    if bad(&["reply_errors"]) {
        eprintln!("shoal-bench: replies were missing, stray or did not match their requests");
        std::process::exit(1);
    }
}
