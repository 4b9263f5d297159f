//! How nats-server (Go) spells values in its monitoring output, so that Shoal's
//! pages read the same byte for byte where the values agree: RFC 3339 times with
//! trimmed nanoseconds in UTC, the HTTP `Date` header, `uptime`/`idle` strings
//! (`1y2d3h4m5s`), Go's `time.Duration` text for `rtt`, Go's `strconv.Quote` in
//! error messages, and `encoding/json`'s output (two-space indent, `<>&` escaped,
//! whole floats without a fraction).
//!
//! Pure functions, no I/O; only the HTTP thread calls them.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serializer;

/// Seconds and nanoseconds since the epoch (times before it count as the epoch).
fn epoch(t: SystemTime) -> (i64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// Go's `time.RFC3339Nano` in UTC, as `encoding/json` writes a `time.Time`:
/// `2026-01-01T10:04:58.11955526Z` (trailing zeros of the fraction dropped, no
/// fraction at all on a whole second).
pub fn rfc3339(t: SystemTime) -> String {
    let (secs, nanos) = epoch(t);
    shoal_go::rfc3339_nano(secs * 1_000_000_000 + i64::from(nanos))
}

/// nats-server's `myUptime`: whole seconds, largest unit first, years of 365
/// days (`0s`, `59s`, `1m0s`, `2h3m4s`, `1d0h0m1s`, `1y2d3h4m5s`).
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (m, h, days) = (s / 60, s / 3600, s / 86_400);
    let y = days / 365;
    if y > 0 {
        format!("{y}y{}d{}h{}m{}s", days % 365, h % 24, m % 60, s % 60)
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", h % 24, m % 60, s % 60)
    } else if h > 0 {
        format!("{h}h{}m{}s", m % 60, s % 60)
    } else if m > 0 {
        format!("{m}m{}s", s % 60)
    } else {
        format!("{s}s")
    }
}

/// Go's `time.Duration.String` (see [`shoal_go::duration`]).
pub fn go_duration(d: Duration) -> String {
    shoal_go::duration(d)
}

/// A connection's `rtt` as nats-server shows it (`getRTT`): microsecond
/// precision between 1µs and 1ms, nanoseconds otherwise.
pub fn rtt(d: Duration) -> String {
    let n = d.as_nanos();
    if n > 1_000 && n < 1_000_000 {
        go_duration(Duration::from_micros((n / 1_000) as u64))
    } else {
        go_duration(d)
    }
}

/// Go's `strconv.Quote` for the values echoed in error messages.
pub fn go_quote(s: &str) -> String {
    shoal_go::quote(s.as_bytes())
}

/// Go writes a whole `float64` without a fraction (`2`, not `2.0`).
pub fn go_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// `encoding/json`'s `MarshalIndent(v, "", "  ")`; `pretty = false` is
/// `Marshal` (what `/healthz` uses).
pub fn to_json<T: serde::Serialize>(v: &T, pretty: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    let res = if pretty {
        let f = GoFormatter(serde_json::ser::PrettyFormatter::with_indent(b"  "));
        v.serialize(&mut serde_json::Serializer::with_formatter(&mut out, f))
    } else {
        let f = GoFormatter(serde_json::ser::CompactFormatter);
        v.serialize(&mut serde_json::Serializer::with_formatter(&mut out, f))
    };
    res.expect("monitoring types always serialize");
    out
}

/// Wraps a serde_json formatter to escape strings as Go does: `<`, `>`, `&`,
/// U+2028 and U+2029 as `\u` escapes, and `\u0008`/`\u000c` for backspace and
/// form feed.
struct GoFormatter<F>(F);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            #[inline]
            fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
                self.0.$name(w $(, $arg)*)
            }
        )*
    };
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for GoFormatter<F> {
    delegate! {
        write_null();
        write_bool(v: bool);
        write_i64(v: i64);
        write_u64(v: u64);
        write_f64(v: f64);
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        use serde_json::ser::CharEscape;
        match escape {
            CharEscape::Backspace => w.write_all(b"\\u0008"),
            CharEscape::FormFeed => w.write_all(b"\\u000c"),
            other => self.0.write_char_escape(w, other),
        }
    }
}

