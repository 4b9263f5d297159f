//! `mappings` (alias `maps`), top-level for the global account and inside
//! an account, → the server's [`Mapping`]s, with nats-server 2.15's shapes
//! and wording (`parseAccountMappings`, `parseAccountMapDest`,
//! `AddWeightedMappings` in its opts.go and accounts.go):
//!
//! ```text
//! mappings {
//!   "orders.*": "shipping.$1"
//!   "canary":   [ { destination: "v1", weight: "80%" }, { destination: "v2", weight: 20 } ]
//! }
//! ```
//!
//! Cluster-scoped destinations (`cluster:`) are refused by name: Shoal has
//! no clusters yet.

use shoal_conf::{Kind, Value};
use shoal_server::mappings::Mapping;
use shoal_subject::Transform;

use crate::report::{self, Report};

fn q(s: &str) -> String {
    shoal_go::quote(s.as_bytes())
}

/// nats-server's `IsValidSubject` for a mapping source.
fn valid_source(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').enumerate().all(|(i, t)| {
            !t.is_empty()
                && (t != ">" || i == s.split('.').count() - 1)
                && (t.len() == 1 || !t.contains(['*', '>']))
                && !t.contains(char::is_whitespace)
        })
}

/// Parses a `mappings` block.
pub fn mappings(v: &Value, report: &mut Report) -> Option<Vec<Mapping>> {
    let Some(m) = v.as_map() else {
        report::mismatch(v, "map[string]interface {}", report);
        return None;
    };
    let mut out = Vec::new();
    for (src, item) in m.iter() {
        if !valid_source(src) {
            report.error(&v.pos, format!("Subject {} is not a valid subject", q(src)));
            continue;
        }
        let dests: Vec<(String, u8)> = match &item.kind {
            Kind::String(dest) => vec![(dest.clone(), 100)],
            Kind::Array(items) => {
                let mut d = Vec::new();
                for i in items {
                    match destination(i, report) {
                        Some(x) => d.push(x),
                        None => continue,
                    }
                }
                d
            }
            Kind::Map(_) => match destination(item, report) {
                Some(x) => vec![x],
                None => continue,
            },
            _ => {
                report.error(
                    &item.pos,
                    format!("Unknown type {} for mapping destination", item.go_type()),
                );
                continue;
            }
        };
        match build(src, &dests) {
            Ok(m) => out.push(m),
            Err(e) => {
                let text = match &item.kind {
                    Kind::String(dest) => {
                        format!("Error adding mapping for {} to {} : {e}", q(src), q(dest))
                    }
                    _ => format!("Error adding mapping for {} : {e}", q(src)),
                };
                report.error(&item.pos, text);
            }
        }
    }
    Some(out)
}

/// One `{ destination, weight }` entry.
fn destination(v: &Value, report: &mut Report) -> Option<(String, u8)> {
    let Some(m) = v.as_map() else {
        report.error(&v.pos, "Expected an entry for the mapping destination");
        return None;
    };
    let (mut subject, mut weight) = (String::new(), None);
    for (k, x) in m.iter() {
        match k.to_ascii_lowercase().as_str() {
            "dest" | "destination" => subject = report::string(x, report)?,
            "weight" => {
                let w = match &x.kind {
                    Kind::String(s) => {
                        let s = s.strip_suffix('%').unwrap_or(s);
                        match s.parse::<i64>() {
                            Ok(n) => n,
                            Err(_) => {
                                report.error(
                                    &x.pos,
                                    format!("Invalid weight {} for mapping destination", q(s)),
                                );
                                return None;
                            }
                        }
                    }
                    _ => match x.as_i64() {
                        Some(n) => n,
                        None => {
                            report.error(
                                &x.pos,
                                format!("Unknown entry type for weight of {}\n", x.go_type()),
                            );
                            return None;
                        }
                    },
                };
                if !(0..=100).contains(&w) {
                    report.error(
                        &x.pos,
                        format!("Invalid weight {w} for mapping destination"),
                    );
                    return None;
                }
                weight = Some(w as u8);
            }
            "cluster" => {
                report.not_yet("cluster", &x.pos);
                return None;
            }
            _ => {
                report.error(
                    &x.pos,
                    format!("Unknown field {} for mapping destination", q(k)),
                );
                return None;
            }
        }
    }
    let Some(w) = weight else {
        report.error(
            &v.pos,
            format!("Missing weight for mapping destination {}", q(&subject)),
        );
        return None;
    };
    Some((subject, w))
}

/// `AddWeightedMappings`: the weights' checks, then each transform.
pub fn build(src: &str, dests: &[(String, u8)]) -> Result<Mapping, String> {
    let mut total = 0u32;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (d, w) in dests {
        if !seen.insert(d.as_str()) {
            return Err(format!("duplicate entry for {}", q(d)));
        }
        total += u32::from(*w);
        if total > 100 {
            return Err("total weight needs to be <= 100".into());
        }
        let t = Transform::new(src, d).map_err(|e| e.to_string())?;
        out.push((t, *w));
    }
    Ok(Mapping {
        lists_source: dests.iter().any(|(d, _)| d == src),
        source_is_literal: !src.split('.').any(|t| t == "*" || t == ">"),
        dests: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<Vec<Mapping>>, Report) {
        let map = shoal_conf::parse_str(text, "t.conf").unwrap();
        let mut report = Report::default();
        let m = mappings(map.get("mappings").unwrap(), &mut report);
        (m, report)
    }

    #[test]
    fn plain_and_weighted() {
        let (m, r) = parse(
            "mappings {\n  a: b\n  \"o.*\": \"s.$1\"\n  c: [ {destination: c1, weight: \"30%\"}, {destination: c2, weight: 70} ]\n}\n",
        );
        assert!(r.is_clean(), "{r:?}");
        let m = m.unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[2].dests.len(), 2);
        assert!(!m[1].source_is_literal);
    }

    #[test]
    fn refusals() {
        for (text, want) in [
            (
                "mappings { c: [ {destination: c1, weight: 60}, {destination: c2, weight: 60} ] }\n",
                "total weight needs to be <= 100",
            ),
            ("mappings { c: {destination: c1} }\n", "Missing weight"),
            (
                "mappings { c: {destination: c1, weight: 10, cluster: x} }\n",
                "\"cluster\" is not supported",
            ),
            ("mappings { \"a.*\": \"{{partition(2,1)}}\" }\n", "partition"),
        ] {
            let (_, r) = parse(text);
            let e = r.errors.first().cloned().unwrap_or_default();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
