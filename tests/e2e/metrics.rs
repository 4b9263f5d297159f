//! `/metrics` and the monitor under hostile scrapers.
//!
//! The family names are checked against what prometheus-nats-exporter printed
//! for a real nats-server 2.15.1 (`fixtures/exporter-families.txt`, captured by
//! running the exporter's own collectors): dashboards and alert rules written
//! for the exporter must find every family, with the same type. The values are
//! checked against Shoal's own JSON pages, fetched in the same state.
//!
//! A stalled scraper (one that sends requests and never reads, one that sends
//! half a request head) must not delay anyone else's `/varz`.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::monitor::{get, http_port};
use crate::util::{shoal, Raw};

/// Families by name: (type, help, samples as (labels, value)).
type Families = BTreeMap<String, (String, String, Vec<(String, String)>)>;

/// Parses the text format, checking its layout as it goes: `# HELP` then
/// `# TYPE` then the samples of that family, families in name order.
fn parse(text: &str) -> Families {
    let mut fams = Families::new();
    let mut order = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let help = line
            .strip_prefix("# HELP ")
            .unwrap_or_else(|| panic!("not a HELP line: {line}"));
        let (name, help) = help.split_once(' ').expect("HELP name text");
        let ty = lines
            .next()
            .and_then(|l| l.strip_prefix(&format!("# TYPE {name} ")))
            .unwrap_or_else(|| panic!("no TYPE after HELP {name}"));
        let mut samples = Vec::new();
        while let Some(l) = lines.next_if(|l| !l.starts_with('#')) {
            let rest = l
                .strip_prefix(name)
                .unwrap_or_else(|| panic!("{l} outside {name}"));
            let (labels, value) = rest.rsplit_once(' ').expect("sample value");
            samples.push((labels.to_string(), value.to_string()));
        }
        assert!(!samples.is_empty(), "{name} has no samples");
        order.push(name.to_string());
        fams.insert(
            name.to_string(),
            (ty.to_string(), help.to_string(), samples),
        );
    }
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "families in name order");
    fams
}

/// The one sample of a family labelled only with `server_id`.
fn value(f: &Families, name: &str, sid: &str) -> String {
    let (_, _, samples) = f.get(name).unwrap_or_else(|| panic!("no family {name}"));
    let want = format!("{{server_id=\"{sid}\"}}");
    let s = samples
        .iter()
        .find(|(l, _)| *l == want)
        .unwrap_or_else(|| panic!("{name}: {samples:?}"));
    s.1.clone()
}

