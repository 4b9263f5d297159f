//! Value syntaxes shared by the flags (and, later, the configuration file): Go's
//! integers and booleans as the `flag` package reads them, Go durations
//! (`time.ParseDuration`, plus a bare integer meaning seconds) and NATS sizes
//! (`1MB` = 1,048,576, `1M` = 1,000,000).
//!
//! Every error is the short reason Go's `flag` package prints after
//! `invalid value "x" for flag -name: ` (`parse error`, `value out of range`), so
//! the flag parser can quote it verbatim. Pure functions, no I/O.

use std::time::Duration;

/// Go's `flag` reason for text that is not a value of the flag's type.
pub const PARSE_ERROR: &str = "parse error";
/// Go's `flag` reason for a number that does not fit the flag's type.
pub const RANGE_ERROR: &str = "value out of range";

/// `strconv.ParseBool`: what `-D=<v>` accepts.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(PARSE_ERROR.to_string()),
    }
}

/// `strconv.ParseInt(s, 0, 64)`, as Go's `flag.IntVar` reads a value: optional sign,
/// then `0x`/`0o`/`0b` or a leading `0` (octal) select the base, and `_` may separate
/// digits.
pub fn parse_int(s: &str) -> Result<i64, String> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if !underscores_ok(digits, prefixed) {
        return Err(PARSE_ERROR.to_string());
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(PARSE_ERROR.to_string());
    }
    // Accumulate as a magnitude so that i64::MIN parses.
    let magnitude = u64::from_str_radix(&digits, radix).map_err(|_| RANGE_ERROR.to_string())?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
            .ok_or_else(|| RANGE_ERROR.to_string())
    } else {
        i64::try_from(magnitude).map_err(|_| RANGE_ERROR.to_string())
    }
}

/// Go allows `_` only between digits (or right after a base prefix), never doubled
/// or trailing.
fn underscores_ok(digits: &str, prefixed: bool) -> bool {
    if !digits.contains('_') {
        return true;
    }
    let bytes = digits.as_bytes();
    let mut prev_is_digit = prefixed;
    for &b in bytes {
        if b == b'_' {
            if !prev_is_digit {
                return false;
            }
            prev_is_digit = false;
        } else {
            prev_is_digit = true;
        }
    }
    prev_is_digit
}

/// A non-negative count (`--max_connections`, `--ping_max`, …) in Go integer syntax.
pub fn parse_count<T: TryFrom<i64>>(s: &str) -> Result<T, String> {
    let n = parse_int(s)?;
    if n < 0 {
        return Err(RANGE_ERROR.to_string());
    }
    T::try_from(n).map_err(|_| RANGE_ERROR.to_string())
}

/// A byte size: decimal digits with an optional NATS suffix, case-insensitive
/// (`k` = 1000, `kb`/`ki`/`kib` = 1024, and so on up to `e`/`eb`).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    if digits.is_empty() {
        return Err(PARSE_ERROR.to_string());
    }
    let multiplier: u128 = match suffix.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1000,
        "kb" | "ki" | "kib" => 1 << 10,
        "m" => 1000u128.pow(2),
        "mb" | "mi" | "mib" => 1 << 20,
        "g" => 1000u128.pow(3),
        "gb" | "gi" | "gib" => 1 << 30,
        "t" => 1000u128.pow(4),
        "tb" | "ti" | "tib" => 1 << 40,
        "p" => 1000u128.pow(5),
        "pb" | "pi" | "pib" => 1 << 50,
        "e" => 1000u128.pow(6),
        "eb" | "ei" | "eib" => 1 << 60,
        _ => return Err(PARSE_ERROR.to_string()),
    };
    let n: u128 = digits.parse().map_err(|_| RANGE_ERROR.to_string())?;
    n.checked_mul(multiplier)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| RANGE_ERROR.to_string())
}

