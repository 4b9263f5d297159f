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
    put_sizes(out, hdr, total);
}

/// Which server-to-server link a line is for: a cluster route (`RS+`,
/// `RS-`, `RMSG`), whose lines name the account unless the route is
/// dedicated to one (empty), or a leaf node connection (`LS+`, `LS-`,
/// `LMSG`), whose lines never do: the connection is bound to one account.
/// Both write `HMSG` for a message with headers. A route told of a leaf's
/// interest or sent a leaf's message, when the peer understands leaf
/// origins (its INFO's `lnoc`), gets the `Origin` forms: `LS+ <origin>`,
/// `LS- [<origin>]` (the origin empty for a peer without `lnocu`) and
/// `LMSG <origin>`, whose sizes always include the header's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer<'a> {
    Route(&'a [u8]),
    Leaf,
    Origin { origin: &'a [u8], account: &'a [u8] },
}

impl Peer<'_> {
    /// The account a line names (empty for none).
    fn account(&self) -> &[u8] {
        match self {
            Peer::Route(a) | Peer::Origin { account: a, .. } => a,
            Peer::Leaf => b"",
        }
    }

    /// The bytes a line's prefix (account, origin) may take.
    pub fn prefix_len(&self) -> usize {
        match self {
            Peer::Route(a) => a.len(),
            Peer::Leaf => 0,
            Peer::Origin { origin, account } => origin.len() + account.len() + 1,
        }
    }
}

/// `LS+ `/`RS+ `-like keyword then the origin, if the line has one.
fn put_kind(out: &mut BytesMut, peer: Peer<'_>, route: &[u8], leaf: &[u8]) {
    match peer {
        Peer::Route(_) => out.put_slice(route),
        Peer::Leaf => out.put_slice(leaf),
        Peer::Origin { origin, .. } => {
            out.put_slice(leaf);
            if !origin.is_empty() {
                out.put_slice(origin);
                out.put_u8(b' ');
            }
        }
    }
}

/// Appends a route interest line: `RS+ [<account> ]<subject>[ <queue> <weight>]\r\n`
/// (`account` empty on a route dedicated to one account), or a leaf's
/// `LS+ <subject>[ <queue> <weight>]\r\n`.
pub fn put_route_sub(
    out: &mut BytesMut,
    peer: Peer<'_>,
    subject: &[u8],
    queue: Option<(&[u8], u32)>,
) {
    put_kind(out, peer, b"RS+ ", b"LS+ ");
    put_account_subject(out, peer, subject);
    if let Some((q, w)) = queue {
        out.put_u8(b' ');
        out.put_slice(q);
        out.put_u8(b' ');
        put_uint(out, u64::from(w));
    }
    out.put_slice(CRLF);
}

/// Appends `RS- [<account> ]<subject>[ <queue>]\r\n` (a leaf's `LS-`).
pub fn put_route_unsub(out: &mut BytesMut, peer: Peer<'_>, subject: &[u8], queue: Option<&[u8]>) {
    put_kind(out, peer, b"RS- ", b"LS- ");
    put_account_subject(out, peer, subject);
    if let Some(q) = queue {
        out.put_u8(b' ');
        out.put_slice(q);
    }
    out.put_slice(CRLF);
}

fn put_account_subject(out: &mut BytesMut, peer: Peer<'_>, subject: &[u8]) {
    let account = peer.account();
    if !account.is_empty() {
        out.put_slice(account);
        out.put_u8(b' ');
    }
    out.put_slice(subject);
}

/// Appends a routed message's control line: `RMSG [<account> ]<subject>`
/// then ` <reply>` alone, or ` + <reply> <q>…` / ` | <q>…` when queue groups
/// chose this route, then the size(s) (the `HMSG` form when `hdr > 0`). The
/// payload and its CRLF are the caller's to append.
pub fn put_routed_msg_line<'q>(
    out: &mut BytesMut,
    peer: Peer<'_>,
    subject: &[u8],
    reply: &[u8],
    queues: impl Iterator<Item = &'q [u8]> + Clone,
    hdr: usize,
    total: usize,
) {
    match (hdr > 0, peer) {
        (_, Peer::Origin { .. }) => put_kind(out, peer, b"", b"LMSG "),
        (true, _) => out.put_slice(b"HMSG "),
        (false, Peer::Route(_)) => out.put_slice(b"RMSG "),
        (false, Peer::Leaf) => out.put_slice(b"LMSG "),
    }
    put_account_subject(out, peer, subject);
    let mut qs = queues.clone().peekable();
    if qs.peek().is_some() {
        if reply.is_empty() {
            out.put_slice(b" |");
        } else {
            out.put_slice(b" + ");
            out.put_slice(reply);
        }
        for q in queues {
            out.put_u8(b' ');
            out.put_slice(q);
        }
    } else if !reply.is_empty() {
        out.put_u8(b' ');
        out.put_slice(reply);
    }
    out.put_u8(b' ');
    if matches!(peer, Peer::Origin { .. }) && hdr == 0 {
        // A leaf-origin LMSG always has a header size, even zero.
        out.put_slice(b"0 ");
    }
    put_sizes(out, hdr, total);
}

