//! The client side of WebSocket for shoal-bench: with `SHOAL_BENCH_WS=1`
//! every connection upgrades (`GET /` with RFC 6455's headers) and its byte
//! stream is carried in binary frames. Each `write_all` is one frame,
//! masked as browsers and client libraries mask (`SHOAL_BENCH_WS_NO_MASK=1`
//! asks for nats-server's `Nats-No-Masking` instead); reads return the
//! frames' payload bytes, read straight into the caller's buffer, so the
//! client costs little more than over TCP.

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// Whether connections speak WebSocket.
pub fn on() -> bool {
    std::env::var("SHOAL_BENCH_WS").is_ok_and(|v| v == "1")
}

fn no_mask() -> bool {
    std::env::var("SHOAL_BENCH_WS_NO_MASK").is_ok_and(|v| v == "1")
}

/// A WebSocket connection over a TCP socket.
pub struct WsStream {
    pub sock: TcpStream,
    mask: bool,
    /// Payload bytes of the current server frame still to read.
    left: u64,
    /// Scratch for a masked frame.
    out: Vec<u8>,
}

impl WsStream {
    /// Upgrades `sock`; the response is read a byte at a time, so nothing
    /// after it is taken.
    pub fn upgrade(mut sock: TcpStream) -> io::Result<WsStream> {
        let mask = !no_mask();
        let extra = if mask {
            ""
        } else {
            "Nats-No-Masking: true\r\n"
        };
        write!(
            sock,
            "GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )?;
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            sock.read_exact(&mut b)?;
            head.push(b[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(io::Error::other(String::from_utf8_lossy(&head).to_string()));
        }
        Ok(WsStream {
            sock,
            mask,
            left: 0,
            out: Vec::new(),
        })
    }

    /// The next frame's header; its payload length.
    fn header(&mut self) -> io::Result<u64> {
        let mut h = [0u8; 2];
        self.sock.read_exact(&mut h)?;
        let len = match h[1] & 0x7f {
            126 => {
                let mut l = [0u8; 2];
                self.sock.read_exact(&mut l)?;
                u64::from(u16::from_be_bytes(l))
            }
            127 => {
                let mut l = [0u8; 8];
                self.sock.read_exact(&mut l)?;
                u64::from_be_bytes(l)
            }
            n => u64::from(n),
        };
        if h[0] & 0x0f == 8 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(len)
    }
}

impl Read for WsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            self.left = self.header()?;
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.sock.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(0);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl Write for WsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    /// One final binary frame carrying `buf`.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.clear();
        self.out.push(0x82);
        let m = if self.mask { 0x80 } else { 0 };
        let n = buf.len();
        if n < 126 {
            self.out.push(m | n as u8);
        } else if n < 65536 {
            self.out.push(m | 126);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            self.out.push(m | 127);
            self.out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        if self.mask {
            let key = [0x9e, 0x37, 0x79, 0xb9];
            self.out.extend_from_slice(&key);
            let at = self.out.len();
            self.out.extend_from_slice(buf);
            // Four bytes of key at a time, as a u32.
            let k = u32::from_ne_bytes(key);
            let mut chunks = self.out[at..].chunks_exact_mut(4);
            for c in &mut chunks {
                let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ k;
                c.copy_from_slice(&v.to_ne_bytes());
            }
            for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
                *b ^= key[i];
            }
        } else {
            self.out.extend_from_slice(buf);
        }
        self.sock.write_all(&self.out)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
