//! The route protocol on the wire, differentially: a hand-written peer (this
//! test, speaking spec/cluster.md's lines over a plain socket) attaches to
//! a Shoal node and to a nats-server 2.15 node, sends both the same bytes,
//! and checks both answer the same: the `RS+` snapshot and the interest
//! changes after it (queue weights replaced, duplicates silent), the
//! `RMSG` forms of a queue pick, what a peer's `RMSG` delivers to local
//! plain and queue subscribers, and the handshake's refusals.
//!
//! nats-server also announces its system account's interest (`$SYS`); only
//! `$G`'s lines are compared.

use std::time::{Duration, Instant};

use crate::cluster::{client, node, route_port, Kind};
use crate::util::{escape, Raw, ServerProc};

const BOTH: [Kind; 2] = [Kind::Shoal, Kind::Nats];

/// The fake peer's server id.
const FAKE_ID: &str = "NFAKEPEERFAKEPEERFAKEPEERFAKEPEERFAKEPEERFAKEPEERFAKE";

/// A hand-written route: connected, handshake done.
struct Peer {
    raw: Raw,
}

impl Peer {
    /// Attaches to `p`'s route port as a no-pool peer of cluster `C1`.
    fn attach(p: &ServerProc) -> Peer {
        Peer::attach_as(p, "C1", "")
    }

    fn attach_as(p: &ServerProc, cluster: &str, creds: &str) -> Peer {
        Peer::attach_with(p, cluster, creds, "")
    }

    /// As [`Peer::attach_as`], with `info` fields added to the INFO (a
    /// pool's `route_pool_size`, …).
    fn attach_with(p: &ServerProc, cluster: &str, creds: &str, info: &str) -> Peer {
        let (raw, _) = Raw::connect(route_port(p));
        let mut peer = Peer { raw };
        peer.raw.send(
            format!(
                "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,{creds}\"tls_required\":false,\"headers\":true,\"name\":\"{FAKE_ID}\",\"cluster\":\"{cluster}\"}}\r\n"
            )
            .as_bytes(),
        );
        peer.raw.send(
            format!(
                "INFO {{\"server_id\":\"{FAKE_ID}\",\"server_name\":\"fake\",\"version\":\"2.15.1\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,{info}\"cluster\":\"{cluster}\"}}\r\n"
            )
            .as_bytes(),
        );
        peer
    }

    /// The next `$G` interest or message line (PINGs answered, `$SYS`
    /// skipped), with a message's payload; `None` after `wait`.
    fn next(&mut self, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        loop {
            let f = self.raw.read_frame(deadline).ok()?;
            let text = String::from_utf8_lossy(&f).into_owned();
            if text == "PING\r\n" {
                self.raw.send(b"PONG\r\n");
                continue;
            }
            if text.starts_with("PONG") || text.starts_with("INFO ") || text.contains(" $SYS ") {
                continue;
            }
            if text.starts_with("RMSG ") || text.starts_with("HMSG ") || text.starts_with("LMSG ") {
                // The route forms carry their payload on the next line.
                let body = self.raw.read_line();
                return Some(text + &String::from_utf8_lossy(&body));
            }
            return Some(text);
        }
    }

    /// The next message line, interest lines skipped.
    fn next_msg(&mut self, wait: Duration) -> Option<String> {
        loop {
            let l = self.next(wait)?;
            if l.starts_with("RMSG ") || l.starts_with("HMSG ") || l.starts_with("LMSG ") {
                return Some(l);
            }
        }
    }

    /// A PING round trip on the route: everything the peer sent before it
    /// has been processed by the server.
    fn sync(&mut self) {
        self.raw.send(b"PING\r\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let f = self.raw.read_frame(deadline).expect("PONG on the route");
            match &f[..] {
                b"PONG\r\n" => return,
                b"PING\r\n" => self.raw.send(b"PONG\r\n"),
                _ if f.starts_with(b"RMSG ")
                    || f.starts_with(b"HMSG ")
                    || f.starts_with(b"LMSG ") =>
                {
                    self.raw.read_line();
                }
                _ => {}
            }
        }
    }

