//! Operator mode end to end, against nats-server 2.15 side by side: the
//! same operator, accounts and users (minted here with the v2 format
//! nats-io/jwt writes, by `shoal_auth::jwt::encode`), the same CONNECTs,
//! and the bytes each server sends back compared; the start-up checks'
//! messages compared; JWT expiry closing a connection; and a real client
//! (async-nats) logging in with a creds file.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nkeys::KeyPair;
use serde_json::{json, Value};
use shoal_auth::jwt;

use crate::util::{escape, nats_server_conf, shoal_conf, temp_path, Raw, ServerProc};

const DEADLINE: Duration = Duration::from_secs(10);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claim(sub: &str, name: &str, kind: &str, nats: Value) -> Value {
    let mut n = nats;
    n["type"] = json!(kind);
    n["version"] = json!(2);
    json!({"jti": format!("J{name}"), "iat": now() - 60, "sub": sub, "name": name, "nats": n})
}

fn unlimited() -> Value {
    json!({"subs": -1, "data": -1, "payload": -1, "conn": -1, "leaf": -1,
           "imports": -1, "exports": -1, "wildcards": true})
}

/// An operator, its accounts and their users.
struct World {
    op: KeyPair,
    accounts: Vec<(KeyPair, String)>,
}

impl World {
    fn new(accounts: &[Value]) -> World {
        let op = KeyPair::new_operator();
        let accounts = accounts
            .iter()
            .enumerate()
            .map(|(i, nats)| {
                let kp = KeyPair::new_account();
                let c = claim(
                    &kp.public_key(),
                    &format!("acc{i}"),
                    "account",
                    nats.clone(),
                );
                let token = jwt::encode(&c, &op);
                (kp, token)
            })
            .collect();
        World { op, accounts }
    }

    fn conf(&self, extra: &str) -> String {
        let op = jwt::encode(
            &claim(&self.op.public_key(), "op", "operator", json!({})),
            &self.op,
        );
        let mut out = format!("operator: \"{op}\"\nresolver: MEMORY\nresolver_preload: {{\n");
        for (kp, token) in &self.accounts {
            out.push_str(&format!("  {}: \"{token}\"\n", kp.public_key()));
        }
        out.push_str("}\n");
        out.push_str(extra);
        out
    }
}

/// A user JWT for `user`, signed by `signer`, with `nats` as its user
/// fields and `top` merged into the claim (`exp`, `nbf`).
fn user_jwt(user: &KeyPair, signer: &KeyPair, nats: Value, top: Value) -> String {
    let c = with(claim(&user.public_key(), "u", "user", nats), top);
    jwt::encode(&c, signer)
}

