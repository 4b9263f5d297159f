//! Raw-protocol tests of Shoal alone, asserting exact bytes: the INFO line, the
//! verbose/pedantic defaults, connect_info, UNSUB max, queue groups, headers,
//! no-responders, keepalive and stale connections, and the limits. The
//! differential module compares the same ground with nats-server; these pin what
//! that comparison normalises away or cannot reach (timers, flags).

use std::time::{Duration, Instant};

use crate::util::{escape, shoal, Raw};

fn connect(port: u16, connect_json: &str) -> Raw {
    let (mut c, _) = Raw::connect(port);
    c.send(format!("CONNECT {connect_json}\r\n").as_bytes());
    c
}

#[test]
fn info_line_has_nats_fields_in_order() {
    let s = shoal(&["--cores", "1"]);
    let mut c = Raw::connect_no_info(s.port);
    let line = c.read_line();
    let text = String::from_utf8(line.clone()).unwrap();
    assert!(text.starts_with("INFO {\"server_id\":\"N"), "{text}");
    assert!(
        text.ends_with("} \r\n"),
        "INFO must end with a space before CRLF: {text}"
    );
    let keys = [
        "server_id",
        "server_name",
        "version",
        "proto",
        "go",
        "host",
        "port",
        "headers",
        "max_payload",
        "client_id",
        "client_ip",
    ];
    let mut at = 0;
    for k in keys {
        let pos = text[at..]
            .find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("{k} missing or out of order in {text}"));
        at += pos;
    }
    let v: serde_json::Value = serde_json::from_str(&text[5..text.len() - 3]).unwrap();
    assert_eq!(v["version"], "2.15.1");
    assert_eq!(v["proto"], 1);
    assert_eq!(v["port"], s.port);
    assert_eq!(v["headers"], true);
    assert_eq!(v["max_payload"], 1048576);
    assert_eq!(v["client_ip"], "127.0.0.1");
    assert_eq!(v["server_id"].as_str().unwrap().len(), 56);
}

#[test]
fn verbose_and_pedantic_are_on_by_default() {
    let s = shoal(&["--cores", "1"]);
    let mut c = connect(s.port, "{}");
    c.expect(b"+OK\r\n");
    c.send(b"SUB foo.* 90\r\nPUB foo.bar 5\r\nhello\r\nPUB foo.* 2\r\nhi\r\n");
    c.expect(b"+OK\r\n+OK\r\nMSG foo.bar 90 5\r\nhello\r\n");
    c.expect(b"-ERR 'Invalid Publish Subject'\r\n+OK\r\nMSG foo.* 90 2\r\nhi\r\n");
    c.ping_pong();
}

