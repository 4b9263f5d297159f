//! The guarantees between cores (design.md), each on a 2-core Shoal with the
//! clients placed on chosen cores. A client's core is read from INFO's
//! `client_id`: Shoal allocates ids per core so that `(cid - 1) % cores == core`.
//!
//! - interest is visible everywhere once the subscriber has its PONG;
//! - one publisher's messages reach a subscriber in order, whatever the cores;
//! - queue groups span cores and deliver each message exactly once (and a PONG is a
//!   barrier: messages another core routed before it are already queued);
//! - a burst that backs up a ring loses nothing and the core keeps serving others;
//! - one payload handle crosses a ring per (message, destination core).

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::monitor::{get, http_port};
use crate::util::{core_of, escape, frame_len, shoal, Raw, ServerProc};

const CORES: u64 = 2;

/// Connects until the kernel's SO_REUSEPORT spread lands the client on `core`.
pub fn connect_on(port: u16, core: u64, cores: u64) -> Raw {
    for _ in 0..200 {
        let (mut c, info) = Raw::connect(port);
        if core_of(&info, cores) == core {
            c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
            return c;
        }
    }
    panic!("could not land a connection on core {core}");
}

/// Like [`connect_on`], but a plain stream for a reader thread, already subscribed
/// (the SUB is confirmed by a PING/PONG round trip before returning).
pub fn subscriber_on(port: u16, core: u64, cores: u64, sub: &str) -> TcpStream {
    use std::io::Write;
    for _ in 0..200 {
        let mut st = TcpStream::connect(("127.0.0.1", port)).unwrap();
        st.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while line.last() != Some(&b'\n') {
            st.read_exact(&mut b).unwrap();
            line.push(b[0]);
        }
        let info: serde_json::Value = serde_json::from_slice(line[5..].trim_ascii_end()).unwrap();
        if core_of(&info, cores) != core {
            continue;
        }
        st.write_all(format!("CONNECT {{\"verbose\":false}}\r\n{sub}\r\nPING\r\n").as_bytes())
            .unwrap();
        let mut pong = [0u8; 6];
        st.read_exact(&mut pong).unwrap();
        assert_eq!(&pong, b"PONG\r\n");
        return st;
    }
    panic!("could not land a connection on core {core}");
}

fn two_cores() -> ServerProc {
    shoal(&["--cores", "2", "-D"])
}

#[test]
fn interest_is_visible_once_the_subscriber_has_its_pong() {
    // Peers apply ring batches 10 ms late, so a PONG that did not wait for the
    // barrier would be caught: the publish would reach the other core first.
    let s = crate::util::shoal_env(&["--cores", "2"], &[("SHOAL_TEST_RING_DELAY_MS", "10")]);
    let mut sub = connect_on(s.port, 0, CORES);
    let mut publ = connect_on(s.port, 1, CORES);
    for i in 0..60 {
        // Alternate directions: subscriber on core 0 then on core 1.
        let (sb, pb) = if i % 2 == 0 {
            (&mut sub, &mut publ)
        } else {
            (&mut publ, &mut sub)
        };
        sb.send(format!("SUB visible.{i} {i}\r\nPING\r\n").as_bytes());
        let before = sb.read_until_pong();
        assert!(before.is_empty(), "{}", escape(&before));
        // The PONG is in hand: a publish on the other core must reach it.
        pb.send(format!("PUB visible.{i} 2\r\nok\r\n").as_bytes());
        let want = format!("MSG visible.{i} {i} 2\r\nok\r\n");
        sb.expect(want.as_bytes());
        sb.send(format!("UNSUB {i}\r\n").as_bytes());
    }
}

/// Reads `n` MSG frames of `subject` and checks their 8-digit sequence payloads
/// arrive as 0..n in order.
fn read_in_order(stream: &mut TcpStream, n: usize, timeout: Duration) -> usize {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut start = 0usize;
    let mut next = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    while next < n && Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(_) => continue,
        }
        while let Some(len) = frame_len(&buf[start..]) {
            let frame = &buf[start..start + len];
            start += len;
            if frame.starts_with(b"PING") {
                continue;
            }
            assert!(frame.starts_with(b"MSG "), "unexpected {}", escape(frame));
            let body = &frame[frame.len() - 10..frame.len() - 2];
            let seq: usize = std::str::from_utf8(body).unwrap().parse().unwrap();
            assert_eq!(seq, next, "out of order or lost");
            next += 1;
        }
        if start > 1 << 19 {
            buf.drain(..start);
            start = 0;
        }
    }
    next
}

