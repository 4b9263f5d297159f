//! The client-protocol parser: one complete op at a time out of a byte buffer.
//!
//! Pure and stateless: [`parse`] looks at the start of `buf` and either returns the
//! first complete op with the number of bytes it spans, asks for more bytes, or
//! returns the [`ProtoError`] that ends the connection. Subjects, sids and payloads
//! come back as [`Span`]s into `buf`, so the caller can turn them into `Bytes`
//! slices of its read buffer without copying. Re-parsing a control line while a
//! large payload trickles in costs a few dozen byte comparisons, which is cheaper
//! than carrying parser state across reads.
//!
//! Never allocates. The rules are nats-server 2.15's (spec/protocol.md §1, §2):
//! case-insensitive op names, optional CR before LF on control lines, strict CRLF
//! after payloads, `max_control_line` over the argument bytes (also on a line still
//! being received), `max_payload` checked before the payload is read.

use crate::error::ProtoError;

/// A byte range of the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    /// The bytes this span covers in `buf` (the buffer that was parsed).
    #[inline]
    pub fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One client operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `CONNECT <json>`: the JSON text.
    Connect(Span),
    /// `INFO <json>` from a client: parsed as JSON, otherwise ignored.
    Info(Span),
    /// `PUB` or `HPUB`. `payload` covers the header block and the body (without the
    /// final CRLF); `hdr` is the header length, 0 for a plain PUB (or `HPUB` with a
    /// zero header size, which nats-server delivers as a plain message).
    Pub {
        subject: Span,
        reply: Option<Span>,
        hdr: u32,
        payload: Span,
    },
    Sub {
        subject: Span,
        queue: Option<Span>,
        sid: Span,
    },
    /// `max` is 0 when absent or invalid: remove now.
    Unsub {
        sid: Span,
        max: u64,
    },
    Ping,
    Pong,
    Ok,
    /// `-ERR` from a client: logged, then the connection closes.
    Err(Span),
}

/// Outcome of one [`parse`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// An op spanning the first `len` bytes of the buffer.
    Op(Op, usize),
    /// Not enough bytes yet. `need` is the total buffer length that will complete
    /// the op when it is known (a PUB's payload), else 0.
    Incomplete { need: usize },
}

/// The limits the parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

#[derive(Clone, Copy)]
enum Kind {
    Pub,
    Hpub,
    Sub,
    Unsub,
    Connect,
    Info,
    Ping,
    Pong,
    Ok,
    Err,
}

/// How an op name must be followed.
#[derive(Clone, Copy, PartialEq)]
enum After {
    /// At least one space or tab (PUB, HPUB, SUB, UNSUB, -ERR).
    Space,
    /// Optional spaces/tabs, then the argument (CONNECT, INFO).
    Any,
    /// Everything up to LF is ignored (PING, PONG, +OK).
    Ignore,
}

/// Matches the op name at the start of `buf`. `Ok(None)` = need more bytes.
fn op_name(buf: &[u8]) -> Result<Option<(Kind, usize, After)>, ProtoError> {
    let (kind, name, after): (Kind, &[u8], After) = match buf[0].to_ascii_uppercase() {
        b'P' => match buf.get(1).map(u8::to_ascii_uppercase) {
            None => return Ok(None),
            Some(b'U') => (Kind::Pub, b"PUB", After::Space),
            Some(b'I') => (Kind::Ping, b"PING", After::Ignore),
            Some(b'O') => (Kind::Pong, b"PONG", After::Ignore),
            Some(_) => return Err(ProtoError::UnknownOp),
        },
        b'H' => (Kind::Hpub, b"HPUB", After::Space),
        b'S' => (Kind::Sub, b"SUB", After::Space),
        b'U' => (Kind::Unsub, b"UNSUB", After::Space),
        b'C' => (Kind::Connect, b"CONNECT", After::Any),
        b'I' => (Kind::Info, b"INFO", After::Any),
        b'+' => (Kind::Ok, b"+OK", After::Ignore),
        b'-' => (Kind::Err, b"-ERR", After::Space),
        _ => return Err(ProtoError::UnknownOp),
    };
    for (i, want) in name.iter().enumerate() {
        match buf.get(i) {
            None => return Ok(None),
            Some(b) if b.to_ascii_uppercase() == *want => {}
            Some(_) => return Err(ProtoError::UnknownOp),
        }
    }
    Ok(Some((kind, name.len(), after)))
}

