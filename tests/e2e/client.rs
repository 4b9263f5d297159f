//! A stock NATS client library (async-nats) against Shoal, unchanged: pub/sub,
//! wildcards, queue groups, request/reply through inbox subjects, headers and the
//! no-responders error, on a multi-core server so clients land on several cores.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use futures::{FutureExt, StreamExt};

use crate::util::{shoal, temp_path};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(port: u16) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(format!("127.0.0.1:{port}"))
        .await
        .expect("async-nats connects to shoal")
}

/// The payload of the probes [`wait_for_interest`] publishes on `fence`.
const PROBE: &str = "probe";

/// async-nats has no PING/PONG round trip (its `flush` only writes out), the fence
/// that proves a subscription is visible on every core. Instead `p` publishes
/// probes on `fence` until one has reached each of `last`, the subscription each
/// connection made last (a connection's subscriptions reach the other cores in
/// the order it made them). A polling loop with a deadline, not a quiet window.
async fn wait_for_interest(p: &async_nats::Client, last: &mut [&mut async_nats::Subscriber]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = vec![false; last.len()];
    while seen.contains(&false) {
        assert!(
            Instant::now() < deadline,
            "subscriptions never visible to the publisher: {seen:?}"
        );
        p.publish("fence", PROBE.into()).await.unwrap();
        p.flush().await.unwrap();
        for (sub, seen) in last.iter_mut().zip(&mut seen) {
            if !*seen {
                *seen = tokio::time::timeout(Duration::from_millis(20), sub.next())
                    .await
                    .is_ok();
            }
        }
    }
}

/// The next message on `sub` that is not a late probe.
async fn next_after_probes(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("message in time")
            .expect("subscription open");
        if m.payload != PROBE.as_bytes() {
            return m;
        }
    }
}

#[test]
fn pub_sub_wildcards_and_queues() {
    let s = shoal(&["--cores", "2"]);
    rt().block_on(async {
        let a = connect(s.port).await;
        let b = connect(s.port).await;
        assert_eq!(a.server_info().version, "2.15.1");
        assert!(a.server_info().headers);
        let mut exact = a.subscribe("orders.eu").await.unwrap();
        let mut star = b.subscribe("orders.*").await.unwrap();
        let mut q1 = a
            .queue_subscribe("orders.eu", "workers".into())
            .await
            .unwrap();
        let mut q2 = b
            .queue_subscribe("orders.eu", "workers".into())
            .await
            .unwrap();
        // Each connection's last subscription: a's `fence`, b's `>`.
        let mut fence = a.subscribe("fence").await.unwrap();
        let mut full = b.subscribe(">").await.unwrap();
        a.flush().await.unwrap();
        b.flush().await.unwrap();

        let p = connect(s.port).await;
        wait_for_interest(&p, &mut [&mut fence, &mut full]).await;
        for i in 0..100 {
            p.publish("orders.eu", format!("{i}").into()).await.unwrap();
        }
        p.publish("fence", "end".into()).await.unwrap();
        p.flush().await.unwrap();
        for sub in [&mut exact, &mut star, &mut full] {
            for i in 0..100 {
                let m = next_after_probes(sub).await;
                assert_eq!(m.subject.as_str(), "orders.eu");
                assert_eq!(m.payload, format!("{i}").as_bytes(), "in order");
            }
        }
        // One publisher's messages reach a connection in order, and async-nats hands
        // a connection's messages to its subscriptions in order: once the fence has
        // reached a and b, every queue delivery before it is already buffered.
        for sub in [&mut fence, &mut full] {
            let m = next_after_probes(sub).await;
            assert_eq!((m.subject.as_str(), &m.payload[..]), ("fence", &b"end"[..]));
        }
        let mut queued = 0;
        for q in [&mut q1, &mut q2] {
            // (unconstrained: tokio's co-operative budget would make a ready
            // channel look empty)
            while let Some(m) = tokio::task::unconstrained(q.next()).now_or_never() {
                m.expect("subscription open");
                queued += 1;
            }
        }
        assert_eq!(queued, 100, "each message to exactly one queue member");
    });
}

