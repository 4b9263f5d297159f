//! Differential conversations: the corpus in `tests/conversations/` is replayed against
//! the reference nats-server 2.15 and against Shoal, and what every connection received
//! must be byte-for-byte identical (INFO identity values aside).
//!
//! # Conversation files (`tests/conversations/*.txt`)
//!
//! ```text
//! # What this conversation checks (comment lines start with '#'; the file must begin
//! # with at least one).
//! A> CONNECT {"verbose":false}\r\n       client A sends these bytes, then syncs
//! A< INFO {"server_id":"<norm>",...} \r\n  recorded: one frame A received in that step
//! B> SUB foo 1\r\n
//! A> PUB foo 2\r\nhi\r\n
//! B< MSG foo 1 2\r\nhi\r\n
//! A>! PUB foo x\r\n                       A sends; the server must close A
//! A= EOF
//! ```
//!
//! * Connections are named by one capital letter and opened (fresh TCP connection) on
//!   their first step; the INFO that greets them is recorded in that step.
//! * `X> data` sends `data`, then synchronises: on X, and then on every other open
//!   connection in letter order, the harness sends `PING\r\n` and reads frames until the
//!   PONG answering it (it counts the PINGs the step itself sent), then a second
//!   `PING\r\n` round trip that catches anything queued right behind the first PONG (the
//!   `connect_info` INFO). The harness's own PONGs are not recorded. A step with no data
//!   (`X>` alone) just opens X and syncs.
//! * `X>! data` sends `data` and expects the server to close X: frames are read until
//!   EOF (at most 1 s) and recorded, then `X= EOF` (or `X= TIMEOUT`); then the other
//!   connections are synchronised.
//! * `X>+ data` sends `data` and, without syncing, waits until the server has read it
//!   (the kernel's queues, see [`Raw::wait_read_by_server`]), so that the next step's
//!   bytes reach the server in a separate read (lines split across writes).
//! * Escapes in data and in recorded frames: `\r \n \t \\ \xNN`, and `\{N:c}` for the
//!   byte `c` repeated N times. Data runs to the end of the line: write a trailing space
//!   as `\x20`.
//! * `X< frame` lines are one received frame each (a control line, plus its payload for
//!   MSG/HMSG); `X= ...` lines are events (EOF, TIMEOUT, ...). They are *recorded*: they
//!   document what the reference does and are checked against it, but the Shoal test
//!   compares Shoal with a live reference run. Re-record with `SHOAL_BLESS=1 cargo test
//!   --test e2e differential::reference`.
//! * `X= EOF` is the only event a conversation may record. Any other (`TIMEOUT`,
//!   `NO INFO`, `CONNECT FAILED`, `SEND FAILED`, `SKIPPED`, `NOT READ`, `NOT CLOSED`,
//!   `NOT RUN`) means the conversation did not run as written on that server, and
//!   fails the test even when both servers recorded the same.
//!
//! Normalisation: in INFO frames the values of the identity keys in [`NORMALISED_KEYS`]
//! become `"<norm>"` (strings) or `<norm>` (numbers); keys, their order and every other
//! value are compared as sent. Nothing else is normalised.
//!
//! Isolation: one server per kind runs the whole corpus, conversations one after
//! another. A conversation's connections are closed at its end, but the server may
//! still hold their subscriptions for a moment, so a conversation whose outcome depends
//! on the *absence* of subscribers (queue groups, no-responders) must use subjects that
//! no other file subscribes to, and any conversation that subscribes to a wildcard with
//! a wildcard first token (`>`, `*.x`) must UNSUB it before it ends. Keep each
//! conversation well under ~1.5 s: the server sends its own first PING ~2 s after
//! CONNECT. nats-server hands one message to several subscriptions of one connection
//! on the *same* subject in Go map order (random): give them different subjects.
//!
//! Tests: `reference_is_deterministic_and_matches_recording` (two nats-server runs agree
//! with each other and with the recordings, every close is marked `X>!` and every `X>!`
//! closes, at least [`MIN_CORPUS`] files) guards the harness and the corpus;
//! `shoal_matches_reference` is the differential test proper. Run both with
//! `cargo test --test e2e differential`.

