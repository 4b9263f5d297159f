//! The server's life with clients connected: lame duck mode (SIGUSR2: listeners
//! closed, INFO `ldm:true` to protocol-1 clients, the grace period, clients closed,
//! exit 0) and graceful shutdown (SIGTERM with clients connected: they see the
//! connection end, the process exits 0 promptly).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{shoal, temp_path, Raw};

#[test]
fn lame_duck_informs_then_closes_clients_and_exits() {
    let conf = temp_path("conf");
    std::fs::write(
        &conf,
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n",
    )
    .unwrap();
    let mut s = shoal(&["--cores", "2", "-c", conf.to_str().unwrap()]);
    let (mut modern, _) = Raw::connect(s.port);
    modern.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
    modern.expect(b"PONG\r\n");
    let _connect_info = modern.read_line();
    let (mut old, _) = Raw::connect(s.port);
    old.send(b"CONNECT {\"verbose\":false}\r\n");
    old.ping_pong();

    let t = Instant::now();
    s.signal(libc::SIGUSR2);
    let info = String::from_utf8(modern.read_line()).unwrap();
    assert!(
        info.starts_with("INFO {") && info.contains("\"ldm\":true"),
        "{info}"
    );
    // New connections are refused once the listeners are closed.
    let deadline = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(("127.0.0.1", s.port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting in lame duck mode"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Protocol-0 clients are not told, but both are closed after the grace period.
    assert!(old.read_available(Duration::from_millis(300)).is_empty());
    for c in [&mut modern, &mut old] {
        let rest = c.read_available(Duration::from_secs(5));
        assert!(rest.is_empty() || rest.starts_with(b"PING"), "{rest:?}");
    }
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "closed before the grace period"
    );
    let status = s
        .wait_exit(Duration::from_secs(10))
        .expect("exits after lame duck");
    assert_eq!(status.code(), Some(0));
    assert!(s
        .log()
        .iter()
        .any(|l| l.contains("Entering lame duck mode")));
}

#[test]
fn sigterm_with_clients_connected_exits_cleanly() {
    let mut s = shoal(&["--cores", "2"]);
    let mut clients: Vec<Raw> = (0..6)
        .map(|_| {
            let (mut c, _) = Raw::connect(s.port);
            c.send(b"CONNECT {\"verbose\":false}\r\nSUB x 1\r\n");
            c.ping_pong();
            c
        })
        .collect();
    let t = Instant::now();
    s.signal(libc::SIGTERM);
    let status = s.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    for c in &mut clients {
        let rest = c.read_available(Duration::from_secs(2));
        assert!(rest.is_empty() || rest.starts_with(b"PING"), "{rest:?}");
    }
    let log = s.log().join("\n");
    assert!(log.contains("Server Exiting.."), "{log}");
}
