//! The protocol trace (`-V`, `-DV`, `trace: true`): every op a client sends and
//! every op the server sends it, in nats-server's words, so an operator reads a
//! Shoal trace as a nats-server one:
//!
//! ```text
//! [TRC] 127.0.0.1:35062 - cid:5 - <<- [PUB foo 5]
//! [TRC] 127.0.0.1:35062 - cid:5 - <<- MSG_PAYLOAD: ["hello"]
//! [TRC] 127.0.0.1:35070 - cid:7 - ->> [MSG foo 1 5]
//! [TRC] 127.0.0.1:35062 - cid:5 - ->> [PONG]
//! [TRC] 127.0.0.1:35070 - cid:7 - <-> [DELSUB 1]
//! ```
//!
//! Rules (checked against nats-server 2.15.1): ops are upper case with their
//! raw argument text; payloads are Go-quoted (`%q`), cut at
//! `max_traced_msg_len` with `...`, omitted when empty, reduced to the header
//! block by `trace_headers`; deliveries are traced on the subscriber's prefix;
//! the greeting INFO, the `connect_info` INFO, the 503 no-responders message and
//! `-ERR 'Stale Connection'` are not traced; CONNECT secrets are redacted.
//!
//! Lines go through `log::trace!`, which only queues them (see the binary's
//! logger): tracing never blocks a core and never changes what is delivered or
//! in which order. Callers check [`on`] first, so a server that does not trace
//! pays one relaxed load per op. Each function takes the connection's log
//! prefix (`Client::log_prefix`); this module knows nothing else of clients.

use std::fmt;

use shoal_go::Quoted;

/// Whether protocol tracing is on (the log level admits trace lines).
#[inline]
pub fn on() -> bool {
    log::max_level() >= log::LevelFilter::Trace
}

/// Bytes shown as text: nats-server prints control-line arguments raw; Shoal
/// writes UTF-8 text, so invalid bytes show as U+FFFD.
struct Raw<'a>(&'a [u8]);

impl fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}

/// `<<- [OP ARG]` (or `<<- [OP]`) for an op a client sent.
pub fn inbound(p: &str, op: &str, arg: Option<&[u8]>) {
    match arg {
        Some(a) => log::trace!("{} - <<- [{op} {}]", p, Raw(a)),
        None => log::trace!("{} - <<- [{op}]", p),
    }
}

/// `<<- [CONNECT {json}]` with passwords, tokens, nkeys and signatures
/// replaced by `[REDACTED]`.
pub fn connect(p: &str, json: &[u8]) {
    let text = String::from_utf8_lossy(json);
    log::trace!("{} - <<- [CONNECT {}]", p, redact::secrets(&text));
}

/// `->> [TEXT]` for a protocol line the server sends (`OK`, `PONG`, `PING`,
/// `-ERR text`).
pub fn outbound(p: &str, text: &str) {
    log::trace!("{} - ->> [{text}]", p);
}

/// `->> [-ERR text]` for an `-ERR 'text'\r\n` line.
pub fn outbound_err(p: &str, line: &[u8]) {
    let text = line.strip_prefix(b"-ERR ").unwrap_or(line).trim_ascii_end();
    let text = text
        .strip_prefix(b"'")
        .and_then(|t| t.strip_suffix(b"'"))
        .unwrap_or(text);
    log::trace!("{} - ->> [-ERR {}]", p, Raw(text));
}

/// `->> [MSG subj sid [reply] size]` / `->> [HMSG subj sid [reply] hdr size]`.
pub fn delivery(p: &str, subject: &[u8], sid: &[u8], reply: &[u8], hdr: usize, size: usize) {
    let (op, reply_sep) = (
        if hdr > 0 { "HMSG" } else { "MSG" },
        if reply.is_empty() { "" } else { " " },
    );
    if hdr > 0 {
        log::trace!(
            "{} - ->> [{op} {} {} {}{reply_sep}{hdr} {size}]",
            p,
            Raw(subject),
            Raw(sid),
            Raw(reply)
        );
    } else {
        log::trace!(
            "{} - ->> [{op} {} {} {}{reply_sep}{size}]",
            p,
            Raw(subject),
            Raw(sid),
            Raw(reply)
        );
    }
}

/// `<-> [DELSUB sid]`: a subscription was removed.
pub fn delsub(p: &str, sid: &[u8]) {
    log::trace!("{} - <-> [DELSUB {}]", p, Raw(sid));
}

/// Which way a payload went.
#[derive(Clone, Copy)]
pub enum Dir {
    In,
    Out,
}

/// `<<- MSG_PAYLOAD: ["..."]` / `->> MSG_PAYLOAD: ["..."]`, by nats-server's
/// rules: nothing for an empty payload; with `trace_headers` only the header
/// block (less its final CRLF CRLF), and nothing without headers; cut at
/// `max_len` bytes (0 = whole) with `...`. `hdr` is the header size the
/// message was published with (nats-server uses it even for a subscriber that
/// gets the body alone).
pub fn payload(p: &str, dir: Dir, body: &[u8], hdr: usize, max_len: usize, headers_only: bool) {
    let arrow = match dir {
        Dir::In => "<<-",
        Dir::Out => "->>",
    };
    // nats-server measures the payload with its trailing CRLF (`+ 2`), and
    // with `trace_headers` keeps the first `hdr` bytes less the header block's
    // closing CRLF CRLF.
    let l = if headers_only {
        if hdr == 0 || body.len() + 2 < hdr {
            return;
        }
        hdr.saturating_sub(4)
    } else {
        body.len()
    };
    if l == 0 {
        return;
    }
    let shown = body;
    let text = &shown[..l];
    if max_len > 0 && l > max_len {
        log::trace!(
            "{} - {arrow} MSG_PAYLOAD: [\"{}...\"]",
            p,
            Quoted(&text[..max_len])
        );
    } else {
        log::trace!("{} - {arrow} MSG_PAYLOAD: [\"{}\"]", p, Quoted(text));
    }
}

