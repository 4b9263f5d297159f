//! The protocol trace (`-DV`, `trace: true`, `max_traced_msg_len`,
//! `trace_headers`) compared line for line with nats-server's: the same
//! conversation against Shoal (one core, so its log is one ordered stream) and
//! the reference, then every `[TRC]` line (and the auto-unsubscribe `[DBG]`
//! line) of both logs compared after masking what differs by nature: pid,
//! timestamp, and each connection's address and cid (named A, B, … in order of
//! first appearance).
//!
//! Sync: every step ends with a PING/PONG round trip on its connection (a step
//! that ends mid-op waits until the server has read its bytes, see
//! [`Raw::wait_read_by_server`]; one the server closes is read until the close). Logs
//! are written asynchronously by Shoal's logging thread, so a conversation ends
//! with a sentinel connection whose traced PING marks the end of everything
//! logged before it; its own lines are dropped.

use std::time::{Duration, Instant};

use crate::util::{self, escape, Raw, ServerProc};

/// One step: which connection sends what, and whether the server closes it
/// or the bytes end mid-op (then no PING follows: the next step completes it).
struct Step {
    conn: usize,
    bytes: &'static [u8],
    closes: bool,
    partial: bool,
}

fn send_partial(conn: usize, bytes: &'static [u8]) -> Step {
    Step {
        conn,
        bytes,
        closes: false,
        partial: true,
    }
}

fn send(conn: usize, bytes: &'static [u8]) -> Step {
    Step {
        conn,
        bytes,
        closes: false,
        partial: false,
    }
}

fn send_closed(conn: usize, bytes: &'static [u8]) -> Step {
    Step {
        conn,
        bytes,
        closes: true,
        partial: false,
    }
}

const SENTINEL: &[u8] = b"CONNECT {\"verbose\":false,\"name\":\"trace-sentinel\"}\r\nPING\r\n";