use std::collections::btree_map::{BTreeMap, Entry};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{self, Raw, ReadEnd};

const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conversations");
/// INFO keys whose values differ between servers or runs and are masked.
const NORMALISED_KEYS: &[&str] = &[
    "server_id",
    "server_name",
    "version",
    "go",
    "host",
    "port",
    "client_id",
    "client_ip",
    "nonce",
];
/// INFO keys dropped (key and value) before comparing: nats-server sends them for
/// features Shoal does not have — the build commit, JetStream's API level and the
/// auth-callout curve key — and Shoal omits them, as nats-server itself does when
/// those features are off.
const DROPPED_KEYS: &[&str] = &["git_commit", "api_lvl", "xkey"];
/// Conversations where Shoal knowingly differs, with the reason; reported, not failed.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[(
    "pub_size_leading_zeros",
    "nats-server echoes a PUB size written with leading zeros (`002`) into MSG; \
     Shoal writes sizes canonically",
)];
/// How long a sync or a close may take before the step is recorded as TIMEOUT.
const STEP_TIMEOUT: Duration = Duration::from_secs(1);
/// Wall-clock budget for one pass over the corpus (a healthy pass takes well under 1 s).
const CORPUS_BUDGET: Duration = Duration::from_secs(45);
const MIN_CORPUS: usize = 100;
/// The corpora: the top directory, run against servers with their defaults, and
/// subdirectories whose `server.conf` both servers are started with (`auth/`: the
/// users, passwords and permissions every auth conversation logs in with; the
/// token, the single user, `no_auth_user`), each
/// with the fewest conversations it must hold.
const SUITES: &[(&str, usize)] = &[
    ("", MIN_CORPUS),
    ("auth", 20),
    ("auth_token", 5),
    ("auth_single", 5),
    ("auth_no_auth_user", 5),
    ("auth_accounts", 8),
    ("mappings", 3),
    ("imports", 3),
];

/// The directory of the suite `sub`.
fn suite_dir(sub: &str) -> std::path::PathBuf {
    Path::new(CORPUS_DIR).join(sub)
}

/// One server of `kind` for the suite `sub`, with its `server.conf` if it has one.
fn suite_server(sub: &str, reference: bool) -> util::ServerProc {
    match std::fs::read_to_string(suite_dir(sub).join("server.conf")) {
        Ok(conf) if reference => util::nats_server_conf(&conf, &[]),
        Ok(conf) => util::shoal_conf(&conf, &[]),
        Err(_) if reference => util::nats_server(&[]),
        Err(_) => util::shoal(&[]),
    }
}

/// How a step's connection is treated after its bytes are sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// `X>`: PING/PONG sync.
    Sync,
    /// `X>!`: the server must close the connection.
    Close,
    /// `X>+`: no sync; wait until the server has read the bytes.
    NoSync,
}

struct Step {
    /// 1-based line number in the file.
    line: usize,
    /// The step line as written.
    source: String,
    conn: char,
    mode: Mode,
    data: Vec<u8>,
    /// `X<`/`X=` lines recorded under the step in the file.
    recorded: Vec<String>,
}

struct Conversation {
    name: String,
    text: String,
    steps: Vec<Step>,
}

/// What every connection received, per step: `X< frame` and `X= event` lines.
type Transcript = Vec<Vec<String>>;

// ---------------------------------------------------------------------------------
// Corpus loading and the file format

fn load_corpus(sub: &str) -> Vec<Conversation> {
    let dir = suite_dir(sub);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            parse_conversation(&name, &text).unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .collect()
}