fn publish_seq(p: &mut Raw, subject: &str, n: usize) {
    let mut batch = Vec::with_capacity(64 * 1024);
    for i in 0..n {
        batch.extend_from_slice(format!("PUB {subject} 8\r\n{i:08}\r\n").as_bytes());
        if batch.len() > 60 * 1024 {
            p.send(&batch);
            batch.clear();
        }
    }
    p.send(&batch);
}

#[test]
fn one_publisher_is_delivered_in_order_across_cores() {
    let s = two_cores();
    const N: usize = 100_000;
    let mut rs = subscriber_on(s.port, 0, CORES, "SUB seq 1");
    let mut ls = subscriber_on(s.port, 1, CORES, "SUB seq 1");
    let r = std::thread::spawn(move || read_in_order(&mut rs, N, Duration::from_secs(60)));
    let l = std::thread::spawn(move || read_in_order(&mut ls, N, Duration::from_secs(60)));
    let mut p = connect_on(s.port, 1, CORES);
    publish_seq(&mut p, "seq", N);
    p.ping_pong();
    assert_eq!(r.join().unwrap(), N, "subscriber on the other core");
    assert_eq!(l.join().unwrap(), N, "subscriber on the publisher's core");
}

#[test]
fn queue_groups_span_cores_exactly_once() {
    let s = two_cores();
    let mut a = connect_on(s.port, 0, CORES);
    let mut b = connect_on(s.port, 1, CORES);
    a.send(b"SUB jobs workers 1\r\n");
    b.send(b"SUB jobs workers 1\r\n");
    a.ping_pong();
    b.ping_pong();
    const N: usize = 2000;
    for core in 0..CORES {
        let mut p = connect_on(s.port, core, CORES);
        for _ in 0..N {
            p.send(b"PUB jobs 1\r\nj\r\n");
        }
        p.ping_pong();
    }
    a.send(b"PING\r\n");
    b.send(b"PING\r\n");
    let ga = a.read_until_pong();
    let gb = b.read_until_pong();
    let msg = b"MSG jobs 1 1\r\nj\r\n";
    let (ca, cb) = (ga.len() / msg.len(), gb.len() / msg.len());
    assert_eq!(ga.len() % msg.len(), 0);
    assert_eq!(gb.len() % msg.len(), 0);
    assert_eq!(ca + cb, 2 * N, "every message reaches exactly one member");
    assert!(ca > N / 4 && cb > N / 4, "spread at random: {ca} / {cb}");
}

#[test]
fn a_backed_up_ring_loses_nothing_and_the_core_keeps_serving() {
    // Rings of 2 batches, each applied 1 ms late: the burst must back up into the
    // outbox backlog (without the delay, whether the ring fills depends on how
    // fast the machine schedules core 0).
    let s = crate::util::shoal_env(
        &["--cores", "2", "-D", "--ring_capacity", "2", "-m", "-1"],
        &[("SHOAL_TEST_RING_DELAY_MS", "1")],
    );
    const N: usize = 300_000;
    let mut readers = Vec::new();
    for i in 0..3 {
        let mut st = subscriber_on(s.port, 0, CORES, &format!("SUB burst.* {i}"));
        readers.push(std::thread::spawn(move || {
            read_in_order(&mut st, N, Duration::from_secs(120))
        }));
    }
    let mut other = connect_on(s.port, 1, CORES);
    let port = s.port;
    let blaster = std::thread::spawn(move || {
        let mut p = connect_on(port, 1, CORES);
        publish_seq(&mut p, "burst.x", N);
        p.ping_pong();
    });
    // Meanwhile the publisher's core answers another client.
    for _ in 0..20 {
        other.ping_pong();
    }
    blaster.join().unwrap();
    for r in readers {
        assert_eq!(r.join().unwrap(), N);
    }
    // One payload handle per (message, destination core): 3 subscribers on core 0
    // cost one ring item per message, not three. Every item was pushed before the
    // readers got its messages, so core 1's counters in /varz are final.
    let varz = get(http_port(&s), "/varz").json();
    let core1 = &varz["shoal"]["cores"][1];
    assert_eq!(core1["core"], 1, "{core1}");
    assert_eq!(core1["ring_msgs_out"], N as u64, "{core1}");
    assert!(
        core1["ring_backlogged"].as_u64().unwrap() > 0,
        "the ring never filled: {core1}"
    );
}

