//! The route protocol's parser: what a cluster peer sends on a route
//! connection (spec/cluster.md §3–§4), one complete op at a time, as
//! nats-server's `processRemoteSub`, `processRemoteUnsub`,
//! `processRoutedMsgArgs` and `processRoutedHeaderMsgArgs` read them:
//!
//! ```text
//! RS+ [<account>] <subject> [<queue> <weight>]      LS+ <origin> [<account>] <subject> [<queue> <weight>]
//! RS- [<account>] <subject> [<queue>]               LS- [<origin>] [<account>] <subject> [<queue>]
//! RMSG [<account>] <subject> [<reply> | + <reply> <q>… | '|' <q>…] <size>
//! HMSG [<account>] <subject> [<reply> | + <reply> <q>… | '|' <q>…] <hdr> <size>
//! LMSG <origin> [<account>] <subject> [<reply> | + <reply> <q>… | '|' <q>…] <hdr> <size>
//! ```
//!
//! plus CONNECT, INFO, PING, PONG, +OK and -ERR as on a client connection.
//! The account is absent on a route dedicated to one account
//! (`route_account`); the origin of `LS-` is there only when the peer said
//! `lnocu`. Queue names come back as one span of space-separated words
//! ([`words`]), so nothing is allocated per message.
//!
//! Pure: no I/O, no allocation. Op names are case-insensitive; control lines
//! end with LF (a CR before it dropped); payloads end with CRLF.

use crate::error::ProtoError;
use crate::parser::{parse_size, Limits, Span};

/// How the peer speaks on this route connection (from its INFO/CONNECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteCtx {
    /// Every interest and message line names its account (false on a
    /// connection dedicated to one account).
    pub account_in_proto: bool,
    /// `LS-` carries the origin cluster (the peer announced `lnocu`).
    pub ls_minus_origin: bool,
    /// A leaf node connection: `LS+ <subject> [<queue> <weight>]`,
    /// `LS- <subject> [<queue>]`, `LMSG <subject> [reply…] <size>` and
    /// `HMSG <subject> [reply…] <hdr> <size>`, with neither origin nor
    /// account (the connection is bound to one), as nats-server's
    /// `processLeafSub`, `processLeafUnsub`, `processLeafMsgArgs` and
    /// `processLeafHeaderMsgArgs` read them.
    pub leaf: bool,
}

impl RouteCtx {
    /// A leaf node connection's.
    pub const LEAF: RouteCtx = RouteCtx {
        account_in_proto: false,
        ls_minus_origin: false,
        leaf: true,
    };
}

impl Default for RouteCtx {
    fn default() -> Self {
        RouteCtx {
            account_in_proto: true,
            ls_minus_origin: false,
            leaf: false,
        }
    }
}

/// One route operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOp {
    Connect(Span),
    Info(Span),
    Ping,
    Pong,
    Ok,
    Err(Span),
    /// `RS+`/`LS+`: interest in `subject` (a queue group with its member
    /// count, which replaces any earlier count).
    Sub {
        origin: Option<Span>,
        account: Option<Span>,
        subject: Span,
        queue: Option<(Span, u32)>,
    },
    /// `RS-`/`LS-`.
    Unsub {
        origin: Option<Span>,
        account: Option<Span>,
        subject: Span,
        queue: Option<Span>,
    },
    /// `RMSG`/`HMSG`/`LMSG`: `queues` covers the queue-group names (empty
    /// when none); `payload` the header block and body, `hdr` the header
    /// length (0 for RMSG).
    Msg {
        origin: Option<Span>,
        account: Option<Span>,
        subject: Span,
        reply: Option<Span>,
        queues: Span,
        hdr: u32,
        payload: Span,
    },
}

/// Outcome of one [`parse_route`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteParsed {
    Op(RouteOp, usize),
    Incomplete { need: usize },
}

/// Why a route op was refused: the parse error nats-server logs (its
/// function's name and text) before closing the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    Proto(ProtoError),
    /// `processRemoteSub Parse Error: '…'` and the like.
    Args(&'static str),
}