    /// `n` lines, in the order they came.
    fn lines(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                self.next(Duration::from_secs(5))
                    .unwrap_or_else(|| panic!("line {i} of {n} never came"))
            })
            .collect()
    }
}

/// One node of `kind` with a client subscribed as spec/cluster.md's trace.
fn traced(kind: Kind) -> (ServerProc, Raw) {
    let n = node(kind, &[], &[]);
    let mut c = client(&n);
    c.send(b"SUB foo 1\r\nSUB foo grp 2\r\nSUB foo grp 3\r\nSUB bar.* 4\r\n");
    c.ping_pong();
    (n, c)
}

#[test]
fn interest_snapshot_then_changes_as_nats_server() {
    let mut outs = Vec::new();
    for kind in BOTH {
        let (n, mut c) = traced(kind);
        let mut peer = Peer::attach(&n);
        let mut snapshot = peer.lines(3);
        snapshot.sort();
        c.send(b"SUB newsub 9\r\nSUB foo grp 10\r\nUNSUB 9\r\nUNSUB 10\r\nSUB foo grp2 11\r\nSUB foo 12\r\n");
        c.ping_pong();
        let changes = peer.lines(5);
        // A second plain SUB of a subject already announced says nothing.
        assert_eq!(peer.next(Duration::from_millis(300)), None, "{kind:?}");
        outs.push((snapshot, changes));
        drop(n);
    }
    assert_eq!(
        outs[0].0,
        ["RS+ $G bar.*\r\n", "RS+ $G foo\r\n", "RS+ $G foo grp 2\r\n"],
        "Shoal's snapshot"
    );
    assert_eq!(
        outs[0].1,
        [
            "RS+ $G newsub\r\n",
            "RS+ $G foo grp 3\r\n",
            "RS- $G newsub\r\n",
            "RS+ $G foo grp 2\r\n",
            "RS+ $G foo grp2 1\r\n",
        ]
    );
    assert_eq!(
        outs[0], outs[1],
        "Shoal and nats-server tell a peer the same"
    );
}

#[test]
fn a_queue_pick_for_the_peer_is_one_rmsg_with_the_group() {
    for kind in BOTH {
        let n = node(kind, &[], &[]);
        let mut peer = Peer::attach(&n);
        peer.raw.send(b"RS+ $G foo grp 5\r\nRS+ $G foo\r\nPING\r\n");
        let mut c = client(&n);
        c.send(b"SUB foo grp 1\r\n");
        c.ping_pong();
        // The peer's interest is in place once a probe plain subject
        // announced after it comes back as a message.
        peer.raw.send(b"RS+ $G probe\r\n");
        wait_for_route_interest(&mut c, &mut peer);
        // A message with a reply: the peer gets one RMSG per message, with
        // the group when it was picked (weight 5 of 6) and without it
        // otherwise (its plain interest).
        let mut picked = 0;
        let total = 60;
        for _ in 0..total {
            c.send(b"PUB foo r 1\r\nq\r\n");
        }
        let local = crate::cluster::frames_until_pong(&mut c).len();
        for _ in 0..total {
            let l = peer
                .next_msg(Duration::from_secs(5))
                .expect("one RMSG per message");
            match l.as_str() {
                "RMSG $G foo + r grp 1\r\nq\r\n" => picked += 1,
                "RMSG $G foo r 1\r\nq\r\n" => {}
                other => panic!("{kind:?}: {}", escape(other.as_bytes())),
            }
        }
        assert_eq!(
            picked + local,
            total,
            "{kind:?}: each message to one member"
        );
        assert!(
            picked > total / 2,
            "{kind:?}: weight 5 of 6 goes to the peer ({picked})"
        );
        // Without a reply the indicator is `|`.
        c.send(b"UNSUB 1\r\nPUB foo 1\r\nq\r\n");
        c.ping_pong();
        assert_eq!(
            peer.next_msg(Duration::from_secs(5)).as_deref(),
            Some("RMSG $G foo | grp 1\r\nq\r\n"),
            "{kind:?}"
        );
    }
}

