//! A stock NATS client library (async-nats) against Shoal, unchanged: pub/sub,
//! wildcards, queue groups, request/reply through inbox subjects, headers and the
//! no-responders error, on a multi-core server so clients land on several cores.

use std::time::Duration;

use async_nats::HeaderMap;
use futures::StreamExt;

use crate::util::shoal;

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
        let mut full = b.subscribe(">").await.unwrap();
        let mut q1 = a
            .queue_subscribe("orders.eu", "workers".into())
            .await
            .unwrap();
        let mut q2 = b
            .queue_subscribe("orders.eu", "workers".into())
            .await
            .unwrap();
        a.flush().await.unwrap();
        b.flush().await.unwrap();

        let p = connect(s.port).await;
        for i in 0..100 {
            p.publish("orders.eu", format!("{i}").into()).await.unwrap();
        }
        p.flush().await.unwrap();
        for sub in [&mut exact, &mut star, &mut full] {
            for i in 0..100 {
                let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
                    .await
                    .expect("message in time")
                    .unwrap();
                assert_eq!(m.subject.as_str(), "orders.eu");
                assert_eq!(m.payload, format!("{i}").as_bytes(), "in order");
            }
        }
        let mut queued = 0;
        for q in [&mut q1, &mut q2] {
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), q.next()).await
            {
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
