//! Oracle for CONNECT's JSON (`shoal_proto::ConnectOptions::parse`), shared by
//! the `connect_json` fuzz target and `crates/proto/tests/fuzz_corpus.rs`.
//!
//! The input is the JSON text as it follows `CONNECT ` on the line. The model,
//! built on `serde_json::Value` (independent of the derived deserialiser), is
//! what Go's `json.Unmarshal` into nats-server's `clientOpts` does, minus Go's
//! case-insensitive key matching, its replacement of lone UTF-16 surrogates and
//! its deeper nesting limit (documented in ../README.md as known differences):
//!
//! * invalid UTF-8 inside strings stands for U+FFFD (outside a string it is a
//!   syntax error either way);
//! * `null` (JSON whitespace around it allowed) leaves the options unchanged;
//! * an object is accepted iff each known key holds `null` or a value of the
//!   field's type (`bool`, string, or an integer that fits `i64` for
//!   `protocol`); unknown keys are ignored, a repeated key's last value wins;
//! * anything else (other JSON values, invalid JSON) is refused.
//!
//! When accepted, every field must hold what the model says.

use serde_json::Value;
use shoal_proto::ConnectOptions;

const BOOLS: [&str; 7] = [
    "verbose",
    "pedantic",
    "tls_required",
    "echo",
    "headers",
    "no_responders",
    "new_account",
];
const STRINGS: [&str; 10] = [
    "auth_token",
    "user",
    "pass",
    "nkey",
    "sig",
    "jwt",
    "name",
    "lang",
    "version",
    "account",
];

/// What the model expects: `None` = refused, `Some(object)` = accepted with
/// these keys (empty for `null`).
fn model(json: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let text = String::from_utf8_lossy(json);
    let map = match serde_json::from_str::<Value>(&text).ok()? {
        Value::Null => return Some(serde_json::Map::new()),
        Value::Object(map) => map,
        _ => return None,
    };
    let typed = |k: &str, ok: fn(&Value) -> bool| match map.get(k) {
        None | Some(Value::Null) => true,
        Some(v) => ok(v),
    };
    let fits = BOOLS.iter().all(|k| typed(k, Value::is_boolean))
        && STRINGS.iter().all(|k| typed(k, Value::is_string))
        && typed("protocol", Value::is_i64);
    fits.then_some(map)
}

pub fn check(json: &[u8]) {
    let got = ConnectOptions::parse(json);
    let want = model(json);
    let text = String::from_utf8_lossy(json);
    let (got, want) = match (got, want) {
        (None, None) => return,
        (Some(got), Some(want)) => (got, want),
        (got, want) => panic!(
            "ConnectOptions::parse({text:?}) accepted: {}, model: {}",
            got.is_some(),
            want.is_some()
        ),
    };
    let b = |k: &str| want.get(k).and_then(Value::as_bool);
    let s = |k: &str| want.get(k).and_then(Value::as_str).map(str::to_string);
    let fields = [
        ("verbose", got.verbose == b("verbose")),
        ("pedantic", got.pedantic == b("pedantic")),
        ("tls_required", got.tls_required == b("tls_required")),
        ("echo", got.echo == b("echo")),
        ("headers", got.headers == b("headers")),
        ("no_responders", got.no_responders == b("no_responders")),
        ("new_account", got.new_account == b("new_account")),
        ("auth_token", got.auth_token == s("auth_token")),
        ("user", got.user == s("user")),
        ("pass", got.pass == s("pass")),
        ("nkey", got.nkey == s("nkey")),
        ("sig", got.sig == s("sig")),
        ("jwt", got.jwt == s("jwt")),
        ("name", got.name == s("name")),
        ("lang", got.lang == s("lang")),
        ("version", got.version == s("version")),
        ("account", got.account == s("account")),
        (
            "protocol",
            got.protocol == want.get("protocol").and_then(Value::as_i64),
        ),
    ];
    for (field, same) in fields {
        assert!(same, "{field} differs from the model for {text:?}: {got:?}");
    }
}