/// PINGs share barriers, and the guarantee holds for each of them: a client
/// pipelines, in one write, `SUB p.i` followed by two PINGs, a thousand times;
/// as soon as the first PONG after `SUB p.i` arrives, a client on the other core
/// publishes to `p.i`, and every one of those messages must arrive. (The second
/// PING of each pair needs no barrier of its own; the PONG count checks that
/// none is lost.) Ring batches are applied late on purpose, so that only a
/// barrier, not a fast ring, can make the test pass.
#[test]
fn pipelined_pings_keep_the_interest_guarantee() {
    const N: usize = 50;
    // Peers apply ring batches 20 ms late: a PONG sent without waiting for the
    // barrier would let the publish below reach core 1 before the SUB does.
    let s = crate::util::shoal_env(&["--cores", "2"], &[("SHOAL_TEST_RING_DELAY_MS", "20")]);
    let mut sub = connect_on(s.port, 0, CORES);
    let mut publ = connect_on(s.port, 1, CORES);
    let mut burst = Vec::new();
    for i in 0..N {
        burst.extend_from_slice(format!("SUB p.{i} {i}\r\nPING\r\nPING\r\n").as_bytes());
    }
    sub.send(&burst);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (mut pongs, mut msgs) = (0usize, vec![false; N]);
    while pongs < 2 * N || msgs.iter().any(|m| !m) {
        let frame = sub
            .read_frame(deadline)
            .unwrap_or_else(|e| panic!("{e:?} after {pongs} PONGs"));
        if frame == b"PING\r\n" {
            sub.send(b"PONG\r\n"); // the server's keepalive
            continue;
        }
        if frame == b"PONG\r\n" {
            pongs += 1;
            if pongs % 2 == 1 {
                let i = pongs / 2;
                publ.send(format!("PUB p.{i} 2\r\nok\r\n").as_bytes());
            }
            continue;
        }
        let text = String::from_utf8_lossy(&frame).into_owned();
        let i: usize = text
            .strip_prefix("MSG p.")
            .and_then(|t| t.split(' ').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("unexpected frame {}", escape(&frame)));
        assert!(!msgs[i], "p.{i} delivered twice");
        msgs[i] = true;
    }
    assert_eq!(pongs, 2 * N);
}

/// A publisher's PONG proves its messages are queued for every subscriber on
/// every core: publisher (core 1) publishes, flushes; then a subscriber on core
/// 0 flushes and must find the message before its PONG, as with nats-server.
/// Ring batches are applied late, so only the publisher's barrier can pass.
#[test]
fn a_publishers_pong_proves_delivery_to_other_cores() {
    let s = crate::util::shoal_env(&["--cores", "2"], &[("SHOAL_TEST_RING_DELAY_MS", "10")]);
    let mut sub = connect_on(s.port, 0, CORES);
    let mut publ = connect_on(s.port, 1, CORES);
    sub.send(b"SUB flushed 1\r\n");
    sub.ping_pong();
    for i in 0..20 {
        publ.send(format!("PUB flushed 2\r\n{i:02}\r\n").as_bytes());
        publ.ping_pong();
        sub.send(b"PING\r\n");
        let before = sub.read_until_pong();
        let want = format!("MSG flushed 1 2\r\n{i:02}\r\n");
        assert_eq!(escape(&before), escape(want.as_bytes()), "message {i}");
    }
}
