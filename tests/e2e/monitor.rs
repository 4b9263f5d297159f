//! HTTP monitoring (`-m`) side by side with the reference nats-server 2.15.
//!
//! One scenario (three open connections with plain, queue and auto-unsubscribe
//! subscriptions, messages with and without headers, one clean close, one
//! protocol violation) runs on Shoal (`--cores 2`) and on nats-server started
//! with `no_system_account: true` (Shoal has no system account, so that is the
//! reference whose subscription counts and account list Shoal must equal).
//! Every page is then fetched from both, in lock-step (so that even
//! `http_req_stats` must agree), and compared:
//!
//! * shape: the same keys in the same order with the same JSON types,
//!   recursively (array items compared as a set of shapes), except the keys
//!   listed in [`ONLY_SHOAL`] and [`ONLY_NATS`];
//! * values wherever they are deterministic: limits, counts of connections,
//!   subscriptions, messages and bytes, subscription lists, sort orders,
//!   pagination, close reasons, 400 texts.
//!
//! Connections are matched by their CONNECT `name`, never by `cid`: Shoal
//! numbers clients per core.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{core_of, escape, nats_server_conf, shoal, Raw, ServerProc};

/// The line both servers log once the monitoring port is open.
const MONITOR: &str = "Starting http monitor on ";
/// Keys only Shoal shows (its per-core figures).
const ONLY_SHOAL: &[&str] = &["shoal", "core"];
/// Keys only nats-server shows: its git commit (left out when unknown, as an
/// unstamped nats-server build does) and JetStream feature flags (no JetStream).
const ONLY_NATS: &[&str] = &["git_commit", "feature_flags"];

/// The monitoring port a server logged.
pub fn http_port(p: &ServerProc) -> u16 {
    assert!(
        p.wait_for_log(MONITOR, Duration::from_secs(5)),
        "no monitor line in {:?}",
        p.log()
    );
    let line = p.log().into_iter().find(|l| l.contains(MONITOR)).unwrap();
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// One HTTP response.
pub struct Resp {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        assert_eq!(self.status, 200, "body: {}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `GET path` over a fresh connection (`Connection: close`).
pub fn get(port: u16, path: &str) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the monitor port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {}", escape(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 2 + size + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    }
}

// ---------------------------------------------------------------------------
// Shapes: keys in order and JSON types, from the raw text (serde_json's `Value`
// does not keep key order).

/// A JSON value with object keys in document order.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool,
    Num,
    Str,
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn string(&mut self) -> String {
        assert_eq!(self.s[self.i], b'"');
        self.i += 1;
        let start = self.i;
        while self.s[self.i] != b'"' {
            self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
        }
        let raw = &self.s[start - 1..=self.i];
        self.i += 1;
        serde_json::from_slice(raw).unwrap()
    }

    fn value(&mut self) -> J {
        self.ws();
        let v = match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut fields = Vec::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b'}' {
                        self.i += 1;
                        break;
                    }
                    if self.s[self.i] == b',' {
                        self.i += 1;
                        self.ws();
                    }
                    let k = self.string();
                    self.ws();
                    assert_eq!(self.s[self.i], b':');
                    self.i += 1;
                    fields.push((k, self.value()));
                }
                J::Obj(fields)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    match self.s[self.i] {
                        b']' => {
                            self.i += 1;
                            break;
                        }
                        b',' => self.i += 1,
                        _ => items.push(self.value()),
                    }
                }
                J::Arr(items)
            }
            b'"' => {
                self.string();
                J::Str
            }
            b't' | b'f' => {
                self.i += if self.s[self.i] == b't' { 4 } else { 5 };
                J::Bool
            }
            b'n' => {
                self.i += 4;
                J::Null
            }
            _ => {
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                J::Num
            }
        };
        self.ws();
        v
    }
}

