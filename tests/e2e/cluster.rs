//! Clusters on loopback: Shoal nodes with each other and with the reference
//! nats-server 2.15, in every position of a 3-node mesh. Each node is
//! started with a random route port (read from its `Listening for route
//! connections on` line); the second and third nodes get the first as
//! their only seed route, so the third meets the second by gossip.
//!
//! Interest crosses a cluster asynchronously, on nats-server as on Shoal:
//! a test never sleeps for it but probes — a subscriber's connection
//! subscribes to a probe subject after its real subscriptions, and a
//! publisher on the other node publishes probes until one arrives (interest
//! from one connection travels one route in order, so the earlier
//! subscriptions are in place too).

use std::time::{Duration, Instant};

use crate::util::{escape, nats_server, shoal, Raw, ServerProc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Shoal,
    Nats,
}

/// The mixes every cluster test runs in, so that Shoal holds every
/// position (the seed, the node that dials it, the node that meets the
/// second by gossip) beside nats-server: all Shoal; Shoal seed with
/// nats-server nodes; nats-server seed with Shoal nodes; Shoal only in the
/// middle; Shoal everywhere but the gossiped node.
const MIXES: [[Kind; 3]; 5] = [
    [Kind::Shoal, Kind::Shoal, Kind::Shoal],
    [Kind::Shoal, Kind::Nats, Kind::Nats],
    [Kind::Nats, Kind::Shoal, Kind::Shoal],
    [Kind::Nats, Kind::Shoal, Kind::Nats],
    [Kind::Shoal, Kind::Shoal, Kind::Nats],
];

const ROUTE_LISTENING: &str = "Listening for route connections on ";

