//! A user JWT's connect times (`times: [{start, end}]`, `times_location`),
//! as nats-server's `validateTimesAt` checks them: a login is allowed when
//! now (in the JWT's zone, else the server's local time) falls strictly
//! inside a range, a range whose end is before its start running past
//! midnight; the connection may then stay until the end of the range that
//! lasts longest from now.
//!
//! Pure: the zone's rules come from jiff's bundled database, the server's
//! local offset from the caller.

/// `HH:MM:SS` (Go's `15:04:05`: the hour in one or two digits) → seconds
/// into the day.
pub fn parse_time(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.is_empty() || h.len() > 2 || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let num = |t: &str| -> Option<i64> {
        t.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (h, m, sec) = (num(h)?, num(m)?, num(sec)?);
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

/// Seconds into the day at unix time `now` in `zone` (an IANA name; empty:
/// the server's local time, `local_offset` seconds east of UTC). `None` for
/// a zone the database does not know.
pub fn time_of_day(now: i64, zone: &str, local_offset: i32) -> Option<i64> {
    if zone.is_empty() {
        return Some((now + i64::from(local_offset)).rem_euclid(86_400));
    }
    let tz = jiff::tz::TimeZone::get(zone).ok()?;
    let ts = jiff::Timestamp::from_second(now).ok()?;
    let offset = tz.to_offset(ts).seconds();
    Some((now + i64::from(offset)).rem_euclid(86_400))
}

/// Whether a login at `now` (seconds into the day) falls in one of the
/// ranges, and for how many seconds it may then stay. Ranges that do not
/// parse were refused with the JWT. nats-server compares to the
/// nanosecond: a login in the range's first second (`now == start` here)
/// is inside it.
pub fn allowed(ranges: &[(i64, i64)], now: i64) -> Option<i64> {
    let mut best: Option<i64> = None;
    for &(start, end) in ranges {
        let left = if start <= now && end > now {
            Some(end - now)
        } else if start > end {
            if end > now {
                Some(end - now)
            } else if start <= now {
                Some(end + 86_400 - now)
            } else {
                None
            }
        } else {
            None
        };
        if let Some(l) = left {
            best = Some(best.map_or(l, |b| b.max(l)));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_go_parses_15_04_05() {
        assert_eq!(parse_time("09:30:00"), Some(9 * 3600 + 1800));
        assert_eq!(parse_time("9:30:00"), Some(9 * 3600 + 1800));
        assert_eq!(parse_time("23:59:59"), Some(86_399));
        for bad in ["24:00:00", "9:3:00", "09:30", "x:00:00", "09:30:00:00", ""] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges_as_validate_time_range_at() {
        let h = |n: i64| n * 3600;
        // 11:00-22:00 at 13:00: 9 h left; in its first second: inside;
        // at 22:00: outside; at 10:59:59: outside.
        assert_eq!(allowed(&[(h(11), h(22))], h(13)), Some(h(9)));
        assert_eq!(allowed(&[(h(11), h(22))], h(11)), Some(h(11)));
        assert_eq!(allowed(&[(h(11), h(22))], h(22)), None);
        assert_eq!(allowed(&[(h(11), h(22))], h(11) - 1), None);
        // 22:00-06:00 at 05:00 and at 23:30; not at 12:00.
        assert_eq!(allowed(&[(h(22), h(6))], h(5)), Some(h(1)));
        assert_eq!(allowed(&[(h(22), h(6))], h(23) + 1800), Some(h(6) + 1800));
        assert_eq!(allowed(&[(h(22), h(6))], h(12)), None);
        // The range that lasts longest wins.
        assert_eq!(allowed(&[(h(1), h(14)), (h(2), h(20))], h(13)), Some(h(7)));
    }

    #[test]
    fn zones_from_the_bundled_database() {
        // 2026-01-15 12:00:00 UTC: 07:00 in New York (EST), 13:00 in Berlin.
        let t = 1_768_478_400;
        assert_eq!(time_of_day(t, "", 0), Some(12 * 3600));
        assert_eq!(time_of_day(t, "", 3600), Some(13 * 3600));
        assert_eq!(time_of_day(t, "America/New_York", 0), Some(7 * 3600));
        assert_eq!(time_of_day(t, "Europe/Berlin", 0), Some(13 * 3600));
        assert_eq!(time_of_day(t, "Nowhere/Atlantis", 0), None);
    }
}
