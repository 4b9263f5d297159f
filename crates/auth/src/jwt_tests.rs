//! JWT decoding and the operator-mode login, with claims minted here by
//! [`jwt::encode`] (the v2 format nats-io/jwt writes) and by hand for v1.
//! The same shapes are replayed against nats-server 2.15.1 in the e2e
//! suite (`tests/e2e/operator.rs`), which is where agreement is shown.

use nkeys::KeyPair;
use serde_json::{json, Value};

use crate::jwt::{self, JwtError};
use crate::operator::{cidr_contains, JwtRequest, Trust};

const NOW: i64 = 1_800_000_000;
const NONCE: &[u8] = b"abcdefghijklmno";

struct World {
    op: KeyPair,
    acc: KeyPair,
    user: KeyPair,
}

fn world() -> World {
    World {
        op: KeyPair::new_operator(),
        acc: KeyPair::new_account(),
        user: KeyPair::new_user(),
    }
}

fn claim(sub: &str, kind: &str, nats: Value) -> Value {
    let mut n = nats;
    n["type"] = json!(kind);
    n["version"] = json!(2);
    json!({"jti": "J", "iat": NOW - 10, "sub": sub, "name": kind, "nats": n})
}

fn unlimited() -> Value {
    json!({"subs": -1, "data": -1, "payload": -1, "conn": -1, "imports": -1, "exports": -1})
}

fn trust(w: &World, account: Value) -> Trust {
    let op = jwt::decode_operator(&jwt::encode(
        &claim(&w.op.public_key(), "operator", json!({})),
        &w.op,
    ))
    .unwrap();
    let mut t = Trust::new(vec![op], String::new());
    let a = jwt::encode(&claim(&w.acc.public_key(), "account", account), &w.op);
    t.add_account(1, jwt::decode_account(&a).unwrap());
    t
}

fn user_jwt(w: &World, nats: Value, signer: &KeyPair) -> String {
    jwt::encode(&claim(&w.user.public_key(), "user", nats), signer)
}

fn request(w: &World, token: String) -> JwtRequest {
    let sig = data_encoding::BASE64URL_NOPAD.encode(&w.user.sign(NONCE).unwrap());
    JwtRequest {
        token,
        sig,
        nonce: NONCE.to_vec(),
        now: NOW,
        peer: Some("127.0.0.1".parse().unwrap()),
        kind: "STANDARD",
        local_offset: 0,
    }
}

#[test]
fn v2_claims_decode_and_verify() {
    let w = world();
    let t = jwt::encode(
        &claim(
            &w.op.public_key(),
            "operator",
            json!({"signing_keys": ["OSK"], "system_account": "ASYS"}),
        ),
        &w.op,
    );
    let o = jwt::decode_operator(&t).unwrap();
    assert_eq!(o.claims.issuer, w.op.public_key());
    assert_eq!((o.system_account.as_str(), o.claims.version), ("ASYS", 2));
    assert_eq!(o.signing_keys, ["OSK"]);
    // Any flipped byte of the signed part fails the signature.
    let mut bad = t.clone().into_bytes();
    let i = t.find('.').unwrap() + 5;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(jwt::decode_operator(&bad).is_err());
    assert!(matches!(
        jwt::decode_account(&t),
        Err(JwtError::Kind { .. })
    ));
    assert_eq!(
        jwt::decode_operator("a.b"),
        Err(JwtError::Format("expected 3 chunks"))
    );
    // A user JWT must be issued by an account key.
    let by_op = user_jwt(&w, json!({}), &w.op);
    assert_eq!(jwt::decode_user(&by_op), Err(JwtError::Issuer));
}