fn full_limits() -> Value {
    json!({"subs": -1, "data": -1, "payload": -1})
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

/// One case: the user key that signs the nonce, and its JWT.
struct Case {
    user: KeyPair,
    token: String,
    /// Sign the nonce (false: send no `sig`).
    sign: bool,
    /// Send the CONNECT alone and read until the server closes (a login
    /// nats-server closes by itself: what it sends is racy otherwise).
    alone: bool,
}

fn cases(w: &World) -> Vec<Case> {
    let (a, _) = &w.accounts[0];
    let (b, _) = &w.accounts[1];
    let (nolimits, _) = &w.accounts[2];
    let mut out = Vec::new();
    let mut add = |signer: &KeyPair, nats: Value, top: Value, sign: bool| {
        let user = KeyPair::new_user();
        let token = user_jwt(&user, signer, nats, top);
        out.push(Case {
            user,
            token,
            sign,
            alone: false,
        });
    };
    let all = full_limits;
    // 0: a plain user of A (A limits subs to 2 and payloads to 8).
    add(a, all(), json!({}), true);
    // 1: no signature; 2: expired; 3: not yet valid.
    add(a, all(), json!({}), false);
    add(a, all(), json!({"exp": now() - 5}), true);
    add(a, all(), json!({"nbf": now() + 3600}), true);
    // 4: permissions of its own.
    let perms = json!({"pub": {"allow": ["p.>"]}, "sub": {"deny": ["s"]}});
    add(a, with(all(), perms), json!({}), true);
    // 5: a bearer token without a signature.
    add(
        a,
        with(all(), json!({"bearer_token": true})),
        json!({}),
        false,
    );
    // 6: websocket only; 7: from 10/8 only; 8: from loopback.
    let ws = json!({"allowed_connection_types": ["WEBSOCKET"]});
    add(a, with(all(), ws), json!({}), true);
    add(
        a,
        with(all(), json!({"src": ["10.0.0.0/8"]})),
        json!({}),
        true,
    );
    add(
        a,
        with(all(), json!({"src": "127.0.0.1/32"})),
        json!({}),
        true,
    );
    // 9: limits of its own, lower than A's; 10: no limits written (v2: 0).
    let low = json!({"subs": 1, "payload": 4, "data": -1});
    add(a, low, json!({}), true);
    add(a, json!({}), json!({}), true);
    // 11: a user of B, which has default permissions.
    add(b, all(), json!({}), true);
    // 12: a user of the account whose JWT writes no limits.
    add(nolimits, all(), json!({}), true);
    // 13: signed by a key the account does not have.
    add(&KeyPair::new_account(), all(), json!({}), true);
    out[10].alone = true;
    out
}

fn accounts() -> Vec<Value> {
    let a = with(unlimited(), json!({"subs": 2, "payload": 8}));
    vec![
        json!({ "limits": a }),
        json!({"limits": unlimited(), "default_permissions": {"pub": {"deny": ["p.>"]}}}),
        json!({}),
    ]
}

/// What each case's connection receives for the same ops.
fn conversations(s: &ServerProc, cases: &[Case]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (mut c, info) = Raw::connect(s.port);
        assert_eq!(info["auth_required"], true, "{info}");
        let nonce = info["nonce"].as_str().expect("a nonce").to_string();
        let sig = if case.sign {
            let s = case.user.sign(nonce.as_bytes()).unwrap();
            format!(r#","sig":"{}""#, data_encoding::BASE64URL_NOPAD.encode(&s))
        } else {
            String::new()
        };
        if case.alone {
            c.send(format!("CONNECT {{\"jwt\":\"{}\"{sig}}}\r\n", case.token).as_bytes());
            let got = c.read_until_closed(DEADLINE);
            out.push(format!("{i}: {}<closed>", escape(&got)));
            continue;
        }
        c.send(
            format!(
                "CONNECT {{\"verbose\":true,\"jwt\":\"{}\"{sig}}}\r\nSUB p.1 1\r\nSUB s 2\r\nSUB t 3\r\nPUB p.1 3\r\nabc\r\nPUB q 1\r\nx\r\nPING\r\n",
                case.token
            )
            .as_bytes(),
        );
        let mut got = Vec::new();
        loop {
            match c.read_frame(Instant::now() + DEADLINE) {
                Ok(f) if f == b"PONG\r\n" => {
                    got.extend_from_slice(b"PONG|");
                    c.send(b"PUB p.1 9\r\n123456789\r\nPING\r\n");
                    match c.read_frame(Instant::now() + DEADLINE) {
                        Ok(f) => got.extend_from_slice(&f),
                        Err(_) => got.extend_from_slice(b"<closed>"),
                    }
                    break;
                }
                Ok(f) => got.extend_from_slice(&f),
                Err(_) => {
                    got.extend_from_slice(b"<closed>");
                    break;
                }
            }
        }
        out.push(format!("{i}: {}", escape(&got)));
    }
    out
}

#[test]
fn user_jwts_log_in_and_are_limited_like_nats_server() {
    let w = World::new(&accounts());
    let cases = cases(&w);
    let conf = w.conf("");
    let want = conversations(&nats_server_conf(&conf, &[]), &cases);
    let got = conversations(&shoal_conf(&conf, &[]), &cases);
    assert_eq!(got, want);
    assert!(want[0].contains("+OK"), "{want:?}");
}
