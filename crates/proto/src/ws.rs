//! WebSocket framing (RFC 6455) as nats-server's `websocket.go` reads and
//! writes it, with no socket in sight: the incremental [`Decoder`] turns
//! the bytes a connection received into the NATS bytes its frames carry
//! (unmasked, fragments joined) and the control frames to answer, with
//! nats-server's protocol-error texts; the encoders write a server's frame
//! headers (never masked) and close payloads.
//!
//! Invariants: a frame's header may arrive split across reads (the decoder
//! keeps the partial header, at most 14 bytes); payload bytes are unmasked
//! in place and copied once, into the caller's buffer; a compressed
//! message (`permessage-deflate`) is gathered whole for the caller to
//! inflate, bounded by the limit given.
//!
//! Never allocates per frame on the data path (control frames carry at
//! most 125 bytes).

use bytes::{BufMut, BytesMut};

const FINAL: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV23: u8 = 0x30;
const MASK: u8 = 0x80;

/// The largest control frame payload.
pub const MAX_CONTROL: usize = 125;

/// Frame opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Continuation = 0,
    Text = 1,
    Binary = 2,
    Close = 8,
    Ping = 9,
    Pong = 10,
}

/// Close status codes nats-server sends (RFC 6455 §7.4.1).
pub mod status {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const NO_STATUS: u16 = 1005;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const TLS_HANDSHAKE: u16 = 1015;
}

/// A control frame the peer sent, for the caller to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Answer with a pong carrying the same bytes.
    Ping(Vec<u8>),
    Pong,
    /// The peer closes: echo `reply` as the close frame's payload (empty:
    /// no status was given, so none is sent back), then close.
    Close {
        reply: Vec<u8>,
    },
}

/// Why the bytes are not a valid WebSocket stream, in nats-server's words
/// (sent back in a close frame with status 1002, then the connection
/// closes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(s: impl Into<String>) -> Result<T, ProtocolError> {
    Err(ProtocolError(s.into()))
}

/// What one [`Decoder::decode`] call produced besides the data bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Control frames, in order.
    pub controls: Vec<Control>,
    /// Compressed messages completed, each whole, to inflate.
    pub compressed: Vec<Vec<u8>>,
    /// A close frame was read: nothing after it counts.
    pub closed: bool,
}

/// The frame being read.
#[derive(Debug, Default)]
struct Frame {
    op: u8,
    /// Payload bytes still to come.
    rem: u64,
    key: [u8; 4],
    /// Position in the masking key of the next byte.
    kpos: usize,
    masked: bool,
    /// A control frame's payload so far.
    control: Vec<u8>,
}

/// See the module header. One per connection, owned by its reader.
#[derive(Debug)]
pub struct Decoder {
    /// Clients must mask their frames (a leaf node's remote may not).
    require_mask: bool,
    /// `permessage-deflate` was negotiated.
    compression: bool,
    /// Most bytes a compressed message may take.
    max_compressed: usize,
    /// Bytes of a header that has not arrived whole.
    head: Vec<u8>,
    frame: Option<Frame>,
    /// The last data frame seen had its final bit (no message is open).
    message_done: bool,
    /// The open message is compressed, and what it has so far.
    compressing: bool,
    deflated: Vec<u8>,
}

impl Decoder {
    pub fn new(require_mask: bool, compression: bool, max_compressed: usize) -> Decoder {
        Decoder {
            require_mask,
            compression,
            max_compressed,
            head: Vec::new(),
            frame: None,
            message_done: true,
            compressing: false,
            deflated: Vec::new(),
        }
    }

    /// Decodes `input` (unmasked in place): uncompressed data bytes are
    /// appended to `data`, the rest returned. An error leaves the decoder
    /// unusable (the connection closes).
    pub fn decode(
        &mut self,
        input: &mut [u8],
        data: &mut BytesMut,
    ) -> Result<Decoded, ProtocolError> {
        let mut out = Decoded::default();
        let mut at = 0;
        while at < input.len() && !out.closed {
            if self.frame.is_none() {
                match self.header(&input[at..])? {
                    Some((frame, used)) => {
                        at += used;
                        self.frame = Some(frame);
                    }
                    None => {
                        // Kept in `head` until the rest arrives.
                        return Ok(out);
                    }
                }
            }
            at += self.payload(&mut input[at..], data, &mut out)?;
        }
        // A frame with no payload ends at its header.
        if self.frame.as_ref().is_some_and(|f| f.rem == 0) {
            self.payload(&mut [], data, &mut out)?;
        }
        Ok(out)
    }

