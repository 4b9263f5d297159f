//! The server's own request subjects in the system account, answered as
//! nats-server 2.15 answers them: `$SYS.REQ.SERVER.PING` (statsz, every
//! server), `$SYS.REQ.SERVER.PING.<KIND>` and `$SYS.REQ.SERVER.<id>.<KIND>`
//! for the kinds of [`KINDS`], and `$SYS.REQ.ACCOUNT.PING.STATZ` (the
//! accounts' `/accstatz`), with the request body's options (nats-server's
//! `…EventOptions` JSON, its filter included) and the reply
//! `{"server":{…},"data":{…}}` (or `"error"`) whose `data` is the same JSON
//! as the HTTP page.
//!
//! Shape: core 0 holds the subscriptions and files each request it is
//! delivered (`sys_relay`); this thread answers them one at a time, by
//! turning the options into the page's query parameters and rendering the
//! page as `/varz`, `/connz`… are rendered, then hands the answer back to
//! core 0 to publish. Kinds Shoal has no page for are not subscribed: such a
//! request has no responder, as in a server without the feature's page.
//!
//! An `Accept-Encoding` header is not honoured: answers go uncompressed,
//! without `Content-Encoding`, which every client reads as plain JSON.
//!
//! The same thread broadcasts the statsz heartbeat between requests
//! (`$SYS.SERVER.<id>.STATSZ`, with the routes), which is how the
//! cluster's other servers keep track of this one.
//!
//! Never on the message path: requests arrive over a ring, one by one.

use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value};

use super::format::{compact_json, rfc3339, to_json};
use super::http::{render, State};
use super::query::Target;
use super::server_info::server_info;
use super::{Ctx, Reply};
use crate::claims::{Ask, ClaimReply};
use crate::records::{Request, SysAnswer, SysRequest, SYS_REQ_PREFIX};
use crate::rt::{RingRx, RingTx, SharedReceiver, SharedSender};

/// The monitoring thread's ends of core 0's request and answer rings.
pub struct SysLink {
    pub requests: SharedReceiver<SysRequest>,
    pub answers: SharedSender<SysAnswer>,
}

/// Core 0's ends.
pub struct CoreSysLink {
    pub requests: SharedSender<SysRequest>,
    pub answers: SharedReceiver<SysAnswer>,
}

/// Requests (and answers) waiting before core 0 stops filing more.
const DEPTH: usize = 256;

/// The two rings.
pub fn links() -> (SysLink, CoreSysLink) {
    let (req_tx, req_rx) = crate::rt::ring(DEPTH);
    let (ans_tx, ans_rx) = crate::rt::ring(DEPTH);
    (
        SysLink {
            requests: req_rx,
            answers: ans_tx,
        },
        CoreSysLink {
            requests: req_tx,
            answers: ans_rx,
        },
    )
}

/// The kinds answered, besides the bare `PING` (statsz).
pub const KINDS: [&str; 8] = [
    "IDZ", "STATSZ", "VARZ", "SUBSZ", "CONNZ", "ROUTEZ", "HEALTHZ", "ACCOUNTZ",
];

/// The subjects the server subscribes in its system account.
pub fn subjects(server_id: &str) -> Vec<String> {
    let p = std::str::from_utf8(SYS_REQ_PREFIX).expect("ASCII");
    let mut out = vec![format!("{p}SERVER.PING"), format!("{p}ACCOUNT.PING.STATZ")];
    // An account's SUBSZ needs its subscriptions told apart by account in
    // the cores' snapshots, which they are not yet: not subscribed.
    for k in ["CONNZ", "STATZ"] {
        out.push(format!("{p}ACCOUNT.*.{k}"));
    }
    for k in KINDS {
        out.push(format!("{p}SERVER.PING.{k}"));
        out.push(format!("{p}SERVER.{server_id}.{k}"));
    }
    out
}

