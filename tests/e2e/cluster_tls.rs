//! Routes over TLS, with Shoal and nats-server 2.15 on either side of the
//! route: the handshake comes first on both ends (no clear-text INFO), each
//! node presents its certificate and verifies its peer's (mutual TLS
//! whatever `verify` says), S2 compression rides inside TLS, and a peer
//! whose certificate the other side does not trust — or a peer that speaks
//! clear text to a TLS route port — never becomes a route. With
//! `verify_and_map` the certificate names the cluster user.
//!
//! Certificates are made per test (rcgen): one CA, node certificates for
//! 127.0.0.1 with both server and client usage, as route certificates need.

use std::time::Duration;

use rcgen::SanType;

use crate::cluster::{await_routes, big_and_ordered_cross, route_port, with_conf, Kind};
use crate::monitor::{get, http_port};
use crate::tls::{s, Ca, Pair};
use crate::util::ServerProc;

/// A cluster block on a random port with this node's TLS (`extra` lines
/// inside the `tls` block, `more` lines in the cluster block).
fn conf(me: &Pair, ca: &Ca, seed: Option<u16>, extra: &str, more: &str) -> String {
    let routes = seed.map_or(String::new(), |p| {
        format!("  routes: [\"nats://127.0.0.1:{p}\"]\n")
    });
    format!(
        "cluster {{\n  name: C1\n  listen: \"127.0.0.1:-1\"\n{routes}{more}\n  tls {{\n    cert_file: \"{}\"\n    key_file: \"{}\"\n    ca_file: \"{}\"\n    {extra}\n  }}\n}}\n",
        s(&me.cert),
        s(&me.key),
        s(&ca.pem)
    )
}

/// `s2_auto` that settles on uncompressed S2 blocks on loopback.
const AUTO_UNCOMPRESSED: &str = "{ mode: s2_auto, rtt_thresholds: [\"100ms\"] }";

fn start(kind: Kind, conf: &str) -> ServerProc {
    with_conf(kind, conf, &["-m", "-1"])
}

#[test]
fn routes_speak_tls_with_every_peer() {
    let ca = Ca::new("routes");
    let cases = [
        (Kind::Shoal, Kind::Shoal, "off"),
        (Kind::Shoal, Kind::Shoal, "s2_fast"),
        (Kind::Shoal, Kind::Nats, "off"),
        (Kind::Nats, Kind::Shoal, "off"),
        (Kind::Nats, Kind::Shoal, "s2_fast"),
        (Kind::Shoal, Kind::Nats, "s2_best"),
        // Uncompressed S2 blocks (what `s2_auto` picks on loopback): more
        // than a TLS session takes in one pass (a writer that stopped
        // there left 1 MiB stuck).
        (Kind::Shoal, Kind::Shoal, AUTO_UNCOMPRESSED),
        (Kind::Nats, Kind::Shoal, AUTO_UNCOMPRESSED),
    ];
    for (k1, k2, mode) in cases {
        let what = format!("{k1:?} seed, {k2:?} dialling, {mode}");
        let comp = format!("  compression: {mode}");
        let seed = start(k1, &conf(&ca.node(), &ca, None, "", &comp));
        let other = start(
            k2,
            &conf(&ca.node(), &ca, Some(route_port(&seed)), "", &comp),
        );
        // A pool of 3 and the system account's route, all over TLS.
        for node in [&seed, &other] {
            await_routes(node, 4);
        }
        big_and_ordered_cross(&seed, &other, 500, &what);
        for (node, kind) in [(&seed, k1), (&other, k2)] {
            if kind != Kind::Shoal {
                continue;
            }
            let routez = get(http_port(node), "/routez").json();
            assert_eq!(routez["num_routes"], 4, "{what}: {routez}");
            let shown = if mode == AUTO_UNCOMPRESSED {
                "s2_uncompressed"
            } else {
                mode
            };
            for r in routez["routes"].as_array().unwrap() {
                assert_eq!(r["compression"], shown, "{what}: {r}");
            }
            let varz = get(http_port(node), "/varz").json();
            assert_eq!(varz["cluster"]["tls_required"], true, "{what}");
            assert_eq!(varz["cluster"]["tls_verify"], true, "{what}");
            assert_eq!(varz["cluster"]["tls_timeout"], 2, "{what}");
        }
    }
}

#[test]
fn an_untrusted_or_clear_text_peer_never_becomes_a_route() {
    let ca = Ca::new("routes");
    let stranger = Ca::new("elsewhere");
    // A Shoal seed, dialled by a node whose certificate it does not trust,
    // then by a node with no TLS at all.
    let seed = start(Kind::Shoal, &conf(&ca.node(), &ca, None, "", ""));
    let port = route_port(&seed);
    let foreign = start(
        Kind::Nats,
        &conf(&stranger.node(), &stranger, Some(port), "", ""),
    );
    assert!(
        seed.wait_for_log("TLS route handshake error", Duration::from_secs(10)),
        "{:?}",
        seed.log()
    );
    drop(foreign);
    let plain = start(
        Kind::Nats,
        &format!(
            "cluster {{ name: C1, listen: \"127.0.0.1:-1\", routes: [\"nats://127.0.0.1:{port}\"] }}\n"
        ),
    );
    assert!(
        seed.wait_for_log(
            "TLS route handshake error: tls: first record does not look like a TLS handshake",
            Duration::from_secs(10)
        ),
        "{:?}",
        seed.log()
    );
    drop(plain);
    assert_eq!(get(http_port(&seed), "/routez").json()["num_routes"], 0);
    // A Shoal node dialling a nats-server seed that it does not trust.
    let nats_seed = start(Kind::Nats, &conf(&ca.node(), &ca, None, "", ""));
    let dialler = start(
        Kind::Shoal,
        &conf(
            &stranger.node(),
            &stranger,
            Some(route_port(&nats_seed)),
            "",
            "",
        ),
    );
    assert!(
        dialler.wait_for_log("TLS route handshake error", Duration::from_secs(10)),
        "{:?}",
        dialler.log()
    );
    assert_eq!(get(http_port(&dialler), "/routez").json()["num_routes"], 0);
}

#[test]
fn verify_and_map_lets_the_certificate_name_the_route_user() {
    let ca = Ca::new("routes");
    let named = || ca.node_with(vec![SanType::Rfc822Name("route@c1".try_into().unwrap())]);
    let auth = "  authorization { user: \"route@c1\", password: unused }";
    for (k1, k2) in [(Kind::Shoal, Kind::Nats), (Kind::Nats, Kind::Shoal)] {
        let what = format!("{k1:?} seed, {k2:?} dialling");
        let seed = start(k1, &conf(&named(), &ca, None, "verify_and_map: true", auth));
        let port = route_port(&seed);
        // Its certificate names the user: a route, no password needed.
        let good = start(k2, &conf(&named(), &ca, Some(port), "", ""));
        big_and_ordered_cross(&seed, &good, 500, &what);
        drop(good);
        // A trusted certificate that names nobody: refused.
        let nobody = start(k2, &conf(&ca.node(), &ca, Some(port), "", ""));
        let refused = if k1 == Kind::Shoal { &seed } else { &nobody };
        assert!(
            refused.wait_for_log("Authorization Violation", Duration::from_secs(10)),
            "{what}: {:?}",
            refused.log()
        );
        if k1 == Kind::Shoal {
            assert_eq!(get(http_port(&seed), "/routez").json()["num_routes"], 0);
        }
    }
}
