//! Leaf nodes of a hub that is itself a cluster node, and spokes that are
//! cluster nodes: interest and messages cross a route and a leaf link in
//! both directions, with the leaf's cluster as their origin. Every test
//! runs Shoal beside nats-server in each position (the hub node the spoke
//! dials, the hub node behind it, the spoke) and once with nats-server
//! alone, so the test itself is checked against the reference.
//!
//! The spoke-cluster test is the case origins exist for: a cluster `EDGE`
//! whose two nodes each dial a different node of the hub cluster. A message
//! published on one edge node reaches the other over their route; it must
//! not come to it a second time through the hubs (the hub that gets it
//! from a leaf of `EDGE` sends it across its route as `LMSG EDGE …`, and
//! the other hub keeps it from its own `EDGE` leaf).
//!
//! Readiness is proved by probes (`cluster::await_interest`), never by
//! sleeping.

use crate::cluster::{
    await_interest, client, frames_until_pong, node, node_conf, read_msgs, route_port, with_conf,
    Kind,
};
use crate::leaf::leaf_port;
use crate::util::ServerProc;

/// (hub node the spoke dials, the other hub node, spoke).
const MIXES: [(Kind, Kind, Kind); 4] = [
    (Kind::Shoal, Kind::Nats, Kind::Nats),
    (Kind::Nats, Kind::Shoal, Kind::Shoal),
    (Kind::Shoal, Kind::Shoal, Kind::Shoal),
    (Kind::Nats, Kind::Nats, Kind::Nats),
];

/// A node of hub cluster `C1` with a leaf listener, routed to `seeds`.
fn hub_node(kind: Kind, seeds: &[u16]) -> ServerProc {
    node_conf(kind, "leafnodes {\n  port: -1\n}\n", seeds)
}

/// A standalone spoke dialling `leaf_port`.
fn spoke(kind: Kind, leaf_port: u16) -> ServerProc {
    with_conf(kind, &remote(leaf_port), &[])
}

fn remote(leaf_port: u16) -> String {
    format!(
        "leafnodes {{\n  reconnect: \"100ms\"\n  remotes: [ {{ url: \"nats-leaf://127.0.0.1:{leaf_port}\" }} ]\n}}\n"
    )
}

