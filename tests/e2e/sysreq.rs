//! The server's own request subjects in the system account
//! (`$SYS.REQ.SERVER.PING…`, `$SYS.REQ.SERVER.<id>.…`,
//! `$SYS.REQ.ACCOUNT.PING.STATZ`) and `/accstatz`, asked of Shoal
//! (`--cores 2`, so most requests cross a ring to core 0) and of nats-server
//! 2.15 with the same config, the answers compared: the `server` object's
//! keys (its identity, sequence and time normalised), `statsz`'s keys, the
//! IDZ and HEALTHZ answers and every error answer whole, the pages' `data`
//! on what is deterministic; no answer where nats-server sends none (a
//! filter that leaves the server out), no responders where it has none.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::monitor::{get, http_port};
use crate::util::{nats_server_conf, shoal_conf, Raw, ServerProc};

const DEADLINE: Duration = Duration::from_secs(10);

const CONF: &str = "server_name: srv\naccounts {\n  SYS: { users: [ {user: admin, password: x} ] }\n  APP: { users: [ {user: app, password: y} ] }\n}\nsystem_account: SYS\n";

/// A logged-in client with a reply subscription on `_INBOX.t`.
struct Asker {
    c: Raw,
    id: String,
}

impl Asker {
    fn new(port: u16, user: &str, pass: &str) -> Asker {
        let (mut c, info) = Raw::connect(port);
        c.send(
            format!(
                "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\",\"headers\":true,\"no_responders\":true}}\r\nSUB _INBOX.t 1\r\nPING\r\n"
            )
            .as_bytes(),
        );
        c.expect(b"PONG\r\n");
        let id = info["server_id"].as_str().unwrap().to_string();
        Asker { c, id }
    }

    /// Publishes a request and returns the next frame delivered: the head
    /// line and the payload.
    fn ask(&mut self, subject: &str, body: &str) -> (String, String) {
        self.send(subject, body);
        self.next()
    }

    fn send(&mut self, subject: &str, body: &str) {
        self.c
            .send(format!("PUB {subject} _INBOX.t {}\r\n{body}\r\n", body.len()).as_bytes());
    }

    fn next(&mut self) -> (String, String) {
        let f = self
            .c
            .read_frame(Instant::now() + DEADLINE)
            .expect("an answer");
        let text = String::from_utf8_lossy(&f).to_string();
        let (head, rest) = text.split_once("\r\n").expect("a frame");
        (head.to_string(), rest.trim_end_matches("\r\n").to_string())
    }