/// Answers the requests core 0 files, until it goes away.
pub(super) async fn serve(
    st: Rc<State>,
    requests: SharedReceiver<SysRequest>,
    answers: SharedSender<SysAnswer>,
) {
    let rx = RingRx::connect(requests).await;
    let tx = RingTx::connect(answers).await;
    // The statsz heartbeat (`$SYS.SERVER.<id>.STATSZ`), as nats-server
    // sends it: soon after start, then at doubling intervals up to 10 s, so
    // the cluster's servers learn of each other.
    let mut every = HEARTBEAT_FIRST;
    let mut next = Instant::now() + every;
    loop {
        let left = next.saturating_duration_since(Instant::now());
        let a = match crate::rt::timeout(left, rx.recv()).await {
            Some(Some(req)) => answer(&st, &req).await,
            Some(None) => return,
            None => {
                every = (every * 2).min(HEARTBEAT_MAX);
                next = Instant::now() + every;
                heartbeat(&st).await
            }
        };
        if let Some(a) = a {
            if tx.send(a).await.is_err() {
                return;
            }
        }
    }
}

/// The heartbeat's first interval and its cap (nats-server's
/// `statsHBInterval`).
const HEARTBEAT_FIRST: Duration = Duration::from_millis(250);
const HEARTBEAT_MAX: Duration = Duration::from_secs(10);

/// Where this server broadcasts its statsz.
fn statsz_subject(st: &State) -> String {
    format!("$SYS.SERVER.{}.STATSZ", st.shared.server_id)
}

/// This server's statsz, broadcast in the system account.
async fn heartbeat(st: &State) -> Option<SysAnswer> {
    let target = Target::from_parts("/varz", Vec::new());
    let Reply::Json(varz) = render(st, "/varz", &target).await else {
        return None;
    };
    Some(SysAnswer {
        reply: statsz_subject(st),
        payload: statsz(st, &varz).await,
        account: crate::records::SYSTEM_ACCOUNT,
    })
}

/// The request's kind: `SERVER.PING` alone is statsz; `ACCOUNT.PING.STATZ`
/// is the accounts' statz (`ACCSTATZ` here).
fn kind<'a>(subject: &'a str, server_id: &str) -> Option<&'a str> {
    let rest = subject.strip_prefix(std::str::from_utf8(SYS_REQ_PREFIX).ok()?)?;
    if rest == "ACCOUNT.PING.STATZ" {
        return Some("ACCSTATZ");
    }
    let rest = rest.strip_prefix("SERVER.")?;
    if rest == "PING" {
        return Some("STATSZ");
    }
    let (target, kind) = rest.split_once('.')?;
    (target == "PING" || target == server_id).then_some(kind)
}

/// What a request asks: its kind, and the account it is about when it is
/// one account's (`$SYS.REQ.ACCOUNT.<acc>.CONNZ|STATZ` in the system
/// account; in any other account, its imports of `$SYS.REQ.ACCOUNT.PING.CONNZ`,
/// `$SYS.REQ.SERVER.PING.CONNZ` and `$SYS.REQ.ACCOUNT.PING.STATZ`, which are
/// about itself).
fn request_kind<'a>(
    req: &'a SysRequest,
    server_id: &str,
    system: &str,
) -> Option<(&'a str, Option<String>)> {
    if req.account_name != system {
        let own = Some(req.account_name.clone());
        return match req.pattern.as_str() {
            "$SYS.REQ.ACCOUNT.PING.CONNZ" | "$SYS.REQ.SERVER.PING.CONNZ" => Some(("CONNZ", own)),
            "$SYS.REQ.ACCOUNT.PING.STATZ" => Some(("ACCSTATZ", own)),
            _ => None,
        };
    }
    if let Some(k) = req.pattern.strip_prefix("$SYS.REQ.ACCOUNT.*.") {
        let acc = req.subject.split('.').nth(3)?;
        let kind = match k {
            "CONNZ" => "CONNZ",
            // `PING` is the accounts' statz, answered by its own subscription.
            "STATZ" if acc == "PING" => return None,
            "STATZ" => "ACCSTATZ",
            _ => return None,
        };
        return Some((kind, Some(acc.to_string())));
    }
    kind(&req.subject, server_id).map(|k| (k, None))
}

/// The subjects core 0 subscribes in every account but the system account
/// (nats-server's system imports into each account).
pub const ACCOUNT_SUBJECTS: [&str; 3] = [
    "$SYS.REQ.ACCOUNT.PING.CONNZ",
    "$SYS.REQ.SERVER.PING.CONNZ",
    "$SYS.REQ.ACCOUNT.PING.STATZ",
];

