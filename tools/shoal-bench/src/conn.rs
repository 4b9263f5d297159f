//! A blocking raw-protocol connection: connect, CONNECT, SUB, batched writes and a
//! PING/PONG round trip. Deliberately minimal so the client never costs more than
//! the server it measures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Conn {
    pub stream: TcpStream,
}

impl Conn {
    pub fn connect(url: &str) -> std::io::Result<Conn> {
        let mut s = TcpStream::connect(url)?;
        s.set_nodelay(true)?;
        // INFO line.
        let mut line = Vec::with_capacity(512);
        let mut b = [0u8; 1];
        while line.last() != Some(&b'\n') {
            s.read_exact(&mut b)?;
            line.push(b[0]);
        }
        s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n")?;
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
