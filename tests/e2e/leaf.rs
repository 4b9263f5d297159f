//! Leaf nodes, Shoal in both roles: every test runs with each pair of hub
//! and spoke (nats-server hub with a Shoal spoke, Shoal hub with a
//! nats-server spoke, Shoal with Shoal, and nats-server with nats-server,
//! so the test itself is checked against the reference): pub/sub both ways with wildcards, headers and
//! request/reply across the link; queue groups with local members
//! preferred; a remote bound to one local account; the hub's credentials
//! from the URL (user and password, token; wrong ones refused); a hub that
//! restarts (the spoke re-dials, its interest is restored); two remotes
//! whose hubs are linked (a loop, detected by the spoke's `$LDS.`
//! subject).
//!
//! Readiness is proved by probes (`cluster::await_interest`), never by
//! sleeping.

use std::time::{Duration, Instant};

use crate::cluster::{await_interest, client, frames_until_pong, read_msgs, with_conf, Kind};
use crate::util::{free_port, Raw, ServerProc};

const LEAF_LISTENING: &str = "Listening for leafnode connections on ";
/// (hub, spoke).
const PAIRS: [(Kind, Kind); 4] = [
    (Kind::Nats, Kind::Shoal),
    (Kind::Shoal, Kind::Nats),
    (Kind::Shoal, Kind::Shoal),
    (Kind::Nats, Kind::Nats),
];