/// How one option of a request body is typed in Go and becomes a page
/// parameter.
#[derive(Clone, Copy)]
enum Opt {
    /// A bool; `true` sets the parameter to the value given.
    Bool(&'static str, &'static str),
    Int(&'static str),
    Uint(&'static str),
    /// A string of this Go type.
    Str(&'static str, &'static str),
    /// `ConnState`: 0 open, 1 closed, 2 all.
    State,
    /// A list of strings (kept one per line in the parameter).
    List(&'static str),
}

/// A kind's options: Go's struct name, the page, and (JSON key, how) each.
type Options = (&'static str, &'static str, &'static [(&'static str, Opt)]);

/// Each kind's options.
fn options(kind: &str) -> Option<Options> {
    use Opt::*;
    Some(match kind {
        "STATSZ" => ("StatszEventOptions", "/varz", &[]),
        "VARZ" => ("VarzEventOptions", "/varz", &[]),
        "CONNZ" => (
            "ConnzEventOptions",
            "/connz",
            &[
                ("sort", Str("sort", "server.SortOpt")),
                ("auth", Bool("auth", "1")),
                ("subscriptions", Bool("subs", "1")),
                ("subscriptions_detail", Bool("subs", "detail")),
                ("offset", Int("offset")),
                ("limit", Int("limit")),
                ("cid", Uint("cid")),
                ("mqtt_client", Str("mqtt_client", "string")),
                ("state", State),
                ("user", Str("user", "string")),
                ("acc", Str("acc", "string")),
                ("filter_subject", Str("filter_subject", "string")),
            ],
        ),
        "SUBSZ" => (
            "SubszEventOptions",
            "/subsz",
            &[
                ("offset", Int("offset")),
                ("limit", Int("limit")),
                ("subscriptions", Bool("subs", "1")),
                ("account", Str("acc", "string")),
                ("test", Str("test", "string")),
            ],
        ),
        "ROUTEZ" => (
            "RoutezEventOptions",
            "/routez",
            &[
                ("subscriptions", Bool("subs", "1")),
                ("subscriptions_detail", Bool("subs", "detail")),
            ],
        ),
        "HEALTHZ" => (
            "HealthzEventOptions",
            "/healthz",
            &[
                ("js-enabled", Bool("js-enabled", "true")),
                ("js-enabled-only", Bool("js-enabled-only", "true")),
                ("js-server-only", Bool("js-server-only", "true")),
                ("js-meta-only", Bool("js-meta-only", "true")),
                ("account", Str("account", "string")),
                ("stream", Str("stream", "string")),
                ("consumer", Str("consumer", "string")),
                ("details", Bool("details", "true")),
            ],
        ),
        "ACCSTATZ" => (
            "AccountStatzEventOptions",
            "/accstatz",
            &[
                ("accounts", List("accounts")),
                ("include_unused", Bool("unused", "1")),
            ],
        ),
        "ACCOUNTZ" => (
            "AccountzEventOptions",
            "/accountz",
            &[("account", Str("acc", "string"))],
        ),
        _ => return None,
    })
}

/// The filter every kind's options carry (nats-server's `EventFilterOptions`).
const FILTER: [(&str, Opt); 6] = [
    ("server_name", Opt::Str("", "string")),
    ("cluster", Opt::Str("", "string")),
    ("host", Opt::Str("", "string")),
    ("exact_match", Opt::Bool("", "")),
    ("tags", Opt::Str("", "[]string")),
    ("domain", Opt::Str("", "string")),
];

/// JSON's name for a value's type, as Go's decoder words it.
fn json_type(v: &Value) -> String {
    match v {
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
        Value::Null => "null".into(),
    }
}

/// Go's `json.Unmarshal` error text for a body that is not JSON.
fn syntax_error(body: &[u8]) -> String {
    match body.iter().find(|b| !b" \t\r\n".contains(b)) {
        None => "unexpected end of JSON input".into(),
        Some(&c) if !b"{[\"-0123456789tfn".contains(&c) => {
            format!(
                "invalid character '{}' looking for beginning of value",
                c as char
            )
        }
        Some(_) => "unexpected end of JSON input".into(),
    }
}

/// What a request's options come to.
struct Decoded {
    params: Vec<(String, String)>,
    /// Whether the filter leaves this server out (then nothing is sent).
    filtered: bool,
}

/// Decodes a request body as Go would into the kind's options struct.
fn decode(
    st: &State,
    go_struct: &str,
    opts: &[(&str, Opt)],
    body: &[u8],
) -> Result<Decoded, String> {
    let mut d = Decoded {
        params: Vec::new(),
        filtered: false,
    };
    if body.is_empty() {
        return Ok(d);
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| syntax_error(body))?;
    let obj = match v {
        Value::Object(o) => o,
        Value::Null => return Ok(d),
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type server.{go_struct}",
                json_type(&other).split(' ').next().unwrap_or("")
            ))
        }
    };
    let mut filter = Map::new();
    // Go matches keys without regard to case; a key it does not know is skipped.
    for (key, value) in &obj {
        let known = opts
            .iter()
            .chain(FILTER.iter())
            .find(|(k, _)| k.eq_ignore_ascii_case(key));
        let Some(&(name, how)) = known else { continue };
        if value.is_null() {
            continue;
        }
        let bad = |go: &str| {
            format!(
                "json: cannot unmarshal {} into Go struct field {go_struct}.{name} of type {go}",
                json_type(value)
            )
        };
        let is_filter = FILTER.iter().any(|(k, _)| *k == name);
        let text = match (how, value) {
            (Opt::Bool(_, _), Value::Bool(b)) => b.to_string(),
            (Opt::Bool(_, _), _) => return Err(bad("bool")),
            (Opt::Int(_), Value::Number(n)) => n.as_i64().ok_or_else(|| bad("int"))?.to_string(),
            (Opt::Int(_), _) => return Err(bad("int")),
            (Opt::Uint(_), Value::Number(n)) => {
                n.as_u64().ok_or_else(|| bad("uint64"))?.to_string()
            }
            (Opt::Uint(_), _) => return Err(bad("uint64")),
            (Opt::State, Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| bad("server.ConnState"))?
                .to_string(),
            (Opt::State, _) => return Err(bad("server.ConnState")),
            (Opt::List(param), Value::Array(items)) => {
                let items: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                let items = items.ok_or_else(|| bad("string"))?;
                push(&mut d.params, param, &items.join("\n"));
                continue;
            }
            (Opt::List(_), _) => return Err(bad("[]string")),
            (Opt::Str(_, "[]string"), Value::Array(items)) => {
                if items.iter().any(|i| !i.is_string()) {
                    return Err(bad("string"));
                }
                filter.insert(name.to_string(), value.clone());
                continue;
            }
            (Opt::Str(_, go), Value::String(s)) if go != "[]string" => s.clone(),
            (Opt::Str(_, go), _) => return Err(bad(go)),
        };
        if is_filter {
            filter.insert(name.to_string(), Value::String(text));
            continue;
        }
        match how {
            Opt::Bool(param, set) if text == "true" => push(&mut d.params, param, set),
            Opt::Bool(..) => {}
            Opt::Int(param) | Opt::Uint(param) => push(&mut d.params, param, &text),
            Opt::Str(param, _) | Opt::List(param) => push(&mut d.params, param, &text),
            Opt::State => {
                let state = match text.as_str() {
                    "1" => "closed",
                    "2" => "all",
                    _ => "open",
                };
                push(&mut d.params, "state", state);
            }
        }
    }
    d.filtered = filtered_out(st, &filter);
    Ok(d)
}