#[test]
fn request_reply_headers_and_no_responders() {
    let s = shoal(&["--cores", "2"]);
    rt().block_on(async {
        let server = connect(s.port).await;
        let mut svc = server.subscribe("svc.echo").await.unwrap();
        server.flush().await.unwrap();
        let responder = server.clone();
        tokio::spawn(async move {
            while let Some(m) = svc.next().await {
                let mut h = HeaderMap::new();
                if let Some(id) = m.headers.as_ref().and_then(|h| h.get("X-Id")) {
                    h.insert("X-Reply-Id", id.as_str());
                }
                responder
                    .publish_with_headers(m.reply.unwrap(), h, m.payload)
                    .await
                    .unwrap();
            }
        });

        let client = connect(s.port).await;
        // No PING/PONG fence in async-nats (see `wait_for_interest`): probe until
        // the service's subscription is visible from the client's core (a polling
        // loop with a deadline).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let probe = async_nats::Request::new()
                .payload(PROBE.into())
                .timeout(Some(Duration::from_millis(500)));
            match client.send_request("svc.echo", probe).await {
                Ok(r) => {
                    assert_eq!(r.payload, PROBE.as_bytes());
                    break;
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "service never reachable: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        for i in 0..50 {
            let mut h = HeaderMap::new();
            h.insert("X-Id", format!("{i}").as_str());
            let r = client
                .request_with_headers("svc.echo", h, format!("ping {i}").into())
                .await
                .expect("reply");
            assert_eq!(r.payload, format!("ping {i}").as_bytes());
            let id = r
                .headers
                .as_ref()
                .and_then(|h| h.get("X-Reply-Id"))
                .unwrap();
            assert_eq!(id.as_str(), format!("{i}"));
        }
        let err = client
            .request("nobody.home", "x".into())
            .await
            .expect_err("no responders");
        assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    });
}

/// The async-nats repository's test harness (its `nats-server` helper crate)
/// starts every server as `nats-server --store_dir DIR -p -1 -l FILE -P FILE`,
/// finds the client address in the log file (`client connections on (\S+)`,
/// 0.0.0.0 read as localhost), and the real port in INFO. The same command line
/// must start Shoal, and async-nats must then work against it.
#[test]
fn async_nats_harness_command_line() {
    let store = temp_path("store");
    let log = temp_path("log");
    let pid = temp_path("pid");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_shoal"))
        .arg("--store_dir")
        .arg(&store)
        .args(["-p", "-1", "-l"])
        .arg(&log)
        .arg("-P")
        .arg(&pid)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start shoal");
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(at) = text.find("client connections on ") {
            let rest = &text[at + "client connections on ".len()..];
            let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            break addr.replace("0.0.0.0", "localhost");
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err);
            panic!("shoal exited ({status}) before listening: {err}{text}");
        }
        assert!(Instant::now() < deadline, "no listening line in {text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let pid_text = std::fs::read_to_string(&pid).expect("pid file");
    assert_eq!(pid_text.trim(), child.0.id().to_string());
    let mut info = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(std::net::TcpStream::connect(&addr).unwrap()),
        &mut info,
    )
    .unwrap();
    let info: serde_json::Value = serde_json::from_str(&info["INFO ".len()..]).unwrap();
    let port = info["port"].as_u64().expect("port in INFO");
    assert!(!store.exists(), "--store_dir is unused without JetStream");
    rt().block_on(async {
        let nc = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(format!("nats://localhost:{port}"))
            .await
            .expect("async-nats connects");
        let mut sub = nc.subscribe("harness").await.unwrap();
        nc.publish("harness", "hi".into()).await.unwrap();
        let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("message in time")
            .unwrap();
        assert_eq!(m.payload, "hi".as_bytes());
    });
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&pid);
}

/// A child process killed (and reaped) when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--cluster_name` and `--client_advertise` without a cluster: INFO names the
/// cluster and gives the advertised host and port (a bare host keeps the listen
/// port), as nats-server's INFO does for the same flags.
#[test]
fn cluster_name_and_client_advertise_shape_info_as_nats_server() {
    for adv in ["adv.example:5555", "adv.example"] {
        let args = ["--cluster_name", "c1", "--client_advertise", adv];
        let ours = crate::util::shoal(&args);
        let theirs = crate::util::nats_server(&args);
        let (_, a) = crate::util::Raw::connect(ours.port);
        let (_, b) = crate::util::Raw::connect(theirs.port);
        assert_eq!(a["cluster"], "c1");
        assert_eq!(a["host"], b["host"], "{adv}");
        assert_eq!(a["host"], "adv.example");
        let want_port = if adv.contains(':') {
            5555
        } else {
            u64::from(ours.port)
        };
        assert_eq!(a["port"], want_port, "{adv}");
        assert_eq!(b["cluster"], "c1");
        if adv.contains(':') {
            assert_eq!(a["port"], b["port"]);
        }
    }
}

/// A cluster node's route port, from its log.
fn route_port(p: &crate::util::ServerProc) -> u16 {
    crate::cluster::route_port(p)
}

#[test]
fn a_client_fails_over_to_another_node_it_learned_of() {
    // Two Shoal nodes; the client is given only the first and learns the
    // second from INFO's connect_urls, as every NATS client does.
    let a = crate::cluster::node(crate::cluster::Kind::Shoal, &[], &[]);
    let b = crate::cluster::node(crate::cluster::Kind::Shoal, &[route_port(&a)], &[]);
    // async-nats 0.38 keeps the INFO of its connect (it ignores async
    // INFO updates): connect once the first node's greeting names both.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, info) = crate::util::Raw::connect(a.port);
        if info["connect_urls"].as_array().map_or(0, Vec::len) >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{info}");
    }
    let mut a = Some(a);
    rt().block_on(async {
        let c = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect()
            .connect(format!("127.0.0.1:{}", a.as_ref().unwrap().port))
            .await
            .unwrap();
        // `retry_on_initial_connect`: the INFO comes with the connection.
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.server_info().connect_urls.len() < 2 {
            assert!(
                Instant::now() < deadline,
                "{:?}",
                c.server_info().connect_urls
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut sub = c.subscribe("failover").await.unwrap();
        c.flush().await.unwrap();
        drop(a.take()); // the first node is killed
        let p = connect(b.port).await;
        // Once the client is back (on b) and has resubscribed, b has the
        // interest: publish until a message arrives.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            p.publish("failover", "hi".into()).await.unwrap();
            p.flush().await.unwrap();
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await
            {
                assert_eq!(m.payload, "hi".as_bytes());
                break;
            }
            assert!(Instant::now() < deadline, "no message after failover");
        }
        assert_eq!(
            c.server_info().port,
            b.port,
            "reconnected to the other node"
        );
    });
}