/// The leaf port a hub logged.
pub fn leaf_port(p: &ServerProc) -> u16 {
    assert!(
        p.wait_for_log(LEAF_LISTENING, Duration::from_secs(5)),
        "no leaf listener: {:?}",
        p.log()
    );
    let line = p
        .log()
        .into_iter()
        .find(|l| l.contains(LEAF_LISTENING))
        .unwrap();
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// A hub of `kind` with a leaf listener on `port` (-1: any) and `conf`.
fn hub(kind: Kind, port: i32, conf: &str) -> ServerProc {
    with_conf(
        kind,
        &format!("{conf}\nleafnodes {{\n  port: {port}\n}}\n"),
        &[],
    )
}

/// A hub whose leaf listener carries `leaf_block` (authorization…).
fn hub_with(kind: Kind, leaf_block: &str, conf: &str) -> ServerProc {
    with_conf(
        kind,
        &format!("{conf}\nleafnodes {{\n  port: -1\n  {leaf_block}\n}}\n"),
        &[],
    )
}

/// A spoke of `kind` whose one remote is `remote` (the inside of a
/// `remotes` entry), plus `conf`.
fn spoke(kind: Kind, remote: &str, conf: &str) -> ServerProc {
    spoke_remotes(kind, &[remote], conf)
}

fn spoke_remotes(kind: Kind, remotes: &[&str], conf: &str) -> ServerProc {
    let list = remotes
        .iter()
        .map(|r| format!("{{ {r} }}"))
        .collect::<Vec<_>>()
        .join(", ");
    with_conf(
        kind,
        &format!("{conf}\nleafnodes {{\n  reconnect: \"100ms\"\n  remotes: [ {list} ]\n}}\n"),
        &[],
    )
}

fn url(port: u16) -> String {
    format!("url: \"nats-leaf://127.0.0.1:{port}\"")
}

/// A client of `p` logged in as `user`/`pass`.
fn login(p: &ServerProc, user: &str, pass: &str) -> Raw {
    let (mut r, _) = Raw::connect(p.port);
    r.send(
        format!(
            "CONNECT {{\"verbose\":false,\"headers\":true,\"no_responders\":true,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n"
        )
        .as_bytes(),
    );
    r.ping_pong();
    r
}

#[test]
fn pub_sub_headers_and_requests_cross_the_link_both_ways() {
    for (hk, kind) in PAIRS {
        let h = hub(hk, -1, "");
        let s = spoke(kind, &url(leaf_port(&h)), "");
        let what = format!("{hk:?} hub, {kind:?} spoke");

        // Hub to spoke, a wildcard subscription on the spoke.
        let mut on_spoke = client(&s);
        on_spoke.send(b"SUB a.> 1\r\n");
        let mut on_hub = client(&h);
        await_interest(&mut on_hub, &mut on_spoke, "down");
        on_hub.send(b"PUB a.b.c 5\r\nhello\r\nHPUB a.h 21 23\r\nNATS/1.0\r\nX-K: v1\r\n\r\nhi\r\n");
        on_hub.ping_pong();
        let got = read_msgs(&mut on_spoke, 2);
        assert_eq!(got[0], "MSG a.b.c 1 5\r\nhello\r\n", "{what}");
        assert_eq!(
            got[1], "HMSG a.h 1 21 23\r\nNATS/1.0\r\nX-K: v1\r\n\r\nhi\r\n",
            "{what}"
        );

        // Spoke to hub, a `*` subscription on the hub.
        on_hub.send(b"SUB b.* 7\r\n");
        await_interest(&mut on_spoke, &mut on_hub, "up");
        on_spoke.send(b"PUB b.x 2\r\nup\r\nPUB b.x.y 2\r\nno\r\nPUB b.z 3\r\nup2\r\n");
        on_spoke.ping_pong();
        let got = read_msgs(&mut on_hub, 2);
        assert_eq!(
            got,
            ["MSG b.x 7 2\r\nup\r\n", "MSG b.z 7 3\r\nup2\r\n"],
            "{what}"
        );

        // A service on the hub answers a request from the spoke, and a
        // service on the spoke one from the hub.
        on_hub.send(b"SUB svc.hub 9\r\n");
        await_interest(&mut on_spoke, &mut on_hub, "svc1");
        on_spoke.send(b"SUB _INBOX.s1 2\r\nPUB svc.hub _INBOX.s1 3\r\nask\r\n");
        let req = read_msgs(&mut on_hub, 1);
        assert_eq!(req[0], "MSG svc.hub 9 _INBOX.s1 3\r\nask\r\n", "{what}");
        on_hub.send(b"PUB _INBOX.s1 6\r\nanswer\r\n");
        let rep = read_msgs(&mut on_spoke, 1);
        assert_eq!(rep[0], "MSG _INBOX.s1 2 6\r\nanswer\r\n", "{what}");

        on_spoke.send(b"SUB svc.spoke 4\r\n");
        await_interest(&mut on_hub, &mut on_spoke, "svc2");
        on_hub.send(b"SUB _INBOX.h1 3\r\nPUB svc.spoke _INBOX.h1 1\r\nq\r\n");
        let req = read_msgs(&mut on_spoke, 1);
        assert_eq!(req[0], "MSG svc.spoke 4 _INBOX.h1 1\r\nq\r\n", "{what}");
        on_spoke.send(b"PUB _INBOX.h1 1\r\na\r\n");
        assert_eq!(
            read_msgs(&mut on_hub, 1)[0],
            "MSG _INBOX.h1 3 1\r\na\r\n",
            "{what}"
        );

        // No echo over the link: the spoke's own subscriber gets its
        // publisher's message once, not again from the hub.
        on_spoke.send(b"SUB both 5\r\n");
        on_hub.send(b"SUB both 6\r\n");
        await_interest(&mut on_spoke, &mut on_hub, "both");
        on_spoke.send(b"PUB both 1\r\n1\r\n");
        assert_eq!(
            read_msgs(&mut on_hub, 1)[0],
            "MSG both 6 1\r\n1\r\n",
            "{what}"
        );
        // Then a message from the hub to the spoke: anything the hub echoed
        // back over the link would be ahead of it.
        on_hub.send(b"PUB a.fence 0\r\n\r\n");
        let mine = read_msgs(&mut on_spoke, 2);
        assert_eq!(mine[1], "MSG a.fence 1 0\r\n\r\n", "{what}");
        assert_eq!(mine[0], "MSG both 5 1\r\n1\r\n", "{what}");
    }
}

/// Queue groups: a publisher's own server's members are preferred; with
/// none there, the other side's member gets every message, each once.
#[test]
fn queue_members_on_the_publishers_side_are_preferred() {
    for (hk, kind) in PAIRS {
        let h = hub(hk, -1, "");
        let s = spoke(kind, &url(leaf_port(&h)), "");
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let mut q_spoke = client(&s);
        let mut q_hub = client(&h);
        q_spoke.send(b"SUB work q 1\r\n");
        q_hub.send(b"SUB work q 2\r\n");
        let mut pub_spoke = client(&s);
        let mut pub_hub = client(&h);
        // Both sides' plain subscribers prove the interest is across.
        await_interest(&mut pub_hub, &mut q_spoke, "qs");
        await_interest(&mut pub_spoke, &mut q_hub, "qh");
        for i in 0..20 {
            pub_spoke.send(format!("PUB work 2\r\n{i:02}\r\n").as_bytes());
            pub_hub.send(format!("PUB work 2\r\n{i:02}\r\n").as_bytes());
        }
        pub_spoke.ping_pong();
        pub_hub.ping_pong();
        let on_spoke = read_msgs(&mut q_spoke, 20);
        let on_hub = read_msgs(&mut q_hub, 20);
        assert_eq!(on_spoke[19], "MSG work 1 2\r\n19\r\n", "{what}");
        assert_eq!(on_hub[19], "MSG work 2 2\r\n19\r\n", "{what}");
        // Nothing more went either way.
        let mut fence = client(&h);
        fence.ping_pong();
        assert!(frames_until_pong(&mut q_spoke).is_empty(), "{what}");
        assert!(frames_until_pong(&mut q_hub).is_empty(), "{what}");

        // The spoke's member leaves: its publisher's messages go to the
        // hub's member, each once.
        q_spoke.send(b"UNSUB 1\r\n");
        q_spoke.ping_pong();
        let mut plain_hub = client(&h);
        plain_hub.send(b"SUB work.done 3\r\n");
        await_interest(&mut pub_spoke, &mut plain_hub, "left");
        let deadline = Instant::now() + Duration::from_secs(10);
        // The hub learns of the UNSUB in order with the probes above; a
        // message published now goes to the hub's member.
        let mut got = Vec::new();
        while got.len() < 10 {
            for i in 0..10 {
                pub_spoke.send(format!("PUB work 2\r\n{i:02}\r\n").as_bytes());
            }
            pub_spoke.ping_pong();
            got = read_msgs(&mut q_hub, 10);
            assert!(Instant::now() < deadline, "{what}");
        }
        assert_eq!(got[9], "MSG work 2 2\r\n09\r\n", "{what}");
        assert!(frames_until_pong(&mut q_spoke).is_empty(), "{what}");
    }
}

/// A remote binds one local account: only that account's clients hear
/// the hub, and only they are heard there.
#[test]
fn a_remote_binds_one_local_account() {
    let accounts = "accounts {\n  A: { users: [ { user: a, password: a } ] }\n  B: { users: [ { user: b, password: b } ] }\n}\n";
    for (hk, kind) in PAIRS {
        let h = hub(hk, -1, "");
        let s = spoke(
            kind,
            &format!("{}, account: A", url(leaf_port(&h))),
            accounts,
        );
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let mut in_a = login(&s, "a", "a");
        let mut in_b = login(&s, "b", "b");
        in_a.send(b"SUB x 1\r\n");
        in_b.send(b"SUB x 2\r\n");
        let mut on_hub = client(&h);
        await_interest(&mut on_hub, &mut in_a, "acc");
        on_hub.send(b"PUB x 2\r\nhi\r\n");
        on_hub.ping_pong();
        assert_eq!(read_msgs(&mut in_a, 1)[0], "MSG x 1 2\r\nhi\r\n", "{what}");
        // B's client hears nothing, and what it publishes stays in B.
        on_hub.send(b"SUB y 3\r\n");
        await_interest(&mut in_a, &mut on_hub, "acc2");
        in_b.send(b"PUB y 1\r\nb\r\n");
        in_b.ping_pong();
        in_a.send(b"PUB y 1\r\na\r\n");
        in_a.ping_pong();
        assert_eq!(read_msgs(&mut on_hub, 1)[0], "MSG y 3 1\r\na\r\n", "{what}");
        assert!(frames_until_pong(&mut in_b).is_empty(), "{what}");
        assert!(frames_until_pong(&mut on_hub).is_empty(), "{what}");
    }
}

/// The hub's `leafnodes { authorization }`: the spoke logs in with the
/// URL's user and password, or its token; wrong ones are refused.
#[test]
fn hub_credentials_come_from_the_url() {
    for (hk, kind) in PAIRS {
        let what = format!("{hk:?} hub, {kind:?} spoke");
        // The leaf listener's own user, or the server's token (a leaf
        // listener has no token of its own: nats-server checks a leaf's
        // token against the server's authorization).
        for (block, conf, hub_login, good, bad) in [
            (
                "authorization { user: leaf, password: s3cr3t }",
                "",
                "",
                "leaf:s3cr3t@",
                "leaf:wrong@",
            ),
            (
                "",
                "authorization { token: t0ken }",
                ",\"auth_token\":\"t0ken\"",
                "t0ken@",
                "nope@",
            ),
        ] {
            let h = hub_with(hk, block, conf);
            let port = leaf_port(&h);
            let s = spoke(
                kind,
                &format!("url: \"nats-leaf://{good}127.0.0.1:{port}\""),
                "",
            );
            let mut on_spoke = client(&s);
            on_spoke.send(b"SUB a 1\r\n");
            let (mut on_hub, _) = Raw::connect(h.port);
            on_hub.send(format!("CONNECT {{\"verbose\":false{hub_login}}}\r\n").as_bytes());
            on_hub.ping_pong();
            await_interest(&mut on_hub, &mut on_spoke, "cred");
            drop(s);

            let s = spoke(
                kind,
                &format!("url: \"nats-leaf://{bad}127.0.0.1:{port}\""),
                "",
            );
            assert!(
                h.wait_for_log("authentication error", Duration::from_secs(5)),
                "{what} {block}{conf}: the hub saw no failed login"
            );
            drop(s);
        }
    }
}

/// The hub goes away and comes back on the same port: the spoke re-dials
/// and tells it its interest again.
#[test]
fn the_spoke_reconnects_to_a_restarted_hub() {
    for (hk, kind) in PAIRS {
        let port = free_port();
        let h = hub(hk, i32::from(port), "");
        let s = spoke(kind, &url(port), "");
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let mut on_spoke = client(&s);
        on_spoke.send(b"SUB a.> 1\r\n");
        let mut on_hub = client(&h);
        await_interest(&mut on_hub, &mut on_spoke, "before");
        drop(on_hub);
        drop(h);

        let h = hub(hk, i32::from(port), "");
        let mut on_hub = client(&h);
        await_interest(&mut on_hub, &mut on_spoke, "after");
        on_hub.send(b"PUB a.again 2\r\nok\r\n");
        on_hub.ping_pong();
        assert_eq!(
            read_msgs(&mut on_spoke, 1)[0],
            "MSG a.again 1 2\r\nok\r\n",
            "{what}"
        );
    }
}

/// A hub with two spokes: a message from one spoke's client crosses the
/// hub to the other's, and a queue group with members on both spokes
/// gets each message once (the publisher's spoke preferred).
#[test]
fn a_hub_carries_messages_between_its_spokes() {
    for (hk, kind) in PAIRS {
        let what = format!("{hk:?} hub, {kind:?} spokes");
        let h = hub(hk, -1, "");
        let port = leaf_port(&h);
        let s1 = spoke(kind, &url(port), "");
        let s2 = spoke(kind, &url(port), "");
        let mut sub2 = client(&s2);
        sub2.send(b"SUB far.* 1\r\n");
        let mut pub1 = client(&s1);
        await_interest(&mut pub1, &mut sub2, "spokes");
        pub1.send(b"PUB far.x 3\r\nabc\r\n");
        pub1.ping_pong();
        assert_eq!(
            read_msgs(&mut sub2, 1)[0],
            "MSG far.x 1 3\r\nabc\r\n",
            "{what}"
        );
        // And back, with a reply subject.
        let mut sub1 = client(&s1);
        sub1.send(b"SUB back 2\r\n");
        await_interest(&mut sub2, &mut sub1, "back");
        sub2.send(b"PUB back r.1 1\r\nb\r\n");
        sub2.ping_pong();
        assert_eq!(
            read_msgs(&mut sub1, 1)[0],
            "MSG back 2 r.1 1\r\nb\r\n",
            "{what}"
        );

        // Queue members on both spokes: s1's publisher's go to s1's.
        let mut q1 = client(&s1);
        let mut q2 = client(&s2);
        q1.send(b"SUB jobs w 5\r\n");
        q2.send(b"SUB jobs w 6\r\n");
        q2.send(b"SUB fence 7\r\n");
        await_interest(&mut pub1, &mut q2, "q2");
        for i in 0..10 {
            pub1.send(format!("PUB jobs 1\r\n{i}\r\n").as_bytes());
        }
        // Then a plain message on the same path: a job sent to s2 would
        // arrive before it.
        pub1.send(b"PUB fence 0\r\n\r\n");
        pub1.ping_pong();
        let got = read_msgs(&mut q1, 10);
        assert_eq!(got[9], "MSG jobs 5 1\r\n9\r\n", "{what}");
        assert_eq!(read_msgs(&mut q2, 1)[0], "MSG fence 7 0\r\n\r\n", "{what}");

        // The group's only member is on the other spoke: the hub hands it
        // every message, each once.
        q1.send(b"UNSUB 5\r\n");
        q1.ping_pong();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Until s1 has heard that its own member left.
            pub1.send(b"PUB jobs 1\r\nx\r\nPUB fence 0\r\n\r\n");
            frames_until_pong(&mut pub1);
            let got = read_msgs(&mut q2, 1);
            if got[0].starts_with("MSG jobs 6") {
                read_msgs(&mut q2, 1);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the job never reached s2's member"
            );
        }
        for i in 0..20 {
            pub1.send(format!("PUB jobs 2\r\n{i:02}\r\n").as_bytes());
        }
        pub1.send(b"PUB fence 0\r\n\r\n");
        frames_until_pong(&mut pub1);
        let got = read_msgs(&mut q2, 21);
        for (i, m) in got[..20].iter().enumerate() {
            assert_eq!(*m, format!("MSG jobs 6 2\r\n{i:02}\r\n"), "{what}");
        }
        assert_eq!(got[20], "MSG fence 7 0\r\n\r\n", "{what}");
    }
}