/// Sets `param` (a later option replaces an earlier one: `subs=detail`).
fn push(params: &mut Vec<(String, String)>, param: &str, value: &str) {
    params.retain(|(k, _)| k != param);
    params.push((param.to_string(), value.to_string()));
}

/// nats-server's `filterRequest`: whether this server is left out.
fn filtered_out(st: &State, f: &Map<String, Value>) -> bool {
    let get = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("");
    let exact = f.get("exact_match").and_then(Value::as_str) == Some("true");
    let cfg = &st.shared.cfg;
    let cluster = cfg.cluster_name.as_deref().unwrap_or("");
    let ours = [
        (get("server_name"), st.shared.server_name.as_str()),
        (get("host"), cfg.host.as_str()),
        (get("cluster"), cluster),
    ];
    let miss = ours.iter().any(|(want, have)| {
        !want.is_empty()
            && if exact {
                want != have
            } else {
                !have.contains(want)
            }
    });
    // Shoal has no server tags and no JetStream domain.
    let tags = f
        .get("tags")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    miss || tags || !get("domain").is_empty()
}

#[derive(Serialize)]
struct ApiError<'a> {
    code: u16,
    description: &'a str,
}

/// `{"server":…,` then the rest.
fn wrap(st: &State, rest: &str) -> Vec<u8> {
    let server = to_json(&server_info(&st.shared, SystemTime::now()), false);
    let mut out = b"{\"server\":".to_vec();
    out.extend_from_slice(&server);
    out.push(b',');
    out.extend_from_slice(rest.as_bytes());
    out.push(b'}');
    out
}

