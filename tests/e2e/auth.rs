//! Logging in, end to end: the `--user/--pass/--auth` flags, the log lines and
//! close reasons nats-server gives a refused login, a real client (async-nats)
//! with a user and a token, and the founding property under a bcrypt login
//! storm: a pub/sub pair on the same core keeps flowing while 100 clients log
//! in with bcrypt-hashed passwords at once. The byte-level conversations (every
//! error path, permissions) are in the differential corpus
//! (`tests/conversations/auth*/`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::{
    escape, nats_server, nats_server_conf, shoal, shoal_conf, temp_path, Raw, ServerProc,
};

/// "pw", hashed once with the Python `bcrypt` package (4.2, cost 10: about
/// 60 ms to check on the test machine):
/// `bcrypt.hashpw(b"pw", bcrypt.gensalt(10, prefix=b"2a"))`.
const PW_COST_10: &str = "$2a$10$Sfoplzqg4CNix9Nt/41R.OHRU6NIEHXuqV7t8ooLN/ice6m.8CFJi";

const DEADLINE: Duration = Duration::from_secs(10);

fn login(port: u16, connect: &str) -> Raw {
    let (mut c, info) = Raw::connect(port);
    assert_eq!(info["auth_required"], true, "{info}");
    c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    c
}

#[test]
fn user_and_password_flags() {
    let s = shoal(&["--user", "u", "--pass", "p"]);
    let mut ok = login(s.port, r#"{"verbose":false,"user":"u","pass":"p"}"#);
    ok.expect(b"PONG\r\n");
    let mut bad = login(s.port, r#"{"verbose":false,"user":"u","pass":"x"}"#);
    bad.expect(b"-ERR 'Authorization Violation'\r\n");
    bad.expect_closed();
    assert!(s.wait_for_log(r#" - authentication error - User "u""#, DEADLINE));
    assert!(s.wait_for_log(
        "[WRN] Plaintext passwords detected, use nkeys or bcrypt",
        DEADLINE
    ));
    // The logged-in client's log prefix names its user.
    ok.send(b"SUB a 1\r\nUNSUB 1\r\nPING\r\n");
    ok.read_until_pong();
}

#[test]
fn token_flag_and_redacted_failure() {
    let s = shoal(&["--auth", "t0k"]);
    login(s.port, r#"{"verbose":false,"auth_token":"t0k"}"#).expect(b"PONG\r\n");
    let mut bad = login(s.port, r#"{"verbose":false,"auth_token":"nope"}"#);
    bad.expect(b"-ERR 'Authorization Violation'\r\n");
    bad.expect_closed();
    assert!(s.wait_for_log(r#" - authentication error - Token "[REDACTED]""#, DEADLINE));
    assert!(!s.log().iter().any(|l| l.contains("nope")));
}

#[test]
fn auth_timeout_closes_with_its_reason() {
    let conf = "authorization {\n  token: t\n  timeout: 0.2\n}\nhttp_port: -1\n";
    let s = shoal_conf(conf, &[]);
    let (mut c, _) = Raw::connect(s.port);
    c.send(b"CONN");
    let got = c.read_until_closed(DEADLINE);
    assert_eq!(got, b"-ERR 'Authentication Timeout'\r\n");
}

#[test]
fn async_nats_logs_in_with_user_and_with_token() {
    let users = shoal(&["--user", "u", "--pass", "p"]);
    let token = shoal(&["--auth", "t0k"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use futures::StreamExt;
        let nc = async_nats::ConnectOptions::with_user_and_password("u".into(), "p".into())
            .connect(format!("127.0.0.1:{}", users.port))
            .await
            .expect("user/password login");
        let mut sub = nc.subscribe("hello").await.unwrap();
        nc.publish("hello", "world".into()).await.unwrap();
        let m = tokio::time::timeout(DEADLINE, sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&m.payload[..], b"world");
        let bad = async_nats::ConnectOptions::with_user_and_password("u".into(), "x".into())
            .connect(format!("127.0.0.1:{}", users.port));
        let bad = tokio::time::timeout(Duration::from_secs(3), bad).await;
        assert!(
            !matches!(bad, Ok(Ok(_))),
            "a wrong password must not connect"
        );
        let nc = async_nats::ConnectOptions::with_token("t0k".into())
            .connect(format!("127.0.0.1:{}", token.port))
            .await
            .expect("token login");
        nc.flush().await.unwrap();
    });
}

/// 100 clients log in at once with a bcrypt password (cost 10: ~6 s of CPU in
/// all) on a one-core server, while a client on that same core publishes to
/// itself and waits for each message and a PONG. Were bcrypt checked on the
/// core, the pair would stop for the whole storm; it runs on the blocking
/// pool, so the pair's longest round trip stays a small part of the storm.
#[test]
fn bcrypt_login_storm_does_not_stall_the_core() {
    let conf = format!(
        "cores: 1\nauthorization {{\n  users: [\n    {{user: slow, password: \"{PW_COST_10}\"}}\n    {{user: fast, password: fast}}\n  ]\n}}\n"
    );
    let s = shoal_conf(&conf, &[]);
    let port = s.port;
    let mut pair = login(port, r#"{"verbose":false,"user":"fast","pass":"fast"}"#);
    pair.expect(b"PONG\r\n");
    pair.send(b"SUB flow 1\r\nPING\r\n");
    pair.expect(b"PONG\r\n");

    let storm_over = Arc::new(AtomicBool::new(false));
    let flow = {
        let storm_over = storm_over.clone();
        thread::spawn(move || {
            let (mut longest, mut trips) = (Duration::ZERO, 0u64);
            while !storm_over.load(Ordering::Relaxed) {
                let t = Instant::now();
                pair.send(b"PUB flow 1\r\nx\r\nPING\r\n");
                let mut got = pair.read_until_pong();
                // The server's own keepalive PING may come first.
                if let Some(rest) = got.strip_prefix(b"PING\r\n") {
                    got = rest.to_vec();
                    pair.send(b"PONG\r\n");
                }
                assert_eq!(got, b"MSG flow 1 1\r\nx\r\n");
                longest = longest.max(t.elapsed());
                trips += 1;
            }
            (longest, trips)
        })
    };
    let started = Instant::now();
    let logins: Vec<_> = (0..100)
        .map(|_| {
            thread::spawn(move || {
                let mut c = login(port, r#"{"verbose":false,"user":"slow","pass":"pw"}"#);
                c.read_until_pong_with(DEADLINE * 3);
            })
        })
        .collect();
    for l in logins {
        l.join().expect("every bcrypt login succeeds");
    }
    let storm = started.elapsed();
    storm_over.store(true, Ordering::Relaxed);
    let (longest, trips) = flow.join().unwrap();
    eprintln!("bcrypt storm: 100 logins in {storm:?}; the pair made {trips} round trips, the longest {longest:?}");
    assert!(
        longest < storm / 4,
        "the pair stalled for {longest:?} of a {storm:?} login storm"
    );
    assert!(trips > 10, "only {trips} round trips during {storm:?}");
}

/// One run of the reload scenario against `start(config path)`: what each
/// client received after the reload, and the server's log.
fn reload_scenario(start: &dyn Fn(&str) -> ServerProc) -> (Vec<String>, Vec<String>) {
    let before = "authorization {\n  users: [\n    {user: alice, password: pw, permissions: {subscribe: [\"a.>\", \"b.>\"]}}\n    {user: bob, password: pw}\n    {user: carol, password: pw}\n    {user: dave, password: pw, permissions: {publish: \"x\"}}\n  ]\n}\n";
    let after = "authorization {\n  users: [\n    {user: alice, password: pw, permissions: {subscribe: [\"a.>\", \"q.> g\"]}}\n    {user: bob, password: changed}\n    {user: dave, password: pw, permissions: {publish: \"y\"}}\n    {user: erin, password: pw}\n  ]\n}\n";
    let path = temp_path("conf");
    std::fs::write(&path, before).unwrap();
    let s = start(path.to_str().unwrap());
    let connect = |user: &str| {
        let mut c = login(
            s.port,
            &format!(r#"{{"verbose":false,"user":"{user}","pass":"pw"}}"#),
        );
        c.expect(b"PONG\r\n");
        c
    };
    let mut alice = connect("alice");
    alice.send(b"SUB a.1 1\r\nSUB b.1 2\r\nSUB b.2 g 3\r\nPING\r\n");
    alice.expect(b"PONG\r\n");
    let (mut bob, mut carol, mut dave) = (connect("bob"), connect("carol"), connect("dave"));
    std::fs::write(&path, after).unwrap();
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for_log("Reloaded server configuration", DEADLINE),
        "{:?}",
        s.log()
    );
    let mut seen = Vec::new();
    for c in [&mut bob, &mut carol] {
        seen.push(escape(&c.read_until_closed(DEADLINE)));
    }
    for c in [&mut alice, &mut dave] {
        c.send(b"PUB x 1\r\n1\r\nPUB y 1\r\n2\r\nPING\r\n");
        seen.push(escape(&c.read_until_pong()));
    }
    // Alice's remaining subscriptions still deliver; the removed ones do not.
    alice.send(b"PUB a.1 1\r\nA\r\nPUB b.1 1\r\nB\r\nPING\r\n");
    seen.push(escape(&alice.read_until_pong()));
    // Each line without its pid, time and level ("[1] 2026/.. [INF] text"),
    // and without the connection prefix, whose cid differs.
    let log = s
        .log()
        .into_iter()
        .filter_map(|l| {
            l.split_once("] ")
                .and_then(|(_, r)| r.split_once("] "))
                .map(|(_, t)| t.to_string())
        })
        .filter(|l| {
            l.starts_with("Reloaded:")
                || l.starts_with("Removed sub")
                || l.contains("authentication error")
        })
        .map(|l| match l.split_once(r#"" - "#) {
            Some((_, rest)) => rest.to_string(),
            None => l,
        })
        .collect();
    (seen, log)
}

/// A SIGHUP with changed users, passwords and permissions does what
/// nats-server's does to the connections already in (see `reauth.rs`): the
/// same bytes to every client and the same log lines.
#[test]
fn reload_applies_new_logins_like_nats_server() {
    let (want_seen, want_log) = reload_scenario(&|p| nats_server(&["-c", p]));
    let (seen, log) = reload_scenario(&|p| shoal(&["-c", p]));
    // nats-server removes a connection's subscriptions in map order: compare
    // each client's lines as a set.
    let lines = |v: Vec<String>| -> Vec<Vec<String>> {
        v.iter()
            .map(|t| {
                let mut l: Vec<String> = t.split("\\r\\n").map(str::to_string).collect();
                l.sort();
                l
            })
            .collect()
    };
    assert_eq!(lines(seen), lines(want_seen));
    let mut want_log = want_log;
    let mut log = log;
    // nats-server visits users in map order: compare as sets.
    want_log.sort();
    log.sort();
    assert_eq!(log, want_log);
}

/// What monitoring shows of logins, on one server: `/varz`'s auth fields, and
/// per connection (`/connz?auth=1`, open and closed) the user, the name tag
/// and the close reason.
fn monitored_logins(s: &ServerProc) -> Vec<Value> {
    let mut a = login(
        s.port,
        r#"{"verbose":false,"user":"alice","pass":"pw","name":"a"}"#,
    );
    a.expect(b"PONG\r\n");
    let mut t = login(
        s.port,
        r#"{"verbose":false,"user":"alice","pass":"bad","name":"bad"}"#,
    );
    t.read_until_closed(DEADLINE);
    let http = crate::monitor::http_port(s);
    let varz = crate::monitor::get(http, "/varz").json();
    let mut out = vec![varz["auth_required"].clone(), varz["auth_timeout"].clone()];
    for path in ["/connz?auth=1", "/connz?state=closed&auth=1", "/connz"] {
        let page = crate::monitor::get(http, path).json();
        for c in page["connections"].as_array().unwrap() {
            out.push(serde_json::json!({
                "name": c["name"], "authorized_user": c["authorized_user"],
                "name_tag": c["name_tag"], "reason": c["reason"],
            }));
        }
    }
    out
}

#[test]
fn monitoring_shows_logins_like_nats_server() {
    let conf = "authorization {\n  timeout: 1.5\n  users: [ {user: alice, password: pw} ]\n}\n";
    let want = monitored_logins(&nats_server_conf(conf, &["-m", "-1"]));
    let got = monitored_logins(&shoal_conf(conf, &["-m", "-1"]));
    assert_eq!(got, want);
    assert_eq!(want[0], true);
}

/// One nkey conversation: the CONNECT JSON, given the connection's nonce.
type Case<'a> = dyn Fn(&str) -> String + 'a;

/// The nkey conversations, on one server whose users are `nkey` (with
/// permissions) and `alice`: each result is what one connection received.
fn nkey_conversations(start: &dyn Fn(&str) -> ServerProc, user: &nkeys::KeyPair) -> Vec<String> {
    let key = user.public_key();
    let conf = format!(
        "authorization {{\n  users: [\n    {{nkey: {key}, permissions: {{publish: \"n.>\"}}}}\n    {{user: alice, password: pw}}\n  ]\n}}\n"
    );
    let s = start(&conf);
    let sign = |nonce: &str, kp: &nkeys::KeyPair| {
        data_encoding::BASE64URL_NOPAD.encode(&kp.sign(nonce.as_bytes()).unwrap())
    };
    let stranger = nkeys::KeyPair::new_user();
    let cases: Vec<Box<Case>> = vec![
        // Signed with the right key: in, and its permissions apply.
        Box::new(|n| {
            format!(
                r#"{{"verbose":true,"nkey":"{key}","sig":"{}"}}"#,
                sign(n, user)
            )
        }),
        // Standard base64 is accepted too.
        Box::new(|n| {
            let sig = data_encoding::BASE64.encode(&user.sign(n.as_bytes()).unwrap());
            format!(r#"{{"verbose":false,"nkey":"{key}","sig":"{sig}"}}"#)
        }),
        Box::new(|_| format!(r#"{{"verbose":false,"nkey":"{key}"}}"#)),
        Box::new(|n| {
            format!(
                r#"{{"verbose":false,"nkey":"{key}","sig":"{}"}}"#,
                sign(n, &stranger)
            )
        }),
        Box::new(|n| {
            let other = stranger.public_key();
            format!(
                r#"{{"verbose":false,"nkey":"{other}","sig":"{}"}}"#,
                sign(n, &stranger)
            )
        }),
        // A named nkey decides alone, even with a valid user and password.
        Box::new(|n| {
            format!(
                r#"{{"verbose":false,"nkey":"{}","sig":"{}","user":"alice","pass":"pw"}}"#,
                stranger.public_key(),
                sign(n, &stranger)
            )
        }),
        Box::new(|_| r#"{"verbose":false,"user":"alice","pass":"pw"}"#.to_string()),
    ];
    let mut out = Vec::new();
    for case in &cases {
        let (mut c, info) = Raw::connect(s.port);
        let nonce = info["nonce"]
            .as_str()
            .expect("INFO carries a nonce")
            .to_string();
        assert_eq!(nonce.len(), 15, "{info}");
        assert_eq!(info["auth_required"], true);
        c.send(
            format!(
                "CONNECT {}\r\nPUB n.1 1\r\nx\r\nPUB m 1\r\ny\r\nPING\r\n",
                case(&nonce)
            )
            .as_bytes(),
        );
        let mut got = Vec::new();
        loop {
            match c.read_frame(Instant::now() + DEADLINE) {
                Ok(f) if f == b"PONG\r\n" => break,
                Ok(f) => got.extend_from_slice(&f),
                Err(_) => {
                    got.extend_from_slice(b"<closed>");
                    break;
                }
            }
        }
        out.push(escape(&got));
    }
    // The four refusals' log lines (Shoal's logger writes them from its own
    // thread: wait for them).
    let refusals = || -> Vec<String> {
        s.log()
            .iter()
            .filter_map(|l| {
                l.split_once(" - authentication error")
                    .map(|(_, r)| r.to_string())
            })
            .map(|l| l.replace(&stranger.public_key(), "<stranger>"))
            .collect()
    };
    let deadline = Instant::now() + DEADLINE;
    while refusals().len() < 4 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    // Lines from connections on different cores may reach the log in either
    // order: compare them as a set.
    let mut lines = refusals();
    lines.sort();
    out.push(format!("{lines:?}"));
    out
}

#[test]
fn nkey_users_sign_the_nonce_like_nats_server() {
    let user = nkeys::KeyPair::new_user();
    let want = nkey_conversations(&|c| nats_server_conf(c, &[]), &user);
    let got = nkey_conversations(&|c| shoal_conf(c, &[]), &user);
    assert_eq!(got, want);
    assert!(want[0].contains("+OK"), "{want:?}");
}

#[test]
fn async_nats_logs_in_with_an_nkey_seed() {
    let kp = nkeys::KeyPair::new_user();
    let conf = format!(
        "authorization {{\n  users: [ {{nkey: {}}} ]\n}}\n",
        kp.public_key()
    );
    let s = shoal_conf(&conf, &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let nc = async_nats::ConnectOptions::with_nkey(kp.seed().unwrap())
            .connect(format!("127.0.0.1:{}", s.port))
            .await
            .expect("nkey login");
        nc.flush().await.unwrap();
        let stranger = nkeys::KeyPair::new_user();
        let bad = async_nats::ConnectOptions::with_nkey(stranger.seed().unwrap())
            .connect(format!("127.0.0.1:{}", s.port));
        let bad = tokio::time::timeout(Duration::from_secs(3), bad).await;
        assert!(
            !matches!(bad, Ok(Ok(_))),
            "an unknown nkey must not connect"
        );
    });
}

/// Account limits from the configuration, on one server: what each
/// connection receives (a second connection while the first is open, the
/// subscription and payload limits, a limit of no subscriptions at all).
fn account_limit_conversations(s: &ServerProc) -> Vec<String> {
    let mut first = login(s.port, r#"{"verbose":true,"user":"a","pass":"p"}"#);
    first.send(b"SUB x 1\r\nSUB y 2\r\nPUB x 3\r\nabc\r\nPING\r\n");
    let mut out = vec![
        escape(&first.read_until_pong()),
        escape(&first.read_until_pong()),
    ];
    let mut second = login(s.port, r#"{"verbose":false,"user":"a2","pass":"p"}"#);
    out.push(escape(&second.read_until_closed(DEADLINE)));
    first.send(b"PUB x 5\r\nabcde\r\n");
    out.push(escape(&first.read_until_closed(DEADLINE)));
    let mut none = Raw::connect(s.port).0;
    none.send(b"CONNECT {\"user\":\"b\",\"pass\":\"p\"}\r\n");
    // nats-server's -ERR for a login allowing no subscription races the
    // CONNECT's +OK (see `lines_sorted`).
    out.push(crate::util::lines_sorted(&escape(
        &none.read_until_closed(DEADLINE),
    )));
    out
}

#[test]
fn account_limits_apply_like_nats_server() {
    let conf = "accounts {\n  A { users: [ {user: a, password: p}, {user: a2, password: p} ]\n      limits: { max_connections: 1, max_subscriptions: 1, max_payload: 4 } }\n  B { users: [ {user: b, password: p} ], limits: { max_subs: 0 } }\n}\n";
    let want = account_limit_conversations(&nats_server_conf(conf, &[]));
    let got = account_limit_conversations(&shoal_conf(conf, &[]));
    assert_eq!(got, want);
    assert!(
        want[2].contains("maximum account active connections"),
        "{want:?}"
    );
}

/// `/accountz` as each server shows it: the account names (less nats-server's
/// `$SYS`, which Shoal does not have yet) and account A's detail with one
/// user of A connected with two subscriptions. The detail's `subscriptions`
/// is the last item, apart: nats-server's also counts the internal ones its
/// system account imports into every account (4 in 2.15.1).
pub fn accountz_view(s: &ServerProc, acc: &str, mut connect: Raw) -> Vec<Value> {
    connect.send(b"SUB a 1\r\nSUB b 2\r\nPING\r\n");
    connect.expect(b"PONG\r\n");
    let http = crate::monitor::http_port(s);
    let list = crate::monitor::get(http, "/accountz").json();
    let mut names: Vec<Value> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| *n != "$SYS")
        .cloned()
        .collect();
    names.sort_by_key(|n| n.to_string());
    let d =
        crate::monitor::get(http, &format!("/accountz?acc={acc}")).json()["account_detail"].clone();
    let fields = [
        "account_name",
        "is_system",
        "expired",
        "complete",
        "client_connections",
        "jwt",
        "issuer_key",
        "name_tag",
        "leafnode_connections",
    ];
    let detail: serde_json::Map<String, Value> = fields
        .iter()
        .map(|f| (f.to_string(), d[f].clone()))
        .collect();
    let missing = crate::monitor::get(http, "/accountz?acc=NOPE");
    vec![
        Value::Array(names),
        Value::Object(detail),
        json!(missing.status),
        d["subscriptions"].clone(),
    ]
}

#[test]
fn accountz_shows_configured_accounts_like_nats_server() {
    let conf = "accounts {\n  A { users: [ {user: a, password: p} ] }\n  B { users: [ {user: b, password: p} ] }\n}\n";
    let run = |s: ServerProc| {
        let c = login(s.port, r#"{"verbose":false,"user":"a","pass":"p"}"#);
        let mut c = c;
        c.expect(b"PONG\r\n");
        accountz_view(&s, "A", c)
    };
    let mut want = run(nats_server_conf(conf, &["-m", "-1"]));
    let mut got = run(shoal_conf(conf, &["-m", "-1"]));
    let (theirs, ours) = (want.pop().unwrap(), got.pop().unwrap());
    assert_eq!(got, want);
    assert_eq!(want[1]["client_connections"], 1, "{want:?}");
    assert_eq!(ours, 2);
    assert_eq!(
        theirs,
        2 + 4,
        "nats-server's internal subscriptions changed"
    );
}

/// The system account's CONNECT and DISCONNECT events for one login, one
/// close and one refused login, as a subscriber in the system account
/// receives them, with what differs between servers and runs normalised
/// (ids, times, sequence numbers, the server's identity, the client id); events
/// of the SYS account itself are skipped.
fn system_events(s: &ServerProc) -> Vec<Value> {
    let mut admin = login(s.port, r#"{"verbose":false,"user":"admin","pass":"x"}"#);
    admin.expect(b"PONG\r\n");
    admin.send(b"SUB $SYS.ACCOUNT.*.CONNECT 1\r\nSUB $SYS.ACCOUNT.*.DISCONNECT 2\r\nPING\r\n");
    admin.expect(b"PONG\r\n");
    let mut app = login(
        s.port,
        r#"{"verbose":false,"user":"app","pass":"y","name":"nm","lang":"py","version":"1.0"}"#,
    );
    app.expect(b"PONG\r\n");
    app.send(b"PUB x 2\r\nhi\r\nPING\r\n");
    app.expect(b"PONG\r\n");
    drop(app);
    let mut bad = login(s.port, r#"{"verbose":false,"user":"app","pass":"bad"}"#);
    bad.read_until_closed(DEADLINE);
    let mut events = Vec::new();
    while events.len() < 3 {
        let f = admin
            .read_frame(Instant::now() + DEADLINE)
            .expect("an event");
        let text = String::from_utf8_lossy(&f).to_string();
        let Some((head, body)) = text.split_once("\r\n") else {
            continue;
        };
        let subject = head.split(' ').nth(1).unwrap_or("").to_string();
        // nats-server queues its events: the admin's own CONNECT (in SYS)
        // may reach it after its subscription. Only APP's and $G's count.
        if subject.contains(".SYS.") {
            continue;
        }
        let mut v: Value = serde_json::from_str(body.trim_end()).unwrap();
        for k in ["id", "timestamp"] {
            v[k] = json!("<norm>");
        }
        let server = v["server"].as_object_mut().unwrap();
        for k in ["name", "id", "seq", "time"] {
            server.insert(k.into(), json!("<norm>"));
        }
        let client = v["client"].as_object_mut().unwrap();
        for k in ["start", "stop", "rtt", "id"] {
            if client.contains_key(k) {
                client.insert(k.into(), json!("<norm>"));
            }
        }
        events.push(json!({"subject": subject, "event": v}));
    }
    events.sort_by_key(|e| e.to_string());
    events
}

#[test]
fn system_account_events_like_nats_server() {
    let conf = "accounts {\n  SYS: { users: [ {user: admin, password: x} ] }\n  APP: { users: [ {user: app, password: y} ] }\n}\nsystem_account: SYS\n";
    let want = system_events(&nats_server_conf(conf, &[]));
    let got = system_events(&shoal_conf(conf, &[]));
    assert_eq!(got, want);
    let text = format!("{want:?}");
    assert!(
        text.contains("$SYS.ACCOUNT.APP.CONNECT") && text.contains("Authentication Failure"),
        "{text}"
    );
}

/// Replaces every `_R_.<token…>` reply subject (random in both servers)
/// with `_R_.<norm>`.
fn norm_replies(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("_R_.") {
        out.push_str(&rest[..i]);
        out.push_str("_R_.<norm>");
        let tail = &rest[i..];
        let end = tail.find([' ', '\\']).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Requests from B through its service imports of A, answered in A: what
/// each side receives (single and stream responses, a request without a
/// reply subject).
fn service_conversation(s: &ServerProc) -> Vec<String> {
    let mut a = login(s.port, r#"{"verbose":false,"user":"a","pass":"pw"}"#);
    a.expect(b"PONG\r\n");
    a.send(b"SUB svc.time 1\r\nSUB many 2\r\nPING\r\n");
    a.expect(b"PONG\r\n");
    let mut b = login(s.port, r#"{"verbose":false,"user":"b","pass":"pw"}"#);
    b.expect(b"PONG\r\n");
    b.send(b"SUB _INBOX.r 1\r\nPING\r\n");
    b.expect(b"PONG\r\n");
    let mut out = Vec::new();
    let reply_of = |frame: &[u8]| -> String {
        let line = String::from_utf8_lossy(frame).to_string();
        line.split(' ').nth(3).unwrap_or("").to_string()
    };
    for (subject, responses) in [("time", 2), ("many", 2)] {
        b.send(format!("PUB {subject} _INBOX.r 2\r\nhi\r\nPING\r\n").as_bytes());
        b.expect(b"PONG\r\n");
        let req = a
            .read_frame(Instant::now() + DEADLINE)
            .expect("the request");
        out.push(norm_replies(&escape(&req)));
        let reply = reply_of(&req);
        for n in 0..responses {
            a.send(format!("PUB {reply} 3\r\nok{n}\r\n").as_bytes());
        }
        a.send(b"PING\r\n");
        a.expect(b"PONG\r\n");
        b.send(b"PING\r\n");
        out.push(escape(&b.read_until_pong()));
    }
    b.send(b"PUB time 1\r\nx\r\nPING\r\n");
    b.expect(b"PONG\r\n");
    a.send(b"UNSUB 1\r\nPING\r\n");
    out.push(norm_replies(&escape(&a.read_until_pong())));
    // Nobody answers in A any more: a requester that asked for no-responders
    // statuses.
    let mut c = login(
        s.port,
        r#"{"verbose":false,"user":"b","pass":"pw","headers":true,"no_responders":true}"#,
    );
    c.expect(b"PONG\r\n");
    c.send(b"SUB _INBOX.c 1\r\nPUB time _INBOX.c 1\r\nq\r\nPING\r\n");
    out.push(escape(&c.read_until_pong()));
    out
}

#[test]
fn service_imports_answer_across_accounts_like_nats_server() {
    let conf = "accounts {\n  A {\n    users: [ {user: a, password: pw} ]\n    exports: [ {service: \"svc.>\"}, {service: \"many\", response_type: stream} ]\n  }\n  B {\n    users: [ {user: b, password: pw} ]\n    imports: [ {service: {account: A, subject: \"svc.time\"}, to: \"time\"}, {service: {account: A, subject: \"many\"}} ]\n  }\n}\n";
    let want = service_conversation(&nats_server_conf(conf, &[]));
    let got = service_conversation(&shoal_conf(conf, &[]));
    assert_eq!(got, want);
    assert!(want[0].contains("_R_.<norm>"), "{want:?}");
    assert!(
        want[1].contains("ok0") && !want[1].contains("ok1"),
        "single: {want:?}"
    );
    assert!(
        want[3].contains("ok0") && want[3].contains("ok1"),
        "stream: {want:?}"
    );
}

/// Deliveries per sid of one connection's frames.
fn per_sid(frames: &[u8]) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(frames).split("\r\n") {
        if let Some(rest) = line.strip_prefix("MSG ") {
            let sid = rest.split(' ').nth(1).unwrap_or("").to_string();
            *out.entry(sid).or_insert(0) += 1;
        }
    }
    out
}

/// 60 messages published in A on a subject B (with a prefix) and C (as it
/// is) import, to queue groups named `q` in all three accounts, a group `r`
/// and a plain subscription in C: (A's q, B's q, C's q, C's r, C's plain).
fn stream_import_queues(s: &ServerProc) -> [usize; 5] {
    let mut a = login(s.port, r#"{"verbose":false,"user":"a","pass":"pw"}"#);
    let mut b = login(s.port, r#"{"verbose":false,"user":"b","pass":"pw"}"#);
    let mut c = login(s.port, r#"{"verbose":false,"user":"c","pass":"pw"}"#);
    let mut p = login(s.port, r#"{"verbose":false,"user":"a","pass":"pw"}"#);
    for conn in [&mut a, &mut b, &mut c, &mut p] {
        conn.expect(b"PONG\r\n");
    }
    a.send(b"SUB events.x q 1\r\nPING\r\n");
    b.send(b"SUB from_a.events.x q 1\r\nPING\r\n");
    c.send(b"SUB events.x q 1\r\nSUB events.x r 2\r\nSUB events.x 3\r\nPING\r\n");
    for conn in [&mut a, &mut b, &mut c] {
        conn.expect(b"PONG\r\n");
    }
    p.send(&b"PUB events.x 1\r\nx\r\n".repeat(60));
    p.send(b"PING\r\n");
    p.expect(b"PONG\r\n");
    let read = |conn: &mut Raw| {
        conn.send(b"PING\r\n");
        per_sid(&conn.read_until_pong())
    };
    let (ra, rb, rc) = (read(&mut a), read(&mut b), read(&mut c));
    let n = |m: &std::collections::BTreeMap<String, usize>, sid: &str| *m.get(sid).unwrap_or(&0);
    [
        n(&ra, "1"),
        n(&rb, "1"),
        n(&rc, "1"),
        n(&rc, "2"),
        n(&rc, "3"),
    ]
}

#[test]
fn queue_groups_of_one_name_span_stream_imports_like_nats_server() {
    let conf = "accounts {\n  A {\n    users: [ {user: a, password: pw} ]\n    exports: [ {stream: \"events.>\"} ]\n  }\n  B {\n    users: [ {user: b, password: pw} ]\n    imports: [ {stream: {account: A, subject: \"events.>\"}, prefix: \"from_a\"} ]\n  }\n  C {\n    users: [ {user: c, password: pw} ]\n    imports: [ {stream: {account: A, subject: \"events.>\"}} ]\n  }\n}\n";
    // The split is random: both servers give each message to one member of
    // `q` across the three accounts (each gets some), and every message to
    // C's `r` and plain subscription.
    for (server, got) in [
        (
            "nats-server",
            stream_import_queues(&nats_server_conf(conf, &[])),
        ),
        ("shoal", stream_import_queues(&shoal_conf(conf, &[]))),
    ] {
        let [qa, qb, qc, r, plain] = got;
        assert_eq!(qa + qb + qc, 60, "{server}: {got:?}");
        assert!(qa > 0 && qb > 0 && qc > 0, "{server}: {got:?}");
        assert_eq!((r, plain), (60, 60), "{server}: {got:?}");
    }
}

/// What A's and B's clients receive after a SIGHUP that changes A's subject
/// mapping, B's stream import (a prefix added) and B's service import (a new
/// local subject), on `start(config path)`; reply subjects of service
/// requests normalised (their tokens are random).
fn reload_routing_scenario(start: &dyn Fn(&str) -> ServerProc) -> Vec<String> {
    let conf = |map_to: &str, prefix: &str, svc_to: &str| {
        format!(
            "accounts {{\n  A {{\n    users: [ {{user: a, password: pw}} ]\n    exports: [ {{stream: \"ev.>\"}}, {{service: \"svc.>\"}} ]\n    mappings: {{ \"m.in\": \"{map_to}\" }}\n  }}\n  B {{\n    users: [ {{user: b, password: pw}} ]\n    imports: [ {{stream: {{account: A, subject: \"ev.>\"}}{prefix}}}, {{service: {{account: A, subject: \"svc.a\"}}, to: \"{svc_to}\"}} ]\n  }}\n}}\n"
        )
    };
    let path = temp_path("conf");
    std::fs::write(&path, conf("m.one", "", "req")).unwrap();
    let s = start(path.to_str().unwrap());
    let connect = |user: &str| {
        let mut c = login(
            s.port,
            &format!(r#"{{"verbose":false,"user":"{user}","pass":"pw"}}"#),
        );
        c.expect(b"PONG\r\n");
        c
    };
    let (mut a, mut b) = (connect("a"), connect("b"));
    a.send(b"SUB m.one 1\r\nSUB m.two 2\r\nSUB svc.a 3\r\nPING\r\n");
    a.expect(b"PONG\r\n");
    b.send(b"SUB ev.x 1\r\nSUB pre.ev.x 2\r\nPING\r\n");
    b.expect(b"PONG\r\n");
    let round = |a: &mut Raw, b: &mut Raw| -> Vec<String> {
        a.send(b"PUB m.in 1\r\nM\r\nPUB ev.x 1\r\nE\r\nPING\r\n");
        let own = escape(&a.read_until_pong());
        b.send(b"PUB req _INBOX.r1 1\r\n1\r\nPUB req2 _INBOX.r2 1\r\n2\r\nPING\r\n");
        let got_b = escape(&b.read_until_pong());
        // A's side: a PING after B's PONG, so B's requests have been routed.
        a.send(b"PING\r\n");
        let got_a = escape(&a.read_until_pong());
        let got_a = got_a
            .split("\\r\\n")
            .map(|part| match part.split_once(" _R_.") {
                Some((head, rest)) => {
                    format!(
                        "{head} _R_.<token> {}",
                        rest.rsplit(' ').next().unwrap_or("")
                    )
                }
                None => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\\r\\n");
        vec![own, got_a, got_b]
    };
    let mut seen = round(&mut a, &mut b);
    std::fs::write(&path, conf("m.two", ", prefix: \"pre\"", "req2")).unwrap();
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for_log("Reloaded server configuration", DEADLINE),
        "{:?}",
        s.log()
    );
    seen.extend(round(&mut a, &mut b));
    seen
}

/// A SIGHUP that changes an account's mappings and imports applies them to
/// the next messages, as nats-server's does (the connections stay).
#[test]
fn reload_applies_new_mappings_and_imports_like_nats_server() {
    let want = reload_routing_scenario(&|p| nats_server(&["-c", p]));
    let got = reload_routing_scenario(&|p| shoal(&["-c", p, "--cores", "2"]));
    assert_eq!(got, want);
    assert!(want[3].contains("MSG m.two 2 1"), "{want:?}");
}

/// A user of the service-import configurations (password `pw`, headers on)
/// logged in, subscribed to `subs` (a SUB per subject, sids from 1).
fn member(port: u16, user: &str, subs: &[&str]) -> Raw {
    let mut c = login(
        port,
        &format!(r#"{{"verbose":false,"user":"{user}","pass":"pw","headers":true}}"#),
    );
    c.expect(b"PONG\r\n");
    let mut ops = String::new();
    for (i, subject) in subs.iter().enumerate() {
        ops.push_str(&format!("SUB {subject} {}\r\n", i + 1));
    }
    c.send(format!("{ops}PING\r\n").as_bytes());
    c.expect(b"PONG\r\n");
    c
}

/// What a headers-enabled responder in the exporting account receives for
/// requests through service imports (with and without a header block of
/// their own, with and without a reply): each with nats-server's
/// `Nats-Request-Info` header naming the requester's account (its RTT
/// normalised, as the replies' tokens).
fn request_info_conversation(s: &ServerProc) -> String {
    let mut a = member(s.port, "a", &["svc.time"]);
    let mut b = member(s.port, "b", &[]);
    b.send(b"PUB time _INBOX.r 2\r\nhi\r\nHPUB time _INBOX.r 20 22\r\nNATS/1.0\r\nX-A: 1\r\n\r\nhi\r\nPUB time 2\r\nhi\r\nPING\r\n");
    b.expect(b"PONG\r\n");
    let mut got = String::new();
    for _ in 0..3 {
        let f = a.read_frame(Instant::now() + DEADLINE).expect("a request");
        got.push_str(&escape(&f));
    }
    norm_request_info(&got)
}

/// Frames of requests through service imports, their reply tokens, RTTs
/// and sizes (which vary with the RTT) normalised.
fn norm_request_info(got: &str) -> String {
    let mut out = String::new();
    for part in norm_replies(got).split("\"rtt\":") {
        if out.is_empty() {
            out.push_str(part);
            continue;
        }
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str("\"rtt\":<n>");
        out.push_str(&part[digits..]);
    }
    // `HMSG subject sid [reply] hdr total`: the two sizes vary with the RTT.
    out.split("HMSG ")
        .map(|m| match m.split_once("\\r\\n") {
            Some((head, rest)) => {
                let words: Vec<&str> = head.split(' ').collect();
                let keep = words.len().saturating_sub(2);
                format!("{}\\r\\n{rest}", words[..keep].join(" "))
            }
            None => m.to_string(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

#[test]
fn service_requests_carry_request_info_like_nats_server() {
    let conf = "accounts {\n  A {\n    users: [ {user: a, password: pw} ]\n    exports: [ {service: \"svc.>\"} ]\n  }\n  B {\n    users: [ {user: b, password: pw} ]\n    imports: [ {service: {account: A, subject: \"svc.time\"}, to: \"time\"} ]\n  }\n}\n";
    let want = request_info_conversation(&nats_server_conf(conf, &[]));
    let got = request_info_conversation(&shoal_conf(conf, &["--cores", "2"]));
    assert_eq!(got, want);
    assert!(want.contains("Nats-Request-Info: {\"acc\":\"B\""), "{want}");
    assert!(want.contains("X-A: 1\\r\\nNats-Request-Info"), "{want}");
}

/// A service import with `share: true`: the request's `Nats-Request-Info`
/// carries the requester's details (its connection's start, id, RTT and the
/// server normalised), as nats-server's.
fn shared_request_info(s: &ServerProc) -> Value {
    let mut a = member(s.port, "a", &["shared"]);
    let mut b = login(
        s.port,
        r#"{"verbose":false,"user":"b","pass":"pw","headers":true,"name":"bee","lang":"py","version":"1"}"#,
    );
    b.expect(b"PONG\r\n");
    b.send(b"PUB shared _INBOX.r 2\r\nhi\r\nPING\r\n");
    b.expect(b"PONG\r\n");
    let f = a.read_frame(Instant::now() + DEADLINE).expect("a request");
    let text = String::from_utf8_lossy(&f).to_string();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Nats-Request-Info: "))
        .expect("the header")
        .to_string();
    let mut v: Value = serde_json::from_str(&line).unwrap();
    for k in ["start", "id", "rtt", "server"] {
        assert!(v.get(k).is_some(), "{k} in {line}");
        v[k] = json!("<norm>");
    }
    v
}

#[test]
fn shared_service_imports_tell_the_requester_like_nats_server() {
    let conf = "accounts {\n  A {\n    users: [ {user: a, password: pw} ]\n    exports: [ {service: \"shared\"} ]\n  }\n  B {\n    users: [ {user: b, password: pw} ]\n    imports: [ {service: {account: A, subject: \"shared\"}, share: true} ]\n  }\n}\n";
    let want = shared_request_info(&nats_server_conf(conf, &[]));
    let got = shared_request_info(&shoal_conf(conf, &["--cores", "2"]));
    assert_eq!(got, want);
    assert_eq!(want["user"], "b");
}

/// A SIGHUP that adds an account (with its users) and drops another: the
/// new account's users log in, the dropped one's connection is closed and
/// its users refused; as nats-server.
fn reload_accounts_scenario(start: &dyn Fn(&str) -> ServerProc) -> Vec<String> {
    let before = "accounts {\n  A { users: [ {user: a, password: pw} ] }\n  K { users: [ {user: k, password: pw} ] }\n}\n";
    let after = "accounts {\n  K { users: [ {user: k, password: pw} ] }\n  B { users: [ {user: b, password: pw} ] }\n}\n";
    let path = temp_path("conf");
    std::fs::write(&path, before).unwrap();
    let s = start(path.to_str().unwrap());
    let try_login = |user: &str| {
        let mut c = login(
            s.port,
            &format!(r#"{{"verbose":false,"user":"{user}","pass":"pw"}}"#),
        );
        escape(&c.read_until_pong_or_closed(DEADLINE))
    };
    let mut out = vec![try_login("b")];
    let mut a = login(s.port, r#"{"verbose":false,"user":"a","pass":"pw"}"#);
    a.expect(b"PONG\r\n");
    let mut k = login(s.port, r#"{"verbose":false,"user":"k","pass":"pw"}"#);
    k.expect(b"PONG\r\n");
    k.send(b"SUB x 1\r\nPING\r\n");
    k.expect(b"PONG\r\n");
    std::fs::write(&path, after).unwrap();
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for_log("Reloaded server configuration", DEADLINE),
        "{:?}",
        s.log()
    );
    out.push(escape(&a.read_until_closed(DEADLINE)));
    out.push(try_login("a"));
    out.push(try_login("b"));
    // K's connection and subscription stay.
    let mut k2 = login(s.port, r#"{"verbose":false,"user":"k","pass":"pw"}"#);
    k2.expect(b"PONG\r\n");
    k2.send(b"PUB x 1\r\n1\r\nPING\r\n");
    k2.expect(b"PONG\r\n");
    k.send(b"PING\r\n");
    out.push(escape(&k.read_until_pong()));
    // The dropped account is gone from /accountz (nats-server's own `$SYS`
    // left out: Shoal has none by default).
    let page = crate::monitor::get(crate::monitor::http_port(&s), "/accountz").json();
    let mut names: Vec<String> = serde_json::from_value(page["accounts"].clone()).unwrap();
    names.retain(|n| n != "$SYS");
    names.sort();
    out.push(names.join(","));
    out
}

#[test]
fn reload_adds_and_drops_accounts_like_nats_server() {
    let want = reload_accounts_scenario(&|p| nats_server(&["-c", p, "-m", "-1"]));
    let got = reload_accounts_scenario(&|p| shoal(&["-c", p, "--cores", "2", "-m", "-1"]));
    assert_eq!(got, want);
    assert!(want[3].ends_with("PONG\\r\\n"), "{want:?}");
}

/// A chain of service imports (B imports A's service, which A imports from
/// C): each hop's responder sees the request with the first requester's
/// account (and, past the first hop, `svc`: the account it passed through),
/// and C's response reaches B; as nats-server.
fn chain_conversation(s: &ServerProc) -> String {
    let mut c = member(s.port, "c", &["deep"]);
    let mut a = member(s.port, "a", &["svc"]);
    let mut b = member(s.port, "b", &["_INBOX.r"]);
    b.send(b"PUB svc _INBOX.r 2\r\nhi\r\nPING\r\n");
    b.expect(b"PONG\r\n");
    let at_c = c
        .read_frame(Instant::now() + DEADLINE)
        .expect("C's request");
    let at_a = a
        .read_frame(Instant::now() + DEADLINE)
        .expect("A's request");
    let reply = String::from_utf8_lossy(&at_c)
        .split(' ')
        .nth(3)
        .unwrap_or("")
        .to_string();
    c.send(format!("PUB {reply} 4\r\ndeep\r\nPING\r\n").as_bytes());
    c.expect(b"PONG\r\n");
    let answer = b
        .read_frame(Instant::now() + DEADLINE)
        .expect("the response");
    format!(
        "{} || {} || {}",
        norm_request_info(&escape(&at_c)),
        norm_request_info(&escape(&at_a)),
        escape(&answer)
    )
}

#[test]
fn chained_service_imports_like_nats_server() {
    let conf = "accounts {\n  C { users: [ {user: c, password: pw} ], exports: [ {service: \"deep\"} ] }\n  A { users: [ {user: a, password: pw} ], exports: [ {service: \"svc\"} ], imports: [ {service: {account: C, subject: \"deep\"}, to: \"svc\"} ] }\n  B { users: [ {user: b, password: pw} ], imports: [ {service: {account: A, subject: \"svc\"}} ] }\n}\n";
    let want = chain_conversation(&nats_server_conf(conf, &[]));
    let got = chain_conversation(&shoal_conf(conf, &["--cores", "2"]));
    assert_eq!(got, want);
    assert!(
        want.contains("\"svc\":\"A\"") && want.ends_with("deep\\r\\n"),
        "{want}"
    );
}

/// A responder that asks for no-responders statuses answers a request that
/// came through a service import, with a reply subject of its own: the
/// response has a taker (the import), so no 503 comes back to it; as
/// nats-server.
fn responder_with_reply(s: &ServerProc) -> Vec<String> {
    let mut a = login(
        s.port,
        r#"{"verbose":false,"user":"a","pass":"pw","headers":true,"no_responders":true}"#,
    );
    a.expect(b"PONG\r\n");
    a.send(b"SUB svc.time 1\r\nSUB _INBOX.a 2\r\nPING\r\n");
    a.expect(b"PONG\r\n");
    let mut b = login(s.port, r#"{"verbose":false,"user":"b","pass":"pw"}"#);
    b.expect(b"PONG\r\n");
    b.send(b"SUB _INBOX.r 1\r\nPUB time _INBOX.r 2\r\nhi\r\nPING\r\n");
    b.expect(b"PONG\r\n");
    let req = a
        .read_frame(Instant::now() + DEADLINE)
        .expect("the request");
    let reply = String::from_utf8_lossy(&req)
        .split(' ')
        .nth(3)
        .unwrap_or("")
        .to_string();
    a.send(format!("PUB {reply} _INBOX.a 2\r\nok\r\nPING\r\n").as_bytes());
    let after = escape(&a.read_until_pong());
    b.send(b"PING\r\n");
    let response = b.read_until_pong();
    // The response's own reply, mapped back: B's answer to it reaches A.
    let back = String::from_utf8_lossy(&response)
        .split(' ')
        .nth(3)
        .unwrap_or("")
        .to_string();
    b.send(format!("PUB {back} 5\r\nagain\r\nPING\r\n").as_bytes());
    b.expect(b"PONG\r\n");
    a.send(b"PING\r\n");
    let answered = escape(&a.read_until_pong());
    vec![after, norm_replies(&escape(&response)), answered]
}

#[test]
fn responses_through_imports_have_a_taker_like_nats_server() {
    let conf = "accounts {\n  A {\n    users: [ {user: a, password: pw} ]\n    exports: [ {service: \"svc.>\"} ]\n  }\n  B {\n    users: [ {user: b, password: pw} ]\n    imports: [ {service: {account: A, subject: \"svc.time\"}, to: \"time\"} ]\n  }\n}\n";
    let want = responder_with_reply(&nats_server_conf(conf, &[]));
    let got = responder_with_reply(&shoal_conf(conf, &["--cores", "2"]));
    assert_eq!(got, want);
    assert!(
        !want[0].contains("503") && want[1].contains("ok"),
        "{want:?}"
    );
    assert!(want[2].contains("MSG _INBOX.a 2 5"), "{want:?}");
}