#[test]
fn v1_claims_sign_the_payload_alone() {
    let w = world();
    let enc = |b: &[u8]| data_encoding::BASE64URL_NOPAD.encode(b);
    let head = enc(br#"{"typ":"jwt","alg":"ed25519"}"#);
    let body = enc(
        json!({"jti": "J", "iat": NOW, "iss": w.acc.public_key(), "sub": w.user.public_key(),
        "type": "user", "nats": {"pub": {}, "sub": {}}})
        .to_string()
        .as_bytes(),
    );
    let sig = enc(&w.acc.sign(body.as_bytes()).unwrap());
    let u = jwt::decode_user(&format!("{head}.{body}.{sig}")).unwrap();
    assert_eq!(u.claims.version, 1);
    assert_eq!(
        u.template.limits,
        jwt::NatsLimits::NONE,
        "v1 users default to no limits"
    );
    assert!(u.template.permissions().is_none());
    // Signed the v2 way, a v1 claim does not verify.
    let sig2 = enc(&w.acc.sign(format!("{head}.{body}").as_bytes()).unwrap());
    assert_eq!(
        jwt::decode_user(&format!("{head}.{body}.{sig2}")),
        Err(JwtError::Signature(1))
    );
}

#[test]
fn the_chain_operator_account_user() {
    let w = world();
    let t = trust(&w, json!({"limits": unlimited()}));
    let token = user_jwt(&w, json!({"subs": 5, "payload": -1, "data": -1}), &w.acc);
    let u = t.login(&request(&w, token.clone())).unwrap();
    assert_eq!(
        (u.account, u.key.as_str()),
        (1, w.user.public_key().as_str())
    );
    assert_eq!(u.limits.subs, 5);
    assert_eq!(u.limits.payload, -1);
    assert!(u.permissions.is_none());
    // No signature, a signature of something else, another operator.
    let mut r = request(&w, token.clone());
    r.sig.clear();
    assert_eq!(t.login(&r).unwrap_err(), "Signature missing");
    r.nonce = b"another nonce!!".to_vec();
    r.sig = request(&w, String::new()).sig;
    assert_eq!(t.login(&r).unwrap_err(), "Signature not verified");
    let stranger = world();
    let other = trust(&stranger, json!({"limits": unlimited()}));
    assert!(other.login(&request(&w, token)).is_err());
}

#[test]
fn expiry_revocation_and_bearer_tokens() {
    let w = world();
    let t = trust(
        &w,
        json!({"limits": unlimited(), "revocations": {"UOTHER": NOW, "*": NOW - 20}}),
    );
    let mut expired = claim(&w.user.public_key(), "user", json!({}));
    expired["exp"] = json!(NOW - 1);
    let r = request(&w, jwt::encode(&expired, &w.acc));
    assert_eq!(
        t.login(&r).unwrap_err(),
        "User JWT no longer valid: claim is expired"
    );
    // Revoked: every key issued at or before NOW-20 (this one: NOW-10, no).
    assert!(t
        .login(&request(&w, user_jwt(&w, json!({}), &w.acc)))
        .is_ok());
    let t = trust(
        &w,
        json!({"limits": unlimited(), "revocations": {w.user.public_key(): NOW}}),
    );
    assert_eq!(
        t.login(&request(&w, user_jwt(&w, json!({}), &w.acc)))
            .unwrap_err(),
        "User authentication revoked"
    );
    // A bearer token needs no signature, unless the account forbids them.
    let t = trust(&w, json!({"limits": unlimited()}));
    let mut r = request(&w, user_jwt(&w, json!({"bearer_token": true}), &w.acc));
    r.sig.clear();
    assert!(t.login(&r).is_ok());
    let mut lim = unlimited();
    lim["disallow_bearer"] = json!(true);
    let t = trust(&w, json!({ "limits": lim }));
    assert_eq!(
        t.login(&r).unwrap_err(),
        "Account does not allow bearer tokens"
    );
}

#[test]
fn signing_keys_scopes_and_permissions() {
    let w = world();
    let sk = KeyPair::new_account();
    let scoped = KeyPair::new_account();
    let t = trust(
        &w,
        json!({"limits": unlimited(), "signing_keys": [sk.public_key(), {"kind": "user_scope",
            "key": scoped.public_key(), "role": "r",
            "template": {"pub": {"allow": ["scoped.>"]}, "subs": 2, "payload": -1, "data": -1}}],
            "default_permissions": {"sub": {"deny": ["secret"]}}}),
    );
    let issued = |nats: Value, by: &KeyPair| {
        let mut n = nats;
        n["issuer_account"] = json!(w.acc.public_key());
        request(&w, user_jwt(&w, n, by))
    };
    let u = t
        .login(&issued(json!({"pub": {"allow": ["a"]}}), &sk))
        .unwrap();
    let p = u.permissions.unwrap();
    assert_eq!(p.publish.unwrap().allow.unwrap(), ["a"]);
    let u = t.login(&issued(json!({}), &scoped)).unwrap();
    assert_eq!(u.limits.subs, 2);
    assert_eq!(
        u.permissions.unwrap().publish.unwrap().allow.unwrap(),
        ["scoped.>"]
    );
    assert!(
        t.login(&issued(json!({"subs": 1}), &scoped)).is_err(),
        "a scoped user carries nothing"
    );
    assert_eq!(
        t.login(&issued(json!({}), &KeyPair::new_account()))
            .unwrap_err(),
        "User JWT issuer is not known"
    );
    // No permissions of its own: the account's defaults.
    let u = t
        .login(&request(&w, user_jwt(&w, json!({}), &w.acc)))
        .unwrap();
    assert_eq!(u.permissions.unwrap().subscribe.unwrap().deny, ["secret"]);
}

#[test]
fn connection_types_sources_and_limits() {
    let w = world();
    let mut lim = unlimited();
    lim["subs"] = json!(3);
    lim["payload"] = json!(100);
    let t = trust(&w, json!({ "limits": lim }));
    let login = |nats: Value| t.login(&request(&w, user_jwt(&w, nats, &w.acc)));
    assert!(login(json!({"allowed_connection_types": ["websocket", "STANDARD"]})).is_ok());
    assert_eq!(
        login(json!({"allowed_connection_types": ["WEBSOCKET"]})).unwrap_err(),
        "Connection type not allowed"
    );
    assert!(
        login(json!({"allowed_connection_types": ["NOPE"]})).is_err(),
        "only unknown types allow nothing"
    );
    assert!(login(json!({"src": "10.0.0.0/8, 127.0.0.0/8"})).is_ok());
    assert!(
        login(json!({"src": ["127.0.0.1", "10.0.0.0/8"]})).is_err(),
        "a bare address is not a CIDR (Go's ParseCIDR)"
    );
    assert!(login(json!({"src": ["bogus", "127.0.0.0/8"]})).is_err());
    assert_eq!(
        login(json!({"src": ["10.0.0.0/8"]})).unwrap_err(),
        "Bad src Ip 127.0.0.1"
    );
    let u = login(json!({"subs": 10, "payload": -1, "data": -1})).unwrap();
    assert_eq!(
        (u.limits.subs, u.limits.payload),
        (3, 100),
        "the account's lower limits win"
    );
    assert!(cidr_contains("::1/128", "::1".parse().unwrap()));
    assert!(!cidr_contains("bogus", "::1".parse().unwrap()));
    assert!(cidr_contains("0.0.0.0/0", "8.8.8.8".parse().unwrap()));
}

#[test]
fn unsupported_account_features_refuse_by_name() {
    let w = world();
    let t = trust(
        &w,
        json!({"limits": unlimited(), "exports": [{"subject": "x", "type": "service",
            "service_latency": {"sampling": 100, "results": "lat"}}]}),
    );
    let e = t
        .login(&request(&w, user_jwt(&w, json!({}), &w.acc)))
        .unwrap_err();
    assert!(e.contains("latency") && e.contains("not supported"), "{e}");
    // Stream exports are fine.
    let t = trust(
        &w,
        json!({"limits": unlimited(), "exports": [{"subject": "x.>", "type": "stream"}]}),
    );
    assert!(t
        .login(&request(&w, user_jwt(&w, json!({}), &w.acc)))
        .is_ok());
}

#[test]
fn decorated_files() {
    let creds = "-----BEGIN NATS USER JWT-----\neyJ.a.b\n------END NATS USER JWT------\n\n\
                 -----BEGIN USER NKEY SEED-----\nSUA\n------END USER NKEY SEED------\n";
    assert_eq!(jwt::undecorate(creds), "eyJ.a.b");
    assert_eq!(jwt::undecorate("  eyJ.x.y\n"), "eyJ.x.y");
}

#[test]
fn revocation_times_decode_as_go_int64s() {
    let w = world();
    let account = |revocations: Value| {
        let c = claim(
            &w.acc.public_key(),
            "account",
            json!({"limits": unlimited(), "revocations": revocations}),
        );
        jwt::decode_account(&jwt::encode(&c, &w.op))
    };
    assert!(account(json!({"U1": 5, "U2": null})).is_ok());
    assert!(account(json!(null)).is_ok());
    for bad in [json!({"U1": 1.5}), json!({"U1": "7"}), json!(["U1"])] {
        assert!(
            matches!(account(bad.clone()), Err(JwtError::Json(_))),
            "{bad}"
        );
    }
}