fn parse_conversation(name: &str, text: &str) -> Result<Conversation, String> {
    if !text.starts_with('#') {
        return Err("must start with a '#' comment saying what it checks".into());
    }
    let mut steps: Vec<Step> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", i + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut chars = line.chars();
        let conn = chars.next().unwrap();
        let rest = chars.as_str();
        if !conn.is_ascii_uppercase() {
            return Err(at(format!("expected a connection letter A-Z: {line:?}")));
        }
        if rest.starts_with('<') || rest.starts_with('=') {
            let step = steps
                .last_mut()
                .ok_or_else(|| at("recorded line before any step".into()))?;
            step.recorded.push(line.to_owned());
            continue;
        }
        let (mode, data) = if let Some(d) = rest.strip_prefix(">!") {
            (Mode::Close, d)
        } else if let Some(d) = rest.strip_prefix(">+") {
            (Mode::NoSync, d)
        } else if let Some(d) = rest.strip_prefix('>') {
            (Mode::Sync, d)
        } else {
            return Err(at(format!("expected X>, X>!, X>+, X< or X=: {line:?}")));
        };
        let data = match data {
            "" => "",
            d => d
                .strip_prefix(' ')
                .ok_or_else(|| at("missing space after the marker".into()))?,
        };
        let data = unescape(data).map_err(at)?;
        steps.push(Step {
            line: i + 1,
            source: line.to_owned(),
            conn,
            mode,
            data,
            recorded: Vec::new(),
        });
    }
    if steps.is_empty() {
        return Err("no steps".into());
    }
    Ok(Conversation {
        name: name.to_owned(),
        text: text.to_owned(),
        steps,
    })
}

fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            let mut tmp = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            continue;
        }
        match it.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = it.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?);
            }
            Some('{') => {
                let count: String = it.by_ref().take_while(|&c| c != ':').collect();
                let count: usize = count
                    .parse()
                    .map_err(|_| format!("bad repeat count {count:?}"))?;
                let byte = it
                    .next()
                    .filter(char::is_ascii)
                    .ok_or("repeat needs an ASCII byte")?;
                if it.next() != Some('}') {
                    return Err("unterminated \\{N:c}".into());
                }
                out.resize(out.len() + count, byte as u8);
            }
            other => return Err(format!("bad escape \\{other:?}")),
        }
    }
    Ok(out)
}

/// [`util::escape`], plus `\{N:c}` for runs of 16 or more of one printable byte.
fn escape_frame(bytes: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let run = bytes[i..].iter().take_while(|&&x| x == b).count();
        if run >= 16 && (0x21..=0x7e).contains(&b) && b != b'\\' {
            let _ = write!(s, "\\{{{run}:{}}}", b as char);
            i += run;
        } else {
            s.push_str(&util::escape(&[b]));
            i += 1;
        }
    }
    s
}