/// Two servers that are each other's hub and spoke close a loop: the
/// loop-detection subject of one comes back to it, it says so in
/// nats-server's words and the link is cut.
#[test]
fn a_leaf_loop_is_detected() {
    for (a_kind, b_kind) in PAIRS {
        let what = format!("{a_kind:?} and {b_kind:?}");
        let a_port = free_port();
        let b_port = free_port();
        let a = with_conf(
            a_kind,
            &format!(
                "leafnodes {{\n  port: {a_port}\n  reconnect: \"100ms\"\n  remotes: [ {{ {} }} ]\n}}\n",
                url(b_port)
            ),
            &[],
        );
        let b = with_conf(
            b_kind,
            &format!(
                "leafnodes {{\n  port: {b_port}\n  reconnect: \"100ms\"\n  remotes: [ {{ {} }} ]\n}}\n",
                url(a_port)
            ),
            &[],
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let seen = |p: &ServerProc| {
            p.log()
                .iter()
                .any(|l| l.contains("Loop detected for leafnode account=\"$G\""))
        };
        while !(seen(&a) || seen(&b)) {
            assert!(Instant::now() < deadline, "{what}: no loop detected");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The keys of a JSON object, in order.
fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// `/leafz` and the leaf fields of `/varz`, on either side of a link,
/// equal to nats-server's (ids, ports, times and rtt aside).
#[test]
fn leafz_and_varz_as_nats_server() {
    use crate::monitor::{get, http_port};
    let mut hubs = Vec::new();
    let mut spokes = Vec::new();
    for (hk, kind) in [(Kind::Nats, Kind::Nats), (Kind::Shoal, Kind::Shoal)] {
        let h = with_conf(
            hk,
            "leafnodes {\n  port: -1\n  authorization { user: l, password: p }\n}\n",
            &["-m", "-1"],
        );
        let port = leaf_port(&h);
        let s = with_conf(
            kind,
            &format!(
                "leafnodes {{\n  remotes: [ {{ url: \"nats-leaf://l:p@127.0.0.1:{port}\" }} ]\n}}\n"
            ),
            &["-m", "-1"],
        );
        let mut sub = client(&s);
        sub.send(b"SUB foo 1\r\nSUB bar q 2\r\n");
        let mut on_hub = client(&h);
        await_interest(&mut on_hub, &mut sub, "mon");
        on_hub.send(b"PUB foo 2\r\nhi\r\n");
        on_hub.ping_pong();
        read_msgs(&mut sub, 1);
        let hub_page = get(http_port(&h), "/leafz?subs=1").json();
        let spoke_page = get(http_port(&s), "/leafz").json();
        let hub_varz = get(http_port(&h), "/varz").json();
        let spoke_varz = get(http_port(&s), "/varz").json();
        hubs.push((hub_page, hub_varz));
        spokes.push((spoke_page, spoke_varz));
    }
    let norm_leaf = |l: &serde_json::Value, hub: bool| {
        let mut subs: Vec<String> = l["subscriptions_list"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .filter(|x| !x.starts_with("$LDS.") && !x.starts_with("$SYS."))
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        subs.sort();
        (
            keys(l),
            l["is_spoke"].clone(),
            l["account"].clone(),
            l["ip"].clone(),
            subs,
            if hub {
                l["in_msgs"].clone()
            } else {
                l["out_msgs"].clone()
            },
        )
    };
    let (n_hub, s_hub) = (&hubs[0], &hubs[1]);
    assert_eq!(keys(&n_hub.0), keys(&s_hub.0));
    assert_eq!(n_hub.0["leafnodes"], 1);
    assert_eq!(s_hub.0["leafnodes"], 1);
    // The leaf's counts differ by the $SYS imports nats-server's spoke
    // sends; the rest is the same.
    assert_eq!(
        norm_leaf(&n_hub.0["leafs"][0], true),
        norm_leaf(&s_hub.0["leafs"][0], true)
    );
    let mut nv = n_hub.1["leaf"].clone();
    let mut sv = s_hub.1["leaf"].clone();
    nv["port"] = 0.into();
    sv["port"] = 0.into();
    assert_eq!(nv, sv);
    assert_eq!(n_hub.1["leafnodes"], s_hub.1["leafnodes"]);

    let (n_sp, s_sp) = (&spokes[0], &spokes[1]);
    assert_eq!(n_sp.0["leafnodes"], 1);
    assert_eq!(s_sp.0["leafnodes"], 1);
    let nl = &n_sp.0["leafs"][0];
    let sl = &s_sp.0["leafs"][0];
    assert_eq!(keys(nl), keys(sl), "{nl} {sl}");
    assert_eq!(
        (&nl["is_spoke"], &nl["account"]),
        (&sl["is_spoke"], &sl["account"])
    );
    let strip = |v: &serde_json::Value| {
        let mut v = v["leaf"].clone();
        for r in v["remotes"].as_array_mut().into_iter().flatten() {
            r["urls"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(strip(&n_sp.1), strip(&s_sp.1));
}

/// A remote's `deny_exports` keeps those subjects from the hub, its
/// `deny_imports` keeps the hub's from this side; the rest flows.
#[test]
fn deny_imports_and_exports_hold_on_the_link() {
    for (hk, kind) in PAIRS {
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let h = hub(hk, -1, "");
        let s = spoke(
            kind,
            &format!(
                "{}, deny_exports: [\"secret.>\"], deny_imports: \"private.*\"",
                url(leaf_port(&h))
            ),
            "",
        );
        let mut on_hub = client(&h);
        on_hub.send(b"SUB secret.x 1\r\nSUB open.x 2\r\nSUB *.y 3\r\n");
        let mut on_spoke = client(&s);
        await_interest(&mut on_spoke, &mut on_hub, "deny1");
        // A denied message is dropped, whichever subscription wanted it;
        // the one published after it arrives (same path, same order).
        on_spoke.send(b"PUB secret.x 1\r\na\r\nPUB secret.y 1\r\nb\r\nPUB open.x 1\r\nc\r\n");
        on_spoke.ping_pong();
        assert_eq!(
            read_msgs(&mut on_hub, 1)[0],
            "MSG open.x 2 1\r\nc\r\n",
            "{what}"
        );

        on_spoke.send(b"SUB private.x 4\r\nSUB public.x 5\r\nSUB *.z 6\r\n");
        await_interest(&mut on_hub, &mut on_spoke, "deny2");
        on_hub.send(b"PUB private.x 1\r\nd\r\nPUB private.z 1\r\ne\r\nPUB public.x 1\r\nf\r\n");
        on_hub.ping_pong();
        assert_eq!(
            read_msgs(&mut on_spoke, 1)[0],
            "MSG public.x 5 1\r\nf\r\n",
            "{what}"
        );
    }
}

/// Leaf connections over TLS: the hub's INFO in clear says
/// `tls_required`, the spoke starts TLS (verifying the hub against its
/// `ca_file`), then everything rides inside; `tls://` URLs too, and a
/// spoke that does not trust the hub never links.
#[test]
fn leaf_connections_speak_tls() {
    use crate::tls::{s, Ca};
    let ca = Ca::new("leafs");
    let other = Ca::new("strangers");
    for (hk, kind) in PAIRS {
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let srv = ca.server();
        let h = hub_with(
            hk,
            &format!(
                "tls {{ cert_file: \"{}\", key_file: \"{}\" }}",
                s(&srv.cert),
                s(&srv.key)
            ),
            "",
        );
        let port = leaf_port(&h);
        for scheme in ["nats-leaf", "tls"] {
            let s1 = spoke(
                kind,
                &format!(
                    "url: \"{scheme}://127.0.0.1:{port}\", tls {{ ca_file: \"{}\" }}",
                    s(&ca.pem)
                ),
                "",
            );
            let mut on_spoke = client(&s1);
            on_spoke.send(b"SUB t.> 1\r\n");
            let mut on_hub = client(&h);
            await_interest(&mut on_hub, &mut on_spoke, "tls");
            let big = vec![b'z'; 200_000];
            let mut frame = format!("PUB t.big {}\r\n", big.len()).into_bytes();
            frame.extend_from_slice(&big);
            frame.extend_from_slice(b"\r\n");
            on_hub.send(&frame);
            on_hub.ping_pong();
            let got = read_msgs(&mut on_spoke, 1);
            assert_eq!(
                got[0].len(),
                "MSG t.big 1 200000\r\n\r\n".len() + big.len(),
                "{what}"
            );
            let mut on_hub2 = client(&h);
            on_hub2.send(b"SUB up 2\r\n");
            await_interest(&mut on_spoke, &mut on_hub2, "tlsup");
        }
        // A spoke that trusts another CA: the handshake fails, no link.
        let _stranger = spoke(
            kind,
            &format!(
                "url: \"nats-leaf://127.0.0.1:{port}\", tls {{ ca_file: \"{}\" }}",
                s(&other.pem)
            ),
            "",
        );
        assert!(
            h.wait_for_log("handshake error", Duration::from_secs(5)),
            "{what}: the hub saw no failed handshake"
        );
    }
}

/// A remote with a user seed (`nkey`) signs the hub's nonce; the hub
/// checks it against its nkey users and binds the user's account.
#[test]
fn a_remote_logs_in_with_an_nkey() {
    let user = nkeys::KeyPair::new_user();
    let client_user = "{ user: c, password: c }";
    let conf = format!(
        "accounts {{\n  A: {{ users: [ {{ nkey: {} }}, {client_user} ] }}\n}}\n",
        user.public_key()
    );
    for (hk, kind) in PAIRS {
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let h = hub(hk, -1, &conf);
        let s = spoke(
            kind,
            &format!("{}, nkey: \"{}\"", url(leaf_port(&h)), user.seed().unwrap()),
            "",
        );
        let mut on_spoke = client(&s);
        on_spoke.send(b"SUB n.> 1\r\n");
        let mut on_hub = login(&h, "c", "c");
        await_interest(&mut on_hub, &mut on_spoke, "nkey");
        on_hub.send(b"PUB n.1 1\r\nk\r\n");
        on_hub.ping_pong();
        assert_eq!(
            read_msgs(&mut on_spoke, 1)[0],
            "MSG n.1 1 1\r\nk\r\n",
            "{what}"
        );
    }
}

/// A remote's URLs are tried in turn: with the first one dead, the spoke
/// links through the next.
#[test]
fn the_next_url_is_tried_when_one_is_down() {
    for (hk, kind) in PAIRS {
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let h = hub(hk, -1, "");
        let dead = free_port();
        let s = spoke(
            kind,
            &format!(
                "urls: [\"nats-leaf://127.0.0.1:{dead}\", \"nats-leaf://127.0.0.1:{}\"]",
                leaf_port(&h)
            ),
            "",
        );
        let mut on_spoke = client(&s);
        on_spoke.send(b"SUB next 1\r\n");
        let mut on_hub = client(&h);
        await_interest(&mut on_hub, &mut on_spoke, "next");
        on_hub.send(b"PUB next 1\r\nn\r\n");
        on_hub.ping_pong();
        assert_eq!(
            read_msgs(&mut on_spoke, 1)[0],
            "MSG next 1 1\r\nn\r\n",
            "{what}"
        );
    }
}

/// The hub's leaf `users` bind each spoke to its user's account: the
/// spoke's traffic is that account's on the hub, and no other's.
#[test]
fn hub_leaf_users_bind_their_accounts() {
    let accounts = "accounts {\n  A: { users: [ { user: a, password: a } ] }\n  B: { users: [ { user: b, password: b } ] }\n}\n";
    for (hk, kind) in PAIRS {
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let h = hub_with(
            hk,
            "authorization { users: [ { user: la, password: pa, account: A }, { user: lb, password: pb, account: B } ] }",
            accounts,
        );
        let port = leaf_port(&h);
        let s = spoke(
            kind,
            &format!("url: \"nats-leaf://la:pa@127.0.0.1:{port}\""),
            "",
        );
        let mut in_a = login(&h, "a", "a");
        let mut in_b = login(&h, "b", "b");
        in_a.send(b"SUB up 1\r\n");
        in_b.send(b"SUB up 2\r\n");
        let mut on_spoke = client(&s);
        await_interest(&mut on_spoke, &mut in_a, "users");
        on_spoke.send(b"PUB up 1\r\nu\r\n");
        on_spoke.ping_pong();
        assert_eq!(read_msgs(&mut in_a, 1)[0], "MSG up 1 1\r\nu\r\n", "{what}");
        // B heard nothing: a message of A published after it reaches A
        // only, and B's PONG comes with nothing before it.
        in_a.ping_pong();
        assert!(frames_until_pong(&mut in_b).is_empty(), "{what}");
    }
}

/// S2 compression as nats-server negotiates it on leaf connections (both
/// sides `s2_auto` by default; `off`; a hub's `s2_best` with a spoke that
/// accepts): an incompressible 1 MiB message crosses both ways, and
/// `/leafz` on each side names the mode in use, as nats-server's does.
#[test]
fn leaf_compression_as_nats_server_negotiates_it() {
    use crate::monitor::{get, http_port};
    let cases = [
        ("", "", "s2_uncompressed", "s2_uncompressed"),
        ("compression: off", "", "off", "off"),
        (
            "compression: s2_best",
            "compression: accept",
            "s2_best",
            "s2_best",
        ),
    ];
    // Bytes S2 cannot shrink.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let big: Vec<u8> = (0..1024 * 1024 - 100)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect();
    for (hk, kind) in PAIRS {
        for (hub_mode, spoke_mode, hub_shows, spoke_shows) in cases {
            let what = format!("{hk:?} hub {hub_mode:?}, {kind:?} spoke {spoke_mode:?}");
            let h = with_conf(
                hk,
                &format!("leafnodes {{\n  port: -1\n  {hub_mode}\n}}\n"),
                &["-m", "-1"],
            );
            let s = with_conf(
                kind,
                &format!(
                    "leafnodes {{\n  remotes: [ {{ {}, {spoke_mode} }} ]\n}}\n",
                    url(leaf_port(&h))
                ),
                &["-m", "-1"],
            );
            let mut on_spoke = client(&s);
            on_spoke.send(b"SUB c.> 1\r\n");
            let mut on_hub = client(&h);
            on_hub.send(b"SUB d.> 2\r\n");
            await_interest(&mut on_hub, &mut on_spoke, "comp1");
            await_interest(&mut on_spoke, &mut on_hub, "comp2");
            let cross = |from: &mut Raw, to: &mut Raw, subject: &str, sid: u32| {
                let mut frame = format!("PUB {subject} {}\r\n", big.len()).into_bytes();
                frame.extend_from_slice(&big);
                frame.extend_from_slice(format!("\r\nPUB {subject}.after 1\r\nz\r\n").as_bytes());
                from.send(&frame);
                from.ping_pong();
                let got = read_msgs(to, 2);
                let head = format!("MSG {subject} {sid} {}\r\n", big.len());
                assert!(
                    got[0].starts_with(&head),
                    "{what}: {:?}",
                    &got[0][..60.min(got[0].len())]
                );
                assert_eq!(got[0].len(), head.len() + big.len() + 2, "{what}");
                assert_eq!(
                    &got[0].as_bytes()[head.len()..head.len() + big.len()],
                    &big[..],
                    "{what}"
                );
                assert!(
                    got[1].starts_with(&format!("MSG {subject}.after ")),
                    "{what}"
                );
            };
            cross(&mut on_hub, &mut on_spoke, "c.big", 1);
            cross(&mut on_spoke, &mut on_hub, "d.big", 2);
            let hz = get(http_port(&h), "/leafz").json();
            let sz = get(http_port(&s), "/leafz").json();
            // `s2_auto` picks its level by the RTT at the handshake: on a
            // loaded machine a loopback RTT can pass 10 ms (`s2_fast`).
            let shows = |page: &serde_json::Value, want: &str| {
                let got = page["leafs"][0]["compression"].as_str().unwrap_or("");
                if want == "s2_uncompressed" {
                    got.starts_with("s2_")
                } else {
                    got == want
                }
            };
            assert!(shows(&hz, hub_shows), "{what}: hub {hz}");
            assert!(shows(&sz, spoke_shows), "{what}: spoke {sz}");
        }
    }
}

/// A spoke that stops reading is a slow consumer like any other: the hub
/// cuts its link at `max_pending`, and the hub's own subscriber of the
/// same subject gets every message meanwhile (the publisher never waits
/// on the stalled link).
#[test]
fn a_stalled_spoke_is_cut_off_and_holds_nobody_back() {
    use std::io::{BufRead, BufReader, Write};
    for hk in [Kind::Shoal, Kind::Nats] {
        let what = format!("{hk:?} hub");
        let h = hub_with(hk, "", "max_pending: 1048576\n");
        // A spoke by hand: it logs in, asks for `flood`, then never reads.
        let mut fake = std::net::TcpStream::connect(("127.0.0.1", leaf_port(&h))).unwrap();
        fake.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = BufReader::new(fake.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.starts_with("INFO "), "{what}: {line}");
        fake.write_all(b"CONNECT {\"version\":\"2.15.1\",\"server_id\":\"NFAKESPOKE\",\"name\":\"fake\",\"headers\":true,\"compress_mode\":\"off\",\"protocol\":1}\r\nLS+ flood\r\nPING\r\n").unwrap();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line.starts_with("PONG") {
                break;
            }
            if line.starts_with("PING") {
                fake.write_all(b"PONG\r\n").unwrap();
            }
        }
        let mut sub = client(&h);
        sub.send(b"SUB flood 1\r\n");
        sub.ping_pong();
        let mut publ = client(&h);
        let payload = vec![b'p'; 1024];
        // Batches the reading subscriber keeps up with (each under its
        // own max_pending); the stalled link's backlog only grows.
        let (batches, per) = (40, 500);
        let mut frame = Vec::new();
        for _ in 0..per {
            frame.extend_from_slice(b"PUB flood 1024\r\n");
            frame.extend_from_slice(&payload);
            frame.extend_from_slice(b"\r\n");
        }
        for _ in 0..batches {
            publ.send(&frame);
            // The PONG proves the batch was taken (nats-server may PING).
            assert!(frames_until_pong(&mut publ).is_empty(), "{what}");
            let got = read_msgs(&mut sub, per);
            assert_eq!(got.len(), per, "{what}");
        }
        assert!(
            h.wait_for_log("Slow Consumer Detected", Duration::from_secs(10)),
            "{what}: the stalled spoke was not cut"
        );
        drop(r);
        drop(fake);
    }
}

/// A remote that says `hub: true` takes the hub's role: the server it
/// dials becomes the spoke of the link, so two such servers on one server
/// are two hubs of a spoke, and never hear each other's interest (as two
/// spokes' links on a hub would). Without it they do: the control.
#[test]
fn a_remote_that_says_hub_takes_the_hubs_role() {
    for (kb, ka) in PAIRS {
        for hub_role in [true, false] {
            let what = format!("{kb:?} dialled by {ka:?}s, hub: {hub_role}");
            let b = hub(kb, -1, "");
            let remote = format!("{}, hub: {hub_role}", url(leaf_port(&b)));
            let a1 = spoke(ka, &remote, "");
            let a2 = spoke(ka, &remote, "");
            let (mut c1, mut c2, mut cb) = (client(&a1), client(&a2), client(&b));
            // The second server's interest has reached the one they dial.
            c2.send(b"SUB x 1\r\nSUB a2.sync 2\r\n");
            await_interest(&mut cb, &mut c2, "a2");
            // Whatever that server would tell the first of it, it has:
            // the first hears of what came after.
            cb.send(b"SUB b.sync 3\r\n");
            await_interest(&mut c1, &mut cb, "b1");
            c1.send(b"PUB x 1\r\nx\r\nPUB b.sync 0\r\n\r\n");
            c1.ping_pong();
            // The middle server has passed on the first's `x` (if it sent
            // one) before it saw `b.sync`, and before it sends `a2.sync`.
            assert_eq!(read_msgs(&mut cb, 1)[0], "MSG b.sync 3 0\r\n\r\n", "{what}");
            cb.send(b"PUB a2.sync 0\r\n\r\n");
            cb.ping_pong();
            let mut got = Vec::new();
            loop {
                let m = read_msgs(&mut c2, 1).remove(0);
                if m.starts_with("MSG a2.sync") {
                    break;
                }
                got.push(m);
            }
            let want: Vec<String> = if hub_role {
                Vec::new()
            } else {
                vec!["MSG x 1 1\r\nx\r\n".to_string()]
            };
            assert_eq!(got, want, "{what}");
        }
    }
}