/// A node of spoke cluster `EDGE` dialling `leaf_port`, routed to `seeds`.
fn edge_node(kind: Kind, leaf_port: u16, seeds: &[u16]) -> ServerProc {
    let routes = seeds
        .iter()
        .map(|p| format!("nats://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut args = vec!["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "EDGE"];
    if !routes.is_empty() {
        args.extend_from_slice(&["--routes", &routes]);
    }
    with_conf(kind, &remote(leaf_port), &args)
}

#[test]
fn interest_and_messages_cross_a_route_and_a_leaf_both_ways() {
    for (k1, k2, ks) in MIXES {
        let what = format!("hub {k1:?} routed to {k2:?}, {ks:?} spoke");
        let h1 = hub_node(k1, &[]);
        let h2 = node(k2, &[route_port(&h1)], &[]);
        let s = spoke(ks, leaf_port(&h1));
        let mut on_h2 = client(&h2);
        let mut on_spoke = client(&s);

        // Down the leaf from across the route: a wildcard on the spoke.
        on_spoke.send(b"SUB up.> 1\r\n");
        await_interest(&mut on_h2, &mut on_spoke, "up");
        on_h2.send(b"PUB up.a.b 5\r\nhello\r\nHPUB up.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        on_h2.ping_pong();
        let got = read_msgs(&mut on_spoke, 2);
        assert_eq!(got[0], "MSG up.a.b 1 5\r\nhello\r\n", "{what}");
        assert_eq!(
            got[1], "HMSG up.h 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
            "{what}"
        );

        // Up the leaf and across the route: a `*` on the far hub node.
        on_h2.send(b"SUB down.* 2\r\n");
        await_interest(&mut on_spoke, &mut on_h2, "down");
        on_spoke.send(b"PUB down.x 3\r\nabc\r\n");
        on_spoke.ping_pong();
        assert_eq!(
            read_msgs(&mut on_h2, 1)[0],
            "MSG down.x 2 3\r\nabc\r\n",
            "{what}"
        );

        // A queue group whose only members are behind the leaf: each
        // message once.
        on_spoke.send(b"SUB work q 3\r\nSUB work q 4\r\n");
        await_interest(&mut on_h2, &mut on_spoke, "work");
        for i in 0..20 {
            on_h2.send(format!("PUB work {}\r\n{i:02}\r\n", 2).as_bytes());
        }
        on_h2.ping_pong();
        let got = read_msgs(&mut on_spoke, 20);
        let mut bodies: Vec<String> = got
            .iter()
            .map(|m| m.split("\r\n").nth(1).unwrap().to_string())
            .collect();
        bodies.sort();
        let want: Vec<String> = (0..20).map(|i| format!("{i:02}")).collect();
        assert_eq!(bodies, want, "{what}");
        assert!(
            frames_until_pong(&mut on_spoke).is_empty(),
            "{what}: a copy too many"
        );

        // A group whose only member is across the route, for the spoke's
        // messages; then one with a member on each side, for a client of
        // the hub node between them: each message once in all.
        on_h2.send(b"SUB far q 7\r\n");
        await_interest(&mut on_spoke, &mut on_h2, "far");
        for i in 0..20 {
            on_spoke.send(format!("PUB far 2\r\n{i:02}\r\n").as_bytes());
        }
        on_spoke.ping_pong();
        assert_eq!(read_msgs(&mut on_h2, 20).len(), 20, "{what}");
        assert!(
            frames_until_pong(&mut on_h2).is_empty(),
            "{what}: a copy too many"
        );
        on_spoke.send(b"SUB both q 8\r\nSUB both.end 10\r\n");
        on_h2.send(b"SUB both q 8\r\nSUB both.end 11\r\n");
        let mut on_h1 = client(&h1);
        await_interest(&mut on_h1, &mut on_spoke, "both1");
        await_interest(&mut on_h1, &mut on_h2, "both2");
        for i in 0..40 {
            on_h1.send(format!("PUB both 2\r\n{i:02}\r\n").as_bytes());
        }
        // Each side has all it will get once the end marker, sent after,
        // has come.
        on_h1.send(b"PUB both.end 0\r\n\r\n");
        on_h1.ping_pong();
        let count = |r: &mut crate::util::Raw| {
            let mut n = 0;
            loop {
                let m = read_msgs(r, 1).remove(0);
                if m.starts_with("MSG both.end") {
                    return n;
                }
                assert!(m.starts_with("MSG both "), "{what}: {m}");
                n += 1;
            }
        };
        let (a, b) = (count(&mut on_spoke), count(&mut on_h2));
        assert_eq!(
            a + b,
            40,
            "{what}: {a} behind the leaf, {b} across the route"
        );

        // A request from across the route, answered behind the leaf.
        on_spoke.send(b"SUB svc 5\r\n");
        on_h2.send(b"SUB _INBOX.r.* 6\r\n");
        await_interest(&mut on_h2, &mut on_spoke, "svc");
        await_interest(&mut on_spoke, &mut on_h2, "inbox");
        on_h2.send(b"PUB svc _INBOX.r.1 4\r\nping\r\n");
        on_h2.ping_pong();
        let req = read_msgs(&mut on_spoke, 1);
        assert_eq!(req[0], "MSG svc 5 _INBOX.r.1 4\r\nping\r\n", "{what}");
        on_spoke.send(b"PUB _INBOX.r.1 4\r\npong\r\n");
        on_spoke.ping_pong();
        assert_eq!(
            read_msgs(&mut on_h2, 1)[0],
            "MSG _INBOX.r.1 6 4\r\npong\r\n",
            "{what}"
        );
    }
}

#[test]
fn a_spoke_cluster_on_two_hub_nodes_gets_each_message_once() {
    // (hub node 1, hub node 2, edge node 1, edge node 2).
    let mixes = [
        (Kind::Shoal, Kind::Nats, Kind::Nats, Kind::Nats),
        (Kind::Nats, Kind::Shoal, Kind::Shoal, Kind::Shoal),
        (Kind::Shoal, Kind::Shoal, Kind::Shoal, Kind::Nats),
        (Kind::Nats, Kind::Nats, Kind::Nats, Kind::Nats),
    ];
    for (k1, k2, e1, e2) in mixes {
        let what = format!("hubs {k1:?}+{k2:?}, edges {e1:?}+{e2:?}");
        let h1 = hub_node(k1, &[]);
        let h2 = hub_node(k2, &[route_port(&h1)]);
        let s1 = edge_node(e1, leaf_port(&h1), &[]);
        let s2 = edge_node(e2, leaf_port(&h2), &[route_port(&s1)]);
        let mut pub_s1 = client(&s1);
        let mut sub_s2 = client(&s2);
        let mut sub_h2 = client(&h2);

        sub_s2.send(b"SUB loop.x 1\r\nSUB loop.probe 2\r\n");
        sub_h2.send(b"SUB loop.x 3\r\n");
        // Each path's interest is in place: edge to edge over their
        // route, edge to the far hub over the leaf and the hubs' route,
        // the far hub to the second edge over its leaf.
        await_interest(&mut pub_s1, &mut sub_s2, "edges");
        await_interest(&mut pub_s1, &mut sub_h2, "across");
        await_interest(&mut sub_h2, &mut sub_s2, "back");

        for i in 0..10 {
            pub_s1.send(format!("PUB loop.x 1\r\n{i}\r\n").as_bytes());
        }
        pub_s1.ping_pong();
        let on_h2 = read_msgs(&mut sub_h2, 10);
        assert!(
            on_h2.iter().all(|m| m.starts_with("MSG loop.x 3 1")),
            "{what}: {on_h2:?}"
        );
        // The far hub has sent on all it would send: a probe from it to
        // the second edge comes after any copy it sent there.
        sub_h2.send(b"PUB loop.probe 1\r\np\r\n");
        sub_h2.ping_pong();
        let got = read_msgs(&mut sub_s2, 11);
        assert_eq!(
            got[10], "MSG loop.probe 2 1\r\np\r\n",
            "{what}: a copy too many: {got:?}"
        );
        let bodies: Vec<&str> = got[..10]
            .iter()
            .map(|m| m.split("\r\n").nth(1).unwrap())
            .collect();
        let want: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(bodies, want, "{what}: each message once, in order");
        assert!(frames_until_pong(&mut sub_h2).is_empty(), "{what}");
    }
}

/// A hub node tells its spokes the cluster's leaf URLs: in its first INFO,
/// and in an INFO of its own when a node with a leaf listener joins.
#[test]
fn a_hub_node_tells_its_spokes_of_the_clusters_leaf_urls() {
    for kind in [Kind::Shoal, Kind::Nats] {
        let h1 = hub_node(kind, &[]);
        let port = leaf_port(&h1);
        let mut fake = crate::util::Raw::connect_no_info(port);
        let first = leaf_urls(&fake.read_line());
        assert_eq!(first.len(), 1, "{kind:?}: {first:?}");
        fake.send(b"CONNECT {\"server_id\":\"NFAKESPOKE\",\"name\":\"fake\",\"cluster\":\"fake\",\"headers\":true,\"remote_account\":\"$G\",\"protocol\":1}\r\nPING\r\n");
        // The other node, of the other kind too, joins with its listener.
        let other = if kind == Kind::Shoal {
            Kind::Nats
        } else {
            Kind::Shoal
        };
        let h2 = hub_node(other, &[route_port(&h1)]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let urls = loop {
            let f = fake
                .read_frame(deadline)
                .unwrap_or_else(|e| panic!("{kind:?}: no INFO naming both nodes: {e:?}"));
            if f == b"PING\r\n" {
                fake.send(b"PONG\r\n");
            }
            if f.starts_with(b"INFO ") {
                let urls = leaf_urls(&f);
                if urls.len() == 2 {
                    break urls;
                }
            }
        };
        let port2 = format!(":{}", leaf_port(&h2));
        assert!(
            urls.iter().any(|u| u.ends_with(&port2)),
            "{kind:?}: {urls:?}"
        );
        // (nats-server keeps them in a map: in no set order.)
        assert!(
            urls.contains(&first[0]),
            "{kind:?}: {urls:?} without its own"
        );
    }
}

/// Its `leafnode_urls`, from an INFO line.
fn leaf_urls(line: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(line);
    let json = text.trim_start_matches("INFO ").trim();
    let v: serde_json::Value = serde_json::from_str(json).expect("INFO JSON");
    v["leafnode_urls"]
        .as_array()
        .map(|a| a.iter().map(|u| u.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// A spoke whose hub node stops reconnects to another node of the hub's
/// cluster, which the hub told it of, and its interest is restored there.
#[test]
fn a_spoke_fails_over_to_another_hub_node() {
    for (k1, k2, ks) in MIXES {
        let what = format!("hub {k1:?} routed to {k2:?}, {ks:?} spoke");
        let h1 = hub_node(k1, &[]);
        let h2 = hub_node(k2, &[route_port(&h1)]);
        let (mut on_h1, mut on_h2) = (client(&h1), client(&h2));
        await_interest(&mut on_h1, &mut on_h2, "route");
        let s = spoke(ks, leaf_port(&h1));
        let mut on_spoke = client(&s);
        on_spoke.send(b"SUB fo.x 1\r\n");
        await_interest(&mut on_h2, &mut on_spoke, "first");
        drop(on_h1);
        drop(h1);
        // The spoke dials the other node and tells it its interest again.
        await_interest(&mut on_h2, &mut on_spoke, "again");
        on_h2.send(b"PUB fo.x 2\r\nok\r\n");
        on_h2.ping_pong();
        assert_eq!(
            read_msgs(&mut on_spoke, 1)[0],
            "MSG fo.x 1 2\r\nok\r\n",
            "{what}"
        );
    }
}
