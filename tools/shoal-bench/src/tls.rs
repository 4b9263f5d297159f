//! The client side of TLS for shoal-bench: a connection's byte stream is
//! either the socket or rustls over it. On when `SHOAL_BENCH_TLS_CA` names
//! the CA file the server's certificate chains to (perf/run's TLS mode makes
//! both servers use the same certificate); `SHOAL_BENCH_TLS_FIRST=1` does
//! the handshake before reading INFO (a server with `handshake_first`).
//! Handshakes: the `handshakes` scenario opens TLS connections in a loop and
//! reports how many a second the server completes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::{Args, Report};

/// A connection's bytes: clear, or through TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// WebSocket frames (`SHOAL_BENCH_WS=1`, see `ws.rs`).
    Ws(Box<crate::ws::WsStream>),
}

impl Stream {
    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock,
            Stream::Ws(w) => &w.sock,
        }
    }

    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.socket().set_read_timeout(d)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
            Stream::Ws(w) => w.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
            Stream::Ws(w) => w.write(buf),
        }
    }

    /// A TLS write is buffered in rustls until flushed: `write_all` then
    /// `flush` sends it, in records of up to 16 KiB.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(buf),
            Stream::Tls(t) => {
                t.write_all(buf)?;
                t.flush()
            }
            Stream::Ws(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
            Stream::Ws(w) => w.flush(),
        }
    }
}

/// The client configuration, when TLS is on.
pub fn config() -> Option<Arc<rustls::ClientConfig>> {
    static CFG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CFG.get_or_init(|| {
        let ca = std::env::var("SHOAL_BENCH_TLS_CA").ok()?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&ca).expect("SHOAL_BENCH_TLS_CA is a PEM file") {
            roots
                .add(c.expect("a certificate"))
                .expect("a CA certificate");
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut cfg = cfg;
        // SHOAL_BENCH_TLS_RESUME=0: every handshake a full one (as nats.go
        // and nats.py clients do them); else resumed from the server's
        // tickets when it sends them (rustls's default, async-nats's).
        if std::env::var("SHOAL_BENCH_TLS_RESUME").is_ok_and(|v| v == "0") {
            cfg.resumption = rustls::client::Resumption::disabled();
        }
        Some(Arc::new(cfg))
    })
    .clone()
}

/// TLS before INFO (`SHOAL_BENCH_TLS_FIRST=1`).
pub fn first() -> bool {
    std::env::var("SHOAL_BENCH_TLS_FIRST").is_ok_and(|v| v == "1")
}

/// Wraps a socket in TLS (the handshake completes on first use).
pub fn wrap(s: TcpStream, cfg: Arc<rustls::ClientConfig>) -> Stream {
    let name = ServerName::try_from("localhost").expect("a name");
    let conn = rustls::ClientConnection::new(cfg, name).expect("a TLS client");
    Stream::Tls(Box::new(rustls::StreamOwned::new(conn, s)))
}

/// handshakes: `--threads` threads connect, do the TLS handshake, send
/// `CONNECT {}` + PING, read the PONG and close, for `--duration` seconds.
pub fn run(a: &Args, r: &mut Report) {
    let cfg = config().expect("the handshakes scenario needs SHOAL_BENCH_TLS_CA");
    let until = Instant::now() + a.duration.unwrap_or(Duration::from_secs(10));
    let t0 = Instant::now();
    let threads: Vec<_> = (0..a.threads)
        .map(|_| {
            let (url, cfg) = (a.url.clone(), cfg.clone());
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < until {
                    match one(&url, &cfg) {
                        Ok(()) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for t in threads {
        let (o, f) = t.join().expect("a handshake thread");
        ok += o;
        failed += f;
    }
    let secs = t0.elapsed().as_secs_f64();
    r.num("handshakes", ok as f64);
    r.num("failures", failed as f64);
    r.num("handshakes_per_s", (ok as f64 / secs).round());
}

fn one(url: &str, cfg: &Arc<rustls::ClientConfig>) -> io::Result<()> {
    let s = crate::conn::dial(url, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut s = if first() {
        wrap(s, cfg.clone())
    } else {
        let mut plain = Stream::Plain(s);
        crate::conn::read_line(&mut plain)?;
        let Stream::Plain(s) = plain else {
            unreachable!()
        };
        wrap(s, cfg.clone())
    };
    if first() {
        crate::conn::read_line(&mut s)?;
    }
    s.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while memchr::memmem::find(&buf, b"PONG\r\n").is_none() {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}
