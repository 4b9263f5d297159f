//! `/metrics`: the server's figures in Prometheus' text format 0.0.4, under the
//! names prometheus-nats-exporter gives nats-server's (so the exporter's
//! dashboards and the alert rules written for it read Shoal with no exporter in
//! between), plus Shoal's per-core figures under `shoal_core_*`.
//!
//! The exporter's rules, reproduced from its source and checked against its
//! output for a real nats-server 2.15:
//! - `/varz`, `/subsz`, `/routez` are walked generically: every number at any
//!   depth of nested objects becomes a gauge `gnatsd_<page>_<path joined by _>`
//!   (`/` in a key becomes `_`, doubled `_` collapse, outer ones trim), HELP the
//!   path. Arrays, bools and nulls are dropped; strings too, except under the
//!   keys in [`LABEL_KEYS`]: a time becomes epoch milliseconds, anything else an
//!   info gauge `{value="..."} 1`. The subtrees in [`SKIP`] are dropped.
//! - `/connz` (its default page) gives fixed families: the page's counts, and
//!   sums over its connections, the byte and message sums being counters.
//! - Every sample carries `server_id`: the exporter's Helm deployment
//!   (`-use_internal_server_id`) labels with the server's NKey id, as here.
//! - Families sorted by name, label pairs by name, values in Go's `%g`.
//!
//! Built from the very JSON the pages serve, so a figure means the same thing
//! everywhere and a field added to a page shows here with the exporter's name.
//! The text building below is pure (no I/O) and unit-tested alone.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::query::Target;
use super::varz::CpuMeter;
use super::{connz, others, subsz, varz, Ctx, Reply};
use crate::records::{Counters, Request};

/// The exporter's namespace.
const NAMESPACE: &str = "gnatsd";

/// Keys whose string values the exporter keeps (as a time or an info gauge).
const LABEL_KEYS: [&str; 8] = [
    "server_id",
    "server_name",
    "version",
    "domain",
    "leader",
    "name",
    "start",
    "config_load_time",
];

/// Paths the exporter drops (an object's whole subtree with it).
const SKIP: [&str; 9] = [
    "leaf",
    "trusted_operators_claim",
    "cluster_tls_timeout",
    "cluster_cluster_port",
    "cluster_auth_timeout",
    "gateway_port",
    "gateway_auth_timeout",
    "gateway_tls_timeout",
    "gateway_connect_retries",
];

/// Metric families by name (sorted, as the text format is written).
#[derive(Default)]
pub struct Families(BTreeMap<String, Family>);

struct Family {
    help: String,
    kind: &'static str,
    /// Label pairs (sorted by name) and the value.
    samples: Vec<(Vec<(String, String)>, f64)>,
}