/// The route port a node logged.
pub fn route_port(p: &ServerProc) -> u16 {
    assert!(
        p.wait_for_log(ROUTE_LISTENING, Duration::from_secs(5)),
        "no route listener: {:?}",
        p.log()
    );
    let line = p
        .log()
        .into_iter()
        .find(|l| l.contains(ROUTE_LISTENING))
        .unwrap();
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// Starts one node of cluster `C1` with `extra` flags and routes to `seeds`.
pub fn node(kind: Kind, seeds: &[u16], extra: &[&str]) -> ServerProc {
    let routes = seeds
        .iter()
        .map(|p| format!("nats://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut args = vec!["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "C1"];
    if !routes.is_empty() {
        args.push("--routes");
        args.push(&routes);
    }
    args.extend_from_slice(extra);
    match kind {
        Kind::Shoal => {
            let mut a = vec!["--cores", "2"];
            a.extend_from_slice(&args);
            shoal(&a)
        }
        Kind::Nats => nats_server(&args),
    }
}

/// Starts one node of cluster `C1` from config `conf`, routed to `seeds`.
pub fn node_conf(kind: Kind, conf: &str, seeds: &[u16]) -> ServerProc {
    let routes = seeds
        .iter()
        .map(|p| format!("nats://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut args = vec!["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "C1"];
    if !routes.is_empty() {
        args.extend_from_slice(&["--routes", &routes]);
    }
    with_conf(kind, conf, &args)
}

/// Starts `kind` with config `conf` and `args` (Shoal on two cores).
pub fn with_conf(kind: Kind, conf: &str, args: &[&str]) -> ServerProc {
    match kind {
        Kind::Shoal => {
            let mut a = vec!["--cores", "2"];
            a.extend_from_slice(args);
            crate::util::shoal_conf(conf, &a)
        }
        Kind::Nats => crate::util::nats_server_conf(conf, args),
    }
}

/// A three-node cluster of `kinds`, the first the seed of the others.
pub fn cluster(kinds: [Kind; 3]) -> Vec<ServerProc> {
    let seed = node(kinds[0], &[], &[]);
    let port = route_port(&seed);
    let b = node(kinds[1], &[port], &[]);
    let c = node(kinds[2], &[port], &[]);
    vec![seed, b, c]
}

/// A client that has sent CONNECT (headers on, verbose off).
pub fn client(p: &ServerProc) -> Raw {
    let (mut r, _) = Raw::connect(p.port);
    r.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n");
    r.ping_pong();
    r
}

/// Probes until `publisher`'s server has `subscriber`'s interest: see the
/// module header. Panics after 10 s.
pub fn await_interest(publisher: &mut Raw, subscriber: &mut Raw, tag: &str) {
    let subject = format!("probe.{tag}");
    subscriber.send(format!("SUB {subject} 999999\r\n").as_bytes());
    subscriber.ping_pong();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publisher.send(format!("PUB {subject} 0\r\n\r\n").as_bytes());
        publisher.ping_pong();
        if let Ok(f) = subscriber.read_frame(Instant::now() + Duration::from_millis(100)) {
            assert!(f.starts_with(b"MSG probe."), "unexpected {}", escape(&f));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "interest never reached the publisher's node"
        );
    }
    subscriber.send(b"UNSUB 999999\r\n");
    subscriber.ping_pong();
    // Probes still in flight are drained by the caller's next reads only if
    // they match; skip any that arrive before the UNSUB took effect.
    skip_probes(subscriber);
}

/// Polls `/routez` until the node counts `want` route connections (a
/// pool's connections come up one after another, after the first has
/// carried interest) and returns that page. Panics after 10 s.
pub fn await_routes(p: &ServerProc, want: usize) -> serde_json::Value {
    let port = crate::monitor::http_port(p);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = crate::monitor::get(port, "/routez").json();
        if page["num_routes"] == want {
            return page;
        }
        assert!(Instant::now() < deadline, "never {want} routes: {page}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Drops probe messages left in `r`'s buffer after a PING round trip.
fn skip_probes(r: &mut Raw) {
    r.read_until_pong_after(b"PING\r\n");
}

/// Every MSG/HMSG frame until the PONG for a PING sent now, probes dropped.
pub fn frames_until_pong(r: &mut Raw) -> Vec<String> {
    r.send(b"PING\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    loop {
        let f = r.read_frame(deadline).expect("frame before PONG");
        if f == b"PONG\r\n" {
            return out;
        }
        if f == b"PING\r\n" {
            // A server's keepalive (nats-server's first comes at 2 s).
            r.send(b"PONG\r\n");
            continue;
        }
        if f.starts_with(b"MSG probe.") {
            continue;
        }
        out.push(String::from_utf8_lossy(&f).into_owned());
    }
}

/// Reads until `n` non-probe messages arrived (10 s at most).
pub fn read_msgs(r: &mut Raw, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while out.len() < n {
        let f = r
            .read_frame(deadline)
            .unwrap_or_else(|e| panic!("after {} of {n} messages: {e:?}", out.len()));
        if f == b"PING\r\n" {
            r.send(b"PONG\r\n");
            continue;
        }
        if f.starts_with(b"MSG probe.") || f == b"PONG\r\n" || f.starts_with(b"INFO ") {
            continue;
        }
        out.push(String::from_utf8_lossy(&f).into_owned());
    }
    out
}

/// From `a` to `b`: a message of 1 MiB, then `n` small ones in order; and
/// one back from `b` to `a`.
pub fn big_and_ordered_cross(a: &ServerProc, b: &ServerProc, n: usize, what: &str) {
    let mut sub = client(b);
    sub.send(b"SUB z.> 1\r\n");
    let mut publ = client(a);
    await_interest(&mut publ, &mut sub, "z");
    let big = vec![b'q'; 1024 * 1024 - 100];
    let mut frame = format!("PUB z.big {}\r\n", big.len()).into_bytes();
    frame.extend_from_slice(&big);
    frame.extend_from_slice(b"\r\n");
    publ.send(&frame);
    for i in 0..n {
        publ.send(format!("PUB z.n 6\r\n{i:06}\r\n").as_bytes());
    }
    publ.ping_pong();
    let got = read_msgs(&mut sub, n + 1);
    assert!(got[0].starts_with("MSG z.big 1 1048476\r\n"), "{what}");
    assert_eq!(
        got[0].len(),
        big.len() + "MSG z.big 1 1048476\r\n\r\n".len(),
        "{what}"
    );
    for (i, m) in got[1..].iter().enumerate() {
        assert_eq!(m, &format!("MSG z.n 1 6\r\n{i:06}\r\n"), "{what}");
    }
    let mut back = client(a);
    back.send(b"SUB y 1\r\n");
    await_interest(&mut sub, &mut back, "y");
    sub.send(b"PUB y 2\r\nok\r\n");
    sub.ping_pong();
    assert_eq!(read_msgs(&mut back, 1), ["MSG y 1 2\r\nok\r\n"], "{what}");
}

fn each_mix(test: impl Fn([Kind; 3], &[ServerProc])) {
    for kinds in MIXES {
        let nodes = cluster(kinds);
        test(kinds, &nodes);
    }
}

#[test]
fn pub_sub_with_wildcards_and_headers_across_nodes() {
    each_mix(|kinds, n| {
        let mut sub = client(&n[2]);
        sub.send(b"SUB orders.* 1\r\nSUB orders.> 2\r\nSUB other 3\r\n");
        let mut publ = client(&n[1]);
        await_interest(&mut publ, &mut sub, "w");
        publ.send(b"PUB orders.new 5\r\nhello\r\n");
        publ.send(b"HPUB orders.eu.x 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n");
        publ.ping_pong();
        let mut got = read_msgs(&mut sub, 3);
        got.sort();
        assert_eq!(
            got,
            [
                "HMSG orders.eu.x 2 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n",
                "MSG orders.new 1 5\r\nhello\r\n",
                "MSG orders.new 2 5\r\nhello\r\n",
            ],
            "{kinds:?}"
        );
        assert!(
            frames_until_pong(&mut sub).is_empty(),
            "{kinds:?}: nothing else"
        );
    });
}

#[test]
fn the_third_node_meets_the_second_by_gossip() {
    each_mix(|kinds, n| {
        // No route was configured between nodes 1 and 2: a message crosses
        // one route at most, so only a gossiped route carries this.
        let mut sub = client(&n[1]);
        sub.send(b"SUB g 1\r\n");
        let mut publ = client(&n[2]);
        await_interest(&mut publ, &mut sub, "g");
        publ.send(b"PUB g 2\r\nok\r\n");
        publ.ping_pong();
        assert_eq!(read_msgs(&mut sub, 1), ["MSG g 1 2\r\nok\r\n"], "{kinds:?}");
        assert!(
            frames_until_pong(&mut sub).is_empty(),
            "{kinds:?}: exactly once"
        );
    });
}

#[test]
fn queue_groups_span_nodes_exactly_once() {
    each_mix(|kinds, n| {
        let mut members: Vec<Raw> = Vec::new();
        for (i, node) in n.iter().enumerate() {
            for j in 0..2 {
                let mut m = client(node);
                m.send(format!("SUB jobs.* workers {}\r\n", i * 10 + j).as_bytes());
                members.push(m);
            }
        }
        let mut publ = client(&n[0]);
        for (i, m) in members.iter_mut().enumerate() {
            await_interest(&mut publ, m, &format!("q{i}"));
        }
        let total = 300;
        for i in 0..total {
            publ.send(format!("PUB jobs.{i} 1\r\nx\r\n").as_bytes());
        }
        publ.ping_pong();
        // Every member's share, read in rounds until all have arrived (a
        // node's share may still be one route hop behind the publisher's
        // PONG); a message seen twice fails at once.
        let mut seen = std::collections::HashSet::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.len() < total && Instant::now() < deadline {
            for m in members.iter_mut() {
                for f in frames_until_pong(m) {
                    let subject = f.split(' ').nth(1).unwrap().to_string();
                    assert!(seen.insert(subject.clone()), "{kinds:?}: {subject} twice");
                }
            }
        }
        assert_eq!(seen.len(), total, "{kinds:?}: every message to one member");
    });
}

#[test]
fn request_reply_and_no_responders_across_nodes() {
    each_mix(|kinds, n| {
        let mut svc = client(&n[0]);
        svc.send(b"SUB svc.echo 1\r\n");
        let mut req = client(&n[2]);
        await_interest(&mut req, &mut svc, "r");
        req.send(b"SUB _INBOX.a 7\r\nPUB svc.echo _INBOX.a 4\r\nping\r\n");
        req.ping_pong();
        let asked = read_msgs(&mut svc, 1);
        assert_eq!(
            asked,
            ["MSG svc.echo 1 _INBOX.a 4\r\nping\r\n"],
            "{kinds:?}"
        );
        // The inbox was subscribed just before the request: its interest
        // travelled the same route ahead of the request, so the reply finds it.
        svc.send(b"PUB _INBOX.a 4\r\npong\r\n");
        svc.ping_pong();
        assert_eq!(
            read_msgs(&mut req, 1),
            ["MSG _INBOX.a 7 4\r\npong\r\n"],
            "{kinds:?}"
        );
    });
}

#[test]
fn large_payloads_and_per_publisher_order() {
    each_mix(|kinds, n| {
        let mut sub = client(&n[1]);
        sub.send(b"SUB big 1\r\nSUB seq 2\r\n");
        let mut publ = client(&n[0]);
        await_interest(&mut publ, &mut sub, "o");
        let big = vec![b'z'; 1024 * 1024 - 64];
        let mut frame = format!("PUB big {}\r\n", big.len()).into_bytes();
        frame.extend_from_slice(&big);
        frame.extend_from_slice(b"\r\n");
        publ.send(&frame);
        let count = 50_000;
        let mut batch = Vec::new();
        for i in 0..count {
            batch.extend_from_slice(format!("PUB seq 8\r\n{i:08}\r\n").as_bytes());
            if batch.len() > 64 * 1024 {
                publ.send(&batch);
                batch.clear();
            }
        }
        publ.send(&batch);
        publ.ping_pong();
        let deadline = Instant::now() + Duration::from_secs(20);
        let first = sub.read_frame(deadline).expect("the big message");
        assert!(
            first.starts_with(format!("MSG big 1 {}\r\nzzz", big.len()).as_bytes()),
            "{kinds:?}: {}",
            escape(&first[..64.min(first.len())])
        );
        assert_eq!(
            first.len(),
            big.len() + format!("MSG big 1 {}\r\n\r\n", big.len()).len()
        );
        for i in 0..count {
            let f = sub.read_frame(deadline).expect("in order");
            assert_eq!(
                f,
                format!("MSG seq 2 8\r\n{i:08}\r\n").as_bytes(),
                "{kinds:?}: message {i}"
            );
        }
    });
}

#[test]
fn unsubscribe_and_auto_unsubscribe_propagate() {
    each_mix(|kinds, n| {
        let mut sub = client(&n[2]);
        sub.send(b"SUB gone 1\r\nSUB three 2\r\nUNSUB 2 3\r\n");
        let mut publ = client(&n[0]);
        await_interest(&mut publ, &mut sub, "u");
        for _ in 0..5 {
            publ.send(b"PUB three 1\r\n3\r\n");
        }
        publ.ping_pong();
        assert_eq!(read_msgs(&mut sub, 3).len(), 3);
        sub.send(b"UNSUB 1\r\n");
        // A fresh probe after the UNSUB: once it arrives, the UNSUB (sent
        // before it on the same connection) has crossed too.
        await_interest(&mut publ, &mut sub, "u2");
        publ.send(b"PUB gone 1\r\nx\r\nPUB three 1\r\n3\r\n");
        publ.ping_pong();
        await_interest(&mut publ, &mut sub, "u3");
        assert!(
            frames_until_pong(&mut sub).is_empty(),
            "{kinds:?}: nothing after UNSUB"
        );
    });
}

#[test]
fn a_restarted_node_gets_its_interest_back() {
    for kinds in MIXES {
        let seed = node(kinds[0], &[], &[]);
        let port = route_port(&seed);
        let mut b = node(kinds[1], &[port], &[]);
        let mut sub = client(&b);
        sub.send(b"SUB back 1\r\n");
        let mut publ = client(&seed);
        await_interest(&mut publ, &mut sub, "b");
        drop(sub);
        b.signal(libc::SIGKILL);
        b.wait_exit(Duration::from_secs(5)).expect("killed");
        drop(b);
        // The seed forgets the dead node's interest as soon as it sees the
        // route close: from then on a request gets no responders. Asked
        // again until then (the close races the first request).
        publ.send(b"SUB _INBOX.n 5\r\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        'asking: loop {
            publ.send(b"HPUB back _INBOX.n 12 12\r\nNATS/1.0\r\n\r\n\r\n");
            let round = Instant::now() + Duration::from_millis(200);
            while let Ok(f) = publ.read_frame(round) {
                if f == b"PING\r\n" {
                    publ.send(b"PONG\r\n");
                    continue;
                }
                assert!(
                    f.starts_with(b"HMSG _INBOX.n 5") && escape(&f).contains("503"),
                    "{kinds:?}: {}",
                    escape(&f)
                );
                break 'asking;
            }
            assert!(
                Instant::now() < deadline,
                "{kinds:?}: the dead node's interest stayed"
            );
        }
        let b = node(kinds[1], &[port], &[]);
        let mut sub = client(&b);
        sub.send(b"SUB back 1\r\n");
        await_interest(&mut publ, &mut sub, "b2");
        publ.send(b"PUB back 2\r\nhi\r\n");
        publ.ping_pong();
        assert_eq!(
            read_msgs(&mut sub, 1),
            ["MSG back 1 2\r\nhi\r\n"],
            "{kinds:?}"
        );
    }
}

#[test]
fn clients_are_told_every_node_and_hear_of_a_new_one() {
    for kinds in MIXES {
        let seed = node(kinds[0], &[], &[]);
        let port = route_port(&seed);
        let b = node(kinds[1], &[port], &[]);
        // A protocol-1 client of the seed: its INFO after the first PONG
        // lists both nodes, its own first.
        let (mut c, _) = Raw::connect(seed.port);
        c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
        let urls = |info: &serde_json::Value| -> Vec<String> {
            info["connect_urls"]
                .as_array()
                .map(|a| a.iter().map(|u| u.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        // The second node's URL arrives once its route registered: fresh
        // connections show it then.
        loop {
            let (_, info) = Raw::connect(seed.port);
            let u = urls(&info);
            if u.len() == 2 {
                assert_eq!(u[0], seed.addr(), "{kinds:?}: own URL first");
                assert_eq!(u[1], b.addr(), "{kinds:?}");
                break;
            }
            assert!(Instant::now() < deadline, "{kinds:?}: {u:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        c.send(b"PING\r\n");
        // A third node joins: the connected client gets an INFO with it.
        let third = node(kinds[2], &[port], &[]);
        loop {
            let f = c.read_frame(deadline).expect("an INFO with the third node");
            let Some(json) = f.strip_prefix(b"INFO ") else {
                continue;
            };
            let info: serde_json::Value = serde_json::from_slice(json.trim_ascii_end()).unwrap();
            if urls(&info).contains(&third.addr()) {
                break;
            }
        }
    }
}

#[test]
fn routez_lists_each_peer_and_its_interest() {
    for kinds in MIXES {
        let seed = node(kinds[0], &[], &["-m", "-1"]);
        let port = route_port(&seed);
        let b = node(kinds[1], &[port], &["-m", "-1"]);
        let mut sub = client(&b);
        sub.send(b"SUB rz.a 1\r\nSUB rz.b grp 2\r\n");
        let mut publ = client(&seed);
        await_interest(&mut publ, &mut sub, "rz");
        // nats-server's default pool of 3 and the system account's route,
        // on both sides, before any page is read.
        for me in [&seed, &b] {
            await_routes(me, 4);
        }
        let seed_id = seed_info_id(&seed);
        for (me, peer_id, solicited) in [(&seed, server_id(&b), false), (&b, seed_id, true)] {
            let page =
                crate::monitor::get(crate::monitor::http_port(me), "/routez?subs=detail").json();
            let routes = page["routes"].as_array().unwrap();
            let mine: Vec<&serde_json::Value> = routes
                .iter()
                .filter(|r| r["remote_id"] == peer_id.as_str())
                .collect();
            assert!(!mine.is_empty(), "{kinds:?}: {page}");
            if me.port == seed.port && kinds[0] == Kind::Shoal
                || me.port == b.port && kinds[1] == Kind::Shoal
            {
                // nats-server's default pool of 3, and the system
                // account's own route.
                assert_eq!(mine.len(), 4, "{kinds:?}: {page}");
                let pinned: Vec<&serde_json::Value> = mine
                    .iter()
                    .map(|r| &r["account"])
                    .filter(|a| !a.is_null())
                    .collect();
                assert_eq!(pinned, ["$SYS"], "{kinds:?}: {page}");
                let r = mine[0];
                assert_eq!(r["did_solicit"], solicited, "{kinds:?}: {r}");
                assert_eq!(r["is_configured"], solicited, "{kinds:?}: {r}");
                for key in [
                    "rid",
                    "ip",
                    "port",
                    "start",
                    "last_activity",
                    "uptime",
                    "idle",
                    "pending_size",
                    "in_msgs",
                    "out_msgs",
                    "in_bytes",
                    "out_bytes",
                    "subscriptions",
                    "compression",
                ] {
                    assert!(r.get(key).is_some(), "{kinds:?}: {key} in {r}");
                }
            }
        }
        // /varz counts the route connections and the remote server, and
        // shows the cluster as nats-server does.
        for (me, kind, routes) in [(&seed, kinds[0], 0usize), (&b, kinds[1], 1)] {
            let v = crate::monitor::get(crate::monitor::http_port(me), "/varz").json();
            let c = &v["cluster"];
            assert_eq!(c["name"], "C1", "{kinds:?}: {c}");
            assert_eq!(c["addr"], "127.0.0.1", "{kinds:?}: {c}");
            assert_eq!(c["cluster_port"], route_port(me), "{kinds:?}: {c}");
            assert_eq!(c["auth_timeout"], 2, "{kinds:?}: {c}");
            assert_eq!(
                c["urls"].as_array().map_or(0, |u| u.len()),
                routes,
                "{kinds:?}: {c}"
            );
            assert_eq!(c["pool_size"], 3, "{kinds:?}: {c}");
            assert_eq!(v["routes"], 4, "{kinds:?}: {v}");
            assert_eq!(v["remotes"], 1, "{kinds:?}: {v}");
            if kind == Kind::Shoal {
                assert!(v["in_msgs"].as_u64() >= v["in_client_msgs"].as_u64(), "{v}");
            }
        }
        // The seed holds b's interest: on Shoal, on the one pool route
        // that carries `$G`.
        if kinds[0] == Kind::Shoal {
            let page =
                crate::monitor::get(crate::monitor::http_port(&seed), "/routez?subs=detail").json();
            let mut sids: Vec<String> = page["routes"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| {
                    r["subscriptions_list_detail"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|d| d["sid"].as_str().map(str::to_string))
                .filter(|s| s.contains(" rz."))
                .collect();
            sids.sort();
            assert_eq!(sids, ["$G rz.a", "$G rz.b grp"], "{kinds:?}: {page}");
            let carrying = page["routes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["subscriptions"].as_u64() > Some(0) && r["account"].is_null())
                .count();
            assert_eq!(carrying, 1, "{kinds:?}: {page}");
        }
    }
}

/// A server's id, from the INFO a new client gets.
fn server_id(p: &ServerProc) -> String {
    let (_, info) = Raw::connect(p.port);
    info["server_id"].as_str().unwrap().to_string()
}

fn seed_info_id(p: &ServerProc) -> String {
    server_id(p)
}

/// A client logged in as `user`/`pass`.
fn client_as(p: &ServerProc, user: &str, pass: &str) -> Raw {
    let (mut r, _) = Raw::connect(p.port);
    r.send(
        format!("CONNECT {{\"verbose\":false,\"headers\":true,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n")
            .as_bytes(),
    );
    r.ping_pong();
    r
}

#[test]
fn accounts_stay_apart_across_routes() {
    let accounts = "accounts { A: { users: [{user: a, password: a}] }, B: { users: [{user: b, password: b}] } }\n";
    for kinds in MIXES {
        let seed = node_conf(kinds[0], accounts, &[]);
        let other = node_conf(kinds[1], accounts, &[route_port(&seed)]);
        let mut sub_a = client_as(&seed, "a", "a");
        let mut sub_b = client_as(&seed, "b", "b");
        sub_a.send(b"SUB x 1\r\n");
        sub_b.send(b"SUB x 1\r\n");
        let mut pub_a = client_as(&other, "a", "a");
        let mut pub_b = client_as(&other, "b", "b");
        await_interest(&mut pub_a, &mut sub_a, "a");
        await_interest(&mut pub_b, &mut sub_b, "b");
        pub_a.send(b"PUB x 2\r\naa\r\n");
        pub_a.ping_pong();
        pub_b.send(b"PUB x 2\r\nbb\r\n");
        pub_b.ping_pong();
        assert_eq!(
            read_msgs(&mut sub_a, 1),
            ["MSG x 1 2\r\naa\r\n"],
            "{kinds:?}"
        );
        assert_eq!(
            read_msgs(&mut sub_b, 1),
            ["MSG x 1 2\r\nbb\r\n"],
            "{kinds:?}"
        );
        await_interest(&mut pub_a, &mut sub_a, "a2");
        await_interest(&mut pub_b, &mut sub_b, "b2");
        assert!(
            frames_until_pong(&mut sub_a).is_empty(),
            "{kinds:?}: A saw B's"
        );
        assert!(
            frames_until_pong(&mut sub_b).is_empty(),
            "{kinds:?}: B saw A's"
        );
    }
}

#[test]
fn a_node_in_lame_duck_leaves_the_clients_urls() {
    for kinds in MIXES {
        let duck = node(kinds[0], &[], &[]);
        let stay = node(kinds[1], &[route_port(&duck)], &[]);
        let urls = |info: &serde_json::Value| -> Vec<String> {
            info["connect_urls"]
                .as_array()
                .map(|a| a.iter().map(|u| u.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, info) = Raw::connect(stay.port);
            if urls(&info).contains(&duck.addr()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{kinds:?}: the duck never joined"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let (mut c, _) = Raw::connect(stay.port);
        c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
        duck.signal(libc::SIGUSR2);
        // The other node tells its client the duck's URL is gone.
        loop {
            let f = c.read_frame(deadline).expect("an INFO without the duck");
            if f == b"PING\r\n" {
                c.send(b"PONG\r\n");
                continue;
            }
            let Some(json) = f.strip_prefix(b"INFO ") else {
                continue;
            };
            let info: serde_json::Value = serde_json::from_slice(json.trim_ascii_end()).unwrap();
            if !urls(&info).contains(&duck.addr()) {
                assert_eq!(urls(&info), [stay.addr()], "{kinds:?}");
                break;
            }
        }
    }
}

#[test]
fn a_stream_import_delivers_once_across_routes() {
    // B imports A's `feed.>`; B's subscriber is on the other node. The
    // publishing node sends the message in A only: the subscriber's node
    // makes B's copy itself, as nats-server does.
    let accounts = "accounts {\n A: { users: [{user: a, password: a}], exports: [{stream: \"feed.>\"}] }\n B: { users: [{user: b, password: b}], imports: [{stream: {account: A, subject: \"feed.>\"}}] }\n}\n";
    for kinds in MIXES {
        let one = node_conf(kinds[0], accounts, &[]);
        let two = node_conf(kinds[1], accounts, &[route_port(&one)]);
        // Subscribers in B on both nodes, the publisher in A on the first.
        let mut far = client_as(&two, "b", "b");
        far.send(b"SUB feed.x 1\r\n");
        let mut near = client_as(&one, "b", "b");
        near.send(b"SUB feed.x 1\r\n");
        near.ping_pong();
        let mut publ = client_as(&one, "a", "a");
        // The probe is in A (the far subscriber sees it through the import).
        far.send(b"SUB feed.probe 2\r\n");
        far.ping_pong();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            publ.send(b"PUB feed.probe 0\r\n\r\n");
            publ.ping_pong();
            if far
                .read_frame(Instant::now() + Duration::from_millis(100))
                .is_ok()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{kinds:?}: the import's interest never crossed"
            );
        }
        far.send(b"UNSUB 2\r\n");
        far.read_until_pong_after(b"PING\r\n");
        publ.send(b"PUB feed.x 2\r\nhi\r\n");
        publ.ping_pong();
        assert_eq!(
            read_msgs(&mut far, 1),
            ["MSG feed.x 1 2\r\nhi\r\n"],
            "{kinds:?}"
        );
        assert_eq!(
            read_msgs(&mut near, 1),
            ["MSG feed.x 1 2\r\nhi\r\n"],
            "{kinds:?}"
        );
        // Nothing else: a second copy would come before these round trips end.
        publ.send(b"PUB feed.end 0\r\n\r\n");
        publ.ping_pong();
        assert!(
            frames_until_pong(&mut far).is_empty(),
            "{kinds:?}: one copy only"
        );
        assert!(
            frames_until_pong(&mut near).is_empty(),
            "{kinds:?}: one copy only"
        );
    }
}

#[test]
fn a_reload_adds_and_removes_routes() {
    for other in [Kind::Shoal, Kind::Nats] {
        let peer = node(other, &[], &[]);
        let peer_route = route_port(&peer);
        let path = crate::util::temp_path("conf");
        let conf = |routes: &str| {
            format!("cluster {{ name: C1, listen: \"127.0.0.1:-1\", routes: [{routes}] }}\n")
        };
        std::fs::write(&path, conf("")).unwrap();
        let s = crate::util::shoal(&["--cores", "2", "-c", path.to_str().unwrap()]);
        let mut sub = client(&peer);
        sub.send(b"SUB rl 1\r\n");
        sub.ping_pong();
        // A route the reload adds is dialled: the peer's interest arrives.
        std::fs::write(&path, conf(&format!("\"nats://127.0.0.1:{peer_route}\""))).unwrap();
        s.signal(libc::SIGHUP);
        assert!(
            s.wait_for_log("Reloaded server configuration", Duration::from_secs(10)),
            "{:?}",
            s.log()
        );
        assert!(s.wait_for_log("Reloaded: cluster routes", Duration::from_secs(5)));
        let mut publ = client(&s);
        await_interest(&mut publ, &mut sub, "rl");
        // A route the reload removes is closed (and not dialled again): the
        // peer's interest goes, a request finds no responders. (A nats-server
        // peer dials a closed no-pool route back at once, from the URL our
        // INFO gave it: there the route returns, as between nats-servers.)
        std::fs::write(&path, conf("")).unwrap();
        s.signal(libc::SIGHUP);
        publ.send(b"SUB _INBOX.r 5\r\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        'asking: loop {
            if other == Kind::Nats {
                break;
            }
            publ.send(b"HPUB rl _INBOX.r 12 12\r\nNATS/1.0\r\n\r\n\r\n");
            let round = Instant::now() + Duration::from_millis(200);
            while let Ok(f) = publ.read_frame(round) {
                if f == b"PING\r\n" {
                    publ.send(b"PONG\r\n");
                    continue;
                }
                assert!(escape(&f).contains("503"), "{other:?}: {}", escape(&f));
                break 'asking;
            }
            assert!(
                Instant::now() < deadline,
                "{other:?}: the removed route stayed"
            );
        }
        // The listener itself cannot move, in nats-server's words.
        std::fs::write(
            &path,
            "cluster { name: C1, listen: \"127.0.0.1:1\", routes: [] }\n",
        )
        .unwrap();
        s.signal(libc::SIGHUP);
        assert!(
            s.wait_for_log(
                "config reload not supported for cluster port: old=-1, new=1",
                Duration::from_secs(10)
            ),
            "{:?}",
            s.log()
        );
    }
}

#[test]
fn a_route_url_carries_the_credentials() {
    let conf = "cluster { name: C1, listen: \"127.0.0.1:-1\", authorization { user: ru, password: rp } }\n";
    for kinds in [
        [Kind::Shoal, Kind::Shoal],
        [Kind::Nats, Kind::Shoal],
        [Kind::Shoal, Kind::Nats],
    ] {
        let seed = with_conf(kinds[0], conf, &[]);
        let port = route_port(&seed);
        let with = |creds: &str| {
            let routes = format!("nats://{creds}127.0.0.1:{port}");
            let args = [
                "--cluster",
                "nats://127.0.0.1:-1",
                "--cluster_name",
                "C1",
                "--routes",
                &routes,
            ];
            match kinds[1] {
                Kind::Shoal => {
                    let mut a = vec!["--cores", "2"];
                    a.extend_from_slice(&args);
                    crate::util::shoal(&a)
                }
                Kind::Nats => crate::util::nats_server(&args),
            }
        };
        // The right credentials: the route forms and carries interest.
        let good = with("ru:rp@");
        let mut sub = client(&good);
        sub.send(b"SUB cred 1\r\n");
        let mut publ = client(&seed);
        await_interest(&mut publ, &mut sub, "c");
        drop(good);
        // The wrong ones: refused, so interest never crosses.
        let bad = with("ru:nope@");
        let said = |p: &ServerProc| {
            p.log()
                .iter()
                .any(|l| l.contains("Authorization Violation"))
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !said(&seed) && !said(&bad) {
            assert!(
                Instant::now() < deadline,
                "{kinds:?}: seed {:?}\nbad {:?}",
                seed.log(),
                bad.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn compressed_routes_as_nats_server_negotiates_them() {
    // (seed kind and mode, other kind and mode, what each side uses)
    let cases = [
        (
            (Kind::Nats, "s2_fast"),
            (Kind::Shoal, "accept"),
            "s2_fast",
            "s2_fast",
        ),
        (
            (Kind::Shoal, "s2_best"),
            (Kind::Nats, "accept"),
            "s2_best",
            "s2_best",
        ),
        (
            (Kind::Shoal, "s2_better"),
            // `s2_uncompressed` is no mode to configure (nats-server refuses
            // it): `s2_auto` picks it on loopback.
            (
                Kind::Shoal,
                "{ mode: s2_auto, rtt_thresholds: [\"100ms\"] }",
            ),
            "s2_better",
            "s2_uncompressed",
        ),
        (
            (Kind::Shoal, "s2_auto"),
            (Kind::Nats, "s2_auto"),
            "s2_uncompressed",
            "s2_uncompressed",
        ),
        // Its own thresholds: every RTT on loopback is past the 0s, up to 1 ms best.
        (
            (
                Kind::Shoal,
                "{ mode: s2_auto, rtt_thresholds: [\"0\", \"0\", \"0\", \"1ms\"] }",
            ),
            (Kind::Nats, "accept"),
            "s2_best",
            "s2_fast",
        ),
        (
            (Kind::Shoal, "accept"),
            (Kind::Nats, "accept"),
            "off",
            "off",
        ),
        ((Kind::Shoal, "off"), (Kind::Nats, "s2_fast"), "off", "off"),
    ];
    for ((k1, m1), (k2, m2), c1, c2) in cases {
        let conf = |m: &str, seed: Option<u16>| {
            let routes = seed.map_or(String::new(), |p| {
                format!(", routes: [\"nats://127.0.0.1:{p}\"]")
            });
            format!("cluster {{ name: C1, listen: \"127.0.0.1:-1\", compression: {m}{routes} }}\n")
        };
        let seed = with_conf(k1, &conf(m1, None), &["-m", "-1"]);
        let other = with_conf(k2, &conf(m2, Some(route_port(&seed))), &["-m", "-1"]);
        let what = format!("{k1:?} {m1} / {k2:?} {m2}");
        // Both ways, small and large (a payload over one S2 block), in order.
        big_and_ordered_cross(&seed, &other, 2000, &what);
        for (node, kind, want) in [(&seed, k1, c1), (&other, k2, c2)] {
            if kind == Kind::Shoal {
                let page = crate::monitor::get(crate::monitor::http_port(node), "/routez").json();
                assert_eq!(page["routes"][0]["compression"], want, "{what}: {page}");
            }
        }
    }
}

#[test]
fn a_generated_cluster_name_gives_way_to_a_configured_one() {
    for (named, unnamed) in [(Kind::Nats, Kind::Shoal), (Kind::Shoal, Kind::Nats)] {
        let seed = node(named, &[], &[]);
        let routes = format!("nats://127.0.0.1:{}", route_port(&seed));
        let args = [
            "--cluster",
            "nats://127.0.0.1:-1",
            "--routes",
            routes.as_str(),
            "-m",
            "-1",
        ];
        let other = match unnamed {
            Kind::Shoal => crate::util::shoal(&[&["--cores", "2"][..], &args].concat()),
            Kind::Nats => crate::util::nats_server(&args),
        };
        // The unnamed node takes C1 once the route is up: the seed's
        // client sees its interest, and its monitoring shows the name.
        let mut sub = client(&other);
        sub.send(b"SUB named 1\r\n");
        let mut publ = client(&seed);
        await_interest(&mut publ, &mut sub, "n");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = crate::monitor::get(crate::monitor::http_port(&other), "/varz").json();
            if v["cluster"]["name"] == "C1" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{unnamed:?} kept {}",
                v["cluster"]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