#[test]
fn metrics_carry_the_exporters_names_and_the_pages_values() {
    let server = shoal(&["-m", "-1", "--cores", "2"]);
    let port = http_port(&server);
    let (mut c, _) = Raw::connect(server.port);
    c.send(b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\n");
    c.expect(b"MSG foo 1 5\r\nhello\r\n");
    c.ping_pong();
    // The exporter polls these four pages; hit each once so that the request
    // counts it shows exist here too.
    let varz = get(port, "/varz").json();
    for page in ["/connz", "/subsz", "/routez"] {
        assert_eq!(get(port, page).status, 200);
    }
    let r = get(port, "/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let f = parse(&r.body);

    // Every family the exporter gives nats-server, with the same type, and no
    // gnatsd_ family the exporter would not derive from Shoal's own pages.
    let want: BTreeMap<&str, &str> = include_str!("fixtures/exporter-families.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_once(' ').expect("name type"))
        .collect();
    let got: BTreeMap<&str, &str> = f
        .iter()
        .filter(|(n, _)| n.starts_with("gnatsd_") && !n.starts_with("gnatsd_varz_shoal_"))
        .map(|(n, (t, _, _))| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(got, want);

    let sid = varz["server_id"].as_str().unwrap();
    let v = |name: &str| value(&f, name, sid);
    assert_eq!(v("gnatsd_varz_connections"), "1");
    assert_eq!(v("gnatsd_varz_in_msgs"), "1");
    assert_eq!(v("gnatsd_varz_out_msgs"), "1");
    assert_eq!(v("gnatsd_varz_subscriptions"), "1");
    assert_eq!(v("gnatsd_varz_max_payload"), "1.048576e+06");
    assert_eq!(v("gnatsd_varz_ping_interval"), "1.2e+11");
    assert_eq!(v("gnatsd_varz_http_req_stats_varz"), "1");
    assert_eq!(v("gnatsd_connz_num_connections"), "1");
    assert_eq!(v("gnatsd_connz_in_msgs"), "1");
    assert_eq!(v("gnatsd_connz_out_bytes"), "5");
    assert_eq!(v("gnatsd_connz_subscriptions"), "1");
    assert_eq!(v("gnatsd_subsz_num_subscriptions"), "1");
    assert_eq!(v("gnatsd_routez_num_routes"), "0");
    // A time: epoch milliseconds of /varz's `start`.
    let start: f64 = v("gnatsd_varz_start").parse().unwrap();
    let text = varz["start"].as_str().unwrap();
    let secs = start / 1000.0;
    assert!(secs > 1.7e9 && secs < 4e9, "{start} for {text}");
    // Strings become info gauges.
    let (ty, help, samples) = &f["gnatsd_varz_version"];
    assert_eq!((ty.as_str(), help.as_str()), ("gauge", "version"));
    assert_eq!(
        samples,
        &[(
            format!("{{server_id=\"{sid}\",value=\"2.15.1\"}}"),
            "1".to_string()
        )]
    );

    // Shoal's own: one sample per core, summing to the server's figures.
    for (name, total) in [
        ("shoal_core_connections", 1),
        ("shoal_core_in_msgs", 1),
        ("shoal_core_out_msgs", 1),
    ] {
        let (_, _, samples) = &f[name];
        assert_eq!(samples.len(), 2, "{name}: {samples:?}");
        for (i, (labels, _)) in samples.iter().enumerate() {
            assert_eq!(labels, &format!("{{core=\"{i}\",server_id=\"{sid}\"}}"));
        }
        let sum: u64 = samples.iter().map(|(_, v)| v.parse::<u64>().unwrap()).sum();
        assert_eq!(sum, total, "{name}");
    }
}

/// The server's side of `client`'s connection: bytes it has queued and the
/// client has not taken (the kernel's send queue on the server's socket).
fn server_send_queue(client: &TcpStream) -> u64 {
    let (here, there) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let hex = |a: std::net::SocketAddr| match a {
        std::net::SocketAddr::V4(v4) => {
            format!(
                "{:08X}:{:04X}",
                u32::from_ne_bytes(v4.ip().octets()),
                a.port()
            )
        }
        _ => unreachable!("loopback IPv4"),
    };
    let (l, r) = (hex(there), hex(here));
    table
        .lines()
        .find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() > 4 && f[1] == l && f[2] == r && f[3] == "01")
                .then(|| u64::from_str_radix(f[4].split_once(':').unwrap().0, 16).unwrap())
        })
        .unwrap_or(0)
}

#[test]
fn a_stalled_scraper_delays_no_one() {
    let server = shoal(&["-m", "-1"]);
    let port = http_port(&server);

    // A scraper that pipelines thousands of requests and reads nothing: the
    // server's writes to it stop once the socket buffers are full.
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = format!("GET /varz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let burst = req.repeat(10_000);
    stalled
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stalled.write_all(burst.as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server_send_queue(&stalled) == 0 {
        assert!(
            Instant::now() < deadline,
            "the server never filled its send queue"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // And one that sends half a request head and waits.
    let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
    half.write_all(b"GET /varz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();

    // Meanwhile a poller is answered, every time.
    let mut last = 0;
    for _ in 0..20 {
        let r = get(port, "/varz");
        assert_eq!(r.status, 200);
        let n = r.json()["http_req_stats"]["/varz"].as_u64().unwrap();
        assert!(n > last, "request counts grow: {n} after {last}");
        last = n;
    }
    // The stalled writes were still pending all along (a server serving one
    // client at a time would have been stuck in them, or cut the stalled
    // client off before answering the poller), and the half head is unanswered.
    assert!(
        server_send_queue(&stalled) > 0,
        "the stalled scraper was dropped"
    );
    half.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    match half.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the half request was answered: {other:?}"),
    }
}