impl From<ProtoError> for RouteError {
    fn from(e: ProtoError) -> Self {
        RouteError::Proto(e)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    RsPlus,
    RsMinus,
    LsPlus,
    LsMinus,
    Rmsg,
    Hmsg,
    Lmsg,
    Connect,
    Info,
    Ping,
    Pong,
    Ok,
    Err,
}

const NAMES: &[(&[u8], Kind)] = &[
    (b"RS+", Kind::RsPlus),
    (b"RS-", Kind::RsMinus),
    (b"LS+", Kind::LsPlus),
    (b"LS-", Kind::LsMinus),
    (b"RMSG", Kind::Rmsg),
    (b"HMSG", Kind::Hmsg),
    (b"LMSG", Kind::Lmsg),
    (b"CONNECT", Kind::Connect),
    (b"INFO", Kind::Info),
    (b"PING", Kind::Ping),
    (b"PONG", Kind::Pong),
    (b"+OK", Kind::Ok),
    (b"-ERR", Kind::Err),
];

/// The op name at the start of `buf`: `Ok(None)` while a prefix of one.
fn op_name(buf: &[u8]) -> Result<Option<(Kind, usize)>, ProtoError> {
    let mut prefix = false;
    for (name, kind) in NAMES {
        let n = name.len().min(buf.len());
        if buf[..n].eq_ignore_ascii_case(&name[..n]) {
            if n == name.len() {
                return Ok(Some((*kind, n)));
            }
            prefix = true;
        }
    }
    if prefix {
        Ok(None)
    } else {
        Err(ProtoError::UnknownOp)
    }
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The words of `span` in `buf` (queue names, arguments).
pub fn words(buf: &[u8], span: Span) -> impl Iterator<Item = Span> + '_ {
    let (mut pos, end) = (span.start as usize, span.end as usize);
    std::iter::from_fn(move || {
        while pos < end && is_sep(buf[pos]) {
            pos += 1;
        }
        if pos == end {
            return None;
        }
        let start = pos;
        while pos < end && !is_sep(buf[pos]) {
            pos += 1;
        }
        Some(Span {
            start: start as u32,
            end: pos as u32,
        })
    })
}

/// Most arguments a route line may have before its queue names (origin,
/// account, subject, indicator, reply) and after them (two sizes).
const MAX_FIXED: usize = 5;

/// Parses the first op in `buf`.
pub fn parse_route(buf: &[u8], limits: &Limits, ctx: RouteCtx) -> Result<RouteParsed, RouteError> {
    const INCOMPLETE: RouteParsed = RouteParsed::Incomplete { need: 0 };
    if buf.is_empty() {
        return Ok(INCOMPLETE);
    }
    let Some((kind, name_len)) = op_name(buf)? else {
        return Ok(INCOMPLETE);
    };
    let Some(lf) = memchr::memchr(b'\n', &buf[name_len..]).map(|i| i + name_len) else {
        if buf.len() - name_len > limits.max_control_line {
            return Err(ProtoError::MaxControlLine.into());
        }
        return Ok(INCOMPLETE);
    };
    let line_len = lf + 1;
    let simple = |op| Ok(RouteParsed::Op(op, line_len));
    match kind {
        Kind::Ping => return simple(RouteOp::Ping),
        Kind::Pong => return simple(RouteOp::Pong),
        Kind::Ok => return simple(RouteOp::Ok),
        _ => {}
    }
    if !matches!(buf.get(name_len), Some(b' ' | b'\t'))
        && !matches!(kind, Kind::Connect | Kind::Info)
    {
        return Err(ProtoError::UnknownOp.into());
    }
    let mut start = name_len;
    while start < lf && matches!(buf[start], b' ' | b'\t') {
        start += 1;
    }
    let mut end = lf;
    if end > start && buf[end - 1] == b'\r' {
        end -= 1;
    }
    if end - start > limits.max_control_line {
        return Err(ProtoError::MaxControlLine.into());
    }
    let arg = Span {
        start: start as u32,
        end: end as u32,
    };
    match kind {
        Kind::Connect => return simple(RouteOp::Connect(arg)),
        Kind::Info => return simple(RouteOp::Info(arg)),
        Kind::Err => return simple(RouteOp::Err(arg)),
        _ => {}
    }
    let mut a = words(buf, arg);
    let origin_first = !ctx.leaf
        && (matches!(kind, Kind::LsPlus | Kind::Lmsg)
            || (kind == Kind::LsMinus && ctx.ls_minus_origin));
    let origin = if origin_first { a.next() } else { None };
    let account = if ctx.account_in_proto { a.next() } else { None };
    let short = |what| RouteError::Args(what);
    match kind {
        Kind::RsPlus | Kind::LsPlus => {
            let what = if ctx.leaf {
                "processLeafSub Parse Error"
            } else {
                "processRemoteSub Parse Error"
            };
            let subject = a.next().ok_or(short(what))?;
            let mut count_missing =
                origin_first && origin.is_none() || ctx.account_in_proto && account.is_none();
            let queue = match (a.next(), a.next(), a.next()) {
                (None, _, _) => None,
                (Some(q), Some(w), None) => Some((q, parse_size(w.of(buf)).unwrap_or(0) as u32)),
                _ => {
                    count_missing = true;
                    None
                }
            };
            if count_missing {
                return Err(short(what));
            }
            simple(RouteOp::Sub {
                origin,
                account,
                subject,
                queue,
            })
        }
        Kind::RsMinus | Kind::LsMinus => {
            let what = if ctx.leaf {
                "processLeafUnsub parse error"
            } else {
                "processRemoteUnsub parse error"
            };
            let subject = a.next().ok_or(short(what))?;
            let queue = a.next();
            if a.next().is_some()
                || origin_first && origin.is_none()
                || ctx.account_in_proto && account.is_none()
            {
                return Err(short(what));
            }
            simple(RouteOp::Unsub {
                origin,
                account,
                subject,
                queue,
            })
        }
        Kind::Rmsg | Kind::Hmsg | Kind::Lmsg => {
            // On a leaf connection LMSG has no header size (HMSG does).
            let with_hdr = kind == Kind::Hmsg || kind == Kind::Lmsg && !ctx.leaf;
            let texts = msg_errors(ctx.leaf, with_hdr);
            let what = texts[0];
            if (origin_first && origin.is_none()) || (ctx.account_in_proto && account.is_none()) {
                return Err(short(what));
            }
            let subject = a.next().ok_or(short(what))?;
            // What follows the subject: [reply] sizes, or the indicator,
            // queue names and sizes. Collected without allocating: the
            // first few words, and the span of the rest.
            let mut first = [Span::default(); MAX_FIXED];
            let mut n = 0;
            let mut last = [Span::default(); 2];
            for w in a {
                if n < MAX_FIXED {
                    first[n] = w;
                }
                n += 1;
                last = [last[1], w];
            }
            let sizes = if with_hdr { 2 } else { 1 };
            if n < sizes {
                return Err(short(what));
            }
            let (reply, queues) = match n - sizes {
                0 => (None, Span::default()),
                1 => (Some(first[0]), Span::default()),
                _ => {
                    let ind = first[0].of(buf);
                    let reply = match ind {
                        b"+" => Some(first[1]),
                        b"|" => None,
                        _ => return Err(short(texts[1])),
                    };
                    let q_start = match reply {
                        Some(r) => r.end,
                        None => first[0].end,
                    };
                    let q_end = if with_hdr {
                        last[0].start
                    } else {
                        last[1].start
                    };
                    let q = Span {
                        start: q_start.min(q_end),
                        end: q_end,
                    };
                    (reply, q)
                }
            };
            let total = parse_size(last[1].of(buf)).ok_or(short(texts[2]))?;
            let hdr = if with_hdr {
                let h = parse_size(last[0].of(buf)).ok_or(short(texts[3]))?;
                if h > total {
                    return Err(short(texts[4]));
                }
                h
            } else {
                0
            };
            if total > limits.max_payload {
                return Err(ProtoError::MaxPayload.into());
            }
            let need = line_len + total + 2;
            if buf.len() < need {
                return Ok(RouteParsed::Incomplete { need });
            }
            if &buf[line_len + total..need] != b"\r\n" {
                return Err(ProtoError::UnknownOp.into());
            }
            Ok(RouteParsed::Op(
                RouteOp::Msg {
                    origin,
                    account,
                    subject,
                    reply,
                    queues,
                    hdr: hdr as u32,
                    payload: Span {
                        start: line_len as u32,
                        end: (line_len + total) as u32,
                    },
                },
                need,
            ))
        }
        _ => unreachable!("handled above"),
    }
}

/// nats-server's texts for a bad message line: the parse error, a bad
/// reply indicator, a bad size, a bad header size, a header larger than
/// the message; by connection kind and whether the line has a header size.
fn msg_errors(leaf: bool, hdr: bool) -> [&'static str; 5] {
    match (leaf, hdr) {
        (false, false) => [
            "processRoutedMsgArgs Parse Error",
            "processRoutedMsgArgs Bad or Missing Reply Indicator",
            "processRoutedMsgArgs Bad or Missing Size",
            "",
            "",
        ],
        (false, true) => [
            "processRoutedHeaderMsgArgs Parse Error",
            "processRoutedHeaderMsgArgs Bad or Missing Reply Indicator",
            "processRoutedHeaderMsgArgs Bad or Missing Size",
            "processRoutedHeaderMsgArgs Bad or Missing Header Size",
            "processRoutedHeaderMsgArgs Header Size larger then TotalSize",
        ],
        (true, false) => [
            "processLeafMsgArgs Parse Error",
            "processLeafMsgArgs Bad or Missing Reply Indicator",
            "processLeafMsgArgs Bad or Missing Size",
            "",
            "",
        ],
        (true, true) => [
            "processLeafHeaderMsgArgs Parse Error",
            "processLeafHeaderMsgArgs Bad or Missing Reply Indicator",
            "processLeafHeaderMsgArgs Bad or Missing Size",
            "processLeafHeaderMsgArgs Bad or Missing Header Size",
            "processLeafHeaderMsgArgs Header Size larger then TotalSize",
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_control_line: 4096 * 16,
        max_payload: 1 << 20,
    };

    fn op(buf: &[u8], ctx: RouteCtx) -> (RouteOp, usize) {
        match parse_route(buf, &L, ctx).unwrap() {
            RouteParsed::Op(o, n) => (o, n),
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn s(buf: &[u8], sp: Span) -> &str {
        std::str::from_utf8(sp.of(buf)).unwrap()
    }

    fn q(buf: &[u8], sp: Span) -> Vec<&str> {
        words(buf, sp).map(|w| s(buf, w)).collect()
    }

    #[test]
    fn interest_lines_as_nats_server_sends_them() {
        let c = RouteCtx::default();
        let b = b"RS+ $G foo grp 2\r\n";
        let (o, n) = op(b, c);
        assert_eq!(n, b.len());
        let RouteOp::Sub {
            account,
            subject,
            queue,
            origin,
        } = o
        else {
            panic!("{o:?}")
        };
        assert_eq!(
            (origin, s(b, account.unwrap()), s(b, subject)),
            (None, "$G", "foo")
        );
        let (qn, w) = queue.unwrap();
        assert_eq!((s(b, qn), w), ("grp", 2));
        let b = b"rs- $G bar.*\r\n";
        assert!(matches!(op(b, c).0, RouteOp::Unsub { queue: None, .. }));
        // A dedicated-account route: no account on the line.
        let d = RouteCtx {
            account_in_proto: false,
            ..c
        };
        let b = b"RS+ foo\r\n";
        assert!(matches!(op(b, d).0, RouteOp::Sub { account: None, .. }));
        // LS+ carries its origin first.
        let b = b"LS+ hub $G foo q 1\r\n";
        let RouteOp::Sub { origin, .. } = op(b, c).0 else {
            panic!()
        };
        assert_eq!(s(b, origin.unwrap()), "hub");
        assert_eq!(
            parse_route(b"RS+ $G foo grp\r\n", &L, c),
            Err(RouteError::Args("processRemoteSub Parse Error"))
        );
        assert_eq!(
            parse_route(b"RS+ $G\r\n", &L, c),
            Err(RouteError::Args("processRemoteSub Parse Error"))
        );
    }

    #[test]
    fn messages_with_replies_and_queue_lists() {
        let c = RouteCtx::default();
        let b = b"RMSG $G foo + rep grp g2 3\r\nghi\r\n";
        let (o, n) = op(b, c);
        assert_eq!(n, b.len());
        let RouteOp::Msg {
            reply,
            queues,
            payload,
            hdr,
            ..
        } = o
        else {
            panic!()
        };
        assert_eq!(s(b, reply.unwrap()), "rep");
        assert_eq!(q(b, queues), ["grp", "g2"]);
        assert_eq!((s(b, payload), hdr), ("ghi", 0));
        let b = b"RMSG $G foo | grp 1\r\nq\r\n";
        let RouteOp::Msg { reply, queues, .. } = op(b, c).0 else {
            panic!()
        };
        assert_eq!((reply, q(b, queues)), (None, vec!["grp"]));
        let b = b"RMSG $G foo bar 2\r\nhi\r\n";
        let RouteOp::Msg { reply, queues, .. } = op(b, c).0 else {
            panic!()
        };
        assert_eq!((s(b, reply.unwrap()), queues.is_empty()), ("bar", true));
        let b = b"HMSG $G foo + r q 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        let RouteOp::Msg {
            hdr,
            payload,
            queues,
            ..
        } = op(b, c).0
        else {
            panic!()
        };
        assert_eq!((hdr, payload.len(), q(b, queues)), (12, 14, vec!["q"]));
        let b = b"LMSG hub $G foo 0 2\r\nhi\r\n";
        let RouteOp::Msg { origin, hdr, .. } = op(b, c).0 else {
            panic!()
        };
        assert_eq!((s(b, origin.unwrap()), hdr), ("hub", 0));
    }

    #[test]
    fn a_leaf_connection_s_forms() {
        let c = RouteCtx::LEAF;
        let b = b"LS+ foo.> q 3\r\n";
        let RouteOp::Sub {
            origin,
            account,
            subject,
            queue,
        } = op(b, c).0
        else {
            panic!()
        };
        assert_eq!((origin, account, s(b, subject)), (None, None, "foo.>"));
        let (qn, w) = queue.unwrap();
        assert_eq!((s(b, qn), w), ("q", 3));
        let b = b"LS- foo.> q\r\n";
        let RouteOp::Unsub { queue, .. } = op(b, c).0 else {
            panic!()
        };
        assert_eq!(s(b, queue.unwrap()), "q");
        // LMSG without a header size, HMSG with one; the queue forms.
        let b = b"LMSG foo + _INBOX.r q1 q2 5\r\nhello\r\n";
        let RouteOp::Msg {
            reply,
            queues,
            hdr,
            payload,
            ..
        } = op(b, c).0
        else {
            panic!()
        };
        assert_eq!(s(b, reply.unwrap()), "_INBOX.r");
        assert_eq!(q(b, queues), ["q1", "q2"]);
        assert_eq!((hdr, s(b, payload)), (0, "hello"));
        let b = b"HMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        let RouteOp::Msg { hdr, account, .. } = op(b, c).0 else {
            panic!()
        };
        assert_eq!((hdr, account), (12, None));
        // nats-server's texts.
        assert_eq!(
            parse_route(b"LS+ foo q\r\n", &L, c),
            Err(RouteError::Args("processLeafSub Parse Error"))
        );
        assert_eq!(
            parse_route(b"LMSG foo x y 5\r\nhello\r\n", &L, c),
            Err(RouteError::Args(
                "processLeafMsgArgs Bad or Missing Reply Indicator"
            ))
        );
        assert_eq!(
            parse_route(b"HMSG foo 20 14\r\nNATS/1.0\r\n\r\nhi\r\n", &L, c),
            Err(RouteError::Args(
                "processLeafHeaderMsgArgs Header Size larger then TotalSize"
            ))
        );
    }

    #[test]
    fn incomplete_and_bad_input() {
        let c = RouteCtx::default();
        assert_eq!(
            parse_route(b"RMSG $G foo 5\r\nhel", &L, c),
            Ok(RouteParsed::Incomplete { need: 22 })
        );
        assert_eq!(
            parse_route(b"RM", &L, c),
            Ok(RouteParsed::Incomplete { need: 0 })
        );
        assert_eq!(
            parse_route(b"RMSG $G foo x rep 3\r\nabc\r\n", &L, c),
            Err(RouteError::Args(
                "processRoutedMsgArgs Bad or Missing Reply Indicator"
            ))
        );
        assert_eq!(
            parse_route(b"RMSG $G foo\r\n", &L, c),
            Err(RouteError::Args("processRoutedMsgArgs Parse Error"))
        );
        assert_eq!(
            parse_route(b"HMSG $G foo 5 3\r\nabc\r\n", &L, c),
            Err(RouteError::Args(
                "processRoutedHeaderMsgArgs Header Size larger then TotalSize"
            ))
        );
        assert_eq!(
            parse_route(b"RMSG $G foo 3\r\nabcXY", &L, c),
            Err(RouteError::Proto(ProtoError::UnknownOp))
        );
        assert_eq!(
            parse_route(b"XYZ\r\n", &L, c),
            Err(RouteError::Proto(ProtoError::UnknownOp))
        );
        assert!(matches!(op(b"PING\r\n", c).0, RouteOp::Ping));
        assert!(matches!(op(b"INFO {}\r\n", c).0, RouteOp::Info(_)));
    }
}
