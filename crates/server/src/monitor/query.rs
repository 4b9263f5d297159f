//! Request targets: the path and the query parameters, decoded as Go's
//! `net/url` does, and the parameter decoders of nats-server's monitor
//! (`decodeBool`, `decodeInt`, `decodeUint64`, `decodeState`, `decodeSubs`)
//! with their exact 400 texts.

use super::format::go_quote;

/// A decoded request target.
#[derive(Debug, Default)]
pub struct Target {
    pub path: String,
    params: Vec<(String, String)>,
}

/// `%XX` and (for queries) `+` decoding; `None` on a malformed escape.
fn unescape(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

impl Target {
    /// Splits `/path?query` (an absolute `http://host/path` too). Pairs that Go
    /// would reject (bad escapes, a `;` in the key) are dropped, as Go's
    /// `Query()` drops them.
    pub fn parse(raw: &str) -> Option<Target> {
        let raw = match raw.find("://") {
            Some(at) if !raw.starts_with('/') => {
                let rest = &raw[at + 3..];
                &rest[rest.find('/').unwrap_or(rest.len())..]
            }
            _ => raw,
        };
        let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        let path = unescape(path, false)?;
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        let mut params = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if k.contains(';') {
                continue;
            }
            if let (Some(k), Some(v)) = (unescape(k, true), unescape(v, true)) {
                params.push((k, v));
            }
        }
        Some(Target { path, params })
    }

    /// A target made of decoded parts (a system request's options).
    pub fn from_parts(path: &str, params: Vec<(String, String)>) -> Target {
        Target {
            path: path.to_string(),
            params,
        }
    }

    /// The first value of `key`, or "" (Go's `Query().Get`).
    pub fn get(&self, key: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A parameter nats-server refuses with 400 and this text.
pub type BadParam = String;

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `decodeBool`: absent or empty is false.
pub fn decode_bool(t: &Target, param: &str) -> Result<bool, BadParam> {
    let v = t.get(param);
    if v.is_empty() {
        return Ok(false);
    }
    parse_go_bool(v).ok_or_else(|| {
        format!(
            "Error decoding boolean for '{param}': strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(v)
        )
    })
}

/// Why Go's integer parsers refuse a string.
fn int_error(digits: &str) -> &'static str {
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        "value out of range"
    } else {
        "invalid syntax"
    }
}

/// `decodeInt` (`strconv.Atoi`, 64-bit): absent or empty is 0.
pub fn decode_int(t: &Target, param: &str) -> Result<i64, BadParam> {
    let v = t.get(param);
    if v.is_empty() {
        return Ok(0);
    }
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = v.parse::<i64>() {
            return Ok(n);
        }
    }
    Err(format!(
        "Error decoding int for '{param}': strconv.Atoi: parsing {}: {}",
        go_quote(v),
        int_error(digits)
    ))
}

/// `decodeUint64` (`strconv.ParseUint(s, 10, 64)`): absent or empty is 0.
pub fn decode_uint(t: &Target, param: &str) -> Result<u64, BadParam> {
    let v = t.get(param);
    if v.is_empty() {
        return Ok(0);
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = v.parse::<u64>() {
            return Ok(n);
        }
    }
    Err(format!(
        "Error decoding uint64 for '{param}': strconv.ParseUint: parsing {}: {}",
        go_quote(v),
        int_error(v)
    ))
}

/// `/connz?state=`: which connections to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    Open,
    Closed,
    All,
}

/// `decodeState`: `open` (default), `closed`, `any`/`all`, any case.
pub fn decode_state(t: &Target) -> Result<ConnState, BadParam> {
    let v = t.get("state");
    match v.to_lowercase().as_str() {
        "" | "open" => Ok(ConnState::Open),
        "closed" => Ok(ConnState::Closed),
        "any" | "all" => Ok(ConnState::All),
        _ => Err(format!("Error decoding state for {v}")),
    }
}

/// `decodeSubs`: `detail` (any case) → (false, true); else a boolean.
pub fn decode_subs(t: &Target) -> Result<(bool, bool), BadParam> {
    if t.get("subs").eq_ignore_ascii_case("detail") {
        return Ok((false, true));
    }
    Ok((decode_bool(t, "subs")?, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    #[test]
    fn targets_split_and_unescape() {
        let x = t("/conn%7a?subs=de%74ail&x=a+b&x=2&;bad=1&flag");
        assert_eq!(x.path, "/connz");
        assert_eq!(x.get("subs"), "detail");
        assert_eq!(x.get("x"), "a b");
        assert_eq!(x.get("flag"), "");
        assert_eq!(x.get("missing"), "");
        assert_eq!(t("http://h:1/varz?a=1").path, "/varz");
        assert_eq!(t("").path, "/");
        assert!(Target::parse("/%zz").is_none());
        assert_eq!(t("/connz?limit=%zz&offset=2").get("limit"), "");
    }

    #[test]
    fn decoders_word_errors_like_nats_server() {
        assert_eq!(decode_bool(&t("/?subs=T"), "subs"), Ok(true));
        assert_eq!(decode_bool(&t("/?subs=0"), "subs"), Ok(false));
        assert_eq!(
            decode_bool(&t("/?subs=bogus"), "subs").unwrap_err(),
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"bogus\": invalid syntax"
        );
        assert_eq!(decode_int(&t("/?limit=-5"), "limit"), Ok(-5));
        assert_eq!(
            decode_int(&t("/?limit=x"), "limit").unwrap_err(),
            "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            decode_int(&t("/?offset=99999999999999999999"), "offset").unwrap_err(),
            "Error decoding int for 'offset': strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(
            decode_uint(&t("/?cid=-1"), "cid").unwrap_err(),
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
        assert_eq!(decode_uint(&t("/?cid=7"), "cid"), Ok(7));
        assert_eq!(decode_state(&t("/?state=CLOSED")), Ok(ConnState::Closed));
        assert_eq!(decode_state(&t("/?state=all")), Ok(ConnState::All));
        assert_eq!(
            decode_state(&t("/?state=xyz")).unwrap_err(),
            "Error decoding state for xyz"
        );
        assert_eq!(decode_subs(&t("/?subs=DETAIL")), Ok((false, true)));
        assert_eq!(decode_subs(&t("/?subs=1")), Ok((true, false)));
    }
}