/// The file text with its recorded lines replaced by `transcript`.
fn render(conv: &Conversation, transcript: &Transcript) -> String {
    let mut out = String::new();
    let mut step = 0;
    for line in conv.text.lines() {
        let recorded = line.len() >= 2
            && line.as_bytes()[0].is_ascii_uppercase()
            && matches!(line.as_bytes()[1], b'<' | b'=');
        if recorded {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if conv
            .steps
            .get(step)
            .is_some_and(|s| s.source == line && line.as_bytes()[1] == b'>')
        {
            for rec in transcript.get(step).into_iter().flatten() {
                out.push_str(rec);
                out.push('\n');
            }
            step += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Normalisation

/// Masks the [`NORMALISED_KEYS`] values of an `INFO {json} \r\n` frame, keeping the
/// JSON's exact bytes otherwise (key order, spacing, the trailing space).
fn normalise(frame: &[u8]) -> Vec<u8> {
    let Some(json_at) = frame.strip_prefix(b"INFO ").map(|_| 5) else {
        return frame.to_vec();
    };
    let Some(start) = frame[json_at..]
        .iter()
        .position(|&b| b == b'{')
        .map(|p| p + json_at)
    else {
        return frame.to_vec();
    };
    let mut out = frame[..=start].to_vec();
    let mut i = start + 1;
    // Top-level members: "key":value, separated by commas. Anything unexpected stops the
    // rewriting and copies the rest verbatim.
    while i < frame.len() {
        let b = frame[i];
        if b != b'"' {
            out.push(b);
            i += 1;
            if b == b'}' {
                break;
            }
            continue;
        }
        let key_end = json_value_end(frame, i);
        let key = &frame[i + 1..key_end.saturating_sub(1).max(i + 1)];
        out.extend_from_slice(&frame[i..key_end]);
        i = key_end;
        while i < frame.len() && matches!(frame[i], b':' | b' ') {
            out.push(frame[i]);
            i += 1;
        }
        let value_end = json_value_end(frame, i);
        let value = &frame[i..value_end];
        if DROPPED_KEYS.iter().any(|k| k.as_bytes() == key) {
            // Remove `"key":value` and one adjacent comma.
            out.truncate(out.len() - (i - (key_end - key.len() - 2)));
            if out.last() == Some(&b',') {
                out.pop();
                i = value_end;
            } else {
                i = value_end;
                if frame.get(i) == Some(&b',') {
                    i += 1;
                }
            }
            continue;
        }
        if NORMALISED_KEYS.iter().any(|k| k.as_bytes() == key) {
            match value.first() {
                Some(b'"') => out.extend_from_slice(b"\"<norm>\""),
                Some(b'-' | b'0'..=b'9') => out.extend_from_slice(b"<norm>"),
                _ => out.extend_from_slice(value),
            }
        } else {
            out.extend_from_slice(value);
        }
        i = value_end;
    }
    out.extend_from_slice(&frame[i..]);
    out
}

/// End (exclusive) of the JSON value starting at `i`: a string, a nested array/object,
/// or a scalar running to the next `,` `}` `]`.
fn json_value_end(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    let mut in_str = false;
    let start = i;
    while i < b.len() {
        let c = b[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => {
                    in_str = false;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b',' | b'}' | b']' if depth == 0 && i > start => return i,
                _ => {}
            }
        }
        i += 1;
    }
    b.len()
}

// ---------------------------------------------------------------------------------
// Running

struct Conn {
    raw: Raw,
    /// Closed by the server, timed out, or unwritable: no more steps or syncs.
    gone: bool,
    /// Bytes sent since the last sync (their PINGs are answered before the sync's).
    unsynced: Vec<u8>,
}

/// Number of PINGs in client bytes: lines whose op starts with `ping` (any case; the
/// server ignores the rest of such a line), skipping PUB/HPUB payloads.
fn count_pings(mut b: &[u8]) -> usize {
    let mut pings = 0;
    while let Some(nl) = b.iter().position(|&c| c == b'\n') {
        let line = &b[..nl];
        b = &b[nl + 1..];
        let op_end = line
            .iter()
            .position(|&c| matches!(c, b' ' | b'\t' | b'\r'))
            .unwrap_or(line.len());
        let op = line[..op_end].to_ascii_lowercase();
        if op.starts_with(b"ping") {
            pings += 1;
        } else if op == b"pub" || op == b"hpub" {
            let size = line
                .split(|&c| matches!(c, b' ' | b'\t' | b'\r'))
                .rfind(|t| !t.is_empty())
                .and_then(|t| std::str::from_utf8(t).ok()?.parse::<usize>().ok());
            if let Some(size) = size {
                b = &b[(size + 2).min(b.len())..];
            }
        }
    }
    pings
}

fn record_frame(out: &mut Vec<String>, conn: char, frame: &[u8]) {
    out.push(format!("{conn}< {}", escape_frame(&normalise(frame))));
}

fn record_end(out: &mut Vec<String>, conn: char, c: &mut Conn, end: ReadEnd) {
    let rest = c.raw.take_buffered();
    if !rest.is_empty() {
        record_frame(out, conn, &rest);
    }
    out.push(format!(
        "{conn}= {}",
        match end {
            ReadEnd::Eof | ReadEnd::Reset => "EOF",
            ReadEnd::TimedOut => "TIMEOUT",
        }
    ));
    c.gone = true;
    c.raw.shutdown_write();
}

/// One PING round trip expecting `pongs` PONGs: the frames before the last PONG, and
/// why reading stopped early, if it did.
fn ping_round(c: &mut Conn, pongs: usize) -> (Vec<Vec<u8>>, Option<ReadEnd>) {
    let mut frames = Vec::new();
    if c.raw.try_send(b"PING\r\n").is_err() {
        return (frames, Some(ReadEnd::Reset));
    }
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut seen = 0;
    while seen < pongs {
        match c.raw.read_frame(deadline) {
            Ok(frame) if frame == b"PONG\r\n" && seen + 1 == pongs => seen += 1,
            Ok(frame) => {
                seen += usize::from(frame == b"PONG\r\n");
                frames.push(frame);
            }
            Err(end) => return (frames, Some(end)),
        }
    }
    (frames, None)
}

/// Syncs `conn` (see the module doc) and records what it received.
fn sync(conn: char, c: &mut Conn, out: &mut Vec<String>) {
    let pongs = count_pings(&c.unsynced) + 1;
    c.unsynced.clear();
    for pongs in [pongs, 1] {
        let (frames, end) = ping_round(c, pongs);
        frames.iter().for_each(|f| record_frame(out, conn, f));
        if let Some(end) = end {
            return record_end(out, conn, c, end);
        }
    }
}

fn run_conversation(port: u16, conv: &Conversation) -> Transcript {
    let mut conns: BTreeMap<char, Conn> = BTreeMap::new();
    let mut transcript = Vec::new();
    for step in &conv.steps {
        let mut out = Vec::new();
        if let Entry::Vacant(slot) = conns.entry(step.conn) {
            let mut raw = match Raw::try_connect(port) {
                Ok(raw) => raw,
                Err(e) => {
                    out.push(format!("{}= CONNECT FAILED ({:?})", step.conn, e.kind()));
                    transcript.push(out);
                    continue;
                }
            };
            match raw.read_frame(Instant::now() + STEP_TIMEOUT) {
                Ok(info) => record_frame(&mut out, step.conn, &info),
                Err(end) => out.push(format!("{}= NO INFO ({end:?})", step.conn)),
            }
            slot.insert(Conn {
                raw,
                gone: false,
                unsynced: Vec::new(),
            });
        }
        let c = conns.get_mut(&step.conn).expect("opened above");
        if c.gone {
            out.push(format!("{}= SKIPPED (connection is gone)", step.conn));
            transcript.push(out);
            continue;
        }
        if let Err(e) = c.raw.try_send(&step.data) {
            out.push(format!("{}= SEND FAILED ({:?})", step.conn, e.kind()));
            c.gone = true;
        }
        c.unsynced.extend_from_slice(&step.data);
        match step.mode {
            _ if c.gone => {}
            Mode::NoSync => {
                if !c.raw.wait_read_by_server(Instant::now() + STEP_TIMEOUT) {
                    out.push(format!("{}= NOT READ (by the server)", step.conn));
                }
            }
            Mode::Sync => sync(step.conn, c, &mut out),
            Mode::Close => {
                let deadline = Instant::now() + STEP_TIMEOUT;
                loop {
                    match c.raw.read_frame(deadline) {
                        Ok(frame) => record_frame(&mut out, step.conn, &frame),
                        Err(end) => break record_end(&mut out, step.conn, c, end),
                    }
                }
            }
        }
        if step.mode != Mode::NoSync {
            for (&name, other) in conns.iter_mut() {
                if name != step.conn && !other.gone {
                    sync(name, other, &mut out);
                }
            }
        }
        transcript.push(out);
    }
    // Close: half-close each connection and wait for the server to close its side, so
    // the next conversation starts on a server that has (nearly) forgotten this one. A
    // connection still open at the deadline is recorded (and fails the conversation).
    for c in conns.values_mut().filter(|c| !c.gone) {
        c.raw.shutdown_write();
    }
    let deadline = Instant::now() + STEP_TIMEOUT;
    for (&name, c) in conns.iter_mut().filter(|(_, c)| !c.gone) {
        let end = loop {
            match c.raw.fill(deadline) {
                Ok(_) => {}
                Err(end) => break end,
            }
        };
        if end == ReadEnd::TimedOut {
            if let Some(last) = transcript.last_mut() {
                last.push(format!("{name}= NOT CLOSED (after the last step)"));
            }
        }
    }
    transcript
}

/// The first event of `transcript` that says the conversation did not run as
/// written: every event but `EOF` (see the module doc).
fn not_run(transcript: &Transcript) -> Option<&str> {
    transcript
        .iter()
        .flatten()
        .map(String::as_str)
        .find(|line| line.get(1..3) == Some("= ") && &line[3..] != "EOF")
}

/// Every conversation of `run` that did not run as written on `server`.
fn not_run_on(server: &str, corpus: &[Conversation], run: &[Transcript]) -> Vec<String> {
    assert_eq!(
        corpus.len(),
        run.len(),
        "{server}: a transcript per conversation"
    );
    corpus
        .iter()
        .zip(run)
        .filter_map(|(conv, t)| not_run(t).map(|event| format!("{}: {server}: {event}", conv.name)))
        .collect()
}

/// Runs every conversation in order. A server that keeps timing out would take minutes,
/// so after [`CORPUS_BUDGET`] the remaining conversations are recorded as not run.
fn run_corpus(port: u16, corpus: &[Conversation]) -> Vec<Transcript> {
    let deadline = Instant::now() + CORPUS_BUDGET;
    corpus
        .iter()
        .map(|conv| match Instant::now() < deadline {
            true => run_conversation(port, conv),
            false => vec![vec![format!(
                "{}= NOT RUN (corpus time budget spent)",
                conv.steps[0].conn
            )]],
        })
        .collect()
}

/// Runs the corpus against two servers concurrently.
fn run_pair(
    corpus: &[Conversation],
    a: &util::ServerProc,
    b: &util::ServerProc,
) -> (Vec<Transcript>, Vec<Transcript>) {
    std::thread::scope(|s| {
        let ta = s.spawn(|| run_corpus(a.port, corpus));
        let tb = s.spawn(|| run_corpus(b.port, corpus));
        (ta.join().unwrap(), tb.join().unwrap())
    })
}

/// Reports every conversation whose transcripts differ; returns their names.
fn compare(
    corpus: &[Conversation],
    left_name: &str,
    left: &[Transcript],
    right_name: &str,
    right: &[Transcript],
) -> Vec<String> {
    let mut failed = Vec::new();
    for ((conv, l), r) in corpus.iter().zip(left).zip(right) {
        if l == r {
            continue;
        }
        let i = (0..conv.steps.len())
            .find(|&i| l.get(i) != r.get(i))
            .unwrap_or(0);
        let step = &conv.steps[i];
        eprintln!(
            "==== {}: first difference at step {} (line {}: {})\n---- {left_name}:\n{}---- {right_name}:\n{}",
            conv.name,
            i + 1,
            step.line,
            step.source,
            render(conv, l),
            render(conv, r),
        );
        failed.push(conv.name.clone());
    }
    failed
}

/// Corpus errors in a reference run: a step whose connection the reference closes must
/// be marked `X>!`, and an `X>!` step must be one the reference closes.
fn check_close_markers(corpus: &[Conversation], run: &[Transcript]) -> Vec<String> {
    let mut errors = Vec::new();
    for (conv, transcript) in corpus.iter().zip(run) {
        for (step, out) in conv.steps.iter().zip(transcript) {
            let eof = out.contains(&format!("{}= EOF", step.conn));
            if eof != (step.mode == Mode::Close) {
                let want = if eof {
                    "closes it: mark the step X>!"
                } else {
                    "does not close it"
                };
                errors.push(format!(
                    "{} line {}: nats-server {want}",
                    conv.name, step.line
                ));
            }
        }
    }
    errors
}

#[test]
fn reference_is_deterministic_and_matches_recording() {
    for &(sub, min) in SUITES {
        reference_suite(sub, min);
    }
}

fn reference_suite(sub: &str, min: usize) {
    let corpus = load_corpus(sub);
    assert!(
        corpus.len() >= min,
        "corpus {sub:?} has {} conversations, want >= {min}",
        corpus.len()
    );
    let (s1, s2) = (suite_server(sub, true), suite_server(sub, true));
    let (run1, run2) = run_pair(&corpus, &s1, &s2);
    // Two runs that both failed to run a conversation would agree: that is a failure,
    // never a match (and never recorded).
    let mut incomplete = not_run_on("nats-server run 1", &corpus, &run1);
    incomplete.extend(not_run_on("nats-server run 2", &corpus, &run2));
    assert!(
        incomplete.is_empty(),
        "{} conversation runs did not complete:\n{}",
        incomplete.len(),
        incomplete.join("\n")
    );
    let misauthored = check_close_markers(&corpus, &run1);
    assert!(
        misauthored.is_empty(),
        "corpus errors:\n{}",
        misauthored.join("\n")
    );
    let differ = compare(
        &corpus,
        "nats-server run 1",
        &run1,
        "nats-server run 2",
        &run2,
    );
    assert!(
        differ.is_empty(),
        "{} conversations differ between two nats-server runs: {differ:?}",
        differ.len()
    );

    if std::env::var_os("SHOAL_BLESS").is_some() {
        for (conv, t) in corpus.iter().zip(&run1) {
            std::fs::write(suite_dir(sub).join(&conv.name), render(conv, t)).unwrap();
        }
        return;
    }
    let recorded: Vec<Transcript> = corpus
        .iter()
        .map(|c| c.steps.iter().map(|s| s.recorded.clone()).collect())
        .collect();
    let stale = compare(
        &corpus,
        "recorded in the file",
        &recorded,
        "nats-server now",
        &run1,
    );
    assert!(
        stale.is_empty(),
        "{} recordings differ from the live nats-server (SHOAL_BLESS=1 re-records): {stale:?}",
        stale.len()
    );
}

#[test]
fn shoal_matches_reference() {
    for &(sub, _) in SUITES {
        shoal_suite(sub);
    }
}

fn shoal_suite(sub: &str) {
    let corpus = load_corpus(sub);
    let (reference, shoal) = (suite_server(sub, true), suite_server(sub, false));
    let (want, got) = run_pair(&corpus, &reference, &shoal);
    // A conversation that did not run on a side fails, even if both sides agree.
    let mut incomplete = not_run_on("nats-server", &corpus, &want);
    incomplete.extend(not_run_on("shoal", &corpus, &got));
    assert!(
        incomplete.is_empty(),
        "{} conversation runs did not complete:\n{}",
        incomplete.len(),
        incomplete.join("\n")
    );
    let mut differ = compare(&corpus, "nats-server", &want, "shoal", &got);
    differ.retain(
        |name| match KNOWN_DIFFERENCES.iter().find(|(k, _)| name.contains(k)) {
            Some((k, why)) => {
                eprintln!("known difference in {k}: {why}");
                false
            }
            None => true,
        },
    );
    assert!(
        differ.is_empty(),
        "{} of {} conversations differ between nats-server and shoal: {differ:?}",
        differ.len(),
        corpus.len()
    );
}

#[test]
fn format_round_trips() {
    assert_eq!(
        unescape(r"a\r\n\t\\\x00\{3:x}b").unwrap(),
        b"a\r\n\t\\\x00xxxb"
    );
    let frame = b"MSG a 1 20\r\n\\\xff\x01yyyyyyyyyyyyyyyyyy\r\n";
    assert_eq!(unescape(&escape_frame(frame)).unwrap(), frame);
    let info =
        br#"INFO {"server_id":"N1","port":4222,"headers":true,"connect_urls":["a:1"],"xkey":"X"} "#;
    assert_eq!(
        normalise(info),
        br#"INFO {"server_id":"<norm>","port":<norm>,"headers":true,"connect_urls":["a:1"]} "#
    );
    assert_eq!(
        normalise(br#"INFO {"git_commit":"x","a":1,"api_lvl":5,"b":2} "#),
        br#"INFO {"a":1,"b":2} "#
    );
    assert_eq!(
        count_pings(b"PUB a 6\r\nPING\r\n\r\nping\r\nPINGX\nPONG\r\n"),
        2
    );
    // Only EOF is a normal event; anything else means "did not run".
    let ran: Transcript = vec![vec!["A< PONG\\r\\n".into(), "A= EOF".into()]];
    assert_eq!(not_run(&ran), None);
    for event in [
        "A= NOT RUN (corpus time budget spent)",
        "B= TIMEOUT",
        "A= NO INFO (Eof)",
    ] {
        let t: Transcript = vec![vec!["A< PONG\\r\\n".into()], vec![event.into()]];
        assert_eq!(not_run(&t), Some(event));
    }
}