/// The shape of a JSON text without the keys named in `drop` (at any depth):
/// objects as their keys in order with the shapes of their values, arrays as the
/// sorted set of their items' shapes.
fn shape(text: &str, drop: &[&str]) -> String {
    fn sig(j: &J, drop: &[&str]) -> String {
        match j {
            J::Null => "null".into(),
            J::Bool => "bool".into(),
            J::Num => "number".into(),
            J::Str => "string".into(),
            J::Arr(items) => {
                let mut set: Vec<String> = items.iter().map(|i| sig(i, drop)).collect();
                set.sort();
                set.dedup();
                format!("[{}]", set.join(" | "))
            }
            J::Obj(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .filter(|(k, _)| !drop.contains(&k.as_str()))
                    .map(|(k, v)| format!("{k}: {}", sig(v, drop)))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    sig(&p.value(), drop)
}

// ---------------------------------------------------------------------------

/// The two servers and their monitoring ports; the scenario's clients stay open.
struct Pair {
    shoal: ServerProc,
    nats: ServerProc,
    ports: [u16; 2],
    _clients: Vec<Vec<Raw>>,
}

impl Pair {
    fn start() -> Pair {
        let shoal = shoal(&["-m", "-1", "--cores", "2"]);
        let nats = nats_server_conf("no_system_account: true\n", &["-m", "-1"]);
        let ports = [http_port(&shoal), http_port(&nats)];
        Pair {
            shoal,
            nats,
            ports,
            _clients: Vec::new(),
        }
    }

    /// `path` from both: (Shoal, nats-server).
    fn get(&self, path: &str) -> (Resp, Resp) {
        (get(self.ports[0], path), get(self.ports[1], path))
    }

    /// Both pages parsed, after checking they have the same shape.
    fn same_shape(&self, path: &str) -> (Value, Value) {
        let (s, n) = self.get(path);
        assert_eq!(s.status, n.status, "{path}: {} vs {}", s.body, n.body);
        assert_eq!(
            shape(&s.body, ONLY_SHOAL),
            shape(&n.body, ONLY_NATS),
            "{path}: shapes differ\nshoal: {}\nnats:  {}",
            s.body,
            n.body
        );
        for h in ["Content-Type", "Access-Control-Allow-Origin"] {
            assert_eq!(s.header(h), n.header(h), "{path}: header {h}");
        }
        (s.json(), n.json())
    }
}

/// Connects, sends CONNECT (verbose off, headers on) plus `ops`, and waits for
/// the PONG of a PING sent after them.
fn client(port: u16, name: &str, ops: &[u8]) -> Raw {
    let (mut c, _) = Raw::connect(port);
    let connect = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"{name}\",\"lang\":\"rust\",\
         \"version\":\"1.0\",\"protocol\":1,\"headers\":true}}\r\n"
    );
    c.send(connect.as_bytes());
    c.send(ops);
    c.send(b"PING\r\n");
    c.read_until_pong();
    c
}

/// The scenario: a (three subscriptions), b (one, auto-unsubscribe after 5), c
/// (publishes three messages, one with headers), d (closes cleanly), e (sends
/// an unknown operation). Returns the open clients.
fn scenario(port: u16) -> Vec<Raw> {
    let mut a = client(port, "a", b"SUB foo 1\r\nSUB foo q 2\r\nSUB bar.* 3\r\n");
    let mut b = client(port, "b", b"SUB foo 1\r\nUNSUB 1 5\r\n");
    let c = client(
        port,
        "c",
        b"PUB foo 5\r\nhello\r\nHPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\nPUB bar.x 2\r\nhi\r\n",
    );
    // Everything published before c's PONG is queued for a and b by now.
    a.send(b"PING\r\n");
    a.read_until_pong();
    b.send(b"PING\r\n");
    b.read_until_pong();
    // d closes cleanly and e is closed for a protocol violation: each is read
    // until the server has closed it (a deadline, not a quiet window).
    let mut d = client(port, "d", b"");
    d.shutdown_write();
    d.read_until_closed(Duration::from_secs(10)); // (its connect_info INFO)
    let (mut e, _) = Raw::connect(port);
    e.send(b"FOO\r\n");
    let got = e.read_until_closed(Duration::from_secs(10));
    assert!(
        String::from_utf8_lossy(&got).contains("-ERR 'Unknown Protocol Operation'"),
        "{}",
        escape(&got)
    );
    vec![a, b, c]
}

/// A page's `connections` by name.
fn by_name(page: &Value) -> BTreeMap<String, Value> {
    page["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or("").to_string(), c.clone()))
        .collect()
}

fn names(page: &Value) -> Vec<String> {
    page["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Subscription details without their cids, sorted.
fn subs_of(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .map(|l| {
            l.iter()
                .map(|s| {
                    let mut s = s.clone();
                    s.as_object_mut().unwrap().remove("cid");
                    s.to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn assert_same(s: &Value, n: &Value, keys: &[&str], what: &str) {
    for k in keys {
        assert_eq!(s[k], n[k], "{what}: {k}");
    }
}

#[test]
fn pages_match_nats_server() {
    let mut pair = Pair::start();
    pair._clients = vec![scenario(pair.shoal.port), scenario(pair.nats.port)];
    // Wait, in lock-step, until both have recorded the two closed connections.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (s, n) = pair.get("/connz?state=closed");
        if s.json()["total"] == 2 && n.json()["total"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "closed: {} / {}", s.body, n.body);
        std::thread::sleep(Duration::from_millis(50));
    }

    // /varz: configuration, limits, totals.
    let (s, n) = pair.same_shape("/varz");
    assert_same(
        &s,
        &n,
        &[
            "version",
            "proto",
            "host",
            "max_connections",
            "ping_interval",
            "ping_max",
            "http_host",
            "http_port",
            "http_base_path",
            "https_port",
            "auth_timeout",
            "max_control_line",
            "max_payload",
            "max_pending",
            "cluster",
            "gateway",
            "leaf",
            "mqtt",
            "websocket",
            "jetstream",
            "tls_timeout",
            "write_deadline",
            "connections",
            "total_connections",
            "routes",
            "remotes",
            "leafnodes",
            "in_msgs",
            "in_bytes",
            "in_client_msgs",
            "in_client_bytes",
            "out_msgs",
            "out_bytes",
            "out_client_msgs",
            "out_client_bytes",
            "slow_consumers",
            "stale_connections",
            "stalled_clients",
            "subscriptions",
            "slow_consumer_stats",
            "stale_connection_stats",
            "disk_io_wait_stats",
        ],
        "/varz",
    );
    assert_eq!(s["connections"], 3);
    assert_eq!(s["total_connections"], 5);
    assert_eq!(
        (s["in_msgs"].clone(), s["in_bytes"].clone()),
        (3.into(), 24.into())
    );
    assert_eq!(
        (s["out_msgs"].clone(), s["out_bytes"].clone()),
        (7.into(), 68.into())
    );
    assert_eq!(s["subscriptions"], 4);
    assert_eq!(s["port"], pair.shoal.port);

    // /connz: the open connections, with and without subscriptions.
    let (s, n) = pair.same_shape("/connz");
    assert_same(
        &s,
        &n,
        &["num_connections", "total", "offset", "limit"],
        "/connz",
    );
    let (sc, nc) = (by_name(&s), by_name(&n));
    assert_eq!(sc.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(sc.keys().collect::<Vec<_>>(), nc.keys().collect::<Vec<_>>());
    for (name, c) in &sc {
        assert_same(
            c,
            &nc[name],
            &[
                "kind",
                "type",
                "ip",
                "pending_bytes",
                "in_msgs",
                "out_msgs",
                "in_bytes",
                "out_bytes",
                "subscriptions",
                "name",
                "lang",
                "version",
            ],
            &format!("/connz {name}"),
        );
    }
    let (s, n) = pair.same_shape("/connz?subs=1");
    let (sc, nc) = (by_name(&s), by_name(&n));
    for name in ["a", "b", "c"] {
        let sorted = |c: &Value| {
            let mut l: Vec<String> = c["subscriptions_list"]
                .as_array()
                .map(|l| l.iter().map(|x| x.to_string()).collect())
                .unwrap_or_default();
            l.sort();
            l
        };
        assert_eq!(sorted(&sc[name]), sorted(&nc[name]), "subs=1 {name}");
    }
    let (s, n) = pair.same_shape("/connz?subs=detail");
    let (sc, nc) = (by_name(&s), by_name(&n));
    for name in ["a", "b", "c"] {
        let (x, y) = (
            &sc[name]["subscriptions_list_detail"],
            &nc[name]["subscriptions_list_detail"],
        );
        assert_eq!(subs_of(x), subs_of(y), "subs=detail {name}");
    }
    assert_eq!(subs_of(&sc["a"]["subscriptions_list_detail"]).len(), 3);

    // Sort orders and pagination (only orders without ties).
    for (path, want) in [
        ("/connz?sort=msgs_to&limit=2&offset=1", vec!["b", "c"]),
        ("/connz?sort=bytes_to", vec!["a", "b", "c"]),
        ("/connz?sort=msgs_from&limit=1", vec!["c"]),
        ("/connz?sort=bytes_from&limit=1", vec!["c"]),
        ("/connz?sort=subs", vec!["a", "b", "c"]),
        ("/connz?sort=uptime", vec!["c", "b", "a"]),
        ("/connz?sort=start", vec!["a", "b", "c"]),
        ("/connz?offset=5", vec![]),
    ] {
        let (s, n) = pair.same_shape(path);
        assert_eq!(names(&s), want, "{path} on Shoal");
        assert_eq!(names(&n), want, "{path} on nats-server");
        assert_same(
            &s,
            &n,
            &["num_connections", "total", "offset", "limit"],
            path,
        );
    }

    // One connection by cid (each server's own cid for "a").
    for (port, page) in [pair.ports[0], pair.ports[1]]
        .into_iter()
        .zip([pair.get("/connz").0.json(), pair.get("/connz").1.json()])
    {
        let cid = by_name(&page)["a"]["cid"].as_u64().unwrap();
        let one = get(port, &format!("/connz?cid={cid}")).json();
        assert_eq!(names(&one), ["a"]);
        assert_eq!(
            (one["limit"].as_u64(), one["total"].as_u64()),
            (Some(1), Some(3))
        );
    }

    // auth=1: the account's name tag, nothing else without users.
    let (s, n) = pair.same_shape("/connz?auth=1");
    for (name, c) in by_name(&s) {
        assert_eq!(c["name_tag"], "$G", "{name}");
        assert_eq!(c["name_tag"], by_name(&n)[&name]["name_tag"]);
    }

    // Closed connections: reasons, order by reason, state=any.
    let (s, n) = pair.same_shape("/connz?state=closed&subs=detail");
    assert_same(&s, &n, &["num_connections", "total"], "closed");
    let reasons = |p: &Value| -> Vec<String> {
        p["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["reason"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, n) = pair.same_shape("/connz?state=closed&sort=reason");
    assert_eq!(reasons(&s), ["Client Closed", "Protocol Violation"]);
    assert_eq!(reasons(&s), reasons(&n));
    assert_eq!(names(&s), ["d", ""]);
    let (s, n) = pair.same_shape("/connz?state=any");
    assert_same(&s, &n, &["num_connections", "total"], "any");
    assert_eq!(s["total"], 5);
    // Which connections fall on a page depends on the cids (Shoal numbers them
    // per core): compare the envelope only.
    let (s, n) = pair.get("/connz?state=any&limit=2&offset=3");
    let (s, n) = (s.json(), n.json());
    let page = ["num_connections", "total", "offset", "limit"];
    assert_same(&s, &n, &page, "any page");

    // /subsz: statistics, the list, and the `test` filter.
    let (s, n) = pair.same_shape("/subsz");
    assert_same(
        &s,
        &n,
        &["num_subscriptions", "total", "offset", "limit"],
        "/subsz",
    );
    assert_eq!(s["num_subscriptions"], 4);
    pair.same_shape("/subscriptionsz");
    for (path, count) in [
        ("/subsz?subs=1", 4),
        ("/subsz?subs=1&test=foo", 3),
        ("/subsz?subs=true&test=bar.x", 1),
        ("/subsz?subs=1&test=nothing", 0),
    ] {
        let (s, n) = pair.same_shape(path);
        assert_same(&s, &n, &["total", "offset", "limit"], path);
        let (x, y) = (&s["subscriptions_list"], &n["subscriptions_list"]);
        assert_eq!(subs_of(x).len(), count, "{path}: {s}");
        assert_eq!(subs_of(x), subs_of(y), "{path}");
    }
    // A page of the list: which items fall on it depends on each server's
    // listing order, so only the envelope and the page size are compared.
    let (s, n) = pair.get("/subsz?subs=1&limit=2&offset=1");
    let (s, n) = (s.json(), n.json());
    assert_same(&s, &n, &["total", "offset", "limit"], "subsz page");
    assert_eq!(subs_of(&s["subscriptions_list"]).len(), 2);

    // The small pages.
    let (s, n) = pair.same_shape("/routez");
    assert_same(&s, &n, &["num_routes", "routes"], "/routez");
    let (s, n) = pair.get("/healthz");
    assert_eq!((s.status, s.body.as_str()), (n.status, n.body.as_str()));
    assert_eq!(s.body, "{\"status\":\"ok\"}");
    let (s, n) = pair.same_shape("/accountz");
    assert_same(&s, &n, &["system_account", "accounts"], "/accountz");
    let (s, n) = pair.same_shape("/accountz?acc=$G");
    let (sd, nd) = (&s["account_detail"], &n["account_detail"]);
    assert_same(
        sd,
        nd,
        &[
            "account_name",
            "expired",
            "complete",
            "jetstream_enabled",
            "leafnode_connections",
            "client_connections",
            "subscriptions",
            "name_tag",
        ],
        "/accountz?acc=$G",
    );
    assert_eq!(sd["sublist_stats"]["num_subscriptions"], 4);
    let (s, n) = pair.get("/");
    assert_eq!(
        (s.status, s.header("Content-Type")),
        (200, n.header("Content-Type"))
    );

    // Errors: same status, same text.
    for path in [
        "/connz?subs=bogus",
        "/connz?sort=bogus",
        "/connz?sort=stop",
        "/connz?sort=reason&state=any",
        "/connz?state=xyz",
        "/connz?limit=x",
        "/connz?offset=99999999999999999999",
        "/connz?cid=-1",
        "/connz?auth=maybe",
        "/connz?limit=x&auth=y",
        "/subsz?test=foo.*",
        "/subsz?subs=x",
        "/subsz?offset=x&limit=y",
        "/routez?subs=x",
        "/accountz?acc=nope",
        "/healthz?js-enabled-only=x",
        "/healthz?stream=x",
        "/healthz?consumer=x&details=true",
        "/nope",
        "/varz/x",
        "/connz/",
    ] {
        let (s, n) = pair.get(path);
        assert_eq!((s.status, &s.body), (n.status, &n.body), "{path}");
        assert_ne!(s.status, 200, "{path}");
        assert_eq!(s.header("Content-Type"), n.header("Content-Type"), "{path}");
    }
    // An unknown account: nats-server's empty envelope.
    let (s, n) = pair.same_shape("/connz?acc=nobody");
    assert_same(&s, &n, &["server_id", "connections", "total"], "acc=nobody");

    // Every request above went to both servers: the counts agree.
    let (s, n) = pair.same_shape("/varz");
    assert_eq!(s["http_req_stats"], n["http_req_stats"]);
    assert!(s["http_req_stats"]["/connz"].as_u64().unwrap() > 10);
}

#[test]
fn per_core_figures() {
    let server = shoal(&["-m", "-1", "--cores", "2"]);
    let port = http_port(&server);
    // One subscriber on each core (the kernel spreads connections; retry until
    // both cores have one).
    let mut on_core: [Option<Raw>; 2] = [None, None];
    for _ in 0..64 {
        if on_core.iter().all(Option::is_some) {
            break;
        }
        let (mut c, info) = Raw::connect(server.port);
        let core = core_of(&info, 2) as usize;
        if on_core[core].is_none() {
            c.send(b"CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPING\r\n");
            c.read_until_pong();
            on_core[core] = Some(c);
        }
    }
    let [Some(mut c0), Some(mut c1)] = on_core else {
        panic!("connections never landed on both cores");
    };
    // Core 0 publishes: one message local, one across the ring.
    c0.send(b"PUB x 3\r\nabc\r\nPING\r\n");
    c0.read_until_pong();
    c1.send(b"PING\r\n");
    c1.read_until_pong();

    let varz = get(port, "/varz").json();
    let cores = varz["shoal"]["cores"].as_array().unwrap();
    assert_eq!(cores.len(), 2);
    for (i, c) in cores.iter().enumerate() {
        assert_eq!(c["core"], i);
        assert_eq!(c["connections"], 1, "{c}");
        assert_eq!(c["subscriptions"], 1, "{c}");
        assert_eq!(c["out_msgs"], 1, "{c}");
        assert_eq!(c["ring_backlogged"], 0, "{c}");
    }
    assert_eq!(cores[0]["in_msgs"], 1);
    assert_eq!(cores[0]["ring_msgs_out"], 1);
    assert_eq!(cores[1]["ring_msgs_in"], 1);
    assert_eq!(cores[1]["in_msgs"], 0);
    for key in ["connections", "in_msgs", "out_msgs", "subscriptions"] {
        let sum: u64 = cores.iter().map(|c| c[key].as_u64().unwrap()).sum();
        assert_eq!(varz[key], sum, "{key}");
    }
    assert_eq!(varz["gomaxprocs"], 2);
    let connz = get(port, "/connz").json();
    for c in connz["connections"].as_array().unwrap() {
        let cid = c["cid"].as_u64().unwrap();
        assert_eq!(c["core"], (cid - 1) % 2, "{c}");
    }
}

#[test]
fn bad_parameter_is_a_plain_400() {
    let server = shoal(&["-m", "-1"]);
    let r = get(http_port(&server), "/connz?sort=bogus");
    assert_eq!(r.status, 400);
    assert_eq!(r.body, "invalid sorting option: bogus");
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("Access-Control-Allow-Origin"), None);
    let ok = get(http_port(&server), "/varz");
    assert_eq!(ok.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(ok.header("Content-Type"), Some("application/json"));
    assert!(
        ok.body.starts_with("{\n  \"server_id\": \"N"),
        "{}",
        ok.body
    );
}

#[test]
fn a_busy_monitor_port_fails_like_nats_server() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["-a", "127.0.0.1", "-p", "-1", "-m", &port])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "[FTL] Can't start monitoring: can't listen to the monitor port: \
         listen tcp 127.0.0.1:{port}: bind: address already in use"
    );
    assert!(err.contains(&want), "{err}");
}

#[test]
fn healthz_fails_in_lame_duck_mode_like_nats_server() {
    let shoal = shoal(&["-m", "-1"]);
    let nats = nats_server_conf("no_system_account: true\n", &["-m", "-1"]);
    // A connected client keeps both in lame duck mode for the grace period.
    let _clients = [Raw::connect(shoal.port).0, Raw::connect(nats.port).0];
    let ports = [http_port(&shoal), http_port(&nats)];
    for p in [&shoal, &nats] {
        p.signal(libc::SIGUSR2);
        assert!(p.wait_for_log("Entering lame duck mode", Duration::from_secs(5)));
    }
    for path in ["/healthz", "/healthz?details=true", "/healthz?stream=x"] {
        let (s, n) = (get(ports[0], path), get(ports[1], path));
        assert_eq!((s.status, &s.body), (n.status, &n.body), "{path}");
        assert_ne!(s.status, 200, "{path}");
    }
    assert!(shoal.wait_for_log("Healthcheck failed: ", Duration::from_secs(1)));
}

#[test]
fn varz_shows_a_reloaded_configuration() {
    let conf = crate::util::temp_path("conf");
    std::fs::write(&conf, "max_payload: 1000\nhttp_port: -1\n").unwrap();
    let server = shoal(&["-c", conf.to_str().unwrap()]);
    let port = http_port(&server);
    let before = get(port, "/varz").json();
    assert_eq!(before["max_payload"], 1000);
    assert_eq!(before["config_load_time"], before["start"]);
    std::fs::write(&conf, "max_payload: 2000\nhttp_port: -1\n").unwrap();
    server.signal(libc::SIGHUP);
    assert!(server.wait_for_log("Reloaded server configuration", Duration::from_secs(5)));
    let after = get(port, "/varz").json();
    assert_eq!(after["max_payload"], 2000);
    assert_ne!(after["config_load_time"], before["config_load_time"]);
    assert_eq!(after["start"], before["start"]);
    let _ = std::fs::remove_file(&conf);
}
