//! Oracle for the client-protocol parser (`shoal_proto::parse`), shared by the
//! `parser` fuzz target and `crates/proto/tests/fuzz_corpus.rs`.
//!
//! Input layout (every byte optional; a missing one reads as 0):
//!
//! * byte 0, the configuration: bit 0 = the connection negotiated headers;
//!   bits 1-2 pick `max_control_line` from [`CONTROL_LINES`], bits 3-4 pick
//!   `max_payload` from [`PAYLOADS`] (index 0 is the server default, so a seed
//!   starting with `\x01\x00` is an ordinary connection); bit 5 also feeds the
//!   stream one byte at a time.
//! * byte 1: `n = byte % 8`, the number of chunk lengths that follow;
//! * the next `n` bytes: the lengths of the first `n` reads (0 is an empty
//!   read); the rest of the stream is the last read.
//! * everything after that: the byte stream a client sends.
//!
//! The checks:
//!
//! 1. Split invariance: the stream parsed whole by a consumer loop that mimics
//!    the server (parse from the start of the unconsumed bytes, consume `len` on
//!    an op, stop on `Incomplete` or an error) gives the same ops, each with the
//!    same consumed bytes, and the same final state (the error, or `Incomplete`
//!    with its `need`) as the same bytes arriving in the chosen reads (and, with
//!    bit 5, one byte per read). Ops are compared by the contents of their spans,
//!    not by offsets.
//! 2. Every op's length is positive and within the buffer, its spans lie inside
//!    its own bytes (a PUB's payload is exactly the `len - 2` bytes after the
//!    control line, followed by CRLF, and its header size is not above it);
//!    `Incomplete { need }` is 0 or more than the bytes at hand.
//! 3. [`shoal_proto::control_line`] (the protocol trace) agrees with every op: it
//!    names the same op and gives CONNECT/INFO/-ERR the same argument.
//! 4. CONNECT's JSON and the error texts do not panic.

use shoal_proto::{control_line, parse, ConnectOptions, Limits, Op, Parsed, ProtoError};

/// `max_control_line` choices: the server default, then small ones that make
/// the limit reachable with short inputs.
pub const CONTROL_LINES: [usize; 4] = [4096, 8, 16, 64];
/// `max_payload` choices, likewise.
pub const PAYLOADS: [usize; 4] = [1024 * 1024, 0, 3, 64];

/// An op with its spans replaced by the bytes they cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Connect(Vec<u8>),
    Info(Vec<u8>),
    Pub {
        subject: Vec<u8>,
        reply: Option<Vec<u8>>,
        hdr: u32,
        payload: Vec<u8>,
    },
    Sub {
        subject: Vec<u8>,
        queue: Option<Vec<u8>>,
        sid: Vec<u8>,
    },
    Unsub {
        sid: Vec<u8>,
        max: u64,
    },
    Ping,
    Pong,
    Ok,
    Err(Vec<u8>),
}

/// How a stream ended: waiting for more bytes, or closed by an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Incomplete { need: usize },
    Error(ProtoError),
}

/// Everything a consumer saw: each op with the bytes it consumed, then the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ops: Vec<(View, Vec<u8>)>,
    pub end: End,
}

/// Decodes the configuration header: (limits, headers, byte-at-a-time, chunk
/// lengths, stream).
pub fn split_input(data: &[u8]) -> (Limits, bool, bool, Vec<usize>, &[u8]) {
    let config = data.first().copied().unwrap_or(0);
    let n = data.get(1).map_or(0, |b| (b % 8) as usize);
    let rest = data.get(2..).unwrap_or(&[]);
    let n = n.min(rest.len());
    let chunks = rest[..n].iter().map(|&b| b as usize).collect();
    let limits = Limits {
        max_control_line: CONTROL_LINES[((config >> 1) & 3) as usize],
        max_payload: PAYLOADS[((config >> 3) & 3) as usize],
    };
    (
        limits,
        config & 1 == 1,
        config & 0x20 != 0,
        chunks,
        &rest[n..],
    )
}

pub fn check(data: &[u8]) {
    let (limits, headers, bytewise, chunks, stream) = split_input(data);
    let whole = feed(&[stream], &limits, headers);
    let reads = reads(stream, &chunks);
    let split = feed(&reads, &limits, headers);
    assert_eq!(
        whole,
        split,
        "split invariance: reads of {:?} (limits {limits:?}, headers {headers})",
        reads_lengths(&reads)
    );
    if bytewise {
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let one_by_one = feed(&bytes, &limits, headers);
        assert_eq!(whole, one_by_one, "split invariance: one byte per read");
    }
}