/// Runs `steps` against `server` and returns its normalised trace lines.
fn conversation(server: &ServerProc, steps: &[Step]) -> Vec<String> {
    let mut conns: Vec<Option<Raw>> = Vec::new();
    for step in steps {
        while conns.len() <= step.conn {
            let (c, _) = Raw::connect(server.port);
            conns.push(Some(c));
        }
        let c = conns[step.conn].as_mut().expect("connection still open");
        c.send(step.bytes);
        if step.closes {
            // The server must close it (a deadline, not a quiet window).
            let _ = c.read_until_closed(Duration::from_secs(5));
            conns[step.conn] = None;
        } else if step.partial {
            // The server reads the first part on its own: wait until it has read
            // every byte (no PING can follow half an operation).
            assert!(
                c.wait_read_by_server(Instant::now() + Duration::from_secs(5)),
                "the server did not read {}",
                escape(step.bytes)
            );
        } else {
            c.send(b"PING\r\n");
            let _ = c.read_until_pong();
        }
    }
    let opened = conns.len();
    drop(conns);
    // Every connection's close (and the DELSUBs traced right after it) is
    // logged before the sentinel connects…
    let deadline = Instant::now() + Duration::from_secs(5);
    while server
        .log()
        .iter()
        .filter(|l| l.contains("Client connection closed"))
        .count()
        < opened
    {
        assert!(Instant::now() < deadline, "connections not closed");
        std::thread::sleep(Duration::from_millis(10));
    }
    // …and the sentinel's traced PONG comes after every line logged before it.
    let (mut z, _) = Raw::connect(server.port);
    z.send(SENTINEL);
    let _ = z.read_until_pong();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.log();
        let done = log
            .iter()
            .any(|l| l.contains("\"trace-sentinel\" - ->> [PONG]"));
        if done {
            return normalise(&log);
        }
        assert!(
            Instant::now() < deadline,
            "no sentinel in the log:\n{}",
            log.join("\n")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Keeps the trace lines (and auto-unsubscribe debug lines), masks pid, time
/// and connection identities, drops the sentinel's lines.
fn normalise(log: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in log {
        let Some(at) = line.find(" [TRC] ").or_else(|| {
            line.contains("Auto-unsubscribe limit")
                .then(|| line.find(" [DBG] "))
                .flatten()
        }) else {
            continue;
        };
        let rest = &line[at + 1..];
        if rest.contains("trace-sentinel") {
            continue;
        }
        // `[TRC] 127.0.0.1:PORT - cid:N - …`
        let (tag, body) = rest.split_at(6);
        let Some(cid_at) = body.find(" - cid:") else {
            out.push(format!("{tag}{body}"));
            continue;
        };
        let after = &body[cid_at + " - cid:".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let id = body[..cid_at + " - cid:".len() + digits].to_string();
        let n = match names.iter().position(|x| *x == id) {
            Some(n) => n,
            None => {
                names.push(id);
                names.len() - 1
            }
        };
        let letter = (b'A' + n as u8) as char;
        out.push(format!("{tag}<{letter}>{}", &after[digits..]));
    }
    out
}

/// The same conversation against Shoal and nats-server, with `conf`.
fn check(name: &str, conf: &str, steps: &[Step]) {
    let conf = format!("trace: true\ndebug: true\n{conf}");
    let ours = util::shoal_conf(&conf, &["--cores", "1"]);
    let theirs = util::nats_server_conf(&conf, &[]);
    let a = conversation(&ours, steps);
    let b = conversation(&theirs, steps);
    assert!(!b.is_empty(), "{name}: nats-server traced nothing");
    if a != b {
        let width = a.len().max(b.len());
        let mut diff = String::new();
        for i in 0..width {
            let x = a.get(i).map_or("", String::as_str);
            let y = b.get(i).map_or("", String::as_str);
            let mark = if x == y { "  " } else { "!!" };
            diff.push_str(&format!(
                "{mark} shoal: {}\n   nats:  {}\n",
                escape(x.as_bytes()),
                escape(y.as_bytes())
            ));
        }
        panic!("{name}: traces differ\n{diff}");
    }
}

#[test]
fn basic_conversation_traces_as_nats_server() {
    check(
        "basic",
        "",
        &[
            send(0, b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"x\",\"lang\":\"py\",\"version\":\"1\"}\r\n"),
            send(0, b"SUB foo 1\r\nsub  bar   2\r\n"),
            send(0, b"PUB foo 5\r\nhello\r\npub\tbar\t2\r\nhi\r\n"),
            send_partial(0, b"PUB foo 0\r\n\r\nPUB foo r 0\r\n\r\nPUB foo 5\r\nhe"),
            send(0, b"llo\r\n"),
            send(0, b"UNSUB 1\r\nUNSUB 2\r\n"),
        ],
    );
}

#[test]
fn verbose_errors_and_auto_unsubscribe_trace_as_nats_server() {
    check(
        "verbose",
        "",
        &[
            send(0, b"CONNECT {\"verbose\":true,\"pedantic\":false}\r\n"),
            send(0, b"SUB foo 1\r\nSUB foo..bar 3\r\n"),
            send(0, b"PUB foo 5\r\nhello\r\n"),
            send(0, b"UNSUB 1 2\r\n"),
            send(0, b"PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n"),
            send_closed(0, b"PUB foo 99999999\r\n"),
            send(1, b"CONNECT {\"verbose\":false}\r\n"),
            send_closed(1, b"FOO bar\r\n"),
            send(2, b"CONNECT {\"verbose\":false}\r\n"),
            send_closed(2, b"PUB foo.bar\r\n"),
        ],
    );
}

#[test]
fn headers_secrets_and_payload_quoting_trace_as_nats_server() {
    check(
        "headers",
        "",
        &[
            send(0, b"CONNECT {\"verbose\":false,\"headers\":true,\"name\":\"hdr\",\"user\":\"derek\",\"pass\":\"s3cr3t\",\"auth_token\":\"t\"}\r\nSUB hfoo 1\r\n"),
            send(1, b"CONNECT {\"verbose\":false,\"name\":\"nohdr\",\"nkey\":\"UABC\",\"sig\":\"x\"}\r\nSUB nfoo 2\r\n"),
            send(0, b"HPUB hfoo 22 27\r\nNATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\n"),
            send(0, b"HPUB nfoo 22 27\r\nNATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\n"),
            send(0, b"PUB hfoo 13\r\n\x00\x07\x08\x0c\x0b\x1b\x7f\\'\xc3\xa9\x22\xff\r\n"),
            send(0, b"PUB hfoo 10\r\n\xe2\x80\x8b\xc2\x85\xf0\x9f\x98\x80\xc3\r\n"),
            send(0, b"CONNECT {\"verbose\":false,\"name\":\"again\"}\r\nUNSUB 1\r\n"),
            send(1, b"UNSUB 2\r\n"),
            send(2, b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1,\"lang\":\"go\"}\r\nSUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\nUNSUB 1\r\n"),
        ],
    );
}

#[test]
fn max_traced_msg_len_and_trace_headers_as_nats_server() {
    let steps = [
        send(0, b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n"),
        send(1, b"CONNECT {\"verbose\":false}\r\nSUB bar 2\r\n"),
        send(0, b"PUB foo 5\r\nhello\r\nPUB foo 4\r\nhell\r\nPUB foo 8\r\n\xc3\xa9\xc3\xa9\xc3\xa9ab\r\n"),
        send(0, b"HPUB foo 22 27\r\nNATS/1.0\r\nFoo: Bar\r\n\r\nhello\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        send(0, b"HPUB bar 22 40\r\nNATS/1.0\r\nFoo: Bar\r\n\r\n0123456789abcdefgh\r\n"),
        send(0, b"UNSUB 1\r\n"),
        send(1, b"UNSUB 2\r\n"),
    ];
    check("max 4", "max_traced_msg_len: 4\n", &steps);
    check("max 3", "max_traced_msg_len: 3\n", &steps);
    check("trace_headers", "trace_headers: true\n", &steps);
    check(
        "trace_headers max 4",
        "trace_headers: true\nmax_traced_msg_len: 4\n",
        &steps,
    );
}

/// Subscriptions still open when a connection closes are traced as DELSUB
/// after its close line. nats-server removes them in Go map order, so the
/// comparison is of the sorted lines.
#[test]
fn delsub_at_close_as_nats_server() {
    let steps = [
        send(
            0,
            b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\nSUB c q 3\r\n",
        ),
        send(1, b"CONNECT {\"verbose\":false}\r\n"),
    ];
    let ours = util::shoal_conf("trace: true\ndebug: true\n", &["--cores", "1"]);
    let theirs = util::nats_server_conf("trace: true\ndebug: true\n", &[]);
    let mut a = conversation(&ours, &steps);
    let mut b = conversation(&theirs, &steps);
    let delsubs = |v: &[String]| v.iter().filter(|l| l.contains("DELSUB")).count();
    assert_eq!(delsubs(&a), 3, "{a:#?}");
    assert_eq!(delsubs(&b), 3, "{b:#?}");
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

/// Nothing blocks a core on its log sink: a server with `-DV` (a trace line
/// per op, per delivery, per payload) whose stderr is a pipe nobody reads keeps
/// delivering every message, in order, at whatever rate; the lines that did not
/// fit are dropped and counted, and the log says so once it is read again.
#[test]
fn a_stalled_log_pipe_never_stops_delivery() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = util::temp_path("ports");
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["-a", "127.0.0.1", "-p", "-1", "-DV", "--cores", "2"])
        .arg("--ports_file_dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped()) // never read until the end
        .spawn()
        .expect("start shoal");
    let ports = dir.join(format!("shoal_{}.ports", child.id()));
    let deadline = Instant::now() + Duration::from_secs(10);
    let port: u16 = loop {
        if let Ok(text) = std::fs::read_to_string(&ports) {
            let v: serde_json::Value = serde_json::from_str(&text).expect("ports JSON");
            let url = v["nats"][0].as_str().expect("a nats URL").to_string();
            break url.rsplit(':').next().unwrap().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "no ports file");
        std::thread::sleep(Duration::from_millis(10));
    };
    const N: usize = 50_000;
    let (mut sub, _) = Raw::connect(port);
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB logged 1\r\n");
    sub.ping_pong();
    let (mut publisher, _) = Raw::connect(port);
    publisher.send(b"CONNECT {\"verbose\":false}\r\n");
    let mut batch = Vec::new();
    for i in 0..N {
        batch.extend_from_slice(format!("PUB logged 8\r\n{i:08}\r\n").as_bytes());
        if batch.len() > 64 * 1024 {
            publisher.send(&batch);
            batch.clear();
        }
    }
    publisher.send(&batch);
    publisher.ping_pong();
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..N {
        let frame = sub.read_frame(deadline).unwrap_or_else(|e| {
            panic!("message {i} of {N} never came ({e:?}) while the log pipe was full")
        });
        let want = format!("MSG logged 1 8\r\n{i:08}\r\n");
        assert_eq!(escape(&frame), escape(want.as_bytes()), "message {i}");
    }
    // Read the pipe again: the server is alive and says what it dropped.
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        String::from_utf8_lossy(&all).into_owned()
    });
    sub.ping_pong();
    sub.send(b"PUB logged 3\r\nend\r\n");
    let frame = sub
        .read_frame(Instant::now() + Duration::from_secs(5))
        .unwrap();
    assert_eq!(frame, b"MSG logged 1 3\r\nend\r\n");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let log = reader.join().unwrap();
    assert!(
        log.contains("log line(s) dropped"),
        "no drop notice in the log"
    );
    assert!(log.contains("Server Exiting.."));
    let _ = std::fs::remove_dir_all(&dir);
}