/// A duration in Go syntax (`500ms`, `2s`, `1m30s`, `1.5h`; units `ns us µs μs ms s
/// m h`), or a bare integer meaning seconds, as nats-server accepts for duration
/// options. Negative durations are refused: no Shoal option means anything by them.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| RANGE_ERROR.to_string())?;
        return Ok(Duration::from_secs(secs));
    }
    let rest = s.strip_prefix('+').unwrap_or(s);
    if rest.starts_with('-') {
        return Err(PARSE_ERROR.to_string());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(PARSE_ERROR.to_string());
    }
    let mut rest = rest;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(f) => {
                let n = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
                f.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(PARSE_ERROR.to_string());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            _ => return Err(PARSE_ERROR.to_string()),
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| RANGE_ERROR.to_string())?
        };
        // Digits past the 18th cannot change a nanosecond count; dropping them
        // keeps the arithmetic inside u128.
        let frac_digits = &frac_part[..frac_part.len().min(18)];
        let frac: u128 = if frac_digits.is_empty() {
            0
        } else {
            frac_digits.parse().map_err(|_| PARSE_ERROR.to_string())?
        };
        let scale = 10u128.pow(frac_digits.len() as u32);
        let nanos = int
            .checked_mul(unit_nanos)
            .and_then(|v| v.checked_add(frac * unit_nanos / scale))
            .ok_or_else(|| RANGE_ERROR.to_string())?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| RANGE_ERROR.to_string())?;
        rest = after;
    }
    // Go durations are i64 nanoseconds (about 292 years).
    if total > i64::MAX as u128 {
        return Err(RANGE_ERROR.to_string());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Go's `time.ParseDuration`, with Go's error text (`time: invalid duration "x"`,
/// `time: missing unit in duration "1"`, `time: unknown unit "x" in duration
/// "1x"`), as nats-server quotes it in configuration errors. A negative duration
/// is refused (`time: invalid duration`): no Shoal option means anything by it.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let body = s.strip_prefix('+').unwrap_or(s);
    if body.starts_with('-') {
        return Err(invalid());
    }
    if body == "0" {
        return Ok(Duration::ZERO);
    }
    if body.is_empty() {
        return Err(invalid());
    }
    let mut rest = body;
    while !rest.is_empty() {
        let lead = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let after = &rest[lead..];
        let frac = after
            .strip_prefix('.')
            .map(|f| f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len()));
        let number_len = lead + frac.map_or(0, |n| n + 1);
        if lead == 0 && frac.unwrap_or(0) == 0 {
            return Err(invalid());
        }
        let unit_part = &rest[number_len..];
        let unit_len = unit_part
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(unit_part.len());
        let unit = &unit_part[..unit_len];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {s:?}"));
        }
        if !matches!(unit, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return Err(format!("time: unknown unit {unit:?} in duration {s:?}"));
        }
        rest = &unit_part[unit_len..];
    }
    parse_duration(body).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_follow_strconv() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", "2"] {
            assert_eq!(parse_bool(bad), Err(PARSE_ERROR.into()), "{bad}");
        }
    }

    #[test]
    fn ints_follow_go_base_zero() {
        assert_eq!(parse_int("4222"), Ok(4222));
        assert_eq!(parse_int("-1"), Ok(-1));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("0x10"), Ok(16));
        assert_eq!(parse_int("010"), Ok(8));
        assert_eq!(parse_int("0o17"), Ok(15));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0x_ff"), Ok(255));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int("99999999999"), Ok(99_999_999_999));
        for bad in ["", "4x", "-", "1__0", "_1", "1_", "09", "0x", " 1", "1.0"] {
            assert_eq!(parse_int(bad), Err(PARSE_ERROR.into()), "{bad:?}");
        }
        assert_eq!(parse_int("9223372036854775808"), Err(RANGE_ERROR.into()));
        assert_eq!(
            parse_int("99999999999999999999999"),
            Err(RANGE_ERROR.into())
        );
    }

    #[test]
    fn counts_refuse_negatives_and_overflow() {
        assert_eq!(parse_count::<u32>("2"), Ok(2));
        assert_eq!(parse_count::<u32>("-2"), Err(RANGE_ERROR.into()));
        assert_eq!(parse_count::<u32>("4294967296"), Err(RANGE_ERROR.into()));
        assert_eq!(parse_count::<usize>("x"), Err(PARSE_ERROR.into()));
    }

    #[test]
    fn sizes_take_nats_suffixes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("1k"), Ok(1000));
        assert_eq!(parse_size("1KB"), Ok(1024));
        assert_eq!(parse_size("2kib"), Ok(2048));
        assert_eq!(parse_size("1M"), Ok(1_000_000));
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert_eq!(parse_size("64mb"), Ok(64 << 20));
        assert_eq!(parse_size("1Gi"), Ok(1 << 30));
        for bad in ["", "MB", "1 MB", "1.5MB", "-1", "1x"] {
            assert_eq!(parse_size(bad), Err(PARSE_ERROR.into()), "{bad:?}");
        }
        assert_eq!(parse_size("100000EB"), Err(RANGE_ERROR.into()));
    }

    #[test]
    fn durations_follow_go() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("2s"), Ok(ms(2000)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(parse_duration("1.s"), Ok(ms(1000)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("+3s"), Ok(ms(3000)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        // A bare integer is seconds, as nats-server reads duration options.
        assert_eq!(parse_duration("10"), Ok(ms(10_000)));
        assert_eq!(parse_duration("0.000000001s"), Ok(Duration::from_nanos(1)));
        for bad in ["", "s", "1.5", "1x", "-1s", "1s-", ".s", "1 s", "1S", "ms"] {
            assert_eq!(parse_duration(bad), Err(PARSE_ERROR.into()), "{bad:?}");
        }
        assert_eq!(parse_duration("3000000h"), Err(RANGE_ERROR.into()));
    }

    #[test]
    fn go_durations_parse_and_print_like_go() {
        assert_eq!(parse_go_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_go_duration("abc").unwrap_err(),
            "time: invalid duration \"abc\""
        );
        assert_eq!(
            parse_go_duration("10").unwrap_err(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse_go_duration("1e3").unwrap_err(),
            "time: unknown unit \"e\" in duration \"1e3\""
        );
    }
}