impl Families {
    /// Adds a sample; the first sample of a family fixes its help and type.
    pub fn add(
        &mut self,
        name: &str,
        help: &str,
        kind: &'static str,
        labels: &[(&str, &str)],
        v: f64,
    ) {
        let fam = self.0.entry(name.to_string()).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            samples: Vec::new(),
        });
        let mut pairs: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.sort();
        fam.samples.push((pairs, v));
    }

    /// The exporter's generic walk of one page's JSON (`/varz`, `/subsz`,
    /// `/routez`), labelled with `server_id`.
    pub fn walk(&mut self, page: &str, json: &Value, server_id: &str) {
        let mut path = Vec::new();
        self.walk_at(page, json, server_id, &mut path);
    }

    fn walk_at<'v>(&mut self, page: &str, v: &'v Value, sid: &str, path: &mut Vec<&'v str>) {
        let Value::Object(map) = v else { return };
        for (key, v) in map {
            path.push(key);
            let fqn = fq_name(path);
            if !SKIP.contains(&fqn.as_str()) {
                let name = format!("{NAMESPACE}_{page}_{fqn}");
                match v {
                    Value::Number(n) => {
                        let x = n.as_f64().unwrap_or(f64::NAN);
                        self.add(&name, &fqn, "gauge", &[("server_id", sid)], x);
                    }
                    Value::String(s) if LABEL_KEYS.contains(&key.as_str()) => {
                        match epoch_millis(s) {
                            Some(ms) => self.add(&name, &fqn, "gauge", &[("server_id", sid)], ms),
                            None => {
                                let labels = [("server_id", sid), ("value", s.as_str())];
                                self.add(&name, &fqn, "gauge", &labels, 1.0)
                            }
                        }
                    }
                    Value::Object(_) => self.walk_at(page, v, sid, path),
                    _ => {}
                }
            }
            path.pop();
        }
    }

    /// The exporter's `/connz` families from the default page's JSON.
    pub fn connz(&mut self, json: &Value, sid: &str) {
        let labels = [("server_id", sid)];
        for key in ["num_connections", "total", "offset", "limit"] {
            let v = json.get(key).and_then(Value::as_f64).unwrap_or(0.0);
            self.add(
                &format!("{NAMESPACE}_connz_{key}"),
                key,
                "gauge",
                &labels,
                v,
            );
        }
        let conns = json.get("connections").and_then(Value::as_array);
        let sum = |key: &str| -> f64 {
            conns
                .into_iter()
                .flatten()
                .filter_map(|c| c.get(key).and_then(Value::as_f64))
                .sum()
        };
        for (key, kind) in [
            ("pending_bytes", "gauge"),
            ("subscriptions", "gauge"),
            ("in_bytes", "counter"),
            ("out_bytes", "counter"),
            ("in_msgs", "counter"),
            ("out_msgs", "counter"),
        ] {
            self.add(
                &format!("{NAMESPACE}_connz_{key}"),
                key,
                kind,
                &labels,
                sum(key),
            );
        }
    }

    /// The text format: per family `# HELP`, `# TYPE`, then the samples sorted
    /// by label count and values.
    pub fn render(mut self) -> String {
        let mut out = String::new();
        for (name, fam) in &mut self.0 {
            fam.samples
                .sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            let _ = writeln!(out, "# HELP {name} {}", escape(&fam.help, false));
            let _ = writeln!(out, "# TYPE {name} {}", fam.kind);
            for (labels, v) in &fam.samples {
                out.push_str(name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{k}=\"{}\"", escape(v, true));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", go_float(*v));
            }
        }
        out
    }
}

/// The exporter's `fqName`: the path joined by `_`, `/` as `_`, no doubled or
/// outer `_`.
fn fq_name(path: &[&str]) -> String {
    let mut s = path.join("_").replace('/', "_");
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    s.trim_matches('_').to_string()
}

