//! A WebSocket client's input, on its reader: the bytes the socket (or the
//! TLS session) delivered are decoded frame by frame (`shoal_proto::ws`)
//! into the NATS bytes the reader parses; pings are answered with pongs, a
//! close frame with its echo, and a framing error with a 1002 close, all
//! through the connection's writer.
//!
//! Invariants: owned by the connection's reader, never shared; payload
//! bytes are unmasked in place and copied once, into the reader's buffer; a
//! compressed message is inflated whole, to at most `max_payload` bytes
//! (nats-server's limit on one decompressed message).

use std::io;
use std::rc::Rc;

use bytes::BytesMut;
use shoal_proto::ws::{Control, Decoder, Op};
use shoal_proto::ws_deflate::{self, InflateError};

use crate::client::{Client, CloseReason};
use crate::rt::ReadHalf;

/// The largest compressed message nats-server gathers: 8 × max_payload, at
/// most 64 MiB (`wsMaxMessageSize`).
fn max_compressed(max_payload: usize) -> usize {
    max_payload.saturating_mul(8).min(64 << 20)
}

/// See the module header.
pub struct WsIn {
    decoder: Decoder,
    /// Frames as received (after TLS).
    raw: BytesMut,
    /// Over TLS: the buffer ciphertext is read into.
    cipher: Option<BytesMut>,
    max_payload: usize,
    /// A close frame was read: the stream has ended.
    closed: bool,
}

/// A framing problem the reader ends the connection for.
pub struct Failed {
    pub reason: CloseReason,
    /// `-ERR` to send first (a message over max_payload).
    pub err: Option<&'static [u8]>,
}

impl WsIn {
    pub fn new(require_mask: bool, compression: bool, tls: bool, max_payload: usize) -> WsIn {
        WsIn {
            decoder: Decoder::new(require_mask, compression, max_compressed(max_payload)),
            raw: BytesMut::new(),
            cipher: tls.then(BytesMut::new),
            max_payload,
            closed: false,
        }
    }

    /// Reads until frames give NATS bytes (appended to `buf`; their count
    /// returned) or the stream ends (0: the client closed, or sent a close
    /// frame, which is answered).
    pub async fn read(
        &mut self,
        client: &Rc<Client>,
        rh: &mut ReadHalf,
        buf: &mut BytesMut,
        want: usize,
    ) -> io::Result<usize> {
        loop {
            if self.closed {
                return Ok(0);
            }
            let n = match &mut self.cipher {
                Some(cipher) => crate::tls::read(client, rh, cipher, &mut self.raw, want).await?,
                None => rh.read(&mut self.raw, want).await?,
            };
            if n == 0 {
                return Ok(0);
            }
            let before = buf.len();
            let done = self.decode(client, buf);
            // Keep the buffer while data flows, drop it after a small read.
            if n < 4096 {
                self.raw = BytesMut::new();
            } else {
                self.raw.clear();
            }
            match done {
                Ok(false) if buf.len() == before => continue,
                Ok(false) => return Ok(buf.len() - before),
                // A close frame: what came before it is still parsed; the
                // next read ends the stream.
                Ok(true) => {
                    self.closed = true;
                    if buf.len() == before {
                        return Ok(0);
                    }
                    return Ok(buf.len() - before);
                }
                Err(f) => {
                    // The end of the stream, with the reason set first: the
                    // reader closes after the writer has sent the answer.
                    if let Some(e) = f.err {
                        client.send_err(e);
                    }
                    client.set_close_reason(f.reason);
                    self.closed = true;
                    return Ok(0);
                }
            }
        }
    }

    /// Decodes `raw` into `buf`; `Ok(true)` when a close frame was read.
    fn decode(&mut self, client: &Client, buf: &mut BytesMut) -> Result<bool, Failed> {
        let decoded = match self.decoder.decode(&mut self.raw[..], buf) {
            Ok(d) => d,
            Err(e) => {
                log::debug!("{} - websocket protocol error: {e}", client.log_prefix());
                let body =
                    shoal_proto::ws::close_payload(shoal_proto::ws::status::PROTOCOL_ERROR, &e.0);
                crate::ws::out::control(client, Op::Close, &body);
                return Err(Failed {
                    reason: CloseReason::ReadError,
                    err: None,
                });
            }
        };
        for m in &decoded.compressed {
            match ws_deflate::inflate(m, self.max_payload) {
                Ok(plain) => buf.extend_from_slice(&plain),
                Err(InflateError::TooBig) => {
                    return Err(Failed {
                        reason: CloseReason::MaxPayload,
                        err: Some(b"-ERR 'Maximum Payload Violation'\r\n"),
                    })
                }
                Err(InflateError::Corrupt) => {
                    log::debug!("{} - websocket: bad compressed data", client.log_prefix());
                    return Err(Failed {
                        reason: CloseReason::ReadError,
                        err: None,
                    });
                }
            }
        }
        let mut closed = false;
        for c in decoded.controls {
            match c {
                Control::Ping(p) => crate::ws::out::control(client, Op::Pong, &p),
                Control::Pong => {}
                Control::Close { reply } => {
                    crate::ws::out::control(client, Op::Close, &reply);
                    closed = true;
                }
            }
        }
        Ok(closed || decoded.closed)
    }
}