    /// Parses a frame header from what is kept plus `input`; `None` (the
    /// bytes kept) when it is not whole yet. Returns the bytes of `input`
    /// it used.
    fn header(&mut self, input: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
        let kept = self.head.len();
        // At most a whole header's worth is looked at.
        let take = input.len().min(14 - kept);
        let mut h = [0u8; 14];
        h[..kept].copy_from_slice(&self.head);
        h[kept..kept + take].copy_from_slice(&input[..take]);
        let have = kept + take;
        if have < 2 {
            self.head = h[..have].to_vec();
            return Ok(None);
        }
        let (b0, b1) = (h[0], h[1]);
        if b0 & RSV23 != 0 {
            return err("RSV2 and RSV3 must be clear");
        }
        let compressed = b0 & RSV1 != 0;
        if compressed && !self.compression {
            return err("compressed frame received without negotiated permessage-deflate");
        }
        let masked = b1 & MASK != 0;
        if self.require_mask && !masked {
            return err("mask bit missing");
        }
        let op = b0 & 0x0F;
        let fin = b0 & FINAL != 0;
        let len7 = u64::from(b1 & 0x7F);
        match op {
            8..=10 => {
                if len7 > MAX_CONTROL as u64 {
                    return err(format!(
                        "control frame length bigger than maximum allowed of {MAX_CONTROL} bytes"
                    ));
                }
                if !fin {
                    return err("control frame does not have final bit set");
                }
                if compressed {
                    return err("control frame must not be compressed");
                }
            }
            1 | 2 => {
                if !self.message_done {
                    return err(
                        "new message started before final frame for previous message was received",
                    );
                }
            }
            0 => {
                if self.message_done || compressed {
                    return err("invalid continuation frame");
                }
            }
            other => return err(format!("unknown opcode {other}")),
        }
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let need = 2 + ext + if masked { 4 } else { 0 };
        if have < need {
            self.head = h[..have].to_vec();
            return Ok(None);
        }
        let rem = match ext {
            2 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            8 => {
                let n = u64::from_be_bytes(h[2..10].try_into().expect("8 bytes"));
                if n & (1 << 63) != 0 {
                    return err("invalid 64-bit payload length");
                }
                n
            }
            _ => len7,
        };
        let mut key = [0u8; 4];
        if masked {
            key.copy_from_slice(&h[2 + ext..need]);
        }
        if op <= 2 {
            self.message_done = fin;
            if op != 0 {
                self.compressing = compressed;
            }
        }
        self.head.clear();
        Ok(Some((
            Frame {
                op,
                rem,
                key,
                kpos: 0,
                masked,
                control: Vec::new(),
            },
            need - kept,
        )))
    }

    /// Consumes the current frame's payload from `input`; returns the bytes
    /// used. Ends the frame when its payload is complete.
    fn payload(
        &mut self,
        input: &mut [u8],
        data: &mut BytesMut,
        out: &mut Decoded,
    ) -> Result<usize, ProtocolError> {
        let f = self.frame.as_mut().expect("a frame is open");
        let n = (f.rem.min(input.len() as u64)) as usize;
        let chunk = &mut input[..n];
        if f.masked {
            unmask(chunk, f.key, f.kpos);
            f.kpos = (f.kpos + n) & 3;
        }
        f.rem -= n as u64;
        match f.op {
            8..=10 => f.control.extend_from_slice(chunk),
            _ if self.compressing => {
                if self.deflated.len() + n > self.max_compressed {
                    return err("compressed message too big");
                }
                self.deflated.extend_from_slice(chunk);
            }
            _ => data.extend_from_slice(chunk),
        }
        if f.rem > 0 {
            return Ok(n);
        }
        let f = self.frame.take().expect("a frame is open");
        match f.op {
            9 => out.controls.push(Control::Ping(f.control)),
            10 => out.controls.push(Control::Pong),
            8 => {
                out.controls.push(Control::Close {
                    reply: close_reply(&f.control)?,
                });
                out.closed = true;
            }
            _ if self.compressing && self.message_done => {
                self.compressing = false;
                out.compressed.push(std::mem::take(&mut self.deflated));
            }
            _ => {}
        }
        Ok(n)
    }
}

/// XORs `chunk` with the masking `key`, starting at key position `kpos`:
/// eight bytes at a time (the key rotated to the position and repeated),
/// then the rest byte by byte. A client's whole payload passes here.
fn unmask(chunk: &mut [u8], key: [u8; 4], kpos: usize) {
    let mut k = [0u8; 8];
    for (i, b) in k.iter_mut().enumerate() {
        *b = key[(kpos + i) & 3];
    }
    let wide = u64::from_ne_bytes(k);
    let mut words = chunk.chunks_exact_mut(8);
    for w in &mut words {
        let v = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ wide;
        w.copy_from_slice(&v.to_ne_bytes());
    }
    // The tail starts at a multiple of 8 from `kpos`: the same key phase.
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= k[i];
    }
}

