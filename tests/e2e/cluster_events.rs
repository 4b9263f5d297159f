//! A Shoal node as the cluster's other servers see it in the system
//! account, beside a nats-server 2.15 node: its statsz heartbeat
//! (`$SYS.SERVER.<id>.STATSZ`, with its routes and the servers it knows),
//! its answer to `$SYS.REQ.SERVER.PING` asked on the other node (what
//! `nats server list` sends), and its `LAMEDUCK` and `SHUTDOWN` events when
//! it goes — all carried by the system account's own route.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::{route_port, with_conf, Kind};
use crate::util::Raw;

const DEADLINE: Duration = Duration::from_secs(15);

fn conf(seed: Option<u16>) -> String {
    let routes = seed.map_or(String::new(), |p| {
        format!(", routes: [\"nats://127.0.0.1:{p}\"]")
    });
    format!(
        "accounts {{\n  SYS: {{ users: [ {{user: admin, password: x}} ] }}\n  APP: {{ users: [ {{user: app, password: y}} ] }}\n}}\nsystem_account: SYS\ncluster {{ name: C1, listen: \"127.0.0.1:-1\"{routes} }}\n"
    )
}

/// The next message's subject and JSON body (PINGs answered).
fn next_msg(c: &mut Raw, deadline: Instant) -> (String, Value) {
    loop {
        let f = c.read_frame(deadline).expect("a message");
        if f == b"PING\r\n" {
            c.send(b"PONG\r\n");
            continue;
        }
        let text = String::from_utf8_lossy(&f).to_string();
        let Some(head) = text.strip_prefix("MSG ") else {
            continue;
        };
        let (line, body) = head.split_once("\r\n").unwrap();
        let subject = line.split(' ').next().unwrap().to_string();
        return (subject, serde_json::from_str(body.trim_end()).unwrap());
    }
}

/// The next message on a subject ending with `suffix` (others skipped).
fn next_on(c: &mut Raw, suffix: &str) -> (String, Value) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (subject, m) = next_msg(c, deadline);
        if subject.ends_with(suffix) {
            return (subject, m);
        }
    }
}

#[test]
fn the_cluster_hears_a_shoal_node_in_the_system_account() {
    let nats = with_conf(Kind::Nats, &conf(None), &[]);
    let shoal = with_conf(Kind::Shoal, &conf(Some(route_port(&nats))), &[]);
    let (_, info) = Raw::connect(shoal.port);
    let shoal_id = info["server_id"].as_str().unwrap().to_string();
    let (mut admin, nats_info) = Raw::connect(nats.port);
    let nats_name = nats_info["server_name"].as_str().unwrap().to_string();
    admin.send(
        format!(
            "CONNECT {{\"verbose\":false,\"user\":\"admin\",\"pass\":\"x\"}}\r\nSUB $SYS.SERVER.{shoal_id}.> 1\r\nSUB _INBOX.ping 2\r\n"
        )
        .as_bytes(),
    );
    admin.ping_pong();
    // The heartbeat arrives once the subscription has crossed the route.
    let (subject, m) = next_on(&mut admin, ".STATSZ");
    assert_eq!(subject, format!("$SYS.SERVER.{shoal_id}.STATSZ"));
    assert_eq!(m["server"]["id"], shoal_id.as_str(), "{m}");
    let stats = &m["statsz"];
    assert_eq!(stats["active_servers"], 2, "{m}");
    let routes = stats["routes"].as_array().expect("routes");
    assert!(!routes.is_empty(), "{m}");
    for r in routes {
        assert_eq!(r["name"], nats_name.as_str(), "{r}");
        for key in ["rid", "sent", "received", "pending"] {
            assert!(r.get(key).is_some(), "{key} in {r}");
        }
    }
    // `nats server list`: both servers answer a PING asked on nats-server.
    admin.send(b"PUB $SYS.REQ.SERVER.PING _INBOX.ping 0\r\n\r\n");
    let mut ids = std::collections::BTreeSet::new();
    let deadline = Instant::now() + DEADLINE;
    while ids.len() < 2 {
        let (subject, m) = next_msg(&mut admin, deadline);
        if subject == "_INBOX.ping" {
            ids.insert(m["server"]["id"].as_str().unwrap().to_string());
        }
    }
    assert!(ids.contains(&shoal_id), "{ids:?}");
    // Lame duck: told.
    shoal.signal(libc::SIGUSR2);
    let (_, m) = next_on(&mut admin, ".LAMEDUCK");
    assert_eq!(m["id"], shoal_id.as_str(), "{m}");
    drop(shoal);
    // A stop: told before the routes go.
    let mut shoal = with_conf(Kind::Shoal, &conf(Some(route_port(&nats))), &[]);
    let (_, info) = Raw::connect(shoal.port);
    let shoal_id = info["server_id"].as_str().unwrap().to_string();
    admin.send(format!("SUB $SYS.SERVER.{shoal_id}.SHUTDOWN 3\r\n").as_bytes());
    admin.ping_pong();
    // Its heartbeat comes back over the route when the subscription is there.
    admin.send(format!("SUB $SYS.SERVER.{shoal_id}.STATSZ 4\r\n").as_bytes());
    next_on(&mut admin, ".STATSZ");
    shoal.signal(libc::SIGINT);
    let (_, m) = next_on(&mut admin, ".SHUTDOWN");
    assert_eq!(m["id"], shoal_id.as_str(), "{m}");
    assert!(shoal.wait_exit(DEADLINE).is_some_and(|s| s.success()));
}