    /// The answer parsed, its `server` checked against nats-server's keys
    /// and normalised.
    fn json(&mut self, subject: &str, body: &str) -> Value {
        let (head, payload) = self.ask(subject, body);
        assert!(head.starts_with("MSG _INBOX.t 1 "), "{subject}: {head}");
        let mut v: Value =
            serde_json::from_str(&payload).unwrap_or_else(|e| panic!("{e}: {payload}"));
        // IDZ's answer is the bare identity.
        let has_server = v.get("server").is_some();
        let server = if has_server {
            v.get_mut("server")
        } else {
            Some(&mut v)
        };
        if let Some(server) = server.and_then(Value::as_object_mut) {
            assert_eq!(server["id"], json!(self.id), "{payload}");
            for k in ["id", "seq", "time"] {
                if let Some(x) = server.get_mut(k) {
                    *x = json!("<norm>");
                }
            }
        }
        v
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// What one server answers to the battery, normalised for comparison.
fn battery(s: &ServerProc) -> Vec<Value> {
    let mut a = Asker::new(s.port, "admin", "x");
    let mut out = Vec::new();
    let statsz = a.json("$SYS.REQ.SERVER.PING", "");
    out.push(json!({"server": statsz["server"], "statsz": keys(&statsz["statsz"])}));
    assert_eq!(statsz["statsz"]["connections"], 1, "{statsz}");
    assert_eq!(statsz["statsz"]["active_accounts"], 1, "{statsz}");
    let id = a.id.clone();
    out.push(a.json("$SYS.REQ.SERVER.PING.IDZ", ""));
    out.push(a.json(&format!("$SYS.REQ.SERVER.{id}.IDZ"), ""));
    out.push(a.json("$SYS.REQ.SERVER.PING.HEALTHZ", ""));
    out.push(a.json("$SYS.REQ.SERVER.PING.HEALTHZ", r#"{"stream":"x"}"#));
    for bad in [r#"{"limit":"x"}"#, r#"{"sort":"bogus"}"#, "xx", "[1]"] {
        out.push(a.json("$SYS.REQ.SERVER.PING.CONNZ", bad));
    }
    out.push(a.json("$SYS.REQ.SERVER.PING", "xx"));
    // The page's data: the one connection, with its subscription listed.
    let connz = a.json(
        &format!("$SYS.REQ.SERVER.{id}.CONNZ"),
        r#"{"subscriptions":true}"#,
    );
    let data = &connz["data"];
    assert_eq!(data["server_id"], json!(id), "{connz}");
    assert_eq!(data["num_connections"], 1, "{connz}");
    assert_eq!(
        data["connections"][0]["subscriptions_list"],
        json!(["_INBOX.t"]),
        "{connz}"
    );
    out.push(json!({"server": connz["server"], "data": keys(data)}));
    let varz = a.json("$SYS.REQ.SERVER.PING.VARZ", "");
    assert_eq!(varz["data"]["server_name"], "srv", "{varz}");
    assert_eq!(varz["data"]["connections"], 1, "{varz}");
    let subsz = a.json("$SYS.REQ.SERVER.PING.SUBSZ", r#"{"limit":5}"#);
    assert_eq!(subsz["data"]["limit"], 5, "{subsz}");
    out.push(json!({"server": subsz["server"], "data": keys(&subsz["data"])}));
    let accountz = a.json("$SYS.REQ.SERVER.PING.ACCOUNTZ", "");
    // nats-server lists its accounts in map order.
    let mut accounts: Vec<String> =
        serde_json::from_value(accountz["data"]["accounts"].clone()).unwrap();
    accounts.sort();
    out.push(json!({"accounts": accounts}));
    // A filter that leaves this server out: no answer (the next request's
    // answer is the next frame); one that keeps it, by part of the name or
    // exactly: an answer. IDZ reads no options: answered whatever the filter.
    a.send("$SYS.REQ.SERVER.PING.CONNZ", r#"{"server_name":"nomatch"}"#);
    a.send(
        "$SYS.REQ.SERVER.PING.STATSZ",
        r#"{"server_name":"srv","exact_match":true,"cluster":"x"}"#,
    );
    out.push(a.json("$SYS.REQ.SERVER.PING.HEALTHZ", r#"{"server_name":"sr"}"#));
    out.push(a.json(
        "$SYS.REQ.SERVER.PING.HEALTHZ",
        r#"{"server_name":"srv","exact_match":true}"#,
    ));
    out.push(a.json("$SYS.REQ.SERVER.PING.IDZ", r#"{"server_name":"nomatch"}"#));
    // A kind the server has no subscription for, another server's id:
    // no responders.
    for subject in ["$SYS.REQ.SERVER.PING.FOOZ", "$SYS.REQ.SERVER.NOTME.VARZ"] {
        let (head, payload) = a.ask(subject, "");
        out.push(json!({"subject": subject, "head": head, "payload": payload}));
    }
    // Outside the system account the subjects are nobody's.
    let mut app = Asker::new(s.port, "app", "y");
    let (head, payload) = app.ask("$SYS.REQ.SERVER.PING", "");
    out.push(json!({"app_head": head, "app_payload": payload}));
    out
}

#[test]
fn server_requests_like_nats_server() {
    let want = battery(&nats_server_conf(CONF, &[]));
    let got = battery(&shoal_conf(CONF, &["--cores", "2"]));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
}

/// `/accstatz` after one APP client published twice to its own
/// subscription and another APP client stayed idle: the same accounts with
/// the same counts as nats-server's. Not compared: `num_subscriptions`
/// (nats-server also counts the 4 service imports of `$SYS.REQ.ACCOUNT…`
/// it adds to every account). Each PUB goes in its own write after the
/// login: nats-server counts a publish read together with its CONNECT on
/// the account the connection had before the CONNECT (`$G`).
fn accstatz(s: &ServerProc) -> Vec<Value> {
    let port = http_port(s);
    let mut a = Asker::new(s.port, "app", "y");
    a.c.send(b"SUB foo 2\r\nPING\r\n");
    a.c.expect(b"PONG\r\n");
    let _idle = Asker::new(s.port, "app", "y");
    for _ in 0..2 {
        a.c.send(b"PUB foo 5\r\nhello\r\nPING\r\n");
        a.c.read_until_pong();
    }
    let mut out = Vec::new();
    let page = get(port, "/accstatz").json();
    let mut stats = page["account_statz"].clone();
    for st in stats.as_array_mut().unwrap() {
        st.as_object_mut().unwrap().remove("num_subscriptions");
    }
    out.push(stats);
    let all = get(port, "/accstatz?unused=1").json();
    let mut names: Vec<String> = all["account_statz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["acc"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    out.push(json!(names));
    let bad = get(port, "/accstatz?unused=x");
    out.push(json!([bad.status, bad.body]));
    out
}

#[test]
fn accstatz_like_nats_server() {
    let want = accstatz(&nats_server_conf(CONF, &["-m", "-1"]));
    let got = accstatz(&shoal_conf(CONF, &["--cores", "2", "-m", "-1"]));
    assert_eq!(got, want);
    assert_eq!(got[0][0]["conns"], 2, "{got:?}");
    assert_eq!(got[0][0]["sent"]["msgs"], 2, "{got:?}");
}

/// `$SYS.REQ.ACCOUNT.PING.STATZ` from the system account, on Shoal alone:
/// nats-server answers it there twice (its own subscription, and the
/// `$SYS.REQ.ACCOUNT.SYS.STATZ` service import it adds to every account,
/// the system account included), so answers cannot be paired one to one.
/// The answers nats-server's subscription gives, captured from 2.15.1: an
/// error for a body of the wrong type; none for an account without
/// connections unless unused ones are asked for; the connected accounts.
#[test]
fn account_statz_request() {
    let s = shoal_conf(CONF, &["--cores", "2"]);
    let mut a = Asker::new(s.port, "admin", "x");
    let subject = "$SYS.REQ.ACCOUNT.PING.STATZ";
    let bad = a.json(subject, r#"{"accounts":"APP"}"#);
    assert_eq!(
        bad["error"],
        json!({"code": 400, "description": "json: cannot unmarshal string into Go struct field AccountStatzEventOptions.accounts of type []string"})
    );
    a.send(subject, r#"{"accounts":["APP"]}"#);
    let unused = a.json(subject, r#"{"accounts":["APP"],"include_unused":true}"#);
    let listed = &unused["data"]["account_statz"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{unused}");
    assert_eq!(
        (&listed[0]["acc"], &listed[0]["conns"]),
        (&json!("APP"), &json!(0)),
        "{unused}"
    );
    let connected = a.json(subject, "");
    let listed = &connected["data"]["account_statz"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{connected}");
    assert_eq!(
        (&listed[0]["acc"], &listed[0]["conns"]),
        (&json!("SYS"), &json!(1)),
        "{connected}"
    );
}

/// `$SYS.REQ.USER.INFO` from users of an application account (one with
/// permissions, one without) and of the system account: each gets who it
/// is, as nats-server answers (every account imports the service).
#[test]
fn user_info_like_nats_server() {
    let conf = "server_name: srv\naccounts {\n  SYS: { users: [ {user: admin, password: x} ] }\n  APP: { users: [ {user: a, password: y, permissions: {publish: {allow: [\"foo.>\", \"$SYS.REQ.>\", \"_INBOX.>\"]}, subscribe: {deny: [\"bar\"]}, allow_responses: true}}, {user: b, password: y} ] }\n}\nsystem_account: SYS\n";
    let run = |s: ServerProc| -> Vec<Value> {
        let mut out = Vec::new();
        for (user, pass) in [("a", "y"), ("b", "y"), ("admin", "x")] {
            let mut asker = Asker::new(s.port, user, pass);
            let mut v = asker.json("$SYS.REQ.USER.INFO", "");
            // nats-server lists each permission list in its sublist's
            // (map) order: compared as sets.
            for list in [
                "/permissions/publish/allow",
                "/permissions/publish/deny",
                "/permissions/subscribe/allow",
                "/permissions/subscribe/deny",
            ] {
                if let Some(Value::Array(a)) = v["data"].pointer_mut(list) {
                    a.sort_by_key(|x| x.to_string());
                }
            }
            out.push(v["data"].clone());
        }
        out
    };
    let want = run(nats_server_conf(conf, &[]));
    let got = run(shoal_conf(conf, &["--cores", "2"]));
    assert_eq!(got, want);
    assert_eq!(
        want[0]["permissions"]["subscribe"]["deny"],
        json!(["bar"]),
        "{want:?}"
    );
}

/// An account's own view through the services nats-server imports into
/// every account (`$SYS.REQ.ACCOUNT.PING.CONNZ`, `$SYS.REQ.SERVER.PING.CONNZ`,
/// `$SYS.REQ.ACCOUNT.PING.STATZ`: about the asking account), and the system
/// account's `$SYS.REQ.ACCOUNT.<acc>.CONNZ|STATZ`; as nats-server answers.
#[test]
fn account_scoped_requests_like_nats_server() {
    let run = |s: ServerProc| -> Vec<Value> {
        let mut out = Vec::new();
        let mut app = Asker::new(s.port, "app", "y");
        let mut admin = Asker::new(s.port, "admin", "x");
        let brief = |v: &Value| {
            let d = &v["data"];
            json!({
                "server_id_set": d["server_id"].as_str().is_some_and(|s| !s.is_empty()),
                "num_connections": d["num_connections"],
                "total": d["total"],
                "accounts": d["account_statz"].as_array().map(|a| a.iter().map(|x| (x["acc"].clone(), x["conns"].clone())).collect::<Vec<_>>()),
                "error": v["error"],
            })
        };
        for subject in [
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            "$SYS.REQ.SERVER.PING.CONNZ",
            "$SYS.REQ.ACCOUNT.PING.STATZ",
        ] {
            out.push(brief(&app.json(subject, "")));
        }
        let (head, _) = app.ask("$SYS.REQ.SERVER.PING.VARZ", "");
        out.push(json!(head.split(' ').next()));
        for subject in [
            "$SYS.REQ.ACCOUNT.APP.CONNZ",
            "$SYS.REQ.ACCOUNT.NOPE.CONNZ",
            "$SYS.REQ.ACCOUNT.APP.STATZ",
        ] {
            out.push(brief(&admin.json(subject, "")));
        }
        out
    };
    let want = run(nats_server_conf(CONF, &[]));
    let got = run(shoal_conf(CONF, &["--cores", "2"]));
    assert_eq!(got, want);
    assert_eq!(want[0]["num_connections"], 1, "{want:?}");
}