fn error_reply(st: &State, code: u16, description: &str, with_null_data: bool) -> Vec<u8> {
    let err = to_json(&ApiError { code, description }, false);
    let err = String::from_utf8_lossy(&err);
    if with_null_data {
        wrap(st, &format!("\"data\":null,\"error\":{err}"))
    } else {
        wrap(st, &format!("\"error\":{err}"))
    }
}

/// The answer to one request, or `None` when none is sent (no reply subject,
/// filtered out, a subject that is not one of ours).
async fn answer(st: &State, req: &SysRequest) -> Option<SysAnswer> {
    if let Some(ask) = crate::claims::ask(&req.subject) {
        return claims_answer(st, ask, req).await;
    }
    let logins = st.shared.config().logins;
    let system = logins.system_account().unwrap_or("");
    let (kind, about) = request_kind(req, &st.shared.server_id, system)?;
    if kind == "IDZ" {
        #[derive(Serialize)]
        struct Id<'a> {
            name: &'a str,
            host: &'a str,
            id: &'a str,
        }
        let payload = to_json(
            &Id {
                name: &st.shared.server_name,
                host: &st.shared.cfg.host,
                id: &st.shared.server_id,
            },
            false,
        );
        return (!req.reply.is_empty()).then(|| SysAnswer {
            reply: req.reply.clone(),
            payload,
            account: req.account,
        });
    }
    let (go_struct, page, opts) = options(kind)?;
    // A statsz request without a reply asks for the server's broadcast.
    let reply = match (kind, req.reply.is_empty()) {
        (_, false) => req.reply.clone(),
        ("STATSZ", true) => statsz_subject(st),
        _ => return None,
    };
    let decoded = match decode(st, go_struct, opts, &req.body) {
        Ok(d) => d,
        Err(e) => {
            return Some(SysAnswer {
                reply,
                payload: error_reply(st, 400, &e, false),
                account: req.account,
            })
        }
    };
    if decoded.filtered {
        return None;
    }
    let mut params = decoded.params;
    // An account's own request: about that account alone.
    if let Some(acc) = about {
        match kind {
            "ACCSTATZ" => push(&mut params, "accounts", &acc),
            _ => push(&mut params, "acc", &acc),
        }
    }
    let target = Target::from_parts(page, params);
    if kind == "ACCSTATZ" {
        return accounts_statz(st, &target).await.map(|payload| SysAnswer {
            reply,
            payload,
            account: req.account,
        });
    }
    let payload = match (kind, render(st, page, &target).await) {
        ("STATSZ", Reply::Json(varz)) => statsz(st, &varz).await,
        // nats-server's health status carries its code here (not over HTTP).
        ("HEALTHZ", Reply::JsonStatus(code, b)) => {
            let b = String::from_utf8_lossy(&b);
            let at = b[11..].find('"').map_or(b.len(), |i| i + 12);
            let data = format!("{},\"status_code\":{code}{}", &b[..at], &b[at..]);
            wrap(st, &format!("\"data\":{data}"))
        }
        (_, Reply::Json(b) | Reply::JsonStatus(_, b)) => {
            let data = compact_json(&b);
            wrap(st, &format!("\"data\":{}", String::from_utf8_lossy(&data)))
        }
        (_, Reply::BadRequest(e)) => error_reply(st, 500, &e, true),
        _ => return None,
    };
    Some(SysAnswer {
        reply,
        payload,
        account: req.account,
    })
}