/// A message line's end: `[<hdr> ]<total>\r\n` (the header size only for
/// the HMSG forms).
#[inline]
fn put_sizes(out: &mut BytesMut, hdr: usize, total: usize) {
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
    fn route_lines_as_nats_server_writes_them() {
        let mut b = BytesMut::new();
        put_route_sub(&mut b, Peer::Route(b"$G"), b"foo", None);
        put_route_sub(&mut b, Peer::Route(b"$G"), b"foo", Some((b"grp", 2)));
        put_route_unsub(&mut b, Peer::Route(b"$G"), b"foo", Some(b"grp"));
        put_route_unsub(&mut b, Peer::Route(b""), b"bar.*", None);
        assert_eq!(
            &b[..],
            b"RS+ $G foo\r\nRS+ $G foo grp 2\r\nRS- $G foo grp\r\nRS- bar.*\r\n"
        );
        let none: [&[u8]; 0] = [];
        let mut b = BytesMut::new();
        put_routed_msg_line(
            &mut b,
            Peer::Route(b"$G"),
            b"foo",
            b"",
            none.iter().copied(),
            0,
            1,
        );
        put_routed_msg_line(
            &mut b,
            Peer::Route(b"$G"),
            b"foo",
            b"r",
            none.iter().copied(),
            0,
            1,
        );
        put_routed_msg_line(
            &mut b,
            Peer::Route(b"$G"),
            b"foo",
            b"",
            [&b"grp"[..]].into_iter(),
            0,
            1,
        );
        put_routed_msg_line(
            &mut b,
            Peer::Route(b"$G"),
            b"foo",
            b"r",
            [&b"a"[..], b"b"].into_iter(),
            12,
            14,
        );
        assert_eq!(
            &b[..],
            &b"RMSG $G foo 1\r\nRMSG $G foo r 1\r\nRMSG $G foo | grp 1\r\nHMSG $G foo + r a b 12 14\r\n"[..]
        );
        // A leaf's lines name no account.
        let mut l = BytesMut::new();
        put_route_sub(&mut l, Peer::Leaf, b"foo", Some((b"q", 1)));
        put_route_unsub(&mut l, Peer::Leaf, b"foo", None);
        put_routed_msg_line(
            &mut l,
            Peer::Leaf,
            b"foo",
            b"",
            [&b"q"[..]].into_iter(),
            0,
            1,
        );
        put_routed_msg_line(&mut l, Peer::Leaf, b"foo", b"r", none.iter().copied(), 2, 3);
        assert_eq!(
            &l[..],
            &b"LS+ foo q 1\r\nLS- foo\r\nLMSG foo | q 1\r\nHMSG foo r 2 3\r\n"[..]
        );
        // A leaf's interest and messages told to a route, with the origin.
        let mut o = BytesMut::new();
        let peer = Peer::Origin {
            origin: b"edge",
            account: b"$G",
        };
        put_route_sub(&mut o, peer, b"foo", Some((b"q", 2)));
        put_route_unsub(&mut o, peer, b"foo", None);
        let old = Peer::Origin {
            origin: b"",
            account: b"A",
        };
        put_route_unsub(&mut o, old, b"foo", Some(b"q"));
        put_routed_msg_line(&mut o, peer, b"foo", b"r", none.iter().copied(), 0, 3);
        put_routed_msg_line(&mut o, peer, b"foo", b"", none.iter().copied(), 2, 3);
        assert_eq!(
            &o[..],
            &b"LS+ edge $G foo q 2\r\nLS- edge $G foo\r\nLS- A foo q\r\nLMSG edge $G foo r 0 3\r\nLMSG edge $G foo 2 3\r\n"[..]
        );
        // What the encoder writes, the route parser reads back.
        let mut m = BytesMut::new();
        put_routed_msg_line(
            &mut m,
            Peer::Route(b"$G"),
            b"foo",
            b"r",
            [&b"a"[..], b"b"].into_iter(),
            0,
            2,
        );
        m.put_slice(b"hi\r\n");
        let wire = m.to_vec();
        let l = crate::Limits {
            max_control_line: 4096,
            max_payload: 1024,
        };
        let parsed = crate::route::parse_route(&wire, &l, crate::route::RouteCtx::default());
        assert!(matches!(
            parsed,
            Ok(crate::route::RouteParsed::Op(crate::route::RouteOp::Msg { .. }, n)) if n == wire.len()
        ));
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