/// What a server echoes to a peer's close frame (nats-server's
/// `wsHandleControlFrame`): its status, and its body when that is UTF-8
/// (else 1007 with a note); nothing for a close without a status.
fn close_reply(payload: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    match payload.len() {
        0 => Ok(Vec::new()),
        1 => err("close frame payload cannot be 1 byte"),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !valid_close_status(code) {
                return err(format!("invalid close status code {code}"));
            }
            let body = &payload[2..];
            Ok(match std::str::from_utf8(body) {
                Ok(b) => close_payload(code, b),
                Err(_) => {
                    close_payload(status::INVALID_PAYLOAD, "invalid utf8 body in close frame")
                }
            })
        }
    }
}

/// nats-server's `wsIsValidCloseStatus`.
pub fn valid_close_status(code: u16) -> bool {
    !matches!(code, 1004 | 1005 | 1006 | 1015)
        && (1000..5000).contains(&code)
        && !(1016..=2999).contains(&code)
}

/// A close frame's payload: the status, then `body` cut to fit a control
/// frame (with `...` when cut), as nats-server's `wsCreateCloseMessage`.
pub fn close_payload(code: u16, body: &str) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    if body.len() > MAX_CONTROL - 2 {
        let mut cut = MAX_CONTROL - 5;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        v.extend_from_slice(&body.as_bytes()[..cut]);
        v.extend_from_slice(b"...");
    } else {
        v.extend_from_slice(body.as_bytes());
    }
    v
}