/// Publishes probes until the peer gets one (its `RS+ $G probe` arrived).
fn wait_for_route_interest(c: &mut Raw, peer: &mut Peer) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        c.send(b"PUB probe 0\r\n\r\n");
        c.ping_pong();
        if let Some(l) = peer.next_msg(Duration::from_millis(100)) {
            assert_eq!(l, "RMSG $G probe 0\r\n\r\n");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the peer's interest never arrived"
        );
    }
}

#[test]
fn a_peer_message_reaches_plain_subscribers_and_one_member_of_listed_groups() {
    for kind in BOTH {
        let n = node(kind, &[], &[]);
        let mut plain = client(&n);
        plain.send(b"SUB foo 1\r\n");
        let mut members: Vec<Raw> = (0..2).map(|_| client(&n)).collect();
        for (i, m) in members.iter_mut().enumerate() {
            m.send(format!("SUB foo grp {}\r\n", 2 + i).as_bytes());
            m.ping_pong();
        }
        let mut other = client(&n);
        other.send(b"SUB foo other 9\r\n");
        other.ping_pong();
        plain.ping_pong();
        let mut peer = Peer::attach(&n);
        // Registered once the snapshot is in.
        let _ = peer.lines(3);
        peer.raw
            .send(b"RMSG $G foo + rep grp 3\r\nghi\r\nRMSG $G foo 3\r\nxyz\r\n");
        peer.sync();
        let got_plain = crate::cluster::frames_until_pong(&mut plain);
        assert_eq!(
            got_plain,
            ["MSG foo 1 rep 3\r\nghi\r\n", "MSG foo 1 3\r\nxyz\r\n"],
            "{kind:?}"
        );
        let mut member_msgs = Vec::new();
        for m in members.iter_mut() {
            member_msgs.extend(crate::cluster::frames_until_pong(m));
        }
        assert_eq!(
            member_msgs.len(),
            1,
            "{kind:?}: one member, once: {member_msgs:?}"
        );
        assert!(member_msgs[0].starts_with("MSG foo "), "{kind:?}");
        assert!(member_msgs[0].ends_with(" rep 3\r\nghi\r\n"), "{kind:?}");
        assert!(
            crate::cluster::frames_until_pong(&mut other).is_empty(),
            "{kind:?}: a group the peer did not list gets nothing"
        );
    }
}

#[test]
fn handshake_refusals_as_nats_server() {
    for kind in BOTH {
        // A client on the route port.
        let n = node(kind, &[], &[]);
        let (mut raw, _) = Raw::connect(route_port(&n));
        raw.send(b"CONNECT {\"lang\":\"go\",\"verbose\":false}\r\n");
        let got = escape(&raw.read_until_closed(Duration::from_secs(5)));
        assert!(
            got.contains("-ERR 'attempted to connect to route port'"),
            "{kind:?}: {got}"
        );
        // Another cluster's name.
        let mut peer = Peer::attach_as(&n, "C2", "");
        let got = escape(&peer.raw.read_until_closed(Duration::from_secs(5)));
        assert!(
            got.contains("-ERR 'Rejecting connection, cluster name \"C2\" does not match \"C1\"'"),
            "{kind:?}: {got}"
        );
    }
}