/// HELP text escapes `\` and newlines; label values `"` as well.
fn escape(s: &str, quote: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// A value as the Go client writes it: `0`, `1`, `-1`, `NaN`, `±Inf` as such,
/// else `strconv.FormatFloat(v, 'g', -1, 64)`: the shortest digits that read
/// back, in exponent form when the decimal exponent is below -4 or at least 6,
/// the exponent signed and of two digits at least (`1.048576e+06`).
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the same shortest digits: `-1.048576e6`.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}`'s exponent is an integer");
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() > point {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        } else {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
        }
    }
    out
}

/// An RFC 3339 time (`2026-12-01T10:04:58.119Z`, `…+01:00`) as milliseconds
/// since the epoch, as the exporter turns `start` and `config_load_time`.
fn epoch_millis(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = b.get(r)?;
        t.iter().all(u8::is_ascii_digit).then_some(())?;
        std::str::from_utf8(t).ok()?.parse().ok()
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = format!("{:0<3}", &s[start..i.min(start + 3)]);
        millis = frac.parse().ok()?;
    }
    let offset = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if c == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset * 60;
    Some((secs * 1000 + millis) as f64)
}

/// (year, month, day) → days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn json_of(reply: Reply) -> Value {
    match reply {
        Reply::Json(b) | Reply::JsonStatus(_, b) => {
            serde_json::from_slice(&b).unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

/// Shoal's per-core figures: (name, help, type, value).
type CoreFigure = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Counters) -> u64,
);

const CORE_FIGURES: [CoreFigure; 6] = [
    (
        "shoal_core_connections",
        "Open client connections on the core.",
        "gauge",
        |c| c.connections,
    ),
    (
        "shoal_core_in_msgs",
        "Messages the core's clients published.",
        "counter",
        |c| c.in_msgs,
    ),
    (
        "shoal_core_out_msgs",
        "Messages delivered to the core's clients.",
        "counter",
        |c| c.out_msgs,
    ),
    (
        "shoal_core_ring_msgs_out",
        "Messages the core handed to peer cores.",
        "counter",
        |c| c.ring_msgs_out,
    ),
    (
        "shoal_core_ring_msgs_in",
        "Messages the core took from peer cores.",
        "counter",
        |c| c.ring_msgs_in,
    ),
    (
        "shoal_core_ring_backlogged",
        "Batches that found a ring full.",
        "counter",
        |c| c.ring_backlogged,
    ),
];

/// The page: `/varz`, `/connz`, `/subsz`, `/routez` as the exporter renders
/// them, and the per-core figures.
pub async fn page(
    ctx: &Ctx<'_>,
    req_stats: &BTreeMap<String, u64>,
    cpu: &RefCell<CpuMeter>,
) -> Reply {
    let sid = ctx.shared.server_id.clone();
    let mut fams = Families::default();
    fams.walk(
        "varz",
        &json_of(varz::page(ctx, req_stats, cpu).await),
        &sid,
    );
    let t = Target::parse("/connz").expect("a valid target");
    let p = connz::decode(&t).expect("/connz's defaults decode");
    fams.connz(&json_of(connz::page(ctx, &t, p).await), &sid);
    let t = Target::parse("/subsz").expect("a valid target");
    fams.walk("subsz", &json_of(subsz::page(ctx, &t).await), &sid);
    fams.walk(
        "routez",
        &json_of(others::routez(ctx, (false, false)).await),
        &sid,
    );
    for snap in ctx.gather(Request::default()).await {
        let core = snap.core.to_string();
        for (name, help, kind, get) in CORE_FIGURES {
            let labels = [("core", core.as_str()), ("server_id", sid.as_str())];
            fams.add(name, help, kind, &labels, get(&snap.counters) as f64);
        }
    }
    Reply::Prometheus(fams.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_writes_them() {
        let cases: [(f64, &str); 17] = [
            (0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (123456.0, "123456"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1048576.0, "1.048576e+06"),
            (67108864.0, "6.7108864e+07"),
            (1.2e11, "1.2e+11"),
            (1796165961361.0, "1.796165961361e+12"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.16666666666666666, "0.16666666666666666"),
            (-3.5, "-3.5"),
            (1e21, "1e+21"),
            (9007199254740993.0, "9.007199254740992e+15"),
        ];
        for (v, want) in cases {
            assert_eq!(go_float(v), want, "{v}");
        }
        assert_eq!(go_float(f64::NAN), "NaN");
        assert_eq!(go_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(go_float(2.0), "2");
        assert_eq!(go_float(120.5), "120.5");
    }

    #[test]
    fn times_become_epoch_millis() {
        assert_eq!(epoch_millis("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            epoch_millis("2026-12-01T10:04:58.11955526Z"),
            Some(1_796_119_498_119.0)
        );
        assert_eq!(
            epoch_millis("2026-12-01T11:04:58.1+01:00"),
            Some(1_796_119_498_100.0)
        );
        assert_eq!(epoch_millis("NC3S22ZDMF47"), None);
        assert_eq!(epoch_millis("2.15.1"), None);
        assert_eq!(epoch_millis("2026-12-01T10:04:58"), None);
    }

    #[test]
    fn the_exporters_names_and_shapes() {
        let varz: Value = serde_json::from_str(
            r#"{"server_id":"NABC","version":"2.15.1","in_msgs":5,"cpu":0.5,
                "start":"2026-12-01T10:04:58Z","host":"0.0.0.0","auth_required":false,
                "connect_urls":[1],"http_req_stats":{"/":1,"/varz":2},
                "leaf":{"port":7422},"cluster":{"name":"c1","tls_timeout":2,"pool_size":3},
                "jetstream":{}}"#,
        )
        .unwrap();
        let mut f = Families::default();
        f.walk("varz", &varz, "NABC");
        let text = f.render();
        let want = "\
# HELP gnatsd_varz_cluster_name cluster_name
# TYPE gnatsd_varz_cluster_name gauge
gnatsd_varz_cluster_name{server_id=\"NABC\",value=\"c1\"} 1
# HELP gnatsd_varz_cluster_pool_size cluster_pool_size
# TYPE gnatsd_varz_cluster_pool_size gauge
gnatsd_varz_cluster_pool_size{server_id=\"NABC\"} 3
# HELP gnatsd_varz_cpu cpu
# TYPE gnatsd_varz_cpu gauge
gnatsd_varz_cpu{server_id=\"NABC\"} 0.5
# HELP gnatsd_varz_http_req_stats http_req_stats
# TYPE gnatsd_varz_http_req_stats gauge
gnatsd_varz_http_req_stats{server_id=\"NABC\"} 1
# HELP gnatsd_varz_http_req_stats_varz http_req_stats_varz
# TYPE gnatsd_varz_http_req_stats_varz gauge
gnatsd_varz_http_req_stats_varz{server_id=\"NABC\"} 2
# HELP gnatsd_varz_in_msgs in_msgs
# TYPE gnatsd_varz_in_msgs gauge
gnatsd_varz_in_msgs{server_id=\"NABC\"} 5
# HELP gnatsd_varz_server_id server_id
# TYPE gnatsd_varz_server_id gauge
gnatsd_varz_server_id{server_id=\"NABC\",value=\"NABC\"} 1
# HELP gnatsd_varz_start start
# TYPE gnatsd_varz_start gauge
gnatsd_varz_start{server_id=\"NABC\"} 1.796119498e+12
# HELP gnatsd_varz_version version
# TYPE gnatsd_varz_version gauge
gnatsd_varz_version{server_id=\"NABC\",value=\"2.15.1\"} 1
";
        assert_eq!(text, want);
    }

    #[test]
    fn connz_sums_its_page() {
        let connz: Value = serde_json::from_str(
            r#"{"num_connections":2,"total":2,"offset":0,"limit":1024,"connections":[
                {"pending_bytes":3,"subscriptions":1,"in_msgs":10,"out_msgs":1,"in_bytes":100,"out_bytes":5},
                {"pending_bytes":4,"subscriptions":2,"in_msgs":1,"out_msgs":20,"in_bytes":5,"out_bytes":200}]}"#,
        )
        .unwrap();
        let mut f = Families::default();
        f.connz(&connz, "N");
        let text = f.render();
        assert!(text.contains(
            "# TYPE gnatsd_connz_in_bytes counter\ngnatsd_connz_in_bytes{server_id=\"N\"} 105\n"
        ));
        assert!(text.contains("# TYPE gnatsd_connz_pending_bytes gauge\ngnatsd_connz_pending_bytes{server_id=\"N\"} 7\n"));
        assert!(text.contains("gnatsd_connz_limit{server_id=\"N\"} 1024\n"));
        assert!(text.contains("gnatsd_connz_out_msgs{server_id=\"N\"} 21\n"));
        assert_eq!(text.matches("# HELP").count(), 10);
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut f = Families::default();
        f.add(
            "m",
            "a\\b\nc",
            "gauge",
            &[("z", "1"), ("a", "we\"ird\\name\nx")],
            2.0,
        );
        assert_eq!(
            f.render(),
            "# HELP m a\\\\b\\nc\n# TYPE m gauge\nm{a=\"we\\\"ird\\\\name\\nx\",z=\"1\"} 2\n"
        );
    }
}