#[inline]
fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses the first op in `buf`. `headers` says whether this connection negotiated
/// headers (HPUB is a silent close otherwise).
pub fn parse(buf: &[u8], limits: &Limits, headers: bool) -> Result<Parsed, ProtoError> {
    const INCOMPLETE: Parsed = Parsed::Incomplete { need: 0 };
    if buf.is_empty() {
        return Ok(INCOMPLETE);
    }
    let Some((kind, name_len, after)) = op_name(buf)? else {
        return Ok(INCOMPLETE);
    };
    let lf = memchr::memchr(b'\n', &buf[name_len..]).map(|i| i + name_len);

    // Where the argument starts.
    let mut arg_start = name_len;
    match after {
        After::Space => match buf.get(name_len) {
            None => return Ok(INCOMPLETE),
            Some(&b) if is_space(b) => {}
            Some(_) => return Err(ProtoError::UnknownOp),
        },
        After::Any | After::Ignore => {}
    }
    if after != After::Ignore {
        while arg_start < buf.len() && is_space(buf[arg_start]) {
            arg_start += 1;
        }
    }

    // The bound on the argument (for PING/PONG/+OK, on what they ignore).
    let limit = match after {
        After::Ignore => limits.max_control_line.max(64 * 1024),
        _ => limits.max_control_line,
    };
    let Some(lf) = lf else {
        // A line still being received: bound it so a peer cannot stream forever.
        // Measured as the complete line will be (a CR dropped), so that where the
        // reads split a stream never changes the outcome.
        if over_limit(buf, arg_start, buf.len(), limit) {
            return Err(ProtoError::MaxControlLine);
        }
        return Ok(INCOMPLETE);
    };
    let line_len = lf + 1;

    if after == After::Ignore {
        // The same bound once the LF is there: a line refused while it arrived
        // must be refused when it arrives in one read.
        if over_limit(buf, arg_start, lf, limit) {
            return Err(ProtoError::MaxControlLine);
        }
        let op = match kind {
            Kind::Ping => Op::Ping,
            Kind::Pong => Op::Pong,
            _ => Op::Ok,
        };
        return Ok(Parsed::Op(op, line_len));
    }

    // The argument: up to LF, minus one trailing byte if a CR appears anywhere in it
    // (nats-server's `drop` rule).
    let arg_start = arg_start.min(lf);
    let mut arg_end = lf;
    if memchr::memchr(b'\r', &buf[arg_start..lf]).is_some() {
        arg_end -= 1;
    }
    if arg_end.saturating_sub(arg_start) > limits.max_control_line {
        return Err(ProtoError::MaxControlLine);
    }
    let arg = Span::new(arg_start, arg_end.max(arg_start));

    match kind {
        Kind::Connect => Ok(Parsed::Op(Op::Connect(arg), line_len)),
        Kind::Info => Ok(Parsed::Op(Op::Info(arg), line_len)),
        Kind::Err => Ok(Parsed::Op(Op::Err(arg), line_len)),
        Kind::Sub => {
            let mut a = Args::new(buf, arg);
            let op = match (a.next(), a.next(), a.next(), a.next()) {
                (Some(subject), Some(sid), None, None) => Op::Sub {
                    subject,
                    queue: None,
                    sid,
                },
                (Some(subject), Some(queue), Some(sid), None) => Op::Sub {
                    subject,
                    queue: Some(queue),
                    sid,
                },
                _ => return Err(ProtoError::Violation),
            };
            Ok(Parsed::Op(op, line_len))
        }
        Kind::Unsub => {
            let mut a = Args::new(buf, arg);
            let op = match (a.next(), a.next(), a.next()) {
                (Some(sid), None, None) => Op::Unsub { sid, max: 0 },
                (Some(sid), Some(max), None) => Op::Unsub {
                    sid,
                    max: parse_size(max.of(buf)).unwrap_or(0) as u64,
                },
                _ => return Err(ProtoError::Violation),
            };
            Ok(Parsed::Op(op, line_len))
        }
        Kind::Pub | Kind::Hpub => {
            let hpub = matches!(kind, Kind::Hpub);
            if hpub && !headers {
                return Err(ProtoError::Violation);
            }
            let mut a = Args::new(buf, arg);
            let mut v = [Span::default(); 4];
            let mut n = 0;
            for s in a.by_ref() {
                if n == 4 {
                    return Err(ProtoError::Violation);
                }
                v[n] = s;
                n += 1;
            }
            let sizes = if hpub { 2 } else { 1 };
            if n < sizes + 1 || n > sizes + 2 {
                return Err(ProtoError::Violation);
            }
            let subject = v[0];
            let reply = (n == sizes + 2).then_some(v[1]);
            let total = parse_size(v[n - 1].of(buf)).ok_or(ProtoError::Violation)?;
            let hdr = if hpub {
                let h = parse_size(v[n - 2].of(buf)).ok_or(ProtoError::Violation)?;
                if h > total {
                    return Err(ProtoError::Violation);
                }
                h
            } else {
                0
            };
            if total > limits.max_payload {
                return Err(ProtoError::MaxPayload);
            }
            let need = line_len + total + 2;
            // nats-server checks the terminator byte by byte: a wrong first byte
            // fails at once, without waiting for a second one.
            let end = line_len + total;
            if buf.len() > end && buf[end] != b'\r' {
                return Err(ProtoError::UnknownOp);
            }
            if buf.len() < need {
                return Ok(Parsed::Incomplete { need });
            }
            if buf[end + 1] != b'\n' {
                return Err(ProtoError::UnknownOp);
            }
            let op = Op::Pub {
                subject,
                reply,
                hdr: hdr as u32,
                payload: Span::new(line_len, line_len + total),
            };
            Ok(Parsed::Op(op, need))
        }
        Kind::Ping | Kind::Pong | Kind::Ok => unreachable!("handled above"),
    }
}

