//! Route pools and pinned accounts as nats-server 2.15 negotiates them,
//! with Shoal and nats-server on either side: a pool of `pool_size`
//! connections per peer (the larger of the two sizes: rolling upgrades
//! mix them), each account's interest and messages on the connection its
//! name hashes to, the system account and each `accounts` entry on a
//! connection of its own whose lines name no account, and a side with
//! `pool_size: -1` that makes the pair fall back to one connection (the
//! other side's dedicated routes refused, as nats-server refuses them).

use crate::cluster::{await_interest, await_routes, read_msgs, route_port, with_conf, Kind};
use crate::monitor::{get, http_port};
use crate::util::{Raw, ServerProc};

const ACCOUNTS: &str = "accounts {\n  A: { users: [{user: a, password: a}] }\n  B: { users: [{user: b, password: b}] }\n  C: { users: [{user: c, password: c}] }\n}\n";

fn node(kind: Kind, pool: Option<i64>, pinned: bool, seed: Option<u16>) -> ServerProc {
    let routes = seed.map_or(String::new(), |p| {
        format!("  routes: [\"nats://127.0.0.1:{p}\"]\n")
    });
    let pool = pool.map_or(String::new(), |n| format!("  pool_size: {n}\n"));
    let pinned = if pinned { "  accounts: [A]\n" } else { "" };
    let conf = format!(
        "{ACCOUNTS}cluster {{\n  name: C1\n  listen: \"127.0.0.1:-1\"\n{routes}{pool}{pinned}}}\n"
    );
    with_conf(kind, &conf, &["-m", "-1"])
}

fn login(p: &ServerProc, user: &str) -> Raw {
    let (mut r, _) = Raw::connect(p.port);
    r.send(
        format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\n")
            .as_bytes(),
    );
    r.ping_pong();
    r
}

/// Each account's messages cross from `from` to `to`, and only there.
fn every_account_crosses(from: &ServerProc, to: &ServerProc, what: &str) {
    for user in ["a", "b", "c"] {
        let mut sub = login(to, user);
        sub.send(b"SUB acc.> 1\r\n");
        let mut publ = login(from, user);
        await_interest(&mut publ, &mut sub, user);
        for i in 0..100 {
            publ.send(format!("PUB acc.{user} 3\r\n{i:03}\r\n").as_bytes());
        }
        publ.ping_pong();
        let got = read_msgs(&mut sub, 100);
        for (i, m) in got.iter().enumerate() {
            assert_eq!(m, &format!("MSG acc.{user} 1 3\r\n{i:03}\r\n"), "{what}");
        }
    }
}

#[test]
fn pools_and_pinned_accounts_with_every_peer() {
    // (seed, its pool_size, other, its pool_size, `accounts: [A]`)
    let cases = [
        (Kind::Shoal, None, Kind::Shoal, None, true),
        (Kind::Shoal, None, Kind::Nats, None, true),
        (Kind::Nats, None, Kind::Shoal, None, true),
        (Kind::Shoal, Some(2), Kind::Nats, Some(4), false),
        (Kind::Nats, Some(5), Kind::Shoal, Some(1), false),
        (Kind::Nats, None, Kind::Shoal, Some(-1), false),
        (Kind::Shoal, Some(-1), Kind::Nats, None, false),
    ];
    for (k1, p1, k2, p2, pinned) in cases {
        let what = format!("{k1:?} pool {p1:?} seed, {k2:?} pool {p2:?}, pinned A: {pinned}");
        let seed = node(k1, p1, pinned, None);
        let other = node(k2, p2, pinned, Some(route_port(&seed)));
        let size = |p: Option<i64>| p.unwrap_or(3);
        let want = if size(p1) < 0 || size(p2) < 0 {
            1
        } else {
            size(p1).max(size(p2)) as usize + 1 + usize::from(pinned)
        };
        // The whole pool first: interest can cross on the first connection
        // while the others are still being dialled.
        for node in [&seed, &other] {
            await_routes(node, want);
        }
        every_account_crosses(&seed, &other, &what);
        every_account_crosses(&other, &seed, &what);
        for (node, kind) in [(&seed, k1), (&other, k2)] {
            if kind != Kind::Shoal {
                continue;
            }
            let page = get(http_port(node), "/routez").json();
            let routes = page["routes"].as_array().unwrap();
            assert_eq!(routes.len(), want, "{what}: {page}");
            let mut dedicated: Vec<&str> = routes
                .iter()
                .filter_map(|r| r["account"].as_str())
                .collect();
            dedicated.sort();
            let expect: &[&str] = match (want, pinned) {
                (1, _) => &[],
                (_, true) => &["$SYS", "A"],
                (_, false) => &["$SYS"],
            };
            assert_eq!(dedicated, expect, "{what}: {page}");
            if pinned {
                // A's 200 messages took A's own connection.
                let a = routes.iter().find(|r| r["account"] == "A").unwrap();
                let moved = a["in_msgs"].as_u64().unwrap() + a["out_msgs"].as_u64().unwrap();
                assert!(moved >= 200, "{what}: {a}");
            }
            let varz = get(http_port(node), "/varz").json();
            assert_eq!(varz["routes"], want, "{what}");
            assert_eq!(varz["remotes"], 1, "{what}");
        }
    }
}