#[test]
fn protocol_1_gets_connect_info_after_first_pong() {
    let s = shoal(&["--cores", "1"]);
    let mut c = connect(s.port, r#"{"verbose":false,"protocol":1}"#);
    c.send(b"PING\r\n");
    c.expect(b"PONG\r\n");
    let info = c.read_line();
    let text = String::from_utf8_lossy(&info).to_string();
    assert!(
        text.starts_with("INFO {")
            && text.contains(",\"connect_info\":true,\"remote_account\":\"$G\"} \r\n"),
        "{text}"
    );
    // Only once.
    c.ping_pong();
    // Protocol 0 gets the PONG alone: a second round trip (the fence) finds
    // nothing queued behind the first PONG.
    let mut c0 = connect(s.port, r#"{"verbose":false}"#);
    c0.ping_pong();
    c0.ping_pong();
}

#[test]
fn unsub_max_delivers_exactly_max() {
    let s = shoal(&["--cores", "1"]);
    let mut c = connect(s.port, r#"{"verbose":false}"#);
    c.send(b"SUB foo 1\r\nUNSUB 1 2\r\n");
    for _ in 0..10 {
        c.send(b"PUB foo 1\r\nx\r\n");
    }
    let got = c.read_until_pong_after_ping();
    assert_eq!(
        got,
        b"MSG foo 1 1\r\nx\r\nMSG foo 1 1\r\nx\r\n".to_vec(),
        "{}",
        escape(&got)
    );
    // Counting includes earlier deliveries: a max not above them removes at once.
    c.send(b"SUB bar 2\r\nPUB bar 1\r\ny\r\nPUB bar 1\r\ny\r\nUNSUB 2 2\r\nPUB bar 1\r\ny\r\n");
    let got = c.read_until_pong_after_ping();
    assert_eq!(
        got,
        b"MSG bar 2 1\r\ny\r\nMSG bar 2 1\r\ny\r\n".to_vec(),
        "{}",
        escape(&got)
    );
}

#[test]
fn queue_group_delivers_each_message_once() {
    let s = shoal(&["--cores", "1"]);
    let mut a = connect(s.port, r#"{"verbose":false}"#);
    let mut b = connect(s.port, r#"{"verbose":false}"#);
    a.send(b"SUB work q 1\r\nSUB work 2\r\n");
    b.send(b"SUB work q 1\r\n");
    a.ping_pong();
    b.ping_pong();
    let mut p = connect(s.port, r#"{"verbose":false}"#);
    for _ in 0..200 {
        p.send(b"PUB work 1\r\nx\r\n");
    }
    p.ping_pong();
    let ga = a.read_until_pong_after_ping();
    let gb = b.read_until_pong_after_ping();
    let qa = count(&ga, b"MSG work 1 1\r\n");
    let plain = count(&ga, b"MSG work 2 1\r\n");
    let qb = count(&gb, b"MSG work 1 1\r\n");
    assert_eq!(plain, 200, "the plain subscriber gets every message");
    assert_eq!(
        qa + qb,
        200,
        "each message reaches exactly one queue member"
    );
    assert!(
        qa > 0 && qb > 0,
        "members are chosen at random: {qa} / {qb}"
    );
}

#[test]
fn headers_are_stripped_for_subscribers_without_headers() {
    let s = shoal(&["--cores", "1"]);
    let mut h = connect(s.port, r#"{"verbose":false,"headers":true}"#);
    let mut plain = connect(s.port, r#"{"verbose":false}"#);
    h.send(b"SUB h 1\r\n");
    plain.send(b"SUB h 2\r\n");
    h.ping_pong();
    plain.ping_pong();
    h.send(b"HPUB h 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\nHPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\n");
    let got = h.read_until_pong_after_ping();
    assert_eq!(
        got,
        b"HMSG h 1 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\nHMSG h 1 12 12\r\nNATS/1.0\r\n\r\n\r\n".to_vec(),
        "{}",
        escape(&got)
    );
    let got = plain.read_until_pong_after_ping();
    assert_eq!(
        got,
        b"MSG h 2 11\r\nHello NATS!\r\nMSG h 2 0\r\n\r\n".to_vec(),
        "{}",
        escape(&got)
    );
}

#[test]
fn no_responders_sends_the_503_status() {
    let s = shoal(&["--cores", "1"]);
    let mut c = connect(
        s.port,
        r#"{"verbose":false,"headers":true,"no_responders":true}"#,
    );
    c.send(b"SUB _INBOX.x.* 7\r\nPUB svc.a _INBOX.x.1 2\r\nhi\r\n");
    let got = c.read_until_pong_after_ping();
    assert_eq!(
        got,
        b"HMSG _INBOX.x.1 7 37 37\r\nNATS/1.0 503\r\nNats-Subject: svc.a\r\n\r\n\r\n".to_vec(),
        "{}",
        escape(&got)
    );
    // With a responder there is no 503.
    let mut r = connect(s.port, r#"{"verbose":false}"#);
    r.send(b"SUB svc.a 1\r\n");
    r.ping_pong();
    c.send(b"PUB svc.a _INBOX.x.2 2\r\nhi\r\n");
    assert!(c.read_until_pong_after_ping().is_empty());
}

#[test]
fn echo_false_skips_own_subscriptions() {
    let s = shoal(&["--cores", "1"]);
    let mut c = connect(s.port, r#"{"verbose":false,"echo":false}"#);
    let mut o = connect(s.port, r#"{"verbose":false}"#);
    c.send(b"SUB e 1\r\n");
    o.send(b"SUB e 1\r\n");
    c.ping_pong();
    o.ping_pong();
    c.send(b"PUB e 1\r\nx\r\n");
    assert!(c.read_until_pong_after_ping().is_empty());
    assert_eq!(
        o.read_until_pong_after_ping(),
        b"MSG e 1 1\r\nx\r\n".to_vec()
    );
}

#[test]
fn server_pings_about_two_seconds_after_connect() {
    let s = shoal(&["--cores", "1"]);
    // Measured from before the connection exists, so that slowness can only make
    // the interval look longer; the deadline (far below the 2-minute
    // ping_interval) only stops a hang.
    let t = Instant::now();
    let mut c = connect(s.port, r#"{"verbose":false}"#);
    let got = c
        .read_frame(t + Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("no PING ({e:?}): {}", escape(&c.take_buffered())));
    assert_eq!(got, b"PING\r\n".to_vec(), "{}", escape(&got));
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "first PING too early"
    );
    // Answered, the connection stays: nothing else came before this fence.
    c.send(b"PONG\r\n");
    c.ping_pong();
}

#[test]
fn unanswered_pings_end_in_stale_connection() {
    let s = shoal(&[
        "--cores",
        "1",
        "--ping_interval",
        "300ms",
        "--ping_max",
        "1",
    ]);
    let mut c = connect(s.port, r#"{"verbose":false}"#);
    // One PING may stay unanswered; the next expiry closes the connection.
    c.expect(b"PING\r\n");
    c.expect(b"-ERR 'Stale Connection'\r\n");
    c.expect_closed();
}

#[test]
fn limits_close_with_the_exact_errors() {
    let s = shoal(&["--cores", "1", "--max_payload", "100"]);
    let mut c = connect(s.port, r#"{"verbose":false}"#);
    c.send(b"PUB foo 101\r\n");
    c.expect(b"-ERR 'Maximum Payload Violation'\r\n");
    c.expect_closed();
    let mut c = connect(s.port, r#"{"verbose":false}"#);
    let mut line = b"SUB ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 5000));
    c.send(&line);
    c.expect(b"-ERR 'maximum control line exceeded'\r\n");
    c.expect_closed();
}

#[test]
fn max_connections_rejects_after_info() {
    let s = shoal(&["--cores", "1", "--max_connections", "1"]);
    let (mut first, _) = Raw::connect(s.port);
    first.ping_pong();
    let (mut second, _) = Raw::connect(s.port);
    second.expect(b"-ERR 'maximum connections exceeded'\r\n");
    second.expect_closed();
    first.ping_pong();
    // Logged in nats-server's words (no account: it never sent CONNECT).
    assert!(
        s.wait_for_log(
            " - cid:2 - maximum connections exceeded",
            std::time::Duration::from_secs(5)
        ),
        "{:?}",
        s.log()
    );
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

trait PingBarrier {
    /// Sends PING and returns everything before the PONG.
    fn read_until_pong_after_ping(&mut self) -> Vec<u8>;
}

impl PingBarrier for Raw {
    fn read_until_pong_after_ping(&mut self) -> Vec<u8> {
        self.send(b"PING\r\n");
        self.read_until_pong()
    }
}
