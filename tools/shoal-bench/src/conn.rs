//! A blocking raw-protocol connection: connect, CONNECT, SUB, batched writes and a
//! PING/PONG round trip. Deliberately minimal so the client never costs more than
//! the server it measures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::tls::Stream;

pub struct Conn {
    pub stream: Stream,
}

/// Reads one line (INFO) a byte at a time, so nothing after it is taken.
pub fn read_line(s: &mut Stream) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::with_capacity(512);
    let mut b = [0u8; 1];
    while line.last() != Some(&b'\n') {
        s.read_exact(&mut b)?;
        line.push(b[0]);
    }
    Ok(line)
}

impl Conn {
    /// Connects (over TLS when `SHOAL_BENCH_TLS_CA` is set, see `tls.rs`),
    /// reads INFO and sends CONNECT.
    pub fn connect(url: &str) -> std::io::Result<Conn> {
        let sock = TcpStream::connect(url)?;
        sock.set_nodelay(true)?;
        let s = match crate::tls::config() {
            _ if crate::ws::on() => Stream::Ws(Box::new(crate::ws::WsStream::upgrade(sock)?)),
            Some(cfg) if crate::tls::first() => crate::tls::wrap(sock, cfg),
            _ => Stream::Plain(sock),
        };
        let mut s = s;
        read_line(&mut s)?;
        // INFO came in clear: now the upgrade.
        let mut s = match (s, crate::tls::config()) {
            (Stream::Plain(sock), Some(cfg)) if !crate::tls::first() => crate::tls::wrap(sock, cfg),
            (s, _) => s,
        };
        // SHOAL_BENCH_USER / SHOAL_BENCH_PASS: log in (the cost of
        // permission checks is measured with them, perf/auth-cost).
        let creds = match (
            std::env::var("SHOAL_BENCH_USER"),
            std::env::var("SHOAL_BENCH_PASS"),
        ) {
            (Ok(u), Ok(p)) => format!(",\"user\":{u:?},\"pass\":{p:?}"),
            _ => String::new(),
        };
        s.write_all(
            format!("CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true{creds}}}\r\n")
                .as_bytes(),
        )?;
        Ok(Conn { stream: s })
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends PING and waits for PONG (skipping server PINGs). Only for connections
    /// that receive no messages (publishers, or before messages flow).
    pub fn ping(&mut self) -> std::io::Result<()> {
        self.stream.write_all(b"PING\r\n")?;
        self.stream
            .set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
            if memchr::memmem::find(&buf, b"PONG\r\n").is_some() {
                return Ok(());
            }
            if buf.starts_with(b"-ERR") {
                return Err(std::io::Error::other(
                    String::from_utf8_lossy(&buf).to_string(),
                ));
            }
        }
    }

    /// Subscribes and confirms it with a round trip.
    pub fn subscribe(
        &mut self,
        subject: &str,
        queue: Option<&str>,
        sid: u32,
    ) -> std::io::Result<()> {
        let line = match queue {
            Some(q) => format!("SUB {subject} {q} {sid}\r\n"),
            None => format!("SUB {subject} {sid}\r\n"),
        };
        self.stream.write_all(line.as_bytes())?;
        self.ping()
    }
}

/// Waits until a publisher on `publish_url` reaches `sub` (a subscriber on
/// another node of a cluster): `sub` subscribes to `probe`, a publisher
/// publishes on it until one arrives, then `sub` unsubscribes. Interest
/// from one connection crosses a route in order, so `sub`'s earlier
/// subscriptions are in place too.
pub fn await_interest(sub: &mut Conn, publish_url: &str, probe: &str) -> std::io::Result<()> {
    const SID: u32 = 999_999;
    sub.send(format!("SUB {probe} {SID}\r\n").as_bytes())?;
    sub.ping()?;
    let mut p = Conn::connect(publish_url)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if std::time::Instant::now() >= deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        p.send(format!("PUB {probe} 0\r\n\r\n").as_bytes())?;
        p.ping()?;
        sub.stream
            .set_read_timeout(Some(Duration::from_millis(100)))?;
        match sub.stream.read(&mut chunk) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
        if memchr::memmem::find(&buf, b"MSG ").is_some() {
            break;
        }
    }
    sub.send(format!("UNSUB {SID}\r\n").as_bytes())?;
    // Probes still on their way are read and dropped up to this PONG.
    sub.ping()
}

/// Connects to `url` within `timeout` (the first address that answers), with
/// Nagle off. For scenarios that must never hang on a server that stops
/// accepting.
pub fn dial(url: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for addr in url.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{url} resolves to no address"),
        )
    }))
}

/// Closes `s` with a reset instead of a FIN: SO_LINGER on with a zero timeout,
/// then close, so the kernel sends RST and drops anything unsent.
pub fn reset(s: TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

/// Reads into `buf` until it contains `needle` or `deadline` passes. Returns
/// the bytes read so far either way; a timeout is `ErrorKind::TimedOut`, a close
/// before the needle is `UnexpectedEof`, and a `-ERR` line is `Other`.
pub fn read_until(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    needle: &[u8],
    deadline: std::time::Instant,
) -> std::io::Result<()> {
    use std::io::ErrorKind;
    let mut chunk = [0u8; 4096];
    loop {
        if memchr::memmem::find(buf, needle).is_some() {
            return Ok(());
        }
        if let Some(at) = memchr::memmem::find(buf, b"-ERR") {
            let end = memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |n| at + n);
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&buf[at..end])
                    .trim_end()
                    .to_string(),
            ));
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut chunk) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(ErrorKind::TimedOut.into())
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A small seeded generator (splitmix64): reproducible cut points and ids
/// without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (up to a negligible modulo bias).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// Seeded from the clock, the process and a per-process random key: for ids
    /// that must differ between runs.
    pub fn fresh() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        Rng(h.finish())
    }
}