#[test]
fn route_credentials_are_checked() {
    for kind in BOTH {
        let conf = "cluster { name: C1, listen: \"127.0.0.1:-1\", authorization { user: ru, password: rp } }\n";
        let n = crate::cluster::with_conf(kind, conf, &[]);
        let mut bad = Peer::attach_as(&n, "C1", "\"user\":\"ru\",\"pass\":\"nope\",");
        let got = escape(&bad.raw.read_until_closed(Duration::from_secs(5)));
        assert!(
            got.contains("-ERR 'Authorization Violation'"),
            "{kind:?}: {got}"
        );
        let (raw, info) = Raw::connect(route_port(&n));
        assert_eq!(info["auth_required"], true, "{kind:?}: {info}");
        drop(raw);
        let mut good = Peer::attach_as(&n, "C1", "\"user\":\"ru\",\"pass\":\"rp\",");
        good.raw.send(b"PING\r\n");
        assert!(
            good.raw
                .read_until_pong_or_closed(Duration::from_secs(5))
                .ends_with(b"PONG\r\n"),
            "{kind:?}: the right credentials are accepted"
        );
    }
}

#[test]
fn headers_are_stripped_towards_a_peer_without_them() {
    for kind in BOTH {
        let n = node(kind, &[], &[]);
        let (raw, _) = Raw::connect(route_port(&n));
        let mut peer = Peer { raw };
        peer.raw.send(format!("CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":false,\"name\":\"{FAKE_ID}\",\"cluster\":\"C1\"}}\r\n").as_bytes());
        peer.raw.send(format!("INFO {{\"server_id\":\"{FAKE_ID}\",\"server_name\":\"fake\",\"version\":\"2.15.1\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":false,\"max_payload\":1048576,\"cluster\":\"C1\"}}\r\n").as_bytes());
        peer.raw.send(b"RS+ $G h\r\nRS+ $G probe\r\n");
        let mut c = client(&n);
        wait_for_route_interest(&mut c, &mut peer);
        c.send(b"HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        c.ping_pong();
        assert_eq!(
            peer.next_msg(Duration::from_secs(5)).as_deref(),
            Some("RMSG $G h 2\r\nhi\r\n"),
            "{kind:?}"
        );
    }
}

#[test]
fn leaf_origin_forms_are_understood() {
    for kind in BOTH {
        let n = node(kind, &[], &[]);
        let mut peer = Peer::attach(&n);
        peer.sync();
        // LS+ (an interest a leaf of the peer's has) reaches local publishers.
        peer.raw.send(b"LS+ LEAFC $G ls.x\r\nRS+ $G probe\r\n");
        let mut c = client(&n);
        wait_for_route_interest(&mut c, &mut peer);
        c.send(b"PUB ls.x 1\r\nl\r\n");
        c.ping_pong();
        let got = peer
            .next_msg(Duration::from_secs(5))
            .expect("a message for the LS+");
        assert!(
            got.ends_with(" ls.x 1\r\nl\r\n") || got.ends_with(" ls.x 0 1\r\nl\r\n"),
            "{kind:?}: {got}"
        );
        // LMSG (a message from a leaf of the peer's) reaches local clients.
        c.send(b"SUB lm 1\r\n");
        c.ping_pong();
        peer.raw.send(b"LMSG LEAFC $G lm 0 2\r\nhi\r\n");
        peer.sync();
        assert_eq!(
            crate::cluster::frames_until_pong(&mut c),
            ["MSG lm 1 2\r\nhi\r\n"],
            "{kind:?}"
        );
    }
}

/// The next line of the peer's that mentions `subject`.
fn line_for(peer: &mut Peer, subject: &str) -> String {
    line_for_either(peer, &[subject])
}

/// The next line of the peer's that mentions one of `subjects`.
fn line_for_either(peer: &mut Peer, subjects: &[&str]) -> String {
    loop {
        let l = peer
            .next(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no line for {subjects:?}"));
        if subjects.iter().any(|s| l.contains(&format!(" {s}"))) {
            return l;
        }
    }
}

#[test]
fn a_hub_tells_its_routes_a_leafs_interest_and_messages_with_its_cluster() {
    for kind in BOTH {
        let hub = crate::cluster::node_conf(kind, "leafnodes {\n  port: -1\n}\n", &[]);
        let mut peer = Peer::attach_with(&hub, "C1", "", "\"lnoc\":true,\"lnocu\":true,");
        peer.sync();
        // A one-node cluster `EDGE` as the spoke: its CONNECT names it.
        let spoke = crate::cluster::with_conf(
            Kind::Nats,
            &format!(
                "leafnodes {{\n  remotes: [ {{ url: \"nats-leaf://127.0.0.1:{}\" }} ]\n}}\n",
                crate::leaf::leaf_port(&hub)
            ),
            &["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "EDGE"],
        );
        let mut c = client(&spoke);
        c.send(b"SUB leaf.x 1\r\nSUB leaf.q grp 2\r\n");
        c.ping_pong();
        // In either order: the spoke's first lines are a snapshot of its
        // interest when its link came up.
        let first = line_for_either(&mut peer, &["leaf.x", "leaf.q"]);
        let mut two = [first, line_for_either(&mut peer, &["leaf.x", "leaf.q"])];
        two.sort();
        assert_eq!(
            two,
            ["LS+ EDGE $G leaf.q grp 1\r\n", "LS+ EDGE $G leaf.x\r\n"],
            "{kind:?}"
        );
        c.send(b"UNSUB 1\r\n");
        c.ping_pong();
        assert_eq!(
            line_for(&mut peer, "leaf.x"),
            "LS- EDGE $G leaf.x\r\n",
            "{kind:?}"
        );

        // The leaf's message goes to the route with its cluster.
        peer.raw.send(b"RS+ $G up.y\r\n");
        peer.sync();
        c.send(b"SUB down.x 3\r\n");
        c.ping_pong();
        line_for(&mut peer, "down.x");
        let deadline = Instant::now() + Duration::from_secs(10);
        let got = loop {
            c.send(b"PUB up.y 2\r\nhi\r\n");
            crate::cluster::frames_until_pong(&mut c);
            if let Some(m) = peer.next_msg(Duration::from_millis(200)) {
                break m;
            }
            assert!(
                Instant::now() < deadline,
                "{kind:?}: the spoke never heard of up.y"
            );
        };
        assert_eq!(got, "LMSG EDGE $G up.y 0 2\r\nhi\r\n", "{kind:?}");

        // A message from the leaf's own cluster never goes back to it.
        peer.raw
            .send(b"LMSG EDGE $G down.x 0 2\r\nno\r\nRMSG $G down.x 2\r\nok\r\n");
        peer.sync();
        let m = crate::cluster::read_msgs(&mut c, 1);
        assert_eq!(m, ["MSG down.x 3 2\r\nok\r\n"], "{kind:?}");
        assert!(
            crate::cluster::frames_until_pong(&mut c).is_empty(),
            "{kind:?}"
        );
    }
}

#[test]
fn a_route_that_stops_answering_pings_is_closed_as_stale() {
    for kind in BOTH {
        let conf = "cluster { name: C1, listen: \"127.0.0.1:-1\", ping_interval: \"100ms\", ping_max: 1 }\n";
        let n = crate::cluster::with_conf(kind, conf, &[]);
        let mut peer = Peer::attach(&n);
        // Never answered: read raw frames, PINGs included, until closed.
        let got = escape(&peer.raw.read_until_closed(Duration::from_secs(10)));
        assert!(got.contains("PING"), "{kind:?}: {got}");
        assert!(got.contains("-ERR 'Stale Connection'"), "{kind:?}: {got}");
    }
}

#[test]
fn an_imported_subscription_is_announced_in_the_exporter_too() {
    let conf = "accounts {\n A: { users: [{user: a, password: a}], exports: [{stream: \"feed.>\"}, {stream: \"ev.*\"}] }\n B: { users: [{user: b, password: b}], imports: [{stream: {account: A, subject: \"feed.>\"}}, {stream: {account: A, subject: \"ev.*\"}, prefix: \"p\"}] }\n}\ncluster { name: C1, listen: \"127.0.0.1:-1\" }\n";
    let mut outs = Vec::new();
    for kind in BOTH {
        let n = crate::cluster::with_conf(kind, conf, &[]);
        let mut peer = Peer::attach(&n);
        peer.sync();
        let (mut c, _) = Raw::connect(n.port);
        c.send(b"CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"b\"}\r\nSUB feed.x 1\r\nSUB p.ev.y 2\r\nSUB other 3\r\n");
        c.ping_pong();
        let mut got: Vec<String> = peer
            .lines(5)
            .into_iter()
            .filter(|l| !l.contains("$SYS"))
            .collect();
        got.sort();
        outs.push(got);
    }
    assert_eq!(
        outs[0],
        [
            "RS+ A ev.y\r\n",
            "RS+ A feed.x\r\n",
            "RS+ B feed.x\r\n",
            "RS+ B other\r\n",
            "RS+ B p.ev.y\r\n"
        ],
        "Shoal"
    );
    assert_eq!(
        outs[0], outs[1],
        "Shoal and nats-server announce the same shadows"
    );
}

#[test]
fn route_permissions_filter_interest_both_ways() {
    // import: what this node asks its peers for; export: what it lets a
    // peer ask it for.
    let conf = "cluster { name: C1, listen: \"127.0.0.1:-1\", permissions { import: \"in.>\", export: \"out.>\" } }\n";
    for kind in BOTH {
        let n = crate::cluster::with_conf(kind, conf, &[]);
        let mut peer = Peer::attach(&n);
        peer.sync();
        let mut c = client(&n);
        c.send(b"SUB other 1\r\nSUB in.x 2\r\n");
        c.ping_pong();
        assert_eq!(
            peer.lines(1),
            ["RS+ $G in.x\r\n"],
            "{kind:?}: only what may be imported"
        );
        peer.raw
            .send(b"RS+ $G nope\r\nRS+ $G out.y\r\nRS+ $G out.probe\r\n");
        peer.sync();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            c.send(b"PUB nope 1\r\nn\r\nPUB out.probe 0\r\n\r\n");
            c.ping_pong();
            if let Some(l) = peer.next_msg(Duration::from_millis(100)) {
                assert_eq!(
                    l, "RMSG $G out.probe 0\r\n\r\n",
                    "{kind:?}: nothing for `nope`"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{kind:?}: the exportable interest never arrived"
            );
        }
        c.send(b"PUB out.y 1\r\ny\r\n");
        c.ping_pong();
        assert_eq!(
            peer.next_msg(Duration::from_secs(5)).as_deref(),
            Some("RMSG $G out.y 1\r\ny\r\n"),
            "{kind:?}"
        );
    }
}

#[test]
fn an_unknown_compression_mode_is_refused_as_nats_server() {
    for kind in BOTH {
        let n = node(kind, &[], &[]);
        let (raw, info) = Raw::connect(route_port(&n));
        assert_eq!(
            info["compression"], "accept",
            "{kind:?}: the default, as nats-server"
        );
        let mut peer = Peer { raw };
        peer.raw.send(format!("CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"{FAKE_ID}\",\"cluster\":\"C1\"}}\r\n").as_bytes());
        peer.raw.send(format!("INFO {{\"server_id\":\"{FAKE_ID}\",\"server_name\":\"fake\",\"version\":\"2.15.1\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"C1\",\"compression\":\"zstd\"}}\r\n").as_bytes());
        let got = escape(&peer.raw.read_until_closed(Duration::from_secs(5)));
        assert!(
            got.contains("-ERR 'unsupported route compression mode \"zstd\"'"),
            "{kind:?}: {got}"
        );
    }
}

#[test]
fn a_route_that_never_logs_in_is_timed_out() {
    for kind in BOTH {
        let conf = "cluster { name: C1, listen: \"127.0.0.1:-1\", authorization { user: ru, password: rp, timeout: 0.5 } }\n";
        let n = crate::cluster::with_conf(kind, conf, &[]);
        let (mut raw, _) = Raw::connect(route_port(&n));
        let got = escape(&raw.read_until_closed(Duration::from_secs(5)));
        assert!(
            got.contains("-ERR 'Authentication Timeout'"),
            "{kind:?}: {got}"
        );
    }
}

#[test]
fn a_peer_announcing_an_impossible_size_is_cut_off_and_nothing_else() {
    let n = node(Kind::Shoal, &[], &[]);
    let mut peer = Peer::attach(&n);
    peer.sync();
    peer.raw.send(b"RMSG $G foo 999999999\r\n");
    peer.raw.read_until_closed(Duration::from_secs(5));
    // The server lives on, and a new route registers.
    let mut c = client(&n);
    c.ping_pong();
    let mut again = Peer::attach(&n);
    again.sync();
}

#[test]
fn a_stalled_route_is_cut_at_the_cluster_write_deadline() {
    // The server's own deadline is long; the cluster's applies to routes.
    let conf = "write_deadline: \"20s\"\nmax_pending: 1GB\ncluster { name: C1, listen: \"127.0.0.1:-1\", write_deadline: \"300ms\" }\n";
    let n = crate::cluster::with_conf(Kind::Shoal, conf, &["-m", "-1"]);
    let mut peer = Peer::attach(&n);
    peer.raw.send(b"RS+ $G big\r\n");
    peer.sync();
    let page = crate::monitor::get(crate::monitor::http_port(&n), "/varz").json();
    assert_eq!(page["cluster"]["write_deadline"], 300_000_000u64, "{page}");
    // The peer reads no more; a client publishes until the route is cut.
    let mut publ = client(&n);
    let body = vec![b'x'; 64 * 1024];
    let mut frame = format!("PUB big {}\r\n", body.len()).into_bytes();
    frame.extend_from_slice(&body);
    frame.extend_from_slice(b"\r\n");
    let deadline = Instant::now() + Duration::from_secs(15);
    let cut = "Slow Consumer Detected: WriteDeadline of 300ms exceeded";
    while !n.log().iter().any(|l| l.contains(cut)) {
        assert!(Instant::now() < deadline, "never cut: {:?}", n.log());
        for _ in 0..16 {
            publ.send(&frame);
        }
        publ.ping_pong();
    }
    // Only the route went: the publisher is still served.
    publ.ping_pong();
}

#[test]
fn pool_handshake_refusals_as_nats_server() {
    for kind in BOTH {
        let n = node(kind, &[], &[]);
        let (raw, info) = Raw::connect(route_port(&n));
        assert_eq!(info["route_pool_size"], 3, "{kind:?}: {info}");
        drop(raw);
        let cases = [
            (
                "\"route_pool_size\":3,\"route_pool_idx\":7,",
                "-ERR 'Invalid route pool index: 7 - pool size is 3'",
            ),
            (
                "\"route_pool_size\":3,\"route_account\":\"Z\",",
                "-ERR 'Unable to lookup account \"Z\": account missing'",
            ),
            (
                "\"route_pool_size\":3,\"route_account\":\"$G\",",
                "-ERR 'No route for account \"$G\"'",
            ),
        ];
        for (fields, want) in cases {
            let mut peer = Peer::attach_with(&n, "C1", "", fields);
            let got = escape(&peer.raw.read_until_closed(Duration::from_secs(5)));
            assert!(got.contains(want), "{kind:?} {fields}: {got}");
        }
        // A pool member at a valid index is a route.
        let mut peer =
            Peer::attach_with(&n, "C1", "", "\"route_pool_size\":3,\"route_pool_idx\":1,");
        peer.sync();
    }
}