/// Appends a server frame's header (never masked): `op`, final, RSV1 when
/// `compressed`, for a payload of `len` bytes.
pub fn put_header(out: &mut BytesMut, op: Op, fin: bool, compressed: bool, len: usize) {
    let mut b0 = op as u8;
    if fin {
        b0 |= FINAL;
    }
    if compressed {
        b0 |= RSV1;
    }
    out.put_u8(b0);
    if len <= 125 {
        out.put_u8(len as u8);
    } else if len < 65536 {
        out.put_u8(126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmasking_by_words_is_unmasking_by_bytes() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in [0usize, 1, 3, 7, 8, 9, 15, 16, 17, 100, 1031] {
            for kpos in 0..4 {
                let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut fast = plain.clone();
                unmask(&mut fast, key, kpos);
                let slow: Vec<u8> = plain
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(kpos + i) & 3])
                    .collect();
                assert_eq!(fast, slow, "len {len} kpos {kpos}");
            }
        }
    }

    /// A client frame: masked with `key`.
    fn frame(b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut v = vec![b0];
        let n = payload.len();
        if n <= 125 {
            v.push(MASK | n as u8);
        } else if n < 65536 {
            v.push(MASK | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            v.push(MASK | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
        v.extend_from_slice(&key);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
        v
    }

    fn decode_all(d: &mut Decoder, bytes: &[u8]) -> Result<(Vec<u8>, Decoded), ProtocolError> {
        let mut input = bytes.to_vec();
        let mut data = BytesMut::new();
        let out = d.decode(&mut input, &mut data)?;
        Ok((data.to_vec(), out))
    }

    #[test]
    fn masked_fragments_join_whatever_the_reads() {
        let key = [1, 2, 3, 4];
        let mut wire = frame(0x02, b"PUB foo 5\r\nhel", key); // binary, not final
        wire.extend(frame(0x89, b"ping!", [9, 9, 9, 9])); // a ping between fragments
        wire.extend(frame(0x80, b"lo\r\n", key)); // final continuation
        let big = vec![b'x'; 70_000];
        wire.extend(frame(0x82, &big, key));
        // Every split point of the first 40 bytes, then the rest.
        for split in 0..40 {
            let mut d = Decoder::new(true, false, 1 << 20);
            let (mut a, b) = (wire[..split].to_vec(), wire[split..].to_vec());
            let mut data = BytesMut::new();
            let mut controls = d.decode(&mut a, &mut data).unwrap().controls;
            let mut b = b;
            controls.extend(d.decode(&mut b, &mut data).unwrap().controls);
            assert_eq!(&data[..20], b"PUB foo 5\r\nhello\r\nxx", "split {split}");
            assert_eq!(data.len(), 18 + big.len());
            assert_eq!(controls, [Control::Ping(b"ping!".to_vec())]);
        }
    }

    #[test]
    fn protocol_errors_in_nats_server_words() {
        let key = [7, 7, 7, 7];
        let e = |bytes: Vec<u8>| {
            decode_all(&mut Decoder::new(true, false, 1024), &bytes)
                .unwrap_err()
                .0
        };
        assert_eq!(e(vec![0x82, 0x01, b'x']), "mask bit missing");
        assert_eq!(e(frame(0xA2, b"x", key)), "RSV2 and RSV3 must be clear");
        assert_eq!(
            e(frame(0xC2, b"x", key)),
            "compressed frame received without negotiated permessage-deflate"
        );
        assert_eq!(
            e(frame(0x09, b"x", key)),
            "control frame does not have final bit set"
        );
        assert_eq!(
            e(frame(0x89, &[0; 126], key)),
            "control frame length bigger than maximum allowed of 125 bytes"
        );
        assert_eq!(e(frame(0x80, b"x", key)), "invalid continuation frame");
        let mut two = frame(0x02, b"a", key);
        two.extend(frame(0x82, b"b", key));
        assert_eq!(
            e(two),
            "new message started before final frame for previous message was received"
        );
        assert_eq!(e(frame(0x83, b"x", key)), "unknown opcode 3");
        assert_eq!(
            e(frame(0x88, b"x", key)),
            "close frame payload cannot be 1 byte"
        );
        assert_eq!(
            e(frame(0x88, &1006u16.to_be_bytes(), key)),
            "invalid close status code 1006"
        );
        let mut huge = vec![0x82, MASK | 127];
        huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
        huge.extend_from_slice(&key);
        assert_eq!(e(huge), "invalid 64-bit payload length");
    }

    #[test]
    fn a_close_is_echoed_and_ends_the_stream() {
        let key = [3, 1, 4, 1];
        let mut close = 1000u16.to_be_bytes().to_vec();
        close.extend_from_slice(b"bye");
        let mut wire = frame(0x88, &close, key);
        wire.extend(frame(0x82, b"after", key));
        let (data, out) = decode_all(&mut Decoder::new(true, false, 1024), &wire).unwrap();
        assert!(out.closed && data.is_empty());
        assert_eq!(
            out.controls,
            [Control::Close {
                reply: close.clone()
            }]
        );
        // No status: none sent back. A body that is not UTF-8: 1007.
        let (_, out) =
            decode_all(&mut Decoder::new(true, false, 1024), &frame(0x88, b"", key)).unwrap();
        assert_eq!(out.controls, [Control::Close { reply: vec![] }]);
        let mut bad = 1000u16.to_be_bytes().to_vec();
        bad.push(0xFF);
        let (_, out) = decode_all(
            &mut Decoder::new(true, false, 1024),
            &frame(0x88, &bad, key),
        )
        .unwrap();
        assert_eq!(
            out.controls,
            [Control::Close {
                reply: close_payload(1007, "invalid utf8 body in close frame")
            }]
        );
    }

    #[test]
    fn compressed_messages_are_gathered_whole_and_bounded() {
        let key = [5, 6, 7, 8];
        let mut wire = frame(0x42, b"abc", key); // RSV1, binary, not final
        wire.extend(frame(0x80, b"def", key));
        wire.extend(frame(0x82, b"plain", key));
        let (data, out) = decode_all(&mut Decoder::new(true, true, 1024), &wire).unwrap();
        assert_eq!(out.compressed, [b"abcdef".to_vec()]);
        assert_eq!(data, b"plain");
        let e = decode_all(
            &mut Decoder::new(true, true, 4),
            &frame(0xC2, b"toolong", key),
        );
        assert_eq!(e.unwrap_err().0, "compressed message too big");
    }

    #[test]
    fn server_headers_and_close_payloads() {
        let mut b = BytesMut::new();
        put_header(&mut b, Op::Binary, true, false, 5);
        put_header(&mut b, Op::Binary, true, true, 300);
        put_header(&mut b, Op::Close, true, false, 70_000);
        assert_eq!(
            &b[..],
            &[0x82, 5, 0xC2, 126, 1, 44, 0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]
        );
        let long = "é".repeat(100);
        let p = close_payload(1008, &long);
        assert!(p.len() <= MAX_CONTROL && p.ends_with(b"..."), "{}", p.len());
        assert!(std::str::from_utf8(&p[2..]).is_ok());
        assert!(valid_close_status(1000) && valid_close_status(3000) && valid_close_status(4999));
        assert!(
            !valid_close_status(1005) && !valid_close_status(1016) && !valid_close_status(5000)
        );
    }
}