mod redact {
    //! nats-server's `removeSecretsFromTrace`: two patterns, each value
    //! replaced by `[REDACTED]`:
    //! 1. `"?\s*(?:auth_token\S*?|pass\S*?)"?\s*[:=]\s*"?([^",\r\n}]*)`
    //! 2. `(?:^|[^A-Za-z0-9_])"?\s*(?:proxy_sig|nkey|sig)"?\s*[:=]\s*"?([^",\r\n}]*)`
    //!
    //! Implemented by hand (no regex engine on a core): find a key word, let
    //! the lazy `\S*?` run to the first `"?\s*[:=]` after it, then take the
    //! value up to `"`, `,`, CR, LF or `}`.

    /// The text with every secret value replaced.
    pub fn secrets(text: &str) -> String {
        let b = text.as_bytes();
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if let Some(v) = value_after_key(b, i, &[b"auth_token", b"pass"], false) {
                cuts.push(v);
                i = v.1.max(i + 1);
            } else {
                i += 1;
            }
        }
        let first_pass = apply(text, &cuts);
        let b = first_pass.as_bytes();
        let mut cuts = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if let Some(v) = value_after_key(b, i, &[b"proxy_sig", b"nkey", b"sig"], true) {
                cuts.push(v);
                i = v.1.max(i + 1);
            } else {
                i += 1;
            }
        }
        apply(&first_pass, &cuts)
    }

    fn apply(text: &str, cuts: &[(usize, usize)]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for &(s, e) in cuts {
            out.push_str(&text[at..s]);
            out.push_str("[REDACTED]");
            at = e;
        }
        out.push_str(&text[at..]);
        out
    }

    /// A match starting at `i`: optional `"`, spaces, one of `keys`, then (for
    /// the lazy form) any non-space bytes up to the first `"?\s*[:=]\s*"?`.
    /// Returns the value's byte range.
    fn value_after_key(
        b: &[u8],
        i: usize,
        keys: &[&[u8]],
        word_start: bool,
    ) -> Option<(usize, usize)> {
        // `(?:^|[^A-Za-z0-9_])`: at the start, or right after a non-word byte.
        if word_start && i > 0 && is_word(b[i - 1]) {
            return None;
        }
        let mut p = i;
        if b.get(p) == Some(&b'"') {
            p += 1;
        }
        while b.get(p).is_some_and(|c| c.is_ascii_whitespace()) {
            p += 1;
        }
        let key = keys.iter().find(|k| b[p..].starts_with(k))?;
        p += key.len();
        let lazy = !word_start;
        // The separator: `"?\s*[:=]`, found at the first place the lazy `\S*?`
        // can stop (for the exact keys, right after the key).
        let sep_at = |mut q: usize| -> Option<usize> {
            if b.get(q) == Some(&b'"') {
                q += 1;
            }
            while b.get(q).is_some_and(|c| c.is_ascii_whitespace()) {
                q += 1;
            }
            matches!(b.get(q), Some(b':') | Some(b'=')).then_some(q + 1)
        };
        let mut q = p;
        let after_sep = loop {
            if let Some(v) = sep_at(q) {
                break v;
            }
            if !lazy || q >= b.len() || b[q].is_ascii_whitespace() {
                return None;
            }
            q += 1;
        };
        let mut v = after_sep;
        while b.get(v).is_some_and(|c| c.is_ascii_whitespace()) {
            v += 1;
        }
        if b.get(v) == Some(&b'"') {
            v += 1;
        }
        let start = v;
        while v < b.len() && !matches!(b[v], b'"' | b',' | b'\r' | b'\n' | b'}') {
            v += 1;
        }
        Some((start, v))
    }

    fn is_word(c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'_'
    }

    #[cfg(test)]
    mod tests {
        use super::secrets;

        #[test]
        fn redacts_like_nats_server() {
            // Expected lines captured from nats-server 2.15.1 -DV.
            assert_eq!(
                secrets(r#"{"verbose":false,"user":"derek","pass":"s3cr3t","auth_token":"tok"}"#),
                r#"{"verbose":false,"user":"derek","pass":"[REDACTED]","auth_token":"[REDACTED]"}"#
            );
            assert_eq!(
                secrets(
                    r#"{"verbose":false,"auth_token":"t","nkey":"UABC","sig":"xyz","jwt":"eyJ","password":"p"}"#
                ),
                r#"{"verbose":false,"auth_token":"[REDACTED]","nkey":"[REDACTED]","sig":"[REDACTED]","jwt":"eyJ","password":"[REDACTED]"}"#
            );
            assert_eq!(
                secrets(r#"{"verbose":false,"name":"passenger","lang":"py","version":"2"}"#),
                r#"{"verbose":false,"name":"passenger","lang":"[REDACTED]","version":"2"}"#
            );
            assert_eq!(secrets(r#"{"verbose":false}"#), r#"{"verbose":false}"#);
        }
    }
}