/// For the protocol trace: the op at the start of `buf` as nats-server names it
/// (upper case) and the raw text of its argument (spaces after the name
/// skipped, the CR dropped), once its control line is complete. `None` for an
/// unknown op or a line still incomplete. PING, PONG and +OK have no argument.
/// Runs only when tracing (it looks at the line a second time).
pub fn control_line(buf: &[u8]) -> Option<(&'static str, Option<Span>)> {
    if buf.is_empty() {
        return None;
    }
    let (kind, name_len, after) = op_name(buf).ok()??;
    let lf = memchr::memchr(b'\n', &buf[name_len..]).map(|i| i + name_len)?;
    let name = match kind {
        Kind::Pub => "PUB",
        Kind::Hpub => "HPUB",
        Kind::Sub => "SUB",
        Kind::Unsub => "UNSUB",
        Kind::Connect => "CONNECT",
        Kind::Info => "INFO",
        Kind::Ping => "PING",
        Kind::Pong => "PONG",
        Kind::Ok => "OK",
        Kind::Err => "-ERR",
    };
    if after == After::Ignore {
        return Some((name, None));
    }
    let mut start = name_len;
    while start < lf && is_space(buf[start]) {
        start += 1;
    }
    let mut end = lf;
    if memchr::memchr(b'\r', &buf[start..lf]).is_some() {
        end -= 1;
    }
    Some((name, Some(Span::new(start, end.max(start)))))
}

/// Whether the argument `buf[start..end]` is over `limit` as the control-line
/// limit counts it: one byte less when it holds a CR (nats-server's `drop` rule,
/// as for a complete line below). The CR is looked for only when that one byte
/// decides.
#[inline]
fn over_limit(buf: &[u8], start: usize, end: usize, limit: usize) -> bool {
    let len = end.saturating_sub(start);
    len > limit && (len - 1 > limit || memchr::memchr(b'\r', &buf[start..end]).is_none())
}

/// 1 to 9 ASCII digits, as nats-server's `parseSize`.
pub fn parse_size(d: &[u8]) -> Option<usize> {
    if d.is_empty() || d.len() > 9 {
        return None;
    }
    let mut n = 0usize;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (b - b'0') as usize;
    }
    Some(n)
}

/// Splits an argument span on runs of spaces, tabs, CRs and LFs (nats-server's
/// `splitArg`: a stray CR inside a line separates arguments).
struct Args<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Args<'a> {
    fn new(buf: &'a [u8], arg: Span) -> Self {
        Args {
            buf,
            pos: arg.start as usize,
            end: arg.end as usize,
        }
    }
}