/// `$SYS.REQ.ACCOUNT.PING.STATZ`: the accounts asked for (all when none),
/// without connections only with `include_unused`; nothing is sent when no
/// account is listed and unused ones were not asked for.
async fn accounts_statz(st: &State, t: &Target) -> Option<Vec<u8>> {
    let unused = t.get("unused") == "1";
    let only: Vec<String> = t
        .get("accounts")
        .split('\n')
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    let ctx = Ctx {
        shared: &st.shared,
        info: &st.info,
        gatherer: &st.gatherer,
        now: std::cell::Cell::new(SystemTime::now()),
    };
    let (page, listed) = super::accstatz::render(&ctx, unused, &only).await;
    if listed == 0 && !unused {
        return None;
    }
    let data = compact_json(&page);
    Some(wrap(
        st,
        &format!("\"data\":{}", String::from_utf8_lossy(&data)),
    ))
}

/// An account resolver request, answered by the configured store on the
/// blocking pool (it reads and writes files; an update waits until the
/// account is in force): nats-server's `respondToUpdate` JSON for updates
/// and deletes, the bare JWT (empty when there is none) for a lookup, the
/// keys for a list.
async fn claims_answer(st: &State, ask: Ask<'_>, req: &SysRequest) -> Option<SysAnswer> {
    let store = st.shared.cfg.claims.clone()?.0;
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let payload = match ask {
        Ask::Update(acc) => {
            let acc = acc.map(str::to_string);
            let r = crate::rt::blocking(move || store.update(acc.as_deref(), &body)).await;
            update_reply(st, &r)
        }
        Ask::Delete => {
            let r = crate::rt::blocking(move || store.delete(&body)).await;
            update_reply(st, &r)
        }
        Ask::Lookup(acc) => {
            let acc = acc.to_string();
            let jwt = crate::rt::blocking(move || store.lookup(&acc)).await;
            jwt.unwrap_or_default().into_bytes()
        }
        Ask::List => {
            let ids = crate::rt::blocking(move || store.list()).await;
            let ids = to_json(&ids, false);
            wrap(st, &format!("\"data\":{}", String::from_utf8_lossy(&ids)))
        }
    };
    (!req.reply.is_empty()).then(|| SysAnswer {
        reply: req.reply.clone(),
        payload,
        account: req.account,
    })
}

/// `respondToUpdate`: logged (debug when it worked), and its JSON.
fn update_reply(st: &State, r: &ClaimReply) -> Vec<u8> {
    #[derive(Serialize)]
    struct Status<'a> {
        #[serde(skip_serializing_if = "str::is_empty")]
        account: &'a str,
        code: u16,
        #[serde(skip_serializing_if = "str::is_empty")]
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Failure<'a> {
        #[serde(skip_serializing_if = "str::is_empty")]
        account: &'a str,
        code: u16,
        description: String,
    }
    let what = match r.account.as_str() {
        "" => r.message.clone(),
        acc => format!("{} - {acc}", r.message),
    };
    match &r.error {
        None => {
            log::debug!("{what}");
            let s = to_json(
                &Status {
                    account: &r.account,
                    code: 200,
                    message: &r.message,
                },
                false,
            );
            wrap(st, &format!("\"data\":{}", String::from_utf8_lossy(&s)))
        }
        Some(e) => {
            log::error!("{what} - {e}");
            let f = to_json(
                &Failure {
                    account: &r.account,
                    code: 500,
                    description: format!("{} - {e}", r.message),
                },
                false,
            );
            wrap(st, &format!("\"error\":{}", String::from_utf8_lossy(&f)))
        }
    }
}

#[derive(Serialize)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

/// nats-server's `ServerStats`, in its key order.
#[derive(Serialize)]
struct ServerStats {
    start: String,
    mem: u64,
    cores: u64,
    cpu: f64,
    connections: u64,
    total_connections: u64,
    active_accounts: usize,
    subscriptions: u64,
    sent: MsgBytes,
    sent_to_clients: MsgBytes,
    received: MsgBytes,
    received_from_clients: MsgBytes,
    slow_consumers: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<RouteStat>,
    active_servers: u64,
    gomaxprocs: u64,
}

