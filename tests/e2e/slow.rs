//! The founding property, end to end: one publisher, one fast subscriber, one
//! subscriber that never reads. The fast one gets every message in order, the
//! stalled one is cut off (at `max_pending`, or when its writes stall past
//! `write_deadline`) and logged as nats-server logs it, and the publisher finishes
//! — its PONG proves every publish was processed — while the stalled socket is
//! still full. Run with the stalled subscriber on the publisher's core and on the
//! other core.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::crosscore::{connect_on, subscriber_on};
use crate::monitor::{get, http_port};
use crate::util::{nats_server_conf, shoal, shoal_conf, ServerProc};

const CORES: u64 = 2;

/// How far the publisher may run ahead of the fast subscriber, in messages. On a
/// 2-core machine the test's own threads compete with the server for CPU, so
/// "fast" is made true by construction: the fast subscriber is never more than
/// this behind (well under max_pending), while the stalled one falls behind
/// without bound. The publisher never waits for the stalled one.
const LEAD: usize = 2000;

/// Publishes `n` messages of `size` bytes (sequence number first) on `subject`,
/// never more than [`LEAD`] ahead of `progress` (the fast subscriber's count).
fn publish(port: u16, core: u64, subject: &str, n: usize, size: usize, progress: &AtomicUsize) {
    let mut p = connect_on(port, core, CORES);
    let mut batch = Vec::with_capacity(256 * 1024);
    let pad = vec![b'.'; size - 8];
    for i in 0..n {
        batch.extend_from_slice(format!("PUB {subject} {size}\r\n{i:08}").as_bytes());
        batch.extend_from_slice(&pad);
        batch.extend_from_slice(b"\r\n");
        if batch.len() > 200 * 1024 {
            p.send(&batch);
            batch.clear();
            let deadline = Instant::now() + Duration::from_secs(30);
            while i > progress.load(Ordering::Relaxed) + LEAD {
                assert!(Instant::now() < deadline, "the fast subscriber stopped");
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
    p.send(&batch);
    // The PONG comes after every publish above has been routed.
    p.ping_pong();
}

/// Counts in-order messages (sequence in the first 8 payload bytes) until `n`.
fn drain_in_order(mut st: TcpStream, n: usize, size: usize, progress: &AtomicUsize) -> usize {
    st.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::with_capacity(4 << 20);
    let mut chunk = vec![0u8; 1 << 16];
    let mut next = 0;
    let mut start = 0;
    while next < n {
        match st.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
        loop {
            let rest = &buf[start..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                break;
            };
            if rest.starts_with(b"PING") {
                start += nl + 1;
                continue;
            }
            if rest.len() < nl + 1 + size + 2 {
                break;
            }
            let body = &rest[nl + 1..nl + 1 + 8];
            let seq: usize = std::str::from_utf8(body).unwrap().parse().unwrap();
            assert_eq!(seq, next, "fast subscriber lost or reordered a message");
            next += 1;
            progress.store(next, Ordering::Relaxed);
            start += nl + 1 + size + 2;
        }
        if start > 2 << 20 {
            buf.drain(..start);
            start = 0;
        }
    }
    next
}

/// A subscriber that subscribes and then never reads.
fn stalled_on(port: u16, core: u64, subject: &str) -> TcpStream {
    subscriber_on(port, core, CORES, &format!("SUB {subject} 1"))
}

/// Reads what the stalled subscriber's socket still holds, then asserts the server
/// closed it before all `n` messages got through.
fn assert_cut_off(mut st: TcpStream, n: usize, size: usize) {
    st.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut total = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match st.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => total += k,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("stalled subscriber still open after its data: {e}"),
        }
        assert!(Instant::now() < deadline, "stalled subscriber never closed");
    }
    assert!(
        total < n * (size + 20),
        "the stalled subscriber received everything ({total} bytes): it was not cut off"
    );
    // Writing to it now fails too (closed by the server).
    let _ = st.write_all(b"PING\r\n");
}

/// Waits until `/varz` counts `times` slow consumers (then checks it is exactly
/// that many), and until the server has logged `what` (nats-server's words) as
/// often.
fn wait_slow_consumers(s: &ServerProc, what: &str, times: u64) {
    let port = http_port(s);
    let deadline = Instant::now() + Duration::from_secs(15);
    let counted = loop {
        let n = get(port, "/varz").json()["slow_consumers"]
            .as_u64()
            .expect("slow_consumers in /varz");
        if n >= times {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "/varz slow_consumers is {n}, want {times}; log: {:?}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(counted, times, "/varz slow_consumers");
    while (s.log().iter().filter(|l| l.contains(what)).count() as u64) < times {
        assert!(
            Instant::now() < deadline,
            "no {what:?} logged: {:?}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[allow(clippy::too_many_arguments)]
fn run_scenario(
    s: &ServerProc,
    stalled_core: u64,
    fast_core: u64,
    pub_core: u64,
    n: usize,
    size: usize,
    log_line: &str,
    nth: u64,
) {
    let subject = format!("slow.{stalled_core}{fast_core}{pub_core}");
    let stalled = stalled_on(s.port, stalled_core, &subject);
    let fast = subscriber_on(s.port, fast_core, CORES, &format!("SUB {subject} 1"));
    let progress = Arc::new(AtomicUsize::new(0));
    let pr = progress.clone();
    let reader = std::thread::spawn(move || drain_in_order(fast, n, size, &pr));
    // The publisher finishes (gets its PONG) while the stalled socket is full.
    publish(s.port, pub_core, &subject, n, size, &progress);
    let got = reader.join().unwrap();
    assert_eq!(
        got,
        n,
        "the fast subscriber gets every message; log: {:?}",
        s.log()
    );
    // Only now look at the stalled socket (reading it earlier would unstall it).
    wait_slow_consumers(s, log_line, nth);
    assert_cut_off(stalled, n, size);
}

#[test]
fn max_pending_cuts_off_only_the_stalled_subscriber() {
    let s = shoal(&["--cores", "2", "--max_pending", "8388608", "-D", "-m", "-1"]);
    // Stalled on the publisher's core, then on the other core.
    let line = "Slow Consumer Detected: MaxPending of 8388608 Exceeded";
    run_scenario(&s, 1, 0, 1, 40_000, 1024, line, 1);
    run_scenario(&s, 0, 1, 1, 40_000, 1024, line, 2);
}

#[test]
fn write_deadline_cuts_off_a_subscriber_whose_socket_stays_full() {
    // max_pending far above what is sent: only the deadline can cut it off.
    let s = shoal(&[
        "--cores",
        "2",
        "--max_pending",
        "1073741824",
        "--write_deadline",
        "1s",
        "-m",
        "-1",
    ]);
    run_scenario(
        &s,
        0,
        1,
        0,
        20_000,
        1024,
        "Slow Consumer Detected: WriteDeadline of",
        1,
    );
}

/// A client that pipelines PINGs and never reads the PONGs is a slow consumer
/// once its queued replies pass `max_pending`, as on nats-server (whose
/// queueOutbound counts every queued byte): cut off, counted in `/varz`, closed
/// as `Slow Consumer (Pending Bytes)`, logged as a notice (`[INF]`).
#[test]
fn unread_pongs_make_a_slow_consumer_as_on_nats_server() {
    let conf = "max_payload: 1024\nmax_pending: 65536\n";
    for (name, s) in [
        ("shoal", shoal_conf(conf, &["-m", "-1"])),
        ("nats-server", nats_server_conf(conf, &["-m", "-1"])),
    ] {
        let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(b"CONNECT {\"verbose\":false}\r\n").unwrap();
        // Up to 64 MiB of PINGs (their PONGs fill the socket buffers on both
        // sides, ~10 MiB here, and then the server's queue); the server must
        // cut the connection off well before, which fails a write.
        let pings = b"PING\r\n".repeat(64 * 1024);
        let mut cut = false;
        for _ in 0..170 {
            if c.write_all(&pings).is_err() {
                cut = true;
                break;
            }
        }
        assert!(cut, "{name}: 64 MiB of unread PONGs and still connected");
        wait_slow_consumers(
            &s,
            "Slow Consumer Detected: MaxPending of 65536 Exceeded",
            1,
        );
        let line = s
            .log()
            .into_iter()
            .find(|l| l.contains("Slow Consumer Detected"))
            .unwrap();
        assert!(line.contains("[INF]"), "{name}: {line}");
        // The server files the closed connection after it logs the cut:
        // asked again until it is there (bounded).
        let port = http_port(&s);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let closed = loop {
            let page = get(port, "/connz?state=closed").json();
            if page["num_connections"].as_u64().unwrap_or(0) > 0
                || std::time::Instant::now() > deadline
            {
                break page;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(
            closed["connections"][0]["reason"], "Slow Consumer (Pending Bytes)",
            "{name}: {closed}"
        );
    }
}