/// `json` without the whitespace between its tokens (Go's `json.Compact`):
/// an indented page becomes what `json.Marshal` would have written.
pub fn compact_json(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_indented_json_keeping_strings() {
        let pretty = b"{\n  \"a b\": \"x \\\" y\",\n  \"n\": [\n    1,\n    2\n  ]\n}";
        assert_eq!(
            compact_json(pretty),
            b"{\"a b\":\"x \\\" y\",\"n\":[1,2]}".to_vec()
        );
    }

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn times_are_go_rfc3339_nano_in_utc() {
        // 2026-11-29T01:50:08Z
        let t = 1_795_917_008;
        assert_eq!(rfc3339(at(t, 640_506_950)), "2026-11-29T01:50:08.64050695Z");
        assert_eq!(rfc3339(at(t, 0)), "2026-11-29T01:50:08Z");
        assert_eq!(rfc3339(at(t, 1)), "2026-11-29T01:50:08.000000001Z");
        assert_eq!(rfc3339(at(951_782_400, 0)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            shoal_go::http_date(at(t, 5)),
            "Sun, 29 Nov 2026 01:50:08 GMT"
        );
        assert_eq!(
            shoal_go::http_date(UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn uptimes_are_nats_compact_form() {
        let s = Duration::from_secs;
        assert_eq!(uptime(Duration::from_millis(999)), "0s");
        assert_eq!(uptime(s(59)), "59s");
        assert_eq!(uptime(s(60)), "1m0s");
        assert_eq!(uptime(s(3 * 3600 + 4 * 60 + 5)), "3h4m5s");
        assert_eq!(uptime(s(86_400 + 1)), "1d0h0m1s");
        assert_eq!(
            uptime(s(365 * 86_400 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5)),
            "1y2d3h4m5s"
        );
    }

    #[test]
    fn durations_are_go_duration_strings() {
        let ns = Duration::from_nanos;
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(ns(850)), "850ns");
        assert_eq!(go_duration(ns(1_500)), "1.5µs");
        assert_eq!(go_duration(ns(628_000)), "628µs");
        assert_eq!(go_duration(ns(51_005_286)), "51.005286ms");
        assert_eq!(go_duration(ns(1_500_000_000)), "1.5s");
        assert_eq!(go_duration(ns(120_000_000_000)), "2m0s");
        assert_eq!(go_duration(ns(3_600_500_000_000)), "1h0m0.5s");
        assert_eq!(rtt(ns(628_123)), "628µs");
        assert_eq!(rtt(ns(51_005_286)), "51.005286ms");
        assert_eq!(rtt(ns(900)), "900ns");
    }

    #[test]
    fn quoting_follows_strconv_quote() {
        assert_eq!(go_quote("bogus"), "\"bogus\"");
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
        assert_eq!(go_quote("µ"), "\"µ\"");
    }

    #[test]
    fn json_is_encoding_json_output() {
        #[derive(serde::Serialize)]
        struct T {
            s: &'static str,
            #[serde(serialize_with = "go_float")]
            f: f64,
            #[serde(serialize_with = "go_float")]
            g: f64,
            e: Vec<u8>,
            o: std::collections::BTreeMap<String, u8>,
            l: Vec<u8>,
        }
        let t = T {
            s: "foo.> <&> \u{8}\n",
            f: 2.0,
            g: 0.47058823529411764,
            e: vec![],
            o: Default::default(),
            l: vec![1],
        };
        let want = "{\n  \"s\": \"foo.\\u003e \\u003c\\u0026\\u003e \\u0008\\n\",\n  \"f\": 2,\n  \
                    \"g\": 0.47058823529411764,\n  \"e\": [],\n  \"o\": {},\n  \"l\": [\n    1\n  ]\n}";
        assert_eq!(String::from_utf8(to_json(&t, true)).unwrap(), want);
        assert_eq!(
            String::from_utf8(to_json(&serde_json::json!({"status": "ok"}), false)).unwrap(),
            "{\"status\":\"ok\"}"
        );
    }
}