/// nats-server's `RouteStat`: one route connection's traffic.
#[derive(Serialize)]
struct RouteStat {
    rid: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    sent: MsgBytes,
    received: MsgBytes,
    pending: usize,
}

/// `{"server":…,"statsz":…}`, its figures read off the `/varz` page and the
/// accounts that have connections.
async fn statsz(st: &State, varz: &[u8]) -> Vec<u8> {
    let v: Value = serde_json::from_slice(varz).unwrap_or_default();
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let snaps = st
        .gatherer
        .gather(
            Request {
                open: true,
                routes: true,
                ..Request::default()
            },
            super::GATHER_TIMEOUT,
        )
        .await;
    let peers = st
        .shared
        .mesh
        .as_ref()
        .map(|m| m.peers())
        .unwrap_or_default();
    let mut routes: Vec<&crate::records::ConnRecord> =
        snaps.iter().flat_map(|s| s.routes.iter()).collect();
    routes.sort_by_key(|r| r.cid);
    let mut servers: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
    servers.sort_unstable();
    servers.dedup();
    let routes = routes
        .into_iter()
        .map(|r| RouteStat {
            rid: r.cid,
            name: peers
                .iter()
                .find(|p| p.cid == r.cid)
                .map_or_else(|| r.name.clone(), |p| p.server_name.clone()),
            sent: MsgBytes {
                msgs: r.out_msgs,
                bytes: r.out_bytes,
            },
            received: MsgBytes {
                msgs: r.in_msgs,
                bytes: r.in_bytes,
            },
            pending: r.pending,
        })
        .collect();
    let mut accounts: Vec<&str> = snaps
        .iter()
        .flat_map(|s| s.open.iter().map(|c| c.account.as_str()))
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let stats = ServerStats {
        start: v
            .get("start")
            .and_then(Value::as_str)
            .map_or_else(|| rfc3339(SystemTime::now()), str::to_string),
        mem: n("mem"),
        cores: n("cores"),
        cpu: v.get("cpu").and_then(Value::as_f64).unwrap_or(0.0),
        connections: n("connections"),
        total_connections: n("total_connections"),
        active_accounts: accounts.len(),
        subscriptions: n("subscriptions"),
        sent: MsgBytes {
            msgs: n("out_msgs"),
            bytes: n("out_bytes"),
        },
        sent_to_clients: MsgBytes {
            msgs: n("out_msgs"),
            bytes: n("out_bytes"),
        },
        received: MsgBytes {
            msgs: n("in_msgs"),
            bytes: n("in_bytes"),
        },
        received_from_clients: MsgBytes {
            msgs: n("in_msgs"),
            bytes: n("in_bytes"),
        },
        slow_consumers: n("slow_consumers"),
        routes,
        // This server and every one it has a route to.
        active_servers: 1 + servers.len() as u64,
        gomaxprocs: n("gomaxprocs"),
    };
    let stats = to_json(&stats, false);
    wrap(
        st,
        &format!("\"statsz\":{}", String::from_utf8_lossy(&stats)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_subjects() {
        assert_eq!(kind("$SYS.REQ.SERVER.PING", "NID"), Some("STATSZ"));
        assert_eq!(kind("$SYS.REQ.SERVER.PING.VARZ", "NID"), Some("VARZ"));
        assert_eq!(kind("$SYS.REQ.SERVER.NID.CONNZ", "NID"), Some("CONNZ"));
        assert_eq!(kind("$SYS.REQ.SERVER.OTHER.CONNZ", "NID"), None);
        assert_eq!(kind("$SYS.REQ.ACCOUNT.A.CONNZ", "NID"), None);
        assert_eq!(kind("$SYS.REQ.ACCOUNT.PING.STATZ", "NID"), Some("ACCSTATZ"));
        assert_eq!(subjects("NID").len(), 4 + 2 * KINDS.len());
    }

    #[test]
    fn go_syntax_errors() {
        assert_eq!(
            syntax_error(b"xx"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(syntax_error(b"  "), "unexpected end of JSON input");
    }
}
