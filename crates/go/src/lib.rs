//! shoal-go: the Go spellings that nats-server's visible output depends on, so
//! that Shoal's log lines, `-ERR` texts, traces and monitoring JSON read byte for
//! byte like nats-server's: `%q` ([`quote`], `strconv.Quote`), durations
//! ([`duration`], `time.Duration.String`), `net.JoinHostPort`
//! ([`join_host_port`]), and OS error text ([`errno_text`], [`path_error`]).
//! The one place for these: nothing else in Shoal spells them.
//!
//! Owns nothing but pure functions over bytes and strings. Must never do I/O or
//! allocate more than the text it returns; hot-path callers append into a
//! buffer they own ([`quote_into`]).

#![forbid(unsafe_code)]

use std::io;
use std::path::Path;
use std::time::Duration;

/// Go's `time.Duration.String`: `0s`, `850ns`, `1.5µs`, `12.003ms`, `1.5s`,
/// `2m0s`, `1h0m0.5s`.
pub fn duration(d: Duration) -> String {
    let n = d.as_nanos();
    match n {
        0 => "0s".to_string(),
        1..=999 => format!("{n}ns"),
        1_000..=999_999 => format!("{}µs", decimal(n, 1_000)),
        1_000_000..=999_999_999 => format!("{}ms", decimal(n, 1_000_000)),
        _ => {
            let h = n / 3_600_000_000_000;
            let m = n / 60_000_000_000 % 60;
            let s = decimal(n % 60_000_000_000, 1_000_000_000);
            match (h, m) {
                (0, 0) => format!("{s}s"),
                (0, m) => format!("{m}m{s}s"),
                (h, m) => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

/// Go's `d.Round(m)`: to the nearest multiple of `m`, halves away from zero.
pub fn round(d: Duration, m: Duration) -> Duration {
    let (n, m) = (d.as_nanos(), m.as_nanos());
    if m == 0 {
        return d;
    }
    let r = n % m;
    let down = n - r;
    let up = if r + r < m { down } else { down + m };
    Duration::from_nanos(up.min(u64::MAX as u128) as u64)
}

/// `value / unit` as a decimal with the fraction's trailing zeros dropped.
fn decimal(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let rem = value % unit;
    if rem == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let frac = format!("{rem:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Go's `net.JoinHostPort`: IPv6 hosts (anything with a colon) in brackets.
pub fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Go's text for an OS error: errno messages in lower case
/// (`no such file or directory`) without Rust's ` (os error N)`; other errors
/// as they are.
pub fn errno_text(err: &io::Error) -> String {
    match os_code(err) {
        Some(code) => io::Error::from_raw_os_error(code)
            .to_string()
            .trim_end_matches(&format!(" (os error {code})"))
            .to_lowercase(),
        None => err.to_string(),
    }
}

/// Go's `*PathError` text: `<op> <path>: <errno text>`.
pub fn path_error(op: &str, path: &Path, err: &io::Error) -> String {
    format!("{op} {}: {}", path.display(), errno_text(err))
}

/// The errno behind `err`, also when a library wrapped it in an error of its own
/// whose text ends `(os error N)` (glommio does).
pub fn os_code(err: &io::Error) -> Option<i32> {
    if let Some(code) = err.raw_os_error() {
        return Some(code);
    }
    let text = err.to_string();
    let tail = text.trim_end().strip_suffix(')')?;
    let at = tail.rfind("(os error ")?;
    tail[at + "(os error ".len()..].parse().ok()
}

/// Go's `%q` of a byte string (`strconv.Quote(string(b))`): in double quotes,
/// UTF-8 decoded rune by rune, printable runes as they are, `\a \b \f \n \r \t
/// \v \\ \"` escaped, other ASCII controls and invalid bytes as `\xNN`, other
/// non-printable runes as `\uNNNN` / `\UNNNNNNNN`.
pub fn quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    quote_into(&mut out, b);
    out.push('"');
    out
}

/// [`quote`] without the surrounding quotes, appended to `out`.
pub fn quote_into(out: &mut String, b: &[u8]) {
    use std::fmt::Write;
    let _ = write!(out, "{}", Quoted(b));
}

/// [`quote`] without the surrounding quotes, as a `Display` that writes
/// straight into the formatter (no allocation): runs of printable text in one
/// `write_str`, each escape as its own.
pub struct Quoted<'a>(pub &'a [u8]);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        // Start of the pending run of bytes written as they are: printable
        // ASCII, and whole printable multi-byte scalars (so always UTF-8).
        let mut run = 0usize;
        let mut i = 0usize;
        while i < b.len() {
            let c = b[i];
            let (esc, len) = if (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\' {
                i += 1;
                continue;
            } else if c < 0x80 {
                (escape_of(c as char), 1)
            } else {
                match decode(&b[i..]) {
                    None => (Some(Esc::Byte(c)), 1),
                    Some((ch, len)) => (escape_of(ch), len),
                }
            };
            let Some(e) = esc else {
                i += len;
                continue;
            };
            f.write_str(std::str::from_utf8(&b[run..i]).unwrap_or_default())?;
            match e {
                Esc::Str(s) => f.write_str(s)?,
                Esc::Byte(x) => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let e = [b'\\', b'x', HEX[(x >> 4) as usize], HEX[(x & 15) as usize]];
                    f.write_str(std::str::from_utf8(&e).unwrap_or_default())?;
                }
                Esc::U4(u) => write!(f, "\\u{u:04x}")?,
                Esc::U8(u) => write!(f, "\\U{u:08x}")?,
            }
            i += len;
            run = i;
        }
        f.write_str(std::str::from_utf8(&b[run..]).unwrap_or_default())
    }
}

/// How one scalar is escaped, if it is.
enum Esc {
    Str(&'static str),
    Byte(u8),
    U4(u32),
    U8(u32),
}

fn escape_of(ch: char) -> Option<Esc> {
    Some(match ch {
        '\u{07}' => Esc::Str("\\a"),
        '\u{08}' => Esc::Str("\\b"),
        '\u{0c}' => Esc::Str("\\f"),
        '\n' => Esc::Str("\\n"),
        '\r' => Esc::Str("\\r"),
        '\t' => Esc::Str("\\t"),
        '\u{0b}' => Esc::Str("\\v"),
        '\\' => Esc::Str("\\\\"),
        '"' => Esc::Str("\\\""),
        c if (c as u32) < 0x20 || c == '\u{7f}' => Esc::Byte(c as u8),
        c if is_print(c) => return None,
        c if (c as u32) < 0x10000 => Esc::U4(c as u32),
        c => Esc::U8(c as u32),
    })
}

/// The first UTF-8 scalar of `b` and its length, or `None` when `b` does not
/// start with a valid encoding (Go then quotes one byte as `\xNN`).
fn decode(b: &[u8]) -> Option<(char, usize)> {
    let len = match b[0] {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(b.get(..len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

/// Go's `unicode.IsPrint` for the runes that matter in practice: letters,
/// marks, numbers, punctuation, symbols and the ASCII space are printable;
/// controls, format characters, separators other than U+0020, surrogates and
/// private-use runes are not. (Unassigned code points, which Go also treats as
/// non-printable, are printed as they are: std has no Unicode tables.)
fn is_print(c: char) -> bool {
    let u = c as u32;
    if c.is_control() {
        return false;
    }
    !matches!(u,
        0x00a0 | 0x00ad | 0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064
        | 0x2066..=0x206f | 0x3000 | 0xfeff | 0xfff9..=0xfffb | 0x0600..=0x0605 | 0x061c
        | 0x06dd | 0x070f | 0x08e2 | 0x180e | 0x110bd | 0x110cd | 0x13430..=0x1343f
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd)
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31) in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Go's `time.RFC3339Nano` in UTC, as `encoding/json` writes a
/// `time.Time`, of `nanos` since the epoch: `2026-01-01T10:04:58.11955526Z`
/// (trailing zeros of the fraction dropped, no fraction on a whole
/// second). Go's zero time (`0001-01-01T00:00:00Z`) for `i64::MIN`.
pub fn rfc3339_nano(nanos: i64) -> String {
    if nanos == i64::MIN {
        return "0001-01-01T00:00:00Z".to_string();
    }
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    if frac > 0 {
        let f = format!(".{frac:09}");
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The HTTP `Date` header: `Sun, 29 Nov 2026 01:50:05 GMT`.
pub fn http_date(t: std::time::SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    let (y, mo, d) = civil(days);
    let s = secs.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[mo as usize - 1],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Go's `time.Unix(secs, 0).String()` in UTC (the zone Shoal logs in):
/// `2019-03-29 06:18:57 +0000 UTC`.
pub fn unix_time(secs: i64) -> String {
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_as_go_prints_them() {
        // nats-server 2.15.1's "Issued" line for an operator JWT of iat 1553840337.
        assert_eq!(unix_time(1_553_840_337), "2019-03-29 06:18:57 +0000 UTC");
        assert_eq!(unix_time(0), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn durations_are_go_duration_strings() {
        let ns = Duration::from_nanos;
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(ns(850)), "850ns");
        assert_eq!(duration(ns(1_500)), "1.5µs");
        assert_eq!(duration(ns(628_000)), "628µs");
        assert_eq!(duration(ns(51_005_286)), "51.005286ms");
        assert_eq!(duration(ns(1_500_000_000)), "1.5s");
        assert_eq!(duration(ns(120_000_000_000)), "2m0s");
        assert_eq!(duration(ns(3_600_500_000_000)), "1h0m0.5s");
        let s = Duration::from_secs(1);
        assert_eq!(duration(round(ns(1_499_999_999), s)), "1s");
        assert_eq!(duration(round(ns(1_500_000_000), s)), "2s");
        assert_eq!(duration(round(ns(400_000_000), s)), "0s");
    }

    #[test]
    fn host_ports_and_os_errors_are_worded_like_go() {
        assert_eq!(join_host_port("::1", 4222), "[::1]:4222");
        assert_eq!(join_host_port("h", "1"), "h:1");
        let enoent = io::Error::from_raw_os_error(2);
        assert_eq!(
            path_error("open", Path::new("/nonexist/pid"), &enoent),
            "open /nonexist/pid: no such file or directory"
        );
        let wrapped = io::Error::other("IO error occurred: Address already in use (os error 98)");
        assert_eq!(errno_text(&wrapped), "address already in use");
        assert_eq!(errno_text(&io::Error::other("plain")), "plain");
    }

    #[test]
    fn quotes_like_go() {
        // Go's strconv.Quote rules (nats-server traces payloads with it).
        assert_eq!(quote(b"hello"), r#""hello""#);
        assert_eq!(quote(b"a\"b\\c'd"), r#""a\"b\\c'd""#);
        assert_eq!(quote(b"\r\n\t\x07\x08\x0c\x0b"), r#""\r\n\t\a\b\f\v""#);
        assert_eq!(quote(b"\x00\x01\x1f\x7f"), r#""\x00\x01\x1f\x7f""#);
        assert_eq!(quote("é☃😀".as_bytes()), "\"é☃😀\"");
        assert_eq!(quote(b"\xff\xc3"), r#""\xff\xc3""#);
        assert_eq!(
            quote("\u{a0}\u{200b}\u{85}".as_bytes()),
            r#""\u00a0\u200b\u0085""#
        );
        assert_eq!(
            quote("\u{e000}\u{f0000}".as_bytes()),
            r#""\ue000\U000f0000""#
        );
        // A character cut in two by truncation.
        assert_eq!(quote(&"éé".as_bytes()[..3]), r#""é\xc3""#);
        assert_eq!(quote(b""), r#""""#);
    }
}
