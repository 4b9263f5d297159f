//! One log line as nats-server prints it, `[PID] <stamp> [TAG] message\n`, and
//! the wall-clock stamp in Go's `log` format. Pure formatting: runs on the
//! logger thread (never on a core), so the cost of `localtime_r` and of the
//! stamp digits is paid there.

use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One whole line, `[PID] <stamp> [TAG] message\n`.
pub fn write_line(
    out: &mut dyn Write,
    pid: u32,
    stamp: Option<Stamp>,
    tag: &str,
    msg: &[u8],
) -> io::Result<()> {
    match stamp {
        Some(stamp) => write!(out, "[{pid}] {stamp} [{tag}] ")?,
        None => write!(out, "[{pid}] [{tag}] ")?,
    }
    out.write_all(msg)?;
    out.write_all(b"\n")
}

/// A wall-clock time broken down as Go's `log` package prints it:
/// `2026/11/29 01:18:50.500914` (with microseconds) or `2026/11/29 01:18:50`.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// Year, month (1-12), day, hour, minute, second.
    ymdhms: [i32; 6],
    micros: Option<u32>,
}

impl Stamp {
    /// `time` in local time (or UTC), with microseconds.
    pub fn at(time: SystemTime, utc: bool) -> Stamp {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        Stamp::broken_down(since.as_secs(), utc).with_micros(since.subsec_micros())
    }

    /// Whole seconds since the epoch, broken down (no microseconds).
    fn broken_down(secs: u64, utc: bool) -> Stamp {
        let secs = secs as libc::time_t;
        // SAFETY: an all-zero `tm` is a valid value (integers, and a null zone name
        // that is never read here).
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the duration of the call; the
        // re-entrant variants write only into `tm`. On failure `tm` stays zeroed.
        unsafe {
            if utc {
                libc::gmtime_r(&secs, &mut tm);
            } else {
                libc::localtime_r(&secs, &mut tm);
            }
        }
        Stamp {
            ymdhms: [
                tm.tm_year + 1900,
                tm.tm_mon + 1,
                tm.tm_mday,
                tm.tm_hour,
                tm.tm_min,
                tm.tm_sec,
            ],
            micros: None,
        }
    }

    fn with_micros(self, micros: u32) -> Stamp {
        Stamp {
            micros: Some(micros),
            ..self
        }
    }

    /// The same instant to the second, as Go's standard `log` prefix
    /// (`log.LstdFlags`) prints it.
    pub fn seconds(self) -> Stamp {
        Stamp {
            micros: None,
            ..self
        }
    }
}

/// Breaks times down one second at a time: lines of the same second (most of
/// them, under load) reuse the last `localtime_r` result.
#[derive(Default)]
pub struct StampCache {
    last: Option<(u64, bool, Stamp)>,
}

impl StampCache {
    /// The stamp for `since_epoch`, in UTC or local time.
    pub fn stamp(&mut self, since_epoch: Duration, utc: bool) -> Stamp {
        let secs = since_epoch.as_secs();
        let micros = since_epoch.subsec_micros();
        match self.last {
            Some((s, u, stamp)) if s == secs && u == utc => stamp.with_micros(micros),
            _ => {
                let stamp = Stamp::broken_down(secs, utc);
                self.last = Some((secs, utc, stamp));
                stamp.with_micros(micros)
            }
        }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [y, mo, d, h, mi, s] = self.ymdhms;
        write!(f, "{y:04}/{mo:02}/{d:02} {h:02}:{mi:02}:{s:02}")?;
        match self.micros {
            Some(us) => write!(f, ".{us:06}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(stamp: Option<Stamp>, tag: &str, msg: &str) -> String {
        let mut out = Vec::new();
        write_line(&mut out, 42, stamp, tag, msg.as_bytes()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn stamps_look_like_go_log() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_915_130_500_914);
        assert_eq!(Stamp::at(t, true).to_string(), "2026/11/29 01:18:50.500914");
        assert_eq!(
            Stamp::at(t, true).seconds().to_string(),
            "2026/11/29 01:18:50"
        );
        let early = UNIX_EPOCH + Duration::from_micros(1_000_007);
        assert_eq!(
            Stamp::at(early, true).to_string(),
            "1970/01/01 00:00:01.000007"
        );
    }

    #[test]
    fn the_cache_agrees_with_a_fresh_breakdown() {
        let mut cache = StampCache::default();
        for us in [
            1_795_915_130_500_914u64,
            1_795_915_130_999_999,
            1_795_915_131_000_000,
            1_795_915_131_000_001,
        ] {
            let d = Duration::from_micros(us);
            assert_eq!(
                cache.stamp(d, true).to_string(),
                Stamp::at(UNIX_EPOCH + d, true).to_string()
            );
        }
    }

    #[test]
    fn lines_look_like_nats_server() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_915_130_500_914);
        assert_eq!(
            line(Some(Stamp::at(t, true)), "INF", "Starting nats-server"),
            "[42] 2026/11/29 01:18:50.500914 [INF] Starting nats-server\n"
        );
        assert_eq!(line(None, "WRN", "x 1"), "[42] [WRN] x 1\n");
    }
}