/// The stream cut into reads of the given lengths (clamped), then the rest.
fn reads<'a>(stream: &'a [u8], chunks: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(chunks.len() + 1);
    let mut at = 0;
    for &len in chunks {
        let end = (at + len).min(stream.len());
        out.push(&stream[at..end]);
        at = end;
    }
    out.push(&stream[at..]);
    out
}

fn reads_lengths(reads: &[&[u8]]) -> Vec<usize> {
    reads.iter().map(|r| r.len()).collect()
}

/// The server's consumer loop over a sequence of reads: append each read to the
/// unconsumed bytes, then parse from their start until `Incomplete` (wait for
/// the next read) or an error (the connection closes: later reads are unseen).
pub fn feed(reads: &[&[u8]], limits: &Limits, headers: bool) -> Outcome {
    let mut buf: Vec<u8> = Vec::new();
    let mut ops = Vec::new();
    let mut end = End::Incomplete { need: 0 };
    for read in reads {
        buf.extend_from_slice(read);
        loop {
            match parse(&buf, limits, headers) {
                Ok(Parsed::Op(op, len)) => {
                    assert!(
                        len > 0 && len <= buf.len(),
                        "op length {len} of {}",
                        buf.len()
                    );
                    let view = view(&op, &buf[..len]);
                    ops.push((view, buf[..len].to_vec()));
                    buf.drain(..len);
                }
                Ok(Parsed::Incomplete { need }) => {
                    assert!(
                        need == 0 || need > buf.len(),
                        "Incomplete {{ need: {need} }} with {} bytes at hand",
                        buf.len()
                    );
                    end = End::Incomplete { need };
                    break;
                }
                Err(e) => {
                    let _ = (e.err_line(), e.close_reason(), e.to_string());
                    return Outcome {
                        ops,
                        end: End::Error(e),
                    };
                }
            }
        }
    }
    Outcome { ops, end }
}

/// The op's spans as bytes, checking that they lie inside `op_bytes` (exactly
/// the bytes the op consumed) and that the trace agrees with the parser.
fn view(op: &Op, op_bytes: &[u8]) -> View {
    let of = |s: &shoal_proto::Span| {
        assert!(
            s.start <= s.end && s.end as usize <= op_bytes.len(),
            "span {s:?} outside the op's {} bytes",
            op_bytes.len()
        );
        s.of(op_bytes).to_vec()
    };
    let (name, arg) = control_line(op_bytes).expect("control_line on a parsed op");
    let same_arg = |s: &shoal_proto::Span| {
        assert_eq!(
            arg,
            Some(*s),
            "control_line's argument differs from the op's"
        );
    };
    let v = match op {
        Op::Connect(s) => {
            same_arg(s);
            let _ = ConnectOptions::parse(s.of(op_bytes));
            View::Connect(of(s))
        }
        Op::Info(s) => {
            same_arg(s);
            View::Info(of(s))
        }
        Op::Err(s) => {
            same_arg(s);
            View::Err(of(s))
        }
        Op::Pub {
            subject,
            reply,
            hdr,
            payload,
        } => {
            let line_len = op_bytes.len() - payload.len() - 2;
            assert_eq!(payload.start as usize, line_len, "payload follows the line");
            assert_eq!(op_bytes[line_len - 1], b'\n', "the control line ends in LF");
            assert_eq!(&op_bytes[op_bytes.len() - 2..], b"\r\n", "payload + CRLF");
            assert!(*hdr as usize <= payload.len(), "header above total");
            assert!(subject.end as usize <= line_len);
            View::Pub {
                subject: of(subject),
                reply: reply.as_ref().map(of),
                hdr: *hdr,
                payload: of(payload),
            }
        }
        Op::Sub {
            subject,
            queue,
            sid,
        } => View::Sub {
            subject: of(subject),
            queue: queue.as_ref().map(of),
            sid: of(sid),
        },
        Op::Unsub { sid, max } => View::Unsub {
            sid: of(sid),
            max: *max,
        },
        Op::Ping => View::Ping,
        Op::Pong => View::Pong,
        Op::Ok => View::Ok,
    };
    let want = match &v {
        View::Connect(_) => &["CONNECT"][..],
        View::Info(_) => &["INFO"],
        View::Pub { .. } => &["PUB", "HPUB"],
        View::Sub { .. } => &["SUB"],
        View::Unsub { .. } => &["UNSUB"],
        View::Ping => &["PING"],
        View::Pong => &["PONG"],
        View::Ok => &["OK"],
        View::Err(_) => &["-ERR"],
    };
    assert!(want.contains(&name), "control_line names {name} for {v:?}");
    if matches!(v, View::Ping | View::Pong | View::Ok) {
        assert_eq!(arg, None, "PING/PONG/+OK have no argument");
    }
    v
}
