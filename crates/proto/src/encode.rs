//! Encoders for what the server writes: MSG/HMSG control lines and the fixed
//! protocol replies. They append to a caller-owned buffer (the subscriber's
//! outbound coalescing buffer) and never allocate beyond growing it.

use bytes::{BufMut, BytesMut};

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";
pub const CRLF: &[u8] = b"\r\n";
pub const ERR_INVALID_SUBJECT: &[u8] = b"-ERR 'Invalid Subject'\r\n";
pub const ERR_INVALID_PUBLISH_SUBJECT: &[u8] = b"-ERR 'Invalid Publish Subject'\r\n";
pub const ERR_MAX_SUBSCRIPTIONS: &[u8] = b"-ERR 'maximum subscriptions exceeded'\r\n";
pub const ERR_MAX_CONNECTIONS: &[u8] = b"-ERR 'maximum connections exceeded'\r\n";
pub const ERR_STALE_CONNECTION: &[u8] = b"-ERR 'Stale Connection'\r\n";
pub const ERR_AUTH_VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";
pub const ERR_AUTH_TIMEOUT: &[u8] = b"-ERR 'Authentication Timeout'\r\n";
pub const ERR_INVALID_PROTOCOL: &[u8] = b"-ERR 'invalid client protocol'\r\n";
pub const ERR_NO_RESPONDERS_HEADERS: &[u8] = b"-ERR 'no responders requires headers support'\r\n";

/// `n` in decimal, written at the end of `buf`.
#[inline]
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Appends a decimal number.
#[inline]
pub fn put_uint(out: &mut BytesMut, n: u64) {
    out.put_slice(decimal(n, &mut [0u8; 20]));
}

/// Appends `MSG <subject> <sid> [reply] <len>\r\n`, or the HMSG form when `hdr > 0`
/// (`HMSG <subject> <sid> [reply] <hdr> <total>\r\n`). The payload and its CRLF are
/// the caller's to append (they may travel as their own iovec).
#[inline]
pub fn put_msg_line(
    out: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: &[u8],
    hdr: usize,
    total: usize,
) {
    out.reserve(subject.len() + sid.len() + reply.len() + 32);
    if hdr > 0 {
        out.put_slice(b"HMSG ");
    } else {
        out.put_slice(b"MSG ");
    }
    out.put_slice(subject);
    out.put_u8(b' ');
    out.put_slice(sid);
    out.put_u8(b' ');
    if !reply.is_empty() {
        out.put_slice(reply);
        out.put_u8(b' ');
    }
    if hdr > 0 {
        put_uint(out, hdr as u64);
        out.put_u8(b' ');
    }
    put_uint(out, total as u64);
    out.put_slice(CRLF);
}

/// The no-responders status a requester gets on its inbox subscription:
/// `HMSG <reply> <sid> L L\r\nNATS/1.0 503\r\nNats-Subject: <subject>\r\n\r\n\r\n`.
pub fn put_no_responders(out: &mut BytesMut, reply: &[u8], sid: &[u8], subject: &[u8]) {
    let len = 32 + subject.len();
    put_msg_line(out, reply, sid, b"", len, len);
    out.put_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    out.put_slice(subject);
    out.put_slice(b"\r\n\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_lines() {
        let mut b = BytesMut::new();
        put_msg_line(&mut b, b"foo.bar", b"90", b"", 0, 5);
        assert_eq!(&b[..], b"MSG foo.bar 90 5\r\n");
        b.clear();
        put_msg_line(&mut b, b"FOO", b"1", b"in.1", 22, 33);
        assert_eq!(&b[..], b"HMSG FOO 1 in.1 22 33\r\n");
        b.clear();
        put_uint(&mut b, 0);
        put_uint(&mut b, 1234567890);
        assert_eq!(&b[..], b"01234567890");
    }

    #[test]
    fn no_responders_exact_bytes() {
        let mut b = BytesMut::new();
        put_no_responders(&mut b, b"_INBOX.x.1", b"7", b"svc.a");
        assert_eq!(
            &b[..],
            &b"HMSG _INBOX.x.1 7 37 37\r\nNATS/1.0 503\r\nNats-Subject: svc.a\r\n\r\n\r\n"[..]
        );
    }
}
