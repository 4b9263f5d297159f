//! JetStream's streams, differentially: the same requests and publishes go
//! to Shoal and to nats-server 2.15 (both `-js -sd DIR`), and every reply
//! must be the same JSON once times and the server's name are normalised
//! (spec/jetstream.md §1–3: stream create/update/info/names/list/delete,
//! purge, message get/delete, the PubAcks and their errors, and the
//! `Nats-*` publish headers). Then a real client library (async-nats)
//! uses a stream end to end.

use std::time::{Duration, Instant};

use crate::util::{escape, nats_server, shoal, temp_path, Raw, ServerProc};

/// A server of either kind with JetStream in a fresh store directory.
fn js_server(shoal_side: bool) -> ServerProc {
    let dir = temp_path("js");
    let dir = dir.to_str().expect("temp path is UTF-8").to_string();
    if shoal_side {
        shoal(&["--cores", "2", "-p", "-1", "-js", "-sd", &dir])
    } else {
        nats_server(&["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", &dir])
    }
}

/// One step: a publish on `subject` with optional headers and a body;
/// every step asks for a reply.
struct Step {
    subject: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
}

const fn req(subject: &'static str, body: &'static str) -> Step {
    Step {
        subject,
        headers: &[],
        body,
    }
}

const STEPS: &[Step] = &[
    req("$JS.API.INFO", ""),
    req(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
    ),
    req(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
    ),
    req(
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","storage":"memory","max_age":5000000000,"max_msgs_per_subject":2}"#,
    ),
    req("s.a", "hello"),
    Step {
        subject: "s.b",
        headers: &[("Nats-Msg-Id", "m1"), ("X-Foo", "bar")],
        body: "x",
    },
    Step {
        subject: "s.b",
        headers: &[("Nats-Msg-Id", "m1")],
        body: "x",
    },
    Step {
        subject: "s.c",
        headers: &[("Nats-Expected-Stream", "P")],
        body: "y",
    },
    Step {
        subject: "s.c",
        headers: &[("Nats-Expected-Last-Sequence", "9")],
        body: "y",
    },
    Step {
        subject: "s.c",
        headers: &[("Nats-Expected-Last-Sequence", "2")],
        body: "y",
    },
    Step {
        subject: "s.c",
        headers: &[("Nats-Expected-Last-Subject-Sequence", "9")],
        body: "y",
    },
    Step {
        subject: "s.d",
        headers: &[("Nats-Expected-Last-Msg-Id", "zz")],
        body: "y",
    },
    Step {
        subject: "s.d",
        headers: &[("Nats-Rollup", "sub")],
        body: "y",
    },
    req("M", "1"),
    req("M", "2"),
    req("M", "3"),
    req("$JS.API.STREAM.INFO.M", ""),
    req("$JS.API.STREAM.INFO.S", ""),
    req("$JS.API.STREAM.INFO.S", r#"{"subjects_filter":">"}"#),
    req(
        "$JS.API.STREAM.INFO.S",
        r#"{"subjects_filter":"nothing.here"}"#,
    ),
    req("$JS.API.STREAM.INFO.S", r#"{"bogus":1}"#),
    req("$JS.API.STREAM.MSG.GET.S", r#"{"seq":2}"#),
    req("$JS.API.STREAM.MSG.GET.S", r#"{"last_by_subj":"s.a"}"#),
    req(
        "$JS.API.STREAM.MSG.GET.S",
        r#"{"next_by_subj":"s.*","seq":2}"#,
    ),
    req("$JS.API.STREAM.MSG.GET.S", r#"{"seq":99}"#),
    req("$JS.API.STREAM.MSG.GET.S", "{}"),
    req("$JS.API.STREAM.MSG.GET.X", r#"{"seq":1}"#),
    req("$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":1}"#),
    req("$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":1}"#),
    req("$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":100}"#),
    req("$JS.API.STREAM.NAMES", ""),
    req("$JS.API.STREAM.NAMES", r#"{"subject":"s.x"}"#),
    req("$JS.API.STREAM.LIST", ""),
    req("$JS.API.STREAM.PURGE.S", r#"{"filter":"s.c"}"#),
    req("$JS.API.STREAM.PURGE.S", r#"{"seq":1,"keep":1}"#),
    req("$JS.API.STREAM.PURGE.S", ""),
    req("$JS.API.STREAM.INFO.S", ""),
    req("$JS.API.STREAM.INFO.X", ""),
    req(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["q.>"]}"#,
    ),
    req(
        "$JS.API.STREAM.CREATE.T",
        r#"{"name":"T","subjects":["s.x"]}"#,
    ),
    req("$JS.API.STREAM.CREATE.T", r#"{"name":"T","bogus":1}"#),
    req("$JS.API.STREAM.CREATE.T", r#"{"name":"U"}"#),
    req("$JS.API.STREAM.CREATE.T", ""),
    req("$JS.API.STREAM.CREATE.T", "{bad"),
    req(
        "$JS.API.STREAM.CREATE.T",
        r#"{"name":"T","retention":"bogus"}"#,
    ),
    req("$JS.API.STREAM.CREATE.T", r#"{"name":"T","max_age":5}"#),
    req(
        "$JS.API.STREAM.CREATE.T",
        r#"{"name":"T","num_replicas":3}"#,
    ),
    req("$JS.API.STREAM.CREATE.T", r#"{"name":"T","sealed":true}"#),
    req(
        "$JS.API.STREAM.CREATE.T",
        r#"{"name":"T","mirror_direct":true}"#,
    ),
    req(
        "$JS.API.STREAM.CREATE.T",
        r#"{"name":"T","subjects":["a.*.>","a.b.>"]}"#,
    ),
    req(
        "$JS.API.STREAM.CREATE.T",
        r#"{"name":"T","subjects":["t"],"max_msgs":1,"discard":"new"}"#,
    ),
    req("t", "1"),
    req("t", "2"),
    req(
        "$JS.API.STREAM.UPDATE.S",
        r#"{"name":"S","subjects":["s.>","u.>"],"max_msgs":10}"#,
    ),
    req(
        "$JS.API.STREAM.UPDATE.S",
        r#"{"name":"S","storage":"memory"}"#,
    ),
    req("$JS.API.STREAM.UPDATE.X", r#"{"name":"X"}"#),
    req("u.1", "via the update"),
    req("$JS.API.STREAM.DELETE.M", "x"),
    req("$JS.API.STREAM.DELETE.M", ""),
    req("$JS.API.STREAM.DELETE.M", ""),
    req("M", "no stream any more"),
    // Direct gets (ADR-31), on a stream that allows them and one that
    // does not (no responder there: the 503 status).
    req(
        "$JS.API.STREAM.CREATE.G",
        r#"{"name":"G","subjects":["g.>"],"allow_direct":true}"#,
    ),
    Step {
        subject: "g.a",
        headers: &[("X-Foo", "bar")],
        body: "a1",
    },
    req("g.b", "b1"),
    req("$JS.API.DIRECT.GET.G", r#"{"seq":1}"#),
    req("$JS.API.DIRECT.GET.G", r#"{"last_by_subj":"g.b"}"#),
    req("$JS.API.DIRECT.GET.G", r#"{"next_by_subj":"g.*","seq":2}"#),
    req("$JS.API.DIRECT.GET.G", r#"{"seq":1,"no_hdr":true}"#),
    req("$JS.API.DIRECT.GET.G", r#"{"seq":9}"#),
    req("$JS.API.DIRECT.GET.G", ""),
    req("$JS.API.DIRECT.GET.G", "{}"),
    req("$JS.API.DIRECT.GET.G", "{bad"),
    req("$JS.API.DIRECT.GET.G", r#"{"seq":1,"last_by_subj":"g.a"}"#),
    req("$JS.API.DIRECT.GET.G.g.a", ""),
    req("$JS.API.DIRECT.GET.G.g.zz", ""),
    req("$JS.API.DIRECT.GET.G.g.a", r#"{"seq":1}"#),
    req("$JS.API.DIRECT.GET.S", r#"{"seq":1}"#),
    req("$JS.API.INFO", ""),
];

/// The replies to every step, in order, normalised.
fn run(p: &ServerProc) -> Vec<String> {
    let (mut c, _) = Raw::connect(p.port);
    c.send(
        b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _R.* 1\r\n",
    );
    c.ping_pong();
    let mut out = Vec::new();
    for (i, s) in STEPS.iter().enumerate() {
        let reply = format!("_R.{i}");
        let frame = if s.headers.is_empty() {
            format!(
                "PUB {} {reply} {}\r\n{}\r\n",
                s.subject,
                s.body.len(),
                s.body
            )
        } else {
            let mut h = String::from("NATS/1.0\r\n");
            for (k, v) in s.headers {
                h.push_str(&format!("{k}: {v}\r\n"));
            }
            h.push_str("\r\n");
            format!(
                "HPUB {} {reply} {} {}\r\n{h}{}\r\n",
                s.subject,
                h.len(),
                h.len() + s.body.len(),
                s.body
            )
        };
        c.send(frame.as_bytes());
        out.push(reply_to(&mut c, &reply, s.subject));
    }
    out
}

/// The body of the one reply on `reply` (or what came instead), within 5 s.
fn reply_to(c: &mut Raw, reply: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let f = match c.read_frame(deadline) {
            Ok(f) => f,
            Err(e) => return format!("no reply to {what}: {e:?}"),
        };
        if f == b"PING\r\n" {
            c.send(b"PONG\r\n");
            continue;
        }
        let text = String::from_utf8_lossy(&f).into_owned();
        if let Some(rest) = text.strip_prefix(&format!("MSG {reply} 1 ")) {
            let body = rest.split_once("\r\n").map_or("", |(_, b)| b);
            return normalise(body.trim_end_matches("\r\n"));
        }
        if text.starts_with(&format!("HMSG {reply} ")) {
            // The sizes follow the time stamp's length: only the headers
            // (time stamp normalised) and the payload are compared.
            let rest = text.split_once("\r\n").map_or("", |(_, r)| r);
            let rest: Vec<String> = rest
                .split("\r\n")
                .map(|l| match l.strip_prefix("Nats-Time-Stamp: ") {
                    Some(_) => "Nats-Time-Stamp: <time>".to_string(),
                    None => l.to_string(),
                })
                .collect();
            return format!("HMSG {}", escape(rest.join("\r\n").as_bytes()));
        }
    }
}

/// Times and the server's name replaced by placeholders.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // "YYYY-MM-DDTHH:MM:SS[.frac]Z"
        if b[i] == b'"' && i + 21 <= b.len() && b[i + 5] == b'-' && b[i + 11] == b'T' {
            if let Some(end) = s[i + 1..].find('"') {
                let t = &s[i + 1..i + 1 + end];
                if t.ends_with('Z') && t.len() >= 20 {
                    out.push_str(if t.starts_with("0001-") {
                        "\"<zero>\""
                    } else {
                        "\"<time>\""
                    });
                    i += end + 2;
                    continue;
                }
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    match out.find("\"leader\":\"") {
        Some(at) => {
            let start = at + 10;
            let end = start + out[start..].find('"').unwrap_or(0);
            format!("{}<leader>{}", &out[..start], &out[end..])
        }
        None => out,
    }
}

#[test]
fn stream_api_replies_match_nats_server() {
    let theirs = run(&js_server(false));
    let ours = run(&js_server(true));
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        let s = &STEPS[i];
        assert_eq!(b, a, "step {i}: {} {:?} {}", s.subject, s.headers, s.body);
    }
    assert_eq!(ours.len(), theirs.len());
}

#[test]
fn async_nats_uses_a_stream() {
    let p = js_server(true);
    let url = format!("nats://127.0.0.1:{}", p.port);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let client = async_nats::connect(&url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js
            .create_stream(async_nats::jetstream::stream::Config {
                name: "ORDERS".into(),
                subjects: vec!["orders.>".into()],
                max_messages_per_subject: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..5 {
            let ack = js
                .publish(format!("orders.{}", i % 2), format!("o{i}").into())
                .await
                .unwrap()
                .await
                .unwrap();
            assert_eq!(ack.sequence, i + 1);
            assert_eq!(ack.stream, "ORDERS");
        }
        let info = stream.info().await.unwrap();
        // Two subjects, two messages each kept.
        assert_eq!(info.state.messages, 4);
        assert_eq!(
            (info.state.first_sequence, info.state.last_sequence),
            (2, 5)
        );
        let m = stream.get_raw_message(5).await.unwrap();
        assert_eq!(
            (m.subject.as_str(), &m.payload[..]),
            ("orders.0", &b"o4"[..])
        );
        let last = stream
            .get_last_raw_message_by_subject("orders.1")
            .await
            .unwrap();
        assert_eq!(last.sequence, 4);
        assert!(stream.delete_message(2).await.unwrap());
        assert_eq!(stream.purge().await.unwrap().purged, 3);
        let names: Vec<String> = futures::TryStreamExt::try_collect(js.stream_names())
            .await
            .unwrap();
        assert_eq!(names, ["ORDERS"]);
        assert!(js.delete_stream("ORDERS").await.unwrap().success);
        let err = js.get_stream("ORDERS").await.unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
    });
}

/// A key-value bucket (ADR-8) through async-nats: a stream with direct
/// gets, roll-ups and per-subject history, used by puts, gets, create and
/// update with revisions, delete and purge markers.
#[test]
fn async_nats_key_value_basics() {
    let p = js_server(true);
    let url = format!("nats://127.0.0.1:{}", p.port);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let client = async_nats::connect(&url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let kv = js
            .create_key_value(async_nats::jetstream::kv::Config {
                bucket: "cfg".into(),
                history: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        let r1 = kv.put("a", "1".into()).await.unwrap();
        assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
        // `create` only when the key has no value.
        assert!(kv.create("a", "x".into()).await.is_err());
        let rb = kv.create("b", "b1".into()).await.unwrap();
        // `update` only from the revision it names.
        let r2 = kv.update("a", "2".into(), r1).await.unwrap();
        assert!(kv.update("a", "3".into(), r1).await.is_err());
        let e = kv.entry("a").await.unwrap().unwrap();
        assert_eq!((e.revision, &e.value[..]), (r2, &b"2"[..]));
        kv.delete("a").await.unwrap();
        assert_eq!(kv.get("a").await.unwrap(), None);
        // A deleted key may be created again.
        kv.create("a", "again".into()).await.unwrap();
        kv.purge("b").await.unwrap();
        assert_eq!(kv.get("b").await.unwrap(), None);
        assert!(rb > 0);
        let status = kv.status().await.unwrap();
        assert_eq!(status.bucket(), "cfg");
        assert_eq!(status.history(), 3);
        // The purge rolled up `b`'s history to its marker.
        let info = js.get_stream("KV_cfg").await.unwrap().cached_info().clone();
        assert_eq!(info.config.max_messages_per_subject, 3);
        assert!(info.config.allow_direct && info.config.allow_rollup);
    });
}

/// The `Nats-Msg-Id` of message `i` of the crash test.
fn crash_id(i: usize) -> String {
    format!("id-{i}")
}

/// `kill -9` while a publisher streams into a file stream: after a
/// restart on the same store directory every acknowledged message is
/// there, each once and in order, the sequence goes on where it stopped,
/// and the dedupe window came back from the stored ids (spec/jetstream.md
/// §7). The same run against nats-server checks the test itself.
#[test]
fn acknowledged_messages_survive_kill_9() {
    for shoal_side in [true, false] {
        let dir = temp_path("js");
        let dir = dir.to_str().unwrap().to_string();
        let start = || {
            if shoal_side {
                shoal(&["--cores", "2", "-p", "-1", "-js", "-sd", &dir])
            } else {
                nats_server(&["-a", "127.0.0.1", "-p", "-1", "-js", "-sd", &dir])
            }
        };
        let what = if shoal_side { "shoal" } else { "nats-server" };
        let p = start();
        let (mut c, _) = Raw::connect(p.port);
        c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _A.* 1\r\n");
        c.ping_pong();
        let cfg = r#"{"name":"K","subjects":["k.>"],"storage":"file"}"#;
        c.send(
            format!(
                "PUB $JS.API.STREAM.CREATE.K _A.c {}\r\n{cfg}\r\n",
                cfg.len()
            )
            .as_bytes(),
        );
        let created = reply_to(&mut c, "_A.c", "create");
        assert!(created.contains("did_create"), "{what}: {created}");
        // Many publishes in flight; the server dies after some acks.
        let n = 2000;
        let mut burst = Vec::new();
        for i in 0..n {
            let h = format!("NATS/1.0\r\nNats-Msg-Id: {}\r\n\r\n", crash_id(i));
            let body = format!("m{i}");
            burst.extend_from_slice(
                format!(
                    "HPUB k.x _A.{i} {} {}\r\n{h}{body}\r\n",
                    h.len(),
                    h.len() + body.len()
                )
                .as_bytes(),
            );
        }
        c.send(&burst);
        let mut acked: Vec<(usize, u64)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while acked.len() < 300 {
            let f = c.read_frame(deadline).expect("acks");
            let text = String::from_utf8_lossy(&f).into_owned();
            let Some(rest) = text.strip_prefix("MSG _A.") else {
                continue;
            };
            let i: usize = rest.split(' ').next().unwrap().parse().unwrap();
            let body = rest.split_once("\r\n").unwrap().1;
            let seq = body
                .split("\"seq\":")
                .nth(1)
                .and_then(|s| s.trim_end_matches(['}', '\r', '\n']).parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{what}: {body}"));
            acked.push((i, seq));
        }
        drop(c);
        drop(p); // SIGKILL
        let p = start();
        let (mut c, _) = Raw::connect(p.port);
        c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _B.* 1\r\n");
        c.ping_pong();
        // The stream comes back once its restore is done.
        let deadline = Instant::now() + Duration::from_secs(10);
        let info = loop {
            c.send(b"PUB $JS.API.STREAM.INFO.K _B.i 0\r\n\r\n");
            let r = reply_to(&mut c, "_B.i", "info");
            if r.contains("\"state\"") {
                break r;
            }
            assert!(Instant::now() < deadline, "{what}: {r}");
        };
        let num = |key: &str| -> u64 {
            let at = info.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
            info[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let (msgs, first, last) = (num("messages"), num("first_seq"), num("last_seq"));
        assert_eq!(first, 1, "{what}: {info}");
        assert_eq!(msgs, last, "{what}: no gaps: {info}");
        let max_acked = acked.iter().map(|(_, s)| *s).max().unwrap();
        assert!(last >= max_acked, "{what}: {last} < {max_acked} acked");
        // Each stored message is the publisher's next one: nothing lost,
        // duplicated or reordered.
        for seq in 1..=last {
            let body = format!("{{\"seq\":{seq}}}");
            c.send(
                format!(
                    "PUB $JS.API.STREAM.MSG.GET.K _B.g {}\r\n{body}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let r = reply_to(&mut c, "_B.g", "get");
            let want = data_encoding::BASE64.encode(format!("m{}", seq - 1).as_bytes());
            assert!(
                r.contains(&format!("\"data\":\"{want}\"")),
                "{what}: seq {seq}: {r}"
            );
        }
        for (i, seq) in &acked {
            assert_eq!(*seq, *i as u64 + 1, "{what}: ack of message {i}");
        }
        // The ids came back: a repeat is a duplicate of the stored one.
        let (i, seq) = acked[acked.len() / 2];
        let h = format!("NATS/1.0\r\nNats-Msg-Id: {}\r\n\r\n", crash_id(i));
        c.send(format!("HPUB k.x _B.d {} {}\r\n{h}again\r\n", h.len(), h.len() + 5).as_bytes());
        let r = reply_to(&mut c, "_B.d", "dup");
        assert_eq!(
            r,
            format!("{{\"stream\":\"K\",\"seq\":{seq},\"duplicate\": true}}"),
            "{what}"
        );
        // The sequence goes on.
        c.send(b"PUB k.y _B.n 4\r\nnext\r\n");
        let r = reply_to(&mut c, "_B.n", "next");
        assert_eq!(
            r,
            format!("{{\"stream\":\"K\",\"seq\":{}}}", last + 1),
            "{what}"
        );
    }
}

/// With an `accounts {}` block only the accounts that say `jetstream:
/// enabled` have JetStream; the others are answered 10039, as nats-server
/// answers them. Streams of two accounts are apart.
#[test]
fn only_accounts_with_jetstream_enabled_have_it() {
    let conf = |dir: &str| {
        format!(
            "jetstream {{ store_dir: {dir:?} }}\naccounts {{\n  A {{ jetstream: enabled, users: [ {{ user: a, password: a }} ] }}\n  B {{ users: [ {{ user: b, password: b }} ] }}\n  C {{ jetstream: true, users: [ {{ user: c, password: c }} ] }}\n}}\n"
        )
    };
    let ask = |p: &ServerProc, user: &str, subject: &str, body: &str| {
        let (mut c, _) = Raw::connect(p.port);
        c.send(format!("CONNECT {{\"verbose\":false,\"headers\":true,\"no_responders\":true,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\nSUB _R.* 1\r\n").as_bytes());
        c.ping_pong();
        c.send(format!("PUB {subject} _R.x {}\r\n{body}\r\n", body.len()).as_bytes());
        reply_to(&mut c, "_R.x", subject)
    };
    let steps: &[(&str, &str, &str)] = &[
        ("a", "$JS.API.INFO", ""),
        ("b", "$JS.API.INFO", ""),
        ("b", "$JS.API.STREAM.NAMES", ""),
        (
            "a",
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>"]}"#,
        ),
        (
            "c",
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>"]}"#,
        ),
        ("a", "s.1", "in A"),
        ("c", "$JS.API.STREAM.INFO.S", ""),
        ("a", "$JS.API.STREAM.INFO.S", ""),
    ];
    let run =
        |p: ServerProc| -> Vec<String> { steps.iter().map(|(u, s, b)| ask(&p, u, s, b)).collect() };
    let dir = |n: &str| temp_path(n).to_str().unwrap().to_string();
    let theirs = run(crate::util::nats_server_conf(&conf(&dir("jsn")), &[]));
    let ours = run(crate::util::shoal_conf(
        &conf(&dir("jss")),
        &["--cores", "2"],
    ));
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(b, a, "step {i}: {:?}", steps[i]);
    }
    assert!(ours[1].contains("10039"), "{}", ours[1]);
}