#[inline]
fn is_arg_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl Iterator for Args<'_> {
    type Item = Span;
    fn next(&mut self) -> Option<Span> {
        while self.pos < self.end && is_arg_sep(self.buf[self.pos]) {
            self.pos += 1;
        }
        if self.pos == self.end {
            return None;
        }
        let start = self.pos;
        while self.pos < self.end && !is_arg_sep(self.buf[self.pos]) {
            self.pos += 1;
        }
        Some(Span::new(start, self.pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_control_line: 4096,
        max_payload: 1024 * 1024,
    };

    fn one(buf: &[u8]) -> Result<Parsed, ProtoError> {
        parse(buf, &L, true)
    }

    fn op(buf: &[u8]) -> (Op, usize) {
        match one(buf) {
            Ok(Parsed::Op(op, n)) => (op, n),
            other => panic!("{:?} for {:?}", other, String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn control_lines_for_the_trace() {
        let arg = |b: &[u8]| control_line(b).map(|(n, a)| (n, a.map(|s| s.of(b).to_vec())));
        assert_eq!(
            arg(b"pub\tfoo\t2\r\nhi\r\n"),
            Some(("PUB", Some(b"foo\t2".to_vec())))
        );
        assert_eq!(
            arg(b"sub  foo   1\r\n"),
            Some(("SUB", Some(b"foo   1".to_vec())))
        );
        assert_eq!(
            arg(b"PUB foo 2 \r\n"),
            Some(("PUB", Some(b"foo 2 ".to_vec())))
        );
        assert_eq!(arg(b"PING  x\r\n"), Some(("PING", None)));
        assert_eq!(arg(b"ping\n"), Some(("PING", None)));
        assert_eq!(
            arg(b"HPUB a 1 2\n"),
            Some(("HPUB", Some(b"a 1 2".to_vec())))
        );
        assert_eq!(arg(b"PUB foo"), None);
        assert_eq!(arg(b"FOO bar\r\n"), None);
    }

    #[test]
    fn ping_pong_ok_ignore_the_rest_of_the_line() {
        assert_eq!(op(b"PING\r\n"), (Op::Ping, 6));
        assert_eq!(op(b"ping\n"), (Op::Ping, 5));
        assert_eq!(op(b"PINGX\r\n"), (Op::Ping, 7));
        assert_eq!(op(b"PING foo\r\nPONG\r\n"), (Op::Ping, 10));
        assert_eq!(op(b"pOnG\r\n"), (Op::Pong, 6));
        assert_eq!(op(b"+ok\r\n"), (Op::Ok, 5));
        assert_eq!(one(b"PIN"), Ok(Parsed::Incomplete { need: 0 }));
        assert_eq!(one(b"PIX\r\n"), Err(ProtoError::UnknownOp));
    }

    #[test]
    fn unknown_ops() {
        for b in [
            &b"MSG foo 1 0\r\n"[..],
            b"RS+ a\r\n",
            b"FOO\r\n",
            b"PUBS foo 2\r\n",
            b"\r\n",
        ] {
            assert_eq!(one(b), Err(ProtoError::UnknownOp), "{:?}", b);
        }
        assert_eq!(one(b"PUB\r\n"), Err(ProtoError::UnknownOp));
        assert_eq!(one(b"-ERR\r\n"), Err(ProtoError::UnknownOp));
    }

    #[test]
    fn pub_variants() {
        let buf = b"PUB foo 5\r\nhello\r\n";
        let (o, n) = op(buf);
        assert_eq!(n, buf.len());
        match o {
            Op::Pub {
                subject,
                reply,
                hdr,
                payload,
            } => {
                assert_eq!(subject.of(buf), b"foo");
                assert_eq!(reply, None);
                assert_eq!(hdr, 0);
                assert_eq!(payload.of(buf), b"hello");
            }
            _ => panic!(),
        }
        let buf = b"pub\tfoo   bar\t 0\n\r\n";
        match op(buf).0 {
            Op::Pub { reply, payload, .. } => {
                assert_eq!(reply.unwrap().of(buf), b"bar");
                assert!(payload.is_empty());
            }
            _ => panic!(),
        }
        assert_eq!(
            one(b"PUB foo 5\r\nhel"),
            Ok(Parsed::Incomplete { need: 18 })
        );
        assert_eq!(one(b"PUB foo 5\r\nhelloX\n"), Err(ProtoError::UnknownOp));
        assert_eq!(one(b"PUB foo 5\r\nhello\n\n"), Err(ProtoError::UnknownOp));
        // The first wrong byte after the payload fails without waiting for more.
        assert_eq!(one(b"PUB foo 3\r\nabc\n"), Err(ProtoError::UnknownOp));
        assert_eq!(
            one(b"PUB foo 3\r\nabc\r"),
            Ok(Parsed::Incomplete { need: 16 })
        );
        assert_eq!(one(b"PUB foo\r\n"), Err(ProtoError::Violation));
        assert_eq!(one(b"PUB a b c 1\r\n"), Err(ProtoError::Violation));
        assert_eq!(one(b"PUB foo -1\r\n"), Err(ProtoError::Violation));
        assert_eq!(one(b"PUB foo 1234567890\r\n"), Err(ProtoError::Violation));
        assert_eq!(one(b"PUB foo 1048577\r\n"), Err(ProtoError::MaxPayload));
    }

    #[test]
    fn hpub() {
        let buf = b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n";
        match op(buf).0 {
            Op::Pub { hdr, payload, .. } => {
                assert_eq!(hdr, 22);
                assert_eq!(payload.len(), 33);
            }
            _ => panic!(),
        }
        assert_eq!(parse(buf, &L, false), Err(ProtoError::Violation));
        assert_eq!(one(b"HPUB FOO 34 33\r\n"), Err(ProtoError::Violation));
        assert_eq!(one(b"HPUB FOO 33\r\n"), Err(ProtoError::Violation));
    }

    #[test]
    fn sub_unsub() {
        let buf = b"SUB foo q 1\r\n";
        match op(buf).0 {
            Op::Sub {
                subject,
                queue,
                sid,
            } => {
                assert_eq!(subject.of(buf), b"foo");
                assert_eq!(queue.unwrap().of(buf), b"q");
                assert_eq!(sid.of(buf), b"1");
            }
            _ => panic!(),
        }
        assert_eq!(one(b"SUB foo\r\n"), Err(ProtoError::Violation));
        // A CR inside the arguments separates them, as in nats-server.
        let buf = b"SUB cr.x\r 1\r\n";
        match op(buf).0 {
            Op::Sub { subject, sid, .. } => {
                assert_eq!(subject.of(buf), b"cr.x");
                assert_eq!(sid.of(buf), b"1");
            }
            _ => panic!(),
        }
        assert_eq!(one(b"SUB a b c d\r\n"), Err(ProtoError::Violation));
        let buf = b"UNSUB 1 5\r\n";
        assert!(matches!(op(buf).0, Op::Unsub { max: 5, .. }));
        assert!(matches!(op(b"UNSUB 1 x\r\n").0, Op::Unsub { max: 0, .. }));
        assert_eq!(one(b"UNSUB\t\r\n"), Err(ProtoError::Violation));
    }

    #[test]
    fn connect_without_space() {
        let buf = b"CONNECT{\"verbose\":false}\r\n";
        match op(buf).0 {
            Op::Connect(s) => assert_eq!(s.of(buf), b"{\"verbose\":false}"),
            _ => panic!(),
        }
    }

    #[test]
    fn control_line_limit() {
        let mut line = b"SUB ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 4094));
        line.extend(b" 1\r\n");
        assert!(matches!(one(&line), Ok(Parsed::Op(..))));
        let mut line = b"SUB ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 4095));
        line.extend(b" 1\r\n");
        assert_eq!(one(&line), Err(ProtoError::MaxControlLine));
        // Partial line over the limit fails before its LF arrives.
        let mut line = b"PUB ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 4097));
        assert_eq!(one(&line), Err(ProtoError::MaxControlLine));
    }

    /// Found by the `parser` fuzz target (fuzz/artifacts/parser/): a line whose
    /// argument is exactly `max_control_line` bytes was accepted in one read but
    /// refused when a read ended right after its CR (the partial-line bound
    /// counted the CR the complete line drops); and a PING line over the 64 KiB
    /// bound was refused only when it arrived in pieces.
    #[test]
    fn control_line_limit_does_not_depend_on_read_boundaries() {
        let l = Limits {
            max_control_line: 8,
            max_payload: 1024,
        };
        let at_limit = b"SUB abcdef 1\r\n";
        assert!(matches!(parse(at_limit, &l, true), Ok(Parsed::Op(..))));
        for n in 0..at_limit.len() {
            assert_eq!(
                parse(&at_limit[..n], &l, true),
                Ok(Parsed::Incomplete { need: 0 }),
                "prefix of {n} bytes"
            );
        }
        let over = b"SUB abcdefg 1\r\n";
        assert_eq!(parse(over, &l, true), Err(ProtoError::MaxControlLine));
        assert_eq!(
            parse(&over[..13], &l, true),
            Err(ProtoError::MaxControlLine)
        );
        assert_eq!(
            parse(&over[..12], &l, true),
            Ok(Parsed::Incomplete { need: 0 })
        );

        let mut ping = b"PING".to_vec();
        ping.extend(std::iter::repeat_n(b'x', 64 * 1024));
        ping.extend(b"\r\n");
        assert_eq!(one(&ping), Ok(Parsed::Op(Op::Ping, ping.len())));
        assert_eq!(
            one(&ping[..ping.len() - 1]),
            Ok(Parsed::Incomplete { need: 0 })
        );
        ping.insert(4, b'x');
        assert_eq!(one(&ping), Err(ProtoError::MaxControlLine));
        assert_eq!(
            one(&ping[..ping.len() - 1]),
            Err(ProtoError::MaxControlLine)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"999999999"), Some(999_999_999));
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"+1"), None);
        assert_eq!(parse_size(b"1a"), None);
    }
}
