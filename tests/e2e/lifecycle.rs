//! The server's life with clients connected: lame duck mode (SIGUSR2: listeners
//! closed, INFO `ldm:true` to protocol-1 clients, the grace period, clients closed,
//! exit 0) and graceful shutdown (SIGTERM with clients connected: they see the
//! connection end, the process exits 0).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{escape, shoal, temp_path, Raw, ReadEnd};

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
    // Protocol-0 clients are not told: a PING fence on the old client finds
    // nothing before its PONG (or, if the grace period is already over, nothing
    // before the close) but the server's own keepalive PING.
    let _ = old.try_send(b"PING\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match old.read_frame(deadline) {
            Ok(frame) if frame == b"PONG\r\n" => break,
            Ok(frame) if frame == b"PING\r\n" => {}
            Ok(frame) => panic!("protocol-0 client told: {}", escape(&frame)),
            Err(ReadEnd::Eof | ReadEnd::Reset) => break,
            Err(ReadEnd::TimedOut) => panic!("no PONG and no close"),
        }
    }
    // Both are closed after the grace period (the deadline only stops a hang).
    for c in [&mut modern, &mut old] {
        let rest = c.read_until_closed(Duration::from_secs(20));
        assert!(
            rest.is_empty() || rest.starts_with(b"PING"),
            "{}",
            escape(&rest)
        );
    }
    // A lower bound on the configured grace period (1 s, measured from before the
    // signal): slowness can only make it longer.
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
    s.signal(libc::SIGTERM);
    // A deadline against a hang, not a speed check (speed belongs in perf/).
    let status = s.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
    for c in &mut clients {
        let rest = c.read_until_closed(Duration::from_secs(5));
        assert!(
            rest.is_empty() || rest.starts_with(b"PING"),
            "{}",
            escape(&rest)
        );
    }
    let log = s.log().join("\n");
    assert!(log.contains("Server Exiting.."), "{log}");
}

/// Binds `port` on 127.0.0.1 and listens, as nats.c's test suite binds a mock
/// server right after stopping the real one (`_startMockupServer`: SO_REUSEADDR,
/// no SO_REUSEPORT), or with no option at all.
fn bind_port(port: u16, reuse_addr: bool) -> std::io::Result<()> {
    // SAFETY: plain socket calls on a descriptor this function owns and closes;
    // `sa` is a fully initialised sockaddr_in.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let one: libc::c_int = 1;
        if reuse_addr {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = port.to_be();
        sa.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let rc = libc::bind(
            fd,
            &sa as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let res = if rc == 0 && libc::listen(fd, 16) == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        };
        libc::close(fd);
        res
    }
}

/// nats.c's `GetClientIP`, `NoPartialOnReconnect` and `RetryOnFailedConnect`
/// stop the server with SIGINT, wait for it to exit, and bind its port for a
/// mock server. With clients still connected the server closes them itself,
/// leaving its side of each in FIN_WAIT/TIME_WAIT after the exit: the port must
/// still be free for an SO_REUSEADDR bind (as after nats-server), and so it must
/// when the clients closed first (as in `GetClientIP`). (A bind with no option
/// at all can race the server's sockets' last ACK, with nats-server too.)
#[test]
fn a_stopped_server_frees_its_port() {
    for clients_close_first in [false, true] {
        let mut s = shoal(&["--cores", "2"]);
        let port = s.port;
        let mut clients: Vec<Raw> = (0..8)
            .map(|_| {
                let (mut c, _) = Raw::connect(port);
                c.send(b"CONNECT {\"verbose\":false}\r\nSUB x 1\r\n");
                c.ping_pong();
                c
            })
            .collect();
        if clients_close_first {
            for mut c in clients.drain(..) {
                c.shutdown_write();
                c.expect_closed();
            }
        }
        s.signal(libc::SIGINT);
        let status = s.wait_exit(Duration::from_secs(10)).expect("exits");
        assert_eq!(status.code(), Some(0));
        let bound = bind_port(port, true);
        assert!(
            bound.is_ok(),
            "port {port} still busy after exit (clients closed first: {clients_close_first}): {bound:?}"
        );
        drop(clients);
    }
}

/// A port is free for nobody else while a server listens on it: a second
/// Shoal (or nats-server) on the same port fails to start with nats-server's
/// fatal line, instead of sharing the port through SO_REUSEPORT and taking
/// half of the first server's new connections.
#[test]
fn a_second_server_on_a_busy_port_is_refused() {
    let first = shoal(&["--cores", "2"]);
    let port = first.port.to_string();
    for bin in [
        env!("CARGO_BIN_EXE_shoal"),
        crate::util::reference_bin().to_str().unwrap(),
    ] {
        let out = std::process::Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "[FTL] Error listening on port: 127.0.0.1:{port}, \"listen tcp 127.0.0.1:{port}: bind: address already in use\""
            )),
            "{bin}: {err}"
        );
    }
    let (mut c, _) = Raw::connect(first.port);
    c.send(b"CONNECT {\"verbose\":false}\r\n");
    c.ping_pong();
}

/// nats.py's test harness kills each server with SIGKILL and starts the next
/// one on the same client and monitoring ports at once. A killed Shoal's
/// listeners outlive its process by milliseconds (io_uring tears the dead
/// process's rings down afterwards): the next server must start anyway.
#[test]
fn a_server_starts_on_the_ports_of_one_just_killed() {
    let port = crate::util::free_port();
    let http = crate::util::free_port();
    let (port_s, http_s) = (port.to_string(), http.to_string());
    for round in 0..8 {
        let mut s = shoal(&["-p", &port_s, "-m", &http_s]);
        let (mut c, _) = Raw::connect(port);
        c.send(b"CONNECT {\"verbose\":false}\r\n");
        c.ping_pong();
        s.signal(libc::SIGKILL);
        assert!(
            s.wait_exit(Duration::from_secs(5)).is_some(),
            "round {round}"
        );
    }
}
